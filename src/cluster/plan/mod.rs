//! Cluster as code: compare the desired cluster with the live one and list the steps that
//! would make them equal. A plan changes nothing.

use std::fmt;

use futures_util::future::join_all;
use secrecy::ExposeSecret;

use super::Cluster;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::{DistributedHypertable, DistributedRole};
use crate::pool::PooledClient;
use crate::sql::plan as show;
use crate::sql::raw::RawSql;
use crate::version::Version;

/// A distributed hypertable the cluster should have: the table's definition (run when the
/// table is missing) and how to distribute it.
#[derive(Debug, Clone)]
pub(crate) struct HypertableSpec {
    pub(crate) create_table: RawSql,
    pub(crate) hypertable: DistributedHypertable,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum StepKind {
    /// Create the TimescaleDB extension on a node (on a data node, at the access node's
    /// version when the access node has it: [`Step::extension_version`]).
    CreateExtension,
    /// Add a data node (with its user mapping, then a round trip).
    AddDataNode,
    /// Point a registered data node at the host, port and database of the spec
    /// (`alter_data_node`, TimescaleDB 2.9+).
    AlterDataNode,
    /// Create or update the access node's user mapping for a data node.
    UserMapping,
    /// Create a table (from its definition in the spec).
    CreateTable,
    /// Distribute a table as a hypertable.
    DistributeTable,
    /// Attach a data node of the spec to a distributed hypertable it is not attached to
    /// (`attach_data_node`; [`Step::data_node`] names it).
    AttachDataNode,
    /// Set a distributed hypertable's replication factor to the spec's
    /// (`set_replication_factor`; existing chunks are not copied).
    SetReplicationFactor,
    /// Set a hypertable's chunk interval to the spec's (`set_chunk_time_interval`; for new
    /// chunks).
    SetChunkInterval,
    /// Create or update a distributed role, its mappings and grants.
    ApplyRole,
    /// Prune mode only, destructive: detach a data node from a hypertable the spec does not
    /// place on it ([`Step::data_node`] names it).
    DetachDataNode,
    /// Prune mode only, destructive: delete a data node the spec does not have.
    DeleteDataNode,
    /// Prune mode only, destructive: revoke from a role of the spec the privileges on a
    /// table ([`Step::table`]) that the spec does not grant it (`target` is the role).
    RevokeGrants,
}

impl StepKind {
    /// Whether the step acts on the cluster as a whole (tables, distribution, roles) rather
    /// than on one node: such steps wait until every node could be checked.
    pub(crate) fn is_cluster_wide(&self) -> bool {
        !matches!(
            self,
            StepKind::CreateExtension
                | StepKind::AddDataNode
                | StepKind::AlterDataNode
                | StepKind::UserMapping
        )
    }
}

/// One step of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// The data node a table step concerns ([`StepKind::AttachDataNode`],
    /// [`StepKind::DetachDataNode`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub data_node: Option<String>,
    /// The table a role's step concerns ([`StepKind::RevokeGrants`]), quoted as in SQL.
    #[cfg_attr(feature = "serde", serde(default))]
    pub table: Option<String>,
    /// The version a [`StepKind::CreateExtension`] step creates (`None`: the server's
    /// default).
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::version::serde_option_text")
    )]
    pub extension_version: Option<Version>,
    /// Whether the step destroys something (prune mode only): a data node deleted or
    /// detached, and with [`Prune::DropData`] the data it holds.
    #[cfg_attr(feature = "serde", serde(default))]
    pub destructive: bool,
    /// Whether a [`StepKind::AddDataNode`] step also creates the data node's database and
    /// the extension in it (`add_data_node(bootstrap => true)`): the database did not
    /// exist, and the admin is a superuser there.
    #[cfg_attr(feature = "serde", serde(default))]
    pub bootstrap: bool,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.destructive {
            f.write_str("DESTRUCTIVE ")?;
        }
        write!(f, "{:?} {}", self.kind, self.target)?;
        if let Some(dn) = &self.data_node {
            write!(f, " ({dn})")?;
        }
        if let Some(table) = &self.table {
            write!(f, " ({table})")?;
        }
        write!(f, " on {}: {} -- {}", self.node, self.why, self.sql)
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

