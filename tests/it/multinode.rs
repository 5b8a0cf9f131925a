//! Tier 2: the how-to, step by step, through the typed API on a real cluster.

use timescaledb_multinode::lifecycle::{ExtensionChange, MappingChange};
use timescaledb_multinode::server::NodeRole;
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalClusterBuilder};
use timescaledb_multinode::{
    AccessNode, Bootstrap, DataNode, DistributedHypertable, DistributedRole, Error, ExposeSecret,
    Ident, NodeConfig, Privilege, SecretString, ServerInfo, TableName, UpdateExtension,
};

use crate::common::tier2;

const SENSOR_TABLE: &str = "CREATE TABLE sensor_data(time timestamptz NOT NULL, \
     sensor_id int NOT NULL, temperature double precision, cpu double precision)";

async fn joined_cluster(builder: LocalClusterBuilder) -> (LocalCluster, AccessNode) {
    let cluster = builder.data_nodes(2).start().await.unwrap();
    let updates = UpdateExtension::new()
        .run_cluster(&cluster.access_node_config(), &cluster.data_node_configs())
        .await
        .unwrap();
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[2].node, "an", "the access node comes last");
    // The managed service's superuser created the extension already: nothing to do.
    let expected = match cluster.access_node().admin_model() {
        AdminModel::ManagedService => ExtensionChange::Unchanged,
        _ => ExtensionChange::Created,
    };
    assert!(updates.iter().all(|u| u.change == expected), "{updates:?}");
    let an = AccessNode::connect(cluster.access_node_config())
        .await
        .unwrap();
    for dn in cluster.data_nodes() {
        let added = DataNode::from_config(&dn.config())
            .bootstrap(Bootstrap::ExistingDatabase)
            .run(&an)
            .await
            .unwrap();
        assert!(added.node_created);
        assert_eq!(added.user_mapping, Some(MappingChange::Created));
    }
    (cluster, an)
}

#[tokio::test]
async fn the_how_to_end_to_end() {
    let Some(_) = tier2() else { return };
    how_to(LocalCluster::builder()).await;
}

