//! Output for people: whole sentences and `yes` / `no`, never a Rust debug form.

use std::fmt::Write;

use timescaledb_multinode::cluster::{
    ClusterStatus, HealReport, NodeHeal, Plan, Rotation, RotationStep, Step, StepKind,
};
use timescaledb_multinode::lifecycle::MappingChange;
use timescaledb_multinode::migrate::{Creation, MigrationPlan, MigrationReport, TargetKind};

/// `add data node dn1 on an`, `create extension timescaledb on dn1`.
pub fn step_line(step: &Step) -> String {
    match step.kind {
        StepKind::CreateExtension => format!("create extension timescaledb on {}", step.node),
        _ => format!("{} {} on {}", kind(&step.kind), step.target, step.node),
    }
}

/// What a step does, in words.
pub fn kind(kind: &StepKind) -> &'static str {
    match kind {
        StepKind::CreateExtension => "create extension",
        StepKind::AddDataNode => "add data node",
        StepKind::UserMapping => "user mapping for",
        StepKind::CreateTable => "create table",
        StepKind::DistributeTable => "distribute table",
        StepKind::ApplyRole => "apply role",
        StepKind::AlterDataNode => "alter data node",
        StepKind::AttachDataNode => "attach a data node to",
        StepKind::SetReplicationFactor => "set the replication factor of",
        StepKind::SetChunkInterval => "set the chunk interval of",
        StepKind::DetachDataNode => "DESTRUCTIVE: detach a data node from",
        StepKind::DeleteDataNode => "DESTRUCTIVE: delete data node",
        StepKind::RevokeGrants => "DESTRUCTIVE: revoke what the spec does not grant from",
        _ => "step",
    }
}

/// The steps, numbered, each with why and its SQL (secrets redacted); what could not be
/// checked; then whether the cluster has converged.
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(out, "{:>2}. {}", i + 1, step_line(step));
        let _ = writeln!(out, "    why: {}", step.why);
        let _ = writeln!(out, "    sql: {}", step.sql);
    }
    for conflict in &plan.conflicts {
        let _ = writeln!(
            out,
            "conflict: {} on {}: {}",
            conflict.target, conflict.node, conflict.reason
        );
    }
    for unknown in &plan.unknown {
        let _ = writeln!(
            out,
            "not checked: {} on {}: {}",
            unknown.what, unknown.node, unknown.error
        );
    }
    if plan.is_converged() {
        out += "converged: nothing to do\n";
    } else {
        let _ = writeln!(
            out,
            "{} to do{}",
            count(plan.steps.len(), "step"),
            if plan.unknown.is_empty() {
                String::new()
            } else {
                format!(", {} not checked", plan.unknown.len())
            }
        );
    }
    out
}

/// One line per node (what it runs, why it cannot take part when it cannot, the link from
/// the access node), the in-doubt transactions and under-replicated chunks, then `healthy:
/// yes` or `healthy: no`.
pub fn status(status: &ClusterStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "access node {}: {}",
        status.access_node_name, status.access_node
    );
    for dn in &status.data_nodes {
        let _ = writeln!(out, "data node {dn}");
        for txn in dn.prepared_transactions.iter().flatten() {
            let _ = writeln!(
                out,
                "  in doubt: {} (prepared {} by {})",
                txn.gid, txn.prepared, txn.owner
            );
        }
        if let Err(e) = &dn.prepared_transactions {
            if dn.direct.is_up() {
                let _ = writeln!(out, "  in-doubt transactions not read: {e}");
            }
        }
    }
    match &status.under_replicated {
        Ok(chunks) => {
            let _ = writeln!(out, "under-replicated chunks: {}", chunks.len());
            for c in chunks {
                let _ = writeln!(
                    out,
                    "  {}.{} chunk {}: {} of {} replicas (on {})",
                    c.hypertable_schema,
                    c.hypertable_name,
                    c.chunk_name,
                    c.actual,
                    c.desired,
                    list(&c.replica_nodes)
                );
            }
        }
        Err(e) => {
            let _ = writeln!(out, "under-replicated chunks: not read: {e}");
        }
    }
    let _ = writeln!(out, "healthy: {}", yes_no(status.is_healthy()));
    out
}

/// One line per data node, the transactions of other roles, then the total and `clean:
/// yes` or `clean: no`.
pub fn heal(report: &HealReport) -> String {
    let mut out = String::new();
    for node in &report.nodes {
        let _ = writeln!(out, "{}: {}", node.name, heal_line(node));
        for other in &node.other_owners {
            let _ = writeln!(
                out,
                "{}: {} was prepared by role {}, which this role cannot finish: heal as that \
                 role, or as a superuser",
                node.name, other.gid, other.owner
            );
        }
    }
    if report.advanced_xid {
        out += "an access-node transaction id was used up to unblock healing\n";
    }
    let _ = writeln!(
        out,
        "healed {}; clean: {}",
        count(report.healed() as usize, "transaction"),
        yes_no(report.is_clean())
    );
    out
}

fn heal_line(node: &NodeHeal) -> String {
    let before = match &node.in_doubt_before {
        Ok(list) => format!("{} in doubt", list.len()),
        Err(e) => return format!("not read ({e}); not healed"),
    };
    let healed = match &node.healed {
        Ok(n) => format!("healed {n}"),
        Err(e) => format!("not healed ({e})"),
    };
    let records = match node.remote_txn_records {
        (b, a) if b >= 0 && a >= 0 => format!("access-node 2PC records {b} -> {a}"),
        _ => "access-node 2PC records not read".to_owned(),
    };
    let after = match &node.in_doubt_after {
        Ok(list) => format!("{} left", list.len()),
        Err(e) => format!("afterwards not read ({e})"),
    };
    format!("{before}, {healed}, {after}; {records}")
}

