//! Pooled `DistributedExec` against a fresh connection per call (what psql scripts and Helm
//! jobs do), in the same run. Target: ≥ 10× more calls per second.
//! On plain PostgreSQL (tier 1) both sides run `SELECT 1` instead.
//!
//! ```text
//! cargo bench --bench distributed_exec
//! ```

mod common;

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use timescaledb_multinode::{DistributedExec, RawSql};

const CALLS: u32 = 20;

fn bench(c: &mut Criterion) {
    let rt = common::runtime();
    let bench = rt.block_on(common::setup());
    let statement = if bench.multinode {
        "CALL distributed_exec('SELECT 1', transactional => false)"
    } else {
        "SELECT 1"
    };
    let mut pooled = common::Samples::default();
    let mut fresh = common::Samples::default();
    let mut group = c.benchmark_group("distributed_exec");
    group.sample_size(10);
    group.bench_function("fresh connection per call", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..iters * u64::from(CALLS) {
                    let client = bench.an.config().connect().await.unwrap();
                    client.batch_execute(statement).await.unwrap();
                }
            });
            let spent = start.elapsed();
            fresh.add(spent, iters);
            spent
        })
    });
    group.bench_function("pooled DistributedExec", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..iters * u64::from(CALLS) {
                    if bench.multinode {
                        DistributedExec::new(RawSql::vouched("SELECT 1"))
                            .non_transactional()
                            .run(&bench.an)
                            .await
                            .unwrap();
                    } else {
                        bench
                            .an
                            .execute(&RawSql::vouched(statement), &[])
                            .await
                            .unwrap();
                    }
                }
            });
            let spent = start.elapsed();
            pooled.add(spent, iters);
            spent
        })
    });
    group.finish();
    common::report(
        &format!("fresh connection / pooled ({CALLS} calls)"),
        fresh.median(),
        pooled.median(),
        ">= 10",
    );
    rt.block_on(async move { bench.cluster.shutdown().await.unwrap() });
}

criterion_group!(benches, bench);
criterion_main!(benches);
