//! The `LocalCluster` / `LocalServer` fixtures themselves.

use std::collections::HashSet;

use timescaledb_multinode::testing::{LocalCluster, LocalServer};
use timescaledb_multinode::{Error, ExposeSecret};

use crate::common::{plain_cluster, plain_server};

#[tokio::test]
async fn cluster_nodes_are_separate_servers_with_their_own_passwords() {
    let cluster = plain_cluster(2).await;
    assert_eq!(cluster.data_nodes().len(), 2);
    let names: Vec<&str> = cluster.nodes().map(LocalServer::name).collect();
    assert_eq!(names, ["an", "dn1", "dn2"]);

    let ports: HashSet<u16> = cluster.nodes().map(LocalServer::port).collect();
    assert_eq!(ports.len(), 3, "each node has its own port");
    let passwords: HashSet<String> = cluster
        .nodes()
        .map(|n| n.password().expose_secret().to_owned())
        .collect();
    assert_eq!(passwords.len(), 3, "each node has its own password");

    let mut system_ids = HashSet::new();
    for node in cluster.nodes() {
        let client = node.config().connect().await.unwrap();
        let row = client
            .query_one(
                "SELECT system_identifier::text, current_setting('port')::int4, \
                        current_setting('max_prepared_transactions')::int4 \
                   FROM pg_control_system()",
                &[],
            )
            .await
            .unwrap();
        system_ids.insert(row.get::<_, String>(0));
        assert_eq!(row.get::<_, i32>(1), i32::from(node.port()));
        assert!(row.get::<_, i32>(2) > 0);
    }
    // Copies of one template share a system identifier, but they are distinct instances.
    assert!(!system_ids.is_empty());

    // One node's password does not open another: authentication is really enforced.
    let an = cluster.access_node_config();
    let dn1 = &cluster.data_nodes()[0];
    let crossed =
        timescaledb_multinode::NodeConfig::new("127.0.0.1", "tsdbadmin", an.get_password().clone())
            .name("dn1")
            .port(dn1.port())
            .database("tsdb");
    let err = crossed.connect().await.unwrap_err();
    assert!(err.is_authentication_failure(), "{err:?}");

    let dirs: Vec<_> = cluster.nodes().map(|n| n.data_dir().to_owned()).collect();
    cluster.shutdown().await.unwrap();
    for dir in dirs {
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}

#[tokio::test]
async fn a_taken_port_is_retried_not_failed() {
    let blocker = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let server = LocalServer::builder("retry")
        .timescaledb(false)
        .port(taken)
        .start()
        .await
        .unwrap();
    assert_ne!(server.port(), taken);
    server.config().connect().await.unwrap();
    assert!(
        server.log().contains("could not bind"),
        "the first attempt should have failed to bind"
    );
    server.shutdown().await.unwrap();
    drop(blocker);
}

#[tokio::test]
async fn start_failure_carries_the_server_log_tail() {
    let err = LocalServer::builder("broken")
        .timescaledb(false)
        .setting("shared_buffers", "not-a-size")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Fixture { .. }), "{err:?}");
    let tail = err.server_log_tail().unwrap_or_default();
    assert!(tail.contains("shared_buffers"), "log tail: {tail}");
    assert!(err.to_string().contains("shared_buffers"));
}

#[tokio::test]
async fn drop_stops_the_server() {
    let server = plain_server("dropped").await;
    let config = server.config();
    let dir = server.data_dir().to_owned();
    drop(server);
    let err = config.connect().await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(!dir.exists());
}

#[tokio::test]
async fn zero_data_nodes_is_just_an_access_node() {
    let cluster = LocalCluster::builder()
        .data_nodes(0)
        .timescaledb(false)
        .start()
        .await
        .unwrap();
    assert!(cluster.data_nodes().is_empty());
    assert!(cluster.multinode().is_err());
    cluster.access_node_config().connect().await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_left_by_a_killed_run_is_stopped_and_removed() {
    // A run killed before it shut its server down: the server still runs, its directory
    // is still there, and the process that owned it is gone.
    let server = plain_server("killed").await;
    let config = server.config();
    let root = server.data_dir().parent().unwrap().to_owned();
    config.connect().await.unwrap();
    std::mem::forget(server);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    std::fs::write(root.join("owner"), format!("{gone} 1\n")).unwrap();

    let live = plain_server("alive").await;
    // Another test process's first server start may have removed it already (each test
    // runs in a process of its own under cargo-nextest): the end state is what counts.
    LocalServer::remove_leftovers().unwrap();
    assert!(!root.exists(), "{} is still there", root.display());
    let err = config.connect().await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    // A server of a live run is not touched.
    live.config().connect().await.unwrap();
    live.shutdown().await.unwrap();
}
