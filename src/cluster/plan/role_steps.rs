//! The plan's role steps: each role of the spec on every node it belongs on, with its
//! login, password, user mappings and grants, from what the access node's reads and the
//! data nodes' checks found.

use std::time::Duration;

use futures_util::future::join_all;

use super::data_nodes::DataNodeStates;
use super::roles::{RoleMapping, RoleReads};
use super::{Plan, Prune, StepKind, OP};
use crate::cluster::verifier::{read_stored, Stored};
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::Result;
use crate::ident::Ident;
use crate::node::GrantOn;
use crate::server::ServerInfo;
use crate::sql::plan as show;
use crate::sql::role::{
    default_privileges, grant_on_all_tables, grant_on_table, revoke_on_table, Privilege,
};

impl Cluster {
    /// The steps that make each of the spec's roles what the spec says (`role_reads`: what
    /// the access node has of each, in their order), and in prune mode revoke what it does
    /// not grant; `session` is the plan's access-node session.
    pub(super) async fn role_steps(
        &self,
        plan: &mut Plan,
        session: &Session,
        an_info: &ServerInfo,
        states: &DataNodeStates,
        role_reads: Vec<RoleReads>,
    ) -> Result<()> {
        let an_name = self.access_node.node_name();
        let deadline = self.node_deadline;
        let DataNodeStates {
            reachable,
            roles_on_node,
            stored_on_node,
            grant_gaps,
            ..
        } = states;
        for (role, reads) in self.roles.iter().zip(role_reads) {
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
                    None => read_stored(session, OP, an_info, role.name()).await?,
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

        Ok(())
    }
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
