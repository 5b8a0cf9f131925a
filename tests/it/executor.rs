//! Bring your own session: the typed operations on every `Executor` — an `AccessNode`, a
//! connection checked out of its pool, a caller's `tokio_postgres::Client` and
//! `Transaction`, and (feature `bb8-postgres`) a bb8-postgres pool and its pooled
//! connection; what a transaction block cannot run refused before anything is sent; and the
//! failed-login protection of the raw client `AccessNode::client` hands out.
//!
//! Tier 1 (plain PostgreSQL): user mappings on a postgres_fdw server, and the refusals.
//! Tier 2: distributed hypertables and `distributed_exec`, and the raw client's protection.

use std::path::Path;
use std::time::Duration;

use timescaledb_multinode::lifecycle::{CreateRestorePoint, DeleteDataNode, SetReplicationFactor};
use timescaledb_multinode::pool::PoolConfig;
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalServer};
use timescaledb_multinode::tokio_postgres::Client;
use timescaledb_multinode::{
    AccessNode, DataNode, DistributedExec, DistributedHypertable, DistributedRole, DropUserMapping,
    Error, Executor, Ident, RoleSpec, SecretString, UserMapping,
};

use crate::common::{as_both_admins, join, joined_cluster_from, tier2};

/// A postgres_fdw server `dn1` on `client`'s database, for user mappings; and the roles
/// `roles`, to map.
async fn fdw_server(client: &Client, roles: &[&str]) {
    client
        .batch_execute(
            "CREATE EXTENSION postgres_fdw; \
             CREATE SERVER dn1 FOREIGN DATA WRAPPER postgres_fdw \
               OPTIONS (host '127.0.0.1', port '1', dbname 'tsdb')",
        )
        .await
        .unwrap();
    for role in roles {
        client
            .batch_execute(&format!("CREATE ROLE {role} NOLOGIN"))
            .await
            .unwrap();
    }
}

fn mapping(role: &str) -> UserMapping {
    UserMapping::new(RoleSpec::Named(Ident::new(role).unwrap()), "dn1")
        .password(SecretString::from(format!("pw-of-{role}")))
}

/// Whether `role` has a user mapping for `dn1`.
async fn mapped(client: &Client, role: &str) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_user_mappings \
                             WHERE srvname = 'dn1' AND usename = $1)",
            &[&role],
        )
        .await
        .unwrap()
        .get(0)
}

/// The driver's settings for `config`'s node (what an application's own pool holds).
#[cfg(feature = "bb8-postgres")]
fn driver_config(
    config: &timescaledb_multinode::NodeConfig,
) -> timescaledb_multinode::tokio_postgres::Config {
    use timescaledb_multinode::ExposeSecret;

    let mut driver = timescaledb_multinode::tokio_postgres::Config::new();
    driver
        .host(config.get_host())
        .port(config.get_port())
        .user(config.get_user())
        .password(config.get_password().expose_secret())
        .dbname(config.get_database());
    driver
}

