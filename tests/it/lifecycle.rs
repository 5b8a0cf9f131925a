//! Tier 2: the data-node lifecycle (delete, detach, attach, alter, block / allow new chunks,
//! replication factor, restore points) on a real cluster of 1 access node + 2 data nodes.

use std::collections::BTreeSet;

use timescaledb_multinode::lifecycle::{
    AllowNewChunks, AlterDataNode, AttachDataNode, BlockNewChunks, CreateRestorePoint,
    DeleteDataNode, DetachDataNode, SetReplicationFactor,
};
use timescaledb_multinode::testing::{AdminModel, LocalCluster};
use timescaledb_multinode::tokio_postgres::Client;
use timescaledb_multinode::{
    AccessNode, DistributedHypertable, Error, Ident, RoleSpec, TableName, UserMapping,
};

use crate::common::as_both_admins;

/// A cluster with both data nodes added (each with a user mapping for `tsdbadmin`), its
/// admin of the `model` given.
async fn joined_cluster(model: AdminModel) -> (LocalCluster, AccessNode) {
    crate::common::joined_cluster_from(LocalCluster::builder().data_nodes(2).admin(model)).await
}

fn table(name: &str) -> TableName {
    TableName::new(Ident::new(name).unwrap())
}

/// An empty distributed hypertable `name`, space-partitioned on `sensor_id`.
async fn sensor_table(an: &AccessNode, client: &Client, name: &str) {
    client
        .batch_execute(&format!(
            "CREATE TABLE {name}(time timestamptz NOT NULL, sensor_id int NOT NULL, \
             temperature double precision)"
        ))
        .await
        .unwrap();
    DistributedHypertable::new(name, "time")
        .partitioning_column("sensor_id")
        .run(an)
        .await
        .unwrap();
}

/// Rows for sensors 1–4, one a day over `days` days from `from`.
async fn insert(client: &Client, name: &str, from: &str, days: i32) {
    client
        .execute(
            &format!(
                "INSERT INTO {name} SELECT t, s, 20 + s \
                   FROM generate_series($1::text::timestamptz, \
                                        $1::text::timestamptz + ($2 - 1) * interval '1 day', \
                                        '1 day') t, \
                        generate_series(1, 4) s"
            ),
            &[&from, &days],
        )
        .await
        .unwrap();
}

/// The roles with a user mapping on server `server`, by name (`public` for PUBLIC).
async fn mappings(client: &Client, server: &str) -> Vec<String> {
    client
        .query(
            "SELECT usename::text FROM pg_user_mappings WHERE srvname = $1 ORDER BY 1",
            &[&server],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn node_names(an: &AccessNode) -> Vec<String> {
    an.data_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

/// The set of data nodes holding each chunk of `name`.
async fn placement(an: &AccessNode, name: &str) -> Vec<Vec<String>> {
    an.chunks(&table(name))
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            let mut nodes = c.data_nodes;
            nodes.sort();
            nodes
        })
        .collect()
}

fn tsdbadmin() -> RoleSpec {
    RoleSpec::Named(Ident::new("tsdbadmin").unwrap())
}

fn sqlstate(err: &Error) -> Option<&str> {
    err.code().map(|c| c.code())
}

async fn delete_drops_every_user_mapping_first(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let dn2 = &cluster.data_nodes()[1];
    // A second mapping besides the connecting role's: PUBLIC's.
    UserMapping::new(RoleSpec::Public, "dn2")
        .remote_user("tsdbadmin")
        .password(dn2.password().clone())
        .run(&an)
        .await
        .unwrap();
    let client = an.config().connect().await.unwrap();
    assert_eq!(mappings(&client, "dn2").await, ["public", "tsdbadmin"]);

    let deleted = DeleteDataNode::new("dn2").run(&an).await.unwrap();
    assert!(deleted.deleted);
    assert!(!deleted.database_dropped);
    assert_eq!(deleted.name, "dn2");
    assert_eq!(
        deleted.user_mappings_dropped,
        [RoleSpec::Public, tsdbadmin()]
    );
    assert!(mappings(&client, "dn2").await.is_empty());
    assert_eq!(node_names(&an).await, ["dn1"]);
    // The data node's database stays; the remaining node still works.
    dn2.config().connect().await.unwrap();
    client
        .batch_execute("CALL distributed_exec('SELECT 1')")
        .await
        .unwrap();

    // Gone now: refused before anything is sent, or skipped when idempotent.
    let err = DeleteDataNode::new("dn2").run(&an).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("\"dn2\""), "{err}");
    let skipped = DeleteDataNode::new("dn2")
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    assert!(!skipped.deleted);
    assert!(skipped.user_mappings_dropped.is_empty());
    cluster.shutdown().await.unwrap();
}

