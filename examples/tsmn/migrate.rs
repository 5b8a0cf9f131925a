//! `tsmn migrate`: leaving multi-node. Chosen distributed hypertables (every one when none
//! is named) moved to one target node, resumable and verified (see `Migration`).
//!
//! ```text
//! TSMN_TARGET_PASSWORD=... tsmn migrate cluster.toml postgresql://tsdbadmin@10.0.0.20/tsdb --plan
//! TSMN_TARGET_PASSWORD=... tsmn migrate cluster.toml postgresql://tsdbadmin@10.0.0.20/tsdb sensor_data
//! ```
//!
//! The target is a `postgresql://` URL or a libpq connection string without a password:
//! a command line can be read by every user of the machine, so the password comes from
//! `TSMN_TARGET_PASSWORD` (empty when unset), as the spec's passwords come from the
//! variables it names. `--plan` shows what a run would do and writes nothing (exit 2 when
//! something blocks the migration); `--concurrency=N` sets how many chunks are copied at
//! once. A run stopped by anything is resumed by running the same command again.
//! `--catch-up` is the final pass before the cut-over (`Migration::catch_up`): time ranges
//! whose rows changed on the source since they were copied are copied again instead of
//! failing the verification; the report gives each table's newest time on the target.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use timescaledb_multinode::migrate::{MigrationEvent, DEFAULT_MIGRATION_CONCURRENCY};
use timescaledb_multinode::{Cluster, ExposeSecret, NodeConfig, SecretString};

use crate::progress::Progress;
use crate::{access_node, human, json, table_name, BoxError};

/// The variable the target's password comes from.
pub const PASSWORD_VAR: &str = "TSMN_TARGET_PASSWORD";

/// What `tsmn migrate` was asked.
pub struct Request<'a> {
    pub target: &'a str,
    pub tables: &'a [&'a str],
    pub plan_only: bool,
    pub catch_up: bool,
    pub concurrency: Option<usize>,
    pub json: bool,
}

/// The target node from its URL or connection string, with the password from
/// [`PASSWORD_VAR`]. A password in the text is refused (without repeating it).
pub fn target(text: &str) -> Result<NodeConfig, BoxError> {
    let config = NodeConfig::from_connection_string(text)?;
    if !config.get_password().expose_secret().is_empty() {
        return Err(format!(
            "the target holds a password, which every user of this machine can read on a \
             command line: leave it out and set {PASSWORD_VAR}"
        )
        .into());
    }
    let password = std::env::var(PASSWORD_VAR).unwrap_or_default();
    Ok(config.password(SecretString::from(password)))
}

pub async fn run(
    cluster: &Cluster,
    request: Request<'_>,
    progress: &Progress,
) -> Result<ExitCode, BoxError> {
    let target = target(request.target)?;
    let tables = if request.tables.is_empty() {
        let an = access_node(cluster).await?;
        let mut tables = Vec::new();
        for h in an.hypertables().await? {
            if h.is_distributed {
                tables.push(table_name(&format!("{}.{}", h.schema, h.name))?);
            }
        }
        if tables.is_empty() {
            return Err("no distributed hypertable to migrate".into());
        }
        tables
    } else {
        request
            .tables
            .iter()
            .map(|t| table_name(t))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut migration = cluster
        .migration(target)
        .concurrency(request.concurrency.unwrap_or(DEFAULT_MIGRATION_CONCURRENCY));
    for table in tables {
        migration = migration.hypertable(table);
    }

    if request.plan_only {
        let spinner = progress.spinner("planning");
        let plan = migration.plan().await;
        spinner.finish_and_clear();
        let plan = plan?;
        if request.json {
            json::print(&json::migration_plan(&plan))?;
        } else {
            print!("{}", human::migration_plan(&plan));
        }
        return Ok(crate::exit(plan.blockers().is_empty()));
    }

    let bar = progress.chunks();
    bar.set_message("planning and creating the tables".to_owned());
    let listener = bar.clone();
    let as_json = request.json;
    let ranges = AtomicU64::new(0);
    let migration = migration.on_event(move |event| match event {
        MigrationEvent::TableCreated { table } if !as_json => {
            listener.println(format!("created {table}"));
        }
        MigrationEvent::ReplicaUnavailable {
            chunk,
            node,
            reason,
            ..
        } if !as_json => {
            listener.println(format!(
                "chunk {chunk}: {node} failed ({reason}); reading another replica"
            ));
        }
        MigrationEvent::ChunkCopied {
            chunks_done,
            chunks_total,
            rows_done,
            bytes_done,
            ..
        } => {
            listener.set_length(*chunks_total as u64);
            listener.set_position(*chunks_done as u64);
            listener.set_message(format!(
                "{} rows, {}, {}/s",
                human::thousands(*rows_done),
                human::bytes(*bytes_done),
                human::bytes(event.rate().unwrap_or(0.0) as u64)
            ));
        }
        MigrationEvent::RangeVerified { .. } => {
            let n = ranges.fetch_add(1, Ordering::Relaxed) + 1;
            listener.set_message(format!(
                "verified {}",
                human::count(n as usize, "time range")
            ));
        }
        _ => {}
    });
    let report = if request.catch_up {
        migration.catch_up().await
    } else {
        migration.run().await
    };
    bar.finish_and_clear();
    let report = report?;
    if request.json {
        json::print(&json::migration_report(&report))?;
    } else {
        print!("{}", human::migration_report(&report));
    }
    Ok(ExitCode::SUCCESS)
}
