//! Running a plan: idempotent (a converged cluster gets no mutating statement) and
//! resumable (after a failure halfway, the next run finishes the job).

use futures_util::future::{join_all, BoxFuture};

use super::apply_lock::ApplyLock;
use super::plan::{HypertableSpec, Plan, Prune, Step, StepKind};
use super::Cluster;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::node::{
    create_on_session, AccessNode, AlterDataNode, AttachDataNode, Bootstrap, DataNode,
    DeleteDataNode, DetachDataNode, MappingChange, SetChunkInterval, SetReplicationFactor,
    UserMapping,
};
use crate::sql::hypertable::TableName;
use crate::sql::user_mapping::RoleSpec;

/// What [`Cluster::apply`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The steps run, in order.
    pub applied: Vec<Step>,
}

const OP: &str = "apply cluster";

impl Cluster {
    /// Makes the live cluster match the spec: plans, then runs the steps in order.
    ///
    /// The plan's checks come first: when a node cannot run multi-node (see
    /// [`Cluster::plan`]) it returns that [`Error::UnsupportedServer`] before sending any
    /// statement that changes a node; when the plan has conflicts (something the server
    /// cannot change in place), it returns [`Error::Conflict`] listing them all, and runs
    /// nothing.
    ///
    /// On a converged cluster it sends no mutating statement. When a step fails, the steps
    /// of other nodes still run (the steps of the cluster as a whole, and later steps of
    /// the failed node, do not), and every error comes back: the node's own error when there
    /// is one, else [`Error::Several`] with each. The same for nodes that could not be
    /// checked. The steps already run stay done, and the next `apply` (which plans again)
    /// finishes the job without repeating them. While a data node is unreachable, only the
    /// steps of the other nodes' extensions and data-node registrations run: tables,
    /// distribution and roles wait, so that nothing is distributed over fewer nodes than the
    /// spec names.
    ///
    /// Two applies of one cluster never interleave: apply plans and runs under a lock on
    /// the access node ([`APPLY_LOCK_KEY`](super::APPLY_LOCK_KEY)), waiting up to
    /// [`Cluster::apply_lock_wait`] for another apply to finish ([`Error::ApplyLockHeld`],
    /// naming the holder, after that); the second then plans and finds the work done.
    pub async fn apply(&self) -> Result<ApplyReport> {
        self.apply_with_progress(|_| {}).await
    }

    /// [`Cluster::apply`], calling `progress` before each step (steps are also traced at
    /// debug level).
    pub async fn apply_with_progress(
        &self,
        progress: impl FnMut(&Step) + Send,
    ) -> Result<ApplyReport> {
        let lock = self.apply_lock().await?;
        let report = match lock.during(self.plan_on(Some(lock.session()))).await {
            Ok(plan) => Box::pin(self.run_plan(plan, &lock, progress)).await,
            Err(e) => Err(e),
        };
        lock.release().await;
        report
    }

    /// Applies `approved`, a plan shown and approved earlier (perhaps read back from JSON),
    /// exactly: it plans again first and refuses with [`Error::StalePlan`] unless the new
    /// plan's [`Plan::fingerprint`] is the approved one's, that is, unless the cluster (as
    /// the plan read it) and the spec are as they were. Then it runs the approved steps as
    /// [`Cluster::apply`] does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a plan with unknowns (it could not check every node, so
    /// it cannot be approved); [`Error::StalePlan`]; [`Error::Conflict`]; then as
    /// [`Cluster::apply`].
    pub async fn apply_plan(&self, approved: &Plan) -> Result<ApplyReport> {
        self.apply_plan_with_progress(approved, |_| {}).await
    }

    /// [`Cluster::apply_plan`], calling `progress` before each step.
    pub async fn apply_plan_with_progress(
        &self,
        approved: &Plan,
        progress: impl FnMut(&Step) + Send,
    ) -> Result<ApplyReport> {
        let an = self.access_node.node_name();
        if !approved.unknown.is_empty() {
            return Err(Error::invalid(
                OP,
                Some(&an),
                "the plan could not check every node, so it cannot be approved; plan again \
                 when every node answers",
            ));
        }
        let lock = self.apply_lock().await?;
        let report = Box::pin(self.apply_approved(approved, &lock, progress)).await;
        lock.release().await;
        report
    }

