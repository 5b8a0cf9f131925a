//! Leaving multi-node: a distributed hypertable of 1,000,000 rows on a 1 + 2 cluster moved to
//! a single TimescaleDB node (2.14.2 when `TSMN_TIMESCALEDB_SOURCES` has it, else the
//! installation's own), all in the same run:
//! - `Migration::run` (copy phase and verification timed apart),
//! - the documented manual way: psql `\copy (SELECT ...) TO STDOUT` through the access node
//!   piped into psql `\copy ... FROM STDIN` on the target, into a hypertable with the same
//!   indexes as the source's (targets: copy ≤ 0.8× its time, copy + verification ≤ 1.2×),
//! - the target's own ingest limit: psql `\copy` of the same rows from a local CSV file into
//!   the same hypertable.
//!
//! Also printed: the peak memory of this process. Tier 2 only.
//!
//! ```text
//! cargo bench --bench migrate                       # TSMN_BENCH_MIGRATE_ROWS to change the size
//! ```

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use timescaledb_multinode::testing::LocalServer;
use timescaledb_multinode::testing::PgInstall;
use timescaledb_multinode::{Cluster, ExposeSecret, Ident, NodeConfig, RawSql, TableName};

/// psql with `config`'s address and password.
fn psql(bin: &std::path::Path, config: &NodeConfig) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", config.get_host()])
        .args(["-p", &config.get_port().to_string()])
        .args(["-U", config.get_user(), "-d", config.get_database()])
        .env("PGPASSWORD", config.get_password().expose_secret());
    cmd
}

fn run_sql(bin: &std::path::Path, config: &NodeConfig, sql: &str) {
    let status = psql(bin, config).arg("-c").arg(sql).status().unwrap();
    assert!(status.success(), "{sql}");
}

/// Peak resident memory of this process, from `/proc/self/status`.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

const TARGET_TABLE: &str = "CREATE TABLE sensor_data(time timestamptz NOT NULL, \
    sensor_id int4 NOT NULL, temperature float8)";