#[tokio::test]
async fn user_mappings_run_on_every_executor() {
    let server = LocalServer::builder("an")
        .timescaledb(false)
        .start()
        .await
        .unwrap();
    let roles = [
        "r_access_node",
        "r_pooled",
        "r_client",
        "r_tx",
        "r_bb8_pool",
        "r_bb8_conn",
    ];
    let mut client = server.config().connect().await.unwrap();
    fdw_server(&client, &roles).await;

    let an = AccessNode::connect(server.config()).await.unwrap();
    mapping("r_access_node")
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    let pooled = an.client().await.unwrap();
    mapping("r_pooled").idempotent().run(&pooled).await.unwrap();
    drop(pooled);
    mapping("r_client").idempotent().run(&client).await.unwrap();

    // In the caller's transaction: undone by its rollback, kept by its commit.
    let tx = client.transaction().await.unwrap();
    assert!(tx.in_transaction_block());
    mapping("r_tx").idempotent().run(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(!mapped(&client, "r_tx").await);
    let tx = client.transaction().await.unwrap();
    mapping("r_tx").idempotent().run(&tx).await.unwrap();
    let dropped = DropUserMapping::new(RoleSpec::Named(Ident::new("r_tx").unwrap()), "dn1")
        .run(&tx)
        .await
        .unwrap();
    assert!(dropped);
    mapping("r_tx").run(&tx).await.unwrap();
    tx.commit().await.unwrap();

    #[cfg(feature = "bb8-postgres")]
    {
        use timescaledb_multinode::bb8_postgres::{bb8, PostgresConnectionManager};
        use timescaledb_multinode::tokio_postgres::NoTls;
        let manager = PostgresConnectionManager::new(driver_config(&server.config()), NoTls);
        let pool = bb8::Pool::builder()
            .max_size(2)
            .build(manager)
            .await
            .unwrap();
        mapping("r_bb8_pool").idempotent().run(&pool).await.unwrap();
        let conn = pool.get().await.unwrap();
        mapping("r_bb8_conn").idempotent().run(&conn).await.unwrap();
        // The connection stays usable for the application.
        conn.simple_query("SELECT 1").await.unwrap();
    }

    for role in roles {
        let expected = cfg!(feature = "bb8-postgres") || !role.starts_with("r_bb8");
        assert_eq!(mapped(&client, role).await, expected, "{role}");
    }
    // An error on a caller's client names the operation and the node as the crate knows it.
    let err = mapping("r_client").run(&client).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42710"), "{err:?}");
    assert_eq!(err.node(), Some("access node"));
    server.shutdown().await.unwrap();
}

/// Waits until the server log at `path` has `marker` (log lines reach the file through the
/// logging collector, after the statement ran).
async fn wait_for_log(path: &Path, marker: &str) -> String {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let log = std::fs::read_to_string(path).unwrap_or_default();
            if log.contains(marker) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{marker} never reached the server log"))
}

#[tokio::test]
async fn ingest_on_a_callers_client_transaction_and_pool() {
    let server = crate::common::plain_server("an").await;
    let mut client = server.config().connect().await.unwrap();
    client
        .batch_execute("CREATE TABLE r(i int4, s text)")
        .await
        .unwrap();
    let mut ingest = client.ingest("public.r", &["i", "s"]).await.unwrap();
    ingest.write(&[&1i32, &"one"]).await.unwrap();
    ingest.write(&[&2i32, &"two"]).await.unwrap();
    assert_eq!(ingest.finish().await.unwrap(), 2);

    let tx = client.transaction().await.unwrap();
    let mut ingest = tx.ingest("r", &["i"]).await.unwrap();
    ingest.write(&[&3i32]).await.unwrap();
    assert_eq!(ingest.finish().await.unwrap(), 1);
    tx.rollback().await.unwrap();

    #[cfg(feature = "bb8-postgres")]
    {
        use timescaledb_multinode::bb8_postgres::{bb8, PostgresConnectionManager};
        use timescaledb_multinode::tokio_postgres::NoTls;
        let manager = PostgresConnectionManager::new(driver_config(&server.config()), NoTls);
        let pool = bb8::Pool::builder()
            .max_size(1)
            .build(manager)
            .await
            .unwrap();
        let mut ingest = pool.ingest("r", &["i"]).await.unwrap();
        ingest.write(&[&4i32]).await.unwrap();
        assert_eq!(ingest.finish().await.unwrap(), 1);
    }
    let count: i64 = client
        .query_one("SELECT count(*) FROM r", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, if cfg!(feature = "bb8-postgres") { 3 } else { 2 });
    let err = client.ingest("r", &["nope"]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(err.node(), Some("access node"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn what_a_transaction_block_cannot_run_is_refused_before_anything_is_sent() {
    let server = LocalServer::builder("an")
        .timescaledb(false)
        .setting("log_statement", "all")
        .start()
        .await
        .unwrap();
    let mut client = server.config().connect().await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.batch_execute("SELECT 'tsmn-marker-before'")
        .await
        .unwrap();

    let refusals: Vec<(&str, Error)> = vec![
        (
            "add_data_node",
            DataNode::new("dn9", "127.0.0.1")
                .password(SecretString::from("pw"))
                .run(&tx)
                .await
                .unwrap_err(),
        ),
        (
            "delete_data_node",
            DeleteDataNode::new("dn9").run(&tx).await.unwrap_err(),
        ),
        (
            "non-transactional distributed_exec",
            DistributedExec::new("VACUUM")
                .non_transactional()
                .run(&tx)
                .await
                .unwrap_err(),
        ),
        (
            "distributed_exec",
            DistributedRole::new("r9", SecretString::from("pw"))
                .run(&tx)
                .await
                .unwrap_err(),
        ),
    ];
    for (what, err) in &refusals {
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(what), "{text}");
        assert!(text.contains("transaction block"), "{text}");
        assert_eq!(err.node(), Some("access node"));
    }
    // The transaction was not touched: nothing failed in it, so it still runs statements.
    tx.batch_execute("SELECT 'tsmn-marker-after'")
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let log = wait_for_log(server.log_path(), "tsmn-marker-after").await;
    let start = log.find("tsmn-marker-before").unwrap();
    let between = &log[start..log.find("tsmn-marker-after").unwrap()];
    let statements = between.matches("statement: ").count() + between.matches("execute ").count();
    // Only the second marker's own log line.
    assert_eq!(statements, 1, "{between}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_raw_clients_statement_methods_name_the_node() {
    let server = crate::common::plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();
    let client = an.client().await.unwrap();
    let err = client.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));
    assert_eq!(err.node(), Some("an"));
    let err = client.batch_execute("SELEC 1").await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42601"));
    // An ordinary error leaves the session fit: it goes back to the pool.
    drop(client);
    assert_eq!(an.pool_state().idle_connections, 1);
    server.shutdown().await.unwrap();
}

/// `CREATE TABLE` for a sensor table `name` and its distributed hypertable, on `on`.
async fn distributed_table(on: &(impl Executor + ?Sized), client: &Client, name: &str) {
    client
        .batch_execute(&format!(
            "CREATE TABLE {name}(time timestamptz NOT NULL, sensor_id int NOT NULL)"
        ))
        .await
        .unwrap();
    let created = DistributedHypertable::new(name, "time")
        .partitioning_column("sensor_id")
        .run(on)
        .await
        .unwrap();
    assert!(created.created, "{name}");
    assert_eq!(created.name, name);
}

async fn is_distributed(client: &Client, name: &str) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT FROM timescaledb_information.hypertables \
                             WHERE hypertable_name = $1 AND is_distributed)",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

async fn typed_operations_on_every_executor(model: AdminModel) {
    let (cluster, an) =
        joined_cluster_from(LocalCluster::builder().data_nodes(2).admin(model)).await;
    let mut client = cluster.access_node_config().connect().await.unwrap();

    distributed_table(&an, &client, "t_access_node").await;
    let pooled = an.client().await.unwrap();
    distributed_table(&pooled, &client, "t_pooled").await;
    DistributedExec::new("CREATE TABLE IF NOT EXISTS e_pooled(i int)")
        .run(&pooled)
        .await
        .unwrap();
    drop(pooled);
    distributed_table(&client, &client, "t_client").await;
    DistributedExec::new("CREATE TABLE IF NOT EXISTS e_client(i int)")
        .data_nodes(["dn1"])
        .run(&client)
        .await
        .unwrap();
    DistributedExec::new("VACUUM e_client")
        .data_nodes(["dn1"])
        .non_transactional()
        .run(&client)
        .await
        .unwrap();

    // In the caller's transaction: the hypertable (and its tables on the data nodes) go
    // with a rollback and stay with a commit.
    let tx = client.transaction().await.unwrap();
    tx.batch_execute("CREATE TABLE t_tx(time timestamptz NOT NULL, sensor_id int NOT NULL)")
        .await
        .unwrap();
    DistributedHypertable::new("t_tx", "time")
        .run(&tx)
        .await
        .unwrap();
    DistributedExec::new("CREATE TABLE e_tx(i int)")
        .run(&tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(!is_distributed(&client, "t_tx").await);
    let tx = client.transaction().await.unwrap();
    tx.batch_execute("CREATE TABLE t_tx(time timestamptz NOT NULL, sensor_id int NOT NULL)")
        .await
        .unwrap();
    DistributedHypertable::new("t_tx", "time")
        .run(&tx)
        .await
        .unwrap();
    DistributedExec::new("CREATE TABLE e_tx(i int)")
        .run(&tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    #[cfg(feature = "bb8-postgres")]
    {
        use timescaledb_multinode::bb8_postgres::{bb8, PostgresConnectionManager};
        use timescaledb_multinode::tokio_postgres::NoTls;
        let manager =
            PostgresConnectionManager::new(driver_config(&cluster.access_node_config()), NoTls);
        let pool = bb8::Pool::builder()
            .max_size(2)
            .build(manager)
            .await
            .unwrap();
        distributed_table(&pool, &client, "t_bb8_pool").await;
        DistributedExec::new("CREATE TABLE IF NOT EXISTS e_bb8_pool(i int)")
            .run(&pool)
            .await
            .unwrap();
        let conn = pool.get().await.unwrap();
        distributed_table(&conn, &client, "t_bb8_conn").await;
        drop(conn);
    }

    for name in ["t_access_node", "t_pooled", "t_client", "t_tx"] {
        assert!(is_distributed(&client, name).await, "{name}");
    }
    #[cfg(feature = "bb8-postgres")]
    for name in ["t_bb8_pool", "t_bb8_conn"] {
        assert!(is_distributed(&client, name).await, "{name}");
    }
    // The catalog reads, on a caller's client and transaction, as on the access node.
    let names = |nodes: Vec<timescaledb_multinode::catalog::DataNodeInfo>| {
        nodes.into_iter().map(|n| n.name).collect::<Vec<_>>()
    };
    assert_eq!(names(client.data_nodes().await.unwrap()), ["dn1", "dn2"]);
    assert_eq!(
        names(client.data_nodes().await.unwrap()),
        names(an.data_nodes().await.unwrap())
    );
    let info = client
        .hypertable("public.t_client")
        .await
        .unwrap()
        .expect("a hypertable");
    assert!(info.is_distributed);
    assert_eq!(info.data_nodes, ["dn1", "dn2"]);
    assert!(client.chunks("t_client").await.unwrap().is_empty());
    // Binary COPY on the caller's client, its data nodes checked first.
    let mut ingest = client
        .ingest("public.t_client", &["time", "sensor_id"])
        .await
        .unwrap();
    ingest
        .write(&[&std::time::SystemTime::UNIX_EPOCH, &7i32])
        .await
        .unwrap();
    assert_eq!(ingest.finish().await.unwrap(), 1);
    assert_eq!(client.chunks("t_client").await.unwrap().len(), 1);
    SetReplicationFactor::new("t_client", 2)
        .run(&client)
        .await
        .unwrap();
    let info = client.hypertable("t_client").await.unwrap().unwrap();
    assert_eq!(info.replication_factor, Some(2));
    let points = CreateRestorePoint::new("byos").run(&client).await;
    match model {
        AdminModel::Superuser => assert_eq!(points.unwrap().len(), 3),
        _ => {
            let err = points.unwrap_err();
            assert!(matches!(err, Error::MissingPrivilege { .. }), "{err:?}");
        }
    }
    let tx = client.transaction().await.unwrap();
    let listed = tx.hypertables().await.unwrap();
    assert!(listed.iter().any(|h| h.name == "t_tx"), "{listed:?}");
    let err = tx.chunks("no_such_table").await.unwrap_err();
    assert_eq!(err.node(), Some("access node"));
    tx.rollback().await.unwrap();

    // What distributed_exec created is on the data nodes it was sent to.
    for dn in cluster.data_nodes() {
        let dn_client = dn.config().connect().await.unwrap();
        let row = dn_client
            .query_one(
                "SELECT to_regclass('e_pooled') IS NOT NULL, to_regclass('e_client') IS NOT NULL, \
                        to_regclass('e_tx') IS NOT NULL",
                &[],
            )
            .await
            .unwrap();
        let on_dn1 = dn.name() == "dn1";
        assert_eq!(
            (
                row.get::<_, bool>(0),
                row.get::<_, bool>(1),
                row.get::<_, bool>(2)
            ),
            (true, on_dn1, true),
            "{}",
            dn.name()
        );
    }
    // A data node down: the caller's ingest is refused before a row is sent (a write to a
    // chunk with a replica there would crash the access node).
    let mut cluster = cluster;
    cluster.data_nodes_mut()[1].stop().await.unwrap();
    let err = client
        .ingest("t_client", &["time", "sensor_id"])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DataNodeDown { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn2"));
    drop(client);
    cluster.shutdown().await.unwrap();
}

as_both_admins!(typed_operations_on_every_executor);

/// The backend serving `client`'s session.
async fn backend_pid(client: &timescaledb_multinode::pool::PooledClient<'_>) -> i32 {
    client
        .query_one("SELECT pg_catalog.pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_raw_client_keeps_a_session_whose_data_node_login_failed_out_of_the_pool() {
    let Some(_) = tier2() else { return };
    let cluster = LocalCluster::start(2).await.unwrap();
    // One connection, so a session handed out again is the same backend.
    let an = join(&cluster, PoolConfig::default().max_size(1)).await;
    let first = backend_pid(&an.client().await.unwrap()).await;
    assert_eq!(backend_pid(&an.client().await.unwrap()).await, first);

    UserMapping::new(RoleSpec::CurrentUser, "dn2")
        .password(SecretString::from("wrong"))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    for _ in 0..3 {
        let client = an.client().await.unwrap();
        let before = backend_pid(&client).await;
        // The driver's own method, on the raw client, with caller-written SQL.
        let err = client
            .batch_execute(
                "CALL public.distributed_exec('SELECT 1', node_list => '{dn2}', \
                                              transactional => false)",
            )
            .await
            .unwrap_err();
        assert!(err.is_authentication_failure(), "{err:?}");
        assert_eq!(err.node(), Some("dn2"));
        drop(client);
        // The session that failed is not handed out again.
        let client = an.client().await.unwrap();
        assert_ne!(backend_pid(&client).await, before);
        client
            .batch_execute(
                "CALL public.distributed_exec('SELECT 1', node_list => '{dn1}', \
                                              transactional => false)",
            )
            .await
            .unwrap();
    }
    assert!(
        !cluster.access_node().log().contains("Segmentation fault"),
        "{}",
        cluster.access_node().log_tail(20)
    );
    cluster.shutdown().await.unwrap();
}