/// `dn1: role password changed: yes, user mapping: updated, verified: yes`, and the step
/// that failed, if one did.
pub fn rotation(rotation: &Rotation) -> String {
    let mapping = match rotation.mapping {
        Some(MappingChange::Created) => "created",
        Some(MappingChange::Updated) => "updated",
        Some(MappingChange::Unchanged) => "unchanged",
        Some(_) => "changed",
        None => "not reached",
    };
    let mut out = format!(
        "{}: role password changed: {}, user mapping: {mapping}, verified: {}\n",
        rotation.data_node,
        yes_no(rotation.role_changed),
        yes_no(rotation.verified)
    );
    match &rotation.failure {
        Some((step, e)) => {
            let step = match step {
                RotationStep::DataNodeRole => "the data node's role",
                RotationStep::UserMapping => "the user mapping",
                RotationStep::RoundTrip => "the round trip",
                _ => "a step",
            };
            let _ = writeln!(out, "failed at {step}: {e}; run it again to finish");
        }
        None => {
            let _ = writeln!(
                out,
                "now update the password variable of {} for the spec",
                rotation.data_node
            );
            for sibling in &rotation.siblings {
                let _ = writeln!(
                    out,
                    "and of {sibling}: another database of the same PostgreSQL instance with \
                     the same user (its user mapping got the new password too)"
                );
            }
        }
    }
    out
}

pub fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// `1 step`, `3 steps`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// What a migration would do: the target, then per table how it is created, its columns,
/// constraints, indexes and grants, what is not carried over, what blocks it, and its
/// chunks (time range, data nodes, size, whether an earlier run copied it); then the total
/// and `ready: yes` or `ready: no`.
pub fn migration_plan(plan: &MigrationPlan) -> String {
    let mut out = String::new();
    let kind = match plan.target_kind {
        TargetKind::TimescaleDb(version) => format!("TimescaleDB {version}"),
        TargetKind::PostgreSql => "PostgreSQL without TimescaleDB".to_owned(),
        _ => "an unknown server".to_owned(),
    };
    let _ = writeln!(out, "migration to {} ({kind})", plan.target);
    let mut bytes = 0;
    for table in &plan.tables {
        let how = match &table.creation {
            Creation::Hypertable {
                time_column,
                chunk_interval,
            } => format!("create a hypertable on {time_column}, chunks of {chunk_interval}"),
            Creation::PlainTable => "create a plain table".to_owned(),
            Creation::AlreadyCreated => "created by an earlier run".to_owned(),
            _ => "create".to_owned(),
        };
        let _ = writeln!(out, "\n{}: {how}", table.table);
        for (label, items) in [
            ("column", &table.columns),
            ("constraint", &table.constraints),
            ("index", &table.indexes),
            ("grant", &table.grants),
        ] {
            for item in items {
                let _ = writeln!(out, "  {label}: {item}");
            }
        }
        for item in &table.not_carried {
            let _ = writeln!(out, "  not carried over: {item}");
        }
        for item in &table.blockers {
            let _ = writeln!(out, "  blocked: {item}");
        }
        let _ = writeln!(
            out,
            "  {} of {} to copy ({})",
            table.chunks_to_copy(),
            count(table.chunks.len(), "chunk"),
            self::bytes(table.bytes_to_copy())
        );
        for chunk in &table.chunks {
            let _ = writeln!(
                out,
                "    {} {} .. {} on {}, {}{}{}",
                chunk.name,
                chunk.range_start,
                chunk.range_end,
                list(&chunk.data_nodes),
                chunk
                    .bytes
                    .map_or_else(|| "size unknown".to_owned(), self::bytes),
                if chunk.compressed { ", compressed" } else { "" },
                if chunk.copied {
                    ", copied by an earlier run"
                } else {
                    ""
                }
            );
        }
        bytes += table.bytes_to_copy();
    }
    let _ = writeln!(
        out,
        "\n{} to copy ({}); ready: {}",
        count(plan.chunks_to_copy(), "chunk"),
        self::bytes(bytes),
        yes_no(plan.blockers().is_empty())
    );
    out
}

/// What a migration did: per table whether it was created, its chunks (copied now, by an
/// earlier run) and its verified rows; then the totals and the time of each phase.
pub fn migration_report(report: &MigrationReport) -> String {
    let mut out = format!("migrated to {}\n", report.target);
    for table in &report.tables {
        let resumed = table.chunks.iter().filter(|c| c.resumed).count();
        let _ = writeln!(
            out,
            "{}: {}{} copied now, {resumed} by an earlier run; {} rows verified in {}; \
             newest: {}",
            table.table,
            if table.created { "created; " } else { "" },
            count(table.chunks.len() - resumed, "chunk"),
            thousands(table.rows),
            count(table.ranges.len(), "time range"),
            table.newest.as_deref().unwrap_or("no rows"),
        );
    }
    let _ = writeln!(
        out,
        "{} rows verified; {} copied now, {} by an earlier run; copy {:.2} s, verification {:.2} s",
        thousands(report.rows()),
        count(report.chunks_copied(), "chunk"),
        report.chunks_resumed(),
        report.copy_time.as_secs_f64(),
        report.verify_time.as_secs_f64()
    );
    out
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `512 B`, `1.5 kB`, `12.0 MB`, `3.2 GB` (powers of 1000).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