async fn delete_with_drop_database_drops_the_remote_database(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let dn2 = &cluster.data_nodes()[1];

    let deleted = DeleteDataNode::new("dn2")
        .drop_database()
        .run(&an)
        .await
        .unwrap();
    assert!(deleted.deleted);
    assert!(deleted.database_dropped);
    assert_eq!(deleted.user_mappings_dropped, [tsdbadmin()]);
    assert_eq!(node_names(&an).await, ["dn1"]);
    let client = an.config().connect().await.unwrap();
    assert!(mappings(&client, "dn2").await.is_empty());

    // On the data node itself, with its own credentials: the database is gone.
    let err = dn2.config().connect().await.unwrap_err();
    assert_eq!(sqlstate(&err), Some("3D000"), "{err:?}");
    let admin = dn2.config().database("postgres").connect().await.unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = 'tsdb'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    // dn1 and its database are untouched.
    let dn1 = &cluster.data_nodes()[0];
    dn1.config().connect().await.unwrap();
    client
        .batch_execute("CALL distributed_exec('SELECT 1')")
        .await
        .unwrap();
    drop(client);

    // An attempt interrupted after the remote drop (here: the database dropped by hand)
    // finishes on the next run.
    dn1.config()
        .database("postgres")
        .connect()
        .await
        .unwrap()
        .batch_execute("DROP DATABASE tsdb")
        .await
        .unwrap();
    let deleted = DeleteDataNode::new("dn1")
        .drop_database()
        .run(&an)
        .await
        .unwrap();
    assert!(deleted.deleted);
    assert!(deleted.database_dropped);
    assert!(node_names(&an).await.is_empty());
    cluster.shutdown().await.unwrap();
}

