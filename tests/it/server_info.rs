//! `ServerInfo` on plain PostgreSQL (tier 1): versions, settings, and the refusals.

use timescaledb_multinode::server::{Feature, NodeRole};
use timescaledb_multinode::{Error, ServerInfo};

use crate::common::plain_server;

#[tokio::test]
async fn plain_postgres_is_standalone_without_timescaledb() {
    let server = plain_server("an").await;
    let info = ServerInfo::detect(&server.config()).await.unwrap();
    assert_eq!(info.node, "an");
    assert_eq!(info.postgres.major, server.install().major());
    assert!(info
        .postgres_version_string
        .starts_with(&info.postgres.major.to_string()));
    assert_eq!(info.database, "tsdb");
    assert_eq!(info.user, "tsdbadmin");
    assert!(info.is_superuser);
    assert_eq!(info.timescaledb, None);
    assert_eq!(info.license, None);
    assert!(!info.preloaded);
    assert!(info.max_prepared_transactions > 0);
    assert_eq!(info.data_node_count, 0);
    assert_eq!(info.role, NodeRole::Standalone);
    assert!(!info.supports(Feature::MultiNode));

    let err = info.check_multinode().unwrap_err();
    assert!(matches!(err, Error::UnsupportedServer { .. }), "{err:?}");
    assert_eq!(err.node(), Some("an"));
    let text = err.to_string();
    if server.install().timescaledb_version().is_some() {
        // The server has the extension files but this database has no extension.
        assert!(text.contains("CREATE EXTENSION timescaledb"), "{text}");
    } else {
        assert!(text.contains("not available on this server"), "{text}");
    }

    let err = info
        .require("alter data node", Feature::AlterDataNode)
        .unwrap_err();
    assert_eq!(err.operation(), "alter data node");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn detect_reports_unreachable_nodes_by_name() {
    let mut server = plain_server("dn1").await;
    let config = server.config();
    server.stop().await.unwrap();
    let err = ServerInfo::detect(&config).await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert_eq!(err.operation(), "detect server");
    assert_eq!(err.node(), Some("dn1"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn update_extension_refuses_a_server_that_cannot_load_timescaledb() {
    let server = plain_server("dn1").await;
    let err = timescaledb_multinode::UpdateExtension::new()
        .run(&server.config())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedServer { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn1"));
    assert_eq!(err.operation(), "update extension");
    let text = err.to_string();
    assert!(
        text.contains("shared_preload_libraries") || text.contains("no TimescaleDB"),
        "{text}"
    );
    server.shutdown().await.unwrap();
}
