//! The queries behind [`crate::ServerInfo`].

use super::Sql;

/// The `default_read_only` column of [`SERVER_INFO`] and [`SERVER_INFO_BRIEF`]: what a new
/// session of this login role in this database starts with (see [`SERVER_INFO`]).
macro_rules! default_read_only_column {
    () => {
        "COALESCE((SELECT pg_catalog.substr(c, 31)::pg_catalog.bool \
                        FROM pg_catalog.pg_db_role_setting r, \
                             pg_catalog.unnest(r.setconfig) AS c \
                       WHERE r.setrole OPERATOR(pg_catalog.=) ANY (ARRAY[0::pg_catalog.oid, \
                               (SELECT a.oid FROM pg_catalog.pg_roles a \
                                 WHERE a.rolname OPERATOR(pg_catalog.=) session_user)]) \
                         AND r.setdatabase OPERATOR(pg_catalog.=) ANY (ARRAY[0::pg_catalog.oid, \
                               (SELECT d.oid FROM pg_catalog.pg_database d \
                                 WHERE d.datname OPERATOR(pg_catalog.=) \
                                       pg_catalog.current_database())]) \
                         AND pg_catalog.substr(c, 1, 30) \
                               OPERATOR(pg_catalog.=) 'default_transaction_read_only=' \
                       ORDER BY r.setrole OPERATOR(pg_catalog.=) 0::pg_catalog.oid, \
                                r.setdatabase OPERATOR(pg_catalog.=) 0::pg_catalog.oid \
                       LIMIT 1), \
                     pg_catalog.current_setting('default_transaction_read_only'::pg_catalog.text) \
                       OPERATOR(pg_catalog.=) 'on') AS default_read_only, "
    };
}

/// Versions, licence, settings, the extension's schema and the number of TimescaleDB
/// foreign servers. Valid on any PostgreSQL 10+ database, with or without TimescaleDB, for
/// any role: whether the TimescaleDB loader is preloaded is read from the setting it
/// defines when it is (`timescaledb.max_background_workers`, an integer; a placeholder from
/// the configuration file would be a string), not from `shared_preload_libraries`, which
/// only superusers and members of `pg_read_all_settings` may read. That read scans every
/// setting (`pg_settings`), the costliest part of the statement, and what it finds holds
/// until the server restarts, which ends the session: `$1` (`bool`) is what this session
/// read before, and when it is not NULL the scan is skipped. `default_read_only` is what a
/// new session of this login role in this database starts with: the most specific of the
/// role's and database's settings (`pg_db_role_setting`, which a session reads only when it
/// starts), else this session's value (from the configuration file, which a reload changes
/// in every session), so a kept session tells it as a new one would.
pub(crate) const SERVER_INFO: Sql = Sql::from_static(concat!(
    "SELECT pg_catalog.current_setting('server_version_num'::pg_catalog.text)::pg_catalog.int4 \
              AS server_version_num, \
            pg_catalog.current_setting('server_version'::pg_catalog.text) AS server_version, \
            pg_catalog.current_database()::pg_catalog.text AS database, \
            current_user::pg_catalog.text AS user_name, \
            pg_catalog.current_setting('is_superuser'::pg_catalog.text) OPERATOR(pg_catalog.=) 'on' \
              AS is_superuser, \
            (SELECT e.extversion::pg_catalog.text FROM pg_catalog.pg_extension e \
              WHERE e.extname OPERATOR(pg_catalog.=) 'timescaledb') AS installed_version, \
            (SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension e \
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace \
              WHERE e.extname OPERATOR(pg_catalog.=) 'timescaledb') AS extension_schema, \
            (SELECT a.default_version::pg_catalog.text FROM pg_catalog.pg_available_extensions a \
              WHERE a.name OPERATOR(pg_catalog.=) 'timescaledb') AS default_version, \
            ARRAY(SELECT v.version::pg_catalog.text \
                    FROM pg_catalog.pg_available_extension_versions v \
                   WHERE v.name OPERATOR(pg_catalog.=) 'timescaledb') AS available_versions, \
            pg_catalog.current_setting('timescaledb.license'::pg_catalog.text, true) AS license, \
            CASE WHEN $1::pg_catalog.bool IS NULL THEN \
              EXISTS (SELECT FROM pg_catalog.pg_settings g \
                       WHERE g.name OPERATOR(pg_catalog.=) 'timescaledb.max_background_workers' \
                         AND g.vartype OPERATOR(pg_catalog.=) 'integer') \
            ELSE $1::pg_catalog.bool END AS loader_preloaded, \
            pg_catalog.current_setting('max_prepared_transactions'::pg_catalog.text)::pg_catalog.int4 \
              AS max_prepared_transactions, \
            pg_catalog.pg_is_in_recovery() AS in_recovery, \
            pg_catalog.pg_conf_load_time() AS config_loaded, \
            ", default_read_only_column!(), "\
            (SELECT pg_catalog.count(*) FROM pg_catalog.pg_foreign_server s \
               JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid OPERATOR(pg_catalog.=) s.srvfdw \
              WHERE w.fdwname OPERATOR(pg_catalog.=) 'timescaledb_fdw')::pg_catalog.int8 \
              AS data_node_count",
));

