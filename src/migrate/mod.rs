//! Leaving multi-node: chosen distributed hypertables moved to a single node (TimescaleDB
//! 2.13 or 2.14 and later, or plain PostgreSQL), chunk by chunk from the data nodes,
//! resumable and verified.
//!
//! A [`Migration`] ([`Cluster::migration`](crate::Cluster::migration)) first gives a
//! [`MigrationPlan`] (a [`TablePlan`] per hypertable, a [`ChunkPlan`] per chunk, what is
//! created on the target as a [`Creation`] of a [`TargetKind`]), then runs and reports a
//! [`MigrationReport`] (a [`TableReport`] per hypertable, a [`ChunkReport`] per chunk, the
//! [`RangeCheck`]s of its verification), telling the caller how it goes through
//! [`MigrationEvent`]s. Chunks are copied [`DEFAULT_MIGRATION_CONCURRENCY`] at a time unless
//! told otherwise.

// | file | what it does |
// |---|---|
// | `plan` | `MigrationPlan`: what will be created, what cannot be carried over, chunks and sizes |
// | `schema` | a hypertable's definition from the access node's catalog; its creation on the target |
// | `copy` | the copy phase: binary COPY streams from the data nodes, one transaction per chunk |
// | `verify` | row counts and checksums per time range, source against target |
// | `progress` | `MigrationEvent`s for the caller |
// | `report` | `MigrationReport` |

mod copy;
mod plan;
mod progress;
mod report;
mod schema;
mod verify;

pub use plan::{ChunkPlan, Creation, MigrationPlan, TablePlan, TargetKind};
pub use progress::MigrationEvent;
pub use report::{ChunkReport, MigrationReport, RangeCheck, TableReport};

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use self::copy::{ChunkJob, RangeJob, TableJob};
use self::progress::{Listener, Progress};
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::sql::hypertable::TableName;
use crate::sql::migrate_source::STABLE_TEXT;
use crate::sql::migrate_target::{newest, CHUNKS_RECORDED, CREATE_STATE};
use crate::table_name::IntoTableName;

/// Default number of chunks copied (and ranges verified) at once.
pub const DEFAULT_MIGRATION_CONCURRENCY: usize = 2;

/// A migration of chosen distributed hypertables from a [`Cluster`] to one target node.
///
/// [`Migration::plan`] reads what it would do and writes nothing; [`Migration::run`] does
/// it:
///
/// 1. **Schema.** Each table is created on the target under the same name, with its
///    columns, types, defaults, NOT NULL, check, unique, primary-key and exclusion
///    constraints, indexes and grants (to roles that exist there), read from the access
///    node's catalog: as a hypertable on the same time column with the same chunk interval
///    when the target has the TimescaleDB extension, as a plain table otherwise. What
///    cannot be carried over is listed in the plan ([`TablePlan::not_carried`]); what
///    forbids the migration ([`TablePlan::blockers`]) stops it before anything is written.
/// 2. **Data.** Chunk by chunk, straight from a data node that holds it (replicated chunks
///    are read once; a replica that fails is left for the next), several chunks at once
///    ([`Migration::concurrency`]), as a binary COPY byte stream forwarded to the target as
///    it arrives: memory stays bounded whatever the chunk size.
/// 3. **Resumable.** Each chunk is one transaction on the target that also records it in
///    the schema `_tsmn_migration` (indexes other than constraints' are built once all
///    chunks are in, also recorded); after any failure (target restarted, a data node down,
///    the task dropped), run it again: recorded chunks are skipped, a chunk that was half
///    written was rolled back and is copied again. No row is duplicated or skipped.
/// 4. **Verified.** Every time range of every table, copied by this run or an earlier one:
///    row count and an order-independent checksum of the rows on the data nodes against
///    the target's rows in that range. A difference is [`Error::VerificationFailed`],
///    naming the chunks.
/// 5. **Cut-over.** [`Migration::catch_up`] copies again the ranges whose rows changed on
///    the source since they were copied; [`TableReport::newest`] says how current the
///    target is.
///
/// Progress goes to the callback of [`Migration::on_event`] and to `tracing` (span
/// `migrate`, one `migrate chunk` span per chunk).
///
/// ```no_run
/// # async fn demo(cluster: timescaledb_multinode::Cluster, target: timescaledb_multinode::NodeConfig)
/// # -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::migrate::MigrationEvent;
/// use timescaledb_multinode::{Ident, TableName};
///
/// let migration = cluster
///     .migration(target)
///     .hypertable(TableName::new(Ident::new("sensor_data")?))
///     .concurrency(4)
///     .on_event(|event| {
///         if let MigrationEvent::ChunkCopied { chunks_done, chunks_total, .. } = event {
///             println!("{chunks_done}/{chunks_total} chunks");
///         }
///     });
/// let plan = migration.plan().await?;
/// println!("{plan}");
/// let report = migration.run().await?; // after a failure, run it again
/// println!("{} rows verified", report.rows());
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "does nothing until .plan() or .run() is awaited"]
pub struct Migration {
    cluster: Cluster,
    target: NodeConfig,
    /// The tables, each or why the text given for it is not a table name.
    tables: Vec<std::result::Result<TableName, String>>,
    concurrency: usize,
    listener: Option<Listener>,
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration")
            .field(
                "access_node",
                &self.cluster.access_node_config().node_name(),
            )
            .field("target", &self.target.node_name())
            .field("tables", &self.tables)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl Cluster {
    /// A migration of this cluster's distributed hypertables to `target` (see
    /// [`Migration`]). The data nodes are read with the settings this cluster has for them.
    pub fn migration(&self, target: NodeConfig) -> Migration {
        Migration::new(self, target)
    }
}

impl Migration {
    /// A migration from `cluster` to `target`, with no table chosen yet.
    pub fn new(cluster: &Cluster, target: NodeConfig) -> Self {
        Migration {
            cluster: cluster.clone(),
            target,
            tables: Vec::new(),
            concurrency: DEFAULT_MIGRATION_CONCURRENCY,
            listener: None,
        }
    }

