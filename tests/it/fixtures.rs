//! The fixtures other crates use in their tests: a cluster joined in one call, and servers
//! kept for a look after a failing test or when asked.

use std::path::{Path, PathBuf};

use timescaledb_multinode::server::NodeRole;
use timescaledb_multinode::testing::{LocalCluster, LocalServer};
use timescaledb_multinode::{Error, RawSql, ServerInfo};

use crate::common::{plain_cluster, tier2};

/// The server's own directory (data directory, log, marker files), and whether it runs.
fn root_of(server: &LocalServer) -> PathBuf {
    server.data_dir().parent().unwrap().to_owned()
}

fn assert_kept_and_stopped(root: &Path, why: &str) {
    let marker = std::fs::read_to_string(root.join("kept")).expect("kept marker");
    assert!(marker.contains(why), "{marker}");
    assert!(
        root.join("data/PG_VERSION").is_file(),
        "data directory kept"
    );
    let log = std::fs::read_to_string(root.join("server.log")).expect("server log kept");
    assert!(log.contains("database system is ready"), "{log}");
    assert!(
        !root.join("data/postmaster.pid").exists(),
        "the kept server was stopped"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_server_dropped_by_a_failing_test_is_stopped_and_kept() {
    let server = LocalServer::builder("fails")
        .timescaledb(false)
        .start()
        .await
        .unwrap();
    assert!(!server.is_kept());
    let root = root_of(&server);
    let config = server.config();
    // The test "fails" on another thread that owns the server.
    let failed = std::thread::spawn(move || {
        let _server = server;
        panic!("a failing test (on purpose)");
    })
    .join();
    assert!(failed.is_err());
    assert!(config.connect().await.is_err(), "stopped");
    assert_kept_and_stopped(&root, "a failing test");
    // Kept directories are not leftovers of killed runs.
    LocalServer::remove_leftovers().unwrap();
}

#[tokio::test]
async fn a_server_asked_to_be_kept_is_kept_after_shutdown_and_drop() {
    let cluster = LocalCluster::builder()
        .data_nodes(1)
        .timescaledb(false)
        .keep(true)
        .start()
        .await
        .unwrap();
    let roots: Vec<PathBuf> = cluster.nodes().map(root_of).collect();
    assert!(cluster.nodes().all(LocalServer::is_kept));
    cluster.shutdown().await.unwrap();
    for root in &roots {
        assert_kept_and_stopped(root, "asked");
    }

    let server = LocalServer::builder("kept")
        .timescaledb(false)
        .keep(true)
        .start()
        .await
        .unwrap();
    let root = root_of(&server);
    drop(server);
    assert_kept_and_stopped(&root, "asked");
}

#[tokio::test]
async fn a_passing_test_leaves_nothing_behind() {
    let cluster = plain_cluster(1).await;
    let roots: Vec<PathBuf> = cluster.nodes().map(root_of).collect();
    cluster.shutdown().await.unwrap();
    let server = crate::common::plain_server("dropped").await;
    let dropped = root_of(&server);
    drop(server);
    for root in roots.iter().chain([&dropped]) {
        assert!(!root.exists(), "{} removed", root.display());
    }
}

#[tokio::test]
async fn joining_a_cluster_without_multinode_says_why() {
    let cluster = plain_cluster(1).await;
    let err = cluster.join().await.unwrap_err();
    assert!(matches!(err, Error::Fixture { .. }), "{err:?}");
    assert!(
        err.to_string().contains("no TimescaleDB multi-node"),
        "{err}"
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cluster_joined_in_one_call() {
    let Some(_) = tier2() else { return };
    let joined = LocalCluster::start_joined(2).await.unwrap();

    let nodes = joined.access_node.data_nodes().await.unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["dn1", "dn2"]);
    let info = ServerInfo::detect(&joined.local.access_node_config())
        .await
        .unwrap();
    assert_eq!(info.role, NodeRole::AccessNode);
    // The user mappings work: the access node reaches both data nodes.
    let status = joined.cluster.status().await;
    assert!(status.is_healthy(), "{status}");
    // Joining again changes nothing.
    let again = joined.local.join().await.unwrap();
    assert_eq!(again.data_nodes().await.unwrap().len(), 2);
    let plan = joined.cluster.plan().await.unwrap();
    assert!(plan.steps.is_empty(), "{plan:?}");
    let rows = joined
        .access_node
        .query(&RawSql::vouched("SELECT 1::int4"), &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    joined.shutdown().await.unwrap();
}
