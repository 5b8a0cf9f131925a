//! One report for the whole cluster, that never fails because a node is down.

use futures_util::future::join_all;

use super::Cluster;
use crate::catalog::DataNodeInfo;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::node::AccessNode;
use crate::server::{Feature, ServerInfo};
use crate::sql::status::{PREPARED_TRANSACTIONS, UNDER_REPLICATED_CHUNKS};
use crate::version::Version;

/// One node seen directly, with its own credentials.
#[derive(Debug)]
#[non_exhaustive]
pub struct NodeStatus {
    /// What the node runs, or why it could not be read (down, wrong password, ...).
    pub server: Result<ServerInfo>,
}

impl NodeStatus {
    /// Whether the node answered and accepted the credentials.
    pub fn is_up(&self) -> bool {
        self.server.is_ok()
    }
}

/// Whether the access node can reach and log in to a data node (with the current role's
/// user mapping). TimescaleDB's own `ping_data_node` says only true or false; this tells
/// the cases apart.
#[derive(Debug)]
#[non_exhaustive]
pub enum AccessNodeLink {
    /// The access node runs statements on the node.
    Ok,
    /// The node does not answer the access node.
    Down(Error),
    /// The node refuses the password in the access node's user mapping (changed on the data
    /// node, say): rotate it.
    WrongPassword(Error),
    /// The access node has no password for the node: no user mapping (with a password) for
    /// the current role.
    NoUserMapping(Error),
    /// The access node does not have this data node.
    NotAdded,
    /// Not checked: the access node itself could not be used.
    Unknown,
    /// Another failure.
    Failed(Error),
}

/// A two-phase-commit transaction prepared on a data node and not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedTransaction {
    /// The global id, `ts-1-<access node xid>-<server oid>-<user oid>`.
    pub gid: String,
    /// When it was prepared, as the server prints it.
    pub prepared: String,
    /// The role that prepared it.
    pub owner: String,
    /// Its database.
    pub database: String,
}

/// One data node in a [`ClusterStatus`].
#[derive(Debug)]
#[non_exhaustive]
pub struct DataNodeStatus {
    /// The data node's name.
    pub name: String,
    /// The node seen directly.
    pub direct: NodeStatus,
    /// The node seen from the access node.
    pub link: AccessNodeLink,
    /// The access node's `available` flag for the node (`None`: not known).
    pub available: Option<bool>,
    /// Whether the node's TimescaleDB version is at least the access node's (`None`: not
    /// known).
    pub version_ok: Option<bool>,
    /// TimescaleDB's prepared transactions on the node (in doubt while they stay).
    pub prepared_transactions: Result<Vec<PreparedTransaction>>,
}

/// A chunk with fewer replicas than its hypertable's replication factor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnderReplicatedChunk {
    /// Hypertable schema.
    pub hypertable_schema: String,
    /// Hypertable name.
    pub hypertable_name: String,
    /// Chunk schema.
    pub chunk_schema: String,
    /// Chunk name.
    pub chunk_name: String,
    /// Replicas wanted.
    pub desired: i32,
    /// Replicas there.
    pub actual: i32,
    /// The nodes holding one.
    pub replica_nodes: Vec<String>,
}

/// The state of a whole cluster ([`Cluster::status`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct ClusterStatus {
    /// The access node's name.
    pub access_node_name: String,
    /// The access node seen directly.
    pub access_node: NodeStatus,
    /// Each data node of the cluster, in the order they were given, then any data node the
    /// access node has that the cluster was not given (with [`NodeStatus`] errors).
    pub data_nodes: Vec<DataNodeStatus>,
    /// Chunks below their replication factor (`Err` when it could not be read).
    pub under_replicated: Result<Vec<UnderReplicatedChunk>>,
}

impl ClusterStatus {
    /// Whether every node is up, every link works, every node is available, versions fit,
    /// and nothing is in doubt or under-replicated.
    pub fn is_healthy(&self) -> bool {
        self.access_node.is_up()
            && self.data_nodes.iter().all(|dn| {
                dn.direct.is_up()
                    && matches!(dn.link, AccessNodeLink::Ok)
                    && dn.available != Some(false)
                    && dn.version_ok != Some(false)
                    && dn.prepared_transactions.as_ref().is_ok_and(Vec::is_empty)
            })
            && self.under_replicated.as_ref().is_ok_and(Vec::is_empty)
    }
}

const OP: &str = "cluster status";

