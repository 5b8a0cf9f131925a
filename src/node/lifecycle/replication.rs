//! Cluster-wide calls: the replication factor of a hypertable, distributed restore points.

use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::ident::MAX_IDENT_BYTES;
use crate::node::access_node::AccessNode;
use crate::server::Feature;
use crate::sql::lifecycle::{create_distributed_restore_point, set_replication_factor};
use crate::sql::server_info::ROLE_IS_SUPERUSER;
use crate::table_name::IntoTableName;

/// One row of [`AccessNode::create_distributed_restore_point`]: the restore point on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestorePoint {
    /// The data node's name; `None` for the access node.
    pub node_name: Option<String>,
    /// `access_node` or `data_node`.
    pub node_type: String,
    /// The restore point's WAL location (`pg_lsn` as text, e.g. `0/1BE51C8`).
    pub lsn: String,
}

impl AccessNode {
    /// Sets how many data nodes hold each new chunk of the distributed hypertable `table`
    /// (`set_replication_factor`). Existing chunks are not copied: raising the factor leaves
    /// them under-replicated (the server warns).
    ///
    /// ```no_run
    /// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
    /// use timescaledb_multinode::{Ident, TableName};
    ///
    /// an.set_replication_factor("sensor_data", 2).await?;
    /// an.set_replication_factor(&TableName::qualified(Ident::new("metrics")?, Ident::new("cpu")?), 2).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for a factor outside 1 to 32767;
    /// [`Error::Database`] for the server's refusals: TS170 more than the attached data
    /// nodes, TS001 not a hypertable, 42P01 no such table.
    pub async fn set_replication_factor(&self, table: impl IntoTableName, n: i32) -> Result<()> {
        replication_factor(self, table, n).await
    }

    /// Creates a restore point named `name` on the access node and every data node at once
    /// (`create_distributed_restore_point`, TimescaleDB 2.2+), for point-in-time recovery of
    /// the whole cluster to a consistent state. One row per node; the access node's comes
    /// with no node name.
    ///
    /// ```no_run
    /// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
    /// for point in an.create_distributed_restore_point("before-upgrade").await? {
    ///     println!("{:?} ({}) at {}", point.node_name, point.node_type, point.lsn);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an empty name, one over 63 bytes
    /// or one with a NUL byte; [`Error::Unreachable`] naming the data node when one is
    /// down (no restore point is then made); [`Error::UnsupportedServer`] before
    /// TimescaleDB 2.2; [`Error::MissingPrivilege`] before anything is sent when the role is
    /// not a superuser (TimescaleDB requires one).
    pub async fn create_distributed_restore_point(&self, name: &str) -> Result<Vec<RestorePoint>> {
        restore_point(self, name).await
    }
}

/// [`AccessNode::set_replication_factor`] on any executor.
pub(crate) async fn replication_factor<E: Executor + ?Sized>(
    on: &E,
    table: impl IntoTableName,
    n: i32,
) -> Result<()> {
    const OP: &str = "set replication factor";
    let table = table.into_table_name(OP, Some(&on.node_name()))?;
    if !(1..=32767).contains(&n) {
        return Err(Error::invalid(
            OP,
            Some(&on.node_name()),
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

/// [`AccessNode::create_distributed_restore_point`] on any executor.
pub(crate) async fn restore_point<E: Executor + ?Sized>(
    on: &E,
    name: &str,
) -> Result<Vec<RestorePoint>> {
    const OP: &str = "create distributed restore point";
    let an_name = on.node_name();
    let invalid = |reason: String| Error::invalid(OP, Some(&an_name), reason);
    if name.is_empty() {
        return Err(invalid("restore point name is empty".to_owned()));
    }
    if name.contains('\0') {
        return Err(invalid("restore point name contains a NUL byte".to_owned()));
    }
    if name.len() > MAX_IDENT_BYTES {
        return Err(invalid(format!(
            "restore point name is {} bytes long; the server takes at most \
             {MAX_IDENT_BYTES}",
            name.len()
        )));
    }
    let lease = on.lease(OP, Purpose::Admin).await?;
    let session = lease.session();
    let schemas = lease.require(OP, Feature::DistributedRestorePoint).await?;
    // TimescaleDB reserves it to superusers (a managed service's admin is not one):
    // refuse before sending, naming what is missing.
    let row = session.query_one(OP, &ROLE_IS_SUPERUSER, &[]).await?;
    if !session.get::<bool>(OP, &row, "superuser")? {
        return Err(Error::MissingPrivilege {
            op: OP,
            node: an_name,
            role: session.get(OP, &row, "role")?,
            privilege: "SUPERUSER, which TimescaleDB's create_distributed_restore_point \
                        requires (it writes a WAL record on every node)"
                .to_owned(),
        });
    }
    let rows = session
        .query_multinode(OP, &create_distributed_restore_point(&schemas), &[&name])
        .await?;
    let points = rows
        .iter()
        .map(|row| {
            Ok(RestorePoint {
                node_name: session.get(OP, row, "node_name")?,
                node_type: session.get(OP, row, "node_type")?,
                lsn: session.get(OP, row, "lsn")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    tracing::debug!(
        name,
        nodes = points.len(),
        "distributed restore point created"
    );
    Ok(points)
}
