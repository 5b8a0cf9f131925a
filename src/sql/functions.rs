//! Every function the crate's SQL calls, and the schemas it calls them in.
//!
//! A role that may create functions in a schema the server searches (`public` on PostgreSQL
//! 13 and 14 by default, and in databases upgraded from them) can create one with the name
//! of a function the crate calls and parameter types that win overload resolution against
//! the real one (`text` where the real one takes `name`, for an untyped argument). The
//! server would then run it as the crate's admin, with the crate's arguments: a data
//! node's password among them (CVE-2018-1058). So every call the crate makes names the
//! function's schema, casts every argument to the declared type (the real function is then
//! an exact match, which no look-alike in the same schema can beat), and writes every
//! operator as `OPERATOR(pg_catalog.op)`. TimescaleDB's API lives in the extension's
//! schema, read from the catalog ([`Schemas`]); it is `public` unless the extension was
//! created `WITH SCHEMA`, so the look-alikes can sit right beside the real functions.
//!
//! [`CALLED`] is the one list of those functions. A unit test checks it against the text of
//! every statement the crate can send (each call qualified, in the list, and each listed
//! function called), and the integration test `hijack` plants the look-alikes of
//! [`LookAlike`] on a real cluster and shows that none of them runs.

// The registry is public through `testing::called_functions` when that feature is on.
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub, dead_code))]

use super::quote;
use crate::ident::Ident;

/// The schemas a statement's TimescaleDB calls are qualified with, read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schemas {
    /// The extension's schema (`pg_extension.extnamespace`): TimescaleDB's API.
    api: Ident,
    /// `_timescaledb_functions` (2.12 and later) or `_timescaledb_internal`: TimescaleDB's
    /// internal functions, as the capability table says.
    internal: &'static str,
}

impl Schemas {
    /// The API in schema `api`, the internal functions in `internal` (a schema name from
    /// the capability table).
    pub(crate) fn new(api: Ident, internal: &'static str) -> Self {
        Schemas { api, internal }
    }

    /// The extension's schema, quoted.
    pub(crate) fn api(&self) -> String {
        quote::ident(&self.api)
    }

    /// The internal functions' schema (a plain lower-case name, written as is).
    pub(crate) fn internal(&self) -> &'static str {
        self.internal
    }
}

/// Where a function the crate calls lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FunctionHome {
    /// PostgreSQL's built-ins, `pg_catalog`.
    PgCatalog,
    /// TimescaleDB's API, in the extension's schema (`public` unless the extension was
    /// created `WITH SCHEMA`).
    Api,
    /// TimescaleDB's internal functions: `_timescaledb_functions` from 2.12,
    /// `_timescaledb_internal` before ([`Capabilities::internal_schema`](crate::server::Capabilities::internal_schema)).
    Internal,
    /// `timescaledb_experimental`.
    Experimental,
    /// The session's own temporary schema, `pg_temp`: the function the crate creates there
    /// to complete a statement with its secret (`crate::secret_send`). The server never
    /// looks for functions there unless a call names it, and no other session can create
    /// in it.
    SessionTemp,
}

/// What kind of routine a called function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FunctionKind {
    /// A function, called in a `SELECT`.
    Function,
    /// A procedure, run with `CALL`.
    Procedure,
    /// An aggregate, such as `count(*)`.
    Aggregate,
}

/// A function with the name of a called one, as a role that may create functions in
/// `public` could plant it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookAlike {
    /// Its parameter list, as in `CREATE FUNCTION name(<params>)` (`*` for an aggregate
    /// over rows).
    pub params: &'static str,
    /// Its result, as in `RETURNS <returns>` (`TABLE(...)` for rows; empty for a procedure
    /// or an aggregate).
    pub returns: &'static str,
    /// The argument list of an unqualified call shaped like the crate's calls before every
    /// argument was typed, which this look-alike wins (when `pg_catalog` comes after
    /// `public` in the search path, for an exact copy of a built-in); `None` when no
    /// look-alike can win such a call, with the reason in the function's documentation
    /// below.
    pub wins: Option<&'static str>,
}

/// A function the crate's SQL calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CalledFunction {
    /// Its schema.
    pub home: FunctionHome,
    /// Its name.
    pub name: &'static str,
    /// Function, procedure or aggregate.
    pub kind: FunctionKind,
    /// Look-alikes to plant in `public` for it.
    pub look_alikes: &'static [LookAlike],
}

impl CalledFunction {
    /// The qualified name the crate calls it by, given the extension's schema (quoted, as
    /// the crate writes it) and the internal functions' schema.
    pub fn qualified(&self, api_schema_quoted: &str, internal_schema: &str) -> String {
        let schema = match self.home {
            PgCatalog => "pg_catalog",
            Api => api_schema_quoted,
            Internal => internal_schema,
            Experimental => "timescaledb_experimental",
            SessionTemp => "pg_temp",
        };
        format!("{schema}.{}", self.name)
    }
}

