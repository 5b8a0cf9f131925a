//! Attaching a data node to a distributed hypertable: `attach_data_node`.

use super::{data_node_name, first_row, node_session, table_name, Repartition};
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::executor::Executor;
use crate::node::quote_guard::{self, CopyTo};
use crate::server::Feature;
use crate::sql::hypertable::TableName;
use crate::sql::lifecycle::attach_data_node;
use crate::table_name::IntoTableName;

/// A data node to attach to a distributed hypertable with `attach_data_node`.
///
/// Attaching creates the (empty) member table on the node; existing chunks stay where they
/// are, only new chunks use the node.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::lifecycle::AttachDataNode;
///
/// let attached = AttachDataNode::new("dn3", "sensor_data").idempotent().run(an).await?;
/// println!("hypertable {} on {}", attached.hypertable_id, attached.node_name);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct AttachDataNode {
    name: String,
    /// The table, or why the text given is not a table name.
    hypertable: std::result::Result<TableName, String>,
    idempotent: bool,
    repartition: Repartition,
}

/// What [`AttachDataNode::run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttachedDataNode {
    /// The hypertable's id on the access node.
    pub hypertable_id: i32,
    /// The id of its member hypertable on the data node.
    pub node_hypertable_id: i32,
    /// The data node.
    pub node_name: String,
}

impl AttachDataNode {
    /// Attach the data node called `name` to the distributed hypertable `hypertable`.
    pub fn new(name: impl Into<String>, hypertable: impl IntoTableName) -> Self {
        AttachDataNode {
            name: name.into(),
            hypertable: hypertable.read_table_name(),
            idempotent: false,
            repartition: Repartition::default(),
        }
    }

    /// Succeed when the node is attached already (`if_not_attached => true`; the server
    /// returns the existing row). Without it, that is the server's refusal (TS172).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// What happens to the space partitions. Default: [`Repartition::Adjust`], which raises
    /// their number to the number of attached data nodes.
    pub fn repartition(mut self, repartition: Repartition) -> Self {
        self.repartition = repartition;
        self
    }

    /// Attaches the node.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has), and before anything
    /// reaches the data node when a name of the table that TimescaleDB copies there holds a
    /// double quote (a column renamed after distribution, say; see
    /// [`DistributedHypertable::run`](crate::DistributedHypertable::run) for the
    /// names checked); [`Error::Database`] for
    /// the server's refusals: TS172 already attached (without
    /// [`AttachDataNode::idempotent`]), 42P07
    /// naming the data node when its member table is left from a detach without
    /// `drop_remote_data`, 42P01 no such table.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<AttachedDataNode> {
        const OP: &str = "attach data node";
        let node = data_node_name(&self.name, OP, &on.node_name())?;
        let hypertable = table_name(self.hypertable, OP, &on.node_name())?;
        let (lease, schemas) = node_session(on, OP, Feature::MultiNode, &node).await?;
        let session = lease.session();
        // Attaching copies the table's definition to the node again, as it is now.
        quote_guard::check(session, OP, &hypertable, CopyTo::DataNode(node.as_str())).await?;
        let table = hypertable.regclass_text();
        let repartition = self.repartition.as_bool();
        let rows = session
            .query_multinode(
                OP,
                &attach_data_node(&schemas),
                &[&node.as_str(), &table, &self.idempotent, &repartition],
            )
            .await?;
        let row = first_row(session, OP, &rows)?;
        let attached = AttachedDataNode {
            hypertable_id: session.get(OP, row, "hypertable_id")?,
            node_hypertable_id: session.get(OP, row, "node_hypertable_id")?,
            node_name: session.get(OP, row, "node_name")?,
        };
        tracing::debug!(node = %node, hypertable_id = attached.hypertable_id, "data node attached");
        Ok(attached)
    }
}
