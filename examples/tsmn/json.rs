//! `--json`: one document on standard output. Reports print through the crate's
//! `Serialize` impls; a plan and an apply report are written here from their public fields:
//!
//! ```text
//! plan:  {"converged": bool,
//!         "steps": [{"kind", "node", "target", "why", "sql"}],
//!         "unknown": [{"node", "what", "error": {"kind", "operation", "node", "message", "sqlstate"}}],
//!         "conflicts": [{"node", "target", "reason"}], "fingerprint": "..."}
//! apply: {"applied": [{"kind", "node", "target", "why", "sql"}]}
//! migrate --plan:
//!        {"target", "target_kind": {"kind", "version"}, "ready", "blockers", "chunks_to_copy",
//!         "tables": [{"table", "creation": {"kind", "time_column", "chunk_interval"},
//!                     "columns", "constraints", "indexes", "grants", "not_carried",
//!                     "blockers", "chunks_to_copy", "bytes_to_copy",
//!                     "chunks": [{"schema", "name", "data_nodes", "range_start",
//!                                 "range_end", "bytes", "copied", "compressed"}]}]}
//! migrate:
//!        {"target", "rows", "chunks_copied", "chunks_resumed", "copy_secs", "verify_secs",
//!         "tables": [{"table", "created", "rows", "newest",
//!                     "chunks": [{"chunk", "source_node", "rows", "bytes", "resumed"}],
//!                     "ranges": [{"range_start", "range_end", "chunks", "rows", "checksum"}]}]}
//! ```
//!
//! A migration's `target_kind.kind` is `timescaledb` (with its `version`) or `postgresql`
//! (`version` null); `creation.kind` is `hypertable`, `plain_table` or `already_created`
//! (the last two with a null time column and interval).
//!
//! `kind` is `create_extension`, `add_data_node`, `alter_data_node`, `user_mapping`,
//! `create_table`, `distribute_table`, `attach_data_node`, `set_replication_factor`,
//! `apply_role`, `detach_data_node` or `delete_data_node`; `sql` has its secrets replaced
//! by `[REDACTED]`.

use serde::Serialize;
use serde_json::{json, Value};
use timescaledb_multinode::cluster::{ApplyReport, Plan, Step, StepKind};
use timescaledb_multinode::migrate::{Creation, MigrationPlan, MigrationReport, TargetKind};

use crate::BoxError;

/// Prints `value` as pretty JSON.
pub fn print(value: &impl Serialize) -> Result<(), BoxError> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A plan as JSON.
pub fn plan(plan: &Plan) -> Value {
    json!({
        "converged": plan.is_converged(),
        "steps": plan.steps.iter().map(step).collect::<Vec<_>>(),
        "unknown": plan
            .unknown
            .iter()
            .map(|u| json!({"node": u.node, "what": u.what, "error": u.error}))
            .collect::<Vec<_>>(),
        "conflicts": plan.conflicts,
        "fingerprint": plan.fingerprint,
    })
}

/// What apply ran, as JSON.
pub fn applied(report: &ApplyReport) -> Value {
    json!({ "applied": report.applied.iter().map(step).collect::<Vec<_>>() })
}

fn step(step: &Step) -> Value {
    json!({
        "kind": kind(&step.kind),
        "node": step.node,
        "target": step.target,
        "why": step.why,
        "sql": step.sql,
    })
}

fn kind(kind: &StepKind) -> &'static str {
    match kind {
        StepKind::CreateExtension => "create_extension",
        StepKind::AddDataNode => "add_data_node",
        StepKind::UserMapping => "user_mapping",
        StepKind::CreateTable => "create_table",
        StepKind::DistributeTable => "distribute_table",
        StepKind::ApplyRole => "apply_role",
        StepKind::AlterDataNode => "alter_data_node",
        StepKind::AttachDataNode => "attach_data_node",
        StepKind::SetReplicationFactor => "set_replication_factor",
        StepKind::SetChunkInterval => "set_chunk_interval",
        StepKind::DetachDataNode => "detach_data_node",
        StepKind::DeleteDataNode => "delete_data_node",
        StepKind::RevokeGrants => "revoke_grants",
        _ => "other",
    }
}

/// A migration's plan as JSON.
pub fn migration_plan(plan: &MigrationPlan) -> Value {
    let (kind, version) = match plan.target_kind {
        TargetKind::TimescaleDb(version) => ("timescaledb", Some(version.to_string())),
        TargetKind::PostgreSql => ("postgresql", None),
        _ => ("other", None),
    };
    json!({
        "target": plan.target,
        "target_kind": {"kind": kind, "version": version},
        "ready": plan.blockers().is_empty(),
        "blockers": plan.blockers(),
        "chunks_to_copy": plan.chunks_to_copy(),
        "tables": plan.tables.iter().map(|t| {
            let (kind, time_column, chunk_interval) = match &t.creation {
                Creation::Hypertable { time_column, chunk_interval } => {
                    ("hypertable", Some(time_column), Some(chunk_interval))
                }
                Creation::PlainTable => ("plain_table", None, None),
                Creation::AlreadyCreated => ("already_created", None, None),
                _ => ("other", None, None),
            };
            json!({
                "table": t.table,
                "creation": {
                    "kind": kind,
                    "time_column": time_column,
                    "chunk_interval": chunk_interval,
                },
                "columns": t.columns,
                "constraints": t.constraints,
                "indexes": t.indexes,
                "grants": t.grants,
                "not_carried": t.not_carried,
                "blockers": t.blockers,
                "chunks_to_copy": t.chunks_to_copy(),
                "bytes_to_copy": t.bytes_to_copy(),
                "chunks": t.chunks.iter().map(|c| json!({
                    "schema": c.schema,
                    "name": c.name,
                    "data_nodes": c.data_nodes,
                    "range_start": c.range_start,
                    "range_end": c.range_end,
                    "bytes": c.bytes,
                    "copied": c.copied,
                    "compressed": c.compressed,
                })).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    })
}

/// What a migration did, as JSON.
pub fn migration_report(report: &MigrationReport) -> Value {
    json!({
        "target": report.target,
        "rows": report.rows(),
        "chunks_copied": report.chunks_copied(),
        "chunks_resumed": report.chunks_resumed(),
        "copy_secs": report.copy_time.as_secs_f64(),
        "verify_secs": report.verify_time.as_secs_f64(),
        "tables": report.tables.iter().map(|t| json!({
            "table": t.table,
            "created": t.created,
            "rows": t.rows,
            "newest": t.newest,
            "chunks": t.chunks.iter().map(|c| json!({
                "chunk": c.chunk,
                "source_node": c.source_node,
                "rows": c.rows,
                "bytes": c.bytes,
                "resumed": c.resumed,
            })).collect::<Vec<_>>(),
            "ranges": t.ranges.iter().map(|r| json!({
                "range_start": r.range_start,
                "range_end": r.range_end,
                "chunks": r.chunks,
                "rows": r.rows,
                "checksum": r.checksum,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
