//! One report for the whole cluster, that never fails because a node is down.

use std::fmt;

use futures_util::future::join_all;

use super::cause::Cause;
use super::link::AccessNodeLink;
use super::mapping::{mapping_checks, MappingCheck};
use super::probe::{link, probe_fresh, towards};
use super::relayed;
use super::verifier::{read_stored, read_verifier, Stored};
use super::Cluster;
use crate::catalog::DataNodeInfo;
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::node::AccessNode;
use crate::server::{Capabilities, Feature, ServerInfo};
use crate::sql::data_node::{distributed_exec, ROUND_TRIP};
use crate::sql::functions::Schemas;
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

    /// Whether the node answered but takes no writes: in recovery (a standby), or
    /// `default_transaction_read_only` on ([`ServerInfo::read_only_reason`]).
    pub fn is_read_only(&self) -> bool {
        self.server
            .as_ref()
            .is_ok_and(|info| info.read_only_reason().is_some())
    }

    /// Why the node could not be read (down, timed out, refused by `pg_hba.conf`, unknown
    /// role or database, TLS, DNS, wrong password, ...); `None` when it was read.
    pub fn cause(&self) -> Option<Cause> {
        self.server.as_ref().err().map(Cause::of)
    }
}

/// A two-phase-commit transaction prepared on a data node and not yet resolved.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedTransaction {
    /// The global id, `ts-1-<access node xid>-<server oid>-<user oid>`.
    pub gid: String,
    /// When it was prepared: ISO 8601 in UTC (`2026-11-30T02:27:12.464123Z`), whatever
    /// the server's `DateStyle` and `TimeZone`.
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
    /// Whether the node's TimescaleDB version fits the access node's by TimescaleDB's own
    /// rule (the same major and a minor at least the access node's, or a newer major; a
    /// patch-level difference does not matter). `None`: not known (a node not read, or
    /// without the extension).
    pub version_ok: Option<bool>,
    /// The node's `max_prepared_transactions` (`None`: not read). At 0 every distributed
    /// write fails: TimescaleDB commits them with two-phase commit.
    pub max_prepared_transactions: Option<i32>,
    /// TimescaleDB's prepared transactions on the node, in the node's database (in doubt
    /// while they stay; other databases' are not this cluster's).
    pub prepared_transactions: Result<Vec<PreparedTransaction>>,
}

impl DataNodeStatus {
    /// Whether the node answered the crate but has no TimescaleDB extension created in its
    /// database.
    pub fn extension_missing(&self) -> bool {
        self.direct
            .server
            .as_ref()
            .is_ok_and(|info| info.timescaledb.is_none())
    }

    /// Whether the node is known to refuse every distributed write: its
    /// `max_prepared_transactions` is 0.
    pub fn two_phase_commit_disabled(&self) -> bool {
        self.max_prepared_transactions == Some(0)
    }

    /// Whether this node is fine: up, takes writes, linked, available, its version fits,
    /// two-phase commit possible, nothing in doubt.
    pub fn is_healthy(&self) -> bool {
        self.direct.is_up()
            && !self.direct.is_read_only()
            && matches!(self.link, AccessNodeLink::Ok)
            && self.available != Some(false)
            && self.version_ok != Some(false)
            && !self.extension_missing()
            && !self.two_phase_commit_disabled()
            && self.prepared_transactions.as_ref().is_ok_and(Vec::is_empty)
    }
}

