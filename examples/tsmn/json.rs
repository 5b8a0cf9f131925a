//! `--json`: one document on standard output. Reports print through the crate's
//! `Serialize` impls; a plan and an apply report are written here from their public fields:
//!
//! ```text
//! plan:  {"converged": bool,
//!         "steps": [{"kind", "node", "target", "why", "sql"}],
//!         "unknown": [{"node", "what", "error": {"kind", "operation", "node", "message", "sqlstate"}}],
//!         "conflicts": [{"node", "target", "reason"}], "fingerprint": "..."}
//! apply: {"applied": [{"kind", "node", "target", "why", "sql"}]}
//! ```
//!
//! `kind` is `create_extension`, `add_data_node`, `alter_data_node`, `user_mapping`,
//! `create_table`, `distribute_table`, `attach_data_node`, `set_replication_factor`,
//! `apply_role`, `detach_data_node` or `delete_data_node`; `sql` has its secrets replaced
//! by `[REDACTED]`.

use serde::Serialize;
use serde_json::{json, Value};
use timescaledb_multinode::{ApplyReport, Plan, Step, StepKind};

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
        StepKind::DetachDataNode => "detach_data_node",
        StepKind::DeleteDataNode => "delete_data_node",
        _ => "other",
    }
}
