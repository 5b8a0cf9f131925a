//! Tier 2, the version matrix: the smoke set on every multi-node release this crate's
//! tests build (2.9.3, 2.11.2, 2.13.1), each a real cluster on a private installation
//! with that release's own loader, and the extension updated across a cluster from 2.9.3
//! through 2.11.2 to 2.13.1. The whole suite runs on the default release (2.13.1).
//!
//! The releases are built from the source archives in `TSMN_TIMESCALEDB_SOURCES` (cached
//! after the first build); without it the matrix prints `version matrix skipped: <reason>`.

use timescaledb_multinode::lifecycle::ExtensionChange;
use timescaledb_multinode::server::NodeRole;
use timescaledb_multinode::testing::{LocalCluster, LocalClusterBuilder, LocalServer, PgInstall};
use timescaledb_multinode::{
    AccessNode, Bootstrap, DataNode, DistributedHypertable, RawSql, ServerInfo, UpdateExtension,
    Version,
};

use crate::common::matrix;

/// The multi-node releases of the matrix, oldest first.
const RELEASES: [&str; 3] = ["2.9.3", "2.11.2", "2.13.1"];

/// A 1 + 2 cluster builder on `release`, when the matrix can run.
fn on(release: &str) -> Option<LocalClusterBuilder> {
    matrix()?;
    Some(
        LocalCluster::builder()
            .data_nodes(2)
            .timescaledb_release(release),
    )
}

/// The smoke set of one release.
macro_rules! release {
    ($module:ident, $release:literal) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn runs_the_release_asked_for() {
                let Some(_) = matrix() else { return };
                runs_release($release).await;
            }

            smoke!($release);
        }
    };
}