    /// Adds a distributed hypertable to migrate (unqualified names resolve as the access
    /// node's search path says). It keeps its schema and name on the target.
    pub fn hypertable(mut self, table: impl IntoTableName) -> Self {
        self.tables.push(table.read_table_name());
        self
    }

    /// How many chunks are copied (and time ranges verified) at once: each takes one
    /// connection to the target and one to a data node. Default:
    /// [`DEFAULT_MIGRATION_CONCURRENCY`]; 0 counts as 1.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Calls `f` with every [`MigrationEvent`] of a run, on the migrating task: the run
    /// waits while it runs, so keep it short (send the event to a channel). A callback that
    /// must wait (to pause the migration) should do so inside
    /// `tokio::task::block_in_place`, so the connections' tasks keep running.
    pub fn on_event(mut self, f: impl Fn(&MigrationEvent) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(f));
        self
    }

    /// What a run would do now, read from the access node, the data nodes and the target;
    /// nothing is written.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when no table is chosen, a table does not exist or is not a
    /// distributed hypertable, or the target is a node of a multi-node cluster;
    /// [`Error::UnsupportedServer`] when the cluster's access node is not one; connection
    /// and server errors naming their node.
    pub async fn plan(&self) -> Result<MigrationPlan> {
        let tables = self
            .tables
            .iter()
            .map(|t| {
                t.clone().map_err(|reason| {
                    Error::invalid(
                        "plan migration",
                        Some(&self.cluster.access_node_config().node_name()),
                        format!("table name: {reason}"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        plan::read(&self.cluster, &self.target, &tables)
            .instrument(tracing::info_span!("migration plan", target = %self.target.node_name()))
            .await
    }

    /// Runs the migration: plans it, creates the tables the target lacks, copies every chunk
    /// not yet copied, and verifies every time range.
    ///
    /// # Errors
    ///
    /// Those of [`Migration::plan`]; [`Error::InvalidInput`] listing the plan's blockers
    /// (before anything is written); [`Error::VerificationFailed`] naming the chunks whose
    /// rows differ; connection and server errors naming their node (run it again once the
    /// node is back: the work done so far is kept).
    pub async fn run(&self) -> Result<MigrationReport> {
        let span = tracing::info_span!("migrate", target = %self.target.node_name());
        self.run_inner(false).instrument(span).await
    }

    /// The final short pass before the cut-over: [`Migration::run`], except that a time
    /// range whose rows changed on the source since it was copied (rows written after the
    /// copy started) is copied again instead of failing the verification. Chunks that
    /// appeared since are copied like any chunk not yet copied. Each changed range is
    /// replaced on the target in one transaction (its rows deleted, its chunks copied again
    /// and recorded), then verified again; a failure rolls that range back, and running it
    /// again continues. [`TableReport::newest`] says how current each table is.
    ///
    /// Rows written to the source while it runs may be left for the next pass; stop the
    /// writers for the last one.
    ///
    /// # Errors
    ///
    /// Those of [`Migration::run`]; [`Error::VerificationFailed`] when a range still
    /// differs after it was copied again (it was written to meanwhile: run it again).
    pub async fn catch_up(&self) -> Result<MigrationReport> {
        let span = tracing::info_span!("migrate catch-up", target = %self.target.node_name());
        self.run_inner(true).instrument(span).await
    }

    async fn run_inner(&self, catch_up: bool) -> Result<MigrationReport> {
        const OP: &str = "migrate";
        let plan = self.plan().await?;
        let blockers = plan.blockers();
        if !blockers.is_empty() {
            return Err(Error::invalid(
                OP,
                Some(&plan.target),
                format!("cannot migrate: {}", blockers.join("; ")),
            ));
        }
        let source = self.cluster.access_node_config().node_name();
        let target = Session::open(&self.target, OP).await?;
        target.execute_utility(OP, &CREATE_STATE).await?;

        let mut reports = Vec::with_capacity(plan.tables.len());
        let mut table_jobs = Vec::with_capacity(plan.tables.len());
        let mut jobs = Vec::new();
        let mut jobs_total = 0;
        for table in &plan.tables {
            let created = table.creation != Creation::AlreadyCreated;
            if created {
                table
                    .def
                    .create(
                        &target,
                        plan.schemas.as_ref(),
                        &table.grants_to_make,
                        &source,
                    )
                    .await?;
            }
            let (schema, name) = table.def.key();
            let job = Arc::new(TableJob {
                display: table.table.clone(),
                table: table.def.name.clone(),
                key: (schema.clone(), name.clone()),
                columns: table.def.copied.clone(),
            });
            table_jobs.push(job.clone());
            // What earlier runs copied (also for a table the plan saw as new: the state is
            // the truth once the table exists).
            let mut chunks = Vec::new();
            for row in target
                .query(OP, &CHUNKS_RECORDED, &[&schema, &name])
                .await?
            {
                let chunk: String = target.get(OP, &row, "chunk_name")?;
                let node: String = target.get(OP, &row, "source_node")?;
                let rows: i64 = target.get(OP, &row, "rows")?;
                let bytes: i64 = target.get(OP, &row, "bytes")?;
                chunks.push(ChunkReport {
                    chunk,
                    source_node: node,
                    rows: u64::try_from(rows).unwrap_or_default(),
                    bytes: u64::try_from(bytes).unwrap_or_default(),
                    resumed: true,
                });
            }
            for (i, chunk) in table.chunks.iter().enumerate() {
                if chunks.iter().any(|c| c.chunk == chunk.name) {
                    continue;
                }
                // Spread replicated chunks over their nodes.
                let mut nodes = chunk.data_nodes.clone();
                if !nodes.is_empty() {
                    let by = (i + jobs_total) % nodes.len();
                    nodes.rotate_left(by);
                }
                jobs.push(ChunkJob {
                    table: job.clone(),
                    chunk: TableName::qualified(
                        Ident::for_op(chunk.schema.as_str(), "chunk schema", OP, None)?,
                        Ident::for_op(chunk.name.as_str(), "chunk", OP, None)?,
                    ),
                    nodes,
                });
            }
            jobs_total = jobs.len();
            reports.push(TableReport {
                table: table.table.clone(),
                created,
                chunks,
                ranges: Vec::new(),
                rows: 0,
                newest: None,
            });
        }
        drop(target);

        let progress = Progress::new(self.listener.clone(), jobs.len());
        for table in &plan.tables {
            if table.creation != Creation::AlreadyCreated {
                progress.emit(MigrationEvent::TableCreated {
                    table: table.table.clone(),
                });
            }
        }
        for report in &reports {
            for chunk in &report.chunks {
                progress.emit(MigrationEvent::ChunkSkipped {
                    table: report.table.clone(),
                    chunk: chunk.chunk.clone(),
                });
            }
        }

        let copy_started = Instant::now();
        let copied = copy::copy_all(
            &self.cluster,
            &self.target,
            jobs,
            self.concurrency,
            &progress,
        )
        .await?;
        for (job, chunk) in copied {
            if let Some(report) = reports.iter_mut().find(|r| r.table == job.display) {
                report.chunks.push(chunk);
            }
        }

        // The indexes, now that the rows are in (before the verification, whose range
        // scans they serve).
        let target = Session::open(&self.target, OP).await?;
        for table in &plan.tables {
            table.def.create_indexes(&target).await?;
        }
        drop(target);
        let copy_time = copy_started.elapsed();

        let verify_started = Instant::now();
        let tables: Vec<&TablePlan> = plan.tables.iter().collect();
        let (mut checks, stale) = verify::verify_all(
            &self.cluster,
            &self.target,
            &tables,
            self.concurrency,
            &progress,
            None,
            catch_up,
        )
        .await?;
        if !stale.is_empty() {
            let replaced = self
                .replace_stale(&plan, &table_jobs, &stale, &mut reports)
                .await?;
            let only: Vec<(String, String)> = stale
                .iter()
                .map(|r| (r.table.clone(), r.start.clone()))
                .collect();
            let (again, _) = verify::verify_all(
                &self.cluster,
                &self.target,
                &tables,
                self.concurrency,
                &replaced,
                Some(&only),
                false,
            )
            .await?;
            checks.extend(again);
        }
        let verify_time = verify_started.elapsed();
        for (table, check) in checks {
            if let Some(report) = reports.iter_mut().find(|r| r.table == table) {
                report.rows += check.rows;
                report.ranges.push(check);
            }
        }
        for (report, table) in reports.iter_mut().zip(&plan.tables) {
            let order = |name: &str| table.chunks.iter().position(|c| c.name == name);
            report.chunks.sort_by_key(|c| order(&c.chunk));
            report
                .ranges
                .sort_by_key(|r| r.chunks.first().and_then(|c| order(c)));
        }
        let target = Session::open(&self.target, OP).await?;
        target.execute_utility(OP, &STABLE_TEXT).await?;
        for (report, table) in reports.iter_mut().zip(&plan.tables) {
            let sql = newest(&table.def.name, &table.def.time.column);
            if let Some(row) = target.query_opt(OP, &sql, &[]).await? {
                report.newest = target.get(OP, &row, "newest")?;
            }
        }
        drop(target);
        tracing::info!(
            tables = reports.len(),
            copy_ms = copy_time.as_millis() as u64,
            verify_ms = verify_time.as_millis() as u64,
            "migration done"
        );
        Ok(MigrationReport {
            target: plan.target,
            tables: reports,
            copy_time,
            verify_time,
        })
    }

    /// Copies the `stale` ranges again, each in one target transaction, and puts their new
    /// chunk reports in `reports`; returns the progress of that pass.
    async fn replace_stale(
        &self,
        plan: &MigrationPlan,
        table_jobs: &[Arc<TableJob>],
        stale: &[verify::Stale],
        reports: &mut [TableReport],
    ) -> Result<Progress> {
        const OP: &str = "catch up migration";
        let total = stale.iter().map(|r| r.chunks.len()).sum();
        let progress = Progress::new(self.listener.clone(), total);
        for range in stale {
            let (Some(table), Some(job)) = (
                plan.tables.iter().find(|t| t.table == range.table),
                table_jobs.iter().find(|j| j.display == range.table),
            ) else {
                continue;
            };
            let mut chunks = Vec::with_capacity(range.chunks.len());
            for (schema, name, nodes) in &range.chunks {
                chunks.push(ChunkJob {
                    table: job.clone(),
                    chunk: TableName::qualified(
                        Ident::for_op(schema.as_str(), "chunk schema", OP, None)?,
                        Ident::for_op(name.as_str(), "chunk", OP, None)?,
                    ),
                    nodes: nodes.clone(),
                });
            }
            let range_job = RangeJob {
                table: job.clone(),
                time_column: table.def.time.column.clone(),
                bounds: table.def.time.interval.kind(),
                start: range.start.clone(),
                end: range.end.clone(),
                chunks,
            };
            tracing::info!(table = %range.table, start = %range.start, end = %range.end,
                           "copying a changed range again");
            let copied =
                copy::replace_range(&self.cluster, &self.target, &range_job, &progress).await?;
            if let Some(report) = reports.iter_mut().find(|r| r.table == range.table) {
                report
                    .chunks
                    .retain(|c| !copied.iter().any(|n| n.chunk == c.chunk));
                report.chunks.extend(copied);
            }
        }
        Ok(progress)
    }
}
