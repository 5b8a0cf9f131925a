//! The connection pool of one node: [`NodePool`], set up with a [`PoolConfig`], lends
//! [`PooledClient`]s; [`PoolState`] and [`CheckoutWaits`] tell how it is doing.
//!
//! An [`AccessNode`](crate::AccessNode) keeps one
//! ([`AccessNode::pool`](crate::AccessNode::pool),
//! [`AccessNode::connect_with_pool`](crate::AccessNode::connect_with_pool)); a
//! [`NodePool`] of your own reaches any node. A connection whose server went away is noticed
//! when its driver task ends and is replaced at the next checkout, without the caller doing
//! anything. Checkouts are served first come, first served, and their waits are recorded
//! ([`NodePool::checkout_waits`]). Every pooled session runs under a statement timeout and a
//! lock timeout, and the crate's operations on it under a deadline of their own: the
//! server's statement timeout plus [`CANCEL_GRACE`].

// The pool's connections are made by the same code as every other connection of the crate
// (TLS modes, a connect timeout over the whole handshake, notices to `tracing`, typed
// errors), through a bb8 connection manager of our own; `deadline` holds the crate's own
// deadline on pooled sessions.

mod checked;
mod deadline;
mod idle;
mod waits;

pub use deadline::CANCEL_GRACE;
pub use waits::CheckoutWaits;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::Client;

use crate::config::NodeConfig;
use crate::connect::{SearchPath, Session};
use crate::error::{Error, Result};
use crate::sql::session::{PING, SESSION_SETUP};
use idle::{parse_server_duration, Pooled};
use waits::WaitHistogram;

/// Pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    max_size: u32,
    min_idle: Option<u32>,
    checkout_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    statement_timeout: Option<Duration>,
    lock_timeout: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_size: 10,
            min_idle: None,
            checkout_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            statement_timeout: Some(Duration::from_secs(300)),
            lock_timeout: Some(Duration::from_secs(30)),
        }
    }
}

impl PoolConfig {
    /// Maximum number of connections. Default: 10.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[must_use]
    pub fn max_size(mut self, n: u32) -> Self {
        assert!(n > 0, "a pool needs at least one connection");
        self.max_size = n;
        self
    }

    /// Connections kept open while idle. Default: none.
    #[must_use]
    pub fn min_idle(mut self, n: u32) -> Self {
        self.min_idle = Some(n);
        self
    }

    /// How long a caller waits for a free connection before [`Error::PoolTimeout`].
    /// Default: 30 s.
    #[must_use]
    pub fn checkout_timeout(mut self, timeout: Duration) -> Self {
        self.checkout_timeout = timeout;
        self
    }

    /// Idle connections are closed after this long. Default: 10 minutes.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Connections are closed after this long in use. Default: 30 minutes.
    #[must_use]
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// The server's `statement_timeout` on every pooled session: a statement (a whole
    /// ingest's COPY included) that runs longer is cancelled by the server. The crate's
    /// operations on pooled sessions also give up themselves [`CANCEL_GRACE`] later,
    /// cancelling the statement and closing the session, for when the server does not
    /// answer at all. `None` leaves the server's setting and sets no deadline. Default:
    /// 5 minutes.
    ///
    /// # Panics
    ///
    /// If the timeout is zero or 24 days or more (the server takes milliseconds in 31 bits).
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        assert_server_millis(timeout);
        self.statement_timeout = timeout;
        self
    }

    /// The server's `lock_timeout` on every pooled session: a statement waiting longer for
    /// a lock on the node is cancelled. `None` leaves the server's setting. Default: 30 s.
    ///
    /// # Panics
    ///
    /// As [`PoolConfig::statement_timeout`].
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Option<Duration>) -> Self {
        assert_server_millis(timeout);
        self.lock_timeout = timeout;
        self
    }

    /// The maximum number of connections.
    pub fn get_max_size(&self) -> u32 {
        self.max_size
    }

    /// The statement timeout of pooled sessions.
    pub fn get_statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// The lock timeout of pooled sessions.
    pub fn get_lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout
    }
}

