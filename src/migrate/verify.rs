//! The verification phase: for every time range of a table, the row count and checksum of
//! its chunks on the data nodes (each read once, from a replica that answers) against the
//! rows the target holds in that range.
//!
//! Chunks of the same range (space partitions) are summed: the checksum is a sum of
//! per-row hashes, so it adds up across chunks and does not depend on row order.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::plan::TablePlan;
use super::progress::{MigrationEvent, Progress};
use super::report::RangeCheck;
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::{Error, Mismatch, Result};
use crate::sql::hypertable::TableName;
use crate::sql::migrate_source::STABLE_TEXT;
use crate::sql::migrate_verify::{chunk_checksum, range_checksum};

const OP: &str = "verify migration";

/// One time range of one table.
struct RangeJob<'a> {
    plan: &'a TablePlan,
    start: String,
    end: String,
    /// The chunks of the range: schema, name, replicas.
    chunks: Vec<(String, String, Vec<String>)>,
}

/// Row count and checksum, as the server computed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sum {
    rows: u64,
    checksum: i128,
}

/// Verifies every range of `tables`, `concurrency` ranges at once.
pub(crate) async fn verify_all(
    cluster: &Cluster,
    target: &NodeConfig,
    tables: &[&TablePlan],
    concurrency: usize,
    progress: &Progress,
) -> Result<Vec<(String, RangeCheck)>> {
    let mut jobs = Vec::new();
    for plan in tables {
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut ranges: Vec<RangeJob<'_>> = Vec::new();
        for chunk in &plan.chunks {
            let key = (chunk.range_start.clone(), chunk.range_end.clone());
            let at = *index.entry(key).or_insert_with(|| {
                ranges.push(RangeJob {
                    plan,
                    start: chunk.range_start.clone(),
                    end: chunk.range_end.clone(),
                    chunks: Vec::new(),
                });
                ranges.len() - 1
            });
            ranges[at].chunks.push((
                chunk.schema.clone(),
                chunk.name.clone(),
                chunk.data_nodes.clone(),
            ));
        }
        jobs.extend(ranges);
    }
    let workers = concurrency.clamp(1, jobs.len().max(1));
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let next = || {
        queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    };
    let run_worker = |_| {
        let next = &next;
        async move {
            let mut target_session: Option<Session> = None;
            let mut sources: HashMap<String, Session> = HashMap::new();
            let mut done = Vec::new();
            while let Some(job) = next() {
                if target_session.is_none() {
                    target_session = Some(stable_session(target).await?);
                }
                let Some(t) = target_session.as_ref() else {
                    unreachable!("just opened");
                };
                let check = verify_range(cluster, t, &mut sources, &job).await?;
                progress.emit(MigrationEvent::RangeVerified {
                    table: job.plan.table.clone(),
                    chunks: check.chunks.clone(),
                    rows: check.rows,
                });
                done.push((job.plan.table.clone(), check));
            }
            Ok::<_, Error>(done)
        }
    };
    let results = futures_util::future::try_join_all((0..workers).map(run_worker)).await?;
    Ok(results.into_iter().flatten().collect())
}

/// A session whose values print the same as on the other side.
async fn stable_session(config: &NodeConfig) -> Result<Session> {
    let session = Session::open(config, OP).await?;
    session.execute_utility(OP, &STABLE_TEXT).await?;
    Ok(session)
}

async fn verify_range(
    cluster: &Cluster,
    target: &Session,
    sources: &mut HashMap<String, Session>,
    job: &RangeJob<'_>,
) -> Result<RangeCheck> {
    let def = &job.plan.def;
    let sql = range_checksum(
        &def.name,
        &def.all,
        &def.time.column,
        def.time.interval.kind(),
    );
    // The target's side runs while the data nodes compute theirs.
    let bounds: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&job.start, &job.end];
    let (source, on_target) = tokio::join!(
        source_sum(cluster, sources, job),
        read_sum(target, &sql, &bounds)
    );
    let (source, on_target) = (source?, on_target?);
    let chunks: Vec<String> = job.chunks.iter().map(|(_, n, _)| n.clone()).collect();
    if on_target != source {
        return Err(Error::VerificationFailed {
            op: OP,
            node: target.node().to_owned(),
            mismatch: Box::new(Mismatch {
                table: job.plan.table.clone(),
                chunks,
                source_rows: source.rows,
                source_checksum: source.checksum.to_string(),
                target_rows: on_target.rows,
                target_checksum: on_target.checksum.to_string(),
            }),
        });
    }
    Ok(RangeCheck {
        range_start: job.start.clone(),
        range_end: job.end.clone(),
        chunks,
        rows: source.rows,
        checksum: source.checksum.to_string(),
    })
}

/// Row count and checksum of the range's chunks, each read from a replica that answers.
async fn source_sum(
    cluster: &Cluster,
    sources: &mut HashMap<String, Session>,
    job: &RangeJob<'_>,
) -> Result<Sum> {
    let mut source = Sum {
        rows: 0,
        checksum: 0,
    };
    for (schema, name, nodes) in &job.chunks {
        let chunk = TableName::qualified(
            crate::ident::Ident::for_op(schema.as_str(), "chunk schema", OP, None)?,
            crate::ident::Ident::for_op(name.as_str(), "chunk", OP, None)?,
        );
        let sql = chunk_checksum(&chunk, &job.plan.def.all);
        let mut last = None;
        let mut sum = None;
        for node in nodes {
            let Ok(config) = cluster.find(OP, node) else {
                continue;
            };
            if !sources.contains_key(node) {
                match stable_session(config).await {
                    Ok(s) => {
                        sources.insert(node.clone(), s);
                    }
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            let Some(session) = sources.get(node) else {
                continue;
            };
            match read_sum(session, &sql, &[]).await {
                Ok(s) => {
                    sum = Some(s);
                    break;
                }
                Err(e) => {
                    sources.remove(node);
                    last = Some(e);
                }
            }
        }
        let Some(sum) = sum else {
            return Err(last.unwrap_or_else(|| {
                Error::invalid(
                    OP,
                    None,
                    format!("chunk {name}: no data node of {nodes:?} is known to the cluster"),
                )
            }));
        };
        source.rows += sum.rows;
        source.checksum += sum.checksum;
    }
    Ok(source)
}

async fn read_sum(
    session: &Session,
    sql: &crate::sql::Sql,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Sum> {
    let row = session.query_one(OP, sql, params).await?;
    let rows: i64 = session.get(OP, &row, "rows")?;
    let checksum: String = session.get(OP, &row, "checksum")?;
    let checksum = checksum.parse::<i128>().map_err(|_| {
        Error::invalid(
            OP,
            Some(session.node()),
            format!("cannot read checksum {checksum:?}"),
        )
    })?;
    Ok(Sum {
        rows: u64::try_from(rows).unwrap_or_default(),
        checksum,
    })
}
