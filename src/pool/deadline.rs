//! Deadlines on pooled operations.
//!
//! A pooled session runs every statement under the pool's `statement_timeout` and
//! `lock_timeout` ([`super::PoolConfig::statement_timeout`]), so the server stops a statement
//! that runs or waits too long by itself and the session stays usable. That does not cover
//! a server that stopped answering, or a wait the server cannot see as its own (a COPY
//! blocked on a data node through the access node's connection to it), so the crate also
//! keeps a deadline of its own: the statement timeout plus [`CANCEL_GRACE`]. When it passes,
//! the server is asked to cancel the statement (in the background, over a new connection,
//! as `pg_cancel_backend` would), and the session is marked broken so the pool closes it
//! instead of handing it out again.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::PooledClient;
use crate::error::{Error, Result};
use crate::tls::Connector;

/// How long after the server's own statement timeout the crate gives up on a statement
/// itself: long enough for the server's cancellation to arrive first when it is alive.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How long a cancel request may take before it is given up.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

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
                self.abandon(op);
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
    pub(crate) fn abandon(&self, op: &'static str) {
        let session = self.session();
        session.poison();
        let node = session.node().to_owned();
        tracing::debug!(node = %node, op, "operation past its deadline: cancelling");
        let token = session.client().cancel_token();
        let connector = match Connector::for_config(self.pool.config(), op) {
            Ok(connector) => connector,
            Err(e) => {
                tracing::debug!(node = %node, error = %e, "cannot cancel: no TLS connector");
                return;
            }
        };
        tokio::spawn(async move {
            let cancel = async {
                match connector {
                    Connector::Plain(tls) => token.cancel_query(tls).await,
                    #[cfg(feature = "rustls")]
                    Connector::Rustls(tls) => token.cancel_query(tls).await,
                }
            };
            match tokio::time::timeout(CANCEL_TIMEOUT, cancel).await {
                Ok(Ok(())) => tracing::debug!(node = %node, "cancel request sent"),
                Ok(Err(e)) => tracing::debug!(node = %node, error = %e, "cancel request failed"),
                Err(_) => tracing::debug!(node = %node, "cancel request timed out"),
            }
        });
    }
}
