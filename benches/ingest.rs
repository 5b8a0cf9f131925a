//! Bulk ingest into `sensor_data` (a distributed hypertable in tier 2, a plain table in
//! tier 1) through the access node, all in the same run:
//! - binary COPY (`AccessNode::ingest`) of 100,000 rows,
//! - 1,000-row multi-row INSERTs of the same rows (target: COPY ≥ 2× faster),
//! - row-by-row INSERTs (measured on 1,000 rows, compared per row; target: COPY ≥ 10×),
//! - `psql \copy` of the same rows from a CSV file (target: COPY ≤ 1.1× its time).
//!
//! ```text
//! cargo bench --bench ingest
//! ```

mod common;

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use timescaledb_multinode::tokio_postgres::types::ToSql;
use timescaledb_multinode::{ExposeSecret, Ident, RawSql, TableName};

const ROWS: usize = 100_000;
const ROW_BY_ROW: usize = 1_000;
const BATCH: usize = 1_000;

struct Row {
    time: SystemTime,
    sensor: i32,
    temperature: f64,
}

fn rows(n: usize) -> Vec<Row> {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    (0..n)
        .map(|i| Row {
            time: start + Duration::from_secs(30 * i as u64),
            sensor: (i % 100) as i32,
            temperature: (i % 40) as f64 + 0.5,
        })
        .collect()
}

/// `secs` since the epoch as `YYYY-MM-DD HH:MM:SS+00` (civil-from-days, proleptic
/// Gregorian).
fn iso_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}+00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn multi_row_insert(n: usize) -> String {
    let mut sql = String::from("INSERT INTO sensor_data (time, sensor_id, temperature) VALUES ");
    for i in 0..n {
        let p = i * 3;
        let sep = if i == 0 { "" } else { ", " };
        write!(sql, "{sep}(${}, ${}, ${})", p + 1, p + 2, p + 3).unwrap();
    }
    sql
}

fn bench(c: &mut Criterion) {
    let rt = common::runtime();
    let bench = rt.block_on(async {
        let bench = common::setup().await;
        common::sensor_table(&bench).await;
        bench
    });
    let an = &bench.an;
    let data = rows(ROWS);
    let table = TableName::new(Ident::new("sensor_data").unwrap());
    let truncate = RawSql::vouched("TRUNCATE sensor_data");
    let batch_sql = RawSql::vouched(multi_row_insert(BATCH));
    let single_sql = RawSql::vouched(
        "INSERT INTO sensor_data (time, sensor_id, temperature) VALUES ($1, $2, $3)",
    );

    // The CSV file psql loads, and how psql reaches the access node.
    let csv_path = std::env::temp_dir().join(format!("tsmn-bench-{}.csv", std::process::id()));
    let mut csv = String::new();
    for r in &data {
        let secs = r
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        writeln!(csv, "{},{},{}", iso_utc(secs), r.sensor, r.temperature).unwrap();
    }
    std::fs::write(&csv_path, csv).unwrap();
    let psql = bench.cluster.access_node().install().bindir().join("psql");
    let an_config = an.config().clone();

    let mut copy = common::Samples::default();
    let mut batched = common::Samples::default();
    let mut single = common::Samples::default();
    let mut psql_copy = common::Samples::default();
    let mut group = c.benchmark_group("ingest");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));

    group.bench_function("binary COPY, 100k rows", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    an.execute(&truncate, &[]).await.unwrap();
                    let start = Instant::now();
                    let mut ingest = an
                        .ingest(&table, &["time", "sensor_id", "temperature"])
                        .await
                        .unwrap();
                    for r in &data {
                        ingest
                            .write(&[&r.time, &r.sensor, &r.temperature])
                            .await
                            .unwrap();
                    }
                    ingest.finish().await.unwrap();
                    spent += start.elapsed();
                });
            }
            copy.add(spent, iters);
            spent
        })
    });
    group.bench_function("1,000-row INSERTs, 100k rows", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    an.execute(&truncate, &[]).await.unwrap();
                    let start = Instant::now();
                    for chunk in data.chunks(BATCH) {
                        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(BATCH * 3);
                        for r in chunk {
                            params.push(&r.time);
                            params.push(&r.sensor);
                            params.push(&r.temperature);
                        }
                        an.execute(&batch_sql, &params).await.unwrap();
                    }
                    spent += start.elapsed();
                });
            }
            batched.add(spent, iters);
            spent
        })
    });
    group.bench_function("row-by-row INSERT, 1k rows", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    an.execute(&truncate, &[]).await.unwrap();
                    let start = Instant::now();
                    for r in &data[..ROW_BY_ROW] {
                        an.execute(&single_sql, &[&r.time, &r.sensor, &r.temperature])
                            .await
                            .unwrap();
                    }
                    spent += start.elapsed();
                });
            }
            single.add(spent, iters);
            spent
        })
    });
    group.bench_function("psql \\copy, 100k rows", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async { an.execute(&truncate, &[]).await.unwrap() });
                let start = Instant::now();
                let status = Command::new(&psql)
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
                    .args(["-h", an_config.get_host()])
                    .args(["-p", &an_config.get_port().to_string()])
                    .args(["-U", an_config.get_user(), "-d", an_config.get_database()])
                    .arg("-c")
                    .arg(format!(
                        "\\copy sensor_data (time, sensor_id, temperature) FROM '{}' WITH (FORMAT csv)",
                        csv_path.display()
                    ))
                    .env("PGPASSWORD", an_config.get_password().expose_secret())
                    .status()
                    .unwrap();
                assert!(status.success());
                spent += start.elapsed();
            }
            psql_copy.add(spent, iters);
            spent
        })
    });
    group.finish();
    let _ = std::fs::remove_file(&csv_path);

    let per_row = |d: Duration, n: usize| d / n as u32;
    common::report(
        "row-by-row / COPY, per row",
        per_row(single.median(), ROW_BY_ROW),
        per_row(copy.median(), ROWS),
        ">= 10",
    );
    common::report(
        "1,000-row INSERT / COPY",
        batched.median(),
        copy.median(),
        ">= 2",
    );
    common::report(
        "COPY / psql \\copy",
        copy.median(),
        psql_copy.median(),
        "<= 1.1",
    );
    rt.block_on(async move { bench.cluster.shutdown().await.unwrap() });
}

criterion_group!(benches, bench);
criterion_main!(benches);
