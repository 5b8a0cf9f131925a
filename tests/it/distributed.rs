//! Tier 2: pooled `distributed_exec` and per-node queries on a real cluster.

use timescaledb_multinode::data::query_each;
use timescaledb_multinode::pool::PoolConfig;
use timescaledb_multinode::testing::LocalCluster;
use timescaledb_multinode::{AccessNode, DistributedExec, Error, RawSql};

use crate::common::{join, tier2};

async fn joined(pool: PoolConfig) -> (LocalCluster, AccessNode) {
    let cluster = LocalCluster::start(2).await.unwrap();
    let an = join(&cluster, pool).await;
    (cluster, an)
}

async fn table_exists_on(cluster: &LocalCluster, table: &str) -> Vec<bool> {
    let sql = RawSql::vouched("SELECT to_regclass($1) IS NOT NULL");
    query_each(&cluster.data_node_configs(), &sql, &[&table])
        .await
        .into_iter()
        .map(|entry| entry.result.unwrap()[0].get(0))
        .collect()
}

#[tokio::test]
async fn distributed_exec_runs_where_it_is_told() {
    let Some(_) = tier2() else { return };
    let (cluster, an) = joined(PoolConfig::default()).await;

    DistributedExec::new(RawSql::vouched("CREATE TABLE only_dn1(i int)"))
        .data_nodes(["dn1"])
        .run(&an)
        .await
        .unwrap();
    assert_eq!(table_exists_on(&cluster, "only_dn1").await, [true, false]);
    DistributedExec::new(RawSql::vouched("CREATE TABLE everywhere(i int);"))
        .run(&an)
        .await
        .unwrap();
    assert_eq!(table_exists_on(&cluster, "everywhere").await, [true, true]);

    // Non-transactional: statements that cannot run in a transaction block.
    DistributedExec::new(RawSql::vouched("CREATE DATABASE made_by_exec"))
        .non_transactional()
        .run(&an)
        .await
        .unwrap();
    let sql = RawSql::vouched("SELECT count(*) FROM pg_database WHERE datname = 'made_by_exec'");
    for entry in query_each(&cluster.data_node_configs(), &sql, &[]).await {
        assert_eq!(
            entry.result.unwrap()[0].get::<_, i64>(0),
            1,
            "{}",
            entry.node
        );
    }

    // A data node's error names it.
    let err = DistributedExec::new(RawSql::vouched("SELECT 1/0"))
        .data_nodes(["dn2"])
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn2"));
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));

    // Unknown nodes are refused before anything is sent, listing the known ones.
    let err = DistributedExec::new(RawSql::vouched("CREATE TABLE never(i int)"))
        .data_nodes(["dn1", "dn9"])
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(
        err.to_string().contains("dn9") && err.to_string().contains("dn2"),
        "{err}"
    );
    assert_eq!(table_exists_on(&cluster, "never").await, [false, false]);
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn query_each_reports_a_down_node_and_still_answers_for_the_others() {
    let Some(_) = tier2() else { return };
    let (mut cluster, _an) = joined(PoolConfig::default()).await;
    let configs = cluster.data_node_configs();
    cluster.data_nodes_mut()[1].stop().await.unwrap();
    let sql = RawSql::vouched("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
    let entries = query_each(&configs, &sql, &[]).await;
    assert_eq!(entries[0].node, "dn1");
    assert_eq!(entries[0].result.as_ref().unwrap().len(), 1);
    let err = entries[1].result.as_ref().unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert_eq!(err.node(), Some("dn2"));
    // Read-only: writes are refused.
    let write = RawSql::vouched("CREATE TABLE nope(i int)");
    let entries = query_each(&configs[..1], &write, &[]).await;
    let err = entries[0].result.as_ref().unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("25006"), "{err:?}");
    cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_mix_queries_and_distributed_exec() {
    let Some(_) = tier2() else { return };
    let (cluster, an) = joined(PoolConfig::default().max_size(8)).await;
    an.execute(
        &RawSql::vouched("CREATE TABLE hits(task int, call int)"),
        &[],
    )
    .await
    .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..32i32 {
        let an = an.clone();
        tasks.spawn(async move {
            for call in 0..100i32 {
                if call % 10 == 0 {
                    DistributedExec::new(RawSql::vouched("SELECT 1"))
                        .non_transactional()
                        .run(&an)
                        .await?;
                } else {
                    an.execute(
                        &RawSql::vouched("INSERT INTO hits VALUES ($1, $2)"),
                        &[&task, &call],
                    )
                    .await?;
                }
            }
            Ok::<_, Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let rows = an
        .query(&RawSql::vouched("SELECT count(*) FROM hits"), &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 32 * 90);
    let state = an.pool_state();
    assert!(state.connections <= 8, "{state:?}");
    assert_eq!(state.idle_connections, state.connections, "{state:?}");
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failed_data_node_login_does_not_poison_the_pool() {
    let Some(_) = tier2() else { return };
    // One connection, so a reused session would be the same one.
    let (cluster, an) = joined(PoolConfig::default().max_size(1)).await;
    timescaledb_multinode::UserMapping::new(timescaledb_multinode::RoleSpec::CurrentUser, "dn2")
        .password(timescaledb_multinode::SecretString::from("wrong"))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    for _ in 0..3 {
        let err = DistributedExec::new(RawSql::vouched("SELECT 1"))
            .data_nodes(["dn2"])
            .non_transactional()
            .run(&an)
            .await
            .unwrap_err();
        assert!(err.is_authentication_failure(), "{err:?}");
        assert_eq!(err.node(), Some("dn2"));
        // The session that failed is not handed out again: TimescaleDB 2.13 crashes such a
        // session (and so every session of the access node) on its next distributed_exec.
        DistributedExec::new(RawSql::vouched("SELECT 1"))
            .data_nodes(["dn1"])
            .run(&an)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_recovers_when_the_access_node_restarts() {
    let Some(_) = tier2() else { return };
    let (mut cluster, an) = joined(PoolConfig::default().max_size(4)).await;
    an.execute(&RawSql::vouched("CREATE TABLE r(i int)"), &[])
        .await
        .unwrap();
    DistributedExec::new(RawSql::vouched("SELECT 1"))
        .run(&an)
        .await
        .unwrap();
    cluster.access_node_mut().stop().await.unwrap();
    cluster.access_node_mut().start().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // No help from the caller: dead connections are replaced at checkout.
    for i in 0..8i32 {
        an.execute(&RawSql::vouched("INSERT INTO r VALUES ($1)"), &[&i])
            .await
            .unwrap();
    }
    DistributedExec::new(RawSql::vouched("SELECT 1"))
        .run(&an)
        .await
        .unwrap();
    let rows = an
        .query(&RawSql::vouched("SELECT count(*) FROM r"), &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 8);
    cluster.shutdown().await.unwrap();
}
