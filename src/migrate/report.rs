//! What a migration did: per table and per chunk, and what the verification compared.

use std::time::Duration;

/// One chunk of a migrated table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkReport {
    /// The chunk.
    pub chunk: String,
    /// The data node its rows were read from.
    pub source_node: String,
    /// Its rows, as copied.
    pub rows: u64,
    /// The bytes of binary COPY data forwarded.
    pub bytes: u64,
    /// Whether an earlier run copied it (this run skipped it).
    pub resumed: bool,
}

/// One time range of a table, verified: the chunks of the range on the data nodes hold
/// exactly the rows the target holds in that range.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RangeCheck {
    /// Start of the range (UTC for time columns).
    pub range_start: String,
    /// End of the range (exclusive).
    pub range_end: String,
    /// The chunks of the range (several with space partitioning).
    pub chunks: Vec<String>,
    /// Rows on both sides.
    pub rows: u64,
    /// The checksum on both sides (the sum of a 64-bit hash of each row's text).
    pub checksum: String,
}

/// One migrated table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableReport {
    /// The table, `"schema"."name"`.
    pub table: String,
    /// Whether this run created it on the target.
    pub created: bool,
    /// Its chunks.
    pub chunks: Vec<ChunkReport>,
    /// Its verified time ranges.
    pub ranges: Vec<RangeCheck>,
    /// Its rows on the target, verified.
    pub rows: u64,
}

/// What a [`super::Migration`] run did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The target node's name.
    pub target: String,
    /// The tables, in the order they were asked for.
    pub tables: Vec<TableReport>,
    /// Time spent copying (all tables), building the indexes included.
    pub copy_time: Duration,
    /// Time spent verifying (all tables).
    pub verify_time: Duration,
}

impl MigrationReport {
    /// Rows on the target, verified, over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Chunks this run copied.
    pub fn chunks_copied(&self) -> usize {
        self.chunks().filter(|c| !c.resumed).count()
    }

    /// Chunks an earlier run had copied.
    pub fn chunks_resumed(&self) -> usize {
        self.chunks().filter(|c| c.resumed).count()
    }

    fn chunks(&self) -> impl Iterator<Item = &ChunkReport> {
        self.tables.iter().flat_map(|t| t.chunks.iter())
    }
}
