//! The quickstart example, run as a program against a cluster given through its
//! environment variables: twice on a real cluster (idempotent), and on plain PostgreSQL
//! (it explains what is missing, redacts passwords, and exits with status 2).

use std::path::PathBuf;
use std::process::{Command, Output};

use timescaledb_multinode::testing::LocalCluster;
use timescaledb_multinode::ExposeSecret;

use crate::common::{example_binary, matrix, plain_cluster, tier2};

fn quickstart_binary() -> PathBuf {
    example_binary("quickstart")
}

fn run_against(cluster: &LocalCluster) -> Output {
    let an = cluster.access_node();
    let mut cmd = Command::new(quickstart_binary());
    cmd.env("TSMN_ACCESS_NODE", format!("127.0.0.1:{}/tsdb", an.port()))
        .env("TSMN_PASSWORD_AN", an.password().expose_secret());
    let mut specs = Vec::new();
    for dn in cluster.data_nodes() {
        specs.push(format!("{}=127.0.0.1:{}/tsdb", dn.name(), dn.port()));
        cmd.env(
            format!("TSMN_PASSWORD_{}", dn.name().to_uppercase()),
            dn.password().expose_secret(),
        );
    }
    cmd.env("TSMN_DATA_NODES", specs.join(","));
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn quickstart_runs_twice_against_one_cluster() {
    let Some(_) = tier2() else { return };
    let cluster = LocalCluster::start(2).await.unwrap();
    let first = run_against(&cluster);
    let first_text = text(&first);
    assert!(first.status.success(), "{first_text}");
    assert!(
        first_text.contains("data node dn1: added now: true"),
        "{first_text}"
    );
    assert!(
        first_text.contains("sensor_data has 212 rows (212 new)"),
        "{first_text}"
    );
    assert!(
        first_text.contains("mn_user1 sees 212 rows"),
        "{first_text}"
    );

    let second = run_against(&cluster);
    let second_text = text(&second);
    assert!(second.status.success(), "{second_text}");
    assert!(
        second_text.contains("data node dn1: added now: false"),
        "{second_text}"
    );
    assert!(
        second_text.contains("sensor_data has 212 rows (0 new)"),
        "{second_text}"
    );
    assert!(
        second_text.contains("extension on an: Unchanged"),
        "{second_text}"
    );
    for node in cluster.nodes() {
        assert!(!first_text.contains(node.password().expose_secret()));
        assert!(!second_text.contains(node.password().expose_secret()));
    }
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn quickstart_on_plain_postgres_says_what_is_missing() {
    let cluster = plain_cluster(2).await;
    let out = run_against(&cluster);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("missing"), "{text}");
    assert!(text.contains("password => [REDACTED]"), "{text}");
    for node in cluster.nodes() {
        assert!(!text.contains(node.password().expose_secret()), "{text}");
    }
    cluster.shutdown().await.unwrap();
}

#[test]
fn quickstart_builds_timescaledb_from_sources_and_runs_its_own_cluster() {
    // The README's main command on a machine whose PostgreSQL has no TimescaleDB: with a
    // directory of source archives it builds (or reuses) 2.13.1 and runs the how-to.
    let Some(sources) = matrix() else { return };
    let out = Command::new(quickstart_binary())
        .env("TSMN_TIMESCALEDB_SOURCES", sources)
        .env_remove("TSMN_ACCESS_NODE")
        .env_remove("TSMN_DATA_NODES")
        .output()
        .unwrap();
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("started a local cluster"), "{text}");
    assert!(text.contains("mn_user1 sees 212 rows"), "{text}");
}

#[tokio::test]
async fn quickstart_runs_as_the_managed_service_admin() {
    // The how-to ran on a managed service whose tsdbadmin is not a superuser.
    let Some(_) = tier2() else { return };
    let cluster = LocalCluster::builder()
        .admin(timescaledb_multinode::testing::AdminModel::ManagedService)
        .start()
        .await
        .unwrap();
    for run in ["first", "second"] {
        let out = run_against(&cluster);
        let text = text(&out);
        assert!(out.status.success(), "{run} run: {text}");
        assert!(text.contains("mn_user1 sees 212 rows"), "{run} run: {text}");
        for node in cluster.nodes() {
            assert!(!text.contains(node.password().expose_secret()));
        }
    }
    cluster.shutdown().await.unwrap();
}
