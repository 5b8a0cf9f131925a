//! Cluster as code: compare the desired cluster with the live one and list the steps that
//! would make them equal. A plan changes nothing.

use std::fmt;

use futures_util::future::join_all;

use super::probe::{link, probe_fresh};
use super::status::AccessNodeLink;
use super::Cluster;
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::{mapping_options, Mapping};
use crate::node::{AccessNode, DistributedHypertable, DistributedRole};
use crate::server::ServerInfo;
use crate::sql::hypertable::{TableName, HYPERTABLE, RESOLVE_TABLE};
use crate::sql::plan as show;
use crate::sql::raw::RawSql;
use crate::sql::role::{grant_on_table, HAS_TABLE_PRIVILEGE, ROLE_EXISTS};
use crate::sql::user_mapping::{RoleSpec, CURRENT_USER, CURRENT_USER_MAPPING_OPTIONS};
use secrecy::{ExposeSecret, SecretString};

/// A distributed hypertable the cluster should have: the table's definition (run when the
/// table is missing) and how to distribute it.
#[derive(Debug, Clone)]
pub(crate) struct HypertableSpec {
    pub(crate) create_table: RawSql,
    pub(crate) hypertable: DistributedHypertable,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepKind {
    /// Create the TimescaleDB extension on a node.
    CreateExtension,
    /// Add a data node (with its user mapping, then a round trip).
    AddDataNode,
    /// Create or update the access node's user mapping for a data node.
    UserMapping,
    /// Create a table (from its definition in the spec).
    CreateTable,
    /// Distribute a table as a hypertable.
    DistributeTable,
    /// Create or update a distributed role, its mappings and grants.
    ApplyRole,
}

/// One step of a [`Plan`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Step {
    /// What it does.
    pub kind: StepKind,
    /// The node it runs on.
    pub node: String,
    /// What it acts on (a node, table or role name).
    pub target: String,
    /// The statements it sends, secrets replaced by `[REDACTED]`.
    pub sql: String,
    /// Why it is needed.
    pub why: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {} on {}: {} -- {}",
            self.kind, self.target, self.node, self.why, self.sql
        )
    }
}

/// Something a plan could not check (a node that did not answer); it guesses nothing.
#[derive(Debug)]
#[non_exhaustive]
pub struct Unknown {
    /// The node that could not be checked.
    pub node: String,
    /// What could not be checked.
    pub what: String,
    /// Why.
    pub error: Error,
}

/// The ordered steps that would make the live cluster match the spec
/// ([`Cluster::plan`]).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Plan {
    /// The steps, in the order [`Cluster::apply`] runs them.
    pub steps: Vec<Step>,
    /// What could not be checked.
    pub unknown: Vec<Unknown>,
}

impl Plan {
    /// Whether the live cluster matches the spec: nothing to do, nothing unknown.
    pub fn is_converged(&self) -> bool {
        self.steps.is_empty() && self.unknown.is_empty()
    }

    fn add_step(&mut self, kind: StepKind, node: &str, target: &str, sql: String, why: &str) {
        self.steps.push(Step {
            kind,
            node: node.to_owned(),
            target: target.to_owned(),
            sql,
            why: why.to_owned(),
        });
    }

    fn add_unknown(&mut self, node: &str, what: &str, error: Error) {
        self.unknown.push(Unknown {
            node: node.to_owned(),
            what: what.to_owned(),
            error,
        });
    }
}

const OP: &str = "plan cluster";

impl Cluster {
    /// Adds a distributed hypertable to the spec: `create_table` (one `CREATE TABLE`, run
    /// only when the table is missing) and how to distribute it.
    #[must_use]
    pub fn hypertable(mut self, create_table: RawSql, hypertable: DistributedHypertable) -> Self {
        self.hypertables.push(HypertableSpec {
            create_table,
            hypertable,
        });
        self
    }

    /// Adds a distributed role to the spec.
    #[must_use]
    pub fn role(mut self, role: DistributedRole) -> Self {
        self.roles.push(role);
        self
    }

