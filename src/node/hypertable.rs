//! Creating distributed hypertables.

use std::time::Duration;

use tokio_postgres::types::ToSql;

use super::access_node::AccessNode;
use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::ident::Ident;
use crate::server::Feature;
use crate::sql::hypertable::{create_distributed, CreateArgs, IntervalKind, TableName};
use crate::sql::plan::{DistributeArgs, ShownInterval};
use crate::table_name::IntoTableName;

use super::quote_guard::{self, CopiedName, CopyTo, Kind};

/// The chunk interval of a distributed hypertable; its kind follows the time column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkInterval {
    /// For `timestamptz`, `timestamp` and `date` columns.
    Time(Duration),
    /// For integer time columns, in the column's units.
    Integer(i64),
}

/// A distributed hypertable to create with `create_distributed_hypertable`.
///
/// The table is named as everywhere in the crate ([`IntoTableName`]): `"sensor_data"` (in
/// the search path's schema), `"metrics.cpu"`, `r#""My Schema"."a.b""#` or a
/// [`TableName`](crate::TableName).
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use std::time::Duration;
/// use timescaledb_multinode::lifecycle::ChunkInterval;
/// use timescaledb_multinode::DistributedHypertable;
///
/// DistributedHypertable::new("sensor_data", "time")
///     .partitioning_column("sensor_id")
///     .chunk_interval(ChunkInterval::Time(Duration::from_secs(7 * 24 * 3600)))
///     .replication_factor(1)
///     .idempotent()
///     .run(an)
///     .await?;
/// DistributedHypertable::new("metrics.cpu", "time").run(an).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DistributedHypertable {
    /// The table, or why the text given is not a table name.
    table: std::result::Result<TableName, String>,
    time_column: String,
    partitioning_column: Option<String>,
    number_partitions: Option<i32>,
    chunk_interval: Option<ChunkInterval>,
    replication_factor: Option<i32>,
    data_nodes: Option<Vec<String>>,
    idempotent: bool,
}

/// What [`DistributedHypertable::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedHypertable {
    /// The hypertable's id.
    pub id: i32,
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// False when it was a hypertable already (with [`DistributedHypertable::idempotent`]).
    pub created: bool,
}

const OP: &str = "create distributed hypertable";

impl DistributedHypertable {
    /// Distribute the existing, empty table `table` on its time column `time_column`.
    ///
    /// `table` is a [`TableName`](crate::TableName) or text read as one: `"sensor_data"`
    /// (in the search path's schema), `"metrics.cpu"`, `r#""My Schema"."a.b""#` (a quoted
    /// part may hold a dot or a doubled quote); unquoted parts are taken as written. Text
    /// that is not a table name is [`Error::InvalidInput`] from
    /// [`DistributedHypertable::run`]. The column names are single identifiers, taken as
    /// written.
    pub fn new(table: impl IntoTableName, time_column: impl Into<String>) -> Self {
        DistributedHypertable {
            table: table.read_table_name(),
            time_column: time_column.into(),
            partitioning_column: None,
            number_partitions: None,
            chunk_interval: None,
            replication_factor: None,
            data_nodes: None,
            idempotent: false,
        }
    }

    /// The space-partitioning column that spreads rows over the data nodes.
    pub fn partitioning_column(mut self, column: impl Into<String>) -> Self {
        self.partitioning_column = Some(column.into());
        self
    }

    /// The number of space partitions. Default: the number of data nodes.
    pub fn number_partitions(mut self, n: i32) -> Self {
        self.number_partitions = Some(n);
        self
    }

    /// The chunk interval. Default: the server's (7 days for time columns).
    pub fn chunk_interval(mut self, interval: ChunkInterval) -> Self {
        self.chunk_interval = Some(interval);
        self
    }

    /// How many data nodes hold each chunk. Default: the server's (1).
    pub fn replication_factor(mut self, n: i32) -> Self {
        self.replication_factor = Some(n);
        self
    }

