//! One unpooled session to one node: connecting, TLS, the search path, error
//! classification, and forwarding the server's notices (TimescaleDB's 01P01 deprecation
//! warnings among them) to `tracing`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::error::DbError;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Connection, Row, Statement};
use tracing::Instrument;

use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::sql::functions::Schemas;
use crate::sql::session::CATALOG_FIRST;
use crate::sql::Sql;
use crate::tls::Connector;
use crate::version::Version;

/// The search path a session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchPath {
    /// For sessions that run only the crate's own statements: `pg_catalog` first, then the
    /// path the server gives ([`CATALOG_FIRST`]).
    CatalogFirst,
    /// For sessions that run the caller's SQL (the access node's pool, [`NodeConfig::connect`],
    /// per-node queries) or create the extension: the path the server gives, untouched, so
    /// the caller's names resolve, and new objects go, where they always did. The crate's
    /// own statements there qualify every name.
    AsConfigured,
}

/// A session the crate opened and owns (see [`SessionOn`]).
pub(crate) type Session = SessionOn<'static>;

/// A connected client plus what errors need to name: the node. The client is the crate's
/// own ([`Session`]) or a caller's, borrowed for one operation ([`SessionOn::borrowed`]:
/// a `tokio_postgres::Client`, the client of a `Transaction`, a connection of the caller's
/// pool).
#[derive(Debug)]
pub(crate) struct SessionOn<'c> {
    client: Handle<'c>,
    node: String,
    /// Set when a multi-node statement failed on the access node's connection to a data
    /// node: TimescaleDB 2.13 can crash such a session on its next `distributed_exec`, so
    /// the pool must not hand it out again.
    poisoned: AtomicBool,
    /// How to reach the server again, for a cancel request (a caller's client: unknown).
    connector: Option<Connector>,
    /// Whether the statements run inside a transaction block the caller opened.
    in_transaction_block: bool,
    /// The crate's own statements this session has prepared: a session kept in a pool
    /// parses and plans each once, and runs it in one round trip after that. (A caller's
    /// session, borrowed for one operation, prepares nothing.)
    prepared: Mutex<HashMap<Cow<'static, str>, Statement>>,
    /// Whether the server has the TimescaleDB loader preloaded, once read on this session
    /// (it changes only with a restart, which ends the session).
    preloaded: OnceLock<bool>,
    /// Whether the session's user is a superuser, as first read on this session.
    superuser: OnceLock<bool>,
    /// The TimescaleDB version and schemas this session last read: a hint that lets
    /// statements that depend on them go out together with the read that checks them.
    timescaledb: Mutex<Option<(Version, Schemas)>>,
    /// What the server said as it ended the connection, when it did (set by the driver
    /// before a waiting statement learns the connection closed; a caller's client: never).
    ended_by: Arc<OnceLock<DbError>>,
}

/// The driver's client a session runs on.
pub(crate) enum Handle<'c> {
    /// Opened by the crate.
    Owned(Client),
    /// A caller's client (or a `Transaction`'s), borrowed.
    Borrowed(&'c Client),
    /// A caller's pooled connection, checked out for this session and back in its pool
    /// when the session is dropped.
    #[cfg(feature = "bb8-postgres")]
    Held(Box<dyn std::ops::Deref<Target = Client> + Send + Sync + 'c>),
}

impl std::fmt::Debug for Handle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handle::Owned(_) => "Owned",
            Handle::Borrowed(_) => "Borrowed",
            #[cfg(feature = "bb8-postgres")]
            Handle::Held(_) => "Held",
        })
    }
}

impl<'c> SessionOn<'c> {
    /// A session on a caller's client, named `node` in errors; `in_transaction_block` when
    /// the client runs inside a transaction block the caller opened (a `Transaction`).
    pub(crate) fn borrowed(client: Handle<'c>, node: String, in_transaction_block: bool) -> Self {
        SessionOn {
            client,
            node,
            poisoned: AtomicBool::new(false),
            connector: None,
            in_transaction_block,
            prepared: Mutex::default(),
            preloaded: OnceLock::new(),
            superuser: OnceLock::new(),
            timescaledb: Mutex::default(),
            ended_by: Arc::default(),
        }
    }

    /// Whether the statements run inside a transaction block the caller opened.
    pub(crate) fn in_transaction_block(&self) -> bool {
        self.in_transaction_block
    }

