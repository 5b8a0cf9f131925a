//! Cluster as code (`Cluster::apply`) against the how-to typed into psql, all in the same
//! run (tier 2 only: without TimescaleDB multi-node there is nothing to apply):
//! - `apply()` of the how-to's spec on a FRESH 1 + 2 cluster (extension on every node, two
//!   data nodes with their user mappings, the distributed hypertable `sensor_data`, the
//!   role `mn_user1` with its mappings and a SELECT grant) vs the same statements sent
//!   by psql (target: apply ≤ 0.8× the psql time, through per-node work done at once: the
//!   three nodes' extensions are created together),
//! - `apply()` on a CONVERGED cluster vs the fresh `apply()` (target: ≤ 5 %).
//!
//! Every fresh iteration starts its own `LocalCluster` (about 0.6 s) outside the timed
//! region and shuts it down afterwards; only `apply()` or the psql runs are timed. After
//! each psql run (untimed) a `Cluster::plan()` checks that the script left the same
//! cluster behind as `apply()`: converged with the spec.
//!
//! The psql baseline is three `psql -X -q -v ON_ERROR_STOP=1` runs, one after the other,
//! all inside the timed region: `CREATE EXTENSION IF NOT EXISTS timescaledb` on dn1, then
//! on dn2 (`-c`; `add_data_node(..., bootstrap => false)` needs it there first, and
//! `apply()` creates it there too, in sessions of its own), then the rest of the how-to as
//! one script on the access node, fed on standard input so that no password lands in a
//! file or on a command line. Each run gets its node's password through `PGPASSWORD`.
//!
//! After the criterion benchmarks, 8 alternating rounds (one fresh `apply()`, one fresh
//! psql how-to each) give a second reading of the first ratio.
//!
//! Besides the `RATIO` lines it prints where the fresh `apply()` spends its time: `plan()`
//! (until the first progress callback of `apply_with_progress`, which is what `apply()`
//! runs) and each step (from its callback to the next one; steps that run together, such
//! as the extensions, get their callbacks together, so the last of them carries the time
//! of all).
//!
//! ```text
//! cargo bench --bench apply
//! ```

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use timescaledb_multinode::testing::{LocalCluster, PgInstall};
use timescaledb_multinode::{
    Cluster, DistributedHypertable, DistributedRole, ExposeSecret, NodeConfig, Privilege, RawSql,
    SecretString,
};

const CREATE_TABLE: &str = "CREATE TABLE sensor_data(time timestamptz NOT NULL, \
                            sensor_id int NOT NULL, temperature float8)";
const ROLE: &str = "mn_user1";
const ROLE_PASSWORD: &str = "mn_user1 bench pw";
/// Steps of `apply()` on a fresh 1 + 2 cluster: 3 extensions, 2 data nodes, table,
/// distribution, role.
const FRESH_STEPS: usize = 8;
/// Rounds of the alternating check (each: one fresh apply(), one fresh psql how-to).
const ALTERNATING_ROUNDS: usize = 8;

/// The spec of `tests/it/cluster_code.rs`: the how-to's cluster.
fn spec(local: &LocalCluster) -> Cluster {
    let mut cluster = Cluster::new(local.access_node_config());
    for dn in local.data_nodes() {
        cluster = cluster.data_node(dn.config());
    }
    cluster
        .hypertable(
            RawSql::vouched(CREATE_TABLE),
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        )
        .role(
            DistributedRole::new(ROLE, SecretString::from(ROLE_PASSWORD))
                .grant([Privilege::Select], "sensor_data"),
        )
}

/// `s` as an SQL string literal (standard_conforming_strings is on).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The how-to as one psql script for the access node, after the data nodes have the
/// extension.
fn access_node_script(local: &LocalCluster) -> String {
    let mut sql = String::from("CREATE EXTENSION IF NOT EXISTS timescaledb;\n");
    let dns: Vec<NodeConfig> = local.data_node_configs();
    for dn in &dns {
        sql.push_str(&format!(
            "SELECT add_data_node({}, host => {}, port => {}, database => {}, \
             bootstrap => false, password => {});\n",
            literal(&dn.node_name()),
            literal(dn.get_host()),
            dn.get_port(),
            literal(dn.get_database()),
            literal(dn.get_password().expose_secret()),
        ));
    }
    for dn in &dns {
        sql.push_str(&format!(
            "CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (user {}, password {});\n",
            dn.node_name(),
            literal(dn.get_user()),
            literal(dn.get_password().expose_secret()),
        ));
    }
    sql.push_str(CREATE_TABLE);
    sql.push_str(";\n");
    sql.push_str("SELECT create_distributed_hypertable('sensor_data', 'time', 'sensor_id');\n");
    let create_role = format!(
        "CREATE ROLE {ROLE} LOGIN PASSWORD {}",
        literal(ROLE_PASSWORD)
    );
    sql.push_str(&format!("{create_role};\n"));
    sql.push_str(&format!(
        "CALL distributed_exec($tsmn${create_role}$tsmn$);\n"
    ));
    for dn in &dns {
        sql.push_str(&format!(
            "CREATE USER MAPPING FOR {ROLE} SERVER {} OPTIONS (user {}, password {});\n",
            dn.node_name(),
            literal(ROLE),
            literal(ROLE_PASSWORD),
        ));
    }
    sql.push_str(&format!("GRANT SELECT ON sensor_data TO {ROLE};\n"));
    sql
}

