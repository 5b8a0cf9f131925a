//! `create_distributed_hypertable` and the hypertable / chunk views.
//!
//! The call takes bind parameters for every value, each cast to the type the function
//! declares; only the list of named arguments varies (the caller leaves out what it does not
//! set, so the server's defaults apply), so the text is assembled from fixed fragments here.

use super::functions::Schemas;
use super::{quote, Sql};

pub(crate) use crate::table_name::TableName;

impl TableName {
    /// The quoted form, `"schema"."name"`, as a value for a `regclass` parameter.
    pub(crate) fn regclass_text(&self) -> String {
        match self.schema() {
            Some(schema) => format!("{}.{}", quote::ident(schema), quote::ident(self.name())),
            None => quote::ident(self.name()),
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

/// `SELECT ... FROM <api>.create_distributed_hypertable($1::text::regclass, $2::name, ...,
/// if_not_exists => $n::bool)` (every type in `pg_catalog`).
pub(crate) fn create_distributed(schemas: &Schemas, args: CreateArgs) -> Sql {
    let mut n = 2;
    let mut next = || {
        n += 1;
        n
    };
    let mut text = format!(
        "SELECT hypertable_id, schema_name::pg_catalog.text AS schema_name, \
                table_name::pg_catalog.text AS table_name, created \
           FROM {}.create_distributed_hypertable(\
                $1::pg_catalog.text::pg_catalog.regclass, $2::pg_catalog.name",
        schemas.api()
    );
    if args.partitioning_column {
        text.push_str(&format!(
            ", partitioning_column => ${}::pg_catalog.name",
            next()
        ));
    }
    if args.number_partitions {
        text.push_str(&format!(
            ", number_partitions => ${}::pg_catalog.int4",
            next()
        ));
    }
    match args.chunk_interval {
        Some(IntervalKind::Interval) => text.push_str(&format!(
            ", chunk_time_interval => ${}::pg_catalog.text::pg_catalog.interval",
            next()
        )),
        Some(IntervalKind::Integer) => text.push_str(&format!(
            ", chunk_time_interval => ${}::pg_catalog.int8",
            next()
        )),
        None => {}
    }
    if args.replication_factor {
        text.push_str(&format!(
            ", replication_factor => ${}::pg_catalog.int4",
            next()
        ));
    }
    if args.data_nodes {
        text.push_str(&format!(", data_nodes => ${}::pg_catalog.name[]", next()));
    }
    text.push_str(&format!(", if_not_exists => ${}::pg_catalog.bool)", next()));
    Sql::rendered(text)
}

/// `timescaledb_information.hypertables` for `$1` schema, `$2` table.
pub(crate) const HYPERTABLE: Sql = Sql::from_static(
    "SELECT h.hypertable_schema::pg_catalog.text AS hypertable_schema, \
            h.hypertable_name::pg_catalog.text AS hypertable_name, \
            h.num_chunks, h.is_distributed, \
            h.replication_factor::pg_catalog.int4 AS replication_factor, \
            coalesce(h.data_nodes, '{}')::pg_catalog.text[] AS data_nodes \
       FROM timescaledb_information.hypertables h \
      WHERE h.hypertable_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND h.hypertable_name OPERATOR(pg_catalog.=) $2::pg_catalog.name",
);

/// Every hypertable of the database, by schema and name (columns as [`HYPERTABLE`]).
pub(crate) const HYPERTABLES: Sql = Sql::from_static(
    "SELECT h.hypertable_schema::pg_catalog.text AS hypertable_schema, \
            h.hypertable_name::pg_catalog.text AS hypertable_name, \
            h.num_chunks, h.is_distributed, \
            h.replication_factor::pg_catalog.int4 AS replication_factor, \
            coalesce(h.data_nodes, '{}')::pg_catalog.text[] AS data_nodes \
       FROM timescaledb_information.hypertables h \
      ORDER BY h.hypertable_schema, h.hypertable_name",
);

/// The schema and name a table name resolves to (`$1`, quoted text), or no row.
pub(crate) const RESOLVE_TABLE: Sql = Sql::from_static(
    "SELECT n.nspname::pg_catalog.text AS schema, c.relname::pg_catalog.text AS name \
       FROM pg_catalog.pg_class c \
       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
      WHERE c.oid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid",
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
         WHERE c.oid OPERATOR(pg_catalog.=) \
                 pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
     ), cols AS ( \
        SELECT a.attname, a.atttypid, a.attcollation FROM t \
          JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) t.oid \
         WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped \
     ), types AS ( \
        SELECT cols.attname, ty.typname, ty.typnamespace FROM cols \
          JOIN pg_catalog.pg_type t0 ON t0.oid OPERATOR(pg_catalog.=) cols.atttypid \
          JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) CASE \
               WHEN t0.typcategory OPERATOR(pg_catalog.=) 'A' \
                AND t0.typelem OPERATOR(pg_catalog.<>) 0 THEN t0.typelem ELSE t0.oid END \
     ), idx AS ( \
        SELECT i.relname, i.relam, x.indcollation FROM t \
          JOIN pg_catalog.pg_index x ON x.indrelid OPERATOR(pg_catalog.=) t.oid \
          JOIN pg_catalog.pg_class i ON i.oid OPERATOR(pg_catalog.=) x.indexrelid \
     ) \
     SELECT 'schema'::pg_catalog.text AS kind, NULL::pg_catalog.text AS owner, \
            n.nspname::pg_catalog.text AS name FROM t \
       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.relnamespace \
     UNION ALL SELECT 'table', NULL, t.relname::pg_catalog.text FROM t \
     UNION ALL SELECT 'table access method', NULL, am.amname::pg_catalog.text FROM t \
       JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) t.relam \
     UNION ALL SELECT 'column', NULL, cols.attname::pg_catalog.text FROM cols \
     UNION ALL SELECT 'column collation', cols.attname::pg_catalog.text, \
                      co.collname::pg_catalog.text FROM cols \
       JOIN pg_catalog.pg_collation co ON co.oid OPERATOR(pg_catalog.=) cols.attcollation \
     UNION ALL SELECT 'column type', types.attname::pg_catalog.text, \
                      types.typname::pg_catalog.text FROM types \
     UNION ALL SELECT 'column type schema', types.attname::pg_catalog.text, \
                      n.nspname::pg_catalog.text FROM types \
       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) types.typnamespace \
     UNION ALL SELECT 'constraint', NULL, k.conname::pg_catalog.text FROM t \
       JOIN pg_catalog.pg_constraint k ON k.conrelid OPERATOR(pg_catalog.=) t.oid \
     UNION ALL SELECT 'index', NULL, idx.relname::pg_catalog.text FROM idx \
     UNION ALL SELECT 'index access method', idx.relname::pg_catalog.text, \
                      am.amname::pg_catalog.text FROM idx \
       JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) idx.relam \
     UNION ALL SELECT 'index collation', idx.relname::pg_catalog.text, \
                      co.collname::pg_catalog.text FROM idx \
       JOIN pg_catalog.pg_collation co \
         ON co.oid OPERATOR(pg_catalog.=) ANY (idx.indcollation::pg_catalog.oid[])",
);

