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
use tokio_postgres::types::ToSql;

use super::access_node::AccessNode;
use crate::error::{Error, Result};
use crate::sql::hypertable::TableName;
use crate::table_name::IntoTableName;

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
    if e.is_stale_data_node_connection() || e.ended_as_idle() || matches!(e, Error::Deadline { .. })
    {
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
    /// Ingests one batch of `rows` into `columns` of `table` (see [`AccessNode::ingest`]),
    /// each row one value per column. When an attempt fails in a way that wrote nothing and
    /// may pass (a stale data-node connection, a deadlock, a lock or statement timeout, the
    /// crate's deadline before the COPY was finished), the batch runs again on a fresh
    /// session, up to [`INGEST_RETRIES`] more times. No row is ever written twice: an
    /// attempt whose outcome is unknown (the connection lost while committing) is not
    /// retried.
    ///
    /// ```no_run
    /// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
    /// use timescaledb_multinode::tokio_postgres::types::ToSql;
    /// use timescaledb_multinode::{Ident, TableName};
    ///
    /// let table = TableName::new(Ident::new("sensor_data")?);
    /// let readings: Vec<(i32, f64)> = (0..1000).map(|i| (i % 10, 20.0)).collect();
    /// let rows: Vec<[&(dyn ToSql + Sync); 2]> =
    ///     readings.iter().map(|(id, t)| [id as _, t as _]).collect();
    /// let done = an
    ///     .ingest_with_retry(&table, &["sensor_id", "temperature"], &rows)
    ///     .await?;
    /// assert_eq!(done.rows, 1000);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`AccessNode::ingest`], [`Ingest::write`](crate::data::Ingest::write) and
    /// [`Ingest::finish`](crate::data::Ingest::finish); the last attempt's error when every
    /// attempt failed.
    pub async fn ingest_with_retry<'v, R>(
        &self,
        table: impl IntoTableName,
        columns: &[&str],
        rows: &[R],
    ) -> Result<IngestedBatch>
    where
        R: AsRef<[&'v (dyn ToSql + Sync)]> + Sync,
    {
        let table = &table.into_table_name("ingest", Some(&self.name()))?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(table, columns, rows).await {
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

    async fn attempt<'v, R>(
        &self,
        table: &TableName,
        columns: &[&str],
        rows: &[R],
    ) -> std::result::Result<u64, Failure>
    where
        R: AsRef<[&'v (dyn ToSql + Sync)]> + Sync,
    {
        let mut ingest = self
            .ingest(table, columns)
            .await
            .map_err(Failure::WroteNothing)?;
        // Until the COPY is finished, nothing is written whatever fails.
        for row in rows {
            ingest
                .write(row.as_ref())
                .await
                .map_err(Failure::WroteNothing)?;
        }
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