/// One `psql -X -q -v ON_ERROR_STOP=1` run against `node`: `-c command`, or `script` on
/// standard input.
fn psql(bin: &std::path::Path, node: &NodeConfig, command: Option<&str>, script: Option<&str>) {
    let mut cmd = Command::new(bin);
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", node.get_host()])
        .args(["-p", &node.get_port().to_string()])
        .args(["-U", node.get_user(), "-d", node.get_database()])
        .env("PGPASSWORD", node.get_password().expose_secret())
        .stdout(Stdio::null())
        // TimescaleDB's banner and deprecation warnings; shown only when psql fails.
        .stderr(Stdio::piped());
    match command {
        Some(c) => {
            cmd.arg("-c").arg(c).stdin(Stdio::null());
        }
        None => {
            cmd.args(["-f", "-"]).stdin(Stdio::piped());
        }
    }
    let mut child = cmd.spawn().expect("psql");
    if let Some(script) = script {
        // Dropped at the end of the block: psql sees the end of its input.
        let mut stdin = child.stdin.take().expect("psql stdin");
        stdin.write_all(script.as_bytes()).expect("script to psql");
    }
    let output = child.wait_with_output().expect("psql");
    assert!(
        output.status.success(),
        "psql on {} failed: {}",
        node.node_name(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Per-step durations of the fresh `apply()` runs, in the order of the first run.
#[derive(Default)]
struct Breakdown(Vec<(String, common::Samples)>);

impl Breakdown {
    fn add(&mut self, label: String, spent: Duration) {
        match self.0.iter_mut().find(|(l, _)| *l == label) {
            Some((_, samples)) => samples.add(spent, 1),
            None => {
                let mut samples = common::Samples::default();
                samples.add(spent, 1);
                self.0.push((label, samples));
            }
        }
    }
}

fn start_cluster(rt: &tokio::runtime::Runtime, install: &PgInstall) -> LocalCluster {
    rt.block_on(
        LocalCluster::builder()
            .data_nodes(2)
            .install(install.clone())
            .start(),
    )
    .expect("local cluster")
}

/// One timed `apply()` on a fresh cluster (started and shut down untimed), its parts added
/// to `breakdown`.
fn fresh_apply(
    rt: &tokio::runtime::Runtime,
    install: &PgInstall,
    breakdown: &mut Breakdown,
) -> Duration {
    let local = start_cluster(rt, install);
    let cluster = spec(&local);
    let mut marks: Vec<(String, Instant)> = Vec::with_capacity(FRESH_STEPS);
    let (start, end, report) = rt.block_on(async {
        let start = Instant::now();
        let report = cluster
            .apply_with_progress(|step| {
                marks.push((format!("{:?} {}", step.kind, step.target), Instant::now()))
            })
            .await
            .expect("apply");
        (start, Instant::now(), report)
    });
    assert_eq!(report.applied.len(), FRESH_STEPS, "{:?}", report.applied);
    let first = marks.first().map_or(end, |(_, at)| *at);
    breakdown.add("plan()".to_owned(), first - start);
    for (i, (label, at)) in marks.iter().enumerate() {
        let next = marks.get(i + 1).map_or(end, |(_, at)| *at);
        breakdown.add(label.clone(), next - *at);
    }
    rt.block_on(local.shutdown()).expect("shutdown");
    end - start
}

/// The timed psql how-to on a fresh cluster (started, checked and shut down untimed).
fn fresh_psql(rt: &tokio::runtime::Runtime, install: &PgInstall) -> Duration {
    let psql_bin = install.bindir().join("psql");
    let local = start_cluster(rt, install);
    let script = access_node_script(&local);
    let dns = local.data_node_configs();
    let an = local.access_node_config();
    let start = Instant::now();
    for dn in &dns {
        psql(
            &psql_bin,
            dn,
            Some("CREATE EXTENSION IF NOT EXISTS timescaledb"),
            None,
        );
    }
    psql(&psql_bin, &an, None, Some(&script));
    let spent = start.elapsed();
    // The script built the spec's cluster: nothing left to do.
    let plan = rt.block_on(spec(&local).plan()).expect("plan");
    assert!(plan.is_converged(), "{plan:#?}");
    rt.block_on(local.shutdown()).expect("shutdown");
    spent
}

fn bench(c: &mut Criterion) {
    let install = match PgInstall::discover() {
        Ok(install) => install,
        Err(e) => {
            println!(
                "benchmark tier: 1 (no PostgreSQL installation found: {e}); \
                 skipped: apply needs TimescaleDB multi-node"
            );
            return;
        }
    };
    let version = match install.multinode_support() {
        Ok(version) => version,
        Err(reason) => {
            println!(
                "benchmark tier: 1 (plain PostgreSQL; TimescaleDB multi-node is not installed: \
                 {reason}); skipped: apply needs TimescaleDB multi-node"
            );
            return;
        }
    };
    println!(
        "benchmark tier: 2 (TimescaleDB {version} multi-node, 1 access node + 2 data nodes, \
         a fresh cluster per iteration)"
    );
    let rt = common::runtime();

    let mut fresh = common::Samples::default();
    let mut baseline = common::Samples::default();
    let mut converged = common::Samples::default();
    let mut breakdown = Breakdown::default();

    let mut group = c.benchmark_group("apply");
    // Flat sampling with a 1 s target: one warm-up iteration, then 10 samples of exactly
    // one iteration each (criterion warns that it cannot fit 10 samples in 1 s; that is
    // the point: about 1.5 s per iteration with the cluster start, 11 iterations per side).
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));

    group.bench_function("apply(), fresh 1 + 2 cluster", |b| {
        b.iter_custom(|iters| {
            let spent: Duration = (0..iters)
                .map(|_| fresh_apply(&rt, &install, &mut breakdown))
                .sum();
            fresh.add(spent, iters);
            spent
        })
    });

    group.bench_function("psql how-to, fresh 1 + 2 cluster", |b| {
        b.iter_custom(|iters| {
            let spent: Duration = (0..iters).map(|_| fresh_psql(&rt, &install)).sum();
            baseline.add(spent, iters);
            spent
        })
    });

    // One cluster, converged once (untimed); every timed apply() finds nothing to do.
    let local = start_cluster(&rt, &install);
    let cluster = spec(&local);
    let report = rt.block_on(cluster.apply()).expect("first apply");
    assert_eq!(report.applied.len(), FRESH_STEPS);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("apply(), converged 1 + 2 cluster", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    let start = Instant::now();
                    let report = cluster.apply().await.expect("converged apply");
                    spent += start.elapsed();
                    assert!(report.applied.is_empty(), "{:?}", report.applied);
                });
            }
            converged.add(spent, iters);
            spent
        })
    });
    group.finish();
    rt.block_on(local.shutdown()).expect("shutdown");

    // The two fresh benchmarks above run one after the other, ~20 s apart, on a shared
    // machine; alternating rounds (apply first in even rounds, psql first in odd ones) give
    // a second reading of the same ratio that a load change cannot skew as easily.
    // Outside `cargo bench` (criterion's test mode) one round is enough.
    let rounds = if std::env::args().any(|a| a == "--bench") {
        ALTERNATING_ROUNDS
    } else {
        1
    };
    let mut alt_apply = common::Samples::default();
    let mut alt_psql = common::Samples::default();
    for round in 0..rounds {
        if round % 2 == 0 {
            alt_apply.add(fresh_apply(&rt, &install, &mut breakdown), 1);
            alt_psql.add(fresh_psql(&rt, &install), 1);
        } else {
            alt_psql.add(fresh_psql(&rt, &install), 1);
            alt_apply.add(fresh_apply(&rt, &install, &mut breakdown), 1);
        }
    }

    let parts: Vec<String> = breakdown
        .0
        .iter()
        .map(|(label, samples)| format!("{label} {:.1?}", samples.median()))
        .collect();
    println!(
        "fresh apply() medians by part (all fresh runs): {}",
        parts.join(", ")
    );
    common::report(
        "apply() fresh 1 + 2 / psql how-to",
        fresh.median(),
        baseline.median(),
        "<= 0.8",
    );
    common::report(
        "apply() fresh 1 + 2 / psql how-to, alternating rounds",
        alt_apply.median(),
        alt_psql.median(),
        "<= 0.8",
    );
    common::report(
        "apply() converged / apply() fresh",
        converged.median(),
        fresh.median(),
        "<= 0.05",
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
