//! A distributed hypertable's partitioning for new chunks: the chunk interval of its time
//! dimension.
//!
//! Not the number of space partitions: TimescaleDB passes `set_number_partitions` on to
//! the data nodes as a call with untyped literal arguments, which a look-alike function in
//! the extension's schema on a data node would take over.

use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::node::ChunkInterval;
use crate::server::Feature;
use crate::sql::hypertable::TableName;
use crate::sql::lifecycle::set_chunk_time_interval;
use crate::table_name::IntoTableName;

/// The chunk interval of a hypertable's time dimension for new chunks, to set with
/// `set_chunk_time_interval`; existing chunks keep theirs. Setting the interval it has is a
/// no-op, so running it again converges.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use std::time::Duration;
/// use timescaledb_multinode::lifecycle::{ChunkInterval, SetChunkInterval};
///
/// let day = ChunkInterval::Time(Duration::from_secs(86_400));
/// SetChunkInterval::new("sensor_data", day).run(an).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct SetChunkInterval {
    /// The table, or why the text given is not a table name.
    table: std::result::Result<TableName, String>,
    interval: ChunkInterval,
}

impl SetChunkInterval {
    /// Set the chunk interval of hypertable `table` (a [`TableName`](crate::TableName) or
    /// text read as one) to `interval`.
    pub fn new(table: impl IntoTableName, interval: ChunkInterval) -> Self {
        SetChunkInterval {
            table: table.read_table_name(),
            interval,
        }
    }

    /// Sets the interval. Runs on any [`Executor`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for text that is not a table name or
    /// an interval of zero (or one beyond `i64` microseconds); [`Error::Database`] for the
    /// server's refusals: an interval of the wrong kind for the time column (a `Time`
    /// interval on an integer column, say), TS001 not a hypertable, 42P01 no such table.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<()> {
        const OP: &str = "set chunk interval";
        let an_name = on.node_name();
        let table = super::table_name(self.table, OP, &an_name)?;
        let interval = self.interval;
        let units = interval_units(interval).ok_or_else(|| {
            Error::invalid(
                OP,
                Some(&an_name),
                format!("the chunk interval must be positive and fit in 64 bits, not {interval:?}"),
            )
        })?;
        let lease = on.lease(OP, Purpose::Admin).await?;
        let session = lease.session();
        let schemas = lease.require(OP, Feature::MultiNode).await?;
        session
            .execute_multinode(
                OP,
                &set_chunk_time_interval(&schemas),
                &[&table.regclass_text(), &units],
            )
            .await?;
        tracing::debug!(table = %table.name(), units, "chunk interval set");
        Ok(())
    }
}

/// `interval` in the time column's units as TimescaleDB stores them (microseconds for a
/// `Time` interval); `None` for zero or what does not fit.
pub(crate) fn interval_units(interval: ChunkInterval) -> Option<i64> {
    match interval {
        ChunkInterval::Time(d) => i64::try_from(d.as_micros()).ok(),
        ChunkInterval::Integer(n) => Some(n),
    }
    .filter(|units| *units > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn intervals_are_in_the_catalogs_units() {
        let day = ChunkInterval::Time(Duration::from_secs(86_400));
        assert_eq!(interval_units(day), Some(86_400_000_000));
        assert_eq!(interval_units(ChunkInterval::Integer(1000)), Some(1000));
        assert_eq!(interval_units(ChunkInterval::Integer(0)), None);
        assert_eq!(interval_units(ChunkInterval::Time(Duration::ZERO)), None);
        assert_eq!(interval_units(ChunkInterval::Time(Duration::MAX)), None);
    }
}
