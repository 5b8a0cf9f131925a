//! The lock [`Cluster::apply`] holds on the access node while it plans and runs steps, so
//! that two applies of one cluster (two operators, two CI jobs) never interleave: the
//! second waits, then plans and finds the work done.
//!
//! It is a session-level advisory lock ([`APPLY_LOCK_KEY`]) in the access node's
//! database, taken on one of the sessions the cluster keeps, over which the plan under it
//! then reads the access node (no login more: a converged apply pays two round trips for
//! it), and given back at the end. An apply that ends any other
//! way (an error, a panic, its future dropped) gives the session up instead of back to the
//! pool, so the server releases the lock as the session closes. Applies through one
//! `Cluster` (and its clones) also wait for each other in the process, so a waiting apply
//! never holds a session the running one needs. A server that ends idle sessions
//! (`idle_session_timeout`) would end the lock's session while steps run on others, so it
//! is pinged every third of that timeout while the plan and each step run; should it end
//! anyway (a restart, a DBA), the apply stops before its next step. Rotation and heal take
//! the same lock. A wait that runs out ([`Cluster::apply_lock_wait`]) names the session
//! that holds the lock, as `pg_locks` and `pg_stat_activity` show it to the role.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Cluster;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::pool::PooledClient;
use crate::sql::session::{APPLY_LOCK, APPLY_LOCK_HOLDER, APPLY_UNLOCK, PING};

/// The key of the advisory lock [`Cluster::apply`] holds on the access node while it plans
/// and runs steps (`pg_advisory_lock(APPLY_LOCK_KEY)` in the access node's database; the
/// bytes of `tsmnaply`). A script of your own that changes the cluster can take it too, to
/// keep out of an apply's way.
pub const APPLY_LOCK_KEY: i64 = 0x7473_6d6e_6170_6c79;

/// How long [`Cluster::apply`] waits by default for another apply of the same access node to
/// finish before it gives up with [`Error::ApplyLockHeld`] (see
/// [`Cluster::apply_lock_wait`]).
pub const APPLY_LOCK_WAIT: Duration = Duration::from_secs(120);

const APPLY: &str = "apply cluster";
const OP: &str = "wait for the apply lock";

/// The apply lock, held. [`ApplyLock::release`] gives it back; dropped otherwise, its
/// session is given up, which releases it.
pub(crate) struct ApplyLock<'a> {
    client: PooledClient<'a>,
    _in_process: tokio::sync::MutexGuard<'a, ()>,
    /// The server's `idle_session_timeout` for the lock's session.
    idle_timeout: Option<Duration>,
    /// When the lock's session last ran a statement.
    last_used: Mutex<Instant>,
    released: bool,
}

impl ApplyLock<'_> {
    /// The session holding the lock (the plan under it reads the access node over it).
    pub(crate) fn session(&self) -> &Session {
        self.client.session()
    }

    /// Whether the lock still holds, checked before each step: its session has not ended;
    /// pinged first when it has waited a third of the server's `idle_session_timeout`.
    pub(crate) async fn check(&self) -> Result<()> {
        self.ping_if_due().await;
        let session = self.client.session();
        if session.client().is_closed() {
            return Err(Error::invalid(
                APPLY,
                Some(session.node()),
                "the session holding the apply lock ended (a restart, say); stopped before \
                 the next step so that no other apply interleaves: apply again",
            ));
        }
        Ok(())
    }

    /// Runs `work` (a step, on other sessions) while keeping the lock's session from being
    /// ended as idle: under an `idle_session_timeout`, it is pinged every third of it until
    /// `work` is done, so that a step longer than the timeout does not lose the lock.
    /// `work` goes on the heap first (a step's future is large; the caller's future holds
    /// only this one).
    pub(crate) fn during<'w, F>(&'w self, work: F) -> impl Future<Output = F::Output> + 'w
    where
        F: Future + 'w,
    {
        let work = Box::pin(work);
        async move {
            let Some(timeout) = self.idle_timeout else {
                return work.await;
            };
            let every = (timeout / 3).max(Duration::from_millis(50));
            let keepalive = async {
                loop {
                    tokio::time::sleep(every).await;
                    self.ping_if_due().await;
                }
            };
            tokio::select! {
                out = work => out,
                never = keepalive => never,
            }
        }
    }

    /// Pings the lock's session when it has waited a third of the server's
    /// `idle_session_timeout` (a failure shows as the session closed).
    async fn ping_if_due(&self) {
        let session = self.client.session();
        let due = self.idle_timeout.is_some_and(|timeout| {
            self.last_used
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .elapsed()
                >= timeout / 3
        });
        if due && !session.client().is_closed() {
            let _ = session.execute_utility(APPLY, &PING).await;
            *self
                .last_used
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        }
    }

    /// Gives the lock back, keeping the session for the pool (given up instead when the
    /// unlock fails).
    pub(crate) async fn release(mut self) {
        let session = self.client.session();
        if session
            .query_one(APPLY, &APPLY_UNLOCK, &[&APPLY_LOCK_KEY])
            .await
            .is_ok()
        {
            self.released = true;
        }
    }
}