    /// Checks the spec itself: no data node twice, every node a hypertable or role names is
    /// in the spec, names are identifiers.
    pub(crate) fn validate_spec(&self, op: &'static str) -> Result<()> {
        let an = self.access_node.node_name();
        let names: Vec<String> = self.data_nodes.iter().map(NodeConfig::node_name).collect();
        for (i, name) in names.iter().enumerate() {
            Ident::for_op(name.clone(), "data node", op, Some(&an))?;
            if names[..i].contains(name) {
                return Err(Error::invalid(
                    op,
                    Some(&an),
                    format!("data node {name:?} is in the spec twice"),
                ));
            }
        }
        let check = |nodes: Option<&[String]>, what: String| -> Result<()> {
            for node in nodes.unwrap_or_default() {
                if !names.contains(node) {
                    return Err(Error::invalid(
                        op,
                        Some(&an),
                        format!(
                            "{what} names data node {node:?}, which is not in the spec ({names:?})"
                        ),
                    ));
                }
            }
            Ok(())
        };
        for spec in &self.hypertables {
            spec.hypertable.table_name()?;
            check(
                spec.hypertable.data_node_names(),
                format!(
                    "hypertable {:?}",
                    spec.hypertable.table_name()?.name().as_str()
                ),
            )?;
        }
        for role in &self.roles {
            Ident::for_op(role.name(), "role", op, Some(&an))?;
            check(role.data_node_names(), format!("role {:?}", role.name()))?;
        }
        Ok(())
    }

