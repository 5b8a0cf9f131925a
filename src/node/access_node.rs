//! The access node: where applications connect and multi-node calls are made.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::catalog::{ChunkInfo, DataNodeInfo, HypertableInfo};
use crate::config::NodeConfig;
use crate::connect::{Session, SessionOn};
use crate::error::{Error, Result};
use crate::pool::{NodePool, PoolConfig, PoolState, PooledClient};
use crate::secret_send::SecretLogging;
use crate::sql::functions::Schemas;
use crate::sql::raw::RawSql;
use crate::sql::session::{CATALOG_FIRST, RESET_SEARCH_PATH};
use crate::sql::status::HYPERTABLE_DATA_NODES;
use crate::sql::Sql;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

use crate::executor::catalog;
use crate::server::{Capabilities, Feature, ServerInfo};
use crate::sql::data_node::LIST_DATA_NODES;
use crate::sql::hypertable::{TableName, RESOLVE_TABLE};
use crate::table_name::IntoTableName;

use super::health::Round;
use super::write_guard::{refuse_unless_up, WriteGuard};

/// How many times [`AccessNode::query`] and [`AccessNode::execute`] run a statement again
/// after [`Error::is_stale_data_node_connection`], or after the server ended the pooled
/// session as idle just as the statement was sent.
pub const STALE_RETRIES: u32 = 2;

/// Whether `result` failed on a stale data-node connection, or on a session the server
/// ended as idle (the statement never ran), and may run again; counts the attempt.
fn retry_stale<T>(result: &Result<T>, attempt: &mut u32) -> bool {
    match result {
        Err(e)
            if (e.is_stale_data_node_connection() || e.ended_as_idle())
                && *attempt < STALE_RETRIES =>
        {
            *attempt += 1;
            tracing::debug!(node = ?e.node(), attempt = *attempt, "retrying after a stale data-node connection");
            true
        }
        _ => false,
    }
}

/// A handle on the access node of a cluster, with a pool of connections to it. Cheap to
/// clone; clones share the pool, so one `AccessNode` can serve many tasks.
///
/// Queries ([`AccessNode::query`], [`AccessNode::client`]) and `distributed_exec` use the
/// pool; administrative operations (adding data nodes, mappings, roles, extension updates)
/// open a fresh session each, so their session settings never reach a pooled connection.
///
/// Every function the crate calls is qualified with its schema and every argument cast to
/// the declared type, so a look-alike function that another role created in `public` is
/// never run instead. Administrative sessions also put `pg_catalog` first in the search
/// path; pooled sessions keep the path the server gives, so your SQL resolves (and creates)
/// names as it would anywhere else.
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
    pool: NodePool,
    /// Set once the server was seen to have multi-node; later checks on pooled connections
    /// use it instead of a round trip.
    known: Arc<OnceLock<Known>>,
    /// The session every operation of this handle uses, when pinned.
    pinned: Option<Arc<Session>>,
    /// What to do when a setting would record a secret this handle sends.
    secret_logging: SecretLogging,
    /// The data-node check shared by the writes of this handle and its clones.
    guard: Arc<WriteGuard>,
}

/// What a handle learnt about its server once it saw multi-node there.
#[derive(Debug)]
struct Known {
    caps: Capabilities,
    schemas: Schemas,
}

/// A session an operation runs on: its own, or a pinned one it shares.
#[derive(Debug)]
pub(crate) enum SessionRef {
    Owned(Box<Session>),
    Shared(Arc<Session>),
}

impl std::ops::Deref for SessionRef {
    type Target = Session;

    fn deref(&self) -> &Session {
        match self {
            SessionRef::Owned(session) => session,
            SessionRef::Shared(session) => session,
        }
    }
}

impl AccessNode {
    /// Checks that the node answers and accepts the credentials, and returns a handle with
    /// a pool of the default size ([`PoolConfig::default`]). TimescaleDB need not be
    /// installed yet (see [`UpdateExtension`](crate::UpdateExtension)).
    pub async fn connect(config: NodeConfig) -> Result<AccessNode> {
        Self::connect_with_pool(config, &PoolConfig::default()).await
    }

    /// Like [`AccessNode::connect`], with pool settings.
    pub async fn connect_with_pool(config: NodeConfig, pool: &PoolConfig) -> Result<AccessNode> {
        let pool = NodePool::new(config.clone(), pool)?;
        pool.get("connect to access node").await?;
        Ok(AccessNode {
            config,
            pool,
            known: Arc::default(),
            pinned: None,
            secret_logging: SecretLogging::default(),
            guard: Arc::new(WriteGuard::new(Duration::ZERO)),
        })
    }

