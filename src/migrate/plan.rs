//! The plan of a migration: what will be created on the target, what cannot be carried
//! over, and which chunks will be copied (with their sizes), read before anything is
//! written.

use std::collections::HashMap;
use std::fmt;

use super::schema::{GrantDef, TableDef};
use crate::cluster::Cluster;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::server::{NodeRole, ServerInfo};
use crate::sql::functions::Schemas;
use crate::sql::hypertable::{TableName, HYPERTABLE, RESOLVE_TABLE};
use crate::sql::migrate_source::{CHUNKS, CHUNK_SIZES, EMPTY_SEARCH_PATH, STABLE_TEXT};
use crate::sql::migrate_target::{CHUNKS_RECORDED, STATE_EXISTS, TABLE_RECORDED};
use crate::sql::role::ROLE_EXISTS;
use crate::version::Version;

const OP: &str = "plan migration";

/// What the target of a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetKind {
    /// TimescaleDB (created in the target database) of this version: tables become
    /// hypertables.
    TimescaleDb(Version),
    /// PostgreSQL without the TimescaleDB extension: tables become plain tables.
    PostgreSql,
}

/// How a table will exist on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Creation {
    /// Created as a hypertable on `time_column` with chunks of `chunk_interval`.
    Hypertable {
        /// The time column.
        time_column: String,
        /// The chunk interval, as the source has it (`7 days`, or an integer).
        chunk_interval: String,
    },
    /// Created as a plain table.
    PlainTable,
    /// Created by an earlier run of the migration (recorded on the target); left as it is.
    AlreadyCreated,
}

/// One chunk to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkPlan {
    /// The chunk's schema (`_timescaledb_internal`).
    pub schema: String,
    /// The chunk's table name (the same on the access node and the data nodes).
    pub name: String,
    /// The data nodes holding a replica; it is read from one of them.
    pub data_nodes: Vec<String>,
    /// Start of its time range (UTC for time columns), as text.
    pub range_start: String,
    /// End of its time range (exclusive), as text.
    pub range_end: String,
    /// Its size on a data node that holds it (table, indexes and TOAST), when that node
    /// answered.
    pub bytes: Option<u64>,
    /// Whether an earlier run copied it already (recorded on the target).
    pub copied: bool,
    /// Whether it is compressed on the source (its rows are copied uncompressed).
    pub compressed: bool,
}

/// One hypertable to migrate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TablePlan {
    /// The table, `"schema"."name"` (the same name on the target).
    pub table: String,
    /// How it will exist on the target.
    pub creation: Creation,
    /// Its columns, `"name" type`, in order.
    pub columns: Vec<String>,
    /// Its constraints that are carried over, `"name" definition`.
    pub constraints: Vec<String>,
    /// Its indexes, as `CREATE INDEX` statements.
    pub indexes: Vec<String>,
    /// The grants carried over (to roles that exist on the target).
    pub grants: Vec<String>,
    /// What the source has that the target will not get.
    pub not_carried: Vec<String>,
    /// Why it cannot be migrated (empty when it can).
    pub blockers: Vec<String>,
    /// Its chunks, in time order.
    pub chunks: Vec<ChunkPlan>,
    pub(crate) def: TableDef,
    pub(crate) grants_to_make: Vec<GrantDef>,
}

impl TablePlan {
    /// Chunks still to copy.
    pub fn chunks_to_copy(&self) -> usize {
        self.chunks.iter().filter(|c| !c.copied).count()
    }

    /// The known size of the chunks still to copy, in bytes.
    pub fn bytes_to_copy(&self) -> u64 {
        self.chunks
            .iter()
            .filter(|c| !c.copied)
            .filter_map(|c| c.bytes)
            .sum()
    }
}

/// The plan of a [`super::Migration`]: read from the access node, the data nodes and the
/// target; nothing was written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MigrationPlan {
    /// The target node's name.
    pub target: String,
    /// What the target runs.
    pub target_kind: TargetKind,
    /// The hypertables, in the order they were asked for.
    pub tables: Vec<TablePlan>,
    pub(crate) schemas: Option<Schemas>,
}

impl MigrationPlan {
    /// Every reason the migration cannot run, each naming its table.
    pub fn blockers(&self) -> Vec<String> {
        self.tables
            .iter()
            .flat_map(|t| t.blockers.iter().map(move |b| format!("{}: {b}", t.table)))
            .collect()
    }

    /// Chunks still to copy, over all tables.
    pub fn chunks_to_copy(&self) -> usize {
        self.tables.iter().map(TablePlan::chunks_to_copy).sum()
    }
}

