//! Deadlines on pooled operations.
//!
//! A pooled session runs every statement under the pool's `statement_timeout` and
//! `lock_timeout` ([`super::PoolConfig::statement_timeout`]), so the server stops a statement
//! that runs or waits too long by itself and the session stays usable. That does not cover
//! a server that stopped answering, or a wait the server cannot see as its own (a COPY
//! blocked on a data node through the access node's connection to it), so the crate also
//! keeps a deadline of its own: the statement timeout plus [`CANCEL_GRACE`]. When it passes,
//! the server is asked to cancel the statement (over a new connection, as
//! `pg_cancel_backend` would; [`crate::connect::Session::cancel`]), and the session is
//! marked broken so the pool closes it instead of handing it out again.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::PooledClient;
use crate::error::{Error, Result};

/// How long after the server's own statement timeout the crate gives up on a statement
/// itself: long enough for the server's cancellation to arrive first when it is alive.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

impl PooledClient<'_> {
    /// When an operation started now must be over, if the pool sets a deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.pool
            .operation_deadline()
            .map(|after| Instant::now() + after)
    }

    /// Runs `work` (statements on this client) until `deadline`; past it, cancels the
    /// statement on the server, marks the session broken and fails with
    /// [`Error::Deadline`].
    pub(crate) async fn until<T>(
        &self,
        op: &'static str,
        deadline: Option<Instant>,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(deadline) = deadline else {
            return work.await;
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(result) => result,
            Err(_) => {
                self.abandon(op).await;
                Err(Error::Deadline {
                    op,
                    node: self.session().node().to_owned(),
                    after: self.pool.operation_deadline().unwrap_or_default(),
                })
            }
        }
    }

    /// Runs `work` within the pool's operation deadline (see [`PooledClient::until`]).
    pub(crate) async fn within<T>(
        &self,
        op: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.until(op, self.deadline(), work).await
    }

    /// Gives up on the statement running on this session: the server is asked to cancel
    /// it, and the session never goes back to the pool.
    pub(crate) async fn abandon(&self, op: &'static str) {
        let session = self.session();
        tracing::debug!(node = %session.node(), op, "operation past its deadline: cancelling");
        session.discard();
        session.cancel().await;
    }
}
