//! What a migration reads from the cluster: a distributed hypertable's definition from the
//! access node's catalog, and each chunk's rows and size from a data node that holds it.
//!
//! The definition is read with an empty search path ([`EMPTY_SEARCH_PATH`]), so the
//! server's own rendering of types, defaults, constraints and indexes (`format_type`,
//! `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`) qualifies every name outside
//! `pg_catalog`: the text means the same on the target, whatever its search path.

use super::hypertable::TableName;
use super::{quote, Sql};
use crate::ident::Ident;

/// Only `pg_catalog` (always searched) resolves names in this session from now on.
pub(crate) const EMPTY_SEARCH_PATH: Sql = Sql::from_static(
    "SELECT pg_catalog.set_config('search_path'::pg_catalog.text, ''::pg_catalog.text, false)",
);

/// Settings that make a value's text form the same in every session that runs them: what
/// the checksums hash, and how chunk ranges are printed.
pub(crate) const STABLE_TEXT: Sql = Sql::from_static(
    "SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; \
     SET extra_float_digits = 1; SET bytea_output = 'hex'",
);

/// The dimensions of hypertable `$1` schema, `$2` name, in order.
pub(crate) const DIMENSIONS: Sql = Sql::from_static(
    "SELECT d.column_name::pg_catalog.text AS column_name, \
            d.column_type::pg_catalog.oid AS type_oid, \
            d.dimension_type::pg_catalog.text AS kind, \
            d.time_interval::pg_catalog.text AS time_interval, \
            d.integer_interval, \
            d.num_partitions::pg_catalog.int4 AS num_partitions \
       FROM timescaledb_information.dimensions d \
      WHERE d.hypertable_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND d.hypertable_name OPERATOR(pg_catalog.=) $2::pg_catalog.name \
      ORDER BY d.dimension_number",
);

/// Every live column of table `$1` (a quoted name, as text), in order: its type as the
/// server writes it, whether it is built in (the element type, for arrays), NOT NULL, its
/// default or generation expression, identity, and a collation other than its type's.
pub(crate) const COLUMNS: Sql = Sql::from_static(
    "SELECT a.attname::pg_catalog.text AS name, \
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, \
            (n.nspname OPERATOR(pg_catalog.=) 'pg_catalog') AS builtin_type, \
            a.attnotnull AS not_null, \
            pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr, \
            a.attgenerated::pg_catalog.text AS generated, \
            a.attidentity::pg_catalog.text AS identity, \
            cn.nspname::pg_catalog.text AS collation_schema, \
            co.collname::pg_catalog.text AS collation_name \
       FROM pg_catalog.pg_attribute a \
       JOIN pg_catalog.pg_type t0 ON t0.oid OPERATOR(pg_catalog.=) a.atttypid \
       JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) CASE \
            WHEN t0.typcategory OPERATOR(pg_catalog.=) 'A' \
             AND t0.typelem OPERATOR(pg_catalog.<>) 0 THEN t0.typelem ELSE t0.oid END \
       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace \
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid \
             AND d.adnum OPERATOR(pg_catalog.=) a.attnum \
       LEFT JOIN pg_catalog.pg_collation co ON co.oid OPERATOR(pg_catalog.=) a.attcollation \
             AND a.attcollation OPERATOR(pg_catalog.<>) t0.typcollation \
       LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) co.collnamespace \
      WHERE a.attrelid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
        AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped \
      ORDER BY a.attnum",
);

/// The constraints of table `$1` (a quoted name, as text): name, kind (`pg_constraint.contype`)
/// and definition as the server writes it.
pub(crate) const CONSTRAINTS: Sql = Sql::from_static(
    "SELECT k.conname::pg_catalog.text AS name, k.contype::pg_catalog.text AS kind, \
            pg_catalog.pg_get_constraintdef(k.oid) AS definition \
       FROM pg_catalog.pg_constraint k \
      WHERE k.conrelid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
      ORDER BY k.conname",
);

