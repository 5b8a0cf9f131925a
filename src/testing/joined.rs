//! A local cluster joined in one call: the extension on every node, the data nodes added to
//! the access node with their user mappings, and the [`Cluster`] that describes it.

use super::cluster::{LocalCluster, LocalClusterBuilder};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::node::{AccessNode, Bootstrap, DataNode, UpdateExtension};
use crate::pool::PoolConfig;

const OP: &str = "join local cluster";

/// A started [`LocalCluster`] whose data nodes are added to its access node: what
/// [`LocalCluster::start_joined`] and [`LocalClusterBuilder::start_joined`] return.
///
/// The fields are the three ways in: the servers (to stop, restart or read logs), the
/// pooled [`AccessNode`] that typed operations and queries go through, and the
/// [`Cluster`] for plan / apply / status / heal / rotate.
///
/// ```no_run
/// # async fn demo() -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::testing::{tier2, LocalCluster};
/// use timescaledb_multinode::{DistributedHypertable, RawSql};
///
/// let Some(_) = tier2() else { return Ok(()) };
/// let joined = LocalCluster::start_joined(2).await?;
/// let table = "CREATE TABLE metrics(time timestamptz NOT NULL, device int4 NOT NULL)";
/// joined.access_node.execute(&RawSql::vouched(table), &[]).await?;
/// DistributedHypertable::new("metrics", "time")
///     .partitioning_column("device")
///     .run(&joined.access_node)
///     .await?;
/// assert!(joined.cluster.status().await.is_healthy());
/// joined.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct JoinedCluster {
    /// The servers: access node `an`, data nodes `dn1`, `dn2`, ...
    pub local: LocalCluster,
    /// The access node, pooled, with every data node added.
    pub access_node: AccessNode,
    /// The cluster as code: this access node and these data nodes.
    pub cluster: Cluster,
}

impl JoinedCluster {
    /// Stops every node and deletes its files (see [`LocalCluster::shutdown`]).
    pub async fn shutdown(self) -> Result<()> {
        drop(self.access_node);
        drop(self.cluster);
        self.local.shutdown().await
    }
}

impl LocalClusterBuilder {
    /// Starts the cluster and joins it ([`LocalCluster::join`]); a node that cannot be
    /// joined shuts the cluster down and returns the error.
    ///
    /// # Errors
    ///
    /// As [`LocalClusterBuilder::start`] and [`LocalCluster::join`].
    pub async fn start_joined(self) -> Result<JoinedCluster> {
        let local = self.start().await?;
        let access_node = match local.join().await {
            Ok(an) => an,
            Err(e) => {
                let _ = local.shutdown().await;
                return Err(e);
            }
        };
        let cluster = local.cluster();
        Ok(JoinedCluster {
            local,
            access_node,
            cluster,
        })
    }
}

impl LocalCluster {
    /// Starts one access node and `data_nodes` data nodes with the default settings and
    /// joins them: see [`LocalClusterBuilder::start_joined`].
    ///
    /// # Errors
    ///
    /// As [`LocalClusterBuilder::start`] and [`LocalCluster::join`].
    pub async fn start_joined(data_nodes: usize) -> Result<JoinedCluster> {
        Self::builder().data_nodes(data_nodes).start_joined().await
    }

    /// Joins the cluster with the default pool: see [`LocalCluster::join_with_pool`].
    ///
    /// # Errors
    ///
    /// As [`LocalCluster::join_with_pool`].
    pub async fn join(&self) -> Result<AccessNode> {
        self.join_with_pool(&PoolConfig::default()).await
    }

    /// Creates (or updates) the extension on every node, data nodes first
    /// ([`UpdateExtension::run_cluster`]), and adds each data node to the access node with a
    /// user mapping for `tsdbadmin` and its own password ([`DataNode::run`] with
    /// [`Bootstrap::ExistingDatabase`] and [`DataNode::idempotent`], so joining twice is
    /// harmless);
    /// returns the access node with a pool built from `pool`.
    ///
    /// # Errors
    ///
    /// [`Error::Fixture`] when the cluster has no TimescaleDB multi-node
    /// ([`LocalCluster::multinode`] says why; start tier-2 tests with
    /// [`tier2`](super::tier2)); otherwise the error of the step that failed, naming the node.
    pub async fn join_with_pool(&self, pool: &PoolConfig) -> Result<AccessNode> {
        if let Err(why) = self.multinode() {
            return Err(Error::Fixture {
                op: OP,
                reason: format!("the cluster has no TimescaleDB multi-node: {why}"),
                log_tail: None,
            });
        }
        UpdateExtension::new()
            .run_cluster(&self.access_node_config(), &self.data_node_configs())
            .await?;
        let an = AccessNode::connect_with_pool(self.access_node_config(), pool).await?;
        for dn in self.data_nodes() {
            DataNode::from_config(&dn.config())
                .bootstrap(Bootstrap::ExistingDatabase)
                .idempotent()
                .run(&an)
                .await?;
        }
        Ok(an)
    }

    /// The [`Cluster`] of this access node and these data nodes (no hypertables or roles),
    /// for plan / apply / status / heal / rotate. Makes no connection.
    pub fn cluster(&self) -> Cluster {
        self.data_nodes()
            .iter()
            .fold(Cluster::new(self.access_node_config()), |cluster, dn| {
                cluster.data_node(dn.config())
            })
    }
}