    /// Refuses `op`, before anything is sent, when the session runs inside a transaction
    /// block (the server refuses `what` there with 25001).
    pub(crate) fn refuse_in_transaction_block(&self, op: &'static str, what: &str) -> Result<()> {
        if self.in_transaction_block {
            return Err(Error::invalid(
                op,
                Some(&self.node),
                format!(
                    "{what} cannot run inside a transaction block; run it on a client or pool, not a transaction"
                ),
            ));
        }
        Ok(())
    }
}

impl Session {
    /// Connects to `config`'s node for `op`, for the crate's own statements
    /// ([`SearchPath::CatalogFirst`]); bad config is refused before any I/O.
    pub(crate) async fn open(config: &NodeConfig, op: &'static str) -> Result<Session> {
        Self::open_with(config, op, SearchPath::CatalogFirst).await
    }

    /// Connects to `config`'s node for `op`, leaving the search path as the server sets it
    /// ([`SearchPath::AsConfigured`]).
    pub(crate) async fn open_as_configured(
        config: &NodeConfig,
        op: &'static str,
    ) -> Result<Session> {
        Self::open_with(config, op, SearchPath::AsConfigured).await
    }

    /// Connects to `config`'s node for `op` with the search path `path`. A session the
    /// server ends as idle before its first statement (a client held up longer than the
    /// server's `idle_session_timeout`) is opened once more.
    ///
    /// The handshake runs as a task of its own (aborted when the caller gives up): the
    /// driver's and TLS's futures are deep, and a task is polled from the runtime's stack,
    /// not from under the caller's, which may be deep already (a debug build lays out every
    /// temporary of a future's poll side by side).
    pub(crate) async fn open_with(
        config: &NodeConfig,
        op: &'static str,
        path: SearchPath,
    ) -> Result<Session> {
        let owned = config.clone();
        // In the caller's span, so that what the handshake logs says whose it is.
        let mut task = AbortOnDrop(tokio::spawn(
            async move { Self::open_retrying(&owned, op, path).await }.in_current_span(),
        ));
        match (&mut task.0).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime would not run the task (it is shutting down): here, then (boxed
            // apart, so that this future stays small).
            Err(_) => Self::open_retrying_boxed(config, op, path).await,
        }
    }

    /// [`Session::open_retrying`], on the heap.
    fn open_retrying_boxed<'a>(
        config: &'a NodeConfig,
        op: &'static str,
        path: SearchPath,
    ) -> Pin<Box<dyn Future<Output = Result<Session>> + Send + 'a>> {
        Box::pin(Self::open_retrying(config, op, path))
    }

    /// [`Session::open_with`] on the caller's task.
    async fn open_retrying(
        config: &NodeConfig,
        op: &'static str,
        path: SearchPath,
    ) -> Result<Session> {
        match Self::open_once(config, op, path).await {
            Err(e) if e.ended_as_idle() => Self::open_once(config, op, path).await,
            other => other,
        }
    }

    /// [`Session::open_with`], once.
    async fn open_once(config: &NodeConfig, op: &'static str, path: SearchPath) -> Result<Session> {
        let driver = config.driver_config(op)?;
        let node = config.node_name();
        let connector = Connector::for_config(config, op)?;
        tracing::debug!(node = %node, tls = config.get_tls().as_str(), "connecting");
        let for_cancel = connector.clone();
        let ended_by: Arc<OnceLock<DbError>> = Arc::default();
        let connecting = async {
            match connector {
                Connector::Plain(tls) => driver.connect(tls).await.map(|(client, conn)| {
                    (client, spawn_driver(conn, node.clone(), ended_by.clone()))
                }),
                #[cfg(feature = "rustls")]
                Connector::Rustls(tls) => driver.connect(tls).await.map(|(client, conn)| {
                    (client, spawn_driver(conn, node.clone(), ended_by.clone()))
                }),
            }
        };
        // The driver's own connect timeout covers only the TCP connect; this one covers the
        // whole handshake (TLS, authentication), as libpq's does.
        let connected = match config.get_connect_timeout() {
            Some(after) => match tokio::time::timeout(after, connecting).await {
                Ok(result) => result,
                Err(_) => return Err(Error::Timeout { op, node, after }),
            },
            None => connecting.await,
        };
        let session = match connected {
            Ok((client, ())) => Session {
                client: Handle::Owned(client),
                node,
                poisoned: AtomicBool::new(false),
                connector: Some(for_cancel),
                in_transaction_block: false,
                prepared: Mutex::default(),
                preloaded: OnceLock::new(),
                superuser: OnceLock::new(),
                timescaledb: Mutex::default(),
                ended_by,
            },
            Err(e) => return Err(Error::from_connect(op, &node, config.get_user(), e)),
        };
        if path == SearchPath::CatalogFirst {
            session.execute_utility(op, &CATALOG_FIRST).await?;
        }
        Ok(session)
    }

    /// Gives up the session, keeping the client.
    pub(crate) fn into_client(self) -> Client {
        match self.client {
            Handle::Owned(client) => client,
            // A session the crate opened owns its client; only those reach here.
            Handle::Borrowed(_) => unreachable!("only sessions the crate opened are given up"),
            #[cfg(feature = "bb8-postgres")]
            Handle::Held(_) => unreachable!("only sessions the crate opened are given up"),
        }
    }
}

