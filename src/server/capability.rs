//! What each TimescaleDB 2.x version can do: one table, asked by the rest of the crate.
//!
//! The table is taken from the release tags of `timescale/timescaledb` (every `sql/*.sql`
//! and `CMakeLists.txt` from 2.0.0 to 2.14.0) and from a real 2.13.1 cluster.

use std::fmt;

use crate::version::Version;

/// A multi-node feature whose presence depends on the TimescaleDB version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// `add_data_node`, `attach_data_node`, `detach_data_node`, `delete_data_node`,
    /// `create_distributed_hypertable`, `distributed_exec`, `set_replication_factor`.
    MultiNode,
    /// `create_distributed_restore_point` (2.2).
    DistributedRestorePoint,
    /// `timescaledb_experimental.block_new_chunks` / `allow_new_chunks`, and
    /// `copy_chunk` / `move_chunk` / `cleanup_copy_chunk_operation` (2.4).
    ExperimentalChunkOps,
    /// The view `timescaledb_experimental.chunk_replication_status` (2.4).
    ChunkReplicationStatus,
    /// `delete_data_node(drop_database => ...)` (2.6).
    DeleteDataNodeDropDatabase,
    /// `ALTER SERVER` on a data node's foreign server (2.6).
    AlterServerOnDataNode,
    /// `detach_data_node(drop_remote_data => ...)` (2.8).
    DetachDropRemoteData,
    /// `create_hypertable(distributed => ...)` and the GUC
    /// `timescaledb.hypertable_distributed_default` (2.8).
    CreateHypertableDistributedArg,
    /// `alter_data_node(node, host, database, port, available)` (2.9).
    AlterDataNode,
    /// The internal `health()` function (2.9).
    HealthFunction,
    /// The internal `drop_stale_chunks()` function (2.9).
    DropStaleChunks,
    /// `ping_data_node(node_name, timeout)` (2.10.2).
    PingDataNodeTimeout,
    /// Internal functions live in `_timescaledb_functions` (2.12); before, in
    /// `_timescaledb_internal`.
    FunctionsSchema,
    /// Multi-node calls emit the deprecation WARNING 01P01 (2.13).
    DeprecationWarnings,
}

/// `(feature, first version that has it)`. Every feature disappears in 2.14.
const SINCE: &[(Feature, Version)] = &[
    (Feature::MultiNode, Version::new(2, 0, 0)),
    (Feature::DistributedRestorePoint, Version::new(2, 2, 0)),
    (Feature::ExperimentalChunkOps, Version::new(2, 4, 0)),
    (Feature::ChunkReplicationStatus, Version::new(2, 4, 0)),
    (Feature::DeleteDataNodeDropDatabase, Version::new(2, 6, 0)),
    (Feature::AlterServerOnDataNode, Version::new(2, 6, 0)),
    (Feature::DetachDropRemoteData, Version::new(2, 8, 0)),
    (
        Feature::CreateHypertableDistributedArg,
        Version::new(2, 8, 0),
    ),
    (Feature::AlterDataNode, Version::new(2, 9, 0)),
    (Feature::HealthFunction, Version::new(2, 9, 0)),
    (Feature::DropStaleChunks, Version::new(2, 9, 0)),
    (Feature::PingDataNodeTimeout, Version::new(2, 10, 2)),
    (Feature::FunctionsSchema, Version::new(2, 12, 0)),
    (Feature::DeprecationWarnings, Version::new(2, 13, 0)),
];

/// The first version without multi-node.
pub(crate) const MULTINODE_REMOVED: Version = Version::new(2, 14, 0);

/// The PostgreSQL majors each TimescaleDB minor series builds against
/// (`CMakeLists.txt` of each release tag), as `(first series, last series, min PG, max PG)`.
/// Multi-node refuses PostgreSQL 16 even where 2.13 builds against it.
const PG_MAJORS: &[(u32, u32, u32, u32)] = &[
    (0, 0, 11, 12),
    (1, 3, 11, 13),
    (4, 4, 12, 13),
    (5, 8, 12, 14),
    (9, 11, 12, 15),
    (12, 13, 13, 15),
];