fn bench(c: &mut Criterion) {
    let rows: u64 = std::env::var("TSMN_BENCH_MIGRATE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = common::runtime();
    let bench = rt.block_on(common::setup());
    if !bench.multinode {
        println!("migrate benchmark skipped: it needs TimescaleDB multi-node (tier 2)");
        rt.block_on(async move { bench.cluster.shutdown().await.unwrap() });
        return;
    }
    let target = rt.block_on(async {
        common::sensor_table(&bench).await;
        bench
            .an
            .execute(
                &RawSql::vouched(format!(
                    "INSERT INTO sensor_data \
                     SELECT '2024-01-01'::timestamptz + i * interval '3 seconds', \
                            (i % 100)::int4, (i % 40) + 0.5 \
                       FROM generate_series(0, {}) i",
                    rows - 1
                )),
                &[],
            )
            .await
            .unwrap();
        let mut builder = LocalServer::builder("target");
        if PgInstall::timescaledb_sources().is_some() {
            builder = builder
                .timescaledb_release("2.14.2")
                .setting("shared_preload_libraries", "timescaledb")
                .setting("timescaledb.telemetry_level", "off");
        }
        let target = builder.start().await.unwrap();
        target
            .config()
            .connect()
            .await
            .unwrap()
            .batch_execute("SET client_min_messages = error; CREATE EXTENSION timescaledb")
            .await
            .unwrap();
        target
    });
    let an_config = bench.cluster.access_node_config();
    let target_config = target.config();
    let psql_bin = bench.cluster.access_node().install().bindir().join("psql");
    let mut cluster = Cluster::new(an_config.clone());
    for dn in bench.cluster.data_node_configs() {
        cluster = cluster.data_node(dn);
    }
    let migration = cluster
        .migration(target_config.clone())
        .concurrency(2)
        .hypertable(TableName::new(Ident::new("sensor_data").unwrap()));
    let reset = "SET client_min_messages = error; DROP TABLE IF EXISTS sensor_data; \
                 DROP SCHEMA IF EXISTS _tsmn_migration CASCADE";
    let fresh_hypertable = format!(
        "{reset}; {TARGET_TABLE}; \
         SELECT create_hypertable('sensor_data', 'time', chunk_time_interval => interval '7 days'); \
         CREATE INDEX ON sensor_data (sensor_id, time DESC)"
    );

    // The rows as a CSV file on the target's side, for its ingest limit.
    let csv_path = std::env::temp_dir().join(format!("tsmn-migrate-{}.csv", std::process::id()));
    run_sql(
        &psql_bin,
        &an_config,
        &format!(
            "\\copy (SELECT time, sensor_id, temperature FROM sensor_data) TO '{}' WITH (FORMAT csv)",
            csv_path.display()
        ),
    );

    let mut copy = common::Samples::default();
    let mut verify = common::Samples::default();
    let mut total = common::Samples::default();
    let mut manual = common::Samples::default();
    let mut ingest_limit = common::Samples::default();
    let mut group = c.benchmark_group("migrate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    let label = format!("{rows} rows");

    group.bench_function(format!("Migration::run, {label}"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                run_sql(&psql_bin, &target_config, reset);
                let start = Instant::now();
                let report = rt.block_on(migration.run()).unwrap();
                spent += start.elapsed();
                assert_eq!(report.rows(), rows);
                copy.add(report.copy_time, 1);
                verify.add(report.verify_time, 1);
            }
            total.add(spent, iters);
            spent
        })
    });
    group.bench_function(format!("manual psql \\copy pipe, {label}"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                run_sql(&psql_bin, &target_config, &fresh_hypertable);
                let start = Instant::now();
                let mut out = psql(&psql_bin, &an_config)
                    .arg("-c")
                    .arg("\\copy (SELECT time, sensor_id, temperature FROM sensor_data) TO STDOUT")
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let pipe = out.stdout.take().unwrap();
                let status = psql(&psql_bin, &target_config)
                    .arg("-c")
                    .arg("\\copy sensor_data (time, sensor_id, temperature) FROM STDIN")
                    .stdin(pipe)
                    .status()
                    .unwrap();
                assert!(status.success() && out.wait().unwrap().success());
                spent += start.elapsed();
            }
            manual.add(spent, iters);
            spent
        })
    });
    group.bench_function(format!("target ingest limit, psql \\copy from a file, {label}"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                run_sql(&psql_bin, &target_config, &fresh_hypertable);
                let start = Instant::now();
                run_sql(
                    &psql_bin,
                    &target_config,
                    &format!(
                        "\\copy sensor_data (time, sensor_id, temperature) FROM '{}' WITH (FORMAT csv)",
                        csv_path.display()
                    ),
                );
                spent += start.elapsed();
            }
            ingest_limit.add(spent, iters);
            spent
        })
    });
    group.finish();
    let _ = std::fs::remove_file(&csv_path);

    common::report(
        "migration copy phase / manual psql pipe",
        copy.median(),
        manual.median(),
        "<= 0.8",
    );
    common::report(
        "migration copy + verification / manual psql pipe",
        copy.median() + verify.median(),
        manual.median(),
        "<= 1.2",
    );
    common::report(
        "migration verification / manual psql pipe",
        verify.median(),
        manual.median(),
        "shown apart",
    );
    common::report(
        "migration run (plan, schema, copy, verify) / manual psql pipe",
        total.median(),
        manual.median(),
        "-",
    );
    common::report(
        "manual psql pipe / target ingest limit",
        manual.median(),
        ingest_limit.median(),
        "-",
    );
    println!(
        "PEAK MEMORY of the migrating process: {} (target <= 100 MB)",
        peak_rss()
    );
    rt.block_on(async move {
        target.shutdown().await.unwrap();
        bench.cluster.shutdown().await.unwrap();
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
