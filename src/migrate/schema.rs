//! A distributed hypertable's definition, read from the access node's catalog, and its
//! creation on the target (as a hypertable where the target runs TimescaleDB).

use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::sql::functions::Schemas;
use crate::sql::hypertable::{IntervalKind, TableName};
use crate::sql::migrate_source::{COLUMNS, CONSTRAINTS, DIMENSIONS, GRANTS, INDEXES};
use crate::sql::migrate_target::{
    create_hypertable, create_schema, create_table, grant, server_index, ColumnDef, TablePrivilege,
    INDEXED, RECORD_INDEXED, RECORD_TABLE,
};
use crate::sql::session::{BEGIN, COMMIT, ROLLBACK};

/// The time dimension of a hypertable: its column and chunk interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeDimension {
    pub(crate) column: Ident,
    pub(crate) interval: ChunkSpan,
}

/// A chunk interval, as the source has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkSpan {
    /// An `interval` (time-typed column), as text such as `7 days`.
    Interval(String),
    /// An integer (integer-typed column).
    Integer(i64),
}

impl ChunkSpan {
    pub(crate) fn kind(&self) -> IntervalKind {
        match self {
            ChunkSpan::Interval(_) => IntervalKind::Interval,
            ChunkSpan::Integer(_) => IntervalKind::Integer,
        }
    }

    pub(crate) fn display(&self) -> String {
        match self {
            ChunkSpan::Interval(text) => text.clone(),
            ChunkSpan::Integer(n) => n.to_string(),
        }
    }
}

/// A grant to carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GrantDef {
    /// `None` for `PUBLIC`.
    pub(crate) grantee: Option<Ident>,
    pub(crate) privilege: TablePrivilege,
    pub(crate) grantable: bool,
}

/// What the access node's catalog says of one distributed hypertable.
#[derive(Debug, Clone)]
pub(crate) struct TableDef {
    /// Schema-qualified, as the catalog names it.
    pub(crate) name: TableName,
    pub(crate) columns: Vec<ColumnDef>,
    /// Columns whose values are copied (every column but generated ones), in table order.
    pub(crate) copied: Vec<Ident>,
    /// Every column, in table order: what the checksums hash.
    pub(crate) all: Vec<Ident>,
    pub(crate) constraints: Vec<(Ident, String)>,
    pub(crate) indexes: Vec<String>,
    pub(crate) grants: Vec<GrantDef>,
    pub(crate) time: TimeDimension,
    /// What the definition has that the target will not get, in words.
    pub(crate) not_carried: Vec<String>,
    /// Why the table cannot be migrated, in words (empty when it can).
    pub(crate) blockers: Vec<String>,
}

const OP: &str = "read hypertable definition";

/// Integer types a time dimension may have.
const INTEGER_TYPES: [u32; 3] = [20, 21, 23];

impl TableDef {
    /// Reads the definition of `name` (schema-qualified) on the access node `an`, whose
    /// search path is empty.
    pub(crate) async fn read(an: &Session, name: TableName) -> Result<TableDef> {
        let node = an.node().to_owned();
        let schema = name
            .schema()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let relation = name.regclass_text();
        let mut not_carried = Vec::new();
        let mut blockers = Vec::new();

        let mut time = None;
        for row in an
            .query(OP, &DIMENSIONS, &[&schema, &name.name().as_str()])
            .await?
        {
            let column: String = an.get(OP, &row, "column_name")?;
            let kind: String = an.get(OP, &row, "kind")?;
            if kind != "Time" || time.is_some() {
                let partitions: Option<i32> = an.get(OP, &row, "num_partitions")?;
                not_carried.push(format!(
                    "space partitioning on {} ({} partitions): the target's chunks are by \
                     time only",
                    crate::sql::quote::ident_str(&column),
                    partitions.unwrap_or_default()
                ));
                continue;
            }
            let type_oid: u32 = an.get(OP, &row, "type_oid")?;
            let interval = if INTEGER_TYPES.contains(&type_oid) {
                let n: Option<i64> = an.get(OP, &row, "integer_interval")?;
                ChunkSpan::Integer(n.unwrap_or_default())
            } else {
                let text: Option<String> = an.get(OP, &row, "time_interval")?;
                ChunkSpan::Interval(text.unwrap_or_default())
            };
            time = Some(TimeDimension {
                column: Ident::for_op(column, "time column", OP, Some(&node))?,
                interval,
            });
        }
        let Some(time) = time else {
            return Err(Error::invalid(
                OP,
                Some(&node),
                format!("{relation} is not a hypertable (it has no time dimension)"),
            ));
        };

        let mut columns = Vec::new();
        let mut copied = Vec::new();
        let mut all = Vec::new();
        for row in an.query(OP, &COLUMNS, &[&relation]).await? {
            let name = Ident::for_op(
                an.get::<String>(OP, &row, "name")?,
                "column",
                OP,
                Some(&node),
            )?;
            let type_text: String = an.get(OP, &row, "type")?;
            let builtin: bool = an.get(OP, &row, "builtin_type")?;
            if !builtin {
                blockers.push(format!(
                    "column {} has type {type_text}, which is not built in: binary COPY \
                     cannot carry it between servers",
                    crate::sql::quote::ident(&name)
                ));
            }
            let generated: String = an.get(OP, &row, "generated")?;
            let identity: String = an.get(OP, &row, "identity")?;
            if !identity.is_empty() {
                not_carried.push(format!(
                    "identity of column {} (created as a plain column)",
                    crate::sql::quote::ident(&name)
                ));
            }
            let expr: Option<String> = an.get(OP, &row, "default_expr")?;
            let collation = match (
                an.get::<Option<String>>(OP, &row, "collation_schema")?,
                an.get::<Option<String>>(OP, &row, "collation_name")?,
            ) {
                (Some(s), Some(n)) => Some((
                    Ident::for_op(s, "collation schema", OP, Some(&node))?,
                    Ident::for_op(n, "collation", OP, Some(&node))?,
                )),
                _ => None,
            };
            let is_generated = !generated.is_empty();
            all.push(name.clone());
            if !is_generated {
                copied.push(name.clone());
            }
            columns.push(ColumnDef {
                name,
                type_text,
                collation,
                not_null: an.get(OP, &row, "not_null")?,
                default: if is_generated { None } else { expr.clone() },
                generated: if is_generated { expr } else { None },
            });
        }

        let mut constraints = Vec::new();
        for row in an.query(OP, &CONSTRAINTS, &[&relation]).await? {
            let cname: String = an.get(OP, &row, "name")?;
            let kind: String = an.get(OP, &row, "kind")?;
            let definition: String = an.get(OP, &row, "definition")?;
            match kind.as_str() {
                "c" | "u" | "p" | "x" => constraints.push((
                    Ident::for_op(cname, "constraint", OP, Some(&node))?,
                    definition,
                )),
                _ => not_carried.push(format!(
                    "constraint {} ({definition})",
                    crate::sql::quote::ident_str(&cname)
                )),
            }
        }

        let mut indexes = Vec::new();
        for row in an.query(OP, &INDEXES, &[&relation]).await? {
            indexes.push(an.get::<String>(OP, &row, "definition")?);
        }

        let mut grants = Vec::new();
        for row in an.query(OP, &GRANTS, &[&relation]).await? {
            let grantee: Option<String> = an.get(OP, &row, "grantee")?;
            let privilege: String = an.get(OP, &row, "privilege")?;
            let Some(privilege) = TablePrivilege::parse(&privilege) else {
                not_carried.push(format!("privilege {privilege}"));
                continue;
            };
            grants.push(GrantDef {
                grantee: grantee
                    .map(|g| Ident::for_op(g, "role", OP, Some(&node)))
                    .transpose()?,
                privilege,
                grantable: an.get(OP, &row, "is_grantable")?,
            });
        }

        Ok(TableDef {
            name,
            columns,
            copied,
            all,
            constraints,
            indexes,
            grants,
            time,
            not_carried,
            blockers,
        })
    }

