//! What a running migration tells its caller: one event per step, through the callback
//! given to [`super::Migration::on_event`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A step of a running migration.
///
/// The callback runs on the migrating task, between steps: it should return quickly (send
/// the event to a channel, update a progress bar). While it runs, the migration waits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationEvent {
    /// A table was created on the target (with its row in the migration state).
    TableCreated {
        /// The table, `"schema"."name"`.
        table: String,
    },
    /// A chunk was copied by an earlier run: it is skipped.
    ChunkSkipped {
        /// The table.
        table: String,
        /// The chunk.
        chunk: String,
    },
    /// The first rows of a chunk reached the target (inside its transaction: nothing is
    /// visible until [`MigrationEvent::ChunkCopied`]).
    ChunkStarted {
        /// The table.
        table: String,
        /// The chunk.
        chunk: String,
        /// The data node it is read from.
        node: String,
    },
    /// A data node holding a replica of a chunk did not answer (or failed while the chunk was
    /// read); the chunk is read from another replica, from the start.
    ReplicaUnavailable {
        /// The table.
        table: String,
        /// The chunk.
        chunk: String,
        /// The data node that failed.
        node: String,
        /// Why, as the error says it.
        reason: String,
    },
    /// A chunk's rows and its row in the migration state were committed on the target.
    ChunkCopied {
        /// The table.
        table: String,
        /// The chunk.
        chunk: String,
        /// The data node it was read from.
        node: String,
        /// Its rows.
        rows: u64,
        /// The bytes of binary COPY data forwarded.
        bytes: u64,
        /// Chunks copied by this run so far (all tables).
        chunks_done: usize,
        /// Chunks this run copies (all tables).
        chunks_total: usize,
        /// Rows copied by this run so far (all tables).
        rows_done: u64,
        /// Bytes copied by this run so far (all tables).
        bytes_done: u64,
        /// Time since the copy phase started.
        elapsed: Duration,
    },
    /// The chunks of one time range of a table were verified: row count and checksum are
    /// the same on the source and the target.
    RangeVerified {
        /// The table.
        table: String,
        /// The chunks of that range.
        chunks: Vec<String>,
        /// Their rows.
        rows: u64,
    },
}

impl MigrationEvent {
    /// Bytes per second over the copy phase so far, for [`MigrationEvent::ChunkCopied`].
    pub fn rate(&self) -> Option<f64> {
        match self {
            MigrationEvent::ChunkCopied {
                bytes_done,
                elapsed,
                ..
            } if !elapsed.is_zero() => Some(*bytes_done as f64 / elapsed.as_secs_f64()),
            _ => None,
        }
    }
}

/// The callback.
pub(crate) type Listener = Arc<dyn Fn(&MigrationEvent) + Send + Sync>;

/// Sends events and keeps the running totals of the copy phase.
pub(crate) struct Progress {
    listener: Option<Listener>,
    started: Instant,
    total: usize,
    chunks: AtomicUsize,
    rows: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    pub(crate) fn new(listener: Option<Listener>, total: usize) -> Self {
        Progress {
            listener,
            started: Instant::now(),
            total,
            chunks: AtomicUsize::new(0),
            rows: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    pub(crate) fn emit(&self, event: MigrationEvent) {
        tracing::debug!(?event, "migration event");
        if let Some(listener) = &self.listener {
            listener(&event);
        }
    }

    /// Counts a copied chunk and sends [`MigrationEvent::ChunkCopied`].
    pub(crate) fn copied(&self, table: &str, chunk: &str, node: &str, rows: u64, bytes: u64) {
        let chunks_done = self.chunks.fetch_add(1, Ordering::Relaxed) + 1;
        let rows_done = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let bytes_done = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.emit(MigrationEvent::ChunkCopied {
            table: table.to_owned(),
            chunk: chunk.to_owned(),
            node: node.to_owned(),
            rows,
            bytes,
            chunks_done,
            chunks_total: self.total,
            rows_done,
            bytes_done,
            elapsed: self.started.elapsed(),
        });
    }
}
