//! A role that exists on the access node and the data nodes, with grants and user
//! mappings: the how-to's "Adding another user" as one idempotent operation.

use secrecy::{ExposeSecret, SecretString};

use super::access_node::AccessNode;
use super::user_mapping::UserMapping;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::secret_send::Quiet;
use crate::server::Feature;
use crate::sql::functions::Schemas;
use crate::sql::hypertable::TableName;
use crate::sql::quiet::{send_literal_by_role, Carriage};
use crate::sql::role::{grant_on_table, login_role, verifier, Privilege, ROLE_EXISTS};

/// A login role on the access node and on chosen data nodes, with table privileges and a
/// user mapping per data node. Roles are not propagated by TimescaleDB (and a GRANT on a
/// distributed hypertable fails until the role exists on every data node); this does it in
/// the right order. Running it again converges: passwords are reset, nothing is duplicated.
///
/// Passwords travel as SCRAM verifiers; the one in the user mappings is stored in clear by
/// the server, as postgres_fdw requires. Neither reaches a server log, statistics view or
/// error (see [`AccessNode::secret_logging`] for when that is refused instead). On the data
/// nodes each node commits the role on its own: after a failure on one, run `apply` again.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{DistributedRole, Privilege, SecretString};
///
/// DistributedRole::new("mn_user1", SecretString::from("access node password"))
///     .data_node_password(SecretString::from("data node password"))
///     .grant([Privilege::Select, Privilege::Insert], "sensor_data")
///     .apply(an)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .apply() is awaited"]
pub struct DistributedRole {
    name: String,
    password: SecretString,
    data_node_password: Option<SecretString>,
    data_nodes: Option<Vec<String>>,
    grants: Vec<(Vec<Privilege>, String)>,
}

const OP: &str = "apply distributed role";

impl DistributedRole {
    /// Role `name`, logging in to the access node with `password`.
    pub fn new(name: impl Into<String>, password: SecretString) -> Self {
        DistributedRole {
            name: name.into(),
            password,
            data_node_password: None,
            data_nodes: None,
            grants: Vec::new(),
        }
    }

    /// The role's password on the data nodes (and in its user mappings). Default: the same
    /// as on the access node.
    pub fn data_node_password(mut self, password: SecretString) -> Self {
        self.data_node_password = Some(password);
        self
    }

    /// Create the role only on these data nodes. Default: every data node.
    pub fn data_nodes<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.data_nodes = Some(nodes.into_iter().map(Into::into).collect());
        self
    }

    /// Grant `privileges` on `table` (in the search path) to the role.
    pub fn grant(
        mut self,
        privileges: impl IntoIterator<Item = Privilege>,
        table: impl Into<String>,
    ) -> Self {
        self.grants
            .push((privileges.into_iter().collect(), table.into()));
        self
    }

    /// The role's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The data nodes chosen with [`DistributedRole::data_nodes`], if any.
    pub fn data_node_names(&self) -> Option<&[String]> {
        self.data_nodes.as_deref()
    }

    /// The role's password on the access node.
    pub(crate) fn password(&self) -> &SecretString {
        &self.password
    }

    /// The role's password on the data nodes.
    pub(crate) fn data_node_password_or_default(&self) -> &SecretString {
        self.data_node_password.as_ref().unwrap_or(&self.password)
    }

    /// The grants, as (privileges, table).
    pub fn grants(&self) -> &[(Vec<Privilege>, String)] {
        &self.grants
    }

    /// Creates or updates the role everywhere, grants, and maps it on every data node.
    pub async fn apply(self, an: &AccessNode) -> Result<()> {
        let an_name = an.name();
        let node = Some(an_name.as_str());
        let role = Ident::for_op(self.name.clone(), "role", OP, node)?;
        for pw in std::iter::once(&self.password).chain(self.data_node_password.as_ref()) {
            if pw.expose_secret().is_empty() || pw.expose_secret().contains('\0') {
                return Err(Error::invalid(
                    OP,
                    node,
                    "a password must be non-empty and have no NUL byte",
                ));
            }
        }
        let mut grants = Vec::new();
        for (privileges, table) in &self.grants {
            if privileges.is_empty() {
                return Err(Error::invalid(
                    OP,
                    node,
                    "a grant needs at least one privilege",
                ));
            }
            let table = TableName::new(Ident::for_op(table.clone(), "table", OP, node)?);
            grants.push(grant_on_table(privileges, &table, &role));
        }

        for n in self.data_nodes.iter().flatten() {
            Ident::for_op(n.clone(), "data node", OP, node)?;
        }
        let (session, schemas) = an.session_with(OP, Feature::MultiNode).await?;
        let nodes: Vec<String> = match &self.data_nodes {
            Some(nodes) => {
                AccessNode::check_data_nodes(&session, OP, nodes).await?;
                nodes.clone()
            }
            None => AccessNode::list_data_nodes(&session, OP)
                .await?
                .into_iter()
                .map(|n| n.name)
                .collect(),
        };
        let quiet =
            Quiet::enter(&session, OP, Carriage::Relayed, an.secret_logging_policy()).await?;
        let result = self
            .secrets(&quiet, &schemas, &role, &nodes, &an_name)
            .await;
        quiet.leave(result).await?;
        // 4. Grants (propagated to the data nodes of distributed hypertables).
        for grant in &grants {
            session.execute_utility_multinode(OP, grant).await?;
        }
        tracing::debug!(role = %role, data_nodes = nodes.len(), "distributed role applied");
        Ok(())
    }

    /// The steps that carry a password: the role on the access node and the data nodes, and
    /// its user mappings.
    async fn secrets(
        &self,
        quiet: &Quiet<'_>,
        schemas: &Schemas,
        role: &Ident,
        nodes: &[String],
        an_name: &str,
    ) -> Result<()> {
        let session = quiet.session();
        // 1. The role on the access node.
        let row = session
            .query_one(OP, &ROLE_EXISTS, &[&role.as_str()])
            .await?;
        let exists: bool = session.get(OP, &row, "exists")?;
        quiet
            .run(
                &login_role(role, exists),
                verifier(&self.password).expose_secret(),
            )
            .await?;
        // 2. The same role on the data nodes (roles are not propagated).
        let dn_password = self.data_node_password.as_ref().unwrap_or(&self.password);
        if !nodes.is_empty() {
            let call = send_literal_by_role(
                role.as_str(),
                &login_role(role, true),
                &login_role(role, false),
                verifier(dn_password).expose_secret(),
            );
            let node_refs: Vec<&str> = nodes.iter().map(String::as_str).collect();
            quiet.distributed(schemas, &node_refs, &call).await?;
        }
        // 3. A user mapping per data node, so the role's queries can reach them.
        for dn in nodes {
            let mapping = UserMapping::for_role(role.as_str(), dn.clone())
                .remote_user(role.as_str())
                .password(dn_password.clone());
            let checked = mapping.validate(OP, an_name)?;
            mapping.ensure_on(quiet, OP, &checked).await?;
        }
        Ok(())
    }
}