/// Something the live cluster has that contradicts the spec and that the server cannot
/// change in place. No step is planned for it; it is resolved by hand (the reason says
/// how), and until then the plan is not converged and [`Cluster::apply`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Conflict {
    /// The node where it is.
    pub node: String,
    /// What it concerns (a data node, table or role name).
    pub target: String,
    /// What the spec says, what the cluster has, and why it cannot be changed in place.
    pub reason: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CONFLICT {} on {}: {}",
            self.target, self.node, self.reason
        )
    }
}

/// Whether a plan may include destructive steps ([`Cluster::prune`]).
///
/// By default a plan only adds and updates: a data node, a table placement or a grant the
/// spec does not name is left alone. Prune mode plans removing them, each step marked
/// [`Step::destructive`]; removing the data they hold is a second opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Prune {
    /// Nothing destructive (the default).
    #[default]
    Off,
    /// Detach data nodes from hypertables the spec does not place on them, and delete data
    /// nodes the spec does not have, keeping their data: `detach_data_node` without
    /// `drop_remote_data` or `force` (the server refuses when a chunk would lose its last
    /// copy), `delete_data_node` without `drop_database` (the data node's database stays).
    /// TimescaleDB does not add such a database as a data node again (it keeps its
    /// distributed identity and its tables): a spec that names it again gets a conflict
    /// saying so.
    KeepData,
    /// As [`Prune::KeepData`], and also drop what the removed nodes hold:
    /// `drop_remote_data` and `drop_database`. Data is lost.
    DropData,
}

/// The ordered steps that would make the live cluster match the spec
/// ([`Cluster::plan`]).
///
/// A plan can be shown (`Display`, and JSON with the `serde` feature), approved, and applied
/// as it is with [`Cluster::apply_plan`], which refuses when the cluster or the spec changed
/// since the plan was made ([`Plan::fingerprint`]).
#[derive(Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Plan {
    /// The steps, in the order [`Cluster::apply`] runs them.
    pub steps: Vec<Step>,
    /// What could not be checked. A plan with unknowns cannot be approved; serialized,
    /// each shows its node, what and the error's text, and reading such a plan back fails.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            serialize_with = "unknown_serde::serialize",
            deserialize_with = "unknown_serde::deserialize"
        )
    )]
    pub unknown: Vec<Unknown>,
    /// What contradicts the spec and cannot be changed in place.
    #[cfg_attr(feature = "serde", serde(default))]
    pub conflicts: Vec<Conflict>,
    /// A digest (SHA-256, hex) of everything the plan read from the cluster and of its
    /// steps and conflicts: [`Cluster::apply_plan`] plans again and applies only when the
    /// digest is the same.
    pub fingerprint: String,
    /// What the plan read, in order (hashed into the fingerprint; not kept in JSON).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) observed: Vec<String>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        for conflict in &self.conflicts {
            writeln!(f, "{conflict}")?;
        }
        for unknown in &self.unknown {
            writeln!(
                f,
                "UNKNOWN {} on {}: {}",
                unknown.what, unknown.node, unknown.error
            )?;
        }
        if self.is_converged() {
            writeln!(f, "converged")?;
        }
        write!(f, "fingerprint {}", self.fingerprint)
    }
}

#[cfg(feature = "serde")]
mod unknown_serde {
    use super::Unknown;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(serde::Serialize)]
    struct Shown<'a> {
        node: &'a str,
        what: &'a str,
        error: String,
    }

    pub(super) fn serialize<S: Serializer>(unknown: &[Unknown], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(unknown.len()))?;
        for u in unknown {
            seq.serialize_element(&Shown {
                node: &u.node,
                what: &u.what,
                error: u.error.to_string(),
            })?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Unknown>, D::Error> {
        let items = Vec::<serde::de::IgnoredAny>::deserialize(d)?;
        if items.is_empty() {
            Ok(Vec::new())
        } else {
            Err(serde::de::Error::custom(
                "a plan that could not check every node cannot be applied; plan again when \
                 every node answers",
            ))
        }
    }
}

impl Plan {
    /// Whether the live cluster matches the spec: nothing to do, nothing unknown, no
    /// conflict.
    pub fn is_converged(&self) -> bool {
        self.steps.is_empty() && self.unknown.is_empty() && self.conflicts.is_empty()
    }

