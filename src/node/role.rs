//! A role that exists on the access node and the data nodes, with grants and user
//! mappings: the how-to's "Adding another user" as one idempotent operation.

use secrecy::{ExposeSecret, SecretString};

use super::access_node::AccessNode;
use super::user_mapping::UserMapping;
use crate::catalog::DataNodeInfo;
use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::ident::Ident;
use crate::secret_send::Quiet;
use crate::server::Feature;
use crate::sql::data_node::distributed_exec;
use crate::sql::functions::Schemas;
use crate::sql::hypertable::TableName;
use crate::sql::quiet::{send_literal_by_role, Carriage};
use crate::sql::role::{
    default_privileges, grant_on_all_tables, grant_on_table, login_role, revoke_on_table, verifier,
    Privilege, ROLE_EXISTS,
};
use crate::table_name::IntoTableName;

/// A login role on the access node and on chosen data nodes, with table privileges and a
/// user mapping per data node. Roles are not propagated by TimescaleDB (and a GRANT on a
/// distributed hypertable fails until the role exists on every data node); this does it in
/// the right order.
///
/// It converges by nature, so it has no `idempotent()`: [`DistributedRole::run`] creates
/// what is missing and updates what is there (the role, its `LOGIN` and passwords, its
/// mappings), grants are granted again, nothing is duplicated, and running it twice is the
/// same as running it once.
///
/// Passwords travel as SCRAM verifiers; the one in the user mappings is stored in clear by
/// the server, as postgres_fdw requires. Neither reaches a server log, statistics view or
/// error (see [`AccessNode::secret_logging`] for when that is refused instead). On the data
/// nodes each node commits the role on its own: after a failure on one, run it again.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{DistributedRole, Privilege, SecretString};
///
/// DistributedRole::new("mn_user1", SecretString::from("access node password"))
///     .data_node_password(SecretString::from("data node password"))
///     .grant([Privilege::Select, Privilege::Insert], "sensor_data")
///     .grant([Privilege::Select], "reports.daily")
///     .run(an)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DistributedRole {
    name: String,
    password: SecretString,
    data_node_password: Option<SecretString>,
    data_nodes: Option<Vec<String>>,
    grants: Vec<(Vec<Privilege>, GrantOn)>,
}

/// What a [`DistributedRole`]'s grant is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GrantOn {
    /// One table (optionally schema-qualified), or why the text given is not a table name.
    Table(std::result::Result<TableName, String>),
    /// Every table of a schema (`GRANT ... ON ALL TABLES IN SCHEMA`), and the tables the
    /// admin creates there later (`ALTER DEFAULT PRIVILEGES IN SCHEMA ... GRANT ... ON
    /// TABLES`), on the access node and on each of the role's data nodes.
    AllTablesInSchema(String),
}

impl GrantOn {
    /// The table, when the grant is on one; text given that is not a table name is
    /// [`Error::InvalidInput`] naming `op` and `node`.
    pub(crate) fn table_name(
        &self,
        op: &'static str,
        node: Option<&str>,
    ) -> Result<Option<TableName>> {
        match self {
            GrantOn::Table(Ok(table)) => Ok(Some(table.clone())),
            GrantOn::Table(Err(reason)) => {
                Err(Error::invalid(op, node, format!("table name: {reason}")))
            }
            GrantOn::AllTablesInSchema(_) => Ok(None),
        }
    }

    /// How a message names it: `sensor_data`, `metrics.sensor_data`, `all tables in schema
    /// public`.
    pub(crate) fn describe(&self) -> String {
        match self {
            GrantOn::Table(Ok(table)) => table.to_string(),
            GrantOn::Table(Err(_)) => "a table whose name is not valid".to_owned(),
            GrantOn::AllTablesInSchema(schema) => format!("all tables in schema {schema}"),
        }
    }
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

    /// Grant `privileges` on `table` to the role. `table` is a
    /// [`TableName`](crate::TableName) or text read as one: `"sensor_data"` (in the search
    /// path's schema), `"reports.daily"`, `r#""My Schema"."a.b""#`; text that is not a table
    /// name is [`Error::InvalidInput`] from [`DistributedRole::run`].
    pub fn grant(
        mut self,
        privileges: impl IntoIterator<Item = Privilege>,
        table: impl IntoTableName,
    ) -> Self {
        self.grants.push((
            privileges.into_iter().collect(),
            GrantOn::Table(table.read_table_name()),
        ));
        self
    }

