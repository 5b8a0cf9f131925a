//! Tier 2: a bounded soak: 64 or 256 tasks share one `AccessNode` with a pool of 16,
//! mixing queries, `distributed_exec` and binary-COPY ingest. Zero errors, exact row counts
//! per task through the access node and on the data nodes, the pool back to idle, no growth
//! in open connections on the servers, and the checkout waits reported (median, p99, max).
//!
//! `TSMN_SOAK_SECS` sets how long each runs (default 3 s, for CI); the README has the
//! figures of a longer run.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use timescaledb_multinode::data::query_each;
use timescaledb_multinode::pool::PoolConfig;
use timescaledb_multinode::testing::LocalCluster;
use timescaledb_multinode::tokio_postgres::types::ToSql;
use timescaledb_multinode::{
    AccessNode, DistributedExec, DistributedHypertable, Error, Ident, RawSql, TableName,
};

use crate::common::{join, tier2};

const ROWS_PER_INGEST: i32 = 50;
const POOL_SIZE: u32 = 16;

async fn client_backends(an: &AccessNode) -> i64 {
    an.query(
        &RawSql::vouched(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
        ),
        &[],
    )
    .await
    .unwrap()[0]
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_tasks_mix_queries_exec_and_ingest() {
    soak(64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fifty_six_tasks_mix_queries_exec_and_ingest() {
    soak(256).await;
}

/// Exact rows per task, summed over the data nodes.
async fn rows_on_data_nodes(cluster: &LocalCluster) -> BTreeMap<i32, i64> {
    let sql = RawSql::vouched("SELECT task, count(*) FROM soak GROUP BY task");
    let mut per_task = BTreeMap::new();
    for entry in query_each(&cluster.data_node_configs(), &sql, &[]).await {
        for row in entry.result.unwrap() {
            *per_task.entry(row.get::<_, i32>(0)).or_default() += row.get::<_, i64>(1);
        }
    }
    per_task
}

async fn soak(tasks_n: i32) {
    let Some(_) = tier2() else { return };
    let secs: u64 = std::env::var("TSMN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let cluster = LocalCluster::start(2).await.unwrap();
    let an = join(&cluster, PoolConfig::default().max_size(POOL_SIZE)).await;
    an.execute(
        &RawSql::vouched(
            "CREATE TABLE soak(time timestamptz NOT NULL, task int4 NOT NULL, n int4 NOT NULL)",
        ),
        &[],
    )
    .await
    .unwrap();
    DistributedHypertable::new("soak", "time")
        .partitioning_column("task")
        .run(&an)
        .await
        .unwrap();
    let table = TableName::new(Ident::new("soak").unwrap());
    let backends_before = client_backends(&an).await;

    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..tasks_n {
        let an = an.clone();
        let table = table.clone();
        tasks.spawn(async move {
            let (mut ops, mut rows, mut retries) = (0u64, 0i64, 0u32);
            let base = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
            while Instant::now() < deadline {
                match ops % 3 {
                    0 => {
                        an.query(
                            &RawSql::vouched("SELECT count(*) FROM soak WHERE task = $1"),
                            &[&task],
                        )
                        .await?;
                    }
                    1 => {
                        DistributedExec::new(RawSql::vouched("SELECT 1"))
                            .non_transactional()
                            .run(&an)
                            .await?;
                    }
                    _ => {
                        let values: Vec<(std::time::SystemTime, i32)> = (0..ROWS_PER_INGEST)
                            .map(|n| (base + Duration::from_secs(60 * (rows as u64 + n as u64)), n))
                            .collect();
                        let batch: Vec<[&(dyn ToSql + Sync); 3]> = values
                            .iter()
                            .map(|(at, n)| [at as _, &task as _, n as _])
                            .collect();
                        let done = an
                            .ingest_with_retry(&table, &["time", "task", "n"], &batch)
                            .await?;
                        rows += i64::from(ROWS_PER_INGEST);
                        retries += done.attempts - 1;
                        assert_eq!(done.rows, ROWS_PER_INGEST as u64);
                    }
                }
                ops += 1;
            }
            Ok::<_, Error>((task, ops, rows, retries))
        });
    }
    let (mut operations, mut expected, mut retried) = (0u64, Vec::new(), 0u32);
    while let Some(done) = tasks.join_next().await {
        let (task, ops, rows, retries) = done.unwrap().unwrap();
        operations += ops;
        retried += retries;
        expected.push((task, rows));
    }
    let elapsed = started.elapsed();

    // Exact row counts, per task.
    let counts = an
        .query(
            &RawSql::vouched("SELECT task, count(*) FROM soak GROUP BY task"),
            &[],
        )
        .await
        .unwrap();
    let total: i64 = expected.iter().map(|(_, r)| r).sum();
    for (task, rows) in &expected {
        let got = counts
            .iter()
            .find(|r| r.get::<_, i32>(0) == *task)
            .map(|r| r.get::<_, i64>(1))
            .unwrap_or(0);
        assert_eq!(got, *rows, "task {task}");
    }
    let on_nodes = rows_on_data_nodes(&cluster).await;
    for (task, rows) in &expected {
        assert_eq!(
            on_nodes.get(task).copied().unwrap_or(0),
            *rows,
            "task {task} on the data nodes"
        );
    }
    assert_eq!(
        on_nodes.values().sum::<i64>(),
        total,
        "rows on the data nodes"
    );
    let waits = an.pool().checkout_waits();

    // The pool is back to idle and bounded; the server has no more connections than it
    // and the data-node check's sessions (one per data node and one that lists them).
    let state = an.pool_state();
    assert_eq!(state.idle_connections, state.connections, "{state:?}");
    assert!(state.connections <= POOL_SIZE, "{state:?}");
    let backends_after = client_backends(&an).await;
    let check_sessions = 1 + cluster.data_node_configs().len() as i64;
    assert!(
        backends_after <= backends_before.max(1) + i64::from(POOL_SIZE) + check_sessions,
        "{backends_before} -> {backends_after}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "soak: {tasks_n} tasks, pool of {POOL_SIZE}, {operations} operations in {elapsed:.1?} \
         ({:.0}/s), {total} rows ingested and counted exactly (through the access node and \
         on the data nodes), 0 errors, {retried} ingest batches run again, pool {}/{} idle; \
         checkout {waits}",
        operations as f64 / elapsed.as_secs_f64(),
        state.idle_connections,
        state.connections
    );
    cluster.shutdown().await.unwrap();
}
