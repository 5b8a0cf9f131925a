//! `create_distributed_hypertable` and the hypertable / chunk views.
//!
//! The call takes bind parameters for every value; only the list of named arguments varies
//! (the caller leaves out what it does not set, so the server's defaults apply), so the text
//! is assembled from fixed fragments here.

use super::{quote, Sql};
use crate::ident::Ident;

/// A schema-qualified table name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    schema: Option<Ident>,
    name: Ident,
}

impl TableName {
    /// A table in the default schema (the search path decides, usually `public`).
    pub fn new(name: Ident) -> Self {
        TableName { schema: None, name }
    }

    /// A table in `schema`.
    pub fn qualified(schema: Ident, name: Ident) -> Self {
        TableName {
            schema: Some(schema),
            name,
        }
    }

    /// The schema, if one was given.
    pub fn schema(&self) -> Option<&Ident> {
        self.schema.as_ref()
    }

    /// The table name.
    pub fn name(&self) -> &Ident {
        &self.name
    }

    /// The quoted form, `"schema"."name"`, as a value for a `regclass` parameter.
    pub(crate) fn regclass_text(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote::ident(schema), quote::ident(&self.name)),
            None => quote::ident(&self.name),
        }
    }
}

/// Which optional named arguments a `create_distributed_hypertable` call carries, in order
/// after `$1` (relation) and `$2` (time column).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CreateArgs {
    pub(crate) partitioning_column: bool,
    pub(crate) number_partitions: bool,
    pub(crate) chunk_interval: Option<IntervalKind>,
    pub(crate) replication_factor: bool,
    pub(crate) data_nodes: bool,
}

/// How the chunk interval is passed (its type follows the time column's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntervalKind {
    /// An `interval`, bound as text such as `604800000000 microseconds`.
    Interval,
    /// An integer, for integer time columns.
    Integer,
}

/// `SELECT ... FROM create_distributed_hypertable($1::text::regclass, $2, ..., if_not_exists => $n)`.
pub(crate) fn create_distributed(args: CreateArgs) -> Sql {
    let mut n = 2;
    let mut next = || {
        n += 1;
        n
    };
    let mut text = String::from(
        "SELECT hypertable_id, schema_name::text AS schema_name, table_name::text AS table_name, \
         created FROM create_distributed_hypertable($1::text::regclass, $2",
    );
    if args.partitioning_column {
        text.push_str(&format!(", partitioning_column => ${}", next()));
    }
    if args.number_partitions {
        text.push_str(&format!(", number_partitions => ${}::int4", next()));
    }
    match args.chunk_interval {
        Some(IntervalKind::Interval) => text.push_str(&format!(
            ", chunk_time_interval => ${}::text::interval",
            next()
        )),
        Some(IntervalKind::Integer) => {
            text.push_str(&format!(", chunk_time_interval => ${}::int8", next()))
        }
        None => {}
    }
    if args.replication_factor {
        text.push_str(&format!(", replication_factor => ${}::int4", next()));
    }
    if args.data_nodes {
        text.push_str(&format!(", data_nodes => ${}::name[]", next()));
    }
    text.push_str(&format!(", if_not_exists => ${}::bool)", next()));
    Sql::rendered(text)
}

/// `timescaledb_information.hypertables` for `$1` schema, `$2` table.
pub(crate) const HYPERTABLE: Sql = Sql::from_static(
    "SELECT hypertable_schema::text AS hypertable_schema, hypertable_name::text AS hypertable_name, \
            num_chunks, is_distributed, replication_factor::int4 AS replication_factor, \
            coalesce(data_nodes, '{}')::text[] AS data_nodes \
       FROM timescaledb_information.hypertables \
      WHERE hypertable_schema = $1 AND hypertable_name = $2",
);

/// The schema and name a table name resolves to (`$1`, quoted text), or no row.
pub(crate) const RESOLVE_TABLE: Sql = Sql::from_static(
    "SELECT n.nspname::text AS schema, c.relname::text AS name \
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
      WHERE c.oid = to_regclass($1)",
);