impl SessionOn<'_> {
    /// The node's name, for errors.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// Whether the server preloads the TimescaleDB loader, if this session read it before.
    pub(crate) fn preloaded(&self) -> Option<bool> {
        self.preloaded.get().copied()
    }

    /// Keeps what this session read of the loader (see [`SessionOn::preloaded`]).
    pub(crate) fn remember_preloaded(&self, preloaded: bool) {
        let _ = self.preloaded.set(preloaded);
    }

    /// Whether the session's user was a superuser when this session first read it (a hint
    /// for sending reads together: a read that needs the privilege still fails cleanly
    /// when it was taken away since).
    pub(crate) fn superuser(&self) -> Option<bool> {
        self.superuser.get().copied()
    }

    /// Keeps what this session read of its user (see [`SessionOn::superuser`]).
    pub(crate) fn remember_superuser(&self, superuser: bool) {
        let _ = self.superuser.set(superuser);
    }

    /// The TimescaleDB version and schemas this session last read, if it read them (a
    /// hint: check it against a read sent with the statements that use it).
    pub(crate) fn timescaledb_hint(&self) -> Option<(Version, Schemas)> {
        self.timescaledb
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Keeps the TimescaleDB version and schemas this session read (see
    /// [`SessionOn::timescaledb_hint`]).
    pub(crate) fn remember_timescaledb(&self, version: Version, schemas: Schemas) {
        *self
            .timescaledb
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((version, schemas));
    }

    /// Marks the session unfit for reuse: a pool discards it instead of handing it out
    /// again (after a step was cut off at its deadline, the server may still be busy on it).
    pub(crate) fn discard(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }

    /// Runs `work` on this session until `deadline`. When the deadline passes first, the
    /// server is sent a cancel request for what the session runs (so the backend stops
    /// waiting, on a data node that never answers, say), the session is marked for
    /// [`Session::discard`], and [`Error::Timeout`] names `node` (the node that did not
    /// answer, which may be a data node behind this access-node session).
    pub(crate) async fn bounded<T>(
        &self,
        op: &'static str,
        node: &str,
        deadline: Deadline,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout_at(deadline.at, work).await {
            Ok(result) => result,
            Err(_) => {
                self.discard();
                self.cancel().await;
                Err(Error::Timeout {
                    op,
                    node: node.to_owned(),
                    after: deadline.after,
                })
            }
        }
    }

    /// Sends the server a cancel request for the statement this session runs, if any (the
    /// protocol's out-of-band request, over a connection of its own); bounded too, and only
    /// traced when it fails: the session is given up anyway.
    pub(crate) async fn cancel(&self) {
        let token = self.client().cancel_token();
        let sent = match self.connector.clone() {
            Some(Connector::Plain(tls)) => {
                tokio::time::timeout(CANCEL_TIMEOUT, token.cancel_query(tls)).await
            }
            #[cfg(feature = "rustls")]
            Some(Connector::Rustls(tls)) => {
                tokio::time::timeout(CANCEL_TIMEOUT, token.cancel_query(tls)).await
            }
            None => {
                tracing::debug!(node = %self.node, "no cancel request: the caller's client");
                return;
            }
        };
        match sent {
            Ok(Ok(())) => tracing::debug!(node = %self.node, "cancel request sent"),
            Ok(Err(e)) => tracing::debug!(node = %self.node, error = %e, "cancel request failed"),
            Err(_) => tracing::debug!(node = %self.node, "cancel request timed out"),
        }
    }

    /// Whether a failed data-node connection makes this session unsafe to reuse.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Classifies a multi-node error, poisoning the session when the access node's
    /// connection to a data node failed, or its own connection ended.
    pub(crate) fn multinode_err(&self, op: &'static str, e: tokio_postgres::Error) -> Error {
        let err = Error::from_access_node(op, &self.node, e).ended_by(self.ended_by.get());
        let data_node_link = matches!(
            err,
            Error::NoUserMapping { .. }
                | Error::AuthenticationFailed { .. }
                | Error::Unreachable { .. }
        ) || err.is_stale_data_node_connection()
            || err.code().is_some_and(|c| c.code().starts_with("08"));
        if data_node_link || err.ended_the_session() {
            self.poisoned.store(true, Ordering::Relaxed);
        }
        err
    }

    /// The driver's client.
    pub(crate) fn client(&self) -> &Client {
        match &self.client {
            Handle::Owned(client) => client,
            Handle::Borrowed(client) => client,
            #[cfg(feature = "bb8-postgres")]
            Handle::Held(client) => client,
        }
    }

    fn err(&self, op: &'static str, e: tokio_postgres::Error) -> Error {
        let err = Error::from_statement(op, &self.node, e).ended_by(self.ended_by.get());
        // 42710 from a statement of the crate's: most often TimescaleDB's loader, when the
        // extension was updated after this session loaded it ("already loaded with a
        // different version"); such a session never works again. Any other duplicate
        // object costs no more than a new session. A session whose connection ended
        // (the server restarted, say) may not be closed in the driver yet: never again.
        if err.code().is_some_and(|c| c.code() == "42710") || err.ended_the_session() {
            self.poisoned.store(true, Ordering::Relaxed);
        }
        err
    }

    /// `sql` prepared on this session, when it is one of the crate's own statements: from
    /// the session's cache, or prepared now and kept.
    async fn prepared(&self, op: &'static str, sql: &Sql) -> Result<Option<Statement>> {
        let Some(text) = sql.kept_text() else {
            return Ok(None);
        };
        if !matches!(self.client, Handle::Owned(_)) {
            return Ok(None);
        }
        let kept = self
            .prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(text.as_ref())
            .cloned();
        if let Some(statement) = kept {
            return Ok(Some(statement));
        }
        let statement = self
            .client()
            .prepare(text)
            .await
            .map_err(|e| self.err(op, e))?;
        self.prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(text.clone(), statement.clone());
        Ok(Some(statement))
    }

    /// Forgets `sql`'s prepared statement after it failed, so the next use prepares it
    /// again (a plan the server can no longer use, after an extension update, say).
    fn forget(&self, sql: &Sql) {
        if let Some(text) = sql.kept_text() {
            self.prepared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(text.as_ref());
        }
    }

    /// Runs a query and returns its rows.
    pub(crate) async fn query(
        &self,
        op: &'static str,
        sql: &Sql,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let result = match self.prepared(op, sql).await? {
            Some(statement) => self.client().query(&statement, params).await,
            None => self.client().query(sql.text(), params).await,
        };
        result.map_err(|e| {
            self.forget(sql);
            self.err(op, e)
        })
    }

    /// Runs a query that returns at most one row.
    pub(crate) async fn query_opt(
        &self,
        op: &'static str,
        sql: &Sql,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let result = match self.prepared(op, sql).await? {
            Some(statement) => self.client().query_opt(&statement, params).await,
            None => self.client().query_opt(sql.text(), params).await,
        };
        result.map_err(|e| {
            self.forget(sql);
            self.err(op, e)
        })
    }

    /// Runs a multi-node call on an access node: errors the access node relays from a data
    /// node name that data node.
    pub(crate) async fn query_multinode(
        &self,
        op: &'static str,
        sql: &Sql,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.client()
            .query(sql.text(), params)
            .await
            .map_err(|e| self.multinode_err(op, e))
    }

    /// Runs a statement that returns no rows through the extended protocol, as a multi-node
    /// call (see [`Session::query_multinode`]).
    pub(crate) async fn execute_multinode(
        &self,
        op: &'static str,
        sql: &Sql,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64> {
        let result = match self.prepared(op, sql).await? {
            Some(statement) => self.client().execute(&statement, params).await,
            None => self.client().execute(sql.text(), params).await,
        };
        result.map_err(|e| {
            self.forget(sql);
            self.multinode_err(op, e)
        })
    }

    /// Runs a utility statement (no parameters) as a multi-node call.
    pub(crate) async fn execute_utility_multinode(
        &self,
        op: &'static str,
        sql: &Sql,
    ) -> Result<()> {
        self.client()
            .batch_execute(sql.text())
            .await
            .map_err(|e| self.multinode_err(op, e))
    }

    /// Runs a query that returns exactly one row.
    pub(crate) async fn query_one(
        &self,
        op: &'static str,
        sql: &Sql,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row> {
        let result = match self.prepared(op, sql).await? {
            Some(statement) => self.client().query_one(&statement, params).await,
            None => self.client().query_one(sql.text(), params).await,
        };
        result.map_err(|e| {
            self.forget(sql);
            self.err(op, e)
        })
    }

    /// Runs a statement with no parameters through the simple protocol (for utility
    /// statements such as `ALTER ROLE`, which cannot take parameters).
    pub(crate) async fn execute_utility(&self, op: &'static str, sql: &Sql) -> Result<()> {
        self.client()
            .batch_execute(sql.text())
            .await
            .map_err(|e| self.err(op, e))
    }

    /// Reads column `column` of `row`, naming the operation and node if it does not decode.
    pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        &self,
        op: &'static str,
        row: &'a Row,
        column: &str,
    ) -> Result<T> {
        row.try_get(column).map_err(|e| self.err(op, e))
    }
}

/// How long a cancel request may take before it is given up.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// When a bounded step must be done: a point in time, and the length it was given (for
/// errors).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The point in time.
    pub(crate) at: tokio::time::Instant,
    /// How long from the start it was.
    pub(crate) after: Duration,
}

impl Deadline {
    /// `after` from now.
    pub(crate) fn after(after: Duration) -> Deadline {
        Deadline {
            at: tokio::time::Instant::now() + after,
            after,
        }
    }

    /// The time left (zero once passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.at
            .saturating_duration_since(tokio::time::Instant::now())
    }

    /// Runs `work` (which holds no session to cancel: a connection attempt, say) until this
    /// deadline; [`Error::Timeout`] naming `node` when it passes first.
    pub(crate) async fn run<T>(
        self,
        op: &'static str,
        node: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::time::timeout_at(self.at, work)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    op,
                    node: node.to_owned(),
                    after: self.after,
                })
            })
    }
}

