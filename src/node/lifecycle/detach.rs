//! Detaching a data node from one hypertable or all of them: `detach_data_node`.

use tokio_postgres::types::ToSql;

use super::{count, data_node_name, node_session, single, table_name, Repartition};
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::executor::Executor;
use crate::server::Feature;
use crate::sql::hypertable::TableName;
use crate::sql::lifecycle::detach_data_node;
use crate::table_name::IntoTableName;

/// A data node to detach from one hypertable, or from all of them, with `detach_data_node`.
///
/// Detaching keeps the node registered and its user mappings. It refuses when the node holds
/// the only copy of some chunks, even with [`DetachDataNode::force`]; when the data is
/// replicated elsewhere it needs `force` and leaves the hypertable under-replicated. The
/// member table stays on the data node unless [`DetachDataNode::drop_remote_data`] is set,
/// and while it stays, attaching the node to the hypertable again fails (`42P07 relation
/// already exists`, naming the data node).
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::lifecycle::DetachDataNode;
///
/// let detached = DetachDataNode::new("dn2")
///     .hypertable("sensor_data")
///     .drop_remote_data()
///     .run(an)
///     .await?;
/// assert_eq!(detached, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DetachDataNode {
    name: String,
    /// The table, or why the text given is not a table name.
    hypertable: Option<std::result::Result<TableName, String>>,
    idempotent: bool,
    force: bool,
    repartition: Repartition,
    drop_remote_data: bool,
}

impl DetachDataNode {
    /// Detach the data node called `name` from every hypertable it is attached to (see
    /// [`DetachDataNode::hypertable`] for one).
    pub fn new(name: impl Into<String>) -> Self {
        DetachDataNode {
            name: name.into(),
            hypertable: None,
            idempotent: false,
            force: false,
            repartition: Repartition::default(),
            drop_remote_data: false,
        }
    }

    /// Detach it from this hypertable only.
    pub fn hypertable(mut self, table: impl IntoTableName) -> Self {
        self.hypertable = Some(table.read_table_name());
        self
    }

    /// Succeed, detaching nothing (the count is 0), when the node is not attached to the
    /// hypertable (`if_attached => true`). Without it, that is the server's refusal (TS173).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Detach even when the node holds data that is replicated elsewhere (the hypertable is
    /// then under-replicated). Never overrides "would lose data".
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// What happens to the space partitions. Default: [`Repartition::Adjust`].
    pub fn repartition(mut self, repartition: Repartition) -> Self {
        self.repartition = repartition;
        self
    }

    /// Drop the hypertable's member table on the data node too (TimescaleDB 2.8+), so the
    /// node can be attached to it again.
    pub fn drop_remote_data(mut self) -> Self {
        self.drop_remote_data = true;
        self
    }

    /// Detaches the node; returns the number of hypertables it was detached from.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has);
    /// [`Error::WouldLoseData`] naming the data node when it holds the only copy of some
    /// chunks; [`Error::Database`] for other refusals (TS504: holds replicated data, needs
    /// `force`; TS173: not attached, without [`DetachDataNode::idempotent`]; 42P01: no such
    /// table);
    /// [`Error::UnsupportedServer`] for `drop_remote_data` before TimescaleDB 2.8.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<u32> {
        const OP: &str = "detach data node";
        let node = data_node_name(&self.name, OP, &on.node_name())?;
        let feature = if self.drop_remote_data {
            Feature::DetachDropRemoteData
        } else {
            Feature::MultiNode
        };
        let (lease, schemas) = node_session(on, OP, feature, &node).await?;
        let session = lease.session();
        let table = match self.hypertable {
            Some(table) => Some(table_name(table, OP, &on.node_name())?.regclass_text()),
            None => None,
        };
        let repartition = self.repartition.as_bool();
        let node_name = node.as_str();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &node_name,
            &table,
            &self.idempotent,
            &self.force,
            &repartition,
        ];
        if self.drop_remote_data {
            params.push(&self.drop_remote_data);
        }
        let rows = session
            .query_multinode(
                OP,
                &detach_data_node(&schemas, self.drop_remote_data),
                &params,
            )
            .await?;
        let detached = count(single(session, OP, &rows, "detached")?);
        tracing::debug!(node = %node, detached, "data node detached");
        Ok(detached)
    }
}
