//! Quickstart: start a local cluster (one access node, two data nodes), show what each node
//! runs, and stop.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! The cluster uses the machine's PostgreSQL server binaries (`TSMN_PG_BINDIR` to choose
//! others). With TimescaleDB 2.0–2.13 (TSL build) installed, every node preloads it and the
//! example checks that multi-node can work on each; without it, the example says what is
//! missing and exits with status 2.

use std::process::ExitCode;
use std::time::Instant;

use timescaledb_multinode::testing::LocalCluster;
use timescaledb_multinode::ServerInfo;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let cluster = LocalCluster::start(2).await?;
    println!(
        "started a local cluster of 1 access node + {} data nodes in {:.2?}",
        cluster.data_nodes().len(),
        started.elapsed()
    );

    for node in cluster.nodes() {
        let config = node.config();
        // A fresh database has no extension yet; create it where the server has it.
        if node.has_timescaledb() {
            let client = config.connect().await?;
            client
                .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                .await?;
        }
        let info = ServerInfo::detect(&config).await?;
        println!(
            "{:>3}  127.0.0.1:{:<5}  PostgreSQL {:<6} TimescaleDB {:<8} licence {:<10} role {:?}",
            info.node,
            node.port(),
            info.postgres.to_string(),
            info.timescaledb
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            info.license
                .as_ref()
                .map(|l| format!("{l:?}").to_lowercase())
                .unwrap_or_else(|| "-".into()),
            info.role,
        );
        if let Err(e) = info.check_multinode() {
            println!("     multi-node: not possible here: {e}");
        }
    }

    let code = match cluster.multinode() {
        Ok(version) => {
            println!("TimescaleDB {version} multi-node is available on every node");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!(
                "missing: {reason}. Install TimescaleDB 2.13 with its TSL part for PostgreSQL {} \
                 (or point TSMN_PG_BINDIR at a PostgreSQL that has it) to run the multi-node steps.",
                cluster.access_node().install().major()
            );
            ExitCode::from(2)
        }
    };
    cluster.shutdown().await?;
    Ok(code)
}
