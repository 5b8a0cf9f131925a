//! Shared set-up for the benchmarks: a local cluster, joined when TimescaleDB multi-node is
//! installed (tier 2), plain PostgreSQL otherwise (tier 1), and a one-line ratio report.

#![allow(dead_code)]

use std::time::Duration;

use timescaledb_multinode::pool::PoolConfig;
use timescaledb_multinode::testing::{LocalCluster, PgInstall};
use timescaledb_multinode::{AccessNode, RawSql};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A started cluster, its access node, and whether it runs multi-node.
pub struct Bench {
    pub cluster: LocalCluster,
    pub an: AccessNode,
    pub multinode: bool,
}

pub async fn setup() -> Bench {
    setup_with(100, &PoolConfig::default().max_size(4)).await
}

/// [`setup`] with `max_connections` on every server and the access node's pool settings.
pub async fn setup_with(max_connections: u32, pool: &PoolConfig) -> Bench {
    let install = PgInstall::discover().expect("PostgreSQL server binaries");
    let multinode = install.multinode_support().is_ok();
    let cluster = LocalCluster::builder()
        .data_nodes(2)
        .install(install)
        .setting("max_connections", max_connections.to_string())
        .start()
        .await
        .expect("local cluster");
    let an = if multinode {
        cluster
            .join_with_pool(pool)
            .await
            .expect("join the cluster")
    } else {
        AccessNode::connect_with_pool(cluster.access_node_config(), pool)
            .await
            .expect("access node")
    };
    println!(
        "benchmark tier: {}",
        if multinode {
            "2 (TimescaleDB multi-node, 1 access node + 2 data nodes)"
        } else {
            "1 (plain PostgreSQL; TimescaleDB multi-node is not installed)"
        }
    );
    Bench {
        cluster,
        an,
        multinode,
    }
}

/// Creates `sensor_data`, distributed when the cluster runs multi-node.
pub async fn sensor_table(bench: &Bench) {
    bench
        .an
        .execute(
            &RawSql::vouched(
                "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int4 NOT NULL, \
                 temperature float8)",
            ),
            &[],
        )
        .await
        .expect("table");
    if bench.multinode {
        timescaledb_multinode::DistributedHypertable::new("sensor_data", "time")
            .partitioning_column("sensor_id")
            .run(&bench.an)
            .await
            .expect("distributed hypertable");
    }
}

/// Per-iteration times of one benchmark, for a median that does not depend on criterion's
/// internals.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Records `spent` for `iters` iterations.
    pub fn add(&mut self, spent: Duration, iters: u64) {
        self.0.push(spent / iters.max(1) as u32);
    }

    /// The median time per iteration.
    pub fn median(&self) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or_default()
    }
}

/// Prints `name: a vs b = ratio (target)`.
pub fn report(name: &str, measured: Duration, baseline: Duration, target: &str) {
    let ratio = measured.as_secs_f64() / baseline.as_secs_f64();
    println!(
        "RATIO {name}: {:.3?} vs {:.3?} = {ratio:.3} (target {target})",
        measured, baseline
    );
}