async fn would_lose_data_is_refused_and_changes_nothing(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let client = an.config().connect().await.unwrap();
    sensor_table(&an, &client, "sensor_data").await;
    insert(&client, "sensor_data", "2024-01-01", 10).await;
    let holders: BTreeSet<String> = placement(&an, "sensor_data")
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(holders.len(), 2, "both data nodes hold chunks");

    for drop_database in [false, true] {
        let mut delete = DeleteDataNode::new("dn1").force();
        if drop_database {
            delete = delete.drop_database();
        }
        let err = delete.run(&an).await.unwrap_err();
        assert!(matches!(err, Error::WouldLoseData { .. }), "{err:?}");
        assert_eq!(err.node(), Some("dn1"));
        assert_eq!(err.operation(), "delete data node");
        assert_eq!(sqlstate(&err), Some("TS170"));
    }
    let err = DetachDataNode::new("dn1")
        .hypertable(table("sensor_data"))
        .force()
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WouldLoseData { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn1"));
    assert_eq!(err.operation(), "detach data node");

    // Nothing changed: the node, its mapping, its database, the rows.
    assert_eq!(node_names(&an).await, ["dn1", "dn2"]);
    assert_eq!(mappings(&client, "dn1").await, ["tsdbadmin"]);
    cluster.data_nodes()[0].config().connect().await.unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM sensor_data", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 40);
    cluster.shutdown().await.unwrap();
}

async fn detach_and_reattach(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let client = an.config().connect().await.unwrap();
    sensor_table(&an, &client, "t_keep").await;
    sensor_table(&an, &client, "t_drop").await;
    let dn2 = cluster.data_nodes()[1].config().connect().await.unwrap();
    let on_dn2 = |name: &'static str| {
        let dn2 = &dn2;
        async move {
            dn2.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
                .await
                .unwrap()
                .get::<_, bool>(0)
        }
    };

    // Without drop_remote_data the member table stays on dn2, and attaching fails there.
    let detached = DetachDataNode::new("dn2")
        .hypertable(table("t_keep"))
        .run(&an)
        .await
        .unwrap();
    assert_eq!(detached, 1);
    let info = an.hypertable(&table("t_keep")).await.unwrap().unwrap();
    assert_eq!(info.data_nodes, ["dn1"]);
    assert!(on_dn2("t_keep").await);
    let err = AttachDataNode::new("dn2", table("t_keep"))
        .run(&an)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), Some("42P07"), "{err:?}");
    assert_eq!(err.node(), Some("dn2"));
    assert_eq!(err.operation(), "attach data node");
    let again = DetachDataNode::new("dn2")
        .hypertable(table("t_keep"))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    assert_eq!(again, 0);

    // With drop_remote_data the member table goes, and the node can be attached again.
    let detached = DetachDataNode::new("dn2")
        .hypertable(table("t_drop"))
        .drop_remote_data()
        .run(&an)
        .await
        .unwrap();
    assert_eq!(detached, 1);
    assert!(!on_dn2("t_drop").await);
    let attached = AttachDataNode::new("dn2", table("t_drop"))
        .run(&an)
        .await
        .unwrap();
    assert_eq!(attached.node_name, "dn2");
    assert!(on_dn2("t_drop").await);
    let info = an.hypertable(&table("t_drop")).await.unwrap().unwrap();
    assert_eq!(info.data_nodes, ["dn1", "dn2"]);
    assert_eq!(attached.hypertable_id, {
        let row = client
            .query_one(
                "SELECT id FROM _timescaledb_catalog.hypertable WHERE table_name = 't_drop'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i32>(0)
    });

    // Attached already: refused (TS172), or converged when idempotent.
    let err = AttachDataNode::new("dn2", table("t_drop"))
        .run(&an)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), Some("TS172"), "{err:?}");
    let same = AttachDataNode::new("dn2", table("t_drop"))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    assert_eq!(same, attached);

    // Replicated data: detaching needs force, and then leaves the table under-replicated.
    client
        .batch_execute("CREATE TABLE t_rf2(time timestamptz NOT NULL, sensor_id int NOT NULL, temperature float8)")
        .await
        .unwrap();
    DistributedHypertable::new("t_rf2", "time")
        .partitioning_column("sensor_id")
        .replication_factor(2)
        .run(&an)
        .await
        .unwrap();
    insert(&client, "t_rf2", "2024-01-01", 3).await;
    let err = DetachDataNode::new("dn2")
        .hypertable(table("t_rf2"))
        .run(&an)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), Some("TS504"), "{err:?}");
    let detached = DetachDataNode::new("dn2")
        .hypertable(table("t_rf2"))
        .force()
        .run(&an)
        .await
        .unwrap();
    assert_eq!(detached, 1);
    assert!(placement(&an, "t_rf2")
        .await
        .iter()
        .all(|nodes| nodes == &["dn1"]));
    cluster.shutdown().await.unwrap();
}