impl Drop for ApplyLock<'_> {
    fn drop(&mut self) {
        if !self.released {
            // Closed, not pooled: the server releases the lock with the session.
            self.client.session().discard();
        }
    }
}

impl Cluster {
    /// Waits (up to [`Cluster::apply_lock_wait`]) for and takes the apply lock on the access
    /// node.
    pub(crate) async fn apply_lock(&self) -> Result<ApplyLock<'_>> {
        let node = self.access_node.node_name();
        let wait = self.apply_lock_wait;
        let deadline = Deadline::after(wait);
        let Ok(in_process) = tokio::time::timeout_at(deadline.at, self.pools.apply.lock()).await
        else {
            return Err(Error::ApplyLockHeld {
                op: OP,
                node,
                holder: "another apply of this cluster in this process".to_owned(),
                after: wait,
            });
        };
        let client = Deadline::after(self.node_deadline)
            .run(APPLY, &node, self.access_node_client(APPLY))
            .await?;
        let session = client.session();
        let mut pause = Duration::from_millis(10);
        let mut told = false;
        loop {
            // Each try is one round trip, bounded as any; the wait bounds only the tries.
            let row = session
                .bounded(
                    OP,
                    &node,
                    Deadline::after(self.node_deadline),
                    session.query_one(OP, &APPLY_LOCK, &[&APPLY_LOCK_KEY]),
                )
                .await?;
            if session.get(OP, &row, "locked")? {
                break;
            }
            if tokio::time::Instant::now() + pause >= deadline.at {
                let holder = holder(session, self.node_deadline).await;
                return Err(Error::ApplyLockHeld {
                    op: OP,
                    node,
                    holder,
                    after: wait,
                });
            }
            if !told {
                told = true;
                let holder = holder(session, self.node_deadline).await;
                tracing::info!(
                    node = %node,
                    holder = %holder,
                    wait_secs = wait.as_secs_f64(),
                    "waiting for the apply lock another apply holds"
                );
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
        tracing::debug!(node = %node, "apply lock taken");
        let idle_timeout = client.server_idle_timeout();
        Ok(ApplyLock {
            client,
            _in_process: in_process,
            idle_timeout,
            last_used: Mutex::new(Instant::now()),
            released: false,
        })
    }
}

/// Who holds the apply lock, read over `session` (within `deadline`), as far as its role
/// may see: `pid 4711 (user "ops", application "tsmn", from 10.0.0.5, since
/// 2026-11-30T02:27:12Z)`; `a session that just let it go` when nobody does any more, and
/// `a session this role cannot read` when it cannot be read.
async fn holder(session: &Session, deadline: Duration) -> String {
    let node = session.node().to_owned();
    let high = (APPLY_LOCK_KEY as u64 >> 32) as u32;
    let low = (APPLY_LOCK_KEY as u64 & 0xffff_ffff) as u32;
    let read = session
        .bounded(
            OP,
            &node,
            Deadline::after(deadline),
            session.query_opt(OP, &APPLY_LOCK_HOLDER, &[&high, &low]),
        )
        .await;
    let row = match read {
        Ok(Some(row)) => row,
        Ok(None) => return "a session that just let it go".to_owned(),
        Err(_) => return "a session this role cannot read".to_owned(),
    };
    let text = |column: &str| {
        session
            .get::<Option<String>>(OP, &row, column)
            .ok()
            .flatten()
    };
    let pid: i32 = session.get(OP, &row, "pid").unwrap_or_default();
    let mut about = Vec::new();
    if let Some(user) = text("user_name") {
        about.push(format!("user {user:?}"));
    }
    if let Some(app) = text("application_name").filter(|a| !a.is_empty()) {
        about.push(format!("application {app:?}"));
    }
    if let Some(addr) = text("client_addr") {
        about.push(format!("from {addr}"));
    }
    if let Some(since) = text("since") {
        about.push(format!("since {since}"));
    }
    if about.is_empty() {
        format!("pid {pid}")
    } else {
        format!("pid {pid} ({})", about.join(", "))
    }
}