    /// [`Cluster::apply_plan_with_progress`] under the apply lock.
    async fn apply_approved(
        &self,
        approved: &Plan,
        lock: &ApplyLock<'_>,
        progress: impl FnMut(&Step) + Send,
    ) -> Result<ApplyReport> {
        let an = self.access_node.node_name();
        let now = lock.during(self.plan_on(Some(lock.session()))).await?;
        if now.fingerprint != approved.fingerprint {
            let reason = if now.steps != approved.steps || now.conflicts != approved.conflicts {
                format!(
                    "it would now run {} step(s) and report {} conflict(s), not the approved \
                     {} and {}",
                    now.steps.len(),
                    now.conflicts.len(),
                    approved.steps.len(),
                    approved.conflicts.len()
                )
            } else {
                "the cluster changed since the plan was made".to_owned()
            };
            return Err(Error::StalePlan {
                op: OP,
                node: an,
                reason,
            });
        }
        let plan = Plan {
            steps: approved.steps.clone(),
            unknown: now.unknown,
            conflicts: approved.conflicts.clone(),
            ..Plan::default()
        };
        self.run_plan(plan, lock, progress).await
    }

    /// Runs `plan`'s steps; `lock`, the apply lock held meanwhile, is checked before each.
    async fn run_plan(
        &self,
        plan: Plan,
        lock: &ApplyLock<'_>,
        mut progress: impl FnMut(&Step) + Send,
    ) -> Result<ApplyReport> {
        if let Some(first) = plan.conflicts.first() {
            return Err(Error::Conflict {
                op: OP,
                node: first.node.clone(),
                reason: plan
                    .conflicts
                    .iter()
                    .map(|c| format!("{}: {}", c.target, c.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        let mut report = ApplyReport {
            applied: Vec::new(),
        };
        let mut errors: Vec<Error> = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        for unknown in plan.unknown {
            if !failed.contains(&unknown.node) {
                failed.push(unknown.node);
                errors.push(unknown.error);
            }
        }
        let mut an: Option<AccessNode> = None;
        let mut steps = plan.steps.into_iter().peekable();
        while let Some(step) = steps.next() {
            if !errors.is_empty() && step.kind.is_cluster_wide() {
                continue;
            }
            if let Err(e) = lock.check().await {
                errors.push(e);
                break;
            }
            if failed.contains(&step.node) || failed.contains(&step.target) {
                continue;
            }
            if step.kind == StepKind::CreateExtension {
                // Every node's extension at once: each data node's over the session the
                // cluster keeps for it, the access node's over apply's session.
                let mut batch = vec![step];
                while let Some(next) = steps.next_if(|s| s.kind == StepKind::CreateExtension) {
                    batch.push(next);
                }
                for step in &batch {
                    progress(step);
                    tracing::debug!(kind = ?step.kind, node = %step.node, "apply step");
                }
                // The access node's extension on the session the steps that follow run on,
                // as a psql script's would: TimescaleDB is loaded in it once. Without such
                // a step, that session is connected meanwhile.
                let an_name = self.access_node.node_name();
                let more = steps.peek().is_some();
                let (dn_outcomes, an_outcome) = lock
                    .during(async {
                        tokio::join!(
                            join_all(
                                batch
                                    .iter()
                                    .filter(|s| s.node != an_name)
                                    .map(|step| self.create_extension(step, None))
                            ),
                            async {
                                match batch.iter().find(|s| s.node == an_name) {
                                    Some(step) => {
                                        Some(self.access_node_extension(step, &mut an).await)
                                    }
                                    None => {
                                        // A failure here shows again at the first use.
                                        if more && an.is_none() {
                                            let _ = self.access_node(&mut an).await;
                                        }
                                        None
                                    }
                                }
                            }
                        )
                    })
                    .await;
                let mut dn_outcomes = dn_outcomes.into_iter();
                let mut an_outcome = an_outcome;
                for step in batch {
                    let outcome = if step.node == an_name {
                        an_outcome.take().unwrap_or(Ok(()))
                    } else {
                        dn_outcomes.next().unwrap_or(Ok(()))
                    };
                    match outcome {
                        Ok(()) => report.applied.push(step),
                        Err(e) => {
                            failed.push(step.node.clone());
                            errors.push(e);
                        }
                    }
                }
                continue;
            }
            progress(&step);
            tracing::debug!(kind = ?step.kind, node = %step.node, target = %step.target, "apply step");
            let mut outcome = lock.during(self.run_step(&step, &mut an)).await;
            if outcome.as_ref().is_err_and(Error::ended_as_idle) {
                // The server ended apply's access-node session as idle just as the step
                // began (so nothing of it ran there): once more, on a new session.
                an = None;
                outcome = lock.during(self.run_step(&step, &mut an)).await;
            }
            match outcome {
                Ok(()) => report.applied.push(step),
                Err(e) => {
                    // A step on the access node towards a data node fails that data node's
                    // later steps; other steps fail their node's.
                    let node = match step.kind {
                        StepKind::AddDataNode | StepKind::AlterDataNode | StepKind::UserMapping => {
                            step.target.clone()
                        }
                        _ => step.node.clone(),
                    };
                    failed.push(node);
                    // The node the error names failed too (the access node refusing to
                    // send a secret fails each of its later steps the same way).
                    if let Some(named) = e.node() {
                        failed.push(named.to_owned());
                    }
                    errors.push(e);
                }
            }
        }
        match errors.len() {
            0 => Ok(report),
            1 => Err(errors.pop().expect("one error")),
            _ => Err(Error::Several { op: OP, errors }),
        }
    }

    async fn access_node<'a>(&self, an: &'a mut Option<AccessNode>) -> Result<&'a AccessNode> {
        // A session the server ended (idle while a long step ran on a data node, say) is
        // replaced.
        if an.as_ref().is_some_and(AccessNode::pinned_session_ended) {
            *an = None;
        }
        if an.is_none() {
            // One session for every step, as a psql script would: the access node's
            // connections to the data nodes are made once.
            let session = Session::open(&self.access_node, OP).await?;
            let handle = AccessNode::pinned_on(self.access_node.clone(), session)?
                .secret_logging(self.secret_logging);
            *an = Some(handle);
        }
        Ok(an.as_ref().expect("set above"))
    }

    /// The spec of the hypertable a step names (by its quoted table name).
    fn hypertable_spec(&self, target: &str) -> Result<&HypertableSpec> {
        self.hypertables
            .iter()
            .find(|h| {
                h.hypertable
                    .table_name()
                    .is_ok_and(|t| t.regclass_text() == target)
            })
            .ok_or_else(|| Error::invalid(OP, None, "the plan names an unknown table"))
    }

    /// The data node a table step names.
    fn step_data_node(step: &Step) -> Result<&str> {
        step.data_node
            .as_deref()
            .ok_or_else(|| Error::invalid(OP, None, "the plan's step names no data node"))
    }

    /// A [`StepKind::CreateExtension`] step, within [`Cluster::node_deadline`]: on a data
    /// node over the session the cluster keeps for it (the plan's), on the access node over
    /// `an_session`, apply's.
    async fn create_extension(&self, step: &Step, an_session: Option<&Session>) -> Result<()> {
        let deadline = Deadline::after(self.node_deadline);
        if step.node == self.access_node.node_name() {
            let session = an_session.ok_or_else(|| {
                Error::invalid(
                    OP,
                    Some(&step.node),
                    "the access node's extension step has no session",
                )
            })?;
            return create_on_session(session, step.extension_version, deadline).await;
        }
        let pool = self.data_node_pool(self.find(OP, &step.node)?)?;
        let client = deadline.run(OP, &step.node, pool.get(OP)).await?;
        create_on_session(client.session(), step.extension_version, deadline).await
    }

    /// The access node's [`StepKind::CreateExtension`] step, on apply's access-node session
    /// (opened now when there is none).
    async fn access_node_extension(&self, step: &Step, an: &mut Option<AccessNode>) -> Result<()> {
        let deadline = Deadline::after(self.node_deadline);
        let handle = deadline.run(OP, &step.node, self.access_node(an)).await?;
        let session = handle
            .pinned_session()
            .expect("apply's access-node handle is pinned")
            .clone();
        let result = self.create_extension(step, Some(&session)).await;
        if session.is_poisoned() {
            *an = None;
        }
        result
    }

    /// Runs `step`: a data node's extension step on the session the cluster keeps for it,
    /// every other step (the access node's extension too) on the access node's session,
    /// within [`Cluster::node_deadline`] (connecting included).
    /// Past the deadline the statement is cancelled on the server and the session given
    /// up, as after a failed data-node connection; the next step opens another.
    async fn run_step(&self, step: &Step, an: &mut Option<AccessNode>) -> Result<()> {
        if step.kind == StepKind::CreateExtension {
            return if step.node == self.access_node.node_name() {
                self.access_node_extension(step, an).await
            } else {
                self.create_extension(step, None).await
            };
        }
        let deadline = Deadline::after(self.node_deadline);
        let handle = deadline
            .run(OP, &self.access_node.node_name(), self.access_node(an))
            .await?
            .clone();
        let session = handle
            .pinned_session()
            .expect("apply's access-node handle is pinned")
            .clone();
        let result = session
            .bounded(
                OP,
                &self.waits_on(step),
                deadline,
                self.access_node_step(step, &handle),
            )
            .await;
        if session.is_poisoned() {
            *an = None;
        }
        result
    }

    /// The node a step that did not finish in time was waiting on, as far as the crate can
    /// tell: the data node the step connects to or names, otherwise the access node.
    fn waits_on(&self, step: &Step) -> String {
        match step.kind {
            StepKind::AddDataNode | StepKind::AlterDataNode | StepKind::DeleteDataNode => {
                step.target.clone()
            }
            _ => step
                .data_node
                .clone()
                .unwrap_or_else(|| self.access_node.node_name()),
        }
    }

    /// A step on the access node, on `an`'s session: each kind's work boxed on its own, so
    /// that no one future holds them all (a debug build lays out every temporary of a
    /// function side by side on the stack).
    fn access_node_step<'a>(
        &'a self,
        step: &'a Step,
        an: &'a AccessNode,
    ) -> BoxFuture<'a, Result<()>> {
        match step.kind {
            // Run by `run_step` and the batch above, on the node's own session.
            StepKind::CreateExtension => Box::pin(async move {
                Err(Error::invalid(
                    OP,
                    Some(&step.node),
                    "an extension step runs on its node's session, not as an access-node step",
                ))
            }),
            StepKind::AddDataNode => Box::pin(async move {
                let config = self.find(OP, &step.target)?.clone();
                let (host, port) = self.seen_by_access_node(&config);
                DataNode::from_config(&config)
                    .host(host)
                    .port(port)
                    .bootstrap(if step.bootstrap {
                        Bootstrap::CreateDatabase
                    } else {
                        Bootstrap::ExistingDatabase
                    })
                    .idempotent()
                    .run(an)
                    .await?;
                Ok(())
            }),
            StepKind::AlterDataNode => Box::pin(async move {
                let config = self.find(OP, &step.target)?.clone();
                let (host, port) = self.seen_by_access_node(&config);
                AlterDataNode::new(step.target.clone())
                    .host(host)
                    .port(port)
                    .database(config.get_database())
                    .run(an)
                    .await?;
                Ok(())
            }),
            StepKind::UserMapping => Box::pin(async move {
                let config = self.find(OP, &step.target)?.clone();
                let change: MappingChange =
                    UserMapping::new(RoleSpec::CurrentUser, step.target.clone())
                        .remote_user(config.get_user())
                        .password(config.get_password().clone())
                        .idempotent()
                        .run(an)
                        .await?;
                tracing::debug!(data_node = %step.target, ?change, "user mapping");
                Ok(())
            }),
            StepKind::CreateTable => Box::pin(async move {
                let spec = self.hypertable_spec(&step.target)?;
                an.execute_pinned(OP, &spec.create_table).await?;
                Ok(())
            }),
            StepKind::DistributeTable => Box::pin(async move {
                let spec = self.hypertable_spec(&step.target)?;
                let created = spec.hypertable.clone().idempotent().run(an).await?;
                if !created.created {
                    // Not "succeeded": the table was a hypertable already, and TimescaleDB
                    // only noticed. The next plan says whether it is a distributed one.
                    return Err(Error::Conflict {
                        op: OP,
                        node: self.access_node.node_name(),
                        reason: format!(
                            "{}: the table became a hypertable before it could be \
                             distributed; plan again",
                            step.target
                        ),
                    });
                }
                Ok(())
            }),
            StepKind::AttachDataNode => Box::pin(async move {
                let spec = self.hypertable_spec(&step.target)?;
                let table = spec.hypertable.table_name()?;
                let dn = Self::step_data_node(step)?;
                AttachDataNode::new(dn, table).idempotent().run(an).await?;
                Ok(())
            }),
            StepKind::SetReplicationFactor => Box::pin(async move {
                let spec = self.hypertable_spec(&step.target)?;
                let table = spec.hypertable.table_name()?;
                let n = spec.hypertable.get_replication_factor().ok_or_else(|| {
                    Error::invalid(OP, None, "the spec gives this table no replication factor")
                })?;
                SetReplicationFactor::new(table, n).run(an).await?;
                Ok(())
            }),
            StepKind::SetChunkInterval => Box::pin(async move {
                let spec = self.hypertable_spec(&step.target)?;
                let table = spec.hypertable.table_name()?;
                let interval = spec.hypertable.get_chunk_interval().ok_or_else(|| {
                    Error::invalid(OP, None, "the spec gives this table no chunk interval")
                })?;
                SetChunkInterval::new(table, interval).run(an).await?;
                Ok(())
            }),
            StepKind::ApplyRole => Box::pin(async move {
                let role = self
                    .roles
                    .iter()
                    .find(|r| r.name() == step.target)
                    .ok_or_else(|| Error::invalid(OP, None, "the plan names an unknown role"))?;
                let mut role = role.clone();
                if role.data_node_names().is_none() {
                    let names: Vec<String> =
                        self.data_nodes.iter().map(|c| c.node_name()).collect();
                    role = role.data_nodes(names);
                }
                role.run(an).await?;
                Ok(())
            }),
            StepKind::RevokeGrants => Box::pin(async move {
                self.check_destructive(step)?;
                let role = self
                    .roles
                    .iter()
                    .find(|r| r.name() == step.target)
                    .ok_or_else(|| Error::invalid(OP, None, "the plan names an unknown role"))?;
                let table = step.table.as_deref().ok_or_else(|| {
                    Error::invalid(OP, None, "the plan's revoke step names no table")
                })?;
                role.revoke_ungranted(an, table).await?;
                Ok(())
            }),
            StepKind::DetachDataNode => Box::pin(async move {
                self.check_destructive(step)?;
                let table = self.pruned_table(&step.target)?;
                let dn = Self::step_data_node(step)?;
                let mut detach = DetachDataNode::new(dn).hypertable(table).idempotent();
                if self.prune == Prune::DropData {
                    detach = detach.drop_remote_data();
                }
                detach.run(an).await?;
                Ok(())
            }),
            StepKind::DeleteDataNode => Box::pin(async move {
                self.check_destructive(step)?;
                let mut delete = DeleteDataNode::new(step.target.clone()).idempotent();
                if self.prune == Prune::DropData {
                    delete = delete.drop_database();
                }
                delete.run(an).await?;
                Ok(())
            }),
        }
    }

    /// A destructive step runs only in prune mode, and only marked as such.
    fn check_destructive(&self, step: &Step) -> Result<()> {
        if self.prune == Prune::Off || !step.destructive {
            return Err(Error::invalid(
                OP,
                Some(&step.node),
                "a destructive step runs only in prune mode (Cluster::prune)",
            ));
        }
        Ok(())
    }

    /// The table a prune step names (a spec table).
    fn pruned_table(&self, target: &str) -> Result<TableName> {
        self.hypertable_spec(target)?.hypertable.table_name()
    }
}
