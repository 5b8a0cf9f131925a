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
use crate::sql::hypertable::TableName;
use crate::sql::migrate_source::copy_out_binary;
use crate::sql::migrate_target::RECORD_CHUNK;
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
    let target_err = |e| Failure::Target(Error::from_statement(OP, dst.node(), e));

    dst.execute_utility(OP, &BEGIN)
        .await
        .map_err(Failure::Target)?;
    let copied = async {
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
            let data =
                data.map_err(|e| Failure::Source(Error::from_statement(OP, src.node(), e)))?;
            bytes += data.len() as u64;
            sink.feed(data).await.map_err(target_err)?;
            if !started {
                started = true;
                progress.emit(MigrationEvent::ChunkStarted {
                    table: job.table.display.clone(),
                    chunk: job.name().to_owned(),
                    node: node.clone(),
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
    .await;
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