impl Feature {
    /// The first TimescaleDB version that has this feature.
    pub fn since(self) -> Version {
        SINCE
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, v)| *v)
            .unwrap_or(Version::new(2, 0, 0))
    }

    /// A short human name, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::MultiNode => "multi-node",
            Feature::DistributedRestorePoint => "create_distributed_restore_point",
            Feature::ExperimentalChunkOps => "experimental chunk operations",
            Feature::ChunkReplicationStatus => "chunk_replication_status",
            Feature::DeleteDataNodeDropDatabase => "delete_data_node(drop_database)",
            Feature::AlterServerOnDataNode => "ALTER SERVER on a data node",
            Feature::DetachDropRemoteData => "detach_data_node(drop_remote_data)",
            Feature::CreateHypertableDistributedArg => "create_hypertable(distributed)",
            Feature::AlterDataNode => "alter_data_node",
            Feature::HealthFunction => "health()",
            Feature::DropStaleChunks => "drop_stale_chunks()",
            Feature::PingDataNodeTimeout => "ping_data_node(timeout)",
            Feature::FunctionsSchema => "the _timescaledb_functions schema",
            Feature::DeprecationWarnings => "multi-node deprecation warnings",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// What one TimescaleDB version can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    version: Version,
}

impl Capabilities {
    /// The capabilities of TimescaleDB `version`.
    pub fn of(version: Version) -> Self {
        Capabilities { version }
    }

    /// The version these capabilities describe.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether this version has `feature`.
    pub fn has(&self, feature: Feature) -> bool {
        self.version >= feature.since() && self.version < MULTINODE_REMOVED
    }

    /// Refuses `op` on `node` unless this version has `feature`.
    pub(crate) fn require(
        &self,
        op: &'static str,
        node: &str,
        feature: Feature,
    ) -> crate::error::Result<()> {
        if self.has(feature) {
            return Ok(());
        }
        Err(crate::error::Error::UnsupportedServer {
            op,
            node: node.to_owned(),
            reason: format!(
                "{feature} needs TimescaleDB {} or later; this node runs {}",
                feature.since(),
                self.version
            ),
        })
    }

    /// The schema of the internal functions (`ping_data_node`, `remote_txn_heal_data_node`,
    /// ...): `_timescaledb_functions` from 2.12, `_timescaledb_internal` before.
    pub fn internal_schema(&self) -> &'static str {
        if self.has(Feature::FunctionsSchema) {
            "_timescaledb_functions"
        } else {
            "_timescaledb_internal"
        }
    }

    /// The PostgreSQL majors on which this version's multi-node runs, as `(min, max)`; `None`
    /// outside 2.0–2.13.
    pub fn postgres_majors(&self) -> Option<(u32, u32)> {
        if self.version.major != 2 || self.version >= MULTINODE_REMOVED {
            return None;
        }
        PG_MAJORS
            .iter()
            .find(|(first, last, _, _)| (*first..=*last).contains(&self.version.minor))
            .map(|(_, _, min, max)| (*min, *max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_by_version() {
        let v2_8 = Capabilities::of(Version::new(2, 8, 1));
        let v2_13 = Capabilities::of(Version::new(2, 13, 1));
        assert!(!v2_8.has(Feature::AlterDataNode));
        assert!(v2_13.has(Feature::AlterDataNode));
        assert!(v2_8.has(Feature::DetachDropRemoteData));
        assert!(!Capabilities::of(Version::new(2, 10, 1)).has(Feature::PingDataNodeTimeout));
        assert!(Capabilities::of(Version::new(2, 10, 2)).has(Feature::PingDataNodeTimeout));
    }

    #[test]
    fn nothing_after_removal() {
        let v = Capabilities::of(Version::new(2, 14, 0));
        assert!(!v.has(Feature::MultiNode));
        assert_eq!(v.postgres_majors(), None);
    }

    #[test]
    fn internal_schema_moved_in_2_12() {
        assert_eq!(
            Capabilities::of(Version::new(2, 11, 2)).internal_schema(),
            "_timescaledb_internal"
        );
        assert_eq!(
            Capabilities::of(Version::new(2, 12, 0)).internal_schema(),
            "_timescaledb_functions"
        );
    }

    #[test]
    fn postgres_majors_per_series() {
        let majors = |minor| Capabilities::of(Version::new(2, minor, 0)).postgres_majors();
        assert_eq!(majors(0), Some((11, 12)));
        assert_eq!(majors(4), Some((12, 13)));
        assert_eq!(majors(9), Some((12, 15)));
        assert_eq!(majors(13), Some((13, 15)));
        for minor in 0..=13 {
            assert!(majors(minor).is_some(), "2.{minor} has no entry");
        }
    }

    #[test]
    fn every_feature_is_in_the_table() {
        for (feature, since) in SINCE {
            assert_eq!(feature.since(), *since);
        }
    }
}