    /// Whether any step is destructive (prune mode).
    pub fn is_destructive(&self) -> bool {
        self.steps.iter().any(|s| s.destructive)
    }

    fn add_step(&mut self, kind: StepKind, node: &str, target: &str, sql: String, why: &str) {
        self.steps.push(Step {
            kind,
            node: node.to_owned(),
            target: target.to_owned(),
            sql,
            why: why.to_owned(),
            data_node: None,
            table: None,
            extension_version: None,
            destructive: false,
            bootstrap: false,
        });
    }

    /// The step added last (to set its optional fields).
    fn last_step(&mut self) -> &mut Step {
        self.steps.last_mut().expect("a step was just added")
    }

    fn add_unknown(&mut self, node: &str, what: &str, error: Error) {
        self.unknown.push(Unknown {
            node: node.to_owned(),
            what: what.to_owned(),
            error,
        });
    }

    fn add_conflict(&mut self, node: &str, target: &str, reason: String) {
        self.conflicts.push(Conflict {
            node: node.to_owned(),
            target: target.to_owned(),
            reason,
        });
    }

    /// Adds `other`'s steps, conflicts, unknowns and what it read after this plan's.
    fn append(&mut self, mut other: Plan) {
        self.steps.append(&mut other.steps);
        self.unknown.append(&mut other.unknown);
        self.conflicts.append(&mut other.conflicts);
        self.observed.append(&mut other.observed);
    }

    /// Records a fact the plan read, for the fingerprint. Never a secret.
    fn observe(&mut self, fact: String) {
        self.observed.push(fact);
    }

    /// The digest of what was read and of what is planned.
    fn seal(&mut self) {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let mut feed = |text: &str| {
            hash.update((text.len() as u64).to_be_bytes());
            hash.update(text.as_bytes());
        };
        for fact in &self.observed {
            feed(fact);
        }
        for step in &self.steps {
            feed(&format!("{step:?}"));
        }
        for conflict in &self.conflicts {
            feed(&format!("{conflict:?}"));
        }
        for unknown in &self.unknown {
            feed(&format!("unknown {} {}", unknown.node, unknown.what));
        }
        self.fingerprint = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    }
}

mod access_node;
mod data_nodes;
mod role_steps;
mod roles;
mod tables;

use tables::Tables;

const OP: &str = "plan cluster";