/// The server takes timeouts as milliseconds in a 31-bit integer; 0 means none.
fn assert_server_millis(timeout: Option<Duration>) {
    if let Some(t) = timeout {
        assert!(
            t.as_millis() >= 1 && t.as_millis() <= i32::MAX as u128,
            "a server timeout is between 1 ms and 24 days, not {t:?}"
        );
    }
}

/// A server timeout as the text `set_config` takes: milliseconds.
fn server_millis(timeout: Duration) -> String {
    timeout.as_millis().to_string()
}

/// Makes the pool's connections.
#[derive(Debug, Clone)]
pub(crate) struct NodeManager {
    config: NodeConfig,
    path: SearchPath,
    statement_timeout: Option<Duration>,
    lock_timeout: Option<Duration>,
}

/// How long a ping of a session idle close to the server's `idle_session_timeout` may
/// take before the session is dropped instead (a new one costs only a login).
const PING_TIMEOUT: Duration = Duration::from_secs(5);

impl NodeManager {
    /// A new session for the pool: connected, with the pool's timeouts set and the server's
    /// `idle_session_timeout` read, in one round trip.
    async fn open(&self, op: &'static str) -> Result<Pooled> {
        let session = Session::open_with(&self.config, op, self.path).await?;
        let statement = self.statement_timeout.map(server_millis);
        let lock = self.lock_timeout.map(server_millis);
        let row = session
            .query_one(op, &SESSION_SETUP, &[&statement, &lock])
            .await?;
        let idle: Option<String> = session.get(op, &row, "idle_session_timeout")?;
        let server_timeout = idle.as_deref().and_then(parse_server_duration);
        Ok(Pooled::new(session, server_timeout))
    }
}

impl bb8::ManageConnection for NodeManager {
    type Connection = Pooled;
    type Error = Error;

    async fn connect(&self) -> Result<Pooled> {
        self.open("open pooled connection").await
    }

    async fn is_valid(&self, pooled: &mut Pooled) -> Result<()> {
        const OP: &str = "check pooled connection";
        let session = &pooled.session;
        // No round trip as a rule: a closed connection is known locally once its driver
        // task ends.
        if session.client().is_closed() || session.is_poisoned() {
            return Err(Error::invalid(
                OP,
                Some(session.node()),
                "the connection is closed",
            ));
        }
        // One round trip for a session the server may be about to end as idle (see
        // `idle`): a statement sent as it does so would be lost.
        if let Some(idle) = pooled.idle_near_server_timeout() {
            let ping = PING;
            match tokio::time::timeout(PING_TIMEOUT, session.execute_utility(OP, &ping)).await {
                Ok(Ok(())) => {
                    tracing::debug!(node = %session.node(), ?idle, "pinged a session idle near the server's idle_session_timeout");
                }
                Ok(Err(e)) => {
                    tracing::debug!(node = %session.node(), ?idle, error = %e, "a session idle near the server's idle_session_timeout is gone");
                    return Err(e);
                }
                Err(_) => {
                    session.discard();
                    return Err(Error::Timeout {
                        op: OP,
                        node: session.node().to_owned(),
                        after: PING_TIMEOUT,
                    });
                }
            }
        }
        Ok(())
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.session.client().is_closed() || pooled.session.is_poisoned()
    }
}

/// A pool of connections to one node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NodePool {
    pool: bb8::Pool<NodeManager>,
    /// Opens connections where the pool's own callers need one at once (see
    /// [`NodePool::get`]), as bb8 does.
    opener: NodeManager,
    /// How long checkouts waited.
    waits: Arc<WaitHistogram>,
    /// The deadline of an operation on a pooled session.
    operation_deadline: Option<Duration>,
    /// One permit per connection the pool may hold, handed out first come, first served:
    /// see [`NodePool::get`].
    turns: Arc<Semaphore>,
    node: String,
    max_size: u32,
    checkout_timeout: Duration,
}

