//! `timescaledb_information.chunks`: where each chunk of a hypertable lives.

use tokio_postgres::Row;

use crate::connect::SessionOn;
use crate::error::Result;

/// One chunk of a hypertable and the data nodes that hold it.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkInfo {
    /// The chunk's schema (`_timescaledb_internal`).
    pub schema: String,
    /// The chunk's table name, e.g. `_dist_hyper_1_1_chunk`.
    pub name: String,
    /// Start of the time range, as the server prints it (time-typed time columns).
    pub range_start: Option<String>,
    /// End of the time range, as the server prints it.
    pub range_end: Option<String>,
    /// Start of the range for integer time columns.
    pub range_start_integer: Option<i64>,
    /// End of the range for integer time columns.
    pub range_end_integer: Option<i64>,
    /// The data nodes that hold a replica of this chunk (empty for a local hypertable).
    pub data_nodes: Vec<String>,
}

impl ChunkInfo {
    pub(crate) fn from_row(session: &SessionOn<'_>, op: &'static str, row: &Row) -> Result<Self> {
        Ok(ChunkInfo {
            schema: session.get(op, row, "chunk_schema")?,
            name: session.get(op, row, "chunk_name")?,
            range_start: session.get(op, row, "range_start")?,
            range_end: session.get(op, row, "range_end")?,
            range_start_integer: session.get(op, row, "range_start_integer")?,
            range_end_integer: session.get(op, row, "range_end_integer")?,
            data_nodes: session.get(op, row, "data_nodes")?,
        })
    }
}
