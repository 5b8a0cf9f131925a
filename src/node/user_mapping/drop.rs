//! Dropping a user mapping.

use super::{mapping_of, Mapping, Role};
use crate::error::Result;
use crate::executor::{Executor, Purpose};
use crate::ident::Ident;
use crate::sql::user_mapping::{drop, RoleSpec};

/// A user mapping to drop: the mapping of one local role on one data node (foreign server).
///
/// By default [`DropUserMapping::run`] fails as the server does when there is no such
/// mapping (an error of kind [`ErrorKind::NotFound`](crate::ErrorKind::NotFound), SQLSTATE
/// 42704); with [`DropUserMapping::idempotent`] it succeeds and returns `false`.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{DropUserMapping, RoleSpec};
///
/// let dropped = DropUserMapping::for_role("mn_user1", "dn1").idempotent().run(an).await?;
/// DropUserMapping::new(RoleSpec::Public, "dn2").run(an).await?;
/// # let _ = dropped;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DropUserMapping {
    role: Role,
    server: String,
    idempotent: bool,
}

const OP: &str = "drop user mapping";

impl DropUserMapping {
    /// The mapping of `role` on data node (foreign server) `server`.
    pub fn new(role: RoleSpec, server: impl Into<String>) -> Self {
        DropUserMapping {
            role: Role::Spec(role),
            server: server.into(),
            idempotent: false,
        }
    }

    /// The mapping of the named local role `role` on `server`.
    pub fn for_role(role: impl Into<String>, server: impl Into<String>) -> Self {
        DropUserMapping {
            role: Role::Name(role.into()),
            server: server.into(),
            idempotent: false,
        }
    }

    /// Succeed, dropping nothing, when there is no such mapping (or no such role or
    /// server): [`DropUserMapping::run`] then returns `false`.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Drops the mapping; returns whether one was dropped (`false` only with
    /// [`DropUserMapping::idempotent`], when there was none). Runs on any [`Executor`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) before anything is sent for a bad
    /// role or data node name; an error of kind [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)
    /// when there is no such mapping, role or server, without
    /// [`DropUserMapping::idempotent`].
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<bool> {
        let an_name = on.node_name();
        let role = self.role.checked(OP, &an_name)?;
        let server = Ident::for_op(self.server.clone(), "data node", OP, Some(&an_name))?;
        let lease = on.lease(OP, Purpose::Admin).await?;
        let session = lease.session();
        if self.idempotent {
            // Read first, so the result says whether there was one; `IF EXISTS` all the
            // same, for a mapping dropped meanwhile.
            if let Mapping::Absent = mapping_of(session, OP, &role, &server).await? {
                return Ok(false);
            }
        }
        session
            .execute_utility_multinode(OP, &drop(&role, &server, self.idempotent))
            .await?;
        Ok(true)
    }
}
