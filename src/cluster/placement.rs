//! Where a distributed hypertable's chunks live, and how many rows each holds on each data
//! node: what a chunk-placement view shows at a glance.

use futures_util::future::join_all;

use super::Cluster;
use crate::catalog::{ChunkInfo, HypertableInfo};
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::AccessNode;
use crate::sql::hypertable::{chunk_rows, TableName, CHUNKS, HYPERTABLE};
use crate::table_name::IntoTableName;

/// A hypertable's chunks, the data nodes that hold each, and the rows of each chunk on each
/// data node ([`Cluster::chunk_placement`]).
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ChunkPlacement {
    /// The hypertable's schema.
    pub schema: String,
    /// The hypertable's name.
    pub table: String,
    /// The data nodes attached to the hypertable: the cluster's, in its order, then any
    /// other.
    pub data_nodes: Vec<String>,
    /// Its chunks, by the start of their time range (earliest first).
    pub chunks: Vec<ChunkInfo>,
    /// Each data node's rows per chunk, in the order of [`ChunkPlacement::data_nodes`].
    pub rows: Vec<NodeChunkRows>,
}

impl ChunkPlacement {
    /// The rows chunk `chunk` (its name) holds on data node `node` (0 for a replica without
    /// rows): `None` when the node could not be read or holds no replica of it.
    pub fn rows(&self, chunk: &str, node: &str) -> Option<i64> {
        let entry = self.rows.iter().find(|r| r.node == node)?;
        let counted = entry.chunks.as_ref().ok()?;
        if let Some(c) = counted.iter().find(|c| c.chunk_name == chunk) {
            return Some(c.rows);
        }
        self.chunks
            .iter()
            .any(|c| c.name == chunk && c.data_nodes.iter().any(|n| n == node))
            .then_some(0)
    }
}

/// One data node's rows per chunk of a hypertable, read from the node directly.
#[derive(Debug)]
#[non_exhaustive]
pub struct NodeChunkRows {
    /// The data node.
    pub node: String,
    /// Its chunks of the hypertable that hold rows, with their row counts, or why they could
    /// not be read (a chunk without rows is not listed; [`ChunkPlacement::rows`] gives 0 for
    /// it).
    pub chunks: Result<Vec<ChunkRows>>,
}

/// The rows of one chunk on one data node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ChunkRows {
    /// The chunk's schema.
    pub chunk_schema: String,
    /// The chunk's name (the same on the access node and its data nodes).
    pub chunk_name: String,
    /// Its rows on the node, counted exactly.
    pub rows: i64,
}

const OP: &str = "chunk placement";

impl Cluster {
    /// Where hypertable `table`'s chunks live and how many rows each holds on each data node:
    /// the chunks from the access node, the rows from each data node directly (with its own
    /// credentials), all data nodes at once.
    ///
    /// The rows are counted exactly, one scan of the table on each data node, each within
    /// the cluster's [`Cluster::node_deadline`] (raise it for a large table). A data node
    /// that does not answer gets an error entry; the others are still read.
    ///
    /// # Errors
    ///
    /// When the access node cannot be read, or `table` is not a hypertable there.
    pub async fn chunk_placement(&self, table: impl IntoTableName) -> Result<ChunkPlacement> {
        let an_name = self.access_node.node_name();
        let table = &table.into_table_name(OP, Some(&an_name))?;
        let deadline = Deadline::after(self.node_deadline);
        let session = deadline
            .run(OP, &an_name, Session::open(&self.access_node, OP))
            .await?;
        let (schema, name, info, mut chunks) = session
            .bounded(OP, &an_name, deadline, describe(&session, table))
            .await?;
        chunks.sort_by(|a, b| {
            (a.range_start_integer, &a.range_start, &a.name).cmp(&(
                b.range_start_integer,
                &b.range_start,
                &b.name,
            ))
        });

        let mut data_nodes: Vec<String> = self
            .data_nodes
            .iter()
            .map(NodeConfig::node_name)
            .filter(|n| info.data_nodes.contains(n))
            .collect();
        for other in &info.data_nodes {
            if !data_nodes.contains(other) {
                data_nodes.push(other.clone());
            }
        }
        let qualified = TableName::qualified(Ident::new(&schema)?, Ident::new(&name)?);
        let rows = join_all(data_nodes.iter().map(|node| async {
            let chunks = match self.data_nodes.iter().find(|c| c.node_name() == *node) {
                Some(config) => {
                    count_rows(config, &qualified, Deadline::after(self.node_deadline)).await
                }
                None => Err(Error::invalid(
                    OP,
                    Some(node),
                    "the hypertable is on this data node, but the cluster has no settings for it",
                )),
            };
            NodeChunkRows {
                node: node.clone(),
                chunks,
            }
        }))
        .await;
        Ok(ChunkPlacement {
            schema,
            table: name,
            data_nodes,
            chunks,
            rows,
        })
    }
}

/// The hypertable behind `table` on the access node, and its chunks.
async fn describe(
    session: &Session,
    table: &TableName,
) -> Result<(String, String, HypertableInfo, Vec<ChunkInfo>)> {
    let not_a_hypertable = || {
        Error::invalid(
            OP,
            Some(session.node()),
            format!("{} is not a hypertable", table.regclass_text()),
        )
    };
    let (schema, name) = AccessNode::resolve(session, OP, table)
        .await?
        .ok_or_else(not_a_hypertable)?;
    let info = session
        .query_opt(OP, &HYPERTABLE, &[&schema, &name])
        .await?
        .map(|row| HypertableInfo::from_row(session, OP, &row))
        .transpose()?
        .ok_or_else(not_a_hypertable)?;
    let chunks = session
        .query(OP, &CHUNKS, &[&schema, &name])
        .await?
        .iter()
        .map(|row| ChunkInfo::from_row(session, OP, row))
        .collect::<Result<Vec<_>>>()?;
    Ok((schema, name, info, chunks))
}

/// The rows per chunk of `table` on data node `config`, within `deadline`.
async fn count_rows(
    config: &NodeConfig,
    table: &TableName,
    deadline: Deadline,
) -> Result<Vec<ChunkRows>> {
    let node = config.node_name();
    let session = deadline.run(OP, &node, Session::open(config, OP)).await?;
    let sql = chunk_rows(table);
    let rows = session
        .bounded(OP, &node, deadline, session.query(OP, &sql, &[]))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ChunkRows {
                chunk_schema: session.get(OP, row, "chunk_schema")?,
                chunk_name: session.get(OP, row, "chunk_name")?,
                rows: session.get(OP, row, "rows")?,
            })
        })
        .collect()
}
