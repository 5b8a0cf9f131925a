//! Bulk ingest through the access node with binary COPY: the fastest way to load rows into
//! a distributed hypertable.

use std::pin::Pin;

use tokio::time::Instant;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use std::sync::Arc;

use super::access_node::AccessNode;
use super::health::Round;
use crate::connect::SessionOn;
use crate::error::{Error, Result};
use crate::executor::{Executor, Lease, Purpose};
use crate::ident::Ident;
use crate::server::ServerInfo;
use crate::sql::copy::{copy_in_binary, INGEST_TARGET, TABLE_COLUMNS};
use crate::sql::hypertable::TableName;
use crate::sql::status::HYPERTABLE_DATA_NODES;

use super::write_guard::refuse_unless_up;
use crate::table_name::IntoTableName;

pub(super) const OP: &str = "ingest";

/// A callback told how many rows were written so far.
type Progress = Box<dyn FnMut(u64) + Send>;

/// A binary COPY into one table through the access node, row by row, streaming: memory
/// stays bounded whatever the number of rows. Nothing is visible until
/// [`Ingest::finish`]; dropping an `Ingest` (or an error) aborts the COPY and writes
/// nothing.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{Ident, TableName};
///
/// let table = TableName::new(Ident::new("sensor_data")?);
/// let mut ingest = an
///     .ingest(&table, &["sensor_id", "temperature"])
///     .await?
///     .on_progress(10_000, |rows| println!("{rows} rows sent"));
/// for id in 0..100_000i32 {
///     ingest.write(&[&id, &20.5f64]).await?;
/// }
/// let rows = ingest.finish().await?;
/// # Ok(()) }
/// ```
pub struct Ingest<'a> {
    // Field order matters: the writer (holding the COPY sink) drops before the connection.
    writer: Pin<Box<BinaryCopyInWriter>>,
    lease: Lease<'a>,
    /// When the whole COPY must be over (the pool's statement timeout plus a grace period).
    deadline: Option<Instant>,
    table: String,
    columns: Vec<String>,
    rows: u64,
    every: u64,
    progress: Option<Progress>,
}

impl<'a> Ingest<'a> {
    /// An ingest whose COPY `writer` just started on `lease`'s session.
    fn started(
        writer: BinaryCopyInWriter,
        lease: Lease<'a>,
        deadline: Option<Instant>,
        table: &TableName,
        columns: &[&str],
    ) -> Self {
        tracing::debug!(
            node = %lease.session().node(),
            table = %table.regclass_text(),
            "ingest started"
        );
        Ingest {
            writer: Box::pin(writer),
            lease,
            deadline,
            table: table.regclass_text(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: 0,
            every: 0,
            progress: None,
        }
    }
}

impl std::fmt::Debug for Ingest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("node", &self.lease.session().node())
            .field("table", &self.table)
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .finish()
    }
}

impl AccessNode {
    /// Starts a binary COPY into `columns` of `table` on a pooled connection.
    ///
    /// For a distributed hypertable, every data node it is attached to is pinged first, and
    /// the write is refused with [`Error::DataNodeDown`] if one does not answer: TimescaleDB
    /// 2.13 crashes the access node (all its sessions) when a distributed write reaches a
    /// chunk with a replica on a down node. Concurrent ingests share that check
    /// ([`AccessNode::node_check_max_age`]); [`AccessNode::ingest_unchecked`] skips it.
    ///
    /// The whole ingest is one COPY statement, so it runs under the pool's statement timeout
    /// ([`crate::pool::PoolConfig::statement_timeout`]): split longer loads into batches. To have
    /// a batch run again after a failure that wrote nothing, use
    /// [`AccessNode::ingest_with_retry`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before the COPY starts for an invalid or missing table or a
    /// column the table does not have (the error lists the ones it has), or a column type
    /// the binary format cannot be written for; [`Error::DataNodeDown`] as above.
    pub async fn ingest(&self, table: impl IntoTableName, columns: &[&str]) -> Result<Ingest<'_>> {
        let table = table.into_table_name(OP, Some(&self.name()))?;
        self.start_ingest(&table, columns, true).await
    }

    /// [`AccessNode::ingest`] without the check that the hypertable's data nodes answer.
    /// Use it only when you know they do, or when the table is not distributed.
    pub async fn ingest_unchecked(
        &self,
        table: impl IntoTableName,
        columns: &[&str],
    ) -> Result<Ingest<'_>> {
        let table = table.into_table_name(OP, Some(&self.name()))?;
        self.start_ingest(&table, columns, false).await
    }

    async fn start_ingest(
        &self,
        table: &TableName,
        columns: &[&str],
        check_nodes: bool,
    ) -> Result<Ingest<'_>> {
        let node = self.name();
        let idents = column_idents(columns, &node)?;
        // The data-node check, when it can be made before a pooled connection is taken.
        let asked = Instant::now();
        let round = match check_nodes {
            true => {
                self.round_before_write(OP, &table.regclass_text(), asked)
                    .await
            }
            false => None,
        };
        let lease = Lease::pooled(self.pool().get(OP).await?, self);
        let deadline = lease.deadline();
        let check = check_nodes.then_some((round, asked));
        let writer = lease
            .until(
                OP,
                deadline,
                begin_copy(&lease, Some(self), table, &idents, check),
            )
            .await
            .inspect_err(|_| self.note_link(lease.session()))?;
        Ok(Ingest::started(writer, lease, deadline, table, columns))
    }
}

