//! Read-only queries on every data node, directly, concurrently (what Citus calls
//! `run_command_on_workers`): versions, `pg_prepared_xacts`, sizes, settings.

use futures_util::future::join_all;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::Result;
use crate::sql::raw::RawSql;
use crate::sql::session::{BEGIN_READ_ONLY, COMMIT};
use crate::sql::Sql;

/// The rows one node returned, or why it could not.
#[derive(Debug)]
#[non_exhaustive]
pub struct NodeRows {
    /// The node's name.
    pub node: String,
    /// Its rows, or the error (naming the node) that stopped it.
    pub result: Result<Vec<Row>>,
}

const OP: &str = "query each node";

/// Runs caller-written, read-only `sql` on each of `nodes` directly (with each node's own
/// credentials), all at once, in a read-only transaction; returns one entry per node, in
/// the order given. A node that is down or refuses gets an error entry; the others still
/// answer.
///
/// ```no_run
/// # async fn demo(data_nodes: &[timescaledb_multinode::NodeConfig]) {
/// use timescaledb_multinode::data::query_each;
///
/// for entry in query_each(data_nodes, "SELECT gid FROM pg_prepared_xacts", &[]).await {
///     match entry.result {
///         Ok(rows) => println!("{}: {} prepared transactions", entry.node, rows.len()),
///         Err(e) => println!("{}: {e}", entry.node),
///     }
/// }
/// # }
/// ```
pub async fn query_each(
    nodes: &[NodeConfig],
    sql: impl Into<RawSql>,
    params: &[&(dyn ToSql + Sync)],
) -> Vec<NodeRows> {
    let sql = Sql::vouched(&sql.into());
    let runs = nodes.iter().map(|node| {
        let sql = &sql;
        async move {
            NodeRows {
                node: node.node_name(),
                result: query_one_node(node, sql, params).await,
            }
        }
    });
    join_all(runs).await
}

async fn query_one_node(
    node: &NodeConfig,
    sql: &Sql,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    // The caller's SQL: the search path stays as the server gives it.
    let session = Session::open_as_configured(node, OP).await?;
    session.execute_utility(OP, &BEGIN_READ_ONLY).await?;
    let rows = session.query(OP, sql, params).await?;
    session.execute_utility(OP, &COMMIT).await?;
    Ok(rows)
}
