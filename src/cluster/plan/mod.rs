//! Cluster as code: compare the desired cluster with the live one and list the steps that
//! would make them equal. A plan changes nothing.

use std::fmt;
use std::time::Duration;

use futures_util::future::join_all;

use super::cause::Cause;
use super::link::AccessNodeLink;
use super::mapping::MappingCheck;
use super::probe::{link, probe_fresh};
use super::verifier::{read_stored, role_states, Stored};
use super::{Cluster, CLUSTER_POOL_SIZE};
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::{DistributedHypertable, DistributedRole, GrantOn};
use crate::pool::PooledClient;
use crate::server::{Feature, NodeRole, ServerInfo};
use crate::sql::plan as show;
use crate::sql::raw::RawSql;
use crate::sql::role::{
    default_privileges, grant_on_all_tables, grant_on_table, revoke_on_table, Privilege,
};
use crate::sql::server_info::STANDARD_STRINGS;
use crate::sql::user_mapping::RoleSpec;
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
mod roles;
mod tables;

use roles::{schema_grant_gaps, RoleMapping};
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
            async {
                let deadline = Deadline::after(self.node_deadline);
                let client = match held {
                    Some(_) => None,
                    None => Some(
                        deadline
                            .run(OP, &an_name, self.access_node_client(OP))
                            .await?,
                    ),
                };
                let session = held_or_own(held, client.as_ref());
                let info = session
                    .bounded(OP, &an_name, deadline, ServerInfo::read_brief(session))
                    .await?;
                // Not on a node the plan refuses below (with this same error).
                let reads = match info.check_offered_for(OP) {
                    Ok(()) => Ok(self.read_access_node(session, &info).await),
                    Err(e) => Err(e),
                };
                Ok::<_, Error>((client, info, reads))
            },
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
        let mut reachable = Vec::new();
        let mut roles_on_node: Vec<(String, Vec<(String, bool)>)> = Vec::new();
        let mut stored_on_node: Vec<(String, Vec<(String, Stored)>)> = Vec::new();
        let mut grant_gaps: Vec<(String, Vec<(String, String)>)> = Vec::new();
        // Nodes that take no writes: the steps would fail there (see 6).
        let mut read_only: Vec<(String, &'static str)> = Vec::new();
        // The data nodes with the extension installed, and how many data nodes each has of
        // its own (for whether one to add may be added).
        let mut installed: Vec<(String, i64)> = Vec::new();
        // The data nodes whose database does not exist, to be created as they are added.
        let mut to_bootstrap: Vec<String> = Vec::new();
        if let Some(why) = an_info.read_only_reason() {
            read_only.push((an_name.clone(), why));
        }
        for (dn, check) in self.data_nodes.iter().zip(dn_checks) {
            let name = dn.node_name();
            match check {
                Ok(check) => {
                    plan.observe(format!(
                        "data node {name}: extension={:?} roles={:?}",
                        check.server.timescaledb, check.roles
                    ));
                    if let Some(why) = check.server.read_only_reason() {
                        read_only.push((name.clone(), why));
                    }
                    if check.server.timescaledb.is_some() {
                        installed.push((name.clone(), check.server.data_node_count));
                    }
                    if check.server.timescaledb.is_none() {
                        let version = an_info.timescaledb;
                        // Which versions the node offers: read only here, where a new data
                        // node is to get the access node's version.
                        let offered = match version {
                            Some(_) => self.offered_versions(dn).await,
                            None => Ok(Vec::new()),
                        };
                        match (version, offered) {
                            (Some(_), Err(e)) => {
                                plan.add_unknown(&name, "the TimescaleDB versions it offers", e)
                            }
                            (Some(v), Ok(offered)) if !offered.contains(&v) => {
                                plan.add_conflict(
                                    &name,
                                    &name,
                                    format!(
                                        "the extension is not installed, and this server does \
                                         not offer TimescaleDB {v}, the access node's version \
                                         (it offers {:?}); install {v} on it",
                                        offered.iter().map(ToString::to_string).collect::<Vec<_>>()
                                    ),
                                );
                            }
                            _ => {
                                plan.add_step(
                                    StepKind::CreateExtension,
                                    &name,
                                    &name,
                                    show::create_extension(version),
                                    "the extension is not installed",
                                );
                                plan.last_step().extension_version = version;
                            }
                        }
                    }
                    roles_on_node.push((name.clone(), check.roles));
                    stored_on_node.push((name.clone(), check.stored));
                    grant_gaps.push((name.clone(), check.grant_gaps));
                    reachable.push(name);
                }
                Err(e)
                    if is_missing_database(&e, &name)
                        && reads
                            .registered
                            .as_ref()
                            .is_ok_and(|nodes| nodes.iter().any(|n| n.name == name)) =>
                {
                    plan.observe(format!("data node {name}: added, no database"));
                    plan.add_conflict(
                        &name,
                        &name,
                        format!(
                            "the access node has this data node, but its database {:?} does \
                             not exist (dropped?): the chunks it held are gone, and \
                             TimescaleDB cannot give the node a new database in place; take \
                             it out of the spec and delete it in prune mode (TimescaleDB \
                             refuses while it holds the only copy of a chunk: drop such \
                             chunks first), then put it back",
                            dn.get_database()
                        ),
                    );
                }
                Err(e) if is_missing_database(&e, &name) => {
                    match self.missing_database(dn, an_info.timescaledb).await? {
                        MissingDatabase::Bootstrap => {
                            plan.observe(format!("data node {name}: no database, bootstrap"));
                            to_bootstrap.push(name.clone());
                            // Nothing of the spec's is there yet.
                            roles_on_node.push((name.clone(), Vec::new()));
                            stored_on_node.push((name.clone(), Vec::new()));
                            grant_gaps.push((name.clone(), Vec::new()));
                            reachable.push(name);
                        }
                        MissingDatabase::Conflict(reason) => {
                            plan.observe(format!("data node {name}: no database, {reason}"));
                            plan.add_conflict(&name, &name, reason);
                        }
                        MissingDatabase::NotRead => {
                            plan.add_unknown(&name, "extension, data-node and role state", e);
                        }
                    }
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
                show::create_extension(None),
                "the extension is not installed",
            );
        }

        // 2. Data nodes and the access node's user mappings for them.
        // The access node's data nodes, and its mappings for the spec's data nodes; those
        // of data nodes that did not answer, or are not added yet, are left out below.
        let registered = reads.registered?;
        let checks = reads.mappings?;
        for info in &registered {
            plan.observe(format!("registered {info:?}"));
        }
        let is_registered = |name: &str| registered.iter().any(|r| r.name == name);
        // add_data_node logs in to the data node as the access node's current user, whatever
        // user a mapping names: a data node to add under another user fails with 28P01. Refused
        // before anything is sent, whether or not the data node answers.
        for dn in &self.data_nodes {
            let name = dn.node_name();
            if !is_registered(&name) && dn.get_user() != self.access_node.get_user() {
                return Err(Error::invalid(
                    OP,
                    Some(&name),
                    format!(
                        "data node {name:?} is to be added with user {:?}, but add_data_node \
                         logs in to it as the access node's user {:?} (TimescaleDB connects \
                         as the calling role, and a user mapping can only be made once the \
                         node is added); give the data node the access node's user name, or \
                         add it by hand and map it",
                        dn.get_user(),
                        self.access_node.get_user()
                    ),
                ));
            }
        }
        // A data node whose mapping holds the very credentials the data node just accepted
        // from us (its settings') needs no probe: the access node logs in with them. The
        // rest are probed, together first, one by one only when that fails.
        let mut to_probe: Vec<String> = Vec::new();
        let mut wrong_user: Vec<(String, String)> = Vec::new();
        // What the mapping says a failed probe most likely means, for a failure relayed in
        // words the crate does not know (see `relayed.rs`).
        let mut likely: Vec<(String, Option<Cause>)> = Vec::new();
        for (dn, check) in self.data_nodes.iter().zip(checks) {
            let name = dn.node_name();
            if !reachable.contains(&name) || !is_registered(&name) {
                continue;
            }
            plan.observe(format!("mapping of {name}: {check:?}"));
            match check {
                MappingCheck::Matches => {}
                MappingCheck::WrongUser(user) => wrong_user.push((name, user)),
                MappingCheck::NoPassword | MappingCheck::OtherPassword => {
                    likely.push((name.clone(), check.likely_cause()));
                    to_probe.push(name);
                }
            }
        }
        let to_probe: Vec<&str> = to_probe.iter().map(String::as_str).collect();
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
                let likely = &likely;
                join_all(to_probe.iter().map(|name| async move {
                    let result = probe_fresh(
                        &self.access_node,
                        schemas,
                        &[name],
                        OP,
                        Deadline::after(deadline),
                    )
                    .await;
                    let known = likely.iter().find(|(n, _)| n == name).and_then(|(_, c)| *c);
                    (*name, link(result, known))
                }))
                .await
            }
            _ => Vec::new(),
        };
        let alter_supported = an_info.supports(Feature::AlterDataNode);
        // A database to add as a data node must be neither: TimescaleDB refuses one that is
        // (TS174 "node is already a data node"). Read only for the data nodes to add.
        let mut memberships = join_all(
            self.data_nodes
                .iter()
                .filter(|dn| !is_registered(&dn.node_name()))
                .filter_map(|dn| {
                    let name = dn.node_name();
                    let (_, count) = installed.iter().find(|(n, _)| *n == name)?;
                    Some(async move { (name, self.membership(dn, *count).await) })
                }),
        )
        .await;
        for dn in &self.data_nodes {
            let name = dn.node_name();
            if !reachable.contains(&name) {
                continue;
            }
            let id = Ident::for_op(name.clone(), "data node", OP, Some(&an_name))?;
            let (host, port) = self.seen_by_access_node(dn);
            let Some(info) = registered.iter().find(|r| r.name == name) else {
                let membership = memberships
                    .iter()
                    .position(|(n, _)| *n == name)
                    .map(|i| memberships.swap_remove(i).1);
                match membership {
                    Some(Ok(NodeRole::Standalone)) | None => {}
                    Some(Ok(role)) => {
                        plan.observe(format!("data node {name}: {role:?}"));
                        plan.add_conflict(&name, &name, membership_conflict(role, dn));
                        continue;
                    }
                    Some(Err(e)) => {
                        plan.add_unknown(&name, "whether its database is a data node already", e);
                        continue;
                    }
                }
                let bootstrap = to_bootstrap.contains(&name);
                plan.add_step(
                    StepKind::AddDataNode,
                    &an_name,
                    &name,
                    show::add_data_node(
                        an_schemas.as_ref(),
                        &id,
                        host,
                        port,
                        dn.get_database(),
                        bootstrap,
                    ),
                    if bootstrap {
                        "the access node does not have this data node, and its database does \
                         not exist: add_data_node creates it, with the extension at the \
                         access node's version"
                    } else {
                        "the access node does not have this data node"
                    },
                );
                plan.last_step().bootstrap = bootstrap;
                continue;
            };
            let mut drift = Vec::new();
            if info.host.as_deref() != Some(host) {
                drift.push(format!("host {:?} (the spec: {host:?})", info.host));
            }
            if info.port.unwrap_or(NodeConfig::DEFAULT_PORT) != port {
                drift.push(format!("port {:?} (the spec: {port})", info.port));
            }
            if info.database.as_deref() != Some(dn.get_database()) {
                drift.push(format!(
                    "database {:?} (the spec: {:?})",
                    info.database,
                    dn.get_database()
                ));
            }
            if !drift.is_empty() {
                let why = format!(
                    "the access node has this data node at another address: {}",
                    drift.join(", ")
                );
                if alter_supported {
                    plan.add_step(
                        StepKind::AlterDataNode,
                        &an_name,
                        &name,
                        show::alter_data_node(
                            an_schemas.as_ref(),
                            &id,
                            host,
                            port,
                            dn.get_database(),
                        ),
                        &why,
                    );
                } else {
                    plan.add_conflict(
                        &an_name,
                        &name,
                        format!(
                            "{why}; TimescaleDB {} has no alter_data_node (2.9+): update the \
                             extension, or delete the data node and add it again",
                            an_info
                                .timescaledb
                                .map_or_else(|| "?".to_owned(), |v| v.to_string())
                        ),
                    );
                }
            }
            if let Some((_, user)) = wrong_user.iter().find(|(n, _)| *n == name) {
                plan.add_step(
                    StepKind::UserMapping,
                    &an_name,
                    &name,
                    show::user_mapping(&RoleSpec::CurrentUser, &id, dn.get_user()),
                    &format!(
                        "the access node's user mapping logs in as {user:?}, the spec's user \
                         is {:?}",
                        dn.get_user()
                    ),
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
            plan.observe(format!("link to {name}: {link:?}"));
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
        for (role, reads) in self.roles.iter().zip(reads.roles?) {
            let nodes = self.role_nodes(role);
            let id = Ident::for_op(role.name(), "role", OP, Some(&an_name))?;
            let mut missing = Vec::new();
            let on_access_node = reads.login.is_some();
            match reads.login {
                None => missing.push(format!("the role is missing on {an_name}")),
                Some(false) => missing.push(format!("the role may not log in on {an_name}")),
                Some(true) => {}
            }
            for (node, state) in nodes.iter().zip(reads.mappings) {
                match state {
                    RoleMapping::Missing => {
                        missing.push(format!("no user mapping with a password on {node}"))
                    }
                    RoleMapping::WrongUser(user) => missing.push(format!(
                        "the user mapping on {node} logs in as {user:?}, not as the role"
                    )),
                    RoleMapping::Ok => {}
                }
                if let Some((_, roles)) = roles_on_node.iter().find(|(n, _)| n == node) {
                    match roles.iter().find(|(r, _)| r == role.name()) {
                        None => missing.push(format!("the role is missing on {node}")),
                        Some((_, false)) => {
                            missing.push(format!("the role may not log in on {node}"))
                        }
                        Some((_, true)) => {}
                    }
                }
            }
            // The password: where the role exists and may log in, checked against the
            // verifier where the admin may read it (a superuser), else by a login with the
            // spec's password, on every node at once; refused (28P01) means another password.
            if missing.is_empty() && self.role_password_check {
                let verified = &self.pools.verified;
                let an_stored = match reads.stored {
                    Some(stored) => stored,
                    // Not read with the rest: as the node says now (and its error).
                    None => read_stored(session, OP, &an_info, role.name()).await?,
                };
                let mut logins = Vec::new();
                match verified.matches(&an_stored, role.name(), role.password()) {
                    Some(true) => {}
                    Some(false) => missing.push(format!(
                        "the role's password on {an_name} is not the spec's"
                    )),
                    None => logins.push((
                        an_name.clone(),
                        self.access_node
                            .as_user(role.name(), role.password().clone()),
                    )),
                }
                for dn in self
                    .data_nodes
                    .iter()
                    .filter(|d| nodes.contains(&d.node_name()))
                {
                    let dn_name = dn.node_name();
                    if !reachable.contains(&dn_name) {
                        continue;
                    }
                    let password = role.data_node_password_or_default();
                    let stored = stored_on_node
                        .iter()
                        .find(|(n, _)| *n == dn_name)
                        .and_then(|(_, s)| s.iter().find(|(r, _)| r == role.name()))
                        .map_or(&Stored::NotRead, |(_, s)| s);
                    match verified.matches(stored, role.name(), password) {
                        Some(true) => {}
                        Some(false) => missing.push(format!(
                            "the role's password on {dn_name} is not the spec's"
                        )),
                        None => logins.push((dn_name, dn.as_user(role.name(), password.clone()))),
                    }
                }
                let refused = join_all(logins.into_iter().map(|(node, config)| async move {
                    (node, password_refused(config, deadline).await)
                }))
                .await;
                for (node, refused) in refused {
                    if refused {
                        missing.push(format!("the role's password on {node} is not the spec's"));
                    }
                }
            }
            let mut grants = Vec::new();
            let mut revokes = Plan::default();
            let mut revoked: Vec<String> = Vec::new();
            for ((privileges, on), read) in role.grants().iter().zip(reads.grants) {
                let shown = on.describe();
                let Some(table_name) = on.table_name(OP, Some(&an_name))? else {
                    let GrantOn::AllTablesInSchema(schema) = on else {
                        continue;
                    };
                    let schema_id = Ident::for_op(schema.clone(), "schema", OP, Some(&an_name))?;
                    for sql in [
                        grant_on_all_tables(privileges, &schema_id, &id),
                        default_privileges(privileges, &schema_id, &id),
                    ] {
                        grants.push(sql.text().to_owned());
                    }
                    missing.extend(
                        read.schema_gaps
                            .into_iter()
                            .map(|gap| format!("{gap} on {an_name}")),
                    );
                    for node in &nodes {
                        if let Some((_, gaps)) = grant_gaps.iter().find(|(n, _)| n == node) {
                            missing.extend(
                                gaps.iter()
                                    .filter(|(r, _)| r == role.name())
                                    .map(|(_, gap)| format!("{gap} on {node}")),
                            );
                        }
                    }
                    continue;
                };
                grants.push(
                    grant_on_table(privileges, &table_name, &id)
                        .text()
                        .to_owned(),
                );
                if !read.table_exists {
                    missing.push(format!("table {shown} for the grant does not exist yet"));
                    continue;
                }
                let singles = privileges.iter().flat_map(|p| p.expanded());
                for (single, granted) in singles.zip(read.granted) {
                    if !granted {
                        missing.push(format!("{single} on {shown} is not granted"));
                    }
                }
                if self.prune != Prune::Off && on_access_node {
                    let granted = role.table_privileges(&table_name);
                    let extra: Vec<String> = read
                        .direct
                        .into_iter()
                        .filter(|p| !granted.contains(&p.as_str()))
                        .collect();
                    if !extra.is_empty() && !revoked.contains(&table_name.regclass_text()) {
                        revoked.push(table_name.regclass_text());
                        let not_granted: Vec<&str> = Privilege::All
                            .expanded()
                            .iter()
                            .copied()
                            .filter(|p| !granted.contains(p))
                            .collect();
                        revokes.add_step(
                            StepKind::RevokeGrants,
                            &an_name,
                            role.name(),
                            revoke_on_table(&not_granted, &table_name, &id)
                                .text()
                                .to_owned(),
                            &format!(
                                "prune: the role has {} on {shown}, which the spec does not \
                                 grant it",
                                extra.join(", ")
                            ),
                        );
                        let step = revokes.last_step();
                        step.table = Some(table_name.regclass_text());
                        step.destructive = true;
                    }
                }
            }
            plan.observe(format!("role {}: {missing:?}", role.name()));
            if !missing.is_empty() {
                plan.add_step(
                    StepKind::ApplyRole,
                    &an_name,
                    role.name(),
                    show::role(&id, &nodes, &grants),
                    &missing.join("; "),
                );
            }
            plan.steps.append(&mut revokes.steps);
        }

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
            for (node, why) in read_only {
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

    /// What to do about data node `config`, whose database does not exist, read over its
    /// maintenance database as `add_data_node` would reach it (`postgres`, else
    /// `template1`): create it when adding the node, where the admin is a superuser and the
    /// server offers `an_version`; else a conflict that says why not. A server that cannot
    /// run multi-node fails the plan, as for any node.
    async fn missing_database(
        &self,
        config: &NodeConfig,
        an_version: Option<Version>,
    ) -> Result<MissingDatabase> {
        let name = config.node_name();
        let deadline = Deadline::after(self.node_deadline);
        let mut session = None;
        for database in MAINTENANCE_DATABASES {
            let maintenance = config.clone().database(database);
            if let Ok(s) = deadline
                .run(OP, &name, Session::open(&maintenance, OP))
                .await
            {
                session = Some(s);
                break;
            }
        }
        let Some(session) = session else {
            return Ok(MissingDatabase::NotRead);
        };
        let read = session
            .bounded(
                OP,
                &name,
                deadline,
                ServerInfo::read_brief_with_versions(&session),
            )
            .await;
        // Not read: unknown, as for any node that does not answer.
        let Ok(info) = read else {
            return Ok(MissingDatabase::NotRead);
        };
        info.check_offered_for(OP)?;
        let database = config.get_database();
        if !info.is_superuser {
            return Ok(MissingDatabase::Conflict(format!(
                "its database {database:?} does not exist, and {:?} is not a superuser \
                 there, so add_data_node cannot create it with the extension; create it \
                 (owned by {:?}, with the extension), then plan again",
                info.user, info.user
            )));
        }
        if let Some(v) = an_version {
            if !info.timescaledb_available.contains(&v) {
                return Ok(MissingDatabase::Conflict(format!(
                    "its database {database:?} does not exist, and this server does not offer \
                     TimescaleDB {v}, the access node's version, to create it with (it offers \
                     {:?}); install {v} on it",
                    info.timescaledb_available
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                )));
            }
        }
        let standard_strings = session
            .bounded(OP, &name, deadline, async {
                let row = session.query_one(OP, &STANDARD_STRINGS, &[]).await?;
                session.get::<bool>(OP, &row, "standard_strings")
            })
            .await;
        match standard_strings {
            Ok(true) => Ok(MissingDatabase::Bootstrap),
            Ok(false) => Ok(MissingDatabase::Conflict(format!(
                "its database {database:?} does not exist, and add_data_node cannot create \
                 it here: standard_conforming_strings is off for {:?} on this server, so \
                 TimescaleDB's check for the extension (a pattern it writes as '\\d+...') \
                 finds none; turn it on for that role (ALTER ROLE ... SET \
                 standard_conforming_strings = on) or create the database with the \
                 extension, then plan again",
                info.user
            ))),
            Err(_) => Ok(MissingDatabase::NotRead),
        }
    }

    /// Whether data node `config`'s database is an access node, a data node (of this or
    /// another distributed database) or neither; `data_node_count` as the check read it.
    async fn membership(&self, config: &NodeConfig, data_node_count: i64) -> Result<NodeRole> {
        let name = config.node_name();
        let deadline = Deadline::after(self.node_deadline);
        let pool = self.data_node_pool(config)?;
        let client = deadline.run(OP, &name, pool.get(OP)).await?;
        let session = client.session();
        session
            .bounded(
                OP,
                &name,
                deadline,
                ServerInfo::read_role(session, data_node_count),
            )
            .await
    }

    /// The TimescaleDB versions data node `config` offers (its extension not installed).
    async fn offered_versions(&self, config: &NodeConfig) -> Result<Vec<Version>> {
        let name = config.node_name();
        let deadline = Deadline::after(self.node_deadline);
        let pool = self.data_node_pool(config)?;
        let client = deadline.run(OP, &name, pool.get(OP)).await?;
        let session = client.session();
        let info = session
            .bounded(
                OP,
                &name,
                deadline,
                ServerInfo::read_brief_with_versions(session),
            )
            .await?;
        Ok(info.timescaledb_available)
    }

    /// What a data node runs and has of the spec's roles, over the session the cluster
    /// keeps for it; once more over a new session when the kept one's connection ended
    /// (the node restarted since, say), all within one node deadline.
    async fn check_data_node(&self, config: &NodeConfig) -> Result<NodeCheck> {
        let deadline = Deadline::after(self.node_deadline);
        // Each kept session may have ended (a restart ends them all); each that did is
        // dropped, so after as many tries as the pool keeps sessions, one is new.
        let mut tries = 0;
        loop {
            match self.check_data_node_within(config, deadline).await {
                Err(e) if !e.is_timeout() && e.ended_the_session() && tries < CLUSTER_POOL_SIZE => {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    async fn check_data_node_within(
        &self,
        config: &NodeConfig,
        deadline: Deadline,
    ) -> Result<NodeCheck> {
        let name = config.node_name();
        let pool = self.data_node_pool(config)?;
        let client = deadline.run(OP, &name, pool.get(OP)).await?;
        let session = client.session();
        let check = async {
            // Sent together (one round trip): what the node runs, and each role's state
            // (with its stored password, when this session read before that the admin may
            // read it).
            let names: Vec<&str> = self.roles.iter().map(DistributedRole::name).collect();
            let (server, states) = tokio::join!(
                ServerInfo::read_brief(session),
                role_states(session, OP, &names),
            );
            let server = server?;
            let states = states?;
            let mut roles = Vec::new();
            let mut grant_gaps = Vec::new();
            let mut stored = Vec::new();
            for (role, state) in self.roles.iter().zip(states) {
                let Some((can_login, password)) = state else {
                    continue;
                };
                roles.push((role.name().to_owned(), can_login));
                if can_login {
                    let password = match password {
                        // Not read together: as the node says now.
                        Stored::NotRead => read_stored(session, OP, &server, role.name()).await?,
                        read => read,
                    };
                    stored.push((role.name().to_owned(), password));
                }
                for (privileges, on) in role.grants() {
                    let GrantOn::AllTablesInSchema(schema) = on else {
                        continue;
                    };
                    for single in privileges.iter().flat_map(|p| p.expanded()) {
                        for gap in schema_grant_gaps(session, schema, role.name(), single).await? {
                            grant_gaps.push((role.name().to_owned(), gap));
                        }
                    }
                }
            }
            Ok(NodeCheck {
                server,
                roles,
                stored,
                grant_gaps,
            })
        };
        session.bounded(OP, &name, deadline, check).await
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

/// Where `add_data_node(bootstrap => true)` connects to create a data node's database, in
/// order.
const MAINTENANCE_DATABASES: [&str; 2] = ["postgres", "template1"];

/// What the plan does about a data node whose database does not exist.
enum MissingDatabase {
    /// Create it as the node is added.
    Bootstrap,
    /// It cannot be created so: why.
    Conflict(String),
    /// The server could not be read over a maintenance database either (the plan reports
    /// the node unknown with the error of its own database).
    NotRead,
}

/// Whether `e`, from checking data node `node`, says its database does not exist (3D000 at
/// login: the server accepted the credentials first).
fn is_missing_database(e: &Error, node: &str) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME)
        && e.node() == Some(node)
}

/// Why data node `dn`, a database that is already an access node or a data node (`role`),
/// cannot be added.
fn membership_conflict(role: NodeRole, dn: &NodeConfig) -> String {
    let what = match role {
        NodeRole::AccessNode => "is an access node with data nodes of its own",
        _ => {
            "is a data node of a distributed database already (a data node deleted from its \
             access node keeps that mark, and its tables and data)"
        }
    };
    format!(
        "the access node does not have this data node, but its database {:?} {what}; \
         TimescaleDB adds only a database that is neither. Drop and create that database \
         (what it holds is lost), or give the spec another one",
        dn.get_database()
    )
}

/// What [`Cluster::check_data_node`] found.
struct NodeCheck {
    /// What the node runs (brief: versions, licence, preloading).
    server: ServerInfo,
    /// The spec's roles that exist there, and whether each may log in.
    roles: Vec<(String, bool)>,
    /// The stored passwords of those that may log in, where the admin may read them.
    stored: Vec<(String, Stored)>,
    /// What the roles' grants on all tables of a schema lack there: (role, what).
    grant_gaps: Vec<(String, String)>,
}

/// Whether `config` (a role's login on one node) is refused for its password (28P01); the
/// server checks the password, the crate reads no secret back. Any other outcome (in, a
/// `pg_hba.conf` refusal, no answer) says nothing about the password.
async fn password_refused(config: NodeConfig, deadline: Duration) -> bool {
    let node = config.node_name();
    match Deadline::after(deadline)
        .run(OP, &node, Session::open(&config, OP))
        .await
    {
        Ok(_) => false,
        Err(e) => e.code().is_some_and(|c| c.code() == "28P01"),
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