/// Every name TimescaleDB copies to the data nodes when it creates table `$1` (a quoted
/// name, as text) there, as `create_distributed_hypertable` and `attach_data_node` do: one row
/// per name, with its `kind` (a label of `node::quote_guard::Kind`), the column or index it
/// belongs to (`owner`, or NULL) and the `name`. No row when the table does not exist.
///
/// Column types are reported by their element type for arrays, as `format_type` writes them.
pub(crate) const COPIED_NAMES: Sql = Sql::from_static(
    "WITH t AS ( \
        SELECT c.oid, c.relname, c.relnamespace, c.relam FROM pg_catalog.pg_class c \
         WHERE c.oid = to_regclass($1) \
     ), cols AS ( \
        SELECT a.attname, a.atttypid, a.attcollation FROM t \
          JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid \
         WHERE a.attnum > 0 AND NOT a.attisdropped \
     ), types AS ( \
        SELECT cols.attname, ty.typname, ty.typnamespace FROM cols \
          JOIN pg_catalog.pg_type t0 ON t0.oid = cols.atttypid \
          JOIN pg_catalog.pg_type ty ON ty.oid = CASE \
               WHEN t0.typcategory = 'A' AND t0.typelem <> 0 THEN t0.typelem ELSE t0.oid END \
     ), idx AS ( \
        SELECT i.relname, i.relam, x.indcollation FROM t \
          JOIN pg_catalog.pg_index x ON x.indrelid = t.oid \
          JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid \
     ) \
     SELECT 'schema'::text AS kind, NULL::text AS owner, n.nspname::text AS name FROM t \
       JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
     UNION ALL SELECT 'table', NULL, t.relname::text FROM t \
     UNION ALL SELECT 'table access method', NULL, am.amname::text FROM t \
       JOIN pg_catalog.pg_am am ON am.oid = t.relam \
     UNION ALL SELECT 'column', NULL, cols.attname::text FROM cols \
     UNION ALL SELECT 'column collation', cols.attname::text, co.collname::text FROM cols \
       JOIN pg_catalog.pg_collation co ON co.oid = cols.attcollation \
     UNION ALL SELECT 'column type', types.attname::text, types.typname::text FROM types \
     UNION ALL SELECT 'column type schema', types.attname::text, n.nspname::text FROM types \
       JOIN pg_catalog.pg_namespace n ON n.oid = types.typnamespace \
     UNION ALL SELECT 'constraint', NULL, k.conname::text FROM t \
       JOIN pg_catalog.pg_constraint k ON k.conrelid = t.oid \
     UNION ALL SELECT 'index', NULL, idx.relname::text FROM idx \
     UNION ALL SELECT 'index access method', idx.relname::text, am.amname::text FROM idx \
       JOIN pg_catalog.pg_am am ON am.oid = idx.relam \
     UNION ALL SELECT 'index collation', idx.relname::text, co.collname::text FROM idx \
       JOIN pg_catalog.pg_collation co ON co.oid = ANY (idx.indcollation)",
);

/// `timescaledb_information.chunks` of `$1` schema, `$2` table, with the nodes holding each.
pub(crate) const CHUNKS: Sql = Sql::from_static(
    "SELECT chunk_schema::text AS chunk_schema, chunk_name::text AS chunk_name, \
            range_start::text AS range_start, range_end::text AS range_end, \
            range_start_integer, range_end_integer, \
            coalesce(data_nodes, '{}')::text[] AS data_nodes \
       FROM timescaledb_information.chunks \
      WHERE hypertable_schema = $1 AND hypertable_name = $2 \
      ORDER BY chunk_name",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parameters_in_order() {
        let all = create_distributed(CreateArgs {
            partitioning_column: true,
            number_partitions: true,
            chunk_interval: Some(IntervalKind::Interval),
            replication_factor: true,
            data_nodes: true,
        });
        assert!(all.text().ends_with(
            "$2, partitioning_column => $3, number_partitions => $4::int4, \
             chunk_time_interval => $5::text::interval, replication_factor => $6::int4, \
             data_nodes => $7::name[], if_not_exists => $8::bool)"
        ));
        let none = create_distributed(CreateArgs::default());
        assert!(none.text().ends_with("$2, if_not_exists => $3::bool)"));
    }

    #[test]
    fn regclass_text_is_quoted() {
        let t = TableName::qualified(
            Ident::new("My Schema").unwrap(),
            Ident::new("t\"1").unwrap(),
        );
        assert_eq!(t.regclass_text(), r#""My Schema"."t""1""#);
    }
}