    /// Use only these data nodes. Default: every data node.
    pub fn data_nodes<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.data_nodes = Some(nodes.into_iter().map(Into::into).collect());
        self
    }

    /// Succeed when the table is a hypertable already (`if_not_exists => true`): nothing is
    /// changed and [`CreatedHypertable::created`] is false. Without it, the server's
    /// refusal (TS110, already a hypertable) is returned.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// The data nodes chosen with [`DistributedHypertable::data_nodes`], if any.
    pub(crate) fn data_node_names(&self) -> Option<&[String]> {
        self.data_nodes.as_deref()
    }

    /// The time column.
    pub(crate) fn time_column(&self) -> &str {
        &self.time_column
    }

    /// The replication factor chosen with [`DistributedHypertable::replication_factor`], if
    /// any.
    pub(crate) fn get_replication_factor(&self) -> Option<i32> {
        self.replication_factor
    }

    /// The partitioning column, if any.
    pub(crate) fn partitioning(&self) -> Option<&str> {
        self.partitioning_column.as_deref()
    }

    /// The number of partitions chosen with [`DistributedHypertable::number_partitions`].
    pub(crate) fn get_number_partitions(&self) -> Option<i32> {
        self.number_partitions
    }

    /// The chunk interval chosen with [`DistributedHypertable::chunk_interval`].
    pub(crate) fn get_chunk_interval(&self) -> Option<ChunkInterval> {
        self.chunk_interval
    }

    /// What the call passes beyond the table and time column, to show in a plan.
    pub(crate) fn shown_args(&self) -> DistributeArgs<'_> {
        DistributeArgs {
            partitioning: self.partitioning(),
            number_partitions: self.number_partitions,
            chunk_interval: self.chunk_interval.map(|i| match i {
                ChunkInterval::Time(d) => ShownInterval::Micros(d.as_micros()),
                ChunkInterval::Integer(n) => ShownInterval::Integer(n),
            }),
            replication_factor: self.replication_factor,
            data_nodes: self.data_node_names(),
        }
    }

    /// The table this builder distributes, or [`Error::InvalidInput`] when the text given
    /// is not a table name.
    pub(crate) fn table_name(&self) -> Result<TableName> {
        self.table
            .clone()
            .map_err(|reason| Error::invalid(OP, None, format!("table name: {reason}")))
    }

    /// Creates the distributed hypertable on `on`: an [`AccessNode`] or any other
    /// [`Executor`] (inside a `Transaction`, it commits or rolls back with it, on the data
    /// nodes too).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for a bad name (text that is not a
    /// table name among them), a replication factor
    /// or number of partitions below 1, a zero interval, or a data node the access node does
    /// not have (the error lists the ones it has); and before anything reaches a data node
    /// when a name TimescaleDB copies there holds a double quote (the table's schema, name,
    /// columns, their types and collations, its access method, constraints and indexes with
    /// their access methods and collations, as the access node's catalog has them: TimescaleDB
    /// writes some of them into the statements for the data nodes unescaped).
    /// [`Error::Database`] for what the server refuses (a table with rows: SQLSTATE 0A000;
    /// already a hypertable, without [`DistributedHypertable::idempotent`]: TS110).
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<CreatedHypertable> {
        let an_name = on.node_name();
        let node = Some(an_name.as_str());
        let table = self.table_name().map_err(|e| with_node(e, &an_name))?;
        let time_column = Ident::for_op(self.time_column.clone(), "time column", OP, node)?;
        let partitioning = self
            .partitioning_column
            .as_ref()
            .map(|c| Ident::for_op(c.clone(), "partitioning column", OP, node))
            .transpose()?;
        if self
            .number_partitions
            .is_some_and(|n| !(1..=32767).contains(&n))
        {
            return Err(Error::invalid(
                OP,
                node,
                "number of partitions must be 1 to 32767",
            ));
        }
        if self.number_partitions.is_some() && partitioning.is_none() {
            return Err(Error::invalid(
                OP,
                node,
                "a number of partitions needs a partitioning column",
            ));
        }
        if self
            .replication_factor
            .is_some_and(|n| !(1..=32767).contains(&n))
        {
            return Err(Error::invalid(
                OP,
                node,
                "replication factor must be 1 to 32767",
            ));
        }
        match self.chunk_interval {
            Some(ChunkInterval::Time(d)) if d.is_zero() => {
                return Err(Error::invalid(OP, node, "chunk interval must be positive"))
            }
            Some(ChunkInterval::Integer(n)) if n <= 0 => {
                return Err(Error::invalid(OP, node, "chunk interval must be positive"))
            }
            _ => {}
        }
        let data_nodes = match &self.data_nodes {
            Some(nodes) if nodes.is_empty() => {
                return Err(Error::invalid(OP, node, "the data node list is empty"))
            }
            Some(nodes) => {
                for n in nodes {
                    Ident::for_op(n.clone(), "data node", OP, node)?;
                }
                Some(nodes.clone())
            }
            None => None,
        };

        // The double-quote guard (see `quote_guard`): first the names given here, before
        // connecting; then every name of the table's definition, from the catalog.
        let mut given = vec![
            CopiedName::given(Kind::Table, table.name().as_str()),
            CopiedName::given(Kind::Column, time_column.as_str()),
        ];
        given.extend(
            table
                .schema()
                .map(|s| CopiedName::given(Kind::Schema, s.as_str())),
        );
        given.extend(
            partitioning
                .as_ref()
                .map(|p| CopiedName::given(Kind::Column, p.as_str())),
        );
        quote_guard::check_given(OP, &an_name, &given, CopyTo::DataNodes)?;
        let lease = on.lease(OP, Purpose::Admin).await?;
        let session = lease.session();
        let schemas = lease.require(OP, Feature::MultiNode).await?;
        quote_guard::check(session, OP, &table, CopyTo::DataNodes).await?;
        if let Some(nodes) = &data_nodes {
            AccessNode::check_data_nodes(session, OP, nodes).await?;
        }
        let relation = table.regclass_text();
        let interval_text = match self.chunk_interval {
            Some(ChunkInterval::Time(d)) => Some(format!("{} microseconds", d.as_micros())),
            _ => None,
        };
        let interval_int = match self.chunk_interval {
            Some(ChunkInterval::Integer(n)) => Some(n),
            _ => None,
        };
        let node_refs: Option<Vec<&str>> = data_nodes
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect());
        let time_name = time_column.as_str();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&relation, &time_name];
        let partitioning_name = partitioning.as_ref().map(Ident::as_str);
        if let Some(col) = &partitioning_name {
            params.push(col);
        }
        if let Some(n) = &self.number_partitions {
            params.push(n);
        }
        if let Some(text) = &interval_text {
            params.push(text);
        }
        if let Some(n) = &interval_int {
            params.push(n);
        }
        if let Some(n) = &self.replication_factor {
            params.push(n);
        }
        if let Some(nodes) = &node_refs {
            params.push(nodes);
        }
        params.push(&self.idempotent);
        let sql = create_distributed(
            &schemas,
            CreateArgs {
                partitioning_column: partitioning.is_some(),
                number_partitions: self.number_partitions.is_some(),
                chunk_interval: self.chunk_interval.map(|i| match i {
                    ChunkInterval::Time(_) => IntervalKind::Interval,
                    ChunkInterval::Integer(_) => IntervalKind::Integer,
                }),
                replication_factor: self.replication_factor.is_some(),
                data_nodes: data_nodes.is_some(),
            },
        );
        let rows = session.query_multinode(OP, &sql, &params).await?;
        let row = rows.first().ok_or_else(|| {
            Error::invalid(OP, node, "create_distributed_hypertable returned no row")
        })?;
        Ok(CreatedHypertable {
            id: session.get(OP, row, "hypertable_id")?,
            schema: session.get(OP, row, "schema_name")?,
            name: session.get(OP, row, "table_name")?,
            created: session.get(OP, row, "created")?,
        })
    }
}

fn with_node(e: Error, node: &str) -> Error {
    match e {
        Error::InvalidInput { op, reason, .. } => Error::InvalidInput {
            op,
            node: Some(node.to_owned()),
            reason,
        },
        other => other,
    }
}