    /// Grant `privileges` on every table of `schema`, now and later, on the access node and
    /// on each of the role's data nodes: `GRANT ... ON ALL TABLES IN SCHEMA` and `ALTER
    /// DEFAULT PRIVILEGES IN SCHEMA ... GRANT ... ON TABLES` (for the tables the admin
    /// creates), as the how-to does for its extra user. The schema must exist on every one
    /// of those nodes.
    pub fn grant_on_all_tables_in_schema(
        mut self,
        privileges: impl IntoIterator<Item = Privilege>,
        schema: impl Into<String>,
    ) -> Self {
        self.grants.push((
            privileges.into_iter().collect(),
            GrantOn::AllTablesInSchema(schema.into()),
        ));
        self
    }

    /// The role's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The data nodes chosen with [`DistributedRole::data_nodes`], if any.
    pub(crate) fn data_node_names(&self) -> Option<&[String]> {
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

    /// The grants, as (privileges, what they are on).
    pub(crate) fn grants(&self) -> &[(Vec<Privilege>, GrantOn)] {
        &self.grants
    }

    /// The single privileges (keywords) the role's grants give it on `table`, a table named
    /// as one of its per-table grants names it.
    pub(crate) fn table_privileges(&self, table: &TableName) -> Vec<&'static str> {
        let mut granted: Vec<&'static str> = Vec::new();
        for (privileges, on) in &self.grants {
            let same = on
                .table_name(OP, None)
                .ok()
                .flatten()
                .is_some_and(|t| t.regclass_text() == table.regclass_text());
            if same {
                for single in privileges.iter().flat_map(|p| p.expanded()) {
                    if !granted.contains(single) {
                        granted.push(single);
                    }
                }
            }
        }
        granted
    }

    /// Revokes from the role every privilege on `table` (quoted, as one of its grants names
    /// it) that its grants do not give it (prune mode); propagated to the data nodes of a
    /// distributed hypertable.
    pub(crate) async fn revoke_ungranted(&self, an: &AccessNode, table: &str) -> Result<()> {
        let an_name = an.name();
        let node = Some(an_name.as_str());
        let role = Ident::for_op(self.name.clone(), "role", OP, node)?;
        let table = self
            .grants
            .iter()
            .filter_map(|(_, on)| on.table_name(OP, node).ok().flatten())
            .find(|t| t.regclass_text() == table)
            .ok_or_else(|| {
                Error::invalid(OP, node, "the plan names a table the role's grants do not")
            })?;
        let granted = self.table_privileges(&table);
        let ungranted: Vec<&str> = Privilege::All
            .expanded()
            .iter()
            .copied()
            .filter(|p| !granted.contains(p))
            .collect();
        if ungranted.is_empty() {
            return Ok(());
        }
        let (session, _) = an.session_with(OP, Feature::MultiNode).await?;
        session
            .execute_utility_multinode(OP, &revoke_on_table(&ungranted, &table, &role))
            .await?;
        tracing::debug!(role = %role, table = %table.name(), "ungranted privileges revoked");
        Ok(())
    }

