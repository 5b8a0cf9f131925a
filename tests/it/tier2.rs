//! Tier 2: a real TimescaleDB multi-node cluster. Each test returns early (after the
//! `tier 2 skipped: ...` line) when the installation has no TimescaleDB multi-node.

use timescaledb_multinode::server::{Feature, License, NodeRole};
use timescaledb_multinode::testing::{LocalCluster, LocalServer};
use timescaledb_multinode::{Error, ExposeSecret, ServerInfo};

use crate::common::tier2;

async fn create_extension(server: &LocalServer) {
    let client = server.config().connect().await.unwrap();
    client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .await
        .unwrap();
}

#[tokio::test]
async fn server_info_on_every_node_of_a_cluster() {
    let Some(version) = tier2() else { return };
    let cluster = LocalCluster::start(2).await.unwrap();
    assert_eq!(cluster.multinode(), Ok(version));

    for node in cluster.nodes() {
        assert!(node.has_timescaledb());
        // Preloaded, but not yet created in the database.
        let info = ServerInfo::detect(&node.config()).await.unwrap();
        assert!(info.preloaded);
        assert_eq!(info.timescaledb, None);
        assert_eq!(info.timescaledb_default, Some(version));
        assert!(info.timescaledb_available.contains(&version));
        let err = info.check_multinode().unwrap_err();
        assert!(
            err.to_string().contains("CREATE EXTENSION timescaledb"),
            "{err}"
        );

        create_extension(node).await;
        let info = ServerInfo::detect(&node.config()).await.unwrap();
        assert_eq!(info.timescaledb, Some(version));
        assert_eq!(info.license, Some(License::Timescale));
        assert_eq!(info.role, NodeRole::Standalone);
        info.check_multinode().unwrap();
        assert!(info.supports(Feature::MultiNode));
        let caps = info.capabilities().unwrap();
        assert_eq!(caps.version(), version);
        if version.minor >= 12 {
            assert_eq!(caps.internal_schema(), "_timescaledb_functions");
        }
        info.require("alter data node", Feature::AlterDataNode)
            .unwrap();
    }

    // Join the data nodes (plain SQL for now; the typed API comes with the multi-node
    // issue) and check that roles are told apart.
    let an = cluster.access_node_config().connect().await.unwrap();
    for dn in cluster.data_nodes() {
        an.query(
            "SELECT * FROM add_data_node($1, host => '127.0.0.1', port => $2, \
                    database => 'tsdb', password => $3, bootstrap => false)",
            &[
                &dn.name(),
                &i32::from(dn.port()),
                &dn.password().expose_secret(),
            ],
        )
        .await
        .unwrap();
    }
    let info = ServerInfo::detect(&cluster.access_node_config())
        .await
        .unwrap();
    assert_eq!(info.role, NodeRole::AccessNode);
    assert_eq!(info.data_node_count, 2);
    for dn in cluster.data_nodes() {
        let info = ServerInfo::detect(&dn.config()).await.unwrap();
        assert_eq!(info.role, NodeRole::DataNode, "{}", dn.name());
        assert_eq!(info.data_node_count, 0);
    }
    // add_data_node does not store the password anywhere (observed reference §5.2), and the
    // crate-made servers never log it.
    for node in cluster.nodes() {
        for dn in cluster.data_nodes() {
            assert!(!node.log().contains(dn.password().expose_secret()));
        }
    }
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn apache_license_is_refused_clearly() {
    let Some(_) = tier2() else { return };
    let server = LocalServer::builder("an")
        .setting("timescaledb.license", "apache")
        .start()
        .await
        .unwrap();
    create_extension(&server).await;
    let info = ServerInfo::detect(&server.config()).await.unwrap();
    assert_eq!(info.license, Some(License::Apache));
    let err = info.check_multinode().unwrap_err();
    assert!(matches!(err, Error::UnsupportedServer { .. }), "{err:?}");
    assert!(err.to_string().contains("Apache-only build"), "{err}");
    assert_eq!(err.node(), Some("an"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn timescaledb_can_be_turned_off_for_a_cluster() {
    let Some(_) = tier2() else { return };
    let cluster = LocalCluster::builder()
        .data_nodes(1)
        .timescaledb(false)
        .start()
        .await
        .unwrap();
    assert!(cluster.multinode().is_err());
    let info = ServerInfo::detect(&cluster.access_node_config())
        .await
        .unwrap();
    assert!(!info.preloaded);
    assert_eq!(info.license, None);
    cluster.shutdown().await.unwrap();
}