impl Cluster {
    /// Adds a distributed hypertable to the spec: `create_table` (one `CREATE TABLE`, run
    /// only when the table is missing; a string literal, or [`RawSql::vouched`] for text
    /// made at run time) and how to distribute it.
    #[must_use]
    pub fn hypertable(
        mut self,
        create_table: impl Into<RawSql>,
        hypertable: DistributedHypertable,
    ) -> Self {
        self.hypertables.push(HypertableSpec {
            create_table: create_table.into(),
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
    /// in the spec, names are identifiers, no role named like the admin or a data node's
    /// login user, access-node addresses only for the spec's data nodes.
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
        // A role and its password belong to a PostgreSQL instance, not to a database: nodes
        // that are databases of one instance (the same host and port) and log in as one user
        // must give it one password, or each would set it back on the others.
        let all: Vec<&NodeConfig> = std::iter::once(&self.access_node)
            .chain(&self.data_nodes)
            .collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[..i] {
                if a.same_instance(b)
                    && a.get_user() == b.get_user()
                    && a.get_password().expose_secret() != b.get_password().expose_secret()
                {
                    return Err(Error::invalid(
                        op,
                        Some(&a.node_name()),
                        format!(
                            "{:?} and {:?} are databases of one PostgreSQL instance ({}:{}) \
                             with the same user {:?} but different passwords; a role's \
                             password belongs to the instance: give both the same one",
                            b.node_name(),
                            a.node_name(),
                            a.get_host(),
                            a.get_port(),
                            a.get_user()
                        ),
                    ));
                }
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
            // A distributed role's password is set on every node it names: a role named
            // like the admin would lock the crate (and the access node's mappings) out.
            let admin = self.access_node.get_user();
            if role.name() == admin {
                return Err(Error::invalid(
                    op,
                    Some(&an),
                    format!(
                        "role {:?} is the access node's admin user; a distributed role's \
                         password is set on every node, which would change the admin's",
                        role.name()
                    ),
                ));
            }
            let split = role.data_node_password_or_default().expose_secret()
                != role.password().expose_secret();
            let nodes = self.role_nodes(role);
            if let Some(dn) = self.data_nodes.iter().find(|dn| {
                split && nodes.contains(&dn.node_name()) && dn.same_instance(&self.access_node)
            }) {
                return Err(Error::invalid(
                    op,
                    Some(&an),
                    format!(
                        "role {:?} has another password on the data nodes than on the access \
                         node, but data node {:?} is a database of the access node's \
                         PostgreSQL instance, where the role is one: give it one password",
                        role.name(),
                        dn.node_name()
                    ),
                ));
            }
            if let Some(dn) = self.data_nodes.iter().find(|c| c.get_user() == role.name()) {
                return Err(Error::invalid(
                    op,
                    Some(&an),
                    format!(
                        "role {:?} is the user the access node logs in to data node {:?} as; \
                         a distributed role's password is set on every node, which would break \
                         that login",
                        role.name(),
                        dn.node_name()
                    ),
                ));
            }
        }
        for (name, host, port) in &self.routes {
            if !names.contains(name) {
                return Err(Error::invalid(
                    op,
                    Some(&an),
                    format!(
                        "an access-node address is given for data node {name:?}, which is not \
                         in the spec ({names:?})"
                    ),
                ));
            }
            if host.trim().is_empty() || host.contains('\0') || *port == 0 {
                return Err(Error::invalid(
                    op,
                    Some(name),
                    "the access node's address of the data node needs a host (no NUL byte) \
                     and a port other than 0",
                ));
            }
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
    /// each data node) with
    /// [`ServerInfo::check_multinode_offered`](crate::ServerInfo::check_multinode_offered):
    /// from what the node runs or, where the extension is not created yet, what its server
    /// offers — the default TimescaleDB version, the licence, `shared_preload_libraries` and
    /// the PostgreSQL major.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a spec that contradicts itself;
    /// [`Error::UnsupportedServer`], naming the first node that fails the check above and
    /// what to do (for example "TimescaleDB 2.14.2 has no multi-node (removed in 2.14)",
    /// "timescaledb.license is 'apache'"); the access node's error when it cannot be read
    /// (nothing can be planned without it).
    pub async fn plan(&self) -> Result<Plan> {
        self.plan_on(None).await
    }

    /// [`Cluster::plan`], reading the access node over `held` (a session apply holds its
    /// lock on) when given, else over a session of the cluster's.
    pub(crate) async fn plan_on(&self, held: Option<&Session>) -> Result<Plan> {
        // Each on the heap: the plan's future is large (tens of kilobytes in a debug build),
        // and a caller's stack is not.
        match Box::pin(self.plan_once(held)).await {
            // A kept session that loaded the extension before it was updated fails so
            // (42710, "already loaded with a different version"), and one whose connection
            // ended under it (the server restarted, or ended it as idle) fails as its end
            // says; either is dropped: plan again over new ones (a held one that ended is
            // not used again: apply finds its lock gone before the first step).
            Err(e) if e.code().is_some_and(|c| c.code() == "42710") || e.ended_the_session() => {
                tracing::debug!(error = %e, "a kept session went stale; planning again");
                let held = held.filter(|s| !s.is_poisoned() && !s.client().is_closed());
                Box::pin(self.plan_once(held)).await
            }
            other => other,
        }
    }

    /// [`Cluster::plan_on`], once.
    async fn plan_once(&self, held: Option<&Session>) -> Result<Plan> {
        self.validate_spec(OP)?;
        let an_name = self.access_node.node_name();
        // One access-node session for the whole plan; the data nodes are checked at the same
        // time, each over one session of its own. Everything the plan reads on the access
        // node alone is read meanwhile: what it runs, its data nodes and mappings, the
        // tables, the roles. What depends on the data nodes' answers is decided after.
        let (an, dn_checks) = tokio::join!(
            self.read_access_node_first(held),
            join_all(self.data_nodes.iter().map(|dn| self.check_data_node(dn)))
        );
        let (an_client, an_info, reads) = an?;
        let session = held_or_own(held, an_client.as_ref());
        // Every node that answered must run, or be able to create, a multi-node TimescaleDB
        // before anything is planned, so that `apply` changes nothing on a cluster that
        // cannot work: the access node first, then the data nodes in order.
        an_info.check_offered_for(OP)?;
        for check in dn_checks.iter().flatten() {
            check.server.check_offered_for(OP)?;
        }
        let reads = reads?;
        let mut plan = Plan::default();
        plan.observe(format!(
            "spec prune={:?} an={an_name} user={} extension={:?}",
            self.prune,
            self.access_node.get_user(),
            an_info.timescaledb
        ));

        // 1. The extension, on the data nodes first, at the access node's version when it
        //    has one (a data node must run the same major and at least its minor).
        let states =
            Box::pin(self.data_node_states(&mut plan, &an_info, &reads.registered, dn_checks))
                .await?;
        let an_schemas = an_info.schemas(OP).ok();

        // 2. Data nodes and the access node's user mappings for them.
        // The access node's data nodes, and its mappings for the spec's data nodes; those
        // of data nodes that did not answer, or are not added yet, are left out below.
        let registered = reads.registered?;
        let checks = reads.mappings?;
        Box::pin(self.data_node_steps(
            &mut plan,
            &an_info,
            an_schemas.as_ref(),
            &states,
            &registered,
            checks,
        ))
        .await?;
        let spec_names: Vec<String> = self.data_nodes.iter().map(NodeConfig::node_name).collect();

        // 3. Tables and their distribution: placement on the spec's data nodes, the
        //    replication factor (read with the access node's other reads). Placement steps
        //    run after the roles.
        let Tables {
            plan: tables,
            mut placement,
            ..
        } = reads.tables?;
        plan.append(tables);

        // 4. Roles: on every node, with mappings and grants. What the access node has of
        //    them was read with the tables, while the data nodes were checked.
        Box::pin(self.role_steps(&mut plan, session, &an_info, &states, reads.roles?)).await?;

        plan.steps.append(&mut placement.steps);

        // 5. Prune: data nodes the spec does not have.
        if self.prune != Prune::Off {
            let drop = self.prune == Prune::DropData;
            for info in registered.iter().filter(|r| !spec_names.contains(&r.name)) {
                plan.add_step(
                    StepKind::DeleteDataNode,
                    &an_name,
                    &info.name,
                    show::delete_data_node(an_schemas.as_ref(), &info.name, drop),
                    "prune: the spec does not have this data node",
                );
                plan.last_step().destructive = true;
            }
        }
        // 6. Steps cannot run while a node takes no writes: every step writes on the access
        //    node or through it on the data nodes (a standby, or
        //    `default_transaction_read_only` for the admin there), and apply would stop at
        //    the first. Nothing to apply, nothing to refuse: status names such a node.
        if !plan.steps.is_empty() {
            for (node, why) in states.read_only {
                plan.add_conflict(
                    &node,
                    &node,
                    format!(
                        "the node takes no writes ({why}), so the plan's steps would fail; \
                         make it take writes, then plan again"
                    ),
                );
            }
        }
        plan.seal();
        Ok(plan)
    }
}

/// The access-node session a plan reads over: `held` when given, else the plan's own
/// pooled one.
fn held_or_own<'s>(held: Option<&'s Session>, own: Option<&'s PooledClient<'_>>) -> &'s Session {
    match (held, own) {
        (Some(session), _) => session,
        (None, Some(client)) => client.session(),
        (None, None) => unreachable!("a plan has its own session when none is held"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn node(name: &str, user: &str) -> NodeConfig {
        NodeConfig::new("127.0.0.1", user, SecretString::from("pw")).name(name)
    }

    fn step(kind: StepKind) -> Step {
        let mut plan = Plan::default();
        plan.add_step(kind, "an", "dn1", "SELECT 1".to_owned(), "why");
        plan.steps.remove(0)
    }

    #[test]
    fn databases_of_one_instance_must_agree_on_a_users_password() {
        // Two databases of one instance (the same host and port), one user.
        let a = node("dn_a", "tsdbadmin").database("a");
        let b = node("dn_b", "tsdbadmin").database("b");
        let an = node("an", "tsdbadmin").port(5433);
        Cluster::new(an.clone())
            .data_node(a.clone())
            .data_node(b.clone())
            .validate_spec(OP)
            .unwrap();
        let err = Cluster::new(an.clone())
            .data_node(a.clone())
            .data_node(b.clone().password(SecretString::from("other")))
            .validate_spec(OP)
            .unwrap_err();
        let says = err.to_string();
        assert!(
            says.contains("\"dn_a\" and \"dn_b\" are databases of one PostgreSQL instance"),
            "{says}"
        );
        assert!(!says.contains("other"), "{says}");
        // Another user, or another instance: no matter.
        for other in [
            node("dn_b", "someone")
                .database("b")
                .password(SecretString::from("other")),
            b.clone().port(5434).password(SecretString::from("other")),
        ] {
            Cluster::new(an.clone())
                .data_node(a.clone())
                .data_node(other)
                .validate_spec(OP)
                .unwrap();
        }
        // The access node's instance: a role has one password there.
        let split = DistributedRole::new("r", SecretString::from("x"))
            .data_node_password(SecretString::from("y"));
        let err = Cluster::new(an.clone())
            .data_node(b.clone().port(5433))
            .role(split.clone())
            .validate_spec(OP)
            .unwrap_err();
        assert!(err.to_string().contains("one password"), "{err}");
        Cluster::new(an)
            .data_node(b)
            .role(split)
            .validate_spec(OP)
            .unwrap();
    }

    #[test]
    fn roles_named_like_a_login_user_and_unknown_routes_are_refused() {
        let cluster = Cluster::new(node("an", "tsdbadmin")).data_node(node("dn1", "dn_user"));
        for (role, says) in [
            ("tsdbadmin", "admin user"),
            ("dn_user", "data node \"dn1\""),
        ] {
            let err = cluster
                .clone()
                .role(DistributedRole::new(role, SecretString::from("x")))
                .validate_spec(OP)
                .unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
        }
        let err = cluster
            .clone()
            .access_node_route("dn2", "h", 1)
            .validate_spec(OP)
            .unwrap_err();
        assert!(err.to_string().contains("dn2"), "{err}");
        let err = cluster
            .clone()
            .access_node_route("dn1", "h", 0)
            .validate_spec(OP)
            .unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
        cluster
            .access_node_route("dn1", "h", 1)
            .validate_spec(OP)
            .unwrap();
    }

    #[test]
    fn the_fingerprint_covers_what_was_read_and_the_steps() {
        let mut a = Plan::default();
        a.observe("registered dn1 port 5432".to_owned());
        a.seal();
        let mut b = Plan::default();
        b.observe("registered dn1 port 5433".to_owned());
        b.seal();
        assert_ne!(a.fingerprint, b.fingerprint);
        let mut c = Plan::default();
        c.observe("registered dn1 port 5432".to_owned());
        c.steps.push(step(StepKind::AlterDataNode));
        c.seal();
        assert_ne!(a.fingerprint, c.fingerprint);
        assert_eq!(a.fingerprint.len(), 64);
    }

    #[test]
    fn destructive_steps_are_shown_as_such() {
        let mut s = step(StepKind::DeleteDataNode);
        s.destructive = true;
        assert!(
            s.to_string().starts_with("DESTRUCTIVE DeleteDataNode dn1"),
            "{s}"
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_plan_round_trips_through_json_unless_it_has_unknowns() {
        let mut plan = Plan::default();
        let mut s = step(StepKind::CreateExtension);
        s.extension_version = Some(Version::new(2, 11, 2));
        plan.steps.push(s);
        plan.add_conflict("an", "\"t\"", "a reason".to_owned());
        plan.seal();
        let json = serde_json::to_string(&plan).unwrap();
        assert!(json.contains("\"extension_version\":\"2.11.2\""), "{json}");
        let back: Plan = serde_json::from_str(&json).unwrap();
        assert_eq!(back.steps, plan.steps);
        assert_eq!(back.conflicts, plan.conflicts);
        assert_eq!(back.fingerprint, plan.fingerprint);

        plan.add_unknown("dn2", "everything", Error::invalid(OP, Some("dn2"), "down"));
        let json = serde_json::to_string(&plan).unwrap();
        assert!(json.contains("\"node\":\"dn2\""), "{json}");
        let err = serde_json::from_str::<Plan>(&json).unwrap_err();
        assert!(err.to_string().contains("cannot be applied"), "{err}");
    }
}
