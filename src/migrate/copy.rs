//! The copy phase: chunk by chunk, straight from a data node holding the chunk into the
//! target, several chunks at once.
//!
//! Each chunk is one transaction on the target: its binary COPY (the data node's
//! `COPY ... TO STDOUT (FORMAT binary)` byte stream forwarded as it arrives, never decoded
//! nor held whole) and its row in the migration state commit together, so a chunk is
//! either fully in and recorded, or not at all. A replica that fails is left for the next
//! one, from the start of the chunk.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt, TryFutureExt};
use tracing::Instrument;

use super::progress::{MigrationEvent, Progress};
use super::report::ChunkReport;
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::sql::copy::copy_in_binary;
use crate::sql::hypertable::IntervalKind;
use crate::sql::hypertable::TableName;
use crate::sql::migrate_source::copy_out_binary;
use crate::sql::migrate_target::{delete_range, FORGET_CHUNKS, RECORD_CHUNK};
use crate::sql::session::{BEGIN, COMMIT, ROLLBACK};

const OP: &str = "copy chunk";

/// A table's part of the copy phase.
#[derive(Debug)]
pub(crate) struct TableJob {
    /// `"schema"."name"`, for events and errors.
    pub(crate) display: String,
    /// The target table (the same name as the source's).
    pub(crate) table: TableName,
    /// Schema and name as text, for the migration state.
    pub(crate) key: (String, String),
    /// The columns copied, in order, on both sides.
    pub(crate) columns: Vec<Ident>,
}

/// One chunk to copy.
#[derive(Debug)]
pub(crate) struct ChunkJob {
    pub(crate) table: Arc<TableJob>,
    pub(crate) chunk: TableName,
    /// Its replicas, in the order to try them.
    pub(crate) nodes: Vec<String>,
}

impl ChunkJob {
    fn name(&self) -> &str {
        self.chunk.name().as_str()
    }
}

/// What a worker keeps between chunks: its sessions.
#[derive(Default)]
struct Sessions {
    target: Option<Session>,
    sources: HashMap<String, Session>,
}

/// Where a chunk's copy failed.
enum Failure {
    /// Reading from the data node: another replica may do.
    Source(Error),
    /// Writing to the target: the run stops.
    Target(Error),
}

/// Copies `jobs` with `concurrency` workers; the first error stops every worker (their
/// sessions close, so the target rolls back the chunks they were writing).
pub(crate) async fn copy_all(
    cluster: &Cluster,
    target: &NodeConfig,
    jobs: Vec<ChunkJob>,
    concurrency: usize,
    progress: &Progress,
) -> Result<Vec<(Arc<TableJob>, ChunkReport)>> {
    let workers = concurrency.clamp(1, jobs.len().max(1));
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let next = || {
        queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    };
    let run_worker = |worker: usize| {
        let next = &next;
        async move {
            let mut sessions = Sessions::default();
            let mut done = Vec::new();
            while let Some(job) = next() {
                let span = tracing::debug_span!("migrate chunk", table = %job.table.display,
                                                chunk = %job.name());
                let report = copy_chunk(cluster, target, &job, &mut sessions, progress)
                    .instrument(span)
                    .await?;
                done.push((job.table.clone(), report));
            }
            tracing::debug!(worker, chunks = done.len(), "copy worker done");
            Ok::<_, Error>(done)
        }
    };
    let results = futures_util::future::try_join_all((0..workers).map(run_worker)).await?;
    Ok(results.into_iter().flatten().collect())
}

