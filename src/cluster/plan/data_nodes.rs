//! What the plan reads and decides of the spec's data nodes: each node's check (what it
//! runs, the spec's roles there), what to do about a database that is missing, whether a
//! database to add is a member of a distributed database already; then the extension,
//! registration, address and user-mapping steps.
//!
//! Each phase is a function of its own, so that no one future's frame holds them all (a
//! debug build lays out every temporary of a function side by side on the stack).

use futures_util::future::{join_all, BoxFuture};

use super::{Plan, StepKind, OP};
use crate::catalog::DataNodeInfo;
use crate::cluster::cause::Cause;
use crate::cluster::link::AccessNodeLink;
use crate::cluster::mapping::MappingCheck;
use crate::cluster::probe::{link, probe_fresh};
use crate::cluster::verifier::{read_stored, role_states, Stored};
use crate::cluster::{Cluster, CLUSTER_POOL_SIZE};
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::{DistributedRole, GrantOn};
use crate::server::{Feature, NodeRole, ServerInfo};
use crate::sql::functions::Schemas;
use crate::sql::plan as show;
use crate::sql::server_info::STANDARD_STRINGS;
use crate::sql::user_mapping::RoleSpec;
use crate::version::Version;

use super::roles::schema_grant_gaps;

/// What the plan learned of the spec's data nodes from their checks, for the later steps.
pub(super) struct DataNodeStates {
    /// The data nodes that answered (or whose database is to be created as they are added).
    pub(super) reachable: Vec<String>,
    /// The spec's roles on each data node, and whether each may log in.
    pub(super) roles_on_node: Vec<(String, Vec<(String, bool)>)>,
    /// The stored passwords of those roles on each data node.
    pub(super) stored_on_node: Vec<(String, Vec<(String, Stored)>)>,
    /// What the roles' grants on all tables of a schema lack on each data node.
    pub(super) grant_gaps: Vec<(String, Vec<(String, String)>)>,
    /// Nodes that take no writes, and why: the steps would fail there.
    pub(super) read_only: Vec<(String, &'static str)>,
    /// The data nodes with the extension installed, and how many data nodes each has of
    /// its own (for whether one to add may be added).
    pub(super) installed: Vec<(String, i64)>,
    /// The data nodes whose database does not exist, to be created as they are added.
    pub(super) to_bootstrap: Vec<String>,
}

impl Cluster {
    /// The extension steps of the data nodes (at the access node's version when it has
    /// one: a data node must run the same major and at least its minor) and of the access
    /// node, from each data node's check; `registered` is what the access node has.
    pub(super) async fn data_node_states(
        &self,
        plan: &mut Plan,
        an_info: &ServerInfo,
        registered: &Result<Vec<DataNodeInfo>>,
        dn_checks: Vec<Result<NodeCheck>>,
    ) -> Result<DataNodeStates> {
        let an_name = self.access_node.node_name();
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
                        && registered
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
        if !an_ready {
            plan.add_step(
                StepKind::CreateExtension,
                &an_name,
                &an_name,
                show::create_extension(None),
                "the extension is not installed",
            );
        }

        Ok(DataNodeStates {
            reachable,
            roles_on_node,
            stored_on_node,
            grant_gaps,
            read_only,
            installed,
            to_bootstrap,
        })
    }

    /// The data nodes to add, alter or map on the access node (`registered` is what it
    /// has; `checks`, its mapping for each of the spec's data nodes).
    pub(super) async fn data_node_steps(
        &self,
        plan: &mut Plan,
        an_info: &ServerInfo,
        an_schemas: Option<&Schemas>,
        states: &DataNodeStates,
        registered: &[DataNodeInfo],
        checks: Vec<MappingCheck>,
    ) -> Result<()> {
        let an_name = self.access_node.node_name();
        let DataNodeStates {
            reachable,
            installed,
            to_bootstrap,
            ..
        } = states;
        for info in registered {
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
                    show::add_data_node(an_schemas, &id, host, port, dn.get_database(), bootstrap),
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
                        show::alter_data_node(an_schemas, &id, host, port, dn.get_database()),
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
        Ok(())
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
    /// (the node restarted since, say), all within one node deadline. Boxed: the plan
    /// checks every data node at once, and each check's future is large in a debug build.
    pub(super) fn check_data_node<'a>(
        &'a self,
        config: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<NodeCheck>> {
        Box::pin(async move {
            let deadline = Deadline::after(self.node_deadline);
            // Each kept session may have ended (a restart ends them all); each that did is
            // dropped, so after as many tries as the pool keeps sessions, one is new.
            let mut tries = 0;
            loop {
                match self.check_data_node_within(config, deadline).await {
                    Err(e)
                        if !e.is_timeout()
                            && e.ended_the_session()
                            && tries < CLUSTER_POOL_SIZE =>
                    {
                        tries += 1;
                    }
                    other => return other,
                }
            }
        })
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
pub(super) struct NodeCheck {
    /// What the node runs (brief: versions, licence, preloading).
    pub(super) server: ServerInfo,
    /// The spec's roles that exist there, and whether each may log in.
    roles: Vec<(String, bool)>,
    /// The stored passwords of those that may log in, where the admin may read them.
    stored: Vec<(String, Stored)>,
    /// What the roles' grants on all tables of a schema lack there: (role, what).
    grant_gaps: Vec<(String, String)>,
}