    /// Compares the spec with the live catalogs and returns the steps that would make them
    /// match, each with its SQL (secrets redacted) and why. Changes nothing.
    ///
    /// A data node that does not answer is listed in [`Plan::unknown`] with what could not
    /// be checked.
    ///
    /// Before it plans anything, it checks every node that answers (the access node and
    /// each data node) with [`ServerInfo::check_multinode_offered`]: from what the node
    /// runs or, where the extension is not created yet, what its server offers — the
    /// default TimescaleDB version, the licence, `shared_preload_libraries` and the
    /// PostgreSQL major.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a spec that contradicts itself;
    /// [`Error::UnsupportedServer`], naming the first node that fails the check above and
    /// what to do (for example "TimescaleDB 2.14.2 has no multi-node (removed in 2.14)",
    /// "timescaledb.license is 'apache'"); the access node's error when it cannot be read
    /// (nothing can be planned without it).
    pub async fn plan(&self) -> Result<Plan> {
        self.validate_spec(OP)?;
        let an_name = self.access_node.node_name();
        // One access-node session for the whole plan; the data nodes are checked at the same
        // time, each over one session of its own.
        let (an_client, dn_checks) = tokio::join!(
            Deadline::after(self.node_deadline).run(OP, &an_name, self.access_node_client(OP)),
            join_all(self.data_nodes.iter().map(|dn| self.check_data_node(dn)))
        );
        let an_client = an_client?;
        let session = an_client.session();
        let an_info = ServerInfo::read_brief(session).await?;
        // Every node that answered must run, or be able to create, a multi-node TimescaleDB
        // before anything is planned, so that `apply` changes nothing on a cluster that
        // cannot work: the access node first, then the data nodes in order.
        an_info.check_offered_for(OP)?;
        for check in dn_checks.iter().flatten() {
            check.server.check_offered_for(OP)?;
        }
        let mut plan = Plan::default();

        // 1. The extension, on the data nodes first.
        let mut reachable = Vec::new();
        let mut roles_on_node: Vec<(String, Vec<String>)> = Vec::new();
        for (dn, check) in self.data_nodes.iter().zip(dn_checks) {
            let name = dn.node_name();
            match check {
                Ok(check) => {
                    if check.server.timescaledb.is_none() {
                        plan.add_step(
                            StepKind::CreateExtension,
                            &name,
                            &name,
                            show::create_extension(),
                            "the extension is not installed",
                        );
                    }
                    roles_on_node.push((name.clone(), check.roles));
                    reachable.push(name);
                }
                Err(e) => plan.add_unknown(&name, "extension, data-node and role state", e),
            }
        }
        let an_ready = an_info.timescaledb.is_some();
        let an_schemas = an_info.schemas(OP).ok();
        if !an_ready {
            plan.add_step(
                StepKind::CreateExtension,
                &an_name,
                &an_name,
                show::create_extension(),
                "the extension is not installed",
            );
        }

        // 2. Data nodes and the access node's user mappings for them.
        let registered: Vec<String> = if an_ready {
            AccessNode::list_data_nodes(session, OP)
                .await?
                .into_iter()
                .map(|n| n.name)
                .collect()
        } else {
            Vec::new()
        };
        // A data node whose mapping holds the very credentials the data node just accepted
        // from us (its settings') needs no probe: the access node logs in with them. The
        // rest are probed, together first, one by one only when that fails.
        let mut to_probe: Vec<&str> = Vec::new();
        for dn in &self.data_nodes {
            let name = dn.node_name();
            let Some(known) = registered.iter().find(|r| **r == name) else {
                continue;
            };
            if reachable.contains(&name) && !mapping_matches(session, dn).await? {
                to_probe.push(known);
            }
        }
        let deadline = self.node_deadline;
        let all_ok = match &an_schemas {
            _ if to_probe.is_empty() => true,
            Some(schemas) => probe_fresh(
                &self.access_node,
                schemas,
                &to_probe,
                OP,
                Deadline::after(deadline),
            )
            .await
            .is_ok(),
            None => false,
        };
        // When the probe of them all failed, each on its own, all at once.
        let mut links: Vec<(&str, AccessNodeLink)> = match &an_schemas {
            Some(schemas) if !all_ok => {
                join_all(to_probe.iter().map(|name| async move {
                    let result = probe_fresh(
                        &self.access_node,
                        schemas,
                        &[name],
                        OP,
                        Deadline::after(deadline),
                    )
                    .await;
                    (*name, link(result, None))
                }))
                .await
            }
            _ => Vec::new(),
        };
        for dn in &self.data_nodes {
            let name = dn.node_name();
            if !reachable.contains(&name) {
                continue;
            }
            let id = Ident::for_op(name.clone(), "data node", OP, Some(&an_name))?;
            if !registered.contains(&name) {
                plan.add_step(
                    StepKind::AddDataNode,
                    &an_name,
                    &name,
                    show::add_data_node(
                        an_schemas.as_ref(),
                        &id,
                        dn.get_host(),
                        dn.get_port(),
                        dn.get_database(),
                    ),
                    "the access node does not have this data node",
                );
                continue;
            }
            if all_ok || !to_probe.contains(&name.as_str()) {
                continue;
            }
            let Some(at) = links.iter().position(|(n, _)| *n == name) else {
                continue;
            };
            let (_, link) = links.swap_remove(at);
            match link {
                AccessNodeLink::Ok => {}
                AccessNodeLink::NoUserMapping(_) | AccessNodeLink::WrongPassword(_) => {
                    plan.add_step(
                        StepKind::UserMapping,
                        &an_name,
                        &name,
                        show::user_mapping(&RoleSpec::CurrentUser, &id, dn.get_user()),
                        "the access node cannot log in to the data node",
                    );
                }
                AccessNodeLink::NotAdded | AccessNodeLink::NotChecked(_) => {}
                failed => {
                    if let Some(e) = failed.into_error() {
                        plan.add_unknown(&name, "the access node's link to the data node", e);
                    }
                }
            }
        }

        // 3. Tables and their distribution.
        for spec in &self.hypertables {
            let table = spec.hypertable.table_name()?;
            let qualified = table.regclass_text();
            let exists = resolve(session, &table).await?;
            let distributed = match (&exists, an_ready) {
                (Some((schema, name)), true) => session
                    .query_opt(OP, &HYPERTABLE, &[schema, name])
                    .await?
                    .map(|row| session.get::<bool>(OP, &row, "is_distributed"))
                    .transpose()?
                    .unwrap_or(false),
                _ => false,
            };
            if exists.is_none() {
                plan.add_step(
                    StepKind::CreateTable,
                    &an_name,
                    &qualified,
                    spec.create_table.as_str().to_owned(),
                    "the table does not exist",
                );
            }
            if !distributed {
                plan.add_step(
                    StepKind::DistributeTable,
                    &an_name,
                    &qualified,
                    show::distribute(
                        an_schemas.as_ref(),
                        &qualified,
                        spec.hypertable.time_column(),
                        spec.hypertable.partitioning(),
                    ),
                    "the table is not a distributed hypertable",
                );
            }
        }

        // 4. Roles: on every node, with mappings and grants.
        for role in &self.roles {
            let nodes: Vec<String> = match role.data_node_names() {
                Some(nodes) => nodes.to_vec(),
                None => self.data_nodes.iter().map(NodeConfig::node_name).collect(),
            };
            let id = Ident::for_op(role.name(), "role", OP, Some(&an_name))?;
            let mut missing = Vec::new();
            if !role_exists(session, role.name()).await? {
                missing.push(format!("the role is missing on {an_name}"));
            }
            for node in &nodes {
                if !has_mapping(session, node, role.name()).await? {
                    missing.push(format!("no user mapping with a password on {node}"));
                }
                if let Some((_, roles)) = roles_on_node.iter().find(|(n, _)| n == node) {
                    if !roles.iter().any(|r| r == role.name()) {
                        missing.push(format!("the role is missing on {node}"));
                    }
                }
            }
            let mut grants = Vec::new();
            for (privileges, table) in role.grants() {
                let table_name =
                    TableName::new(Ident::for_op(table.clone(), "table", OP, Some(&an_name))?);
                grants.push(
                    grant_on_table(privileges, &table_name, &id)
                        .text()
                        .to_owned(),
                );
                if resolve(session, &table_name).await?.is_none() {
                    missing.push(format!("table {table} for the grant does not exist yet"));
                    continue;
                }
                for privilege in privileges {
                    for single in privilege.expanded() {
                        if !has_privilege(session, role.name(), &table_name, single).await? {
                            missing.push(format!("{single} on {table} is not granted"));
                        }
                    }
                }
            }
            if !missing.is_empty() {
                plan.add_step(
                    StepKind::ApplyRole,
                    &an_name,
                    role.name(),
                    show::role(&id, &nodes, &grants),
                    &missing.join("; "),
                );
            }
        }
        Ok(plan)
    }