async fn alter_data_node_availability_and_address(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let dn1 = &cluster.data_nodes()[0];

    let altered = AlterDataNode::new("dn1")
        .mark_unavailable()
        .run(&an)
        .await
        .unwrap();
    assert_eq!(altered.name, "dn1");
    assert_eq!(altered.host, "127.0.0.1");
    assert_eq!(altered.port, dn1.port());
    assert_eq!(altered.database, "tsdb");
    assert!(!altered.available);
    let available = |nodes: Vec<timescaledb_multinode::catalog::DataNodeInfo>| {
        nodes
            .into_iter()
            .map(|n| (n.name, n.available))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        available(an.data_nodes().await.unwrap()),
        [("dn1".to_owned(), false), ("dn2".to_owned(), true)]
    );
    let altered = AlterDataNode::new("dn1")
        .mark_available()
        .run(&an)
        .await
        .unwrap();
    assert!(altered.available);
    assert_eq!(
        available(an.data_nodes().await.unwrap()),
        [("dn1".to_owned(), true), ("dn2".to_owned(), true)]
    );

    // The address: changed and back.
    let altered = AlterDataNode::new("dn1")
        .host("localhost")
        .run(&an)
        .await
        .unwrap();
    assert_eq!(altered.host, "localhost");
    assert_eq!(
        an.data_nodes().await.unwrap()[0].host.as_deref(),
        Some("localhost")
    );
    AlterDataNode::new("dn1")
        .host("127.0.0.1")
        .port(dn1.port())
        .database("tsdb")
        .run(&an)
        .await
        .unwrap();
    // Nothing to change: the current settings.
    let current = AlterDataNode::new("dn2").run(&an).await.unwrap();
    assert_eq!(current.port, cluster.data_nodes()[1].port());
    assert!(current.available);

    // Bad input: refused before anything is sent, naming the node and the operation.
    for err in [
        AlterDataNode::new("dn1")
            .port(0)
            .run(&an)
            .await
            .unwrap_err(),
        AlterDataNode::new("dn1")
            .host(" ")
            .run(&an)
            .await
            .unwrap_err(),
        AlterDataNode::new("dn1")
            .database("d".repeat(64))
            .run(&an)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.node(), Some("dn1"));
        assert_eq!(err.operation(), "alter data node");
    }
    let client = an.config().connect().await.unwrap();
    client
        .batch_execute("CALL distributed_exec('SELECT 1')")
        .await
        .unwrap();
    cluster.shutdown().await.unwrap();
}

async fn block_and_allow_new_chunks(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let client = an.config().connect().await.unwrap();
    sensor_table(&an, &client, "sensor_data").await;

    let blocked = BlockNewChunks::new("dn1")
        .hypertable(table("sensor_data"))
        .run(&an)
        .await
        .unwrap();
    assert_eq!(blocked, 1);
    let again = BlockNewChunks::new("dn1")
        .hypertable(table("sensor_data"))
        .run(&an)
        .await
        .unwrap();
    assert_eq!(again, 0, "already blocked");
    insert(&client, "sensor_data", "2024-01-01", 3).await;
    let chunks = placement(&an, "sensor_data").await;
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|nodes| nodes == &["dn2"]), "{chunks:?}");

    // Blocking the last node needs force.
    let err = BlockNewChunks::new("dn2")
        .hypertable(table("sensor_data"))
        .run(&an)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), Some("TS170"), "{err:?}");
    assert_eq!(err.operation(), "block new chunks");

    // Allowed again (every hypertable): new chunks use dn1 again.
    let allowed = AllowNewChunks::new("dn1").run(&an).await.unwrap();
    assert_eq!(allowed, 1);
    insert(&client, "sensor_data", "2024-03-01", 3).await;
    let holders: BTreeSet<String> = placement(&an, "sensor_data")
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(holders.contains("dn1"), "{holders:?}");
    cluster.shutdown().await.unwrap();
}

async fn set_replication_factor_then_chunk_placement(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let client = an.config().connect().await.unwrap();
    sensor_table(&an, &client, "sensor_data").await;
    let t = table("sensor_data");
    assert_eq!(
        an.hypertable(&t).await.unwrap().unwrap().replication_factor,
        Some(1)
    );

    SetReplicationFactor::new(&t, 2).run(&an).await.unwrap();
    assert_eq!(
        an.hypertable(&t).await.unwrap().unwrap().replication_factor,
        Some(2)
    );
    insert(&client, "sensor_data", "2024-01-01", 3).await;
    let chunks = placement(&an, "sensor_data").await;
    assert!(!chunks.is_empty());
    assert!(
        chunks.iter().all(|nodes| nodes == &["dn1", "dn2"]),
        "{chunks:?}"
    );

    let err = SetReplicationFactor::new(&t, 0).run(&an).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(err.operation(), "set replication factor");
    let err = SetReplicationFactor::new(&t, 3).run(&an).await.unwrap_err();
    assert_eq!(sqlstate(&err), Some("TS170"), "{err:?}");
    assert_eq!(err.node(), Some("an"));
    cluster.shutdown().await.unwrap();
}