/// A chunk with fewer replicas than its hypertable's replication factor.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
    /// Whether every node is up and takes writes, every link works, every node is
    /// available, versions fit, and nothing is in doubt or under-replicated.
    pub fn is_healthy(&self) -> bool {
        self.access_node.is_up()
            && !self.access_node.is_read_only()
            && self.data_nodes.iter().all(DataNodeStatus::is_healthy)
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
            Err(e) => return write!(f, "{}: {e}", Cause::of(e)),
        };
        write!(f, "up, PostgreSQL {}", info.postgres)?;
        match (info.timescaledb, info.timescaledb_default) {
            (Some(installed), _) => write!(f, ", TimescaleDB {installed}")?,
            (None, Some(offered)) => {
                write!(f, ", TimescaleDB not created (the server offers {offered})")?
            }
            (None, None) => f.write_str(", no TimescaleDB")?,
        }
        if let Some(reason) = info.read_only_reason() {
            write!(f, "; {reason} (every write fails there)")?;
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
            f.write_str(
                "; TimescaleDB version incompatible with the access node's (a data node needs \
                 the same major version and at least the access node's minor)",
            )?;
        }
        if self.two_phase_commit_disabled() {
            f.write_str(
                "; max_prepared_transactions = 0 (every distributed write fails: set it above 0)",
            )?;
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
            AccessNodeLink::Down(e) if e.is_timeout() => {
                write!(f, "down, no answer within the deadline ({e})")
            }
            AccessNodeLink::Down(e) => write!(f, "down ({e})"),
            AccessNodeLink::WrongPassword(e) => {
                write!(f, "wrong password in the user mapping ({e})")
            }
            AccessNodeLink::NoUserMapping(e) => write!(f, "no user mapping ({e})"),
            AccessNodeLink::NotAdded => f.write_str("not added"),
            AccessNodeLink::NotChecked(why) => write!(f, "not checked: {why}"),
            AccessNodeLink::Failed(e) => write!(f, "failed ({e})"),
            other => {
                let cause = other.cause().unwrap_or(Cause::Other);
                match other.error() {
                    Some(e) => write!(f, "{cause} ({e})"),
                    None => write!(f, "{cause}"),
                }
            }
        }
    }
}

const OP: &str = "cluster status";

/// A data node seen directly: what it runs, and its prepared transactions.
type Direct = (NodeStatus, Result<Vec<PreparedTransaction>>);

/// What the access node said about itself and its data nodes.
struct AccessNodeView {
    server: Result<ServerInfo>,
    /// Its data nodes, or why they are not known (the links are not checked then).
    registered: std::result::Result<Vec<DataNodeInfo>, String>,
    /// The schemas of its TimescaleDB functions, for the probes.
    schemas: Option<Schemas>,
    under_replicated: Result<Vec<UnderReplicatedChunk>>,
    /// Whether every registered data node ran a statement for the access node, over the
    /// connections its pooled session keeps.
    answered: bool,
    /// What the access node's user mapping (current user) holds for each of the spec's
    /// registered data nodes, against the credentials of their settings.
    mappings: Vec<(String, MappingCheck)>,
    /// Whether the session, not the node, is done for (see [`is_stale`]): read again over a
    /// new one.
    stale: bool,
}

impl AccessNodeView {
    /// What the access node's user mapping holds for data node `name`, if it was read.
    fn mapping(&self, name: &str) -> Option<&MappingCheck> {
        self.mappings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, check)| check)
    }
}

/// A data node read directly: what it said, and whether a fresh login with its settings'
/// credentials is known to succeed now.
struct DirectRead {
    direct: Direct,
    login_ok: bool,
}

