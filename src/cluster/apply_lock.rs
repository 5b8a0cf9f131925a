//! The lock [`Cluster::apply`] holds on the access node while it runs steps, so that two
//! applies of one cluster (two operators, two CI jobs) never interleave: the second waits,
//! then plans again and finds the work done.
//!
//! It is a session-level advisory lock ([`APPLY_LOCK_KEY`]) in the access node's database,
//! taken on a session of its own: whatever happens to the sessions that run the steps (one
//! that timed out is replaced), the lock stays; and when the apply ends, however it ends,
//! that session closes and the server releases the lock. A server that ends idle sessions
//! (`idle_session_timeout`) would end it while the steps run, so it is pinged meanwhile; if
//! it ends anyway (a restart, a DBA), the apply stops before its next step.

use std::sync::Arc;
use std::time::Duration;

use super::Cluster;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::pool::parse_server_duration;
use crate::sql::session::{APPLY_LOCK, PING};

/// The key of the advisory lock [`Cluster::apply`] holds on the access node while it runs
/// steps (`pg_advisory_lock(APPLY_LOCK_KEY)` in the access node's database; the bytes of
/// `tsmnaply`). A script of your own that changes the cluster can take it too, to keep out
/// of an apply's way.
pub const APPLY_LOCK_KEY: i64 = 0x7473_6d6e_6170_6c79;

/// How long [`Cluster::apply`] waits for another apply of the same access node to finish
/// before it gives up with [`Error::Timeout`].
pub const APPLY_LOCK_WAIT: Duration = Duration::from_secs(120);

const OP: &str = "apply cluster: wait for the apply lock another apply holds";

/// The apply lock, held: released when dropped (its session closes).
pub(crate) struct ApplyLock {
    session: Arc<Session>,
    node: String,
    keepalive: Option<tokio::task::JoinHandle<()>>,
}

impl ApplyLock {
    /// Whether the lock still holds: its session has not ended. Checked before each step.
    pub(crate) fn check(&self) -> Result<()> {
        if self.session.client().is_closed() {
            return Err(Error::invalid(
                "apply cluster",
                Some(&self.node),
                "the session holding the apply lock ended (a restart, say); stopped before \
                 the next step so that no other apply interleaves: apply again",
            ));
        }
        Ok(())
    }
}

impl Drop for ApplyLock {
    fn drop(&mut self) {
        if let Some(keepalive) = self.keepalive.take() {
            keepalive.abort();
        }
    }
}

impl Cluster {
    /// Waits (up to [`APPLY_LOCK_WAIT`]) for and takes the apply lock on the access node.
    pub(crate) async fn apply_lock(&self) -> Result<ApplyLock> {
        let node = self.access_node.node_name();
        let session = Deadline::after(self.node_deadline)
            .run(OP, &node, Session::open(&self.access_node, OP))
            .await?;
        let row = session
            .bounded(
                OP,
                &node,
                Deadline::after(APPLY_LOCK_WAIT),
                session.query_one(OP, &APPLY_LOCK, &[&APPLY_LOCK_KEY]),
            )
            .await?;
        let idle: Option<String> = session.get(OP, &row, "idle_session_timeout")?;
        let session = Arc::new(session);
        let keepalive = idle
            .as_deref()
            .and_then(parse_server_duration)
            .map(|timeout| {
                let session = Arc::clone(&session);
                let every = (timeout / 3).max(Duration::from_millis(100));
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(every).await;
                        let ping = PING;
                        if session.execute_utility(OP, &ping).await.is_err() {
                            break;
                        }
                    }
                })
            });
        tracing::debug!(node = %node, "apply lock taken");
        Ok(ApplyLock {
            session,
            node,
            keepalive,
        })
    }
}