const fn called(
    home: FunctionHome,
    name: &'static str,
    kind: FunctionKind,
    look_alikes: &'static [LookAlike],
) -> CalledFunction {
    CalledFunction {
        home,
        name,
        kind,
        look_alikes,
    }
}

const fn look_alike(
    params: &'static str,
    returns: &'static str,
    wins: Option<&'static str>,
) -> LookAlike {
    LookAlike {
        params,
        returns,
        wins,
    }
}

use FunctionHome::{Api, Experimental, Internal, PgCatalog, SessionTemp};
use FunctionKind::{Aggregate, Function, Procedure};

/// Every function the crate's SQL calls, with look-alikes for each.
///
/// TimescaleDB's functions get a look-alike with the real parameter names and defaults (so
/// the same named arguments fit) whose parameters are `text`, the preferred type for an
/// untyped argument, where the real one takes `name` or `regclass`: it wins the call, and
/// where the other types are kept, the crate's values still bind and it runs with them,
/// password included. (`distributed_exec`'s look-alike takes its flag as `text`; the only
/// other winner would be an exact copy.) Built-ins get an exact copy, which wins wherever
/// `public` comes before `pg_catalog` in the search path, and, where one exists, a better
/// match for how the crate called them. `create_distributed_restore_point(name text)` has
/// no winning look-alike: nothing beats `text` for an untyped argument, and a copy cannot
/// sit beside the real one in the same schema.
pub(crate) const CALLED: &[CalledFunction] = &[
    // TimescaleDB's API (the extension's schema).
    called(
        Api,
        "add_data_node",
        Function,
        &[look_alike(
            "node_name text, host text, database text DEFAULT NULL, port integer DEFAULT NULL, \
             if_not_exists boolean DEFAULT false, bootstrap boolean DEFAULT true, \
             password text DEFAULT NULL",
            "TABLE(node_name name, host text, port integer, database name, \
             node_created boolean, database_created boolean, extension_created boolean)",
            Some(
                "NULL, host => NULL, database => NULL, port => NULL, if_not_exists => NULL, \
                 bootstrap => NULL, password => NULL",
            ),
        )],
    ),
    called(
        Api,
        "alter_data_node",
        Function,
        &[look_alike(
            "node_name text, host text DEFAULT NULL, database text DEFAULT NULL, \
             port integer DEFAULT NULL, available boolean DEFAULT NULL",
            "TABLE(node_name name, host text, port integer, database name, available boolean)",
            Some("NULL, host => NULL, database => NULL, port => NULL, available => NULL"),
        )],
    ),
    called(
        Api,
        "attach_data_node",
        Function,
        &[look_alike(
            "node_name text, hypertable text, if_not_attached boolean DEFAULT false, \
             repartition boolean DEFAULT true",
            "TABLE(hypertable_id integer, node_hypertable_id integer, node_name name)",
            Some("NULL, NULL, if_not_attached => NULL, repartition => NULL"),
        )],
    ),
    called(
        Api,
        "detach_data_node",
        Function,
        &[look_alike(
            "node_name text, hypertable text DEFAULT NULL, if_attached boolean DEFAULT false, \
             force boolean DEFAULT false, repartition boolean DEFAULT true, \
             drop_remote_data boolean DEFAULT false",
            "integer",
            Some(
                "NULL, hypertable => NULL, if_attached => NULL, force => NULL, repartition => NULL",
            ),
        )],
    ),
    called(
        Api,
        "delete_data_node",
        Function,
        &[look_alike(
            "node_name text, if_exists boolean DEFAULT false, force boolean DEFAULT false, \
             repartition boolean DEFAULT true, drop_database boolean DEFAULT false",
            "boolean",
            Some("NULL, if_exists => NULL, force => NULL, repartition => NULL"),
        )],
    ),
    called(
        Api,
        "create_distributed_hypertable",
        Function,
        &[look_alike(
            // The relation stays `regclass` (the crate cast it), the names become `text`.
            "relation regclass, time_column_name text, partitioning_column text DEFAULT NULL, \
             number_partitions integer DEFAULT NULL, associated_schema_name name DEFAULT NULL, \
             associated_table_prefix name DEFAULT NULL, \
             chunk_time_interval anyelement DEFAULT NULL::bigint, \
             create_default_indexes boolean DEFAULT true, if_not_exists boolean DEFAULT false, \
             partitioning_func regproc DEFAULT NULL, migrate_data boolean DEFAULT false, \
             chunk_target_size text DEFAULT NULL, chunk_sizing_func regproc DEFAULT NULL, \
             time_partitioning_func regproc DEFAULT NULL, \
             replication_factor integer DEFAULT NULL, data_nodes name[] DEFAULT NULL",
            "TABLE(hypertable_id integer, schema_name name, table_name name, created boolean)",
            Some("NULL::regclass, NULL, partitioning_column => NULL, if_not_exists => false"),
        )],
    ),
    called(
        Api,
        "set_replication_factor",
        Function,
        &[look_alike(
            "hypertable text, replication_factor integer",
            "void",
            Some("NULL, NULL"),
        )],
    ),
    called(
        Api,
        "set_chunk_time_interval",
        Function,
        &[look_alike(
            "hypertable text, chunk_time_interval bigint",
            "void",
            Some("NULL, 1::bigint"),
        )],
    ),
    called(
        Api,
        "create_distributed_restore_point",
        Function,
        &[look_alike(
            "name character varying",
            "TABLE(node_name name, node_type text, restore_point pg_lsn)",
            None,
        )],
    ),
    called(
        Api,
        "distributed_exec",
        Procedure,
        &[look_alike(
            "query text, node_list name[] DEFAULT NULL, transactional text DEFAULT NULL",
            "",
            Some("NULL, NULL::name[], NULL"),
        )],
    ),
    // TimescaleDB's internal functions.
    called(
        Internal,
        "ping_data_node",
        Function,
        &[look_alike(
            "node_name text, timeout text DEFAULT NULL",
            "boolean",
            Some("NULL"),
        )],
    ),
    called(
        Internal,
        "remote_txn_heal_data_node",
        Function,
        &[look_alike(
            "foreign_server_oid oid",
            "integer",
            Some("NULL::oid"),
        )],
    ),
    // TimescaleDB's experimental functions.
    called(
        Experimental,
        "block_new_chunks",
        Function,
        &[look_alike(
            "data_node_name text, hypertable text DEFAULT NULL, force boolean DEFAULT false",
            "integer",
            Some("NULL, NULL, force => NULL"),
        )],
    ),
    called(
        Experimental,
        "allow_new_chunks",
        Function,
        &[look_alike(
            "data_node_name text, hypertable text DEFAULT NULL",
            "integer",
            Some("NULL, NULL"),
        )],
    ),
    called(
        Api,
        "create_hypertable",
        Function,
        &[look_alike(
            // The relation stays `regclass` (the crate cast it), the name becomes `text`.
            "relation regclass, time_column_name text, partitioning_column text DEFAULT NULL, \
             number_partitions integer DEFAULT NULL, associated_schema_name name DEFAULT NULL, \
             associated_table_prefix name DEFAULT NULL, \
             chunk_time_interval anyelement DEFAULT NULL::bigint, \
             create_default_indexes boolean DEFAULT true, if_not_exists boolean DEFAULT false",
            "TABLE(hypertable_id integer, schema_name name, table_name name, created boolean)",
            Some(
                "NULL::regclass, NULL, chunk_time_interval => NULL::interval, \
                 create_default_indexes => NULL",
            ),
        )],
    ),
    // PostgreSQL's built-ins.
    called(
        PgCatalog,
        "aclexplode",
        Function,
        &[look_alike(
            "aclitem[]",
            "TABLE(grantor oid, grantee oid, privilege_type text, is_grantable boolean)",
            Some("NULL::aclitem[]"),
        )],
    ),
    called(
        PgCatalog,
        "format_type",
        Function,
        &[look_alike(
            "oid, integer",
            "text",
            Some("NULL::oid, NULL::integer"),
        )],
    ),
    called(
        PgCatalog,
        "hashtextextended",
        Function,
        &[look_alike("text, bigint", "bigint", Some("NULL::text, 0"))],
    ),
    called(
        PgCatalog,
        "pg_get_constraintdef",
        Function,
        &[look_alike("oid", "text", Some("NULL::oid"))],
    ),
    called(
        PgCatalog,
        "pg_get_expr",
        Function,
        &[look_alike(
            "pg_node_tree, oid",
            "text",
            Some("NULL::pg_node_tree, NULL::oid"),
        )],
    ),
    called(
        PgCatalog,
        "pg_get_userbyid",
        Function,
        &[look_alike("oid", "name", Some("NULL::oid"))],
    ),
    called(
        PgCatalog,
        "to_char",
        Function,
        &[look_alike(
            "timestamp without time zone, text",
            "text",
            Some("NULL::timestamp without time zone, NULL::text"),
        )],
    ),
    called(
        PgCatalog,
        "pg_get_indexdef",
        Function,
        &[look_alike("oid", "text", Some("NULL::oid"))],
    ),
    called(
        PgCatalog,
        "pg_total_relation_size",
        Function,
        &[look_alike("regclass", "bigint", Some("NULL::regclass"))],
    ),
    called(
        PgCatalog,
        "sum",
        Aggregate,
        &[look_alike("bigint", "", Some("1::bigint"))],
    ),
    called(
        PgCatalog,
        "count",
        Aggregate,
        &[look_alike("*", "", Some("*"))],
    ),
    called(
        PgCatalog,
        "current_database",
        Function,
        &[look_alike("", "name", Some(""))],
    ),
    called(
        PgCatalog,
        "current_setting",
        Function,
        &[
            look_alike("text", "text", Some("NULL")),
            look_alike("text, boolean", "text", Some("NULL, true")),
        ],
    ),
    called(
        PgCatalog,
        "format",
        Function,
        &[look_alike(
            "text, text, text",
            "text",
            Some("NULL, NULL, NULL"),
        )],
    ),
    called(
        PgCatalog,
        "has_server_privilege",
        Function,
        &[look_alike("oid, text", "boolean", Some("NULL::oid, NULL"))],
    ),
    called(
        PgCatalog,
        "pg_has_role",
        Function,
        &[look_alike("oid, text", "boolean", Some("NULL::oid, NULL"))],
    ),
    called(
        PgCatalog,
        "quote_literal",
        Function,
        &[look_alike("text", "text", Some("NULL::text"))],
    ),
    called(
        PgCatalog,
        "replace",
        Function,
        &[look_alike(
            "text, text, text",
            "text",
            Some("NULL, NULL, NULL"),
        )],
    ),
    called(
        PgCatalog,
        "substr",
        Function,
        &[look_alike("text, integer", "text", Some("NULL, NULL"))],
    ),
    called(
        SessionTemp,
        "tsmn_secret",
        Function,
        &[look_alike(
            "text, text, boolean",
            "void",
            Some("NULL, NULL, NULL"),
        )],
    ),
    called(
        PgCatalog,
        "has_table_privilege",
        Function,
        &[
            look_alike(
                "text, regclass, text",
                "boolean",
                Some("NULL, NULL::regclass, NULL"),
            ),
            look_alike(
                "name, oid, text",
                "boolean",
                Some("NULL::name, NULL::oid, NULL::text"),
            ),
        ],
    ),
    called(
        PgCatalog,
        "set_config",
        Function,
        &[look_alike(
            "text, text, boolean",
            "text",
            Some("NULL, NULL, false"),
        )],
    ),
    called(
        PgCatalog,
        "split_part",
        Function,
        &[look_alike(
            "text, text, integer",
            "text",
            Some("NULL, NULL, 1"),
        )],
    ),
    called(
        PgCatalog,
        "to_regclass",
        Function,
        &[look_alike("text", "regclass", Some("NULL"))],
    ),
    called(
        PgCatalog,
        "now",
        Function,
        &[look_alike("", "timestamp with time zone", Some(""))],
    ),
    called(
        PgCatalog,
        "pg_conf_load_time",
        Function,
        &[look_alike("", "timestamp with time zone", Some(""))],
    ),
    called(
        PgCatalog,
        "pg_try_advisory_lock",
        Function,
        &[look_alike("bigint", "boolean", Some("0::bigint"))],
    ),
    called(
        PgCatalog,
        "host",
        Function,
        &[look_alike("inet", "text", Some("NULL::inet"))],
    ),
    called(
        PgCatalog,
        "pg_advisory_unlock",
        Function,
        &[look_alike("bigint", "boolean", Some("0::bigint"))],
    ),
    called(
        PgCatalog,
        "pg_is_in_recovery",
        Function,
        &[look_alike("", "boolean", Some(""))],
    ),
    called(
        PgCatalog,
        "txid_current",
        Function,
        &[look_alike("", "bigint", Some(""))],
    ),
    called(
        PgCatalog,
        "unnest",
        Function,
        &[
            look_alike("name[]", "SETOF name", Some("NULL::name[]")),
            look_alike("text[]", "SETOF text", Some("NULL::text[]")),
        ],
    ),
];

/// The entry of `name` in [`CALLED`].
#[cfg(test)]
pub(crate) fn called_function(name: &str) -> Option<&'static CalledFunction> {
    CALLED.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_once_with_a_look_alike() {
        for (i, f) in CALLED.iter().enumerate() {
            assert!(
                CALLED[..i].iter().all(|g| g.name != f.name),
                "{} is listed twice",
                f.name
            );
            assert!(!f.look_alikes.is_empty(), "{} has no look-alike", f.name);
        }
        assert_eq!(called_function("add_data_node").unwrap().home, Api);
    }

    #[test]
    fn qualified_names() {
        let f = called_function("ping_data_node").unwrap();
        assert_eq!(
            f.qualified("\"public\"", "_timescaledb_functions"),
            "_timescaledb_functions.ping_data_node"
        );
        let f = called_function("add_data_node").unwrap();
        assert_eq!(f.qualified("\"ts\"", "x"), "\"ts\".add_data_node");
    }
}