/// [`crate::Executor::ingest`]: a COPY on any executor's session, its data nodes checked on
/// that session.
pub(crate) async fn ingest_on<'a, E: Executor + ?Sized>(
    on: &'a E,
    table: impl IntoTableName,
    columns: &[&str],
) -> Result<Ingest<'a>> {
    let node = on.node_name();
    let table = table.into_table_name(OP, Some(&node))?;
    let idents = column_idents(columns, &node)?;
    let lease = on.lease(OP, Purpose::Pooled).await?;
    let an = lease.access_node();
    let deadline = lease.deadline();
    let check = Some((None, Instant::now()));
    let writer = lease
        .until(OP, deadline, begin_copy(&lease, an, &table, &idents, check))
        .await
        .inspect_err(|_| {
            if let Some(an) = an {
                an.note_link(lease.session());
            }
        })?;
    Ok(Ingest::started(writer, lease, deadline, &table, columns))
}

/// The columns of an ingest, validated (at least one, each a valid identifier).
fn column_idents(columns: &[&str], node: &str) -> Result<Vec<Ident>> {
    if columns.is_empty() {
        return Err(Error::invalid(OP, Some(node), "no columns given"));
    }
    columns
        .iter()
        .map(|c| Ident::for_op(*c, "column", OP, Some(node)))
        .collect()
}

/// Checks the table, its columns and (with `check`) its data nodes, and starts the COPY on
/// `lease`'s session; `an` is the [`AccessNode`] it came from, if it did (whose checks the
/// ingest shares).
async fn begin_copy(
    lease: &Lease<'_>,
    an: Option<&AccessNode>,
    table: &TableName,
    idents: &[Ident],
    check: Option<(Option<Arc<Round>>, Instant)>,
) -> Result<BinaryCopyInWriter> {
    let session = lease.session();
    let node = session.node().to_owned();
    let relation = table.regclass_text();
    // On a server known to run multi-node, the columns and the data nodes in one go.
    let with_nodes = check.is_some() && an.is_some_and(AccessNode::runs_multinode);
    let sql = if with_nodes {
        &INGEST_TARGET
    } else {
        &TABLE_COLUMNS
    };
    let rows = session.query(OP, sql, &[&relation]).await?;
    if rows.is_empty() {
        return Err(Error::invalid(
            OP,
            Some(&node),
            format!("table {relation} does not exist"),
        ));
    }
    let mut known = Vec::with_capacity(rows.len());
    for row in &rows {
        let name: String = session.get(OP, row, "name")?;
        let oid: u32 = session.get(OP, row, "type_oid")?;
        known.push((name, oid));
    }
    let mut types = Vec::with_capacity(idents.len());
    for column in idents {
        let Some((_, oid)) = known.iter().find(|(name, _)| name == column.as_str()) else {
            let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::invalid(
                OP,
                Some(&node),
                format!("table {relation} has no column {column:?}; it has {names:?}"),
            ));
        };
        let ty = Type::from_oid(*oid).ok_or_else(|| {
            Error::invalid(
                OP,
                Some(&node),
                format!("column {column:?} has a type (oid {oid}) binary COPY cannot write here"),
            )
        })?;
        types.push(ty);
    }
    if let Some((round, asked)) = check {
        let nodes = match with_nodes {
            true => Some(session.get(OP, &rows[0], "data_nodes")?),
            false => None,
        };
        match an {
            Some(an) => {
                an.check_nodes_up(session, OP, &relation, nodes, round, asked)
                    .await?
            }
            None => check_nodes_up_on(session, OP, &relation).await?,
        }
    }
    let sink = session
        .client()
        .copy_in(copy_in_binary(table, idents).text())
        .await
        .map_err(|e| session.multinode_err(OP, e))?;
    Ok(BinaryCopyInWriter::new(sink, &types))
}

