//! Running a plan: idempotent (a converged cluster gets no mutating statement) and
//! resumable (after a failure halfway, the next run finishes the job).

use super::plan::{HypertableSpec, Plan, Step, StepKind};
use super::Cluster;
use crate::error::{Error, Result};
use crate::node::{update_extension, AccessNode, Bootstrap, DataNode, MappingChange, UserMapping};
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
    /// statement that changes a node.
    ///
    /// On a converged cluster it sends no mutating statement. When a step fails, or a node
    /// could not be checked, it stops with an error naming the node; the steps already run
    /// stay done, and the next `apply` (which plans again) finishes the job without
    /// repeating them. While a data node is unreachable, only the steps of the other nodes'
    /// extensions and data-node registrations run: tables, distribution and roles wait,
    /// so that nothing is distributed over fewer nodes than the spec names.
    pub async fn apply(&self) -> Result<ApplyReport> {
        self.apply_with_progress(|_| {}).await
    }

    /// [`Cluster::apply`], calling `progress` before each step (steps are also traced at
    /// debug level).
    pub async fn apply_with_progress(
        &self,
        mut progress: impl FnMut(&Step) + Send,
    ) -> Result<ApplyReport> {
        let plan: Plan = self.plan().await?;
        let mut report = ApplyReport {
            applied: Vec::new(),
        };
        let blocked = !plan.unknown.is_empty();
        let mut an: Option<AccessNode> = None;
        for step in plan.steps {
            let cluster_wide = matches!(
                step.kind,
                StepKind::CreateTable | StepKind::DistributeTable | StepKind::ApplyRole
            );
            if blocked && cluster_wide {
                continue;
            }
            progress(&step);
            tracing::debug!(kind = ?step.kind, node = %step.node, target = %step.target, "apply step");
            self.run_step(&step, &mut an).await?;
            report.applied.push(step);
        }
        if let Some(unknown) = plan.unknown.into_iter().next() {
            // The node's own error (unreachable, wrong password, ...) names it.
            return Err(unknown.error);
        }
        Ok(report)
    }

    async fn access_node<'a>(&self, an: &'a mut Option<AccessNode>) -> Result<&'a AccessNode> {
        if an.is_none() {
            // One session for every step, as a psql script would: the access node's
            // connections to the data nodes are made once.
            let handle = AccessNode::connect(self.access_node.clone())
                .await?
                .secret_logging(self.secret_logging);
            *an = Some(handle.pinned(OP).await?);
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

    async fn run_step(&self, step: &Step, an: &mut Option<AccessNode>) -> Result<()> {
        match step.kind {
            StepKind::CreateExtension => {
                let config = if step.node == self.access_node.node_name() {
                    &self.access_node
                } else {
                    self.find(OP, &step.node)?
                };
                update_extension(config, None).await?;
            }
            StepKind::AddDataNode => {
                let config = self.find(OP, &step.target)?.clone();
                let an = self.access_node(an).await?;
                DataNode::from_config(&config)
                    .bootstrap(Bootstrap::ExistingDatabase)
                    .if_not_exists()
                    .add(an)
                    .await?;
            }
            StepKind::UserMapping => {
                let config = self.find(OP, &step.target)?.clone();
                let an = self.access_node(an).await?;
                let change: MappingChange =
                    UserMapping::new(RoleSpec::CurrentUser, step.target.clone())
                        .remote_user(config.get_user())
                        .password(config.get_password().clone())
                        .ensure(an)
                        .await?;
                tracing::debug!(data_node = %step.target, ?change, "user mapping");
            }
            StepKind::CreateTable => {
                let spec = self.hypertable_spec(&step.target)?;
                let an = self.access_node(an).await?;
                an.execute(&spec.create_table, &[]).await?;
            }
            StepKind::DistributeTable => {
                let spec = self.hypertable_spec(&step.target)?;
                let an = self.access_node(an).await?;
                spec.hypertable.clone().if_not_exists().create(an).await?;
            }
            StepKind::ApplyRole => {
                let role = self
                    .roles
                    .iter()
                    .find(|r| r.name() == step.target)
                    .ok_or_else(|| Error::invalid(OP, None, "the plan names an unknown role"))?;
                let an = self.access_node(an).await?;
                let mut role = role.clone();
                if role.data_node_names().is_none() {
                    let names: Vec<String> =
                        self.data_nodes.iter().map(|c| c.node_name()).collect();
                    role = role.data_nodes(names);
                }
                role.apply(an).await?;
            }
        }
        Ok(())
    }
}
