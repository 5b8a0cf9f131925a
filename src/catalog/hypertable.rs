//! `timescaledb_information.hypertables`.

use tokio_postgres::Row;

use crate::connect::SessionOn;
use crate::error::Result;

/// A hypertable as the access node describes it.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HypertableInfo {
    /// Schema.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Number of chunks (on a data node: that node's only).
    pub num_chunks: i64,
    /// Whether it is distributed (true on the access node of a distributed hypertable).
    pub is_distributed: bool,
    /// Replication factor (`None` for a local hypertable; -1 for a data node's member).
    pub replication_factor: Option<i32>,
    /// The data nodes attached to it.
    pub data_nodes: Vec<String>,
}

impl HypertableInfo {
    pub(crate) fn from_row(session: &SessionOn<'_>, op: &'static str, row: &Row) -> Result<Self> {
        Ok(HypertableInfo {
            schema: session.get(op, row, "hypertable_schema")?,
            name: session.get(op, row, "hypertable_name")?,
            num_chunks: session.get(op, row, "num_chunks")?,
            is_distributed: session.get(op, row, "is_distributed")?,
            replication_factor: session.get(op, row, "replication_factor")?,
            data_nodes: session.get(op, row, "data_nodes")?,
        })
    }
}
