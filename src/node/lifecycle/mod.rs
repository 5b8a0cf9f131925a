//! The data-node lifecycle: delete, detach, attach, alter, block / allow new chunks, and the
//! cluster-wide calls that go with them (chunk interval, replication factor, distributed
//! restore points).
//!
//! Each builder validates its input, opens a session to the access node, refuses where the
//! installed TimescaleDB lacks the call (or the named argument asked for), checks that the data
//! node exists (the error lists the ones that do), and only then sends the call, every value
//! bound as a parameter.

mod alter;
mod attach;
mod delete;
mod detach;
pub(crate) mod dimension;
mod new_chunks;
mod replication;
mod restore_point;

pub use alter::{AlterDataNode, AlteredDataNode};
pub use attach::{AttachDataNode, AttachedDataNode};
pub use delete::{DeleteDataNode, DeletedDataNode};
pub use detach::DetachDataNode;
pub use dimension::SetChunkInterval;
pub use new_chunks::{AllowNewChunks, BlockNewChunks};
pub use replication::SetReplicationFactor;
pub use restore_point::{CreateRestorePoint, RestorePoint};

use super::access_node::AccessNode;
use crate::connect::SessionOn;
use crate::error::{Error, Result};
use crate::executor::{Executor, Lease, Purpose};
use crate::ident::Ident;
use crate::server::Feature;
use crate::sql::functions::Schemas;

/// Whether the space partitions of the hypertables concerned follow the number of data nodes
/// when a node is attached, detached or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Repartition {
    /// Change the number of space partitions to match the number of attached data nodes
    /// (`repartition => true`, the server's default). The server says so in a NOTICE.
    #[default]
    Adjust,
    /// Keep the number of space partitions (`repartition => false`).
    Keep,
}

impl Repartition {
    pub(super) fn as_bool(self) -> bool {
        self == Repartition::Adjust
    }
}

/// Validates a data node's name; the error names the access node it was meant for.
pub(super) fn data_node_name(name: &str, op: &'static str, an: &str) -> Result<Ident> {
    Ident::for_op(name, "data node name", op, Some(an))
}

/// A table given to a builder as `table` (read when it was given), or the error naming `op`
/// and access node `an` when it is not one.
pub(super) fn table_name(
    table: std::result::Result<crate::sql::hypertable::TableName, String>,
    op: &'static str,
    an: &str,
) -> Result<crate::sql::hypertable::TableName> {
    table.map_err(|reason| Error::invalid(op, Some(an), format!("table name: {reason}")))
}

/// A session for `op` on an access node that has `feature` (an [`AccessNode`]'s: a fresh
/// one), once data node `node` is known to exist there (the error lists the ones that do),
/// and the schemas of the server's TimescaleDB functions.
pub(super) async fn node_session<'a, E: Executor + ?Sized>(
    on: &'a E,
    op: &'static str,
    feature: Feature,
    node: &Ident,
) -> Result<(Lease<'a>, Schemas)> {
    let lease = on.lease(op, Purpose::Admin).await?;
    let schemas = lease.require(op, feature).await?;
    check_node(lease.session(), op, node).await?;
    Ok((lease, schemas))
}

/// Checks that data node `node` exists, before anything is sent (the error lists the ones
/// that do).
pub(super) async fn check_node(
    session: &SessionOn<'_>,
    op: &'static str,
    node: &Ident,
) -> Result<()> {
    AccessNode::check_data_nodes(session, op, &[node.as_str().to_owned()]).await
}

/// The first row of a call that returns one.
pub(super) fn first_row<'a>(
    session: &SessionOn<'_>,
    op: &'static str,
    rows: &'a [tokio_postgres::Row],
) -> Result<&'a tokio_postgres::Row> {
    rows.first()
        .ok_or_else(|| Error::invalid(op, Some(session.node()), "the call returned no row"))
}

/// Column `column` of the one row a call returns.
pub(super) fn single<'a, T: tokio_postgres::types::FromSql<'a>>(
    session: &SessionOn<'_>,
    op: &'static str,
    rows: &'a [tokio_postgres::Row],
    column: &str,
) -> Result<T> {
    session.get(op, first_row(session, op, rows)?, column)
}

/// A count the server returns as `int4`.
pub(super) fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