impl Cluster {
    /// Checks every node and reports; never fails because a node is down, and returns
    /// within about two node deadlines ([`Cluster::node_deadline`]) however many nodes do
    /// not answer.
    ///
    /// Every node is read at the same time, over the sessions the cluster keeps: the data
    /// nodes with their own credentials, the access node with its data nodes, which run
    /// `SELECT 1` for it, all at once. Then what a kept session cannot show, whether a new
    /// login would be accepted, is checked: where the admin may read the roles' verifiers
    /// (a superuser) against them, in the crate, without logging in; elsewhere by logging
    /// in, from the client to each data node and from a fresh access-node session to the
    /// data nodes (together, then each on its own when that fails, so that each gets its
    /// cause). What a verifier cannot show, a reloaded `pg_hba.conf` that kept sessions
    /// outlive, is checked by logging in the first time and whenever a node's
    /// configuration was reloaded (`pg_conf_load_time()`) since the last login proved. A
    /// session cut off at its deadline is cancelled and never used again.
    pub async fn status(&self) -> ClusterStatus {
        let an_name = self.access_node.node_name();
        let after = self.node_deadline;
        let (directs, view) = tokio::join!(
            join_all(
                self.data_nodes
                    .iter()
                    .map(|config| self.direct_status(config, Deadline::after(after)))
            ),
            // On the heap: a large future, beside the others.
            Box::pin(self.access_node_view(Deadline::after(after))),
        );
        let mut view = view;
        let proofs = &self.pools.proofs;
        // The access node read over a kept session: whether it accepts a new login, checked
        // again only after it reloaded its configuration (or the first time).
        if let Ok(at) = view.server.as_ref().map(|info| info.config_loaded) {
            if !proofs.login_holds(&an_name, at) {
                let login = Deadline::after(after)
                    .run(OP, &an_name, Session::open(&self.access_node, OP))
                    .await;
                match login {
                    Ok(_) => proofs.login_proved(&an_name, at),
                    Err(e) => {
                        view.registered = Err(format!("the access node refuses a new login: {e}"));
                        view.server = Err(e);
                    }
                }
            }
        }
        let an_version = view.server.as_ref().ok().and_then(|i| i.timescaledb);
        let an_loaded = view.server.as_ref().ok().map(|i| i.config_loaded);
        // Both sides' configuration load times, under which a link is proved.
        let loaded = |read: &Option<DirectRead>| {
            let dn = read.as_ref()?.direct.0.server.as_ref().ok()?.config_loaded;
            Some((an_loaded?, dn))
        };

        // Every data node: the spec's, in order, then any the access node has that the
        // cluster was not given.
        let mut names: Vec<(String, Option<DirectRead>)> = self
            .data_nodes
            .iter()
            .map(NodeConfig::node_name)
            .zip(directs.into_iter().map(Some))
            .collect();
        for extra in view.registered.iter().flatten() {
            if !names.iter().any(|(n, _)| *n == extra.name) {
                names.push((extra.name.clone(), None));
            }
        }
        let registered = |name: &str| {
            view.registered
                .as_ref()
                .is_ok_and(|r| r.iter().any(|n| n.name == name))
        };
        // A link is known good when the access node's kept session reached the node, its
        // mapping holds the settings' credentials, those log in (checked above), the
        // node's TimescaleDB fits the access node's (which a new connection checks, and a
        // kept one checked only when it was made), and a fresh access-node session reached
        // it under both nodes' configuration as it is now (a reload may have changed what
        // a new connection meets: `pg_hba.conf`, say).
        let proven: Vec<bool> = names
            .iter()
            .map(|(name, read)| {
                view.answered
                    && view.mapping(name) == Some(&MappingCheck::Matches)
                    && read.as_ref().is_some_and(|r| {
                        r.login_ok && version_ok(an_version, &r.direct.0) == Some(true)
                    })
                    && loaded(read).is_some_and(|at| proofs.link_holds(name, at))
            })
            .collect();
        let unproven: Vec<&str> = names
            .iter()
            .zip(&proven)
            .filter(|((name, _), proven)| !**proven && registered(name))
            .map(|((name, _), _)| name.as_str())
            .collect();
        // The rest from one fresh access-node session, all together, when the kept session
        // reached them all (so none is likely to hang it); one by one when that fails.
        let together_ok = match &view.schemas {
            Some(schemas) if view.answered && !unproven.is_empty() => probe_fresh(
                &self.access_node,
                schemas,
                &unproven,
                OP,
                Deadline::after(after),
            )
            .await
            .is_ok(),
            _ => false,
        };
        if together_ok {
            for (name, read) in names.iter().filter(|(n, _)| unproven.contains(&n.as_str())) {
                if let Some(at) = loaded(read) {
                    proofs.link_proved(name, at);
                }
            }
        }
        let links = join_all(names.iter().zip(&proven).map(|((name, read), proven)| {
            let direct = read.as_ref().map(|r| &r.direct);
            let direct_cause = direct.and_then(|(d, _)| d.cause());
            let extension_missing = direct
                .is_some_and(|(d, _)| d.server.as_ref().is_ok_and(|i| i.timescaledb.is_none()));
            let known_ok = *proven || (together_ok && unproven.contains(&name.as_str()));
            let view = &view;
            let at = loaded(read);
            async move {
                if known_ok {
                    return AccessNodeLink::Ok;
                }
                let link = self
                    .link(
                        view,
                        name,
                        direct_cause,
                        extension_missing,
                        Deadline::after(after),
                    )
                    .await;
                if let (AccessNodeLink::Ok, Some(at)) = (&link, at) {
                    proofs.link_proved(name, at);
                }
                link
            }
        }))
        .await;

        let mut statuses = Vec::new();
        for ((name, read), link) in names.into_iter().zip(links) {
            let info = view
                .registered
                .as_ref()
                .ok()
                .and_then(|nodes| nodes.iter().find(|n| n.name == name));
            let (direct, prepared) = read.map(|r| r.direct).unwrap_or_else(|| {
                let not_given = || {
                    Error::invalid(
                        OP,
                        Some(&name),
                        "the access node has this data node, but the cluster has no settings \
                         for it",
                    )
                };
                (
                    NodeStatus {
                        server: Err(not_given()),
                    },
                    Err(not_given()),
                )
            });
            let read = direct.server.as_ref().ok();
            statuses.push(DataNodeStatus {
                version_ok: version_ok(an_version, &direct),
                max_prepared_transactions: read.map(|i| i.max_prepared_transactions),
                available: info.map(|i| i.available),
                name,
                direct,
                link,
                prepared_transactions: prepared,
            });
        }
        ClusterStatus {
            access_node_name: an_name,
            access_node: NodeStatus {
                server: view.server,
            },
            data_nodes: statuses,
            under_replicated: view.under_replicated,
        }
    }