/// How busy a pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolState {
    /// Open connections.
    pub connections: u32,
    /// Open connections not in use.
    pub idle_connections: u32,
}

impl NodePool {
    /// A pool for `config`'s node. No connection is opened yet; a bad config is refused now.
    ///
    /// Its sessions keep the search path the server gives them, so the SQL you run on them
    /// resolves names as it would anywhere else.
    pub fn new(config: NodeConfig, settings: &PoolConfig) -> Result<NodePool> {
        Self::with_search_path(config, settings, SearchPath::AsConfigured)
    }

    /// A pool for the crate's own statements: its sessions put `pg_catalog` first in the
    /// search path.
    pub(crate) fn for_crate(config: NodeConfig, settings: &PoolConfig) -> Result<NodePool> {
        Self::with_search_path(config, settings, SearchPath::CatalogFirst)
    }

    fn with_search_path(
        config: NodeConfig,
        settings: &PoolConfig,
        path: SearchPath,
    ) -> Result<NodePool> {
        config.validate_for("create pool")?;
        let node = config.node_name();
        let opener = NodeManager {
            config: config.clone(),
            path,
            statement_timeout: settings.statement_timeout,
            lock_timeout: settings.lock_timeout,
        };
        let pool = bb8::Pool::builder()
            .max_size(settings.max_size)
            .min_idle(settings.min_idle)
            .connection_timeout(settings.checkout_timeout)
            .idle_timeout(settings.idle_timeout)
            .max_lifetime(settings.max_lifetime)
            .test_on_check_out(true)
            .retry_connection(false)
            .build_unchecked(opener.clone());
        Ok(NodePool {
            pool,
            opener,
            waits: Arc::default(),
            operation_deadline: settings.statement_timeout.map(|t| t + CANCEL_GRACE),
            turns: Arc::new(Semaphore::new(settings.max_size as usize)),
            node,
            max_size: settings.max_size,
            checkout_timeout: settings.checkout_timeout,
        })
    }

    /// A connection for `op`: [`Error::PoolTimeout`] when none frees up in time, or the
    /// connect error when a new one cannot be made.
    ///
    /// bb8 makes new connections in the background and, when they fail, only reports that
    /// the checkout timed out. So when no connection is idle and there is room, the
    /// connection is made here, where a node that is down or refuses the credentials says
    /// so at once; and a checkout that times out tries one connection itself, so the error
    /// is the real one.
    ///
    /// Callers are served in the order they asked. bb8 alone is not fair: a connection
    /// coming back wakes one waiter, but any caller arriving meanwhile may take it first, so
    /// under steady load a waiter can be overtaken again and again until its checkout times
    /// out while connections are handed out all the time. So a caller first takes a turn
    /// from a FIFO semaphore with one permit per connection the pool may hold, and keeps it
    /// while it holds the connection: at most `max_size` callers are ever inside bb8, each
    /// of them finds a connection, and everyone else waits in line. The checkout timeout
    /// covers both waits. The wait is recorded ([`NodePool::checkout_waits`]).
    pub(crate) async fn get(&self, op: &'static str) -> Result<PooledClient<'_>> {
        let asked = tokio::time::Instant::now();
        let deadline = asked + self.checkout_timeout;
        let turn = match tokio::time::timeout_at(deadline, self.turns.clone().acquire_owned()).await
        {
            Ok(Ok(turn)) => turn,
            // The semaphore is never closed; a timeout is the pool being busy.
            Ok(Err(_)) | Err(_) => {
                return Err(Error::PoolTimeout {
                    op,
                    node: self.node.clone(),
                    after: self.checkout_timeout,
                })
            }
        };
        let conn = self.get_in_turn(op, deadline).await?;
        self.waits.record(asked.elapsed());
        Ok(PooledClient {
            conn,
            _turn: turn,
            pool: self,
        })
    }

    /// [`NodePool::get`] once the caller holds a turn.
    async fn get_in_turn(
        &self,
        op: &'static str,
        deadline: tokio::time::Instant,
    ) -> Result<bb8::PooledConnection<'_, NodeManager>> {
        let state = self.pool.state();
        if state.idle_connections == 0 && state.connections < self.max_size {
            let session = self.opener.open(op).await?;
            // Another task may have filled the pool meanwhile; then this one is dropped.
            let _ = self.pool.add(session);
        }
        // While bb8 waits, watch for the pool having nothing alive and nothing being made
        // (its idle connections were dead and its own attempts failed): then connect here,
        // to report the node's real error now instead of a timeout later.
        let get = tokio::time::timeout_at(deadline, self.pool.get());
        tokio::pin!(get);
        let mut probed = false;
        loop {
            tokio::select! {
                result = &mut get => {
                    return match result {
                        Ok(Ok(conn)) => Ok(conn),
                        Ok(Err(bb8::RunError::User(e))) => Err(e),
                        Ok(Err(bb8::RunError::TimedOut)) | Err(_) => Err(Error::PoolTimeout {
                            op,
                            node: self.node.clone(),
                            after: self.checkout_timeout,
                        }),
                    };
                }
                () = tokio::time::sleep(Duration::from_millis(100)), if !probed => {
                    if self.pool.state().connections == 0 {
                        probed = true;
                        let session = self.opener.open(op).await?;
                        let _ = self.pool.add(session);
                    }
                }
            }
        }
    }