impl fmt::Display for MigrationPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.target_kind {
            TargetKind::TimescaleDb(v) => format!("TimescaleDB {v}"),
            TargetKind::PostgreSql => "PostgreSQL without TimescaleDB".to_owned(),
        };
        writeln!(f, "migration to {} ({kind})", self.target)?;
        for t in &self.tables {
            let how = match &t.creation {
                Creation::Hypertable {
                    time_column,
                    chunk_interval,
                } => format!("create hypertable on {time_column}, chunks of {chunk_interval}"),
                Creation::PlainTable => "create plain table".to_owned(),
                Creation::AlreadyCreated => "created by an earlier run".to_owned(),
            };
            writeln!(
                f,
                "  {}: {how}; {} columns, {} constraints, {} indexes, {} grants; \
                 {} of {} chunks to copy ({} bytes)",
                t.table,
                t.columns.len(),
                t.constraints.len(),
                t.indexes.len(),
                t.grants.len(),
                t.chunks_to_copy(),
                t.chunks.len(),
                t.bytes_to_copy()
            )?;
            for n in &t.not_carried {
                writeln!(f, "    not carried over: {n}")?;
            }
            for b in &t.blockers {
                writeln!(f, "    BLOCKED: {b}")?;
            }
        }
        Ok(())
    }
}

/// Reads the plan: `tables` on `cluster`'s access node, chunk sizes on its data nodes, and
/// what `target` runs and already holds.
pub(crate) async fn read(
    cluster: &Cluster,
    target: &crate::config::NodeConfig,
    tables: &[TableName],
) -> Result<MigrationPlan> {
    let an_config = cluster.access_node_config();
    let an_name = an_config.node_name();
    let target_name = target.node_name();
    if tables.is_empty() {
        return Err(Error::invalid(
            OP,
            Some(&an_name),
            "no hypertable chosen to migrate",
        ));
    }
    target.validate_for(OP)?;

    let an = Session::open(an_config, OP).await?;
    let info = ServerInfo::read(&an).await?;
    if info.role != NodeRole::AccessNode {
        return Err(Error::UnsupportedServer {
            op: OP,
            node: an_name,
            reason: "not an access node: a migration reads distributed hypertables".to_owned(),
        });
    }
    // Resolve the names with the session's usual path, then read with an empty one.
    let mut names = Vec::with_capacity(tables.len());
    for table in tables {
        let relation = table.regclass_text();
        let Some(row) = an.query_opt(OP, &RESOLVE_TABLE, &[&relation]).await? else {
            return Err(Error::invalid(
                OP,
                Some(&an_name),
                format!("table {relation} does not exist"),
            ));
        };
        let schema: String = an.get(OP, &row, "schema")?;
        let name: String = an.get(OP, &row, "name")?;
        let hypertable = an
            .query_opt(OP, &HYPERTABLE, &[&schema.as_str(), &name.as_str()])
            .await?;
        let distributed = match &hypertable {
            Some(row) => an.get::<bool>(OP, row, "is_distributed")?,
            None => false,
        };
        if !distributed {
            return Err(Error::invalid(
                OP,
                Some(&an_name),
                format!("{relation} is not a distributed hypertable"),
            ));
        }
        let name = TableName::qualified(
            Ident::for_op(schema, "schema", OP, Some(&an_name))?,
            Ident::for_op(name, "table", OP, Some(&an_name))?,
        );
        if names.contains(&name) {
            return Err(Error::invalid(
                OP,
                Some(&an_name),
                format!("{} is chosen twice", name.regclass_text()),
            ));
        }
        names.push(name);
    }
    an.execute_utility(OP, &STABLE_TEXT).await?;
    an.query(OP, &EMPTY_SEARCH_PATH, &[]).await?;

    let target_session = Session::open(target, OP).await?;
    let target_info = ServerInfo::read(&target_session).await?;
    if target_info.role != NodeRole::Standalone {
        return Err(Error::invalid(
            OP,
            Some(&target_name),
            "the target is a node of a multi-node cluster; migrate to a single node",
        ));
    }
    let (target_kind, schemas) = match target_info.timescaledb {
        Some(version) => (
            TargetKind::TimescaleDb(version),
            Some(target_info.schemas(OP)?),
        ),
        None => (TargetKind::PostgreSql, None),
    };
    let state = target_session
        .query_one(OP, &STATE_EXISTS, &[])
        .await
        .and_then(|row| target_session.get::<bool>(OP, &row, "exists"))?;

    let mut plans = Vec::with_capacity(names.len());
    for name in names {
        let def = TableDef::read(&an, name).await?;
        let (schema, table) = def.key();
        let mut blockers = def.blockers.clone();
        let mut not_carried = def.not_carried.clone();

        let recorded = state
            && target_session
                .query_opt(OP, &TABLE_RECORDED, &[&schema, &table])
                .await?
                .is_some();
        let creation = if recorded {
            Creation::AlreadyCreated
        } else {
            let exists = target_session
                .query_opt(OP, &RESOLVE_TABLE, &[&def.display()])
                .await?
                .is_some();
            if exists {
                blockers.push(format!(
                    "the target already has a table {} that no migration created; drop or \
                     rename it first",
                    def.display()
                ));
            }
            if schemas.is_some() {
                Creation::Hypertable {
                    time_column: def.time.column.as_str().to_owned(),
                    chunk_interval: def.time.interval.display(),
                }
            } else {
                Creation::PlainTable
            }
        };

        let mut grants = Vec::new();
        let mut grants_to_make = Vec::new();
        for g in &def.grants {
            let to = g
                .grantee
                .as_ref()
                .map_or_else(|| "PUBLIC".to_owned(), crate::sql::quote::ident);
            let text = format!("{} to {to}", g.privilege.keyword());
            let exists = match &g.grantee {
                None => true,
                Some(role) => target_session
                    .query_one(OP, &ROLE_EXISTS, &[&role.as_str()])
                    .await
                    .and_then(|row| target_session.get::<bool>(OP, &row, "exists"))?,
            };
            if exists {
                grants.push(text);
                grants_to_make.push(g.clone());
            } else {
                not_carried.push(format!(
                    "grant of {text}: the role does not exist on the target"
                ));
            }
        }

        let done: HashMap<String, ()> = if state {
            target_session
                .query(OP, &CHUNKS_RECORDED, &[&schema, &table])
                .await?
                .iter()
                .map(|row| target_session.get::<String>(OP, row, "chunk_name"))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .map(|n| (n, ()))
                .collect()
        } else {
            HashMap::new()
        };
        let integer = matches!(def.time.interval, super::schema::ChunkSpan::Integer(_));
        let mut chunks = Vec::new();
        let mut compressed_any = false;
        for row in an.query(OP, &CHUNKS, &[&schema, &table]).await? {
            let chunk_schema: String = an.get(OP, &row, "chunk_schema")?;
            let name: String = an.get(OP, &row, "chunk_name")?;
            let (range_start, range_end) = if integer {
                (
                    an.get::<Option<i64>>(OP, &row, "range_start_integer")?
                        .unwrap_or(i64::MIN)
                        .to_string(),
                    an.get::<Option<i64>>(OP, &row, "range_end_integer")?
                        .unwrap_or(i64::MAX)
                        .to_string(),
                )
            } else {
                (
                    an.get::<Option<String>>(OP, &row, "range_start")?
                        .unwrap_or_else(|| "-infinity".to_owned()),
                    an.get::<Option<String>>(OP, &row, "range_end")?
                        .unwrap_or_else(|| "infinity".to_owned()),
                )
            };
            let data_nodes: Vec<String> = an.get(OP, &row, "data_nodes")?;
            if !data_nodes
                .iter()
                .any(|n| cluster.find(OP, n.as_str()).is_ok())
            {
                blockers.push(format!(
                    "chunk {name} is on {data_nodes:?}, and the cluster has settings for none \
                     of them"
                ));
            }
            let compressed: Option<bool> = an.get(OP, &row, "is_compressed")?;
            compressed_any |= compressed == Some(true);
            chunks.push(ChunkPlan {
                copied: done.contains_key(&name),
                schema: chunk_schema,
                name,
                data_nodes,
                range_start,
                range_end,
                bytes: None,
                compressed: compressed == Some(true),
            });
        }
        if compressed_any {
            not_carried.push(
                "compression: compressed chunks are copied uncompressed; set compression \
                 up on the target"
                    .to_owned(),
            );
        }
        chunk_sizes(cluster, &mut chunks).await;

        plans.push(TablePlan {
            table: def.display(),
            creation,
            columns: def
                .columns
                .iter()
                .map(|c| format!("{} {}", crate::sql::quote::ident(&c.name), c.type_text))
                .collect(),
            constraints: def
                .constraints
                .iter()
                .map(|(n, d)| format!("{} {d}", crate::sql::quote::ident(n)))
                .collect(),
            indexes: def.indexes.clone(),
            grants,
            not_carried,
            blockers,
            chunks,
            def,
            grants_to_make,
        });
    }
    Ok(MigrationPlan {
        target: target_name,
        target_kind,
        tables: plans,
        schemas,
    })
}