/// The indexes of table `$1` (a quoted name, as text) that no constraint made, each as the
/// server writes its `CREATE INDEX` statement.
pub(crate) const INDEXES: Sql = Sql::from_static(
    "SELECT i.relname::pg_catalog.text AS name, \
            pg_catalog.pg_get_indexdef(x.indexrelid) AS definition \
       FROM pg_catalog.pg_index x \
       JOIN pg_catalog.pg_class i ON i.oid OPERATOR(pg_catalog.=) x.indexrelid \
      WHERE x.indrelid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
        AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint k \
                         WHERE k.conindid OPERATOR(pg_catalog.=) x.indexrelid \
                           AND k.conrelid OPERATOR(pg_catalog.=) x.indrelid) \
      ORDER BY i.relname",
);

/// The table privileges of table `$1` (a quoted name, as text) granted to roles other than
/// its owner: grantee (NULL for `PUBLIC`), privilege, and whether it is grantable.
pub(crate) const GRANTS: Sql = Sql::from_static(
    "SELECT r.rolname::pg_catalog.text AS grantee, g.privilege_type AS privilege, \
            g.is_grantable \
       FROM pg_catalog.pg_class c \
      CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) g \
       LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) g.grantee \
      WHERE c.oid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
        AND g.grantee OPERATOR(pg_catalog.<>) c.relowner \
      ORDER BY 1, 2",
);

/// The chunks of hypertable `$1` schema, `$2` name: their time range (as text in the
/// session's time zone, for time columns; as integers otherwise) and the data nodes holding
/// each, in time order.
pub(crate) const CHUNKS: Sql = Sql::from_static(
    "SELECT c.chunk_schema::pg_catalog.text AS chunk_schema, \
            c.chunk_name::pg_catalog.text AS chunk_name, \
            c.range_start::pg_catalog.text AS range_start, \
            c.range_end::pg_catalog.text AS range_end, \
            c.range_start_integer, c.range_end_integer, \
            coalesce(c.data_nodes, '{}')::pg_catalog.text[] AS data_nodes, \
            c.is_compressed \
       FROM timescaledb_information.chunks c \
      WHERE c.hypertable_schema OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND c.hypertable_name OPERATOR(pg_catalog.=) $2::pg_catalog.name \
      ORDER BY c.range_start_integer, c.range_start, c.chunk_name",
);

/// On a data node: the total size in bytes of each chunk named in `$2` (table names) in
/// schema `$1`.
pub(crate) const CHUNK_SIZES: Sql = Sql::from_static(
    "SELECT c.relname::pg_catalog.text AS chunk_name, \
            pg_catalog.pg_total_relation_size(c.oid) AS bytes \
       FROM pg_catalog.pg_class c \
       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
      WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND c.relname OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.name[])",
);

/// On a data node: `COPY (SELECT <columns> FROM <chunk>) TO STDOUT (FORMAT binary)`. The
/// query form reads a compressed chunk's rows too.
pub(crate) fn copy_out_binary(chunk: &TableName, columns: &[Ident]) -> Sql {
    Sql::rendered(format!(
        "COPY (SELECT {} FROM {}) TO STDOUT (FORMAT binary)",
        column_list(columns),
        chunk.regclass_text()
    ))
}

/// `"a", "b", ...`.
pub(crate) fn column_list(columns: &[Ident]) -> String {
    columns
        .iter()
        .map(quote::ident)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_out_names_every_column_in_order() {
        let chunk = TableName::qualified(
            Ident::new("_timescaledb_internal").unwrap(),
            Ident::new("_dist_hyper_1_1_chunk").unwrap(),
        );
        let cols = [Ident::new("time").unwrap(), Ident::new("a \"b\"").unwrap()];
        assert_eq!(
            copy_out_binary(&chunk, &cols).text(),
            r#"COPY (SELECT "time", "a ""b""" FROM "_timescaledb_internal"."_dist_hyper_1_1_chunk") TO STDOUT (FORMAT binary)"#
        );
    }
}
