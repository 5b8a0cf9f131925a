//! One report for the whole cluster, that never fails because a node is down.

use std::fmt;

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
    /// Not checked, and why: the access node could not be read, cannot run multi-node
    /// (licence, TimescaleDB version, extension not created, library not preloaded, ...) or
    /// could not list its data nodes.
    NotChecked(String),
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

/// One line per node (the access node first), then the under-replicated chunks: what
/// each node runs, why it cannot run multi-node when it cannot, and each data node's link
/// from the access node.
impl fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.access_node_name, self.access_node)?;
        for dn in &self.data_nodes {
            writeln!(f, "{dn}")?;
        }
        match &self.under_replicated {
            Ok(chunks) => write!(f, "under-replicated chunks: {}", chunks.len()),
            Err(e) => write!(f, "under-replicated chunks: not read: {e}"),
        }
    }
}

/// `up, PostgreSQL 15.20, TimescaleDB 2.13.1`, with `; cannot run multi-node: <why>` when
/// the node cannot take part (judged from what its server offers when the extension is not
/// created yet); or why the node could not be read.
impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = match &self.server {
            Ok(info) => info,
            Err(e) => return write!(f, "{e}"),
        };
        write!(f, "up, PostgreSQL {}", info.postgres)?;
        match (info.timescaledb, info.timescaledb_default) {
            (Some(installed), _) => write!(f, ", TimescaleDB {installed}")?,
            (None, Some(offered)) => {
                write!(f, ", TimescaleDB not created (the server offers {offered})")?
            }
            (None, None) => f.write_str(", no TimescaleDB")?,
        }
        match info.check_multinode_offered() {
            Ok(()) => Ok(()),
            Err(Error::UnsupportedServer { reason, .. }) => {
                write!(f, "; cannot run multi-node: {reason}")
            }
            Err(e) => write!(f, "; cannot run multi-node: {e}"),
        }
    }
}

/// `<name>: <the node seen directly>; from the access node: <link>; available: ...;
/// in-doubt 2PC: ...`.
impl fmt::Display for DataNodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}; from the access node: {}",
            self.name, self.direct, self.link
        )?;
        if self.version_ok == Some(false) {
            f.write_str("; TimescaleDB older than the access node's")?;
        }
        match self.available {
            Some(true) => f.write_str("; available: yes")?,
            Some(false) => f.write_str("; available: no")?,
            None => f.write_str("; available: unknown")?,
        }
        match &self.prepared_transactions {
            Ok(list) => write!(f, "; in-doubt 2PC: {}", list.len()),
            Err(_) => f.write_str("; in-doubt 2PC: not read"),
        }
    }
}