async fn restore_point_on_every_node(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;

    if model == AdminModel::ManagedService {
        // TimescaleDB reserves it to superusers: refused before anything is sent.
        let err = CreateRestorePoint::new("rp1").run(&an).await.unwrap_err();
        assert!(matches!(err, Error::MissingPrivilege { .. }), "{err:?}");
        assert!(
            err.to_string().contains("tsdbadmin lacks SUPERUSER"),
            "{err}"
        );
        assert_eq!(err.node(), Some("an"));
        cluster.shutdown().await.unwrap();
        return;
    }
    let points = CreateRestorePoint::new("rp1").run(&an).await.unwrap();
    assert_eq!(points.len(), 3, "{points:?}");
    let access: Vec<_> = points.iter().filter(|p| p.node_name.is_none()).collect();
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].node_type, "access_node");
    let mut data: Vec<_> = points
        .iter()
        .filter_map(|p| p.node_name.clone().map(|n| (n, p.node_type.clone())))
        .collect();
    data.sort();
    assert_eq!(
        data,
        [
            ("dn1".to_owned(), "data_node".to_owned()),
            ("dn2".to_owned(), "data_node".to_owned())
        ]
    );
    assert!(points.iter().all(|p| p.lsn.contains('/')), "{points:?}");

    for name in [String::new(), "r".repeat(64), "a\0b".to_owned()] {
        let err = CreateRestorePoint::new(&name).run(&an).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.operation(), "create distributed restore point");
        assert_eq!(err.node(), Some("an"));
    }
    let longest = CreateRestorePoint::new("r".repeat(63))
        .run(&an)
        .await
        .unwrap();
    assert_eq!(longest.len(), 3);
    cluster.shutdown().await.unwrap();
}

async fn unknown_or_invalid_nodes_are_refused_before_anything_is_sent(model: AdminModel) {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = joined_cluster(model).await;
    let client = an.config().connect().await.unwrap();
    sensor_table(&an, &client, "sensor_data").await;

    let errors = [
        DeleteDataNode::new("dn9").run(&an).await.unwrap_err(),
        DetachDataNode::new("dn9").run(&an).await.unwrap_err(),
        AttachDataNode::new("dn9", table("sensor_data"))
            .run(&an)
            .await
            .unwrap_err(),
        AlterDataNode::new("dn9")
            .mark_unavailable()
            .run(&an)
            .await
            .unwrap_err(),
        BlockNewChunks::new("dn9").run(&an).await.unwrap_err(),
        AllowNewChunks::new("dn9").run(&an).await.unwrap_err(),
    ];
    let ops: Vec<&str> = errors.iter().map(Error::operation).collect();
    assert_eq!(
        ops,
        [
            "delete data node",
            "detach data node",
            "attach data node",
            "alter data node",
            "block new chunks",
            "allow new chunks"
        ]
    );
    for err in &errors {
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("\"dn9\""), "{text}");
        assert!(
            text.contains("\"dn1\"") && text.contains("\"dn2\""),
            "{text}"
        );
    }

    let err = DeleteDataNode::new("x".repeat(64))
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(err.node(), Some("an"));
    let err = DetachDataNode::new("").run(&an).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");

    // Nothing was changed.
    assert_eq!(node_names(&an).await, ["dn1", "dn2"]);
    assert!(an.data_nodes().await.unwrap().iter().all(|n| n.available));
    cluster.shutdown().await.unwrap();
}

as_both_admins!(
    delete_drops_every_user_mapping_first,
    delete_with_drop_database_drops_the_remote_database,
    would_lose_data_is_refused_and_changes_nothing,
    detach_and_reattach,
    alter_data_node_availability_and_address,
    block_and_allow_new_chunks,
    set_replication_factor_then_chunk_placement,
    restore_point_on_every_node,
    unknown_or_invalid_nodes_are_refused_before_anything_is_sent,
);
