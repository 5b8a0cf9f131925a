//! The cluster as a whole: [`Cluster`], the access node and every data node with its own
//! credentials, for the operations that need both sides.
//!
//! - Plan / apply from a spec: [`Cluster::plan`] gives a [`Plan`] of [`Step`]s (with the
//!   [`Conflict`]s and [`Unknown`]s it found; [`Prune`] says what to remove),
//!   [`Cluster::apply`] an [`ApplyReport`].
//! - Status: [`Cluster::status`] gives a [`ClusterStatus`], one [`DataNodeStatus`] per data
//!   node, each [`NodeStatus`] with its [`Cause`] when down, the [`AccessNodeLink`] to it, its
//!   [`PreparedTransaction`]s, and the [`UnderReplicatedChunk`]s.
//! - Healing two-phase commits: [`Cluster::heal`] gives a [`HealReport`] of [`NodeHeal`]s.
//! - Password rotation: [`Cluster::rotate_password`] gives a [`Rotation`] (its
//!   [`RotationStep`]s).
//! - Where the chunks live: [`Cluster::chunk_placement`] gives a [`ChunkPlacement`]
//!   ([`NodeChunkRows`], [`ChunkRows`]).
//!
//! Each node's step runs within [`Cluster::node_deadline`] ([`DEFAULT_NODE_DEADLINE`]).

mod apply;
mod apply_lock;
mod cause;
mod heal;
mod link;
mod mapping;
mod placement;
mod plan;
mod probe;
mod proofs;
mod relayed;
mod rotate;
#[cfg(feature = "serde")]
mod spec_file;
mod status;
mod verifier;

