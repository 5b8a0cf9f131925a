//! Session set-up and transaction control.

use super::Sql;

/// Puts `pg_catalog` first in this session's search path, before the path the server gave
/// it (the role's, the database's or the server's `search_path`), for sessions that run only
/// the crate's own statements.
///
/// Those statements qualify every name anyway; this also covers what the crate cannot
/// qualify: names resolved inside TimescaleDB's own code, and the statements
/// `distributed_exec` and DDL propagation run on the data nodes, where TimescaleDB sets
/// `search_path` to the access node's path followed by `pg_catalog` (so without this,
/// `pg_catalog` comes last there). Everything else still resolves as the server's path
/// says; the first schema for new objects becomes `pg_catalog`, where nothing can be
/// created, so such sessions never create objects without naming their schema.
pub(crate) const CATALOG_FIRST: Sql = Sql::from_static(
    "SELECT pg_catalog.set_config('search_path'::pg_catalog.text, \
            CASE WHEN pg_catalog.current_setting('search_path'::pg_catalog.text) \
                      OPERATOR(pg_catalog.=) '' \
                 THEN 'pg_catalog'::pg_catalog.text \
                 ELSE 'pg_catalog, ' OPERATOR(pg_catalog.||) \
                      pg_catalog.current_setting('search_path'::pg_catalog.text) END, \
            false)",
);

/// Gives the session back the search path the server gave it (what [`CATALOG_FIRST`]
/// changed), for a caller's statement on a session of the crate's: its names resolve, and
/// its new objects go, where they would on a pooled session.
pub(crate) const RESET_SEARCH_PATH: Sql = Sql::from_static("RESET search_path");

/// Sets this session's `statement_timeout` to `$1` (text such as `2500ms`), so the server
/// itself ends a statement that passes its deadline (an access node waiting on a data node
/// that never answers, say), even when the client's cancel request is lost.
pub(crate) const STATEMENT_TIMEOUT: Sql = Sql::from_static(
    "SELECT pg_catalog.set_config('statement_timeout'::pg_catalog.text, $1::pg_catalog.text, \
            false)",
);

/// Starts a transaction block.
pub(crate) const BEGIN: Sql = Sql::from_static("BEGIN");

/// Starts a read-only transaction block.
pub(crate) const BEGIN_READ_ONLY: Sql = Sql::from_static("BEGIN READ ONLY");

/// Commits the transaction block.
pub(crate) const COMMIT: Sql = Sql::from_static("COMMIT");

/// Rolls the transaction block back.
pub(crate) const ROLLBACK: Sql = Sql::from_static("ROLLBACK");

/// Sets this session's `statement_timeout` (`$1`) and `lock_timeout` (`$2`), each a number
/// of milliseconds as text, or `NULL` to leave the server's: the bounds every
/// statement on a pooled session runs under. Returns the server's `idle_session_timeout`
/// for this session as `current_setting` shows it (`NULL` on a server without it), so the
/// pool knows when a session it keeps is close to being ended as idle.
pub(crate) const SESSION_SETUP: Sql = Sql::from_static(
    "SELECT CASE WHEN $1::pg_catalog.text IS NOT NULL \
                 THEN pg_catalog.set_config('statement_timeout'::pg_catalog.text, \
                                            $1::pg_catalog.text, false) END, \
            CASE WHEN $2::pg_catalog.text IS NOT NULL \
                 THEN pg_catalog.set_config('lock_timeout'::pg_catalog.text, \
                                            $2::pg_catalog.text, false) END, \
            pg_catalog.current_setting('idle_session_timeout'::pg_catalog.text, true) \
                AS idle_session_timeout",
);

/// An empty statement: one round trip that proves the session still answers and restarts
/// the server's idle clock for it.
pub(crate) const PING: Sql = Sql::from_static("");

/// Takes the session-level advisory lock `$1` (`int8`) if it is free (`locked`): the lock
/// [`crate::Cluster::apply`] holds on the access node while it plans and runs steps (tried
/// again until it is free, so that the wait is the crate's own, not the session's
/// `lock_timeout`).
pub(crate) const APPLY_LOCK: Sql =
    Sql::from_static("SELECT pg_catalog.pg_try_advisory_lock($1::pg_catalog.int8) AS locked");

/// Who holds the session-level advisory lock whose `int8` key has high half `$1` and low
/// half `$2` (each an `oid`, as `pg_locks` shows such a key) in this database: `pid`, and as
/// far as this role may see them, `user_name`, `application_name`, `client_addr` and
/// `since` (the session's start, ISO 8601 in UTC). No row when it is free.
pub(crate) const APPLY_LOCK_HOLDER: Sql = Sql::from_static(
    "SELECT l.pid, a.usename::pg_catalog.text AS user_name, a.application_name, \
            pg_catalog.host(a.client_addr) AS client_addr, \
            pg_catalog.to_char(a.backend_start AT TIME ZONE 'UTC', \
                               'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS since \
       FROM pg_catalog.pg_locks l \
       LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid \
      WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted \
        AND l.database OPERATOR(pg_catalog.=) \
            (SELECT d.oid FROM pg_catalog.pg_database d \
              WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) \
        AND l.classid OPERATOR(pg_catalog.=) $1::pg_catalog.oid \
        AND l.objid OPERATOR(pg_catalog.=) $2::pg_catalog.oid \
        AND l.objsubid OPERATOR(pg_catalog.=) 1 \
      LIMIT 1",
);

/// Gives back the session-level advisory lock `$1` (`int8`) that [`APPLY_LOCK`] took.
pub(crate) const APPLY_UNLOCK: Sql =
    Sql::from_static("SELECT pg_catalog.pg_advisory_unlock($1::pg_catalog.int8) AS unlocked");