/// A task that is aborted when its handle is dropped (its caller gave up on it).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Drives the connection in the background, forwarding notices to `tracing` at debug level.
/// When the server ends the connection with an error (an idle session it ends: 57P05; a
/// shutdown: 57P01), the error goes to `ended_by` before the connection is dropped, so a
/// statement waiting on it, which learns only that the connection closed, can tell why.
fn spawn_driver<S, T>(mut conn: Connection<S, T>, node: String, ended_by: Arc<OnceLock<DbError>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notice(notice))) => tracing::debug!(
                    node = %node,
                    severity = notice.severity(),
                    code = notice.code().code(),
                    message = notice.message(),
                    "server notice"
                ),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(node = %node, error = %e, "connection ended with an error");
                    if let Some(db) = e.as_db_error() {
                        let _ = ended_by.set(db.clone());
                    }
                    break;
                }
                None => break,
            }
        }
    });
}

impl NodeConfig {
    /// Opens one fresh, unpooled session to this node.
    ///
    /// Use it for what must be the first statement of a session (such as
    /// `ALTER EXTENSION timescaledb UPDATE`) or for one-off work; the client's background
    /// task ends when the client is dropped. Server notices go to `tracing` at debug level.
    /// The session's search path is the one the server gives (the crate's own sessions put
    /// `pg_catalog` first; this one runs your SQL, so it is left alone).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a config that cannot be used (before any I/O),
    /// [`Error::Unreachable`] when nothing answers, [`Error::AuthenticationFailed`] when the
    /// credentials are refused, [`Error::ChannelBindingNotUsed`] when the config requires
    /// channel binding and the server authenticated without it, [`Error::Database`] for
    /// other server errors (such as a database that does not exist).
    pub async fn connect(&self) -> Result<Client> {
        Session::open_as_configured(self, "connect")
            .await
            .map(Session::into_client)
    }
}
