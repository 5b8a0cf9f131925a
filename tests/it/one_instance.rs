//! Tier 2: data nodes that are databases of one PostgreSQL instance, as TimescaleDB's own
//! tests run them and as small clusters are often built. Roles and their passwords belong
//! to the instance, not to a database: a distributed role used to be created on such data
//! nodes at the same time, and the first apply failed (23505 on `pg_authid`); a rotation of
//! one data node's password left the other's user mapping behind; and on the access node's
//! own instance, a rotation changed the admin's password and locked the cluster out. The
//! migration off multi-node reads such data nodes as any others.

use timescaledb_multinode::cluster::AccessNodeLink;
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalServer};
use timescaledb_multinode::{
    AccessNode, Cluster, DistributedHypertable, DistributedRole, Error, ExposeSecret, Ident,
    NodeConfig, Privilege, RawSql, SecretString, TableName,
};

use crate::common::as_both_admins;

/// Data nodes `dn_a` and `dn_b`, databases `tsdb_a` and `tsdb_b` of `server`. The managed
/// admin cannot create a database with the extension (add_data_node's bootstrap needs a
/// superuser): its provider made them.
async fn two_databases(server: &LocalServer, admin: AdminModel) -> (NodeConfig, NodeConfig) {
    if admin == AdminModel::ManagedService {
        let owner = server.config().get_user().to_owned();
        let postgres = server.superuser_client("postgres").await.unwrap();
        for db in ["tsdb_a", "tsdb_b"] {
            postgres
                .batch_execute(&format!("CREATE DATABASE {db} OWNER {owner}"))
                .await
                .unwrap();
            server
                .superuser_client(db)
                .await
                .unwrap()
                .batch_execute("CREATE EXTENSION timescaledb")
                .await
                .unwrap();
        }
    }
    (
        server.config().name("dn_a").database("tsdb_a"),
        server.config().name("dn_b").database("tsdb_b"),
    )
}

fn spec(local: &LocalCluster, a: &NodeConfig, b: &NodeConfig) -> Cluster {
    Cluster::new(local.access_node_config())
        .data_node(a.clone())
        .data_node(b.clone())
        .hypertable(
            "CREATE TABLE metrics(time timestamptz NOT NULL, device int NOT NULL, v float8)",
            DistributedHypertable::new("metrics", "time").partitioning_column("device"),
        )
        .role(
            DistributedRole::new("mn_reader", SecretString::from("mn_reader one pw"))
                .grant([Privilege::Select], "metrics"),
        )
}

async fn two_data_nodes_on_one_instance(admin: AdminModel) {
    let local = LocalCluster::builder()
        .data_nodes(1)
        .admin(admin)
        .start()
        .await
        .unwrap();
    let (a, b) = two_databases(&local.data_nodes()[0], admin).await;
    let mut cluster = spec(&local, &a, &b);

    // The first apply converges: the role reaches the instance once, then is altered.
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    an.execute(
        &RawSql::vouched(
            "INSERT INTO metrics SELECT t, d, 1 FROM generate_series(\
             '2024-01-01'::timestamptz, '2024-01-02', '1 hour') t, generate_series(1, 10) d",
        ),
        &[],
    )
    .await
    .unwrap();
    let reader = an.config().clone();
    let reader = AccessNode::connect(
        NodeConfig::new(
            reader.get_host(),
            "mn_reader",
            SecretString::from("mn_reader one pw"),
        )
        .port(reader.get_port())
        .database(reader.get_database()),
    )
    .await
    .unwrap();
    let rows = reader
        .query("SELECT count(*) AS n FROM metrics", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>("n"), 250);
    let placement = cluster.chunk_placement("metrics").await.unwrap();
    assert_eq!(placement.data_nodes, ["dn_a", "dn_b"]);

    // A rotation of one data node's password is the instance's: the other's mapping follows.
    let new = SecretString::from("the instance's new pw");
    let rotation = cluster.rotate_password("dn_a", new.clone()).await.unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    assert_eq!(rotation.siblings, ["dn_b"]);
    let status = cluster.status().await;
    assert!(
        status
            .data_nodes
            .iter()
            .all(|dn| matches!(dn.link, AccessNodeLink::Ok)),
        "{status}"
    );

    // A spec that gives the two databases of the instance two passwords contradicts itself,
    // and is refused before anything is sent.
    cluster
        .set_data_node_config(a.clone().password(new.clone()))
        .unwrap();
    let err = cluster.plan().await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("\"dn_a\""), "{err}");
    cluster
        .set_data_node_config(b.clone().password(new))
        .unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    assert!(cluster.status().await.is_healthy());
    cluster.heal().await.unwrap();

    // And off multi-node: every row reaches a single-node target.
    let target = crate::migrate::timescaledb_target_as("target", admin).await;
    let report = cluster
        .migration(target.config())
        .hypertable(TableName::new(Ident::new("metrics").unwrap()))
        .run()
        .await
        .unwrap();
    assert_eq!(report.rows(), 250, "{report:#?}");
}

/// Every node a database of one instance (the access node's): a rotation that would change
/// the admin's password is refused before anything changes; once the admin's password is
/// changed by hand and the access node's settings have it, the rotation updates the mappings.
async fn every_node_on_the_access_nodes_instance(admin: AdminModel) {
    let local = LocalCluster::builder()
        .data_nodes(0)
        .admin(admin)
        .start()
        .await
        .unwrap();
    let server = local.access_node();
    let (a, b) = two_databases(server, admin).await;
    let cluster = spec(&local, &a, &b);
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());

    let err = cluster
        .rotate_password("dn_a", SecretString::from("a new admin pw"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("admin's own"), "{err}");
    assert!(!err.to_string().contains("a new admin pw"), "{err}");
    assert!(cluster.status().await.is_healthy());

    // The way the refusal gives: the admin's password changed on the instance, the access
    // node's settings given it, then the rotation with it.
    let new = SecretString::from("the admin new pw");
    server
        .superuser_client("postgres")
        .await
        .unwrap()
        .batch_execute(&format!(
            "ALTER ROLE {} PASSWORD '{}'",
            server.config().get_user(),
            new.expose_secret()
        ))
        .await
        .unwrap();
    let an = local.access_node_config().password(new.clone());
    let a = a.password(new.clone());
    let b = b.password(new.clone());
    let mut cluster = Cluster::new(an).data_node(a.clone()).data_node(b.clone());
    let rotation = cluster.rotate_password("dn_a", new.clone()).await.unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    assert!(!rotation.role_changed);
    assert_eq!(rotation.siblings, ["dn_b"]);
    cluster.set_data_node_config(a).unwrap();
    assert!(cluster.status().await.is_healthy());
}

as_both_admins!(
    two_data_nodes_on_one_instance,
    every_node_on_the_access_nodes_instance
);