pub use apply::ApplyReport;
pub use apply_lock::{APPLY_LOCK_KEY, APPLY_LOCK_WAIT};
pub use cause::Cause;
pub use heal::{HealReport, NodeHeal};
pub use link::AccessNodeLink;
pub use placement::{ChunkPlacement, ChunkRows, NodeChunkRows};
pub use plan::{Conflict, Plan, Prune, Step, StepKind, Unknown};
pub use rotate::{Rotation, RotationStep};
pub use status::{
    ClusterStatus, DataNodeStatus, NodeStatus, PreparedTransaction, UnderReplicatedChunk,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::pool::{NodePool, PoolConfig, PooledClient};
use crate::secret_send::SecretLogging;

/// An access node and its data nodes, each with connection settings of its own (a data
/// node's [`NodeConfig::node_name`] must be its data-node name).
///
/// Only settings are kept; every operation connects when it runs, so a node that is down
/// is reported, not a reason to fail.
///
/// ```no_run
/// # async fn demo(an: timescaledb_multinode::NodeConfig, dn1: timescaledb_multinode::NodeConfig) {
/// use timescaledb_multinode::Cluster;
///
/// let cluster = Cluster::new(an).data_node(dn1);
/// let status = cluster.status().await;
/// for dn in &status.data_nodes {
///     println!("{}: {:?}", dn.name, dn.link);
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Cluster {
    access_node: NodeConfig,
    data_nodes: Vec<NodeConfig>,
    hypertables: Vec<plan::HypertableSpec>,
    roles: Vec<crate::node::DistributedRole>,
    /// Whether plans may include destructive steps.
    prune: Prune,
    /// Whether plans check each role's password by logging in with it.
    role_password_check: bool,
    /// Data nodes the access node reaches at another address than the client: (name, host,
    /// port).
    routes: Vec<(String, String, u16)>,
    /// What to do when a setting would record a secret the cluster's operations send.
    secret_logging: SecretLogging,
    /// How long one node's step of status, plan or heal may take.
    node_deadline: Duration,
    /// How long apply waits for another apply to give the apply lock back.
    apply_lock_wait: Duration,
    /// Small pools kept between calls (shared by clones), so a repeated `plan()` reuses
    /// warm sessions instead of opening one per node each time.
    pools: Arc<Pools>,
}

/// The pools a [`Cluster`] keeps: one per node, made on first use.
#[derive(Debug, Default)]
struct Pools {
    access_node: tokio::sync::OnceCell<NodePool>,
    data_nodes: Mutex<HashMap<String, NodePool>>,
    /// Role passwords already checked against the verifiers a superuser read.
    verified: verifier::Verified,
    /// Logins status proved, by the configuration they were proved under.
    proofs: proofs::Proofs,
    /// Held by the apply running through these pools (see `apply_lock`).
    apply: tokio::sync::Mutex<()>,
}

/// Connections each of a cluster's pools keeps at most (reads for plans only).
const CLUSTER_POOL_SIZE: u32 = 2;

/// The default of [`Cluster::node_deadline`].
pub const DEFAULT_NODE_DEADLINE: Duration = Duration::from_secs(30);

impl Cluster {
    /// A cluster with this access node and no data nodes yet.
    pub fn new(access_node: NodeConfig) -> Self {
        Cluster {
            access_node,
            data_nodes: Vec::new(),
            hypertables: Vec::new(),
            roles: Vec::new(),
            prune: Prune::Off,
            role_password_check: true,
            routes: Vec::new(),
            secret_logging: SecretLogging::default(),
            node_deadline: DEFAULT_NODE_DEADLINE,
            apply_lock_wait: APPLY_LOCK_WAIT,
            pools: Arc::default(),
        }
    }

    /// How long one node's part of [`Cluster::status`], [`Cluster::plan`],
    /// [`Cluster::heal`], [`Cluster::rotate_password`] (its data-node step and its round
    /// trip) and each step of [`Cluster::apply`] may take (default [`DEFAULT_NODE_DEADLINE`],
    /// 30 s): connecting to the node, reading it, each probe the access node makes of a data
    /// node, and each step apply runs (an extension step on its node; every other step on
    /// the access node, including what the access node does on the data nodes for it).
    /// Raise it when a step is slow by nature (detaching a data node with its data on a
    /// large table, say). The nodes are checked at the same time, so a whole call takes
    /// about one deadline per phase however many nodes do not answer.
    ///
    /// When a step passes its deadline, it is reported as [`Error::Timeout`] naming the node
    /// that did not answer (status and heal report it per node; plan lists it as unknown;
    /// an apply step names the data node it connects to or names, else the access node,
    /// and the next apply finishes what it started).
    /// Work the access node does towards a data node is bounded on the server too: its
    /// session gets the time left as `statement_timeout`, and when the deadline passes the
    /// crate sends a cancel request and drops that session (TimescaleDB 2.x waits without
    /// limit for a data node that accepts the connection and never answers: it has no
    /// connect timeout for data nodes). A zero deadline makes every step time out.
    #[must_use]
    pub fn node_deadline(mut self, deadline: Duration) -> Self {
        self.node_deadline = deadline;
        self
    }

    /// The deadline of each node's step (see [`Cluster::node_deadline`]).
    pub fn get_node_deadline(&self) -> Duration {
        self.node_deadline
    }

    /// How long [`Cluster::apply`], [`Cluster::apply_plan`], [`Cluster::rotate_password`] and
    /// [`Cluster::heal`] wait for another apply to give the cluster's apply lock back (default
    /// [`APPLY_LOCK_WAIT`], 2 minutes) before they fail with [`Error::ApplyLockHeld`], which
    /// names the session that holds it. While they wait they log, at info level, who holds
    /// it.
    ///
    /// [`Error::ApplyLockHeld`]: crate::Error::ApplyLockHeld
    #[must_use]
    pub fn apply_lock_wait(mut self, wait: Duration) -> Self {
        self.apply_lock_wait = wait;
        self
    }

    /// How long apply waits for the apply lock (see [`Cluster::apply_lock_wait`]).
    pub fn get_apply_lock_wait(&self) -> Duration {
        self.apply_lock_wait
    }

    /// What the operations that send a secret ([`Cluster::apply`],
    /// [`Cluster::rotate_password`]) do when a setting of a node would record it and the role
    /// cannot turn that setting off: refuse ([`SecretLogging::Refuse`], the default, with
    /// [`Error::SecretWouldBeLogged`]) or send it anyway ([`SecretLogging::Accept`]). See
    /// [`crate::AccessNode::secret_logging`].
    #[must_use]
    pub fn secret_logging(mut self, policy: SecretLogging) -> Self {
        self.secret_logging = policy;
        self
    }

    /// A pooled session to the access node.
    pub(crate) async fn access_node_client(&self, op: &'static str) -> Result<PooledClient<'_>> {
        let pool = self
            .pools
            .access_node
            .get_or_try_init(|| async {
                NodePool::for_crate(
                    self.access_node.clone(),
                    &PoolConfig::default().max_size(CLUSTER_POOL_SIZE),
                )
            })
            .await?;
        pool.get(op).await
    }

    /// The pool of data node `config` (made on first use).
    pub(crate) fn data_node_pool(&self, config: &NodeConfig) -> Result<NodePool> {
        let mut pools = self
            .pools
            .data_nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(pool) = pools.get(&config.node_name()) {
            return Ok(pool.clone());
        }
        let pool = NodePool::for_crate(
            config.clone(),
            &PoolConfig::default().max_size(CLUSTER_POOL_SIZE),
        )?;
        pools.insert(config.node_name(), pool.clone());
        Ok(pool)
    }

    /// Whether [`Cluster::plan`] may plan destructive steps (default [`Prune::Off`]): see
    /// [`Prune`]. Every such step is marked [`Step::destructive`].
    #[must_use]
    pub fn prune(mut self, prune: Prune) -> Self {
        self.prune = prune;
        self
    }

    /// Whether [`Cluster::plan`] checks each role's password (default true): where the role
    /// exists and may log in, the plan logs in as it with the spec's password on every node
    /// at once, and a refusal (28P01) plans the role again. The server checks the password;
    /// nothing secret is read back. Each check is a login on each node per plan (a SCRAM
    /// exchange on both sides), and a refused one is logged by the server and may count
    /// towards a lockout policy: turn it off where that matters more than noticing a
    /// password changed behind the spec's back.
    #[must_use]
    pub fn check_role_passwords(mut self, check: bool) -> Self {
        self.role_password_check = check;
        self
    }

    /// The host and port the access node uses to reach data node `name`, when they differ
    /// from the ones the client uses (its [`NodeConfig`]): with NAT, Kubernetes services or
    /// a cloud's private network the access node may know the data node under another
    /// name. `add_data_node` and `alter_data_node` get this address, and a data node
    /// registered at another one is drift; the client's settings are still used to connect
    /// to the data node directly.
    #[must_use]
    pub fn access_node_route(
        mut self,
        name: impl Into<String>,
        host: impl Into<String>,
        port: u16,
    ) -> Self {
        let name = name.into();
        self.routes.retain(|(n, _, _)| *n != name);
        self.routes.push((name, host.into(), port));
        self
    }

    /// The host and port the access node uses for data node `config`.
    pub(crate) fn seen_by_access_node<'a>(&'a self, config: &'a NodeConfig) -> (&'a str, u16) {
        let name = config.node_name();
        match self.routes.iter().find(|(n, _, _)| *n == name) {
            Some((_, host, port)) => (host, *port),
            None => (config.get_host(), config.get_port()),
        }
    }

    /// Adds a data node's settings.
    #[must_use]
    pub fn data_node(mut self, config: NodeConfig) -> Self {
        self.data_nodes.push(config);
        self
    }

    /// The access node's settings.
    pub fn access_node_config(&self) -> &NodeConfig {
        &self.access_node
    }

    /// The data nodes' settings.
    pub fn data_node_configs(&self) -> &[NodeConfig] {
        &self.data_nodes
    }

    /// Replaces the settings of data node `name` (after a password rotation, say).
    pub fn set_data_node_config(&mut self, config: NodeConfig) -> Result<()> {
        let name = config.node_name();
        match self.data_nodes.iter_mut().find(|c| c.node_name() == name) {
            Some(slot) => {
                *slot = config;
                // New settings, new pool.
                self.pools
                    .data_nodes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&name);
                Ok(())
            }
            None => Err(self.unknown("set data node config", &name)),
        }
    }

    pub(crate) fn find(&self, op: &'static str, name: &str) -> Result<&NodeConfig> {
        self.data_nodes
            .iter()
            .find(|c| c.node_name() == name)
            .ok_or_else(|| self.unknown(op, name))
    }

    fn unknown(&self, op: &'static str, name: &str) -> Error {
        let known: Vec<String> = self.data_nodes.iter().map(NodeConfig::node_name).collect();
        Error::invalid(
            op,
            Some(&self.access_node.node_name()),
            format!("unknown data node {name:?}; this cluster has {known:?}"),
        )
    }
}
