//! Throughput against the number of concurrent tasks (1, 16, 64, 256) sharing one
//! `AccessNode` with a pool of 16, against a baseline of the same work on raw
//! tokio-postgres connections to the access node, one per task, in the same run.
//!
//! The work is the soak test's mix, half and half: a distributed query (`count(*)` of the
//! task's newest rows) and a 50-row binary COPY into `soak`, a distributed hypertable
//! partitioned on the task (tier 2; a plain table in tier 1). Each measurement runs [`OPS`]
//! operations in all, spread over the tasks; the baseline's connections are opened before
//! it is timed, as a warm pool's are. The crate's side includes its data-node check before
//! each ingest (TimescaleDB's `ping_data_node` logs in to each data node anew): measured
//! with the default (an ingest relies only on a check that started after it asked) and with
//! `node_check_max_age(1 s)`.
//!
//! ```text
//! cargo bench --bench throughput
//! ```

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use timescaledb_multinode::pool::PoolConfig;
use timescaledb_multinode::tokio_postgres::binary_copy::BinaryCopyInWriter;
use timescaledb_multinode::tokio_postgres::types::{ToSql, Type};
use timescaledb_multinode::tokio_postgres::Client;
use timescaledb_multinode::{AccessNode, Ident, RawSql, TableName};

/// Operations per measurement, split among the tasks.
const OPS: usize = 256;
const ROWS_PER_INGEST: i32 = 50;
const TASKS: [usize; 4] = [1, 16, 64, 256];
const POOL_SIZE: u32 = 16;

/// Batches written so far: each batch gets minutes of its own.
static BATCHES: AtomicU64 = AtomicU64::new(0);

fn minute(m: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 60 * m)
}

fn batch(task: i32) -> Vec<(SystemTime, i32, i32)> {
    let first = BATCHES.fetch_add(1, Ordering::Relaxed) * ROWS_PER_INGEST as u64;
    (0..ROWS_PER_INGEST)
        .map(|n| (minute(first + n as u64), task, n))
        .collect()
}

/// Where the newest rows start: queries read only those, so they cost the same however
/// many rows earlier measurements wrote.
fn recent() -> SystemTime {
    let written = BATCHES.load(Ordering::Relaxed) * ROWS_PER_INGEST as u64;
    minute(written.saturating_sub(1_000))
}

/// Whether operation `i` of task `task` (of `tasks`) is a query; every task mixes both.
fn is_query(task: usize, i: usize, tasks: usize) -> bool {
    (task + i * tasks).is_multiple_of(2)
}

const COUNT: &str = "SELECT count(*) FROM soak WHERE task = $1 AND time >= $2";

/// One task's share of the work through the crate.
async fn crate_task(an: AccessNode, task: usize, tasks: usize, ops: usize) {
    let table = TableName::new(Ident::new("soak").unwrap());
    let count = RawSql::vouched(COUNT);
    let id = task as i32;
    for i in 0..ops {
        if is_query(task, i, tasks) {
            an.query(&count, &[&id, &recent()]).await.unwrap();
        } else {
            let values = batch(id);
            let rows: Vec<[&(dyn ToSql + Sync); 3]> = values
                .iter()
                .map(|(t, k, n)| [t as _, k as _, n as _])
                .collect();
            an.ingest_with_retry(&table, &["time", "task", "n"], &rows)
                .await
                .unwrap();
        }
    }
}

