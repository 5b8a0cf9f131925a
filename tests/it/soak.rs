//! Tier 2: a bounded soak: 64 tasks share one `AccessNode`, mixing queries,
//! `distributed_exec` and binary-COPY ingest. Zero errors, exact row counts, the pool back to
//! idle, and no growth in open connections on the servers.
//!
//! `TSMN_SOAK_SECS` sets how long it runs (default 3 s, for CI).

use std::io::Write;
use std::time::{Duration, Instant};

use timescaledb_multinode::testing::LocalCluster;
use timescaledb_multinode::{
    query_each, AccessNode, DistributedExec, DistributedHypertable, Error, Ident, PoolConfig,
    RawSql, TableName,
};

use crate::common::{join, tier2};

const TASKS: i32 = 64;
const ROWS_PER_INGEST: i32 = 50;

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
    let Some(_) = tier2() else { return };
    let secs: u64 = std::env::var("TSMN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let cluster = LocalCluster::start(2).await.unwrap();
    let an = join(&cluster, PoolConfig::default().max_size(16)).await;
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
        .create(&an)
        .await
        .unwrap();
    let table = TableName::new(Ident::new("soak").unwrap());
    let backends_before = client_backends(&an).await;

    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let an = an.clone();
        let table = table.clone();
        tasks.spawn(async move {
            let (mut ops, mut rows) = (0u64, 0i64);
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
                        let mut ingest = an.ingest(&table, &["time", "task", "n"]).await?;
                        for n in 0..ROWS_PER_INGEST {
                            let at = base + Duration::from_secs(60 * (rows as u64 + n as u64));
                            ingest.write(&[&at, &task, &n]).await?;
                        }
                        rows += i64::from(ROWS_PER_INGEST);
                        assert_eq!(ingest.finish().await?, ROWS_PER_INGEST as u64);
                    }
                }
                ops += 1;
            }
            Ok::<_, Error>((task, ops, rows))
        });
    }
    let (mut operations, mut expected) = (0u64, Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (task, ops, rows) = done.unwrap().unwrap();
        operations += ops;
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
    let sql = RawSql::vouched("SELECT count(*) FROM soak");
    let on_nodes: i64 = query_each(&cluster.data_node_configs(), &sql, &[])
        .await
        .into_iter()
        .map(|e| e.result.unwrap()[0].get::<_, i64>(0))
        .sum();
    assert_eq!(on_nodes, total, "rows on the data nodes");

    // The pool is back to idle and bounded; the server has no more connections than it.
    let state = an.pool_state();
    assert_eq!(state.idle_connections, state.connections, "{state:?}");
    assert!(state.connections <= 16, "{state:?}");
    let backends_after = client_backends(&an).await;
    assert!(
        backends_after <= backends_before.max(1) + 16,
        "{backends_before} -> {backends_after}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "soak: {TASKS} tasks, {operations} operations in {elapsed:.1?} ({:.0}/s), \
         {total} rows ingested and counted exactly, 0 errors, pool {}/{} idle",
        operations as f64 / elapsed.as_secs_f64(),
        state.idle_connections,
        state.connections
    );
    cluster.shutdown().await.unwrap();
}
