//! The cluster as a whole: the access node and every data node with its own credentials,
//! for the operations that need both sides (health, password rotation).

mod apply;
mod heal;
mod plan;
mod rotate;
#[cfg(feature = "serde")]
mod spec_file;
mod status;

pub use apply::ApplyReport;
pub use heal::{HealReport, NodeHeal};
pub use plan::{Plan, Step, StepKind, Unknown};
pub use rotate::{Rotation, RotationStep};
pub use status::{
    AccessNodeLink, ClusterStatus, DataNodeStatus, NodeStatus, PreparedTransaction,
    UnderReplicatedChunk,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    /// What to do when a setting would record a secret the cluster's operations send.
    secret_logging: SecretLogging,
    /// Small pools kept between calls (shared by clones), so a repeated `plan()` reuses
    /// warm sessions instead of opening one per node each time.
    pools: Arc<Pools>,
}

/// The pools a [`Cluster`] keeps: one per node, made on first use.
#[derive(Debug, Default)]
struct Pools {
    access_node: tokio::sync::OnceCell<NodePool>,
    data_nodes: Mutex<HashMap<String, NodePool>>,
}

/// Connections each of a cluster's pools keeps at most (reads for plans only).
const CLUSTER_POOL_SIZE: u32 = 2;

impl Cluster {
    /// A cluster with this access node and no data nodes yet.
    pub fn new(access_node: NodeConfig) -> Self {
        Cluster {
            access_node,
            data_nodes: Vec::new(),
            hypertables: Vec::new(),
            roles: Vec::new(),
            secret_logging: SecretLogging::default(),
            pools: Arc::default(),
        }
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