    /// The access node's own part of the status, over the session the cluster keeps,
    /// within `deadline`: what it runs, its data nodes (each asked to run `SELECT 1`), its
    /// under-replicated chunks, and which of its user mappings hold the spec's credentials.
    /// A kept session that no longer works (the extension updated since it loaded it) is
    /// dropped and the view read again over a new one.
    async fn access_node_view(&self, deadline: Deadline) -> AccessNodeView {
        let an_name = self.access_node.node_name();
        let client = match deadline
            .run(OP, &an_name, self.access_node_client(OP))
            .await
        {
            Ok(client) => client,
            Err(e) => return self.unread_view(e),
        };
        let view = self.view_over(client.session(), deadline).await;
        // A session keeps the `default_transaction_read_only` it started with: when a kept
        // one says on, a new one tells whether it still is.
        let read_only_then = view
            .server
            .as_ref()
            .is_ok_and(|info| info.default_read_only);
        if !view.stale && !read_only_then {
            return view;
        }
        if read_only_then {
            // Not kept further: it would say so again whatever the node's setting is now.
            client.session().discard();
        }
        drop(client);
        match deadline
            .run(OP, &an_name, Session::open(&self.access_node, OP))
            .await
        {
            Ok(fresh) => self.view_over(&fresh, deadline).await,
            Err(e) => self.unread_view(e),
        }
    }

    /// The view when the access node could not be read (`e`).
    fn unread_view(&self, e: Error) -> AccessNodeView {
        let why = format!("the access node could not be read: {e}");
        AccessNodeView {
            under_replicated: Err(Error::UnsupportedServer {
                op: OP,
                node: self.access_node.node_name(),
                reason: why.clone(),
            }),
            server: Err(e),
            registered: Err(why),
            schemas: None,
            answered: false,
            mappings: Vec::new(),
            stale: false,
        }
    }

