//! Shared helpers: tier 2 detection and plain servers.

use std::io::Write;
use std::sync::Once;

use timescaledb_multinode::testing::{LocalCluster, LocalClusterBuilder, LocalServer, PgInstall};
use timescaledb_multinode::Version;

/// Whether tier 2 can run here. When it cannot, prints `tier 2 skipped: <reason>` once per
/// process (straight to stderr, so the test harness does not hide it), or panics when
/// `TSMN_REQUIRE_TIMESCALEDB=1`.
pub fn tier2() -> Option<Version> {
    static SKIP_NOTICE: Once = Once::new();
    let reason = match PgInstall::discover() {
        Ok(install) => match install.multinode_support() {
            Ok(version) => return Some(version),
            Err(reason) => reason,
        },
        Err(e) => e.to_string(),
    };
    skip_or_fail(&SKIP_NOTICE, "tier 2", &reason)
}

/// Whether the version matrix can run here: it builds each TimescaleDB release from the
/// source archives in `TSMN_TIMESCALEDB_SOURCES`. When that is unset, prints `version
/// matrix skipped: <reason>` once, or panics when `TSMN_REQUIRE_TIMESCALEDB=1`.
pub fn matrix() -> Option<std::path::PathBuf> {
    static SKIP_NOTICE: Once = Once::new();
    if let Some(sources) = PgInstall::timescaledb_sources() {
        return Some(sources);
    }
    skip_or_fail(
        &SKIP_NOTICE,
        "version matrix",
        "TSMN_TIMESCALEDB_SOURCES (a directory of TimescaleDB source archives) is not set",
    )
}

/// Panics when `TSMN_REQUIRE_TIMESCALEDB=1`; otherwise prints `<what> skipped: <reason>` once
/// (`notice` keeps it to one line per process) and returns `None`.
fn skip_or_fail<T>(notice: &Once, what: &str, reason: &str) -> Option<T> {
    if std::env::var("TSMN_REQUIRE_TIMESCALEDB").as_deref() == Ok("1") {
        panic!("TSMN_REQUIRE_TIMESCALEDB=1, but {what} cannot run: {reason}");
    }
    notice.call_once(|| {
        let _ = writeln!(std::io::stderr(), "{what} skipped: {reason}");
    });
    None
}

/// A plain PostgreSQL server (TimescaleDB not preloaded), for tier 1.
pub async fn plain_server(name: &str) -> LocalServer {
    LocalServer::builder(name)
        .timescaledb(false)
        .start()
        .await
        .expect("start a plain PostgreSQL server")
}

/// A plain cluster of 1 + `n` servers, for tier 1.
pub async fn plain_cluster(n: usize) -> LocalCluster {
    LocalCluster::builder()
        .data_nodes(n)
        .timescaledb(false)
        .start()
        .await
        .expect("start a plain local cluster")
}

/// Creates the extension on every node of `cluster` (data nodes first) and adds each data
/// node to the access node; returns the access node with a pool built from `pool`.
pub async fn join(
    cluster: &LocalCluster,
    pool: timescaledb_multinode::PoolConfig,
) -> timescaledb_multinode::AccessNode {
    use timescaledb_multinode::{update_extensions, AccessNode, Bootstrap, DataNode};
    update_extensions(
        &cluster.access_node_config(),
        &cluster.data_node_configs(),
        None,
    )
    .await
    .expect("extensions");
    let an = AccessNode::connect_with_pool(cluster.access_node_config(), &pool)
        .await
        .expect("access node");
    for dn in cluster.data_nodes() {
        DataNode::from_config(&dn.config())
            .bootstrap(Bootstrap::ExistingDatabase)
            .add(&an)
            .await
            .expect("data node");
    }
    an
}

/// A started and joined 1 + `n` cluster (see [`join`]) with the default pool.
pub async fn joined_cluster(n: usize) -> (LocalCluster, timescaledb_multinode::AccessNode) {
    joined_cluster_from(LocalCluster::builder().data_nodes(n)).await
}

/// A cluster started from `builder` and joined (see [`join`]) with the default pool.
pub async fn joined_cluster_from(
    builder: LocalClusterBuilder,
) -> (LocalCluster, timescaledb_multinode::AccessNode) {
    let cluster = builder.start().await.expect("local cluster");
    let an = join(&cluster, timescaledb_multinode::PoolConfig::default()).await;
    (cluster, an)
}

/// The example program `name` that `cargo test` builds beside the test binaries.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join(name);
    assert!(
        bin.is_file(),
        "{} was not built: run the whole `cargo test` (it builds the examples) or \
         `cargo build --examples` first",
        bin.display()
    );
    bin
}
