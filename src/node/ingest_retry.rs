//! Ingest that runs a batch again when, and only when, the failure is known to have written
//! nothing.
//!
//! A COPY is one statement: when the server reports an error for it, it was rolled back
//! whole, and running the batch again cannot write a row twice. Some such errors pass by
//! themselves — a stale access-node connection to a data node that restarted, a deadlock
//! or lock timeout between concurrent COPYs creating chunks on several data nodes, a
//! statement timeout — and are worth another attempt on a fresh session. A failure without
//! a server error while the COPY was being committed (the connection lost, the crate's own
//! deadline passed) leaves the outcome unknown: it is never retried.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::access_node::AccessNode;
use super::ingest::Ingest;
use crate::error::{Error, Result};
use crate::sql::hypertable::TableName;

/// How many times [`AccessNode::ingest_with_retry`] runs a batch again after a failure
/// that wrote nothing.
pub const INGEST_RETRIES: u32 = 3;

/// What [`AccessNode::ingest_with_retry`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestedBatch {
    /// Rows the server took (once).
    pub rows: u64,
    /// Attempts made: 1 when the first one succeeded.
    pub attempts: u32,
}

/// How an attempt failed.
enum Failure {
    /// Nothing was written: the batch may run again.
    WroteNothing(Error),
    /// Whether the rows were written is unknown.
    Unknown(Error),
}

/// Whether a failure that wrote nothing is worth another attempt.
fn passes(e: &Error) -> bool {
    if e.is_stale_data_node_connection() || matches!(e, Error::Deadline { .. }) {
        return true;
    }
    e.code().is_some_and(|code| {
        [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::QUERY_CANCELED,
        ]
        .contains(code)
    })
}

impl AccessNode {
    /// Ingests one batch into `columns` of `table` (see [`AccessNode::ingest`]): `write`
    /// writes the batch's rows into the [`Ingest`] it is given, and the COPY is finished.
    /// When an attempt fails in a way that wrote nothing and may pass (a stale data-node
    /// connection, a deadlock, a lock or statement timeout), the batch runs again on a fresh
    /// session, up to [`INGEST_RETRIES`] more times, so `write` must write the same rows
    /// each time. No row is ever written twice: an attempt whose outcome is unknown
    /// (the connection lost while committing) is not retried.
    ///
    /// ```no_run
    /// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
    /// use timescaledb_multinode::{Ident, TableName};
    ///
    /// let table = TableName::new(Ident::new("sensor_data")?);
    /// let batch: Vec<(i32, f64)> = (0..1000).map(|i| (i % 10, 20.0)).collect();
    /// let done = an
    ///     .ingest_with_retry(&table, &["sensor_id", "temperature"], async |ingest| {
    ///         for (id, t) in &batch {
    ///             ingest.write(&[id, t]).await?;
    ///         }
    ///         Ok(())
    ///     })
    ///     .await?;
    /// assert_eq!(done.rows, 1000);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`AccessNode::ingest`] and [`Ingest::finish`]; the last attempt's error when all
    /// failed; an error `write` returns, at once (retried only if it is one of the above).
    pub async fn ingest_with_retry<F>(
        &self,
        table: &TableName,
        columns: &[&str],
        mut write: F,
    ) -> Result<IngestedBatch>
    where
        F: AsyncFnMut(&mut Ingest<'_>) -> Result<()>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(table, columns, &mut write).await {
                Ok(rows) => return Ok(IngestedBatch { rows, attempts }),
                Err(Failure::WroteNothing(e)) if passes(&e) && attempts <= INGEST_RETRIES => {
                    tracing::debug!(
                        node = ?e.node(),
                        attempt = attempts,
                        error = %e,
                        "ingest wrote nothing; running the batch again"
                    );
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempts))).await;
                }
                Err(Failure::WroteNothing(e) | Failure::Unknown(e)) => return Err(e),
            }
        }
    }

    async fn attempt<F>(
        &self,
        table: &TableName,
        columns: &[&str],
        write: &mut F,
    ) -> std::result::Result<u64, Failure>
    where
        F: AsyncFnMut(&mut Ingest<'_>) -> Result<()>,
    {
        let mut ingest = self
            .ingest(table, columns)
            .await
            .map_err(Failure::WroteNothing)?;
        // Until the COPY is finished, nothing is written whatever fails.
        write(&mut ingest).await.map_err(Failure::WroteNothing)?;
        ingest.finish().await.map_err(|e| {
            if e.code().is_some() {
                // The server reported the COPY failed: rolled back.
                Failure::WroteNothing(e)
            } else {
                Failure::Unknown(e)
            }
        })
    }
}
