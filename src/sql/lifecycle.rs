//! The data-node lifecycle calls: `delete_data_node`, `detach_data_node`, `attach_data_node`,
//! `alter_data_node`, `block_new_chunks` / `allow_new_chunks`, `set_replication_factor`,
//! `set_chunk_time_interval`, `create_distributed_restore_point`, and the catalog reads and transaction control they need.
//!
//! Every value is a bind parameter, cast to the type the function declares, and every
//! TimescaleDB function is qualified with its schema. Only the version-dependent named
//! arguments (`drop_database`, 2.6; `drop_remote_data`, 2.8) vary: they are left out unless
//! asked for, so the same call works on a server that lacks them. Hypertables are bound as
//! quoted text (`TableName::regclass_text`) and cast to `regclass` by the server.

use super::functions::Schemas;
use super::Sql;

/// `delete_data_node`: `$1` node, `$2` if_exists, `$3` force, `$4` repartition, and with
/// `drop_database` also `$5` drop_database (2.6+). One row, column `deleted`.
pub(crate) fn delete_data_node(schemas: &Schemas, drop_database: bool) -> Sql {
    let mut text = format!(
        "SELECT {}.delete_data_node($1::pg_catalog.name, if_exists => $2::pg_catalog.bool, \
         force => $3::pg_catalog.bool, repartition => $4::pg_catalog.bool",
        schemas.api()
    );
    if drop_database {
        text.push_str(", drop_database => $5::pg_catalog.bool");
    }
    text.push_str(") AS deleted");
    Sql::rendered(text)
}

/// `detach_data_node`: `$1` node, `$2` hypertable (quoted text or NULL for every hypertable),
/// `$3` if_attached, `$4` force, `$5` repartition, and with `drop_remote_data` also `$6`
/// drop_remote_data (2.8+). One row, column `detached` (the number of hypertables).
pub(crate) fn detach_data_node(schemas: &Schemas, drop_remote_data: bool) -> Sql {
    let mut text = format!(
        "SELECT {}.detach_data_node($1::pg_catalog.name, \
         hypertable => $2::pg_catalog.text::pg_catalog.regclass, \
         if_attached => $3::pg_catalog.bool, force => $4::pg_catalog.bool, \
         repartition => $5::pg_catalog.bool",
        schemas.api()
    );
    if drop_remote_data {
        text.push_str(", drop_remote_data => $6::pg_catalog.bool");
    }
    text.push_str(") AS detached");
    Sql::rendered(text)
}

/// `attach_data_node`: `$1` node, `$2` hypertable (quoted text), `$3` if_not_attached,
/// `$4` repartition.
pub(crate) fn attach_data_node(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT hypertable_id, node_hypertable_id, node_name::pg_catalog.text AS node_name \
           FROM {}.attach_data_node($1::pg_catalog.name, \
                                    $2::pg_catalog.text::pg_catalog.regclass, \
                                    if_not_attached => $3::pg_catalog.bool, \
                                    repartition => $4::pg_catalog.bool)",
        schemas.api()
    ))
}

/// `alter_data_node` (2.9+): `$1` node, `$2` host, `$3` database, `$4` port, `$5` available;
/// a NULL leaves that setting as it is.
pub(crate) fn alter_data_node(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT node_name::pg_catalog.text AS node_name, host, port, \
                database::pg_catalog.text AS database, available \
           FROM {}.alter_data_node($1::pg_catalog.name, host => $2::pg_catalog.text, \
                                   database => $3::pg_catalog.name, \
                                   port => $4::pg_catalog.int4, \
                                   available => $5::pg_catalog.bool)",
        schemas.api()
    ))
}

/// `timescaledb_experimental.block_new_chunks` (2.4+): `$1` node, `$2` hypertable (quoted
/// text or NULL for every hypertable), `$3` force. One row, column `affected`.
pub(crate) const BLOCK_NEW_CHUNKS: Sql = Sql::from_static(
    "SELECT timescaledb_experimental.block_new_chunks($1::pg_catalog.name, \
                $2::pg_catalog.text::pg_catalog.regclass, force => $3::pg_catalog.bool) \
       AS affected",
);

/// `timescaledb_experimental.allow_new_chunks` (2.4+): `$1` node, `$2` hypertable (quoted
/// text or NULL for every hypertable). One row, column `affected`.
pub(crate) const ALLOW_NEW_CHUNKS: Sql = Sql::from_static(
    "SELECT timescaledb_experimental.allow_new_chunks($1::pg_catalog.name, \
                $2::pg_catalog.text::pg_catalog.regclass) AS affected",
);