    /// How old a check that the data nodes answer may be for an ingest to rely on it
    /// ([`AccessNode::ingest`]). Default: zero — every ingest relies only on a check that
    /// started after it asked, as if it had pinged the nodes itself; concurrent ingests share
    /// such checks, one at a time, instead of each sending its own. (TimescaleDB's
    /// `ping_data_node` logs in to the data node anew each time, tens of milliseconds, so a
    /// lone writer pays that per ingest.) A longer age saves the
    /// round trip for ingests that start within it of a check, and widens by as much the
    /// window in which a node that just went down is written to (which can crash a
    /// TimescaleDB 2.13 access node). Any error on the access node's link to a data node
    /// forgets what was seen.
    #[must_use]
    pub fn node_check_max_age(mut self, max_age: Duration) -> Self {
        self.guard = Arc::new(WriteGuard::new(max_age));
        self
    }

    /// Notes the outcome of a multi-node statement on `session`: when it broke the access
    /// node's link to a data node, what was seen of the data nodes is forgotten.
    pub(crate) fn note_link(&self, session: &SessionOn<'_>) {
        if session.is_poisoned() {
            self.guard.health.forget();
        }
    }

    /// What the operations of this handle that send a secret (adding a data node, user
    /// mappings, distributed roles) do when a setting of the access node or a data node
    /// would record it and the role cannot turn that setting off: refuse
    /// ([`SecretLogging::Refuse`], the default, with [`Error::SecretWouldBeLogged`]) or send
    /// it anyway ([`SecretLogging::Accept`]). A superuser turns such settings off for its
    /// session, so is never refused.
    #[must_use]
    pub fn secret_logging(mut self, policy: SecretLogging) -> Self {
        self.secret_logging = policy;
        self
    }

    /// The handle's [`SecretLogging`].
    pub fn secret_logging_policy(&self) -> SecretLogging {
        self.secret_logging
    }

    /// The pool of connections to the access node.
    pub fn pool(&self) -> &NodePool {
        &self.pool
    }

    /// How many pooled connections are open and idle.
    pub fn pool_state(&self) -> PoolState {
        self.pool.state()
    }