/// Fills in each chunk's size from the first of its data nodes that answers (best effort:
/// a node that is down leaves its chunks' sizes unknown).
async fn chunk_sizes(cluster: &Cluster, chunks: &mut [ChunkPlan]) {
    let mut by_node: HashMap<(String, String), Vec<String>> = HashMap::new();
    for chunk in chunks.iter() {
        if let Some(node) = chunk.data_nodes.first() {
            by_node
                .entry((node.clone(), chunk.schema.clone()))
                .or_default()
                .push(chunk.name.clone());
        }
    }
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for ((node, schema), names) in by_node {
        let Ok(config) = cluster.find(OP, &node) else {
            continue;
        };
        let read = async {
            let session = Session::open(config, OP).await?;
            session
                .query(OP, &CHUNK_SIZES, &[&schema, &names])
                .await
                .and_then(|rows| {
                    rows.iter()
                        .map(|row| {
                            Ok((
                                session.get::<String>(OP, row, "chunk_name")?,
                                session.get::<i64>(OP, row, "bytes")?,
                            ))
                        })
                        .collect::<Result<Vec<_>>>()
                })
        };
        match read.await {
            Ok(rows) => {
                for (name, bytes) in rows {
                    sizes.insert(name, u64::try_from(bytes).unwrap_or_default());
                }
            }
            Err(e) => tracing::debug!(node = %node, error = %e, "chunk sizes unknown"),
        }
    }
    for chunk in chunks {
        chunk.bytes = sizes.get(&chunk.name).copied();
    }
}
