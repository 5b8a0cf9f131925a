//! The queries behind [`crate::ServerInfo`].

use super::Sql;

/// Versions, licence, settings and the number of TimescaleDB foreign servers. Valid on any
/// PostgreSQL 10+ database, with or without TimescaleDB, for any role: whether the
/// TimescaleDB loader is preloaded is read from the setting it defines when it is
/// (`timescaledb.max_background_workers`, an integer; a placeholder from the configuration
/// file would be a string), not from `shared_preload_libraries`, which only superusers and
/// members of `pg_read_all_settings` may read.
pub(crate) const SERVER_INFO: Sql = Sql::from_static(
    "SELECT current_setting('server_version_num')::int4 AS server_version_num, \
            current_setting('server_version') AS server_version, \
            current_database()::text AS database, \
            current_user::text AS user_name, \
            current_setting('is_superuser') = 'on' AS is_superuser, \
            (SELECT extversion::text FROM pg_catalog.pg_extension \
              WHERE extname = 'timescaledb') AS installed_version, \
            (SELECT default_version::text FROM pg_catalog.pg_available_extensions \
              WHERE name = 'timescaledb') AS default_version, \
            ARRAY(SELECT version::text FROM pg_catalog.pg_available_extension_versions \
                   WHERE name = 'timescaledb') AS available_versions, \
            current_setting('timescaledb.license', true) AS license, \
            EXISTS (SELECT FROM pg_catalog.pg_settings \
                     WHERE name = 'timescaledb.max_background_workers' \
                       AND vartype = 'integer') AS loader_preloaded, \
            current_setting('max_prepared_transactions')::int4 AS max_prepared_transactions, \
            (SELECT count(*) FROM pg_catalog.pg_foreign_server s \
               JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
              WHERE w.fdwname = 'timescaledb_fdw')::int8 AS data_node_count",
);

/// [`SERVER_INFO`] without the costly parts: the default and available versions are looked
/// up only when the extension is not installed (both read every extension's control file).
/// For hot paths such as a converged plan.
pub(crate) const SERVER_INFO_BRIEF: Sql = Sql::from_static(
    "SELECT current_setting('server_version_num')::int4 AS server_version_num, \
            current_setting('server_version') AS server_version, \
            current_database()::text AS database, \
            current_user::text AS user_name, \
            current_setting('is_superuser') = 'on' AS is_superuser, \
            e.extversion AS installed_version, \
            CASE WHEN e.extversion IS NULL THEN \
              (SELECT default_version::text FROM pg_catalog.pg_available_extensions \
                WHERE name = 'timescaledb') END AS default_version, \
            CASE WHEN e.extversion IS NULL THEN \
              ARRAY(SELECT version::text FROM pg_catalog.pg_available_extension_versions \
                     WHERE name = 'timescaledb') \
            ELSE '{}'::text[] END AS available_versions, \
            current_setting('timescaledb.license', true) AS license, \
            EXISTS (SELECT FROM pg_catalog.pg_settings \
                     WHERE name = 'timescaledb.max_background_workers' \
                       AND vartype = 'integer') AS loader_preloaded, \
            current_setting('max_prepared_transactions')::int4 AS max_prepared_transactions, \
            (SELECT count(*) FROM pg_catalog.pg_foreign_server s \
               JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
              WHERE w.fdwname = 'timescaledb_fdw')::int8 AS data_node_count \
       FROM (SELECT (SELECT extversion::text FROM pg_catalog.pg_extension \
                      WHERE extname = 'timescaledb') AS extversion) e",
);

/// The distributed-database identity of a database with TimescaleDB installed: on an access
/// node `dist_uuid` equals `uuid`, on a data node it is the access node's `uuid`, and a
/// standalone database has no `dist_uuid`.
pub(crate) const DIST_IDENTITY: Sql = Sql::from_static(
    "SELECT (SELECT value FROM _timescaledb_catalog.metadata WHERE key = 'uuid') AS uuid, \
            (SELECT value FROM _timescaledb_catalog.metadata WHERE key = 'dist_uuid') AS dist_uuid",
);

/// The session's user and whether it is a superuser.
pub(crate) const ROLE_IS_SUPERUSER: Sql = Sql::from_static(
    "SELECT current_user::text AS role, current_setting('is_superuser') = 'on' AS superuser",
);