    /// A connection from the pool.
    pub async fn client(&self) -> Result<PooledClient<'_>> {
        self.get("check out connection").await
    }

    /// How long checkouts have waited for a connection since the pool was made: count,
    /// median, 99th percentile and maximum, from the call to the connection in hand.
    pub fn checkout_waits(&self) -> CheckoutWaits {
        self.waits.snapshot()
    }

    /// The deadline of an operation on a pooled session: the statement timeout plus
    /// [`CANCEL_GRACE`].
    pub(crate) fn operation_deadline(&self) -> Option<Duration> {
        self.operation_deadline
    }

    /// How many connections are open and idle.
    pub fn state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle_connections: state.idle_connections,
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }
}

/// A pooled connection; it goes back to the pool when dropped, unless it broke.
///
/// Its statement methods ([`PooledClient::query`], [`PooledClient::execute`],
/// [`PooledClient::batch_execute`], ...) are the driver's, with errors named after the node
/// and checked: a session on which the access node failed to connect (or log in) to a data
/// node never goes back to the pool (TimescaleDB 2.13 can crash such a session on its next
/// `distributed_exec`). It also derefs to the driver's [`Client`] for the rest (statements
/// run outside any transaction unless you start one); errors of methods reached that way
/// (`copy_in`, `query_raw`, a `&Client` passed on) are not checked. Every typed operation
/// runs on it too ([`crate::Executor`]), checked.
pub struct PooledClient<'a> {
    // Declared first, so dropped first: the connection is back in the pool before the turn
    // lets the next caller in.
    conn: bb8::PooledConnection<'a, NodeManager>,
    _turn: OwnedSemaphorePermit,
    pool: &'a NodePool,
}

impl PooledClient<'_> {
    pub(crate) fn session(&self) -> &Session {
        &self.conn.session
    }

    /// The server's `idle_session_timeout` for this session (`None`: none), as read when
    /// it opened.
    pub(crate) fn server_idle_timeout(&self) -> Option<Duration> {
        self.conn.server_timeout()
    }
}

impl Drop for PooledClient<'_> {
    fn drop(&mut self) {
        self.conn.handed_back();
    }
}

impl Deref for PooledClient<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.conn.session.client()
    }
}

impl std::fmt::Debug for PooledClient<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledClient")
            .field("node", &self.conn.session.node())
            .finish()
    }
}