    /// The name as the report and errors show it, `"schema"."name"`.
    pub(crate) fn display(&self) -> String {
        self.name.regclass_text()
    }

    /// Schema and table name as text, for the migration state.
    pub(crate) fn key(&self) -> (String, String) {
        (
            self.name
                .schema()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            self.name.name().as_str().to_owned(),
        )
    }

    /// Creates the table on the target in one transaction, with its row in the migration
    /// state: as a hypertable when `timescaledb` has the extension's schemas, with its
    /// constraints and the grants whose roles exist there (`grants`). Its other indexes
    /// come with [`TableDef::create_indexes`], once its rows are in.
    pub(crate) async fn create(
        &self,
        target: &Session,
        timescaledb: Option<&Schemas>,
        grants: &[GrantDef],
        source: &str,
    ) -> Result<()> {
        const OP: &str = "create table on migration target";
        target.execute_utility(OP, &BEGIN).await?;
        let created = async {
            if let Some(schema) = self.name.schema() {
                if schema.as_str() != "public" {
                    target.execute_utility(OP, &create_schema(schema)).await?;
                }
            }
            target
                .execute_utility(
                    OP,
                    &create_table(&self.name, &self.columns, &self.constraints),
                )
                .await?;
            if let Some(schemas) = timescaledb {
                let sql = create_hypertable(schemas, self.time.interval.kind());
                let relation = self.name.regclass_text();
                let column = self.time.column.as_str();
                match &self.time.interval {
                    ChunkSpan::Interval(text) => {
                        target.query(OP, &sql, &[&relation, &column, text]).await?
                    }
                    ChunkSpan::Integer(n) => {
                        target.query(OP, &sql, &[&relation, &column, n]).await?
                    }
                };
            }
            for g in grants {
                target
                    .execute_utility(
                        OP,
                        &grant(g.privilege, &self.name, g.grantee.as_ref(), g.grantable),
                    )
                    .await?;
            }
            let (schema, table) = self.key();
            target
                .query(OP, &RECORD_TABLE, &[&schema, &table, &source])
                .await?;
            Ok::<_, Error>(())
        }
        .await;
        match created {
            Ok(()) => target.execute_utility(OP, &COMMIT).await,
            Err(e) => {
                let _ = target.execute_utility(OP, &ROLLBACK).await;
                Err(e)
            }
        }
    }

    /// Builds the table's indexes (other than its constraints') on the target, unless the
    /// migration state says they were: in one transaction with that record. Building them
    /// once the rows are in costs less than keeping them up to date row by row.
    pub(crate) async fn create_indexes(&self, target: &Session) -> Result<()> {
        const OP: &str = "create indexes on migration target";
        let (schema, table) = self.key();
        let row = target.query_one(OP, &INDEXED, &[&schema, &table]).await?;
        if target.get::<bool>(OP, &row, "indexed")? {
            return Ok(());
        }
        target.execute_utility(OP, &BEGIN).await?;
        let built = async {
            for index in &self.indexes {
                target
                    .execute_utility(OP, &server_index(index.clone()))
                    .await?;
            }
            target
                .query(OP, &RECORD_INDEXED, &[&schema, &table])
                .await?;
            Ok::<_, Error>(())
        }
        .await;
        match built {
            Ok(()) => target.execute_utility(OP, &COMMIT).await,
            Err(e) => {
                let _ = target.execute_utility(OP, &ROLLBACK).await;
                Err(e)
            }
        }
    }
}
