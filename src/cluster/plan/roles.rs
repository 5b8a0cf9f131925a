//! What the plan reads of the spec's roles on the access node: whether each exists and
//! may log in, its user mappings, its stored password, and what its grants there lack.
//! Read on the access node alone, so that the plan reads them while it checks the data
//! nodes; what the data nodes hold of the roles is read with their check.

use futures_util::future::join_all;

use super::tables::resolve;
use super::{Prune, OP};
use crate::cluster::verifier::{read_stored, Stored};
use crate::cluster::Cluster;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::node::{DistributedRole, GrantOn};
use crate::server::ServerInfo;
use crate::sql::hypertable::TableName;
use crate::sql::role::{
    DIRECT_TABLE_PRIVILEGES, HAS_TABLE_PRIVILEGE, ROLE_LOGIN, SCHEMA_GRANT_STATE,
};
use crate::sql::user_mapping::ROLE_MAPPINGS;

/// What the plan read of one spec role on the access node.
pub(super) struct RoleReads {
    /// Whether the role exists there (`None`: no), and whether it may log in.
    pub(super) login: Option<bool>,
    /// Its user mapping on each of its data nodes, in their order.
    pub(super) mappings: Vec<RoleMapping>,
    /// Its stored password there, when the plan checks passwords and it could be read.
    pub(super) stored: Option<Stored>,
    /// What was read for each of its grants, in their order.
    pub(super) grants: Vec<GrantReads>,
}

/// What the plan read for one grant of a role on the access node.
#[derive(Default)]
pub(super) struct GrantReads {
    /// On all tables of a schema: what the grant lacks there (nothing read where the role
    /// does not exist).
    pub(super) schema_gaps: Vec<String>,
    /// On a table: whether the table exists.
    pub(super) table_exists: bool,
    /// On an existing table: whether the role has each single privilege of the grant, in
    /// order (all false where the role does not exist).
    pub(super) granted: Vec<bool>,
    /// On an existing table, in prune mode, where the role exists: the privileges granted
    /// to it directly.
    pub(super) direct: Vec<String>,
}

impl Cluster {
    /// What the plan reads of each spec role on the access node, in the spec's order, over
    /// the plan's `session`: all roles at once, two round trips for them all.
    pub(super) async fn read_roles(
        &self,
        session: &Session,
        an_info: &ServerInfo,
    ) -> Result<Vec<RoleReads>> {
        join_all(
            self.roles
                .iter()
                .map(|role| self.read_role(session, an_info, role)),
        )
        .await
        .into_iter()
        .collect()
    }

    async fn read_role(
        &self,
        session: &Session,
        an_info: &ServerInfo,
        role: &DistributedRole,
    ) -> Result<RoleReads> {
        let an_name = self.access_node.node_name();
        let nodes = self.role_nodes(role);
        let tables = role
            .grants()
            .iter()
            .map(|(_, on)| on.table_name(OP, Some(&an_name)))
            .collect::<Result<Vec<_>>>()?;
        // Sent together (one round trip): the role, its mappings, its stored password (read
        // only where the admin may, and used only when the password is checked), and
        // whether the tables of its grants exist.
        let (login, mappings, stored, existing) = tokio::join!(
            role_login(session, role.name()),
            mapping_states(session, &nodes, role.name()),
            async {
                if self.role_password_check {
                    read_stored(session, OP, an_info, role.name()).await.ok()
                } else {
                    None
                }
            },
            join_all(tables.iter().map(|table| async move {
                match table {
                    Some(table) => Ok(resolve(session, table).await?.is_some()),
                    None => Ok(false),
                }
            })),
        );
        let login = login?;
        let mappings = mappings?;
        let exists = login.is_some();
        // Then what each grant has (one round trip for them all).
        let grants = join_all(role.grants().iter().zip(&tables).zip(existing).map(
            |(((privileges, on), table), table_exists)| async move {
                let mut read = GrantReads::default();
                let singles: Vec<&str> = privileges
                    .iter()
                    .flat_map(|p| p.expanded())
                    .copied()
                    .collect();
                let Some(table) = table else {
                    if let (GrantOn::AllTablesInSchema(schema), true) = (on, exists) {
                        let gaps =
                            join_all(singles.iter().map(|single| {
                                schema_grant_gaps(session, schema, role.name(), single)
                            }))
                            .await;
                        for gap in gaps {
                            read.schema_gaps.extend(gap?);
                        }
                    }
                    return Ok(read);
                };
                read.table_exists = table_exists?;
                if !read.table_exists || !exists {
                    // A role that does not exist has no privilege (and has_table_privilege
                    // would fail on it, 42704).
                    read.granted = vec![false; singles.len()];
                    return Ok(read);
                }
                let (granted, direct) = tokio::join!(
                    join_all(singles.iter().map(|single| has_privilege(
                        session,
                        role.name(),
                        table,
                        single
                    )),),
                    async {
                        if self.prune == Prune::Off {
                            return Ok(Vec::new());
                        }
                        session
                            .query(
                                OP,
                                &DIRECT_TABLE_PRIVILEGES,
                                &[&table.regclass_text(), &role.name()],
                            )
                            .await?
                            .iter()
                            .map(|row| session.get::<String>(OP, row, "privilege"))
                            .collect::<Result<Vec<_>>>()
                    },
                );
                read.granted = granted.into_iter().collect::<Result<_>>()?;
                read.direct = direct?;
                Ok::<_, Error>(read)
            },
        ))
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        Ok(RoleReads {
            login,
            mappings,
            stored,
            grants,
        })
    }

