//! One access node and N data nodes, each its own throwaway server.

use tokio::task::JoinSet;

use super::install::PgInstall;
use super::server::{AdminModel, LocalServer, LocalServerBuilder};
use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::version::Version;

/// Settings for a [`LocalCluster`].
#[derive(Debug, Clone)]
#[must_use = "does nothing until .start() is awaited"]
pub struct LocalClusterBuilder {
    data_nodes: usize,
    install: Option<PgInstall>,
    release: Option<String>,
    timescaledb: bool,
    admin: AdminModel,
    settings: Vec<(String, String)>,
    keep: bool,
}

impl LocalClusterBuilder {
    /// The number of data nodes. Default: 2.
    pub fn data_nodes(mut self, n: usize) -> Self {
        self.data_nodes = n;
        self
    }

    /// The installation to use. Default: [`PgInstall::discover`].
    pub fn install(mut self, install: PgInstall) -> Self {
        self.install = Some(install);
        self
    }

    /// Runs TimescaleDB `release` (such as `"2.11.2"`) on every node, built from the source
    /// archives in `TSMN_TIMESCALEDB_SOURCES` into a private copy of the installation (see
    /// [`PgInstall::with_timescaledb`]; the first build of a release takes about a minute).
    /// Default: the installation's own TimescaleDB ([`PgInstall::discover`]).
    pub fn timescaledb_release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Which kind of admin `tsdbadmin` is on every node. Default: [`AdminModel::Superuser`].
    pub fn admin(mut self, admin: AdminModel) -> Self {
        self.admin = admin;
        self
    }

    /// Whether to preload TimescaleDB where the installation has multi-node. Default: true.
    pub fn timescaledb(mut self, enabled: bool) -> Self {
        self.timescaledb = enabled;
        self
    }

    /// Adds a `postgresql.conf` setting on every node.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Keeps every node's data directory and server log after shutdown (see
    /// [`LocalServerBuilder::keep`]; `TSMN_KEEP=1` does the same). Default: false; the nodes
    /// of a cluster dropped while its thread panics (a failing test) are kept either way.
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// Starts every node, concurrently. If one fails, the others are shut down and the
    /// error (with that node's log tail) is returned.
    pub async fn start(self) -> Result<LocalCluster> {
        let install = PgInstall::resolve(self.install, self.release).await?;
        let multinode = install.multinode_support();
        let names =
            std::iter::once("an".to_owned()).chain((1..=self.data_nodes).map(|i| format!("dn{i}")));
        let mut tasks = JoinSet::new();
        for (index, name) in names.enumerate() {
            let mut builder: LocalServerBuilder = LocalServer::builder(name)
                .install(install.clone())
                .admin(self.admin)
                .timescaledb(self.timescaledb)
                .keep(self.keep);
            for (k, v) in &self.settings {
                builder = builder.setting(k.clone(), v.clone());
            }
            tasks.spawn(async move { (index, builder.start().await) });
        }
        let mut started: Vec<(usize, LocalServer)> = Vec::new();
        let mut first_error: Option<Error> = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, Ok(server))) => started.push((index, server)),
                Ok((_, Err(e))) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(Error::Fixture {
                        op: "start local cluster",
                        reason: format!("a start task failed: {e}"),
                        log_tail: None,
                    });
                }
            }
        }
        if let Some(e) = first_error {
            for (_, server) in started {
                let _ = server.shutdown().await;
            }
            return Err(e);
        }
        started.sort_by_key(|(index, _)| *index);
        let mut servers = started.into_iter().map(|(_, s)| s);
        let access_node = servers.next().ok_or_else(|| Error::Fixture {
            op: "start local cluster",
            reason: "the access node did not start".to_owned(),
            log_tail: None,
        })?;
        Ok(LocalCluster {
            access_node,
            data_nodes: servers.collect(),
            multinode: if self.timescaledb {
                multinode
            } else {
                Err("TimescaleDB was turned off for this cluster".to_owned())
            },
        })
    }
}

/// A throwaway cluster for tests: one access node (`an`) and N data nodes (`dn1`, `dn2`,
/// ...), each its own PostgreSQL server on a free loopback port with SCRAM authentication
/// and a password of its own.
///
/// When the installation has TimescaleDB multi-node (2.0–2.13 with its TSL part) every node
/// preloads it and allows prepared transactions; otherwise the nodes are plain PostgreSQL
/// and [`LocalCluster::multinode`] says why.
///
/// ```no_run
/// # async fn demo() -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{testing::LocalCluster, ServerInfo};
///
/// let cluster = LocalCluster::start(2).await?;
/// for node in cluster.nodes() {
///     let info = ServerInfo::detect(&node.config()).await?;
///     println!("{}: PostgreSQL {}", info.node, info.postgres);
/// }
/// cluster.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LocalCluster {
    access_node: LocalServer,
    data_nodes: Vec<LocalServer>,
    multinode: std::result::Result<Version, String>,
}

impl LocalCluster {
    /// Starts one access node and `data_nodes` data nodes with the default settings.
    pub async fn start(data_nodes: usize) -> Result<LocalCluster> {
        Self::builder().data_nodes(data_nodes).start().await
    }

    /// Settings for a cluster.
    pub fn builder() -> LocalClusterBuilder {
        LocalClusterBuilder {
            data_nodes: 2,
            install: None,
            release: None,
            timescaledb: true,
            admin: AdminModel::Superuser,
            settings: Vec::new(),
            keep: false,
        }
    }

    /// The access node.
    pub fn access_node(&self) -> &LocalServer {
        &self.access_node
    }

    /// The access node, to stop or restart it.
    pub fn access_node_mut(&mut self) -> &mut LocalServer {
        &mut self.access_node
    }

    /// The data nodes, in order (`dn1` first).
    pub fn data_nodes(&self) -> &[LocalServer] {
        &self.data_nodes
    }

    /// The data nodes, to stop or restart one.
    pub fn data_nodes_mut(&mut self) -> &mut [LocalServer] {
        &mut self.data_nodes
    }

    /// Every node, the access node first.
    pub fn nodes(&self) -> impl Iterator<Item = &LocalServer> {
        std::iter::once(&self.access_node).chain(self.data_nodes.iter())
    }

    /// The access node's [`NodeConfig`].
    pub fn access_node_config(&self) -> NodeConfig {
        self.access_node.config()
    }

    /// Each data node's [`NodeConfig`], in order.
    pub fn data_node_configs(&self) -> Vec<NodeConfig> {
        self.data_nodes.iter().map(LocalServer::config).collect()
    }

    /// The TimescaleDB version whose multi-node this cluster runs, or why it has none.
    pub fn multinode(&self) -> std::result::Result<Version, &str> {
        self.multinode.as_ref().copied().map_err(String::as_str)
    }

    /// Stops every node and deletes its files (keeps them, for nodes to be kept: see
    /// [`LocalClusterBuilder::keep`]); the first error is returned after all nodes were
    /// tried.
    pub async fn shutdown(self) -> Result<()> {
        let mut result = Ok(());
        for server in std::iter::once(self.access_node).chain(self.data_nodes) {
            let stopped = server.shutdown().await;
            if result.is_ok() {
                result = stopped;
            }
        }
        result
    }
}