    /// Creates or updates the role everywhere, grants, and maps it on every data node.
    ///
    /// Runs on any [`Executor`]. The statements for the data nodes go through a
    /// non-transactional `distributed_exec`, which the server refuses inside a transaction
    /// block: on a `Transaction`, a role for data nodes is refused with
    /// [`Error::InvalidInput`] before anything is sent (one with
    /// [`DistributedRole::data_nodes`] empty runs there).
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<()> {
        let an_name = on.node_name();
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
        let mut everywhere = Vec::new();
        for (privileges, on) in &self.grants {
            if privileges.is_empty() {
                return Err(Error::invalid(
                    OP,
                    node,
                    "a grant needs at least one privilege",
                ));
            }
            match on {
                GrantOn::AllTablesInSchema(schema) => {
                    let schema = Ident::for_op(schema.clone(), "schema", OP, node)?;
                    for sql in [
                        grant_on_all_tables(privileges, &schema, &role),
                        default_privileges(privileges, &schema, &role),
                    ] {
                        grants.push(sql.clone());
                        everywhere.push(sql);
                    }
                }
                table => {
                    let table = table.table_name(OP, node)?.expect("a table grant");
                    grants.push(grant_on_table(privileges, &table, &role));
                }
            }
        }

        for n in self.data_nodes.iter().flatten() {
            Ident::for_op(n.clone(), "data node", OP, node)?;
        }
        let for_data_nodes = self.data_nodes.as_ref().is_none_or(|n| !n.is_empty());
        if for_data_nodes && on.in_transaction_block() {
            return Err(Error::invalid(
                OP,
                node,
                "a role for data nodes goes through a non-transactional distributed_exec, which cannot run inside a transaction block; run it on a client or pool, not a transaction",
            ));
        }
        let lease = on.lease(OP, Purpose::Admin).await?;
        let session = lease.session();
        let schemas = lease.require(OP, Feature::MultiNode).await?;
        let registered = AccessNode::list_data_nodes(session, OP).await?;
        let nodes: Vec<String> = match &self.data_nodes {
            Some(nodes) => {
                AccessNode::check_data_nodes_among(session, OP, nodes, &registered)?;
                nodes.clone()
            }
            None => registered.iter().map(|n| n.name.clone()).collect(),
        };
        let waves = instance_waves(&nodes, &registered);
        let quiet = Quiet::enter(session, OP, Carriage::Relayed, lease.secret_logging()).await?;
        let result = self
            .secrets(&quiet, &schemas, &role, &nodes, &waves, &an_name)
            .await;
        quiet.leave(result).await?;
        // 4. Grants (propagated to the data nodes of distributed hypertables); those on all
        //    tables of a schema, and its default privileges, also on the role's data nodes.
        for grant in &grants {
            session.execute_utility_multinode(OP, grant).await?;
        }
        if !nodes.is_empty() {
            let node_refs: Vec<&str> = nodes.iter().map(String::as_str).collect();
            for sql in &everywhere {
                session
                    .execute_multinode(
                        OP,
                        &distributed_exec(&schemas),
                        &[&sql.text(), &node_refs, &false],
                    )
                    .await?;
            }
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
        waves: &[Vec<&str>],
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
            for wave in waves {
                quiet.distributed(schemas, wave, &call).await?;
            }
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

/// `nodes` in waves that each hold at most one data node of a PostgreSQL instance (by the
/// host and port the access node has for it; `registered`), in their order. A role belongs
/// to the instance, not to a database: data nodes that are databases of one instance would
/// each create it at the same time, and all but the first fail (23505, or "tuple concurrently
/// updated" when they alter it), so each instance's data nodes get it one after another. A
/// cluster whose data nodes are instances of their own has one wave.
fn instance_waves<'a>(nodes: &'a [String], registered: &[DataNodeInfo]) -> Vec<Vec<&'a str>> {
    let mut waves: Vec<Vec<&str>> = Vec::new();
    let mut seen: Vec<(&str, u16)> = Vec::new();
    for node in nodes {
        let instance = registered.iter().find(|r| &r.name == node).and_then(|r| {
            Some((
                r.host.as_deref()?,
                r.port.unwrap_or(NodeConfig::DEFAULT_PORT),
            ))
        });
        let wave = match instance {
            // Where it is is not known: with the first.
            None => 0,
            Some(instance) => {
                let n = seen.iter().filter(|i| **i == instance).count();
                seen.push(instance);
                n
            }
        };
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(node.as_str());
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, host: &str, port: Option<u16>) -> DataNodeInfo {
        DataNodeInfo {
            name: name.to_owned(),
            owner: "tsdbadmin".to_owned(),
            host: Some(host.to_owned()),
            port,
            database: Some(format!("db_{name}")),
            available: true,
        }
    }

    #[test]
    fn data_nodes_of_one_instance_go_in_waves() {
        let registered = [
            node("a", "h1", Some(5432)),
            node("b", "h1", None),
            node("c", "h2", Some(5432)),
            node("d", "h1", Some(5433)),
            node("e", "h1", Some(5432)),
        ];
        let names: Vec<String> = ["a", "b", "c", "d", "e", "unknown"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            instance_waves(&names, &registered),
            [vec!["a", "c", "d", "unknown"], vec!["b"], vec!["e"]]
        );
        // Instances of their own: one wave.
        let names: Vec<String> = ["a", "c", "d"].map(String::from).to_vec();
        assert_eq!(instance_waves(&names, &registered), [vec!["a", "c", "d"]]);
    }
}