/// The smoke set's cluster tests for one release.
macro_rules! smoke {
    ($release:literal) => {
        #[tokio::test]
        async fn the_how_to() {
            let Some(builder) = on($release) else { return };
            crate::multinode::how_to(builder).await;
        }

        #[tokio::test]
        async fn plan_apply_plan_status() {
            let Some(builder) = on($release) else { return };
            crate::cluster_code::plan_apply_converge(builder).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_real_in_doubt_commit_is_healed() {
            let Some(builder) = on($release) else { return };
            crate::heal::lost_between_prepare_and_commit(builder).await;
        }

        #[tokio::test]
        async fn a_password_rotation() {
            let Some(builder) = on($release) else { return };
            crate::operate::rotation(builder).await;
        }

        #[tokio::test]
        async fn no_planted_look_alike_runs() {
            let Some(builder) = on($release) else { return };
            crate::hijack::no_planted_function_runs(builder).await;
        }
    };
}

release!(v2_9_3, "2.9.3");
release!(v2_11_2, "2.11.2");

/// 2.13.1: the suite's own default release. Its cluster tests are the suite's
/// (`multinode`, `cluster_code`, `heal`, `operate`, `hijack`), so only the release check is here
/// unless the suite runs on another release.
mod v2_13_1 {
    use super::*;

    #[tokio::test]
    async fn runs_the_release_asked_for() {
        let Some(_) = matrix() else { return };
        runs_release("2.13.1").await;
    }

    /// Whether the rest of the suite runs on 2.13.1 (then it is this release's smoke set,
    /// and says so on stderr once).
    async fn suite_covers_it() -> bool {
        static NOTICE: std::sync::Once = std::sync::Once::new();
        let suite = tokio::task::spawn_blocking(PgInstall::discover)
            .await
            .unwrap()
            .unwrap();
        let covered = suite.timescaledb_version() == Some("2.13.1");
        if covered {
            NOTICE.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "version matrix: 2.13.1's smoke set is the suite's own tests, which run on it"
                );
            });
        }
        covered
    }

    #[tokio::test]
    async fn the_suite_runs_on_it_or_the_smoke_set_does() {
        let Some(_) = matrix() else { return };
        if suite_covers_it().await {
            return;
        }
        crate::multinode::how_to(on("2.13.1").unwrap()).await;
        crate::cluster_code::plan_apply_converge(on("2.13.1").unwrap()).await;
        crate::operate::rotation(on("2.13.1").unwrap()).await;
        crate::hijack::no_planted_function_runs(on("2.13.1").unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_suite_heals_on_it_or_the_smoke_set_does() {
        let Some(_) = matrix() else { return };
        if !suite_covers_it().await {
            crate::heal::lost_between_prepare_and_commit(on("2.13.1").unwrap()).await;
        }
    }
}

/// A server on `release` creates exactly that version by default and reports it.
async fn runs_release(release: &str) {
    let version: Version = release.parse().unwrap();
    let server = LocalServer::builder("an")
        .timescaledb_release(release)
        .start()
        .await
        .unwrap();
    assert_eq!(server.install().timescaledb_version(), Some(release));
    assert_eq!(server.install().multinode_support(), Ok(version));
    let client = server.config().connect().await.unwrap();
    client
        .batch_execute("CREATE EXTENSION timescaledb")
        .await
        .unwrap();
    let info = ServerInfo::detect(&server.config()).await.unwrap();
    assert_eq!(info.timescaledb, Some(version));
    assert_eq!(info.timescaledb_default, Some(version));
    info.check_multinode().unwrap();
    server.shutdown().await.unwrap();
}

async fn count(an: &AccessNode) -> i64 {
    an.query(&RawSql::vouched("SELECT count(*) FROM sensor_data"), &[])
        .await
        .unwrap()[0]
        .get(0)
}

async fn insert_day(an: &AccessNode, day: u32) {
    an.execute(
        &RawSql::vouched(format!(
            "INSERT INTO sensor_data SELECT '2024-01-{day:02}'::timestamptz + i * interval '1 hour', \
             s, 20 + s FROM generate_series(0, 4) i, generate_series(1, 4) s"
        )),
        &[],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn update_extension_across_a_cluster_from_2_9_3_through_2_11_2_to_2_13_1_keeps_the_rows() {
    let Some(sources) = matrix() else { return };
    let install = tokio::task::spawn_blocking(move || {
        PgInstall::discover_binaries()?.with_timescaledb(sources, RELEASES)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(install.timescaledb_version(), Some("2.13.1"));
    let local = LocalCluster::builder()
        .install(install)
        .data_nodes(2)
        .start()
        .await
        .unwrap();
    let an_config = local.access_node_config();
    let dn_configs = local.data_node_configs();

    let first: Version = RELEASES[0].parse().unwrap();
    let created = UpdateExtension::new()
        .to(first)
        .run_cluster(&an_config, &dn_configs)
        .await
        .unwrap();
    assert!(created
        .iter()
        .all(|u| u.change == ExtensionChange::Created && u.to == first));
    let an = AccessNode::connect(an_config.clone()).await.unwrap();
    for dn in &dn_configs {
        DataNode::from_config(dn)
            .bootstrap(Bootstrap::ExistingDatabase)
            .run(&an)
            .await
            .unwrap();
    }
    an.execute(
        &RawSql::vouched(
            "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL, \
             temperature float8)",
        ),
        &[],
    )
    .await
    .unwrap();
    DistributedHypertable::new("sensor_data", "time")
        .partitioning_column("sensor_id")
        .run(&an)
        .await
        .unwrap();
    insert_day(&an, 1).await;
    assert_eq!(count(&an).await, 20);
    drop(an);

    let mut expected = 20;
    let mut from = first;
    for (day, release) in (2..).zip(&RELEASES[1..]) {
        let to: Version = release.parse().unwrap();
        let updates = UpdateExtension::new()
            .to(to)
            .run_cluster(&an_config, &dn_configs)
            .await
            .unwrap();
        let order: Vec<&str> = updates.iter().map(|u| u.node.as_str()).collect();
        assert_eq!(order, ["dn1", "dn2", "an"], "data nodes first");
        for update in &updates {
            assert_eq!(update.from, Some(from), "{update:?}");
            assert_eq!(update.to, to, "{update:?}");
            assert_eq!(update.change, ExtensionChange::Updated, "{update:?}");
        }
        for node in local.nodes() {
            let info = ServerInfo::detect(&node.config()).await.unwrap();
            assert_eq!(info.timescaledb, Some(to), "{}", node.name());
        }
        let info = ServerInfo::detect(&an_config).await.unwrap();
        assert_eq!(info.role, NodeRole::AccessNode);
        assert_eq!(info.data_node_count, 2);

        // Rows intact, and the cluster still takes writes on the new version.
        let an = AccessNode::connect(an_config.clone()).await.unwrap();
        assert_eq!(count(&an).await, expected, "rows after the update to {to}");
        insert_day(&an, day).await;
        expected += 20;
        assert_eq!(count(&an).await, expected);
        from = to;
    }
    local.shutdown().await.unwrap();
}
