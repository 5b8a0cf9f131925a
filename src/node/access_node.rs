//! The access node: where applications connect and multi-node calls are made.

use crate::catalog::{ChunkInfo, DataNodeInfo, HypertableInfo};
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::server::{Feature, ServerInfo};
use crate::sql::data_node::LIST_DATA_NODES;
use crate::sql::hypertable::{TableName, CHUNKS, HYPERTABLE, RESOLVE_TABLE};
use crate::version::Version;

use super::extension::{update_extension, ExtensionUpdate};

/// A handle on the access node of a cluster. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{AccessNode, NodeConfig, SecretString};
///
/// let an = AccessNode::connect(
///     NodeConfig::new("127.0.0.1", "tsdbadmin", SecretString::from("pw")).name("an").database("tsdb"),
/// )
/// .await?;
/// for node in an.data_nodes().await? {
///     println!("{} at {:?}:{:?} available={}", node.name, node.host, node.port, node.available);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AccessNode {
    config: NodeConfig,
}

impl AccessNode {
    /// Checks that the node answers and accepts the credentials, and returns a handle.
    /// TimescaleDB need not be installed yet (see [`AccessNode::update_extension`]).
    pub async fn connect(config: NodeConfig) -> Result<AccessNode> {
        Session::open(&config, "connect to access node").await?;
        Ok(AccessNode { config })
    }

    /// The connection settings.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The access node's name, as errors use it.
    pub fn name(&self) -> String {
        self.config.node_name()
    }

    /// What the access node runs, read now.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        ServerInfo::detect(&self.config).await
    }

    /// Creates or updates the TimescaleDB extension on the access node, as the first
    /// statement of a fresh session. Update the data nodes first
    /// ([`crate::update_extensions`] keeps that order).
    pub async fn update_extension(&self, to: Option<Version>) -> Result<ExtensionUpdate> {
        update_extension(&self.config, to).await
    }

    /// A fresh session for `op`.
    pub(crate) async fn session(&self, op: &'static str) -> Result<Session> {
        Session::open(&self.config, op).await
    }

    /// A fresh session for `op` on a server that has `feature`, with what it runs.
    pub(crate) async fn session_with(
        &self,
        op: &'static str,
        feature: Feature,
    ) -> Result<(Session, ServerInfo)> {
        let session = self.session(op).await?;
        let info = ServerInfo::read(&session).await?;
        info.require(op, feature)?;
        Ok((session, info))
    }

    /// The data nodes of this access node (like `\des+`), by name.
    pub async fn data_nodes(&self) -> Result<Vec<DataNodeInfo>> {
        const OP: &str = "list data nodes";
        let (session, _) = self.session_with(OP, Feature::MultiNode).await?;
        Self::list_data_nodes(&session, OP).await
    }

    pub(crate) async fn list_data_nodes(
        session: &Session,
        op: &'static str,
    ) -> Result<Vec<DataNodeInfo>> {
        let rows = session.query(op, &LIST_DATA_NODES, &[]).await?;
        rows.iter()
            .map(|row| DataNodeInfo::from_row(session, op, row))
            .collect()
    }

    /// Checks that every name in `wanted` is a data node, before anything is sent.
    pub(crate) async fn check_data_nodes(
        session: &Session,
        op: &'static str,
        wanted: &[String],
    ) -> Result<()> {
        let known: Vec<String> = Self::list_data_nodes(session, op)
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect();
        let unknown: Vec<&String> = wanted.iter().filter(|w| !known.contains(w)).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(
            op,
            Some(session.node()),
            format!("unknown data node(s) {unknown:?}; this access node has {known:?}"),
        ))
    }

    /// The hypertable `table` (resolved with the search path when unqualified), if it is one.
    pub async fn hypertable(&self, table: &TableName) -> Result<Option<HypertableInfo>> {
        const OP: &str = "describe hypertable";
        let session = self.session(OP).await?;
        let Some((schema, name)) = Self::resolve(&session, OP, table).await? else {
            return Ok(None);
        };
        let row = session
            .query_opt(OP, &HYPERTABLE, &[&schema, &name])
            .await?;
        row.map(|row| HypertableInfo::from_row(&session, OP, &row))
            .transpose()
    }

    /// The chunks of hypertable `table` and the data nodes that hold each.
    pub async fn chunks(&self, table: &TableName) -> Result<Vec<ChunkInfo>> {
        const OP: &str = "list chunks";
        let session = self.session(OP).await?;
        let Some((schema, name)) = Self::resolve(&session, OP, table).await? else {
            return Err(Error::invalid(
                OP,
                Some(session.node()),
                format!("table {} does not exist", table.regclass_text()),
            ));
        };
        let rows = session.query(OP, &CHUNKS, &[&schema, &name]).await?;
        rows.iter()
            .map(|row| ChunkInfo::from_row(&session, OP, row))
            .collect()
    }

    async fn resolve(
        session: &Session,
        op: &'static str,
        table: &TableName,
    ) -> Result<Option<(String, String)>> {
        let row = session
            .query_opt(op, &RESOLVE_TABLE, &[&table.regclass_text()])
            .await?;
        match row {
            Some(row) => Ok(Some((
                session.get(op, &row, "schema")?,
                session.get(op, &row, "name")?,
            ))),
            None => Ok(None),
        }
    }
}