/// Copies one chunk from the first replica that serves it to the end.
async fn copy_chunk(
    cluster: &Cluster,
    target: &NodeConfig,
    job: &ChunkJob,
    sessions: &mut Sessions,
    progress: &Progress,
) -> Result<ChunkReport> {
    let mut last = None;
    for node in &job.nodes {
        let Ok(config) = cluster.find(OP, node) else {
            continue;
        };
        match copy_from(config, target, job, sessions, progress).await {
            Ok((rows, bytes)) => {
                progress.copied(&job.table.display, job.name(), node, rows, bytes);
                return Ok(ChunkReport {
                    chunk: job.name().to_owned(),
                    source_node: node.clone(),
                    rows,
                    bytes,
                    resumed: false,
                });
            }
            Err(Failure::Source(e)) => {
                tracing::debug!(node = %node, error = %e, "replica failed; trying the next");
                sessions.sources.remove(node);
                progress.emit(MigrationEvent::ReplicaUnavailable {
                    table: job.table.display.clone(),
                    chunk: job.name().to_owned(),
                    node: node.clone(),
                    reason: e.to_string(),
                });
                last = Some(e);
            }
            Err(Failure::Target(e)) => {
                sessions.target = None;
                return Err(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::invalid(
            OP,
            None,
            format!(
                "chunk {} of {}: the cluster has settings for none of its data nodes {:?}",
                job.name(),
                job.table.display,
                job.nodes
            ),
        )
    }))
}

/// Copies the chunk from `source` inside one target transaction; returns rows and bytes.
async fn copy_from(
    source: &NodeConfig,
    target: &NodeConfig,
    job: &ChunkJob,
    sessions: &mut Sessions,
    progress: &Progress,
) -> std::result::Result<(u64, u64), Failure> {
    let node = source.node_name();
    if !sessions.sources.contains_key(&node) {
        let session = Session::open(source, OP).await.map_err(Failure::Source)?;
        sessions.sources.insert(node.clone(), session);
    }
    if sessions
        .target
        .as_ref()
        .is_none_or(|t| t.client().is_closed())
    {
        sessions.target = Some(Session::open(target, OP).await.map_err(Failure::Target)?);
    }
    let (Some(src), Some(dst)) = (sessions.sources.get(&node), sessions.target.as_ref()) else {
        unreachable!("both sessions were just opened");
    };
    dst.execute_utility(OP, &BEGIN)
        .await
        .map_err(Failure::Target)?;
    let copied = copy_into(src, dst, job, &node, progress).await;
    match copied {
        Ok(done) => {
            dst.execute_utility(OP, &COMMIT)
                .await
                .map_err(Failure::Target)?;
            tracing::debug!(node = %node, rows = done.0, bytes = done.1, "chunk copied");
            Ok(done)
        }
        Err(failure) => {
            // The COPY was abandoned (its sink dropped): roll the chunk back. A target that
            // cannot even do that is a target failure.
            if let Err(e) = dst.execute_utility(OP, &ROLLBACK).await {
                return Err(match failure {
                    Failure::Source(_) => Failure::Target(e),
                    target => target,
                });
            }
            Err(failure)
        }
    }
}

/// Copies the chunk from `src` into the transaction open on `dst`, and records it there.
async fn copy_into(
    src: &Session,
    dst: &Session,
    job: &ChunkJob,
    node: &str,
    progress: &Progress,
) -> std::result::Result<(u64, u64), Failure> {
    let target_err = |e| Failure::Target(Error::from_statement(OP, dst.node(), e));
    let sink = dst
        .client()
        .copy_in(copy_in_binary(&job.table.table, &job.table.columns).text())
        .await
        .map_err(target_err)?;
    let mut sink = pin!(sink);
    let stream = src
        .client()
        .copy_out(copy_out_binary(&job.chunk, &job.table.columns).text())
        .map_err(|e| Failure::Source(Error::from_statement(OP, src.node(), e)))
        .await?;
    let mut stream = pin!(stream);
    let mut bytes = 0u64;
    let mut started = false;
    while let Some(data) = stream.next().await {
        let data = data.map_err(|e| Failure::Source(Error::from_statement(OP, src.node(), e)))?;
        bytes += data.len() as u64;
        sink.feed(data).await.map_err(target_err)?;
        if !started {
            started = true;
            progress.emit(MigrationEvent::ChunkStarted {
                table: job.table.display.clone(),
                chunk: job.name().to_owned(),
                node: node.to_owned(),
            });
        }
    }
    let rows = sink.as_mut().finish().await.map_err(target_err)?;
    let (schema, table) = &job.table.key;
    let rows_i64 = i64::try_from(rows).unwrap_or(i64::MAX);
    let bytes_i64 = i64::try_from(bytes).unwrap_or(i64::MAX);
    dst.query(
        OP,
        &RECORD_CHUNK,
        &[schema, table, &job.name(), &node, &rows_i64, &bytes_i64],
    )
    .await
    .map_err(Failure::Target)?;
    Ok((rows, bytes))
}

/// One time range of a table whose rows changed on the source since it was copied.
#[derive(Debug)]
pub(crate) struct RangeJob {
    pub(crate) table: Arc<TableJob>,
    pub(crate) time_column: Ident,
    pub(crate) bounds: IntervalKind,
    pub(crate) start: String,
    pub(crate) end: String,
    /// Every chunk of the range (several with space partitioning).
    pub(crate) chunks: Vec<ChunkJob>,
}

/// Replaces a range on the target in one transaction: its rows deleted, its chunks
/// forgotten in the state, each chunk copied again and recorded. Any failure rolls the
/// whole range back (the range still differs, and the next catch-up replaces it).
pub(crate) async fn replace_range(
    cluster: &Cluster,
    target: &NodeConfig,
    range: &RangeJob,
    progress: &Progress,
) -> Result<Vec<ChunkReport>> {
    let dst = Session::open(target, OP).await?;
    dst.execute_utility(OP, &BEGIN).await?;
    let replaced = async {
        let (schema, table) = &range.table.key;
        dst.query(
            OP,
            &delete_range(&range.table.table, &range.time_column, range.bounds),
            &[&range.start, &range.end],
        )
        .await?;
        let names: Vec<String> = range.chunks.iter().map(|c| c.name().to_owned()).collect();
        dst.query(OP, &FORGET_CHUNKS, &[schema, table, &names])
            .await?;
        let mut reports = Vec::with_capacity(range.chunks.len());
        for job in &range.chunks {
            let mut last = None;
            let mut done = None;
            for node in &job.nodes {
                let Ok(config) = cluster.find(OP, node) else {
                    continue;
                };
                let src = match Session::open(config, OP).await {
                    Ok(src) => src,
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                };
                // Once rows went in, the transaction cannot take another replica's.
                let (rows, bytes) =
                    copy_into(&src, &dst, job, node, progress)
                        .await
                        .map_err(|f| match f {
                            Failure::Source(e) | Failure::Target(e) => e,
                        })?;
                done = Some(ChunkReport {
                    chunk: job.name().to_owned(),
                    source_node: node.clone(),
                    rows,
                    bytes,
                    resumed: false,
                });
                break;
            }
            let Some(report) = done else {
                return Err(last.unwrap_or_else(|| {
                    Error::invalid(
                        OP,
                        None,
                        format!(
                            "chunk {} of {}: the cluster has settings for none of its data \
                             nodes",
                            job.name(),
                            job.table.display
                        ),
                    )
                }));
            };
            reports.push(report);
        }
        Ok::<_, Error>(reports)
    }
    .await;
    match replaced {
        Ok(reports) => {
            dst.execute_utility(OP, &COMMIT).await?;
            for r in &reports {
                progress.copied(
                    &range.table.display,
                    &r.chunk,
                    &r.source_node,
                    r.rows,
                    r.bytes,
                );
            }
            Ok(reports)
        }
        Err(e) => {
            let _ = dst.execute_utility(OP, &ROLLBACK).await;
            Err(e)
        }
    }
}
