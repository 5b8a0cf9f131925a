//! How `Cluster::plan()` and `Cluster::status()` grow with the number of data nodes, on a
//! converged cluster (tier 2 only): 1 + 2, 1 + 4 and 1 + 8 local clusters, each built by
//! `apply()` from the how-to's spec (the distributed hypertable over every data node, the
//! role `mn_user1` with its mappings and grant), then a converged `plan()` and a
//! `status()` timed on each. Targets, as ratios within the run: plan and status at 8 data
//! nodes ≤ 1.5× their time at 2.
//!
//! The floor beside them: what any tool pays to prove, on every call, that the access node
//! reaches each data node. One `CALL distributed_exec('SELECT 1', NULL, false)` from a kept
//! connection, sent as psql sends it; TimescaleDB runs three statements on each data node
//! for it (`SET search_path`, the statement, `SET search_path` back). `status()` makes that
//! round trip too, so its ratio cannot fall below the floor's on the same machine.
//!
//! ```text
//! cargo bench --bench scale
//! ```

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use timescaledb_multinode::testing::{LocalCluster, PgInstall};
use timescaledb_multinode::{
    Cluster, DistributedHypertable, DistributedRole, Privilege, RawSql, SecretString,
};

const SIZES: [usize; 3] = [2, 4, 8];

fn spec(local: &LocalCluster) -> Cluster {
    let mut cluster = Cluster::new(local.access_node_config());
    for dn in local.data_nodes() {
        cluster = cluster.data_node(dn.config());
    }
    cluster
        .hypertable(
            RawSql::vouched(
                "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL, \
                 temperature float8)",
            ),
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        )
        .role(
            DistributedRole::new("mn_user1", SecretString::from("mn_user1 bench pw"))
                .grant([Privilege::Select], "sensor_data"),
        )
}

fn bench(c: &mut Criterion) {
    let install = match PgInstall::discover() {
        Ok(install) => install,
        Err(e) => {
            println!("benchmark tier: 1 (no PostgreSQL installation found: {e}); skipped");
            return;
        }
    };
    match install.multinode_support() {
        Ok(version) => println!(
            "benchmark tier: 2 (TimescaleDB {version} multi-node, 1 access node + 2, 4 and 8 \
             data nodes)"
        ),
        Err(reason) => {
            println!(
                "benchmark tier: 1 (plain PostgreSQL; TimescaleDB multi-node is not installed: \
                 {reason}); skipped: plan and status need TimescaleDB multi-node"
            );
            return;
        }
    }
    let rt = common::runtime();
    let mut plans = Vec::new();
    let mut statuses = Vec::new();
    let mut floors = Vec::new();
    let mut group = c.benchmark_group("scale");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for n in SIZES {
        let local = rt
            .block_on(
                LocalCluster::builder()
                    .data_nodes(n)
                    .install(install.clone())
                    .start(),
            )
            .expect("local cluster");
        let cluster = spec(&local);
        rt.block_on(cluster.apply()).expect("apply");
        let mut plan_samples = common::Samples::default();
        group.bench_function(format!("plan(), converged 1 + {n}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let plan = rt.block_on(cluster.plan()).expect("plan");
                    assert!(plan.is_converged(), "{plan}");
                }
                let spent = start.elapsed();
                plan_samples.add(spent, iters);
                spent
            })
        });
        let floor_client = rt.block_on(async {
            let config = local
                .access_node_config()
                .to_tokio_postgres()
                .expect("access node settings");
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .expect("access node connection");
            tokio::spawn(connection);
            client
        });
        let mut floor_samples = common::Samples::default();
        group.bench_function(
            format!("floor: distributed_exec('SELECT 1') on every data node, 1 + {n}"),
            |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        rt.block_on(
                            floor_client
                                .simple_query("CALL distributed_exec('SELECT 1', NULL, false)"),
                        )
                        .expect("distributed_exec");
                    }
                    let spent = start.elapsed();
                    floor_samples.add(spent, iters);
                    spent
                })
            },
        );
        drop(floor_client);
        let mut status_samples = common::Samples::default();
        group.bench_function(format!("status(), 1 + {n}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let status = rt.block_on(cluster.status());
                    assert!(status.is_healthy(), "{status:?}");
                }
                let spent = start.elapsed();
                status_samples.add(spent, iters);
                spent
            })
        });
        plans.push((n, plan_samples.median()));
        statuses.push((n, status_samples.median()));
        floors.push((n, floor_samples.median()));
        rt.block_on(local.shutdown()).expect("shutdown");
    }
    group.finish();
    for (what, samples, target) in [
        ("plan()", &plans, "<= 1.5 at 8"),
        ("status()", &statuses, "<= 1.5 at 8"),
        ("floor (distributed_exec)", &floors, "none: the floor"),
    ] {
        let at2 = samples[0].1;
        for (n, median) in &samples[1..] {
            common::report(
                &format!("{what} converged 1 + {n} / 1 + 2"),
                *median,
                at2,
                target,
            );
        }
    }
    // What each data node past the second adds, in the same run: the cost the ratios weigh
    // against the fixed part (which every faster fixed part makes weigh more).
    for (what, samples) in [
        ("plan()", &plans),
        ("status()", &statuses),
        ("floor (distributed_exec)", &floors),
    ] {
        let (first, last) = (samples[0], samples[samples.len() - 1]);
        let added = last.1.saturating_sub(first.1) / (last.0 - first.0) as u32;
        println!(
            "PER DATA NODE {what}: +{added:.1?} for each data node from 1 + {} to 1 + {} \
             (no target)",
            first.0, last.0
        );
    }
    // How status grows against the floor it cannot go under: 1.0 means as fast.
    let growth = |samples: &[(usize, Duration)]| {
        samples[samples.len() - 1].1.as_secs_f64() / samples[0].1.as_secs_f64()
    };
    println!(
        "RATIO status() growth 1 + 2 -> 1 + 8 / floor growth: {:.2} / {:.2} = {:.3} (no target; \
         status also reads each data node directly)",
        growth(&statuses),
        growth(&floors),
        growth(&statuses) / growth(&floors)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