    /// A pooled connection (back to the pool when dropped). It derefs to
    /// [`tokio_postgres::Client`]; statements run outside any transaction unless you start
    /// one.
    pub async fn client(&self) -> Result<PooledClient<'_>> {
        self.pool.get("check out connection").await
    }

    /// Runs caller-written `sql` (a string literal, or [`RawSql::vouched`] text) with bind
    /// parameters on a pooled connection and returns the rows. Errors the access node relays
    /// from a data node name that data node.
    ///
    /// After a data node restarts, each access-node session fails a statement or two on its
    /// dead cached connection to it before reconnecting
    /// ([`Error::is_stale_data_node_connection`]); such a statement, which did nothing, is
    /// run again (up to [`STALE_RETRIES`] times). So is one sent over a pooled session just
    /// as the server ended it as idle (`idle_session_timeout`, SQLSTATE 57P05), which the
    /// server never read.
    ///
    /// The statement runs under the pool's statement and lock timeouts
    /// ([`PoolConfig::statement_timeout`]); if the server does not answer by then, it is
    /// cancelled and the session closed ([`Error::Deadline`]).
    pub async fn query(
        &self,
        sql: impl Into<RawSql>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        const OP: &str = "query";
        let sql = Sql::vouched(&sql.into());
        let mut attempt = 0;
        loop {
            // A fresh checkout each time: a session whose data-node connection failed is
            // poisoned and goes out of the pool with the dropped client.
            let client = self.pool.get(OP).await?;
            let result = client
                .within(OP, client.session().query_multinode(OP, &sql, params))
                .await;
            self.note_link(client.session());
            if !retry_stale(&result, &mut attempt) {
                return result;
            }
        }
    }

    /// Runs caller-written `sql` that returns no rows; returns the number of rows affected.
    /// Retries as [`AccessNode::query`] does.
    pub async fn execute(
        &self,
        sql: impl Into<RawSql>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64> {
        const OP: &str = "execute";
        let sql = Sql::vouched(&sql.into());
        let mut attempt = 0;
        loop {
            // A fresh checkout each time: a session whose data-node connection failed is
            // poisoned and goes out of the pool with the dropped client.
            let client = self.pool.get(OP).await?;
            let result = client
                .within(OP, client.session().execute_multinode(OP, &sql, params))
                .await;
            self.note_link(client.session());
            if !retry_stale(&result, &mut attempt) {
                return result;
            }
        }
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

    /// A session for `op`: a fresh one, or the handle's pinned one
    /// ([`AccessNode::pinned_on`]).
    pub(crate) async fn session(&self, op: &'static str) -> Result<SessionRef> {
        match &self.pinned {
            Some(session) => Ok(SessionRef::Shared(session.clone())),
            None => Session::open(&self.config, op)
                .await
                .map(|s| SessionRef::Owned(Box::new(s))),
        }
    }

    /// Whether the handle's pinned session has ended (the server closed it: idle for its
    /// `idle_session_timeout`, a restart); `false` for a handle without one.
    pub(crate) fn pinned_session_ended(&self) -> bool {
        self.pinned
            .as_ref()
            .is_some_and(|session| session.client().is_closed())
    }

    /// A handle whose typed operations all run on `session`, in order (as a psql script
    /// does), so the access node's connections to the data nodes are made once instead of
    /// once per operation, and one deadline on that session bounds each operation
    /// ([`crate::connect::SessionOn::bounded`]). `session` is a session of the crate's own
    /// to `config`'s node whose search path puts `pg_catalog` first. [`AccessNode::query`]
    /// and [`AccessNode::execute`] still use the pool, which opens its first connection
    /// when one of them runs; [`AccessNode::execute_pinned`] does not.
    pub(crate) fn pinned_on(config: NodeConfig, session: Session) -> Result<AccessNode> {
        let pool = NodePool::new(config.clone(), &PoolConfig::default())?;
        Ok(AccessNode {
            config,
            pool,
            known: Arc::default(),
            pinned: Some(Arc::new(session)),
            secret_logging: SecretLogging::default(),
            guard: Arc::new(WriteGuard::new(Duration::ZERO)),
        })
    }

    /// The session of a handle made by [`AccessNode::pinned_on`].
    pub(crate) fn pinned_session(&self) -> Option<&Arc<Session>> {
        self.pinned.as_ref()
    }

    /// Runs the caller's statement `sql` on the pinned session (the pool's when the handle
    /// is not pinned), under the search path the server gives (as on a pooled session);
    /// `pg_catalog` goes first again afterwards, or the session is given up.
    pub(crate) async fn execute_pinned(&self, op: &'static str, sql: &RawSql) -> Result<u64> {
        let Some(session) = &self.pinned else {
            return self.execute(sql.clone(), &[]).await;
        };
        session.execute_utility(op, &RESET_SEARCH_PATH).await?;
        let result = session.execute_multinode(op, &Sql::vouched(sql), &[]).await;
        if session.execute_utility(op, &CATALOG_FIRST).await.is_err() {
            session.discard();
        }
        self.note_link(session);
        result
    }

    /// A session for `op` on a server that has `feature` (checked once per handle), and the
    /// schemas of the server's TimescaleDB functions.
    /// The schemas of the access node's TimescaleDB functions (multi-node required), read
    /// once and kept.
    pub(crate) async fn schemas(&self, op: &'static str) -> Result<Schemas> {
        self.session_with(op, Feature::MultiNode)
            .await
            .map(|(_, schemas)| schemas)
    }

    pub(crate) async fn session_with(
        &self,
        op: &'static str,
        feature: Feature,
    ) -> Result<(SessionRef, Schemas)> {
        let session = self.session(op).await?;
        let schemas = self.require_pooled(&session, op, feature).await?;
        Ok((session, schemas))
    }

    /// Refuses `op` unless the server has `feature`, and returns the schemas of its
    /// TimescaleDB functions; the first successful check is kept, so pooled hot paths pay
    /// for it once.
    pub(crate) async fn require_pooled(
        &self,
        session: &SessionOn<'_>,
        op: &'static str,
        feature: Feature,
    ) -> Result<Schemas> {
        let known = match self.known.get() {
            Some(known) => known,
            None => {
                let info = ServerInfo::read_brief(session).await?;
                let caps = info.multinode_capabilities(op)?;
                let schemas = info.schemas(op)?;
                self.known.get_or_init(|| Known { caps, schemas })
            }
        };
        known.caps.require(op, session.node(), feature)?;
        Ok(known.schemas.clone())
    }

    /// Whether the server was seen to run multi-node.
    pub(crate) fn runs_multinode(&self) -> bool {
        self.known.get().is_some()
    }

    /// Before an ingest into `relation` (quoted name) takes a pooled connection: when the
    /// server is known to run multi-node and the table is not known to be plain, a round of
    /// pings recent enough for a caller that asked at `asked` (see
    /// [`AccessNode::node_check_max_age`]). `None` when there is none to wait for, or it
    /// failed (the check is then made on the ingest's own session).
    pub(crate) async fn round_before_write(
        &self,
        op: &'static str,
        relation: &str,
        asked: Instant,
    ) -> Option<Arc<Round>> {
        let known = self.known.get()?;
        if self.guard.is_plain(relation) {
            return None;
        }
        self.guard
            .round_since(&self.config, &known.schemas, op, asked)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "data-node check round failed"))
            .ok()
    }

    /// Refuses with [`Error::DataNodeDown`] when a data node of the distributed hypertable
    /// `relation` (quoted name) does not answer; a table that is not a distributed
    /// hypertable, or a server without multi-node, passes. `nodes` are the table's data
    /// nodes when the caller read them already. `round` is one from
    /// [`AccessNode::round_before_write`]; without one, one is waited for here. Nodes the
    /// round did not see (or all, when no round can be had) are pinged on `session`.
    pub(crate) async fn check_nodes_up(
        &self,
        session: &SessionOn<'_>,
        op: &'static str,
        relation: &str,
        nodes: Option<Vec<String>>,
        round: Option<Arc<Round>>,
        asked: Instant,
    ) -> Result<()> {
        let known = match self.known.get() {
            Some(known) => known,
            None => {
                let info = ServerInfo::read(session).await?;
                match (info.capabilities(), info.schemas(op)) {
                    (Some(caps), Ok(schemas)) if info.check_multinode().is_ok() => {
                        self.known.get_or_init(|| Known { caps, schemas })
                    }
                    _ => return Ok(()),
                }
            }
        };
        let nodes: Vec<String> = match nodes {
            Some(nodes) => nodes,
            None => match session
                .query_opt(op, &HYPERTABLE_DATA_NODES, &[&relation])
                .await?
            {
                Some(row) => session.get(op, &row, "data_nodes")?,
                None => Vec::new(),
            },
        };
        self.guard.note_table(relation, !nodes.is_empty());
        if nodes.is_empty() {
            return Ok(());
        }
        let round = match round {
            Some(round) => Ok(round),
            None => {
                self.guard
                    .round_since(&self.config, &known.schemas, op, asked)
                    .await
            }
        };
        let unseen = match round {
            Ok(round) => round.verdict(op, &nodes)?,
            Err(e) => {
                tracing::debug!(error = %e, "data-node check round failed; checking here");
                nodes
            }
        };
        if unseen.is_empty() {
            return Ok(());
        }
        refuse_unless_up(session, op, &known.schemas, &unseen).await
    }

    /// The data nodes of this access node (like `\des+`), by name. (Any [`Executor`](crate::Executor):
    /// [`Executor::data_nodes`](crate::Executor::data_nodes).)
    pub async fn data_nodes(&self) -> Result<Vec<DataNodeInfo>> {
        catalog::data_nodes(self).await
    }

    pub(crate) async fn list_data_nodes(
        session: &SessionOn<'_>,
        op: &'static str,
    ) -> Result<Vec<DataNodeInfo>> {
        let rows = session.query(op, &LIST_DATA_NODES, &[]).await?;
        rows.iter()
            .map(|row| DataNodeInfo::from_row(session, op, row))
            .collect()
    }

    /// Checks that every name in `wanted` is a data node, before anything is sent.
    pub(crate) async fn check_data_nodes(
        session: &SessionOn<'_>,
        op: &'static str,
        wanted: &[String],
    ) -> Result<()> {
        let registered = Self::list_data_nodes(session, op).await?;
        Self::check_data_nodes_among(session, op, wanted, &registered)
    }

    /// [`AccessNode::check_data_nodes`] against the data nodes the access node has
    /// (`registered`, as read over `session`).
    pub(crate) fn check_data_nodes_among(
        session: &SessionOn<'_>,
        op: &'static str,
        wanted: &[String],
        registered: &[DataNodeInfo],
    ) -> Result<()> {
        let known: Vec<&String> = registered.iter().map(|n| &n.name).collect();
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
    /// (Any [`Executor`](crate::Executor): [`Executor::hypertable`](crate::Executor::hypertable).)
    pub async fn hypertable(&self, table: impl IntoTableName) -> Result<Option<HypertableInfo>> {
        catalog::hypertable(self, table).await
    }

    /// Every hypertable of the access node's database (distributed or not), by schema and
    /// name. (Any [`Executor`](crate::Executor): [`Executor::hypertables`](crate::Executor::hypertables).)
    pub async fn hypertables(&self) -> Result<Vec<HypertableInfo>> {
        catalog::hypertables(self).await
    }

    /// The chunks of hypertable `table` and the data nodes that hold each. (Any
    /// [`Executor`](crate::Executor): [`Executor::chunks`](crate::Executor::chunks).)
    pub async fn chunks(&self, table: impl IntoTableName) -> Result<Vec<ChunkInfo>> {
        catalog::chunks(self, table).await
    }

    /// The schema and name of `table` (resolved with the search path when unqualified), if
    /// it exists.
    pub(crate) async fn resolve(
        session: &SessionOn<'_>,
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