/// `ok`, `down (<error>)`, `not checked: <why>`, ...
impl fmt::Display for AccessNodeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessNodeLink::Ok => f.write_str("ok"),
            AccessNodeLink::Down(e) => write!(f, "down ({e})"),
            AccessNodeLink::WrongPassword(e) => {
                write!(f, "wrong password in the user mapping ({e})")
            }
            AccessNodeLink::NoUserMapping(e) => write!(f, "no user mapping ({e})"),
            AccessNodeLink::NotAdded => f.write_str("not added"),
            AccessNodeLink::NotChecked(why) => write!(f, "not checked: {why}"),
            AccessNodeLink::Failed(e) => write!(f, "failed ({e})"),
        }
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
        // Why the links cannot be checked, when they cannot.
        let mut not_checked = String::new();
        let an = match &an_server {
            Err(e) => {
                not_checked = format!("the access node could not be read: {e}");
                None
            }
            Ok(info) => match multinode_refusal(info) {
                Some(reason) => {
                    not_checked = format!("the access node cannot run multi-node: {reason}");
                    None
                }
                None => match AccessNode::connect(self.access_node.clone()).await {
                    Ok(an) => Some(an),
                    Err(e) => {
                        not_checked = format!("the access node could not be used: {e}");
                        None
                    }
                },
            },
        };
        let registered = match &an {
            Some(an) => match an.data_nodes().await {
                Ok(nodes) => Some(nodes),
                Err(e) => {
                    not_checked = format!("the access node's data nodes could not be listed: {e}");
                    None
                }
            },
            None => None,
        };
        let an_version = an_server.as_ref().ok().and_then(|i| i.timescaledb);
        let mut statuses = Vec::new();
        for (config, (direct, prepared)) in self.data_nodes.iter().zip(data_nodes) {
            let name = config.node_name();
            let info = registered
                .as_ref()
                .and_then(|nodes| nodes.iter().find(|n| n.name == name));
            let link = link(an.as_ref(), registered.as_deref(), &name, &not_checked).await;
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
                link: link(
                    an.as_ref(),
                    registered.as_deref(),
                    &extra.name,
                    &not_checked,
                )
                .await,
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

/// Why the node `info` describes cannot take part in multi-node, if it cannot: from what
/// its server offers first (licence, version, preloading), then from what is installed.
fn multinode_refusal(info: &ServerInfo) -> Option<String> {
    let check = info
        .check_multinode_offered()
        .and_then(|()| info.check_multinode());
    match check {
        Ok(()) => None,
        Err(Error::UnsupportedServer { reason, .. }) => Some(reason),
        Err(other) => Some(other.to_string()),
    }
}

async fn link(
    an: Option<&AccessNode>,
    registered: Option<&[DataNodeInfo]>,
    name: &str,
    not_checked: &str,
) -> AccessNodeLink {
    let (Some(an), Some(registered)) = (an, registered) else {
        return AccessNodeLink::NotChecked(not_checked.to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{License, NodeRole};
    use crate::version::PgVersion;

    fn server(installed: Option<&str>, default: &str, license: Option<License>) -> ServerInfo {
        ServerInfo {
            node: "dn1".into(),
            postgres: PgVersion {
                major: 15,
                minor: 20,
            },
            postgres_version_string: "15.20".into(),
            database: "tsdb".into(),
            user: "tsdbadmin".into(),
            is_superuser: true,
            timescaledb: installed.map(|v| v.parse().unwrap()),
            timescaledb_schema: installed.map(|_| "public".into()),
            timescaledb_default: Some(default.parse().unwrap()),
            timescaledb_available: vec![default.parse().unwrap()],
            license,
            preloaded: true,
            max_prepared_transactions: 150,
            data_node_count: 0,
            role: NodeRole::Standalone,
        }
    }

    fn node(info: ServerInfo) -> NodeStatus {
        NodeStatus { server: Ok(info) }
    }

    #[test]
    fn a_node_says_why_it_cannot_run_multinode() {
        let text = node(server(None, "2.13.1", Some(License::Apache))).to_string();
        assert!(
            text.starts_with(
                "up, PostgreSQL 15.20, TimescaleDB not created (the server offers 2.13.1); \
                 cannot run multi-node: timescaledb.license is 'apache'"
            ),
            "{text}"
        );
        let text = node(server(Some("2.14.2"), "2.14.2", Some(License::Timescale))).to_string();
        assert_eq!(
            text,
            "up, PostgreSQL 15.20, TimescaleDB 2.14.2; cannot run multi-node: TimescaleDB \
             2.14.2 has no multi-node (removed in 2.14); use 2.0–2.13"
        );
        let text = node(server(Some("2.13.1"), "2.13.1", Some(License::Timescale))).to_string();
        assert_eq!(text, "up, PostgreSQL 15.20, TimescaleDB 2.13.1");
        // Not created yet, but it can be: nothing to refuse.
        let text = node(server(None, "2.13.1", None)).to_string();
        assert_eq!(
            text,
            "up, PostgreSQL 15.20, TimescaleDB not created (the server offers 2.13.1)"
        );
    }

    #[test]
    fn the_access_nodes_refusal_prefers_what_it_offers() {
        // Not created and Apache: the licence is what to fix, not the missing extension.
        let reason = multinode_refusal(&server(None, "2.13.1", Some(License::Apache))).unwrap();
        assert!(
            reason.starts_with("timescaledb.license is 'apache'"),
            "{reason}"
        );
        let reason = multinode_refusal(&server(None, "2.13.1", None)).unwrap();
        assert!(
            reason.contains("run CREATE EXTENSION timescaledb"),
            "{reason}"
        );
        assert_eq!(
            multinode_refusal(&server(Some("2.13.1"), "2.13.1", Some(License::Timescale))),
            None
        );
    }

    #[test]
    fn a_data_node_line_shows_the_link_and_its_reason() {
        let status = DataNodeStatus {
            name: "dn1".into(),
            direct: node(server(None, "2.13.1", None)),
            link: AccessNodeLink::NotChecked(
                "the access node cannot run multi-node: timescaledb.license is 'apache'".into(),
            ),
            available: None,
            version_ok: None,
            prepared_transactions: Ok(Vec::new()),
        };
        assert_eq!(
            status.to_string(),
            "dn1: up, PostgreSQL 15.20, TimescaleDB not created (the server offers 2.13.1); \
             from the access node: not checked: the access node cannot run multi-node: \
             timescaledb.license is 'apache'; available: unknown; in-doubt 2PC: 0"
        );
    }
}