/// [`SERVER_INFO`] without the costly parts: the default version is looked up only when the
/// extension is not installed (it reads every extension's control file), the available
/// versions only then and when `$2` (`bool`) asks for them (they read every version's
/// control and update files: several milliseconds with TimescaleDB's). For hot paths such as
/// a converged plan. `$1` as in [`SERVER_INFO`].
pub(crate) const SERVER_INFO_BRIEF: Sql = Sql::from_static(concat!(
    "SELECT pg_catalog.current_setting('server_version_num'::pg_catalog.text)::pg_catalog.int4 \
              AS server_version_num, \
            pg_catalog.current_setting('server_version'::pg_catalog.text) AS server_version, \
            pg_catalog.current_database()::pg_catalog.text AS database, \
            current_user::pg_catalog.text AS user_name, \
            pg_catalog.current_setting('is_superuser'::pg_catalog.text) OPERATOR(pg_catalog.=) 'on' \
              AS is_superuser, \
            e.extversion AS installed_version, \
            e.extschema AS extension_schema, \
            CASE WHEN e.extversion IS NULL THEN \
              (SELECT a.default_version::pg_catalog.text \
                 FROM pg_catalog.pg_available_extensions a \
                WHERE a.name OPERATOR(pg_catalog.=) 'timescaledb') END AS default_version, \
            CASE WHEN e.extversion IS NULL AND $2::pg_catalog.bool THEN \
              ARRAY(SELECT v.version::pg_catalog.text \
                      FROM pg_catalog.pg_available_extension_versions v \
                     WHERE v.name OPERATOR(pg_catalog.=) 'timescaledb') \
            ELSE '{}'::pg_catalog.text[] END AS available_versions, \
            pg_catalog.current_setting('timescaledb.license'::pg_catalog.text, true) AS license, \
            CASE WHEN $1::pg_catalog.bool IS NULL THEN \
              EXISTS (SELECT FROM pg_catalog.pg_settings g \
                       WHERE g.name OPERATOR(pg_catalog.=) 'timescaledb.max_background_workers' \
                         AND g.vartype OPERATOR(pg_catalog.=) 'integer') \
            ELSE $1::pg_catalog.bool END AS loader_preloaded, \
            pg_catalog.current_setting('max_prepared_transactions'::pg_catalog.text)::pg_catalog.int4 \
              AS max_prepared_transactions, \
            pg_catalog.pg_is_in_recovery() AS in_recovery, \
            pg_catalog.pg_conf_load_time() AS config_loaded, \
            ", default_read_only_column!(), "\
            (SELECT pg_catalog.count(*) FROM pg_catalog.pg_foreign_server s \
               JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid OPERATOR(pg_catalog.=) s.srvfdw \
              WHERE w.fdwname OPERATOR(pg_catalog.=) 'timescaledb_fdw')::pg_catalog.int8 \
              AS data_node_count \
       FROM (SELECT (SELECT x.extversion::pg_catalog.text FROM pg_catalog.pg_extension x \
                      WHERE x.extname OPERATOR(pg_catalog.=) 'timescaledb') AS extversion, \
                    (SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension x \
                       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) x.extnamespace \
                      WHERE x.extname OPERATOR(pg_catalog.=) 'timescaledb') AS extschema) e",
));

/// The distributed-database identity of a database with TimescaleDB installed: on an access
/// node `dist_uuid` equals `uuid`, on a data node it is the access node's `uuid`, and a
/// standalone database has no `dist_uuid`.
pub(crate) const DIST_IDENTITY: Sql = Sql::from_static(
    "SELECT (SELECT m.value FROM _timescaledb_catalog.metadata m \
              WHERE m.key OPERATOR(pg_catalog.=) 'uuid') AS uuid, \
            (SELECT m.value FROM _timescaledb_catalog.metadata m \
              WHERE m.key OPERATOR(pg_catalog.=) 'dist_uuid') AS dist_uuid",
);

/// Whether this session reads `\` in a string literal as itself
/// (`standard_conforming_strings`, `standard_strings`). Where it is off, the check
/// `add_data_node(bootstrap => true)` runs over a data node's maintenance database (a
/// pattern TimescaleDB writes as `'\d+.\d+.\d+.*'`) finds no extension, whatever is
/// installed.
pub(crate) const STANDARD_STRINGS: Sql = Sql::from_static(
    "SELECT pg_catalog.current_setting('standard_conforming_strings'::pg_catalog.text) \
              OPERATOR(pg_catalog.=) 'on' AS standard_strings",
);

/// The session's user and whether it is a superuser.
pub(crate) const ROLE_IS_SUPERUSER: Sql = Sql::from_static(
    "SELECT current_user::pg_catalog.text AS role, \
            pg_catalog.current_setting('is_superuser'::pg_catalog.text) OPERATOR(pg_catalog.=) 'on' \
              AS superuser",
);