    /// [`Cluster::access_node_view`] over `session`: all at once when the session read the
    /// access node's TimescaleDB version and schemas before and they still hold, else step
    /// by step.
    async fn view_over(&self, session: &Session, deadline: Deadline) -> AccessNodeView {
        if let Some((version, schemas)) = session.timescaledb_hint() {
            if let Some(view) = self
                .view_at_once(session, version, &schemas, deadline)
                .await
            {
                return view;
            }
        }
        self.view_step_by_step(session, deadline).await
    }

    /// [`Cluster::access_node_view`] in one round trip: what the access node runs, its data
    /// nodes, its under-replicated chunks, `SELECT 1` on every data node (through
    /// `distributed_exec` over the session's connections) and the admin's mappings, sent
    /// together, by the `version` and `schemas` this session read before. `None` when the
    /// access node cannot run multi-node now or its version or schemas changed: read again
    /// step by step.
    async fn view_at_once(
        &self,
        session: &Session,
        version: Version,
        schemas: &Schemas,
        deadline: Deadline,
    ) -> Option<AccessNodeView> {
        // Not asked of a version without the view (no error in the server's log each time).
        let replication_status = Capabilities::of(version).has(Feature::ChunkReplicationStatus);
        let an_name = self.access_node.node_name();
        let spec: Vec<&NodeConfig> = self.data_nodes.iter().collect();
        let every_data_node: Option<Vec<&str>> = None;
        let round_trip = distributed_exec(schemas);
        let select_1 = ROUND_TRIP;
        let statement = select_1.text();
        let transactional = false;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&statement, &every_data_node, &transactional];
        let (info, registered, under_replicated, answered, checks) = tokio::join!(
            session.bounded(OP, &an_name, deadline, ServerInfo::read_brief(session)),
            session.bounded(
                OP,
                &an_name,
                deadline,
                AccessNode::list_data_nodes(session, OP)
            ),
            async {
                if !replication_status {
                    return Ok(Vec::new());
                }
                session
                    .bounded(OP, &an_name, deadline, under_replicated(session))
                    .await
            },
            towards(
                session,
                OP,
                &an_name,
                deadline,
                session.execute_multinode(OP, &round_trip, &params,),
            ),
            session.bounded(OP, &an_name, deadline, mapping_checks(session, OP, &spec)),
        );
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                return Some(AccessNodeView {
                    stale: is_stale(&e),
                    ..self.unread_view(e)
                })
            }
        };
        if multinode_refusal(&info).is_some()
            || info.timescaledb != Some(version)
            || info.schemas(OP).ok().as_ref() != Some(schemas)
        {
            return None;
        }
        let was_stale = registered.as_ref().err().is_some_and(is_stale)
            || under_replicated.as_ref().err().is_some_and(is_stale);
        let registered = registered
            .map_err(|e| format!("the access node's data nodes could not be listed: {e}"));
        let has_data_nodes = registered.as_ref().map_or(true, |nodes| !nodes.is_empty());
        if answered.is_err() && has_data_nodes {
            // In TimescaleDB 2.13 a session whose connection to a data node failed may
            // crash on its next distributed statement: never reuse it.
            session.discard();
        }
        let (answered, mappings) = match &registered {
            Ok(nodes) if !nodes.is_empty() => {
                let mappings = spec
                    .iter()
                    .zip(checks.unwrap_or_default())
                    .filter(|(dn, _)| nodes.iter().any(|n| n.name == dn.node_name()))
                    .map(|(dn, check)| (dn.node_name(), check))
                    .collect();
                (answered.is_ok(), mappings)
            }
            _ => (false, Vec::new()),
        };
        Some(AccessNodeView {
            server: Ok(info),
            registered,
            schemas: Some(schemas.clone()),
            under_replicated,
            answered,
            mappings,
            stale: was_stale,
        })
    }

    /// [`Cluster::access_node_view`] one statement after another, each chosen by what the
    /// one before read.
    async fn view_step_by_step(&self, session: &Session, deadline: Deadline) -> AccessNodeView {
        let an_name = self.access_node.node_name();
        let info = match session
            .bounded(OP, &an_name, deadline, ServerInfo::read_brief(session))
            .await
        {
            Ok(info) => info,
            Err(e) => {
                let was_stale = is_stale(&e);
                return AccessNodeView {
                    stale: was_stale,
                    ..self.unread_view(e)
                };
            }
        };
        if let Some(reason) = multinode_refusal(&info) {
            return AccessNodeView {
                registered: Err(format!("the access node cannot run multi-node: {reason}")),
                schemas: None,
                under_replicated: Ok(Vec::new()),
                server: Ok(info),
                answered: false,
                mappings: Vec::new(),
                stale: false,
            };
        }
        let schemas = info.schemas(OP).ok();
        if let (Some(version), Some(schemas)) = (info.timescaledb, &schemas) {
            session.remember_timescaledb(version, schemas.clone());
        }
        let registered = session
            .bounded(
                OP,
                &an_name,
                deadline,
                AccessNode::list_data_nodes(session, OP),
            )
            .await;
        let under_replicated = if info.supports(Feature::ChunkReplicationStatus) {
            session
                .bounded(OP, &an_name, deadline, under_replicated(session))
                .await
        } else {
            Ok(Vec::new())
        };
        let was_stale = registered.as_ref().err().is_some_and(is_stale)
            || under_replicated.as_ref().err().is_some_and(is_stale);
        let registered = registered
            .map_err(|e| format!("the access node's data nodes could not be listed: {e}"));
        let (answered, mappings) = match (&registered, &schemas) {
            (Ok(nodes), Some(schemas)) if !nodes.is_empty() => {
                let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                let answered = towards(
                    session,
                    OP,
                    &names.join(", "),
                    deadline,
                    session.execute_multinode(
                        OP,
                        &distributed_exec(schemas),
                        &[&ROUND_TRIP.text(), &names, &false],
                    ),
                )
                .await;
                if answered.is_err() {
                    // In TimescaleDB 2.13 a session whose connection to a data node failed
                    // may crash on its next distributed statement: never reuse it.
                    session.discard();
                }
                // All at once: the session sends them without waiting (one round trip).
                let spec: Vec<&NodeConfig> = self
                    .data_nodes
                    .iter()
                    .filter(|d| names.contains(&&*d.node_name()))
                    .collect();
                let checks = session
                    .bounded(OP, &an_name, deadline, mapping_checks(session, OP, &spec))
                    .await
                    .unwrap_or_default();
                let mappings = spec
                    .iter()
                    .zip(checks)
                    .map(|(dn, check)| (dn.node_name(), check))
                    .collect();
                (answered.is_ok(), mappings)
            }
            _ => (false, Vec::new()),
        };
        AccessNodeView {
            server: Ok(info),
            registered,
            schemas,
            under_replicated,
            answered,
            mappings,
            stale: was_stale,
        }
    }

    /// The access node's link to data node `name`, probed from a fresh session within
    /// `deadline`.
    async fn link(
        &self,
        view: &AccessNodeView,
        name: &str,
        direct_cause: Option<Cause>,
        extension_missing: bool,
        deadline: Deadline,
    ) -> AccessNodeLink {
        let (registered, schemas) = match (&view.registered, &view.schemas) {
            (Err(why), _) => return AccessNodeLink::NotChecked(why.clone()),
            (Ok(_), None) => {
                return AccessNodeLink::NotChecked(
                    "the access node's TimescaleDB schemas are not known".to_owned(),
                )
            }
            (Ok(registered), Some(schemas)) => (registered, schemas),
        };
        if !registered.iter().any(|n| n.name == name) {
            return AccessNodeLink::NotAdded;
        }
        let result = probe_fresh(&self.access_node, schemas, &[name], OP, deadline).await;
        // The node accepted the crate's login and the access node's relayed words are not
        // known: the mapping tells (see `relayed.rs`).
        let dn = self.data_nodes.iter().find(|dn| dn.node_name() == name);
        let known = match (direct_cause, dn) {
            (None, Some(dn)) if relayed::unread(&result) => match view.mapping(name) {
                // Read already with the access node's view.
                Some(check) => check.likely_cause(),
                None => relayed::cause_from_mapping(&self.access_node, dn, OP, deadline).await,
            },
            _ => direct_cause,
        };
        match link(result, known) {
            // Without the extension the access node fails to set up its session on the
            // node; the node itself said why.
            AccessNodeLink::Failed(e) | AccessNodeLink::Down(e) if extension_missing => {
                AccessNodeLink::ExtensionMissing(e)
            }
            other => other,
        }
    }

    /// Data node `config` seen directly, with its own credentials, over the session the
    /// cluster keeps, within `deadline`; its prepared transactions too. Whether a new
    /// login with those credentials succeeds now: against the verifier where the admin may
    /// read it, else by logging in (a refusal is then what the status shows).
    async fn direct_status(&self, config: &NodeConfig, deadline: Deadline) -> DirectRead {
        let name = config.node_name();
        let failed = |e: Error| {
            let copy = Error::invalid(OP, Some(&name), format!("not read: {e}"));
            DirectRead {
                direct: (NodeStatus { server: Err(e) }, Err(copy)),
                login_ok: false,
            }
        };
        let pool = match self.data_node_pool(config) {
            Ok(pool) => pool,
            Err(e) => return failed(e),
        };
        let client = match deadline.run(OP, &name, pool.get(OP)).await {
            Ok(client) => client,
            Err(e) => return failed(e),
        };
        let fresh: Session;
        let mut logged_in_now = false;
        let mut session = client.session();
        // What this session read before says whether the admin may read verifiers: then
        // the three reads go together, in one round trip.
        let mut early = None;
        let mut server = if session.superuser() == Some(true) {
            let (server, prepared, stored) = tokio::join!(
                session.bounded(OP, &name, deadline, ServerInfo::read_brief(session)),
                session.bounded(OP, &name, deadline, prepared_transactions(session)),
                session.bounded(
                    OP,
                    &name,
                    deadline,
                    read_verifier(session, OP, config.get_user())
                ),
            );
            early = Some((prepared, stored));
            server
        } else {
            session
                .bounded(OP, &name, deadline, ServerInfo::read_brief(session))
                .await
        };
        // The errors of what was read so far (the three reads go together).
        let errors: Vec<&Error> =
            [server.as_ref().err()]
                .into_iter()
                .chain(early.iter().flat_map(|(prepared, stored)| {
                    [prepared.as_ref().err(), stored.as_ref().err()]
                }))
                .flatten()
                .collect();
        let ended =
            !errors.is_empty() && !errors.iter().any(|e| e.is_timeout()) && session.is_poisoned();
        // A session keeps the `default_transaction_read_only` it started with: when a kept
        // one says on, a new one tells whether it still is.
        let read_only_then = server.as_ref().is_ok_and(|info| info.default_read_only);
        if read_only_then {
            // Not kept further: it would say so again whatever the node's setting is now.
            session.discard();
        }
        if ended || read_only_then {
            // A kept session that no longer works (its connection ended, say, which tells
            // nothing of the node now: it may be down, or up again), whichever read found
            // out, or one whose setting may be stale: read again over a new one.
            logged_in_now = true;
            early = None;
            fresh = match deadline.run(OP, &name, Session::open(config, OP)).await {
                Ok(fresh) => fresh,
                Err(e) => return failed(e),
            };
            session = &fresh;
            server = session
                .bounded(OP, &name, deadline, ServerInfo::read_brief(session))
                .await;
        }
        let (prepared, stored) = match early {
            Some(read) => read,
            // Both at once: the session sends them without waiting.
            None => {
                tokio::join!(
                    session.bounded(OP, &name, deadline, prepared_transactions(session)),
                    async {
                        match &server {
                            Ok(info) => {
                                session
                                    .bounded(
                                        OP,
                                        &name,
                                        deadline,
                                        read_stored(session, OP, info, config.get_user()),
                                    )
                                    .await
                            }
                            Err(_) => Ok(Stored::NotRead),
                        }
                    }
                )
            }
        };
        let verified = stored.ok().and_then(|stored| {
            self.pools
                .verified
                .matches(&stored, config.get_user(), config.get_password())
        });
        drop(client);
        // A kept session says nothing of a new login: log in (and show a refusal), unless
        // the password matches the verifier and a login was accepted under the node's
        // configuration as it is now (a reload may have changed `pg_hba.conf`).
        let proofs = &self.pools.proofs;
        let loaded = server.as_ref().ok().map(|info| info.config_loaded);
        let proved = loaded.is_some_and(|at| proofs.login_holds(&name, at));
        if server.is_ok() && (verified != Some(true) || !proved) && !logged_in_now {
            if let Err(e) = deadline.run(OP, &name, Session::open(config, OP)).await {
                return failed(e);
            }
        }
        if let Some(at) = loaded {
            proofs.login_proved(&name, at);
        }
        DirectRead {
            login_ok: server.is_ok(),
            direct: (NodeStatus { server }, prepared),
        }
    }
}