/// The how-to on a 1 + 2 cluster started from `builder` (also run on every release of the
/// version matrix).
pub async fn how_to(builder: LocalClusterBuilder) {
    let (cluster, an) = joined_cluster(builder).await;

    // Data nodes are listed like \des+.
    let nodes = an.data_nodes().await.unwrap();
    assert_eq!(nodes.len(), 2);
    for (info, dn) in nodes.iter().zip(cluster.data_nodes()) {
        assert_eq!(info.name, dn.name());
        assert_eq!(info.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(info.port, Some(dn.port()));
        assert_eq!(info.database.as_deref(), Some("tsdb"));
        assert!(info.available);
        assert_eq!(info.owner, "tsdbadmin");
    }
    let info = ServerInfo::detect(an.config()).await.unwrap();
    assert_eq!(info.role, NodeRole::AccessNode);

    // Adding again: already exists, naming the node; idempotent, it converges.
    let dn1 = &cluster.data_nodes()[0];
    let err = DataNode::from_config(&dn1.config())
        .bootstrap(Bootstrap::ExistingDatabase)
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    let again = DataNode::from_config(&dn1.config())
        .bootstrap(Bootstrap::ExistingDatabase)
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    assert!(!again.node_created);
    assert_eq!(again.user_mapping, Some(MappingChange::Updated));

    // The distributed hypertable, rows in, rows out, chunks on both data nodes.
    let client = an.config().connect().await.unwrap();
    client.batch_execute(SENSOR_TABLE).await.unwrap();
    let created = DistributedHypertable::new("sensor_data", "time")
        .partitioning_column("sensor_id")
        .run(&an)
        .await
        .unwrap();
    assert!(created.created);
    let again = DistributedHypertable::new("sensor_data", "time")
        .partitioning_column("sensor_id")
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    assert!(!again.created);
    client
        .batch_execute(
            "INSERT INTO sensor_data SELECT t, s, 20 + s, 0.1 * s \
               FROM generate_series('2024-01-01'::timestamptz, '2024-01-10', '1 day') t, \
                    generate_series(1, 4) s",
        )
        .await
        .unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM sensor_data", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 40);
    let table = TableName::new(Ident::new("sensor_data").unwrap());
    let chunks = an.chunks(&table).await.unwrap();
    assert!(!chunks.is_empty());
    let holders: std::collections::HashSet<String> =
        chunks.iter().flat_map(|c| c.data_nodes.clone()).collect();
    assert_eq!(holders.len(), 2, "both data nodes hold chunks: {chunks:?}");
    let ht = an.hypertable(&table).await.unwrap().unwrap();
    assert!(ht.is_distributed);
    assert_eq!(ht.data_nodes, ["dn1", "dn2"]);

    // Another user: role everywhere, grants, mappings; it can log in and query.
    let pw = SecretString::from("mn_user1 an pw");
    DistributedRole::new("mn_user1", pw.clone())
        .data_node_password(SecretString::from("mn_user1 dn pw"))
        .grant([Privilege::Select], "sensor_data")
        .run(&an)
        .await
        .unwrap();
    // Twice: idempotent.
    DistributedRole::new("mn_user1", pw.clone())
        .data_node_password(SecretString::from("mn_user1 dn pw"))
        .grant([Privilege::Select], "sensor_data")
        .run(&an)
        .await
        .unwrap();
    let user = NodeConfig::new("127.0.0.1", "mn_user1", pw)
        .name("an")
        .port(cluster.access_node().port())
        .database("tsdb");
    let user_client = user.connect().await.unwrap();
    let count: i64 = user_client
        .query_one("SELECT count(*) FROM sensor_data", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 40);

    // No password reached a server log.
    for node in cluster.nodes() {
        let log = node.log();
        for secret in ["mn_user1 an pw", "mn_user1 dn pw"] {
            assert!(!log.contains(secret), "{} logged {secret}", node.name());
        }
        for dn in cluster.data_nodes() {
            assert!(!log.contains(dn.password().expose_secret()));
        }
    }
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_refused_naming_node_and_operation() {
    let Some(_) = tier2() else { return };
    let (cluster, an) = joined_cluster(LocalCluster::builder()).await;

    // Unreachable host: names the data node.
    let port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let err = DataNode::new("dn9", "127.0.0.1")
        .port(port)
        .password(SecretString::from("x"))
        .run(&an)
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert_eq!(err.node(), Some("dn9"));
    assert_eq!(err.operation(), "add data node");

    // Wrong password: authentication failed on that data node.
    let dn2 = &cluster.data_nodes()[1];
    let err = DataNode::new("dn2_again", "127.0.0.1")
        .port(dn2.port())
        .database("tsdb")
        .password(SecretString::from("wrong-password-sentinel"))
        .bootstrap(Bootstrap::ExistingDatabase)
        .run(&an)
        .await
        .unwrap_err();
    assert!(err.is_authentication_failure(), "{err:?}");
    assert_eq!(err.node(), Some("dn2_again"));
    assert!(!format!("{err} {err:?}").contains("wrong-password-sentinel"));

    // Invalid names: refused before anything is sent.
    let err = DataNode::new("x".repeat(64), "127.0.0.1")
        .password(SecretString::from("x"))
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let err = DataNode::new("dn3", "127.0.0.1")
        .run(&an)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("password is needed"), "{err}");

    // A hypertable on a node list naming an unknown node: the error lists the known ones.
    let client = an.config().connect().await.unwrap();
    client.batch_execute(SENSOR_TABLE).await.unwrap();
    let err = DistributedHypertable::new("sensor_data", "time")
        .data_nodes(["dn1", "nope"])
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("\"nope\""), "{err}");
    assert!(err.to_string().contains("dn2"), "{err}");

    // A table with rows: the server's refusal, typed, naming the access node.
    client
        .batch_execute(
            "CREATE TABLE has_rows(time timestamptz NOT NULL); INSERT INTO has_rows VALUES (now())",
        )
        .await
        .unwrap();
    let err = DistributedHypertable::new("has_rows", "time")
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    assert_eq!(err.code().map(|c| c.code()), Some("0A000"));
    assert_eq!(err.node(), Some("an"));

    // A role on an unknown node.
    let err = DistributedRole::new("r1", SecretString::from("pw"))
        .data_nodes(["dn7"])
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    cluster.shutdown().await.unwrap();
}