    /// One session to data node `config`: what it runs or offers, and which of the spec's
    /// roles exist there.
    ///
    /// Within the cluster's node deadline: a session cut off at the deadline is cancelled
    /// and never goes back to the pool.
    async fn check_data_node(&self, config: &NodeConfig) -> Result<NodeCheck> {
        let name = config.node_name();
        let deadline = Deadline::after(self.node_deadline);
        let pool = self.data_node_pool(config)?;
        let client = deadline.run(OP, &name, pool.get(OP)).await?;
        let session = client.session();
        let check = async {
            let server = ServerInfo::read_brief(session).await?;
            let mut roles = Vec::new();
            for role in &self.roles {
                if role_exists(session, role.name()).await? {
                    roles.push(role.name().to_owned());
                }
            }
            Ok(NodeCheck { server, roles })
        };
        session.bounded(OP, &name, deadline, check).await
    }
}

/// What [`Cluster::check_data_node`] found.
struct NodeCheck {
    /// What the node runs (brief: versions, licence, preloading).
    server: ServerInfo,
    roles: Vec<String>,
}

/// Whether the access node's mapping for data node `dn` (current user) holds exactly the
/// user and password of `dn`'s settings. The values are compared here and dropped; they are
/// never logged or returned.
async fn mapping_matches(session: &Session, dn: &NodeConfig) -> Result<bool> {
    let rows = session
        .query(OP, &CURRENT_USER_MAPPING_OPTIONS, &[&dn.node_name()])
        .await?;
    let mut user = None;
    let mut password: Option<SecretString> = None;
    for row in &rows {
        let option: String = session.get(OP, row, "option")?;
        match option.split_once('=') {
            Some(("user", value)) => user = Some(value.to_owned()),
            Some(("password", value)) => password = Some(SecretString::from(value.to_owned())),
            _ => {}
        }
    }
    let user_ok = user
        .as_deref()
        .unwrap_or(session_user(session).await?.as_str())
        == dn.get_user();
    let password_ok =
        password.is_some_and(|p| p.expose_secret() == dn.get_password().expose_secret());
    Ok(user_ok && password_ok)
}

async fn session_user(session: &Session) -> Result<String> {
    let row = session.query_one(OP, &CURRENT_USER, &[]).await?;
    session.get(OP, &row, "name")
}

async fn resolve(session: &Session, table: &TableName) -> Result<Option<(String, String)>> {
    let row = session
        .query_opt(OP, &RESOLVE_TABLE, &[&table.regclass_text()])
        .await?;
    row.map(|row| {
        Ok((
            session.get(OP, &row, "schema")?,
            session.get(OP, &row, "name")?,
        ))
    })
    .transpose()
}

async fn role_exists(session: &Session, role: &str) -> Result<bool> {
    let row = session.query_one(OP, &ROLE_EXISTS, &[&role]).await?;
    session.get(OP, &row, "exists")
}

/// Whether `role` has a mapping with a password on `server`. A mapping whose options this
/// role may not read (another role's, seen by a non-superuser) counts as having one: its
/// password cannot be checked without reading it.
async fn has_mapping(session: &Session, server: &str, role: &str) -> Result<bool> {
    Ok(match mapping_options(session, OP, server, role).await? {
        Mapping::Absent => false,
        Mapping::Hidden => true,
        Mapping::Options(names) => names.iter().any(|o| o == "password"),
    })
}

async fn has_privilege(
    session: &Session,
    role: &str,
    table: &TableName,
    privilege: &str,
) -> Result<bool> {
    let row = session
        .query_one(
            OP,
            &HAS_TABLE_PRIVILEGE,
            &[&role, &table.regclass_text(), &privilege],
        )
        .await?;
    session.get(OP, &row, "granted")
}