/// Whether `e` says the kept session, not the node, is done for: it fails as sessions do
/// after the extension was updated under them (the loader refuses a second version: 42710),
/// or its connection ended (the server restarted, say), which says nothing of the node now.
fn is_stale(e: &Error) -> bool {
    e.code().is_some_and(|c| c.code() == "42710") || e.ended_the_session()
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

/// Whether a data node's TimescaleDB fits the access node's, by TimescaleDB's own rule
/// (`dist_util_is_compatible_version`): the same major and a minor at least the access
/// node's, or a newer major. Patch levels are ignored.
pub(crate) fn compatible(data_node: Version, access_node: Version) -> bool {
    if data_node.major == access_node.major {
        data_node.minor >= access_node.minor
    } else {
        data_node.major > access_node.major
    }
}

fn version_ok(an: Option<Version>, direct: &NodeStatus) -> Option<bool> {
    let dn = direct.server.as_ref().ok()?.timescaledb?;
    Some(compatible(dn, an?))
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

async fn under_replicated(session: &Session) -> Result<Vec<UnderReplicatedChunk>> {
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
            in_recovery: false,
            config_loaded: std::time::SystemTime::UNIX_EPOCH,
            default_read_only: false,
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
    fn versions_fit_by_timescaledbs_rule() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        // A patch-level difference either way is no problem.
        assert!(compatible(v("2.13.0"), v("2.13.1")));
        assert!(compatible(v("2.13.1"), v("2.13.0")));
        // A newer minor on the data node fits; an older one does not.
        assert!(compatible(v("2.13.1"), v("2.11.2")));
        assert!(!compatible(v("2.11.2"), v("2.13.1")));
        // A newer major on the data node fits; an older one does not.
        assert!(compatible(v("3.0.0"), v("2.13.1")));
        assert!(!compatible(v("1.7.5"), v("2.0.0")));
    }

    #[test]
    fn a_data_node_line_flags_what_breaks_writes() {
        let mut info = server(Some("2.13.1"), "2.13.1", Some(License::Timescale));
        info.max_prepared_transactions = 0;
        let status = DataNodeStatus {
            name: "dn1".into(),
            direct: node(info),
            link: AccessNodeLink::Ok,
            available: Some(true),
            version_ok: Some(false),
            max_prepared_transactions: Some(0),
            prepared_transactions: Ok(Vec::new()),
        };
        assert!(!status.is_healthy());
        let text = status.to_string();
        assert!(text.contains("TimescaleDB version incompatible"), "{text}");
        assert!(text.contains("max_prepared_transactions = 0"), "{text}");
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
            max_prepared_transactions: None,
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
