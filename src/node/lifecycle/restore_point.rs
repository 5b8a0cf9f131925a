//! Restore points on every node at once: `create_distributed_restore_point`.

use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::ident::MAX_IDENT_BYTES;
use crate::server::Feature;
use crate::sql::lifecycle::create_distributed_restore_point;
use crate::sql::server_info::ROLE_IS_SUPERUSER;

/// A restore point to create on the access node and every data node at once
/// (`create_distributed_restore_point`, TimescaleDB 2.2+), for point-in-time recovery of
/// the whole cluster to a consistent state.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::lifecycle::CreateRestorePoint;
///
/// for point in CreateRestorePoint::new("before-upgrade").run(an).await? {
///     println!("{:?} ({}) at {}", point.node_name, point.node_type, point.lsn);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct CreateRestorePoint {
    name: String,
}

/// One row of [`CreateRestorePoint::run`]: the restore point on one node.
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

impl CreateRestorePoint {
    /// A restore point called `name` (at most 63 bytes, no NUL byte).
    pub fn new(name: impl Into<String>) -> Self {
        CreateRestorePoint { name: name.into() }
    }

    /// Creates the restore point: one row per node, the access node's with no node name.
    /// Runs on any [`Executor`]. Each run writes a new restore point (a name may be used
    /// again; recovery takes the first one after its start).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an empty name, one over 63 bytes
    /// or one with a NUL byte; [`Error::Unreachable`] naming the data node when one is
    /// down (no restore point is then made); [`Error::UnsupportedServer`] before
    /// TimescaleDB 2.2; [`Error::MissingPrivilege`] before anything is sent when the role is
    /// not a superuser (TimescaleDB requires one).
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<Vec<RestorePoint>> {
        const OP: &str = "create distributed restore point";
        let name = self.name.as_str();
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
}
