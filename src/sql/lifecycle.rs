//! The data-node lifecycle calls: `delete_data_node`, `detach_data_node`, `attach_data_node`,
//! `alter_data_node`, `block_new_chunks` / `allow_new_chunks`, `set_replication_factor`,
//! `create_distributed_restore_point`, and the catalog reads and transaction control they need.
//!
//! Every value is a bind parameter. Only the version-dependent named arguments
//! (`drop_database`, 2.6; `drop_remote_data`, 2.8) vary: they are left out unless asked for,
//! so the same call works on a server that lacks them. Hypertables are bound as quoted text
//! (`TableName::regclass_text`) and cast to `regclass` by the server.

use super::Sql;

/// `delete_data_node`: `$1` node, `$2` if_exists, `$3` force, `$4` repartition, and with
/// `drop_database` also `$5` drop_database (2.6+). One row, column `deleted`.
pub(crate) fn delete_data_node(drop_database: bool) -> Sql {
    let mut text = String::from(
        "SELECT delete_data_node($1::name, if_exists => $2::bool, force => $3::bool, \
         repartition => $4::bool",
    );
    if drop_database {
        text.push_str(", drop_database => $5::bool");
    }
    text.push_str(") AS deleted");
    Sql::rendered(text)
}

/// `detach_data_node`: `$1` node, `$2` hypertable (quoted text or NULL for every hypertable),
/// `$3` if_attached, `$4` force, `$5` repartition, and with `drop_remote_data` also `$6`
/// drop_remote_data (2.8+). One row, column `detached` (the number of hypertables).
pub(crate) fn detach_data_node(drop_remote_data: bool) -> Sql {
    let mut text = String::from(
        "SELECT detach_data_node($1::name, hypertable => $2::text::regclass, \
         if_attached => $3::bool, force => $4::bool, repartition => $5::bool",
    );
    if drop_remote_data {
        text.push_str(", drop_remote_data => $6::bool");
    }
    text.push_str(") AS detached");
    Sql::rendered(text)
}

/// `attach_data_node`: `$1` node, `$2` hypertable (quoted text), `$3` if_not_attached,
/// `$4` repartition.
pub(crate) const ATTACH_DATA_NODE: Sql = Sql::from_static(
    "SELECT hypertable_id, node_hypertable_id, node_name::text AS node_name \
       FROM attach_data_node($1::name, $2::text::regclass, if_not_attached => $3::bool, \
                             repartition => $4::bool)",
);

/// `alter_data_node` (2.9+): `$1` node, `$2` host, `$3` database, `$4` port, `$5` available;
/// a NULL leaves that setting as it is.
pub(crate) const ALTER_DATA_NODE: Sql = Sql::from_static(
    "SELECT node_name::text AS node_name, host, port, database::text AS database, available \
       FROM alter_data_node($1::name, host => $2::text, database => $3::name, port => $4::int4, \
                            available => $5::bool)",
);

/// `timescaledb_experimental.block_new_chunks` (2.4+): `$1` node, `$2` hypertable (quoted
/// text or NULL for every hypertable), `$3` force. One row, column `affected`.
pub(crate) const BLOCK_NEW_CHUNKS: Sql = Sql::from_static(
    "SELECT timescaledb_experimental.block_new_chunks($1::name, $2::text::regclass, \
                                                      force => $3::bool) AS affected",
);

/// `timescaledb_experimental.allow_new_chunks` (2.4+): `$1` node, `$2` hypertable (quoted
/// text or NULL for every hypertable). One row, column `affected`.
pub(crate) const ALLOW_NEW_CHUNKS: Sql = Sql::from_static(
    "SELECT timescaledb_experimental.allow_new_chunks($1::name, $2::text::regclass) AS affected",
);

/// `set_replication_factor`: `$1` hypertable (quoted text), `$2` replication factor.
/// Returns `void`; run it for its effect.
pub(crate) const SET_REPLICATION_FACTOR: Sql =
    Sql::from_static("SELECT set_replication_factor($1::text::regclass, $2::int4)");

/// `create_distributed_restore_point` (2.2+): `$1` name. One row per node; the access node's
/// row has a NULL `node_name`.
pub(crate) const CREATE_DISTRIBUTED_RESTORE_POINT: Sql = Sql::from_static(
    "SELECT node_name::text AS node_name, node_type, restore_point::text AS lsn \
       FROM create_distributed_restore_point($1::text)",
);

/// Every user mapping of foreign server `$1`: the role's name, and whether it is the PUBLIC
/// mapping.
pub(crate) const USER_MAPPINGS_OF_SERVER: Sql = Sql::from_static(
    "SELECT m.usename::text AS role, m.umuser = 0::oid AS is_public \
       FROM pg_catalog.pg_user_mappings m \
      WHERE m.srvname = $1 \
      ORDER BY m.usename",
);

/// Starts a transaction block.
pub(crate) const BEGIN: Sql = Sql::from_static("BEGIN");

/// Commits the transaction block.
pub(crate) const COMMIT: Sql = Sql::from_static("COMMIT");

/// Rolls the transaction block back.
pub(crate) const ROLLBACK: Sql = Sql::from_static("ROLLBACK");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_names_drop_database_only_when_asked() {
        assert_eq!(
            delete_data_node(false).text(),
            "SELECT delete_data_node($1::name, if_exists => $2::bool, force => $3::bool, \
             repartition => $4::bool) AS deleted"
        );
        assert!(delete_data_node(true)
            .text()
            .ends_with("repartition => $4::bool, drop_database => $5::bool) AS deleted"));
    }

    #[test]
    fn detach_names_drop_remote_data_only_when_asked() {
        let plain = detach_data_node(false);
        assert!(plain
            .text()
            .ends_with("force => $4::bool, repartition => $5::bool) AS detached"));
        assert!(!plain.text().contains("drop_remote_data"));
        assert!(detach_data_node(true)
            .text()
            .ends_with("repartition => $5::bool, drop_remote_data => $6::bool) AS detached"));
    }

    #[test]
    fn statements_bind_every_value() {
        // No renderer here takes a caller's value: every statement is static text or a
        // choice between fixed fragments, so nothing a caller passes can reach the text.
        for sql in [
            delete_data_node(true),
            detach_data_node(true),
            ATTACH_DATA_NODE,
            ALTER_DATA_NODE,
            BLOCK_NEW_CHUNKS,
            ALLOW_NEW_CHUNKS,
            SET_REPLICATION_FACTOR,
            CREATE_DISTRIBUTED_RESTORE_POINT,
            USER_MAPPINGS_OF_SERVER,
        ] {
            assert!(sql.text().contains("$1"), "{sql:?}");
            assert!(!sql.text().contains('\''), "no literal in {sql:?}");
        }
    }
}
