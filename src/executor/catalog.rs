//! What the access node's catalog says, read on any [`Executor`]: its data nodes, its
//! hypertables, and where the chunks of one live.

use super::{Executor, Purpose};
use crate::catalog::{ChunkInfo, DataNodeInfo, HypertableInfo};
use crate::error::{Error, Result};
use crate::node::AccessNode;
use crate::server::Feature;
use crate::sql::hypertable::{CHUNKS, HYPERTABLE, HYPERTABLES};
use crate::table_name::IntoTableName;

/// The data nodes (like `\des+`), by name.
pub(crate) async fn data_nodes<E: Executor + ?Sized>(on: &E) -> Result<Vec<DataNodeInfo>> {
    const OP: &str = "list data nodes";
    let lease = on.lease(OP, Purpose::Admin).await?;
    lease.require(OP, Feature::MultiNode).await?;
    AccessNode::list_data_nodes(lease.session(), OP).await
}

/// The hypertable `table`, if it is one.
pub(crate) async fn hypertable<E: Executor + ?Sized>(
    on: &E,
    table: impl IntoTableName,
) -> Result<Option<HypertableInfo>> {
    const OP: &str = "describe hypertable";
    let table = table.into_table_name(OP, Some(&on.node_name()))?;
    let lease = on.lease(OP, Purpose::Admin).await?;
    let session = lease.session();
    let Some((schema, name)) = AccessNode::resolve(session, OP, &table).await? else {
        return Ok(None);
    };
    let row = session
        .query_opt(OP, &HYPERTABLE, &[&schema, &name])
        .await?;
    row.map(|row| HypertableInfo::from_row(session, OP, &row))
        .transpose()
}

/// Every hypertable of the database, by schema and name.
pub(crate) async fn hypertables<E: Executor + ?Sized>(on: &E) -> Result<Vec<HypertableInfo>> {
    const OP: &str = "list hypertables";
    let lease = on.lease(OP, Purpose::Admin).await?;
    let session = lease.session();
    let rows = session.query(OP, &HYPERTABLES, &[]).await?;
    rows.iter()
        .map(|row| HypertableInfo::from_row(session, OP, row))
        .collect()
}

/// The chunks of hypertable `table` and the data nodes that hold each.
pub(crate) async fn chunks<E: Executor + ?Sized>(
    on: &E,
    table: impl IntoTableName,
) -> Result<Vec<ChunkInfo>> {
    const OP: &str = "list chunks";
    let table = table.into_table_name(OP, Some(&on.node_name()))?;
    let lease = on.lease(OP, Purpose::Admin).await?;
    let session = lease.session();
    let Some((schema, name)) = AccessNode::resolve(session, OP, &table).await? else {
        return Err(Error::invalid(
            OP,
            Some(session.node()),
            format!("table {table} does not exist"),
        ));
    };
    let rows = session.query(OP, &CHUNKS, &[&schema, &name]).await?;
    rows.iter()
        .map(|row| ChunkInfo::from_row(session, OP, row))
        .collect()
}
