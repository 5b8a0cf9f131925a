//! The replication factor of a distributed hypertable: `set_replication_factor`.

use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::server::Feature;
use crate::sql::hypertable::TableName;
use crate::sql::lifecycle::set_replication_factor;
use crate::table_name::IntoTableName;

/// How many data nodes hold each new chunk of a distributed hypertable, to set with
/// `set_replication_factor`. Existing chunks are not copied: raising the factor leaves them
/// under-replicated (the server warns). Setting the factor it has is a no-op, so running it
/// again converges.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::lifecycle::SetReplicationFactor;
///
/// SetReplicationFactor::new("sensor_data", 2).run(an).await?;
/// SetReplicationFactor::new("metrics.cpu", 2).run(an).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct SetReplicationFactor {
    /// The table, or why the text given is not a table name.
    table: std::result::Result<TableName, String>,
    factor: i32,
}

impl SetReplicationFactor {
    /// Set the replication factor of distributed hypertable `table` (a
    /// [`TableName`](crate::TableName) or text read as one) to `factor`.
    pub fn new(table: impl IntoTableName, factor: i32) -> Self {
        SetReplicationFactor {
            table: table.read_table_name(),
            factor,
        }
    }

    /// Sets the factor. Runs on any [`Executor`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for text that is not a table name or
    /// a factor outside 1 to 32767; [`Error::Database`] for the server's refusals: TS170
    /// more than the attached data nodes, TS001 not a hypertable, 42P01 no such table.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<()> {
        const OP: &str = "set replication factor";
        let an_name = on.node_name();
        let table = super::table_name(self.table, OP, &an_name)?;
        let n = self.factor;
        if !(1..=32767).contains(&n) {
            return Err(Error::invalid(
                OP,
                Some(&an_name),
                format!("replication factor must be 1 to 32767, not {n}"),
            ));
        }
        let lease = on.lease(OP, Purpose::Admin).await?;
        let session = lease.session();
        let schemas = lease.require(OP, Feature::MultiNode).await?;
        session
            .execute_multinode(
                OP,
                &set_replication_factor(&schemas),
                &[&table.regclass_text(), &n],
            )
            .await?;
        tracing::debug!(table = %table.name(), n, "replication factor set");
        Ok(())
    }
}