/// `set_replication_factor`: `$1` hypertable (quoted text), `$2` replication factor.
/// Returns `void`; run it for its effect.
pub(crate) fn set_replication_factor(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT {}.set_replication_factor($1::pg_catalog.text::pg_catalog.regclass, \
                                          $2::pg_catalog.int4)",
        schemas.api()
    ))
}

/// `set_chunk_time_interval`: `$1` hypertable (quoted text), `$2` the interval in the time
/// column's units (microseconds for `timestamptz`, `timestamp` and `date`). For new chunks
/// only; returns `void`.
pub(crate) fn set_chunk_time_interval(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT {}.set_chunk_time_interval($1::pg_catalog.text::pg_catalog.regclass, \
                                           $2::pg_catalog.int8)",
        schemas.api()
    ))
}

/// The dimensions of hypertable `$2` in schema `$1`, in the order they were made: the
/// column, its partitions (`num_slices`, a space dimension only) and its interval
/// (`interval_length`, a time dimension only; microseconds for time types).
pub(crate) const HYPERTABLE_DIMENSIONS: Sql = Sql::from_static(
    "SELECT d.column_name::pg_catalog.text AS column_name, \
            d.num_slices::pg_catalog.int4 AS num_slices, \
            d.interval_length AS interval_length \
       FROM _timescaledb_catalog.dimension d \
       JOIN _timescaledb_catalog.hypertable h \
         ON h.id OPERATOR(pg_catalog.=) d.hypertable_id \
      WHERE h.schema_name OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND h.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.name \
      ORDER BY d.id",
);

/// `create_distributed_restore_point` (2.2+): `$1` name. One row per node; the access node's
/// row has a NULL `node_name`.
pub(crate) fn create_distributed_restore_point(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT node_name::pg_catalog.text AS node_name, node_type, \
                restore_point::pg_catalog.text AS lsn \
           FROM {}.create_distributed_restore_point($1::pg_catalog.text)",
        schemas.api()
    ))
}

/// Every user mapping of foreign server `$1`: the role's name, and whether it is the PUBLIC
/// mapping.
pub(crate) const USER_MAPPINGS_OF_SERVER: Sql = Sql::from_static(
    "SELECT m.usename::pg_catalog.text AS role, \
            m.umuser OPERATOR(pg_catalog.=) 0::pg_catalog.oid AS is_public \
       FROM pg_catalog.pg_user_mappings m \
      WHERE m.srvname OPERATOR(pg_catalog.=) $1::pg_catalog.name \
      ORDER BY m.usename",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::Ident;

    fn schemas() -> Schemas {
        Schemas::new(Ident::new("public").unwrap(), "_timescaledb_functions")
    }

    #[test]
    fn delete_names_drop_database_only_when_asked() {
        assert_eq!(
            delete_data_node(&schemas(), false).text(),
            "SELECT \"public\".delete_data_node($1::pg_catalog.name, \
             if_exists => $2::pg_catalog.bool, force => $3::pg_catalog.bool, \
             repartition => $4::pg_catalog.bool) AS deleted"
        );
        assert!(delete_data_node(&schemas(), true).text().ends_with(
            "repartition => $4::pg_catalog.bool, drop_database => $5::pg_catalog.bool) AS deleted"
        ));
    }

    #[test]
    fn detach_names_drop_remote_data_only_when_asked() {
        let plain = detach_data_node(&schemas(), false);
        assert!(plain.text().ends_with(
            "force => $4::pg_catalog.bool, repartition => $5::pg_catalog.bool) AS detached"
        ));
        assert!(!plain.text().contains("drop_remote_data"));
        assert!(detach_data_node(&schemas(), true).text().ends_with(
            "repartition => $5::pg_catalog.bool, drop_remote_data => $6::pg_catalog.bool) \
             AS detached"
        ));
    }

    #[test]
    fn statements_bind_every_value() {
        // No renderer here takes a caller's value: every statement is static text or a
        // choice between fixed fragments, so nothing a caller passes can reach the text.
        let schemas = schemas();
        for sql in [
            delete_data_node(&schemas, true),
            detach_data_node(&schemas, true),
            attach_data_node(&schemas),
            alter_data_node(&schemas),
            BLOCK_NEW_CHUNKS,
            ALLOW_NEW_CHUNKS,
            set_replication_factor(&schemas),
            create_distributed_restore_point(&schemas),
            USER_MAPPINGS_OF_SERVER,
        ] {
            assert!(sql.text().contains("$1"), "{sql:?}");
            assert!(!sql.text().contains('\''), "no literal in {sql:?}");
        }
    }
}
