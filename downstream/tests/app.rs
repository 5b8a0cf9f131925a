//! The application's own tests, on real clusters from timescaledb-multinode's `testing`
//! feature, as any crate that depends on it would write them.

use std::time::{Duration, SystemTime};

use timescaledb_multinode::testing::{tier2, LocalCluster, LocalServer};
use timescaledb_multinode::{AccessNode, Error};
use tsmn_downstream::{Reading, Store};

/// 1,000 readings of sensors 1–4, one every ten minutes from 2024-01-01 on: about a week,
/// so more than one chunk.
fn readings() -> Vec<Reading> {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    (0..1000u32)
        .map(|i| Reading {
            at: start + Duration::from_secs(600 * u64::from(i / 4)),
            sensor: (i % 4) as i32 + 1,
            celsius: 20.0 + f64::from(i % 4),
        })
        .collect()
}

#[tokio::test]
async fn readings_go_in_spread_over_the_data_nodes_and_come_back() {
    let Some(_) = tier2() else { return };
    let joined = LocalCluster::start_joined(2).await.unwrap();
    let store = Store::new(joined.access_node.clone());

    store.provision().await.unwrap();
    store.provision().await.unwrap(); // a restarted application provisions again

    assert_eq!(store.record(&readings()).await.unwrap(), 1000);
    assert_eq!(store.average(3).await.unwrap(), Some(22.0));
    assert_eq!(store.average(99).await.unwrap(), None);

    let placement = store.chunks_per_data_node().await.unwrap();
    assert_eq!(
        placement.keys().map(String::as_str).collect::<Vec<_>>(),
        ["dn1", "dn2"],
        "{placement:?}"
    );
    assert!(joined.cluster.status().await.is_healthy());
    joined.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_timescaledb_provisioning_fails_with_a_typed_error() {
    // Tier 1: a plain PostgreSQL server.
    let server = LocalServer::builder("plain")
        .timescaledb(false)
        .start()
        .await
        .unwrap();
    let store = Store::new(AccessNode::connect(server.config()).await.unwrap());
    let err = store.provision().await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedServer { .. }), "{err:?}");
    assert_eq!(err.node(), Some("plain"));
    server.shutdown().await.unwrap();
}
