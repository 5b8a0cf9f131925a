//! `tsmn`: a small command-line tool over a cluster spec file, to show that a higher-level
//! tool can be built on the crate.
//!
//! ```text
//! cargo run --example tsmn --features serde -- plan   cluster.toml
//! cargo run --example tsmn --features serde -- apply  cluster.toml
//! cargo run --example tsmn --features serde -- status cluster.toml
//! TSMN_NEW_PASSWORD=... cargo run --example tsmn --features serde -- rotate cluster.toml dn1
//! cargo run --example tsmn --features serde -- heal   cluster.toml
//! ```
//!
//! The spec is TOML (or JSON, by the `.json` extension); passwords come from the
//! environment variables it names (see `Cluster::from_toml`). Exit status: 0 when done and
//! healthy / converged, 1 on an error, 2 when `plan` has steps or `status` is unhealthy.

use std::process::ExitCode;

use timescaledb_multinode::{Cluster, SecretString};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tsmn: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn usage() -> BoxError {
    "usage: tsmn <plan|apply|status|rotate|heal> <spec.toml|spec.json> [data node]".into()
}

async fn run(args: &[String]) -> Result<ExitCode, BoxError> {
    let (Some(command), Some(path)) = (args.first(), args.get(1)) else {
        return Err(usage());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let cluster = if path.ends_with(".json") {
        Cluster::from_json(&text)?
    } else {
        Cluster::from_toml(&text)?
    };
    match command.as_str() {
        "plan" => {
            let plan = cluster.plan().await?;
            for (i, step) in plan.steps.iter().enumerate() {
                println!(
                    "{:>2}. {:?} {} on {}",
                    i + 1,
                    step.kind,
                    step.target,
                    step.node
                );
                println!("    why: {}", step.why);
                println!("    sql: {}", step.sql);
            }
            for unknown in &plan.unknown {
                println!(
                    "unknown: {} on {}: {}",
                    unknown.what, unknown.node, unknown.error
                );
            }
            if plan.is_converged() {
                println!("converged: nothing to do");
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(2))
            }
        }
        "apply" => {
            let report = cluster
                .apply_with_progress(|step| {
                    println!("applying {:?} {} on {}", step.kind, step.target, step.node)
                })
                .await?;
            println!("applied {} steps", report.applied.len());
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
            let status = cluster.status().await;
            // One line per node: what it runs, why it cannot run multi-node when it
            // cannot, and each data node's link from the access node.
            println!("{status}");
            println!("healthy: {}", status.is_healthy());
            Ok(if status.is_healthy() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        "rotate" => {
            let node = args.get(2).ok_or_else(usage)?;
            let password = std::env::var("TSMN_NEW_PASSWORD")
                .map_err(|_| "set TSMN_NEW_PASSWORD to the new password")?;
            let rotation = cluster
                .rotate_password(node, SecretString::from(password))
                .await?;
            println!(
                "{}: role changed: {}, mapping: {:?}, verified: {}",
                rotation.data_node, rotation.role_changed, rotation.mapping, rotation.verified
            );
            if let Some((step, e)) = &rotation.failure {
                println!("failed at {step:?}: {e}; run it again to finish");
                return Ok(ExitCode::FAILURE);
            }
            println!("now update the password variable of {node} for the spec");
            Ok(ExitCode::SUCCESS)
        }
        "heal" => {
            let report = cluster.heal().await?;
            for node in &report.nodes {
                let before = node.in_doubt_before.as_ref().map(Vec::len);
                println!(
                    "{}: in doubt before: {before:?}, healed: {:?}, remote_txn records: {} -> {}",
                    node.name,
                    node.healed.as_ref().map_err(ToString::to_string),
                    node.remote_txn_records.0,
                    node.remote_txn_records.1
                );
                for other in &node.other_owners {
                    println!(
                        "{}: {} was prepared by role {}, which this role cannot finish: heal as \
                         that role, or as a superuser",
                        node.name, other.gid, other.owner
                    );
                }
            }
            println!(
                "healed {} transactions; clean: {}",
                report.healed(),
                report.is_clean()
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(usage()),
    }
}
