//! Shared helpers: tier 2 detection and plain servers.

use timescaledb_multinode::testing::{
    skip_or_fail, LocalCluster, LocalClusterBuilder, LocalServer, PgInstall,
};
use timescaledb_multinode::Version;

/// Whether tier 2 can run here (the crate's public skip helper, `testing::tier2`): prints
/// `tier 2 skipped: <reason>` once, or panics when `TSMN_REQUIRE_TIMESCALEDB=1`.
pub fn tier2() -> Option<Version> {
    timescaledb_multinode::testing::tier2()
}

/// Whether the version matrix can run here: it builds each TimescaleDB release from the
/// source archives in `TSMN_TIMESCALEDB_SOURCES`. When that is unset, prints `version
/// matrix skipped: <reason>` once, or panics when `TSMN_REQUIRE_TIMESCALEDB=1`.
pub fn matrix() -> Option<std::path::PathBuf> {
    if let Some(sources) = PgInstall::timescaledb_sources() {
        return Some(sources);
    }
    skip_or_fail(
        "version matrix",
        "TSMN_TIMESCALEDB_SOURCES (a directory of TimescaleDB source archives) is not set",
    )
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

/// The access node of `cluster`, joined (`LocalCluster::join_with_pool`) with a pool built
/// from `pool`.
pub async fn join(
    cluster: &LocalCluster,
    pool: timescaledb_multinode::pool::PoolConfig,
) -> timescaledb_multinode::AccessNode {
    cluster
        .join_with_pool(&pool)
        .await
        .expect("join the cluster")
}

/// A started and joined 1 + `n` cluster with the default pool.
pub async fn joined_cluster(n: usize) -> (LocalCluster, timescaledb_multinode::AccessNode) {
    joined_cluster_from(LocalCluster::builder().data_nodes(n)).await
}

/// A cluster started from `builder` and joined (`LocalClusterBuilder::start_joined`) with
/// the default pool.
pub async fn joined_cluster_from(
    builder: LocalClusterBuilder,
) -> (LocalCluster, timescaledb_multinode::AccessNode) {
    let joined = builder
        .start_joined()
        .await
        .expect("start and join a cluster");
    (joined.local, joined.access_node)
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

/// A session to `config`'s node that holds the apply lock, as another apply or an
/// operator's `psql` would, and its process id. Dropping the client ends the session (once
/// its connection task runs), which gives the lock back.
pub async fn hold_the_apply_lock(
    config: timescaledb_multinode::NodeConfig,
) -> (timescaledb_multinode::tokio_postgres::Client, i32) {
    let client = config.connect().await.unwrap();
    client
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&timescaledb_multinode::cluster::APPLY_LOCK_KEY],
        )
        .await
        .unwrap();
    let pid = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (client, pid)
}

/// Returns once some session of the access node `local` has tried for the apply lock
/// (`Cluster::apply` and `rotate_password` try again until it is free): that call waits.
pub async fn until_trying_for_the_apply_lock(local: &LocalCluster) {
    let observer = local.access_node_config().connect().await.unwrap();
    for _ in 0..200 {
        let trying: bool = observer
            .query_one(
                "SELECT count(*) > 0 FROM pg_stat_activity \
                  WHERE pid <> pg_backend_pid() AND query LIKE '%pg_try_advisory_lock%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if trying {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing tried for the apply lock");
}

/// Each named test function (taking an `AdminModel`, imported where the macro is used) as
/// two tier-2 tests: as a superuser and as the managed-service admin (not a superuser).
macro_rules! as_both_admins {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::AdminModel;

                #[tokio::test]
                async fn superuser() {
                    let Some(_) = crate::common::tier2() else { return };
                    super::$name(AdminModel::Superuser).await;
                }

                #[tokio::test]
                async fn managed_service() {
                    let Some(_) = crate::common::tier2() else { return };
                    super::$name(AdminModel::ManagedService).await;
                }
            }
        )*
    };
}
pub(crate) use as_both_admins;
