//! Library overhead on a query through the access node (pooled `AccessNode::query`) against
//! the raw tokio-postgres client on the same server, in the same run. Target: ratio ≤ 1.05.
//!
//! ```text
//! cargo bench --bench query
//! ```

mod common;

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use timescaledb_multinode::RawSql;

const CALLS: u32 = 200;

fn bench(c: &mut Criterion) {
    let rt = common::runtime();
    let bench = rt.block_on(common::setup());
    let raw = rt.block_on(async {
        let config = bench.an.config().to_tokio_postgres().unwrap();
        let (client, conn) = config
            .connect(timescaledb_multinode::tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    });
    let sql = RawSql::vouched("SELECT $1::int4 + 1");
    let mut library = common::Samples::default();
    let mut baseline = common::Samples::default();
    let mut group = c.benchmark_group("query through the access node");
    group.sample_size(20);
    group.bench_function("raw tokio-postgres client", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..iters * u64::from(CALLS) {
                    raw.query(sql.as_str(), &[&1i32]).await.unwrap();
                }
            });
            let spent = start.elapsed();
            baseline.add(spent, iters);
            spent
        })
    });
    group.bench_function("AccessNode::query (pooled)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..iters * u64::from(CALLS) {
                    bench.an.query(&sql, &[&1i32]).await.unwrap();
                }
            });
            let spent = start.elapsed();
            library.add(spent, iters);
            spent
        })
    });
    group.finish();
    // The machine is shared and noisy: besides criterion's separate runs, alternate the two
    // sides round by round and take the median of the per-round ratios.
    let mut ratios = Vec::new();
    rt.block_on(async {
        for _ in 0..30 {
            let start = Instant::now();
            for _ in 0..CALLS {
                raw.query(sql.as_str(), &[&1i32]).await.unwrap();
            }
            let raw_time = start.elapsed();
            let start = Instant::now();
            for _ in 0..CALLS {
                bench.an.query(&sql, &[&1i32]).await.unwrap();
            }
            ratios.push(start.elapsed().as_secs_f64() / raw_time.as_secs_f64());
        }
    });
    ratios.sort_by(f64::total_cmp);
    println!(
        "RATIO query overhead, alternating rounds: median {:.3} (target <= 1.05)",
        ratios[ratios.len() / 2]
    );
    common::report(
        &format!("query overhead ({CALLS} calls)"),
        library.median(),
        baseline.median(),
        "<= 1.05",
    );
    drop(raw);
    rt.block_on(async move { bench.cluster.shutdown().await.unwrap() });
}

criterion_group!(benches, bench);
criterion_main!(benches);