impl Cluster {
    /// Checks every node, concurrently, and reports; never fails because a node is down.
    pub async fn status(&self) -> ClusterStatus {
        let an_name = self.access_node.node_name();
        let (an_server, data_nodes) = tokio::join!(
            ServerInfo::detect(&self.access_node),
            join_all(self.data_nodes.iter().map(direct_status))
        );
        let an = match &an_server {
            Ok(info) if info.check_multinode().is_ok() => {
                AccessNode::connect(self.access_node.clone()).await.ok()
            }
            _ => None,
        };
        let registered = match &an {
            Some(an) => an.data_nodes().await.ok(),
            None => None,
        };
        let an_version = an_server.as_ref().ok().and_then(|i| i.timescaledb);
        let mut statuses = Vec::new();
        for (config, (direct, prepared)) in self.data_nodes.iter().zip(data_nodes) {
            let name = config.node_name();
            let info = registered
                .as_ref()
                .and_then(|nodes| nodes.iter().find(|n| n.name == name));
            let link = link(an.as_ref(), registered.as_deref(), &name).await;
            statuses.push(DataNodeStatus {
                version_ok: version_ok(an_version, &direct),
                available: info.map(|i| i.available),
                name,
                direct,
                link,
                prepared_transactions: prepared,
            });
        }
        // Data nodes the access node has that the cluster was not told about.
        for extra in registered.iter().flatten() {
            if statuses.iter().any(|s| s.name == extra.name) {
                continue;
            }
            let not_given = || {
                Error::invalid(
                    OP,
                    Some(&extra.name),
                    "the access node has this data node, but the cluster has no settings for it",
                )
            };
            statuses.push(DataNodeStatus {
                name: extra.name.clone(),
                direct: NodeStatus {
                    server: Err(not_given()),
                },
                link: link(an.as_ref(), registered.as_deref(), &extra.name).await,
                available: Some(extra.available),
                version_ok: None,
                prepared_transactions: Err(not_given()),
            });
        }
        let under_replicated = match (&an, &an_server) {
            (Some(an), Ok(info)) if info.supports(Feature::ChunkReplicationStatus) => {
                under_replicated(an).await
            }
            (_, Err(e)) => Err(Error::UnsupportedServer {
                op: OP,
                node: an_name.clone(),
                reason: format!("the access node could not be read: {e}"),
            }),
            _ => Ok(Vec::new()),
        };
        ClusterStatus {
            access_node_name: an_name,
            access_node: NodeStatus { server: an_server },
            data_nodes: statuses,
            under_replicated,
        }
    }
}

async fn direct_status(config: &NodeConfig) -> (NodeStatus, Result<Vec<PreparedTransaction>>) {
    let session = match Session::open(config, OP).await {
        Ok(session) => session,
        Err(e) => {
            let copy = Error::invalid(OP, Some(&config.node_name()), format!("not read: {e}"));
            return (NodeStatus { server: Err(e) }, Err(copy));
        }
    };
    let server = ServerInfo::read(&session).await;
    let prepared = prepared_transactions(&session).await;
    (NodeStatus { server }, prepared)
}

async fn prepared_transactions(session: &Session) -> Result<Vec<PreparedTransaction>> {
    let rows = session.query(OP, &PREPARED_TRANSACTIONS, &[]).await?;
    rows.iter()
        .map(|row| PreparedTransaction::from_row(session, OP, row))
        .collect()
}

impl PreparedTransaction {
    pub(crate) fn from_row(
        session: &Session,
        op: &'static str,
        row: &tokio_postgres::Row,
    ) -> Result<Self> {
        Ok(PreparedTransaction {
            gid: session.get(op, row, "gid")?,
            prepared: session.get(op, row, "prepared")?,
            owner: session.get(op, row, "owner")?,
            database: session.get(op, row, "database")?,
        })
    }
}

fn version_ok(an: Option<Version>, direct: &NodeStatus) -> Option<bool> {
    let dn = direct.server.as_ref().ok()?.timescaledb?;
    Some(dn >= an?)
}

async fn link(
    an: Option<&AccessNode>,
    registered: Option<&[DataNodeInfo]>,
    name: &str,
) -> AccessNodeLink {
    let (Some(an), Some(registered)) = (an, registered) else {
        return AccessNodeLink::Unknown;
    };
    if !registered.iter().any(|n| n.name == name) {
        return AccessNodeLink::NotAdded;
    }
    // A fresh session: pooled ones may keep a connection opened with an older password.
    super::plan::probe(an, name).await
}

async fn under_replicated(an: &AccessNode) -> Result<Vec<UnderReplicatedChunk>> {
    let session = an.session(OP).await?;
    let rows = session.query(OP, &UNDER_REPLICATED_CHUNKS, &[]).await?;
    rows.iter()
        .map(|row| {
            Ok(UnderReplicatedChunk {
                hypertable_schema: session.get(OP, row, "hypertable_schema")?,
                hypertable_name: session.get(OP, row, "hypertable_name")?,
                chunk_schema: session.get(OP, row, "chunk_schema")?,
                chunk_name: session.get(OP, row, "chunk_name")?,
                desired: session.get(OP, row, "desired")?,
                actual: session.get(OP, row, "actual")?,
                replica_nodes: session.get(OP, row, "replica_nodes")?,
            })
        })
        .collect()
}
