//! What a migration's verification found different.

/// What a migration's verification found different
/// ([`Error::VerificationFailed`](super::Error::VerificationFailed)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// The table, `"schema"."name"`.
    pub table: String,
    /// The chunks of the time range that differs.
    pub chunks: Vec<String>,
    /// Rows of those chunks on the data nodes.
    pub source_rows: u64,
    /// Their checksum on the data nodes.
    pub source_checksum: String,
    /// Rows of that range on the target.
    pub target_rows: u64,
    /// Their checksum on the target.
    pub target_checksum: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "table {}: the rows of chunk(s) {} differ: the data nodes have {} rows \
             (checksum {}), the target {} (checksum {})",
            self.table,
            self.chunks.join(", "),
            self.source_rows,
            self.source_checksum,
            self.target_rows,
            self.target_checksum
        )
    }
}