/// On a session that is not an [`AccessNode`]'s: refuses with [`Error::DataNodeDown`] when
/// a data node of the distributed hypertable `relation` (quoted name) does not answer; a
/// table that is not one, or a server without multi-node, passes.
async fn check_nodes_up_on(
    session: &SessionOn<'_>,
    op: &'static str,
    relation: &str,
) -> Result<()> {
    let info = ServerInfo::read(session).await?;
    let schemas = match (info.capabilities(), info.schemas(op)) {
        (Some(_), Ok(schemas)) if info.check_multinode().is_ok() => schemas,
        _ => return Ok(()),
    };
    let nodes: Vec<String> = match session
        .query_opt(op, &HYPERTABLE_DATA_NODES, &[&relation])
        .await?
    {
        Some(row) => session.get(op, &row, "data_nodes")?,
        None => Vec::new(),
    };
    if nodes.is_empty() {
        return Ok(());
    }
    refuse_unless_up(session, op, &schemas, &nodes).await
}

impl Ingest<'_> {
    /// Calls `f` with the number of rows written after every `every` rows (and at the end).
    #[must_use]
    pub fn on_progress(mut self, every: u64, f: impl FnMut(u64) + Send + 'static) -> Self {
        self.every = every.max(1);
        self.progress = Some(Box::new(f));
        self
    }

    /// Writes one row: one value per column, in the order the columns were given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a row of the wrong length or a value whose Rust type does
    /// not match its column (the COPY is then aborted: nothing is written).
    pub async fn write(&mut self, row: &[&(dyn ToSql + Sync)]) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(Error::invalid(
                OP,
                Some(self.lease.session().node()),
                format!(
                    "row {} has {} values for {} columns",
                    self.rows + 1,
                    row.len(),
                    self.columns.len()
                ),
            ));
        }
        let written = self
            .lease
            .until(OP, self.deadline, async {
                self.writer.as_mut().write(row).await.map_err(|e| {
                    let session = self.lease.session();
                    if e.as_db_error().is_none() && !e.is_closed() {
                        return Error::invalid(
                            OP,
                            Some(session.node()),
                            format!("row {}: {e}", self.rows + 1),
                        );
                    }
                    session.multinode_err(OP, e)
                })
            })
            .await;
        if let Err(e) = written {
            self.note_link();
            return Err(e);
        }
        self.rows += 1;
        if self.every > 0 && self.rows.is_multiple_of(self.every) {
            self.report();
        }
        Ok(())
    }

    /// After an error: when it broke the access node's link to a data node, the
    /// [`AccessNode`]'s data-node checks forget what they saw.
    fn note_link(&self) {
        if let Some(an) = self.lease.access_node() {
            an.note_link(self.lease.session());
        }
    }

    /// The rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn report(&mut self) {
        tracing::debug!(table = %self.table, rows = self.rows, "ingest progress");
        if let Some(progress) = self.progress.as_mut() {
            progress(self.rows);
        }
    }

    /// Ends the COPY; the rows become visible. Returns the number of rows the server took.
    ///
    /// # Errors
    ///
    /// An error the server reported ([`Error::code`] is set) means the COPY was rolled back:
    /// nothing was written. Without one (the connection was lost, or
    /// [`Error::Deadline`] passed while the server was committing), whether the rows were
    /// written is unknown; count them before writing them again.
    pub async fn finish(mut self) -> Result<u64> {
        let node = self.lease.session().node().to_owned();
        let finished = self
            .lease
            .until(OP, self.deadline, async {
                self.writer
                    .as_mut()
                    .finish()
                    .await
                    .map_err(|e| self.lease.session().multinode_err(OP, e))
            })
            .await;
        let rows = finished.inspect_err(|_| self.note_link())?;
        self.report();
        tracing::debug!(node = %node, table = %self.table, rows, "ingest finished");
        Ok(rows)
    }
}