/// The same share on a raw connection of its own.
async fn raw_task(client: &Client, task: usize, tasks: usize, ops: usize) {
    let types = [Type::TIMESTAMPTZ, Type::INT4, Type::INT4];
    let id = task as i32;
    for i in 0..ops {
        if is_query(task, i, tasks) {
            client.query(COUNT, &[&id, &recent()]).await.unwrap();
        } else {
            let sink = client
                .copy_in("COPY soak (time, task, n) FROM STDIN (FORMAT binary)")
                .await
                .unwrap();
            let writer = BinaryCopyInWriter::new(sink, &types);
            futures_util::pin_mut!(writer);
            for (t, k, n) in batch(id) {
                writer.as_mut().write(&[&t, &k, &n]).await.unwrap();
            }
            writer.finish().await.unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = common::runtime();
    let bench = rt.block_on(async {
        let bench = common::setup_with(400, &PoolConfig::default().max_size(POOL_SIZE)).await;
        bench
            .an
            .execute(
                &RawSql::vouched(
                    "CREATE TABLE soak(time timestamptz NOT NULL, task int4 NOT NULL, \
                     n int4 NOT NULL)",
                ),
                &[],
            )
            .await
            .unwrap();
        if bench.multinode {
            timescaledb_multinode::DistributedHypertable::new("soak", "time")
                .partitioning_column("task")
                .run(&bench.an)
                .await
                .unwrap();
        }
        bench
    });
    // One raw connection per task, opened once.
    let raw: Vec<Client> = rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..TASKS[TASKS.len() - 1] {
            clients.push(bench.cluster.access_node_config().connect().await.unwrap());
        }
        clients
    });
    let raw = std::sync::Arc::new(raw);

    let mut group = c.benchmark_group("throughput");
    group.sample_size(10);
    group.throughput(Throughput::Elements(OPS as u64));
    let relaxed = bench.an.clone().node_check_max_age(Duration::from_secs(1));
    let mut medians = Vec::new();
    for tasks in TASKS {
        let per_task = OPS / tasks;
        let mut run_crate = |name: &str, an: &AccessNode| {
            let mut samples = common::Samples::default();
            group.bench_with_input(BenchmarkId::new(name, tasks), &tasks, |b, &tasks| {
                b.iter_custom(|iters| {
                    let spent = rt.block_on(async {
                        let started = Instant::now();
                        for _ in 0..iters {
                            let mut set = tokio::task::JoinSet::new();
                            for task in 0..tasks {
                                set.spawn(crate_task(an.clone(), task, tasks, per_task));
                            }
                            while let Some(done) = set.join_next().await {
                                done.unwrap();
                            }
                        }
                        started.elapsed()
                    });
                    samples.add(spent, iters);
                    spent
                });
            });
            samples.median()
        };
        let strict = run_crate("crate", &bench.an);
        let within_1s = run_crate("crate, checks up to 1 s old", &relaxed);
        let mut raw_samples = common::Samples::default();
        group.bench_with_input(BenchmarkId::new("raw", tasks), &tasks, |b, &tasks| {
            b.iter_custom(|iters| {
                let spent = rt.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let mut set = tokio::task::JoinSet::new();
                        for task in 0..tasks {
                            let raw = raw.clone();
                            set.spawn(async move {
                                raw_task(&raw[task], task, tasks, per_task).await;
                            });
                        }
                        while let Some(done) = set.join_next().await {
                            done.unwrap();
                        }
                    }
                    started.elapsed()
                });
                raw_samples.add(spent, iters);
                spent
            });
        });
        medians.push((tasks, strict, within_1s, raw_samples.median()));
    }
    group.finish();

    println!(
        "tasks | crate ops/s | crate, checks up to 1 s old | raw ops/s (a connection per task)"
    );
    for (tasks, strict, within_1s, raw_time) in &medians {
        let rate = |d: &Duration| OPS as f64 / d.as_secs_f64();
        println!(
            "{tasks:>5} | {:>11.0} | {:>27.0} | {:>9.0}",
            rate(strict),
            rate(within_1s),
            rate(raw_time),
        );
        for (name, time) in [
            ("crate", strict),
            ("crate, checks up to 1 s old", within_1s),
        ] {
            common::report(
                &format!("throughput at {tasks} tasks, {name}"),
                *time,
                *raw_time,
                "reported: where the crate levels off against a connection per task",
            );
        }
    }
    println!(
        "checkout waits over the whole run: {}",
        bench.an.pool().checkout_waits()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