    /// The data nodes `role` is created on: those it names, else all of the spec's.
    pub(super) fn role_nodes(&self, role: &DistributedRole) -> Vec<String> {
        match role.data_node_names() {
            Some(nodes) => nodes.to_vec(),
            None => self.data_nodes.iter().map(|dn| dn.node_name()).collect(),
        }
    }
}

/// Whether `role` exists (`None`: no), and whether it may log in.
async fn role_login(session: &Session, role: &str) -> Result<Option<bool>> {
    session
        .query_opt(OP, &ROLE_LOGIN, &[&role])
        .await?
        .map(|row| session.get(OP, &row, "can_login"))
        .transpose()
}

/// What `role`'s mapping on `server` looks like to the plan.
pub(super) enum RoleMapping {
    /// None, or one without a password.
    Missing,
    /// One that logs in as another user than the role (its name).
    WrongUser(String),
    /// One with a password, logging in as the role (or with options this role may not
    /// read: another role's, seen by a non-superuser; its password cannot be checked
    /// without reading it).
    Ok,
}

/// What `role`'s mapping on each of `servers` looks like to the plan, in `servers`' order,
/// read in one statement.
async fn mapping_states(
    session: &Session,
    servers: &[String],
    role: &str,
) -> Result<Vec<RoleMapping>> {
    let rows = session
        .query(OP, &ROLE_MAPPINGS, &[&servers, &role])
        .await?;
    let mut states: Vec<RoleMapping> = servers.iter().map(|_| RoleMapping::Missing).collect();
    for row in &rows {
        let server: String = session.get(OP, row, "server")?;
        let Some(at) = servers.iter().position(|s| *s == server) else {
            continue;
        };
        if !session.get::<bool>(OP, row, "mapped")? {
            continue;
        }
        let names: Option<Vec<String>> = session.get(OP, row, "option_names")?;
        let remote_user: Option<String> = session.get(OP, row, "remote_user")?;
        states[at] = match names {
            // Another role's options, hidden from a non-superuser.
            None => RoleMapping::Ok,
            Some(names) if !names.iter().any(|o| o == "password") => RoleMapping::Missing,
            Some(_) => match remote_user {
                Some(user) if user != role => RoleMapping::WrongUser(user),
                _ => RoleMapping::Ok,
            },
        };
    }
    Ok(states)
}

/// What `role`'s grant of `privilege` on all tables of `schema` lacks on this node: tables
/// without it, and the default privilege for new tables. A missing schema lacks the default
/// privilege (applying the grant then fails, naming the schema).
pub(super) async fn schema_grant_gaps(
    session: &Session,
    schema: &str,
    role: &str,
    privilege: &str,
) -> Result<Vec<String>> {
    let row = session
        .query_one(OP, &SCHEMA_GRANT_STATE, &[&schema, &role, &privilege])
        .await?;
    let lacking: i64 = session.get(OP, &row, "lacking")?;
    let by_default: bool = session.get(OP, &row, "by_default")?;
    let mut gaps = Vec::new();
    if lacking > 0 {
        gaps.push(format!(
            "{privilege} on {lacking} table(s) of schema {schema} is not granted"
        ));
    }
    if !by_default {
        gaps.push(format!(
            "{privilege} on new tables of schema {schema} is not granted by default"
        ));
    }
    Ok(gaps)
}

/// Whether `role` has `privilege` on `table`.
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