/// `timescaledb_information.chunks` of `$1` schema, `$2` table, with the nodes holding each.
pub(crate) const CHUNKS: Sql = Sql::from_static(
    "SELECT c.chunk_schema::pg_catalog.text AS chunk_schema, \
            c.chunk_name::pg_catalog.text AS chunk_name, \
            c.range_start::pg_catalog.text AS range_start, \
            c.range_end::pg_catalog.text AS range_end, \
            c.range_start_integer, c.range_end_integer, \
            coalesce(c.data_nodes, '{}')::pg_catalog.text[] AS data_nodes \
       FROM timescaledb_information.chunks c \
      WHERE c.hypertable_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND c.hypertable_name OPERATOR(pg_catalog.=) $2::pg_catalog.name \
      ORDER BY c.chunk_name",
);

/// Rows per chunk of `table` on the node it runs on (a data node's member hypertable: its
/// own chunks only), counted exactly: `chunk_schema`, `chunk_name`, `rows`. One scan of the
/// table; `table` should be schema-qualified (the crate's sessions search `pg_catalog` first).
pub(crate) fn chunk_rows(table: &TableName) -> Sql {
    Sql::rendered(format!(
        "SELECT n.nspname::pg_catalog.text AS chunk_schema, \
                c.relname::pg_catalog.text AS chunk_name, pg_catalog.count(*) AS rows \
           FROM {} t \
           JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tableoid \
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
          GROUP BY n.nspname, c.relname \
          ORDER BY c.relname",
        table.regclass_text()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::Ident;

    #[test]
    fn numbers_parameters_in_order() {
        let schemas = Schemas::new(Ident::new("public").unwrap(), "_timescaledb_functions");
        let all = create_distributed(
            &schemas,
            CreateArgs {
                partitioning_column: true,
                number_partitions: true,
                chunk_interval: Some(IntervalKind::Interval),
                replication_factor: true,
                data_nodes: true,
            },
        );
        assert!(all.text().ends_with(
            "$2::pg_catalog.name, partitioning_column => $3::pg_catalog.name, \
             number_partitions => $4::pg_catalog.int4, \
             chunk_time_interval => $5::pg_catalog.text::pg_catalog.interval, \
             replication_factor => $6::pg_catalog.int4, \
             data_nodes => $7::pg_catalog.name[], if_not_exists => $8::pg_catalog.bool)"
        ));
        assert!(all.text().contains(
            "FROM \"public\".create_distributed_hypertable(\
             $1::pg_catalog.text::pg_catalog.regclass, $2::pg_catalog.name"
        ));
        let none = create_distributed(&schemas, CreateArgs::default());
        assert!(none
            .text()
            .ends_with("$2::pg_catalog.name, if_not_exists => $3::pg_catalog.bool)"));
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
