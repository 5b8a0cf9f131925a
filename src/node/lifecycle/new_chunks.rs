//! Blocking and allowing new chunks on a data node: `block_new_chunks`, `allow_new_chunks`.

use super::{count, data_node_name, node_session, single, table_name};
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::executor::Executor;
use crate::server::Feature;
use crate::sql::hypertable::TableName;
use crate::sql::lifecycle::{ALLOW_NEW_CHUNKS, BLOCK_NEW_CHUNKS};
use crate::table_name::IntoTableName;

/// Stop creating new chunks on a data node, for one hypertable or all of them, with
/// `timescaledb_experimental.block_new_chunks` (TimescaleDB 2.4+). Existing chunks stay.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::lifecycle::{AllowNewChunks, BlockNewChunks};
///
/// let blocked = BlockNewChunks::new("dn1").run(an).await?; // every hypertable
/// // ... drain dn1 ...
/// let allowed = AllowNewChunks::new("dn1").run(an).await?;
/// println!("blocked on {blocked}, allowed again on {allowed} hypertables");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct BlockNewChunks {
    name: String,
    /// The table, or why the text given is not a table name.
    hypertable: Option<std::result::Result<TableName, String>>,
    force: bool,
}

impl BlockNewChunks {
    /// Block new chunks on the data node called `name`, for every hypertable it is attached
    /// to (see [`BlockNewChunks::hypertable`] for one).
    pub fn new(name: impl Into<String>) -> Self {
        BlockNewChunks {
            name: name.into(),
            hypertable: None,
            force: false,
        }
    }

    /// Block them for this hypertable only.
    pub fn hypertable(mut self, table: impl IntoTableName) -> Self {
        self.hypertable = Some(table.read_table_name());
        self
    }

    /// Block even when too few data nodes remain for the replication factor (inserts that
    /// need a new chunk then fail while no node takes it).
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Blocks new chunks; returns the number of hypertables changed (one already blocked
    /// counts 0).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has); [`Error::Database`] with
    /// SQLSTATE TS170 when too few data nodes would remain, without `force`;
    /// [`Error::UnsupportedServer`] before TimescaleDB 2.4.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<u32> {
        const OP: &str = "block new chunks";
        let node = data_node_name(&self.name, OP, &on.node_name())?;
        let (lease, _) = node_session(on, OP, Feature::ExperimentalChunkOps, &node).await?;
        let session = lease.session();
        let table = match self.hypertable {
            Some(table) => Some(table_name(table, OP, &on.node_name())?.regclass_text()),
            None => None,
        };
        let rows = session
            .query_multinode(
                OP,
                &BLOCK_NEW_CHUNKS,
                &[&node.as_str(), &table, &self.force],
            )
            .await?;
        let blocked = count(single(session, OP, &rows, "affected")?);
        tracing::debug!(node = %node, blocked, "new chunks blocked");
        Ok(blocked)
    }
}

/// Let a data node take new chunks again, for one hypertable or all of them, with
/// `timescaledb_experimental.allow_new_chunks` (TimescaleDB 2.4+). See [`BlockNewChunks`].
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct AllowNewChunks {
    name: String,
    /// The table, or why the text given is not a table name.
    hypertable: Option<std::result::Result<TableName, String>>,
}

impl AllowNewChunks {
    /// Allow new chunks on the data node called `name`, for every hypertable it is attached
    /// to (see [`AllowNewChunks::hypertable`] for one).
    pub fn new(name: impl Into<String>) -> Self {
        AllowNewChunks {
            name: name.into(),
            hypertable: None,
        }
    }

    /// Allow them for this hypertable only.
    pub fn hypertable(mut self, table: impl IntoTableName) -> Self {
        self.hypertable = Some(table.read_table_name());
        self
    }

    /// Allows new chunks; returns the number of hypertables concerned.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has);
    /// [`Error::UnsupportedServer`] before TimescaleDB 2.4.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<u32> {
        const OP: &str = "allow new chunks";
        let node = data_node_name(&self.name, OP, &on.node_name())?;
        let (lease, _) = node_session(on, OP, Feature::ExperimentalChunkOps, &node).await?;
        let session = lease.session();
        let table = match self.hypertable {
            Some(table) => Some(table_name(table, OP, &on.node_name())?.regclass_text()),
            None => None,
        };
        let rows = session
            .query_multinode(OP, &ALLOW_NEW_CHUNKS, &[&node.as_str(), &table])
            .await?;
        let allowed = count(single(session, OP, &rows, "affected")?);
        tracing::debug!(node = %node, allowed, "new chunks allowed");
        Ok(allowed)
    }
}
