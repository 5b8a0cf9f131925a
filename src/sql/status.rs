//! What `Cluster::status` reads.

use super::Sql;

/// TimescaleDB's prepared (two-phase) transactions on a data node: `ts-<...>` GIDs.
pub(crate) const PREPARED_TRANSACTIONS: Sql = Sql::from_static(
    "SELECT gid, prepared::text AS prepared, owner::text AS owner, database::text AS database \
       FROM pg_catalog.pg_prepared_xacts WHERE gid LIKE 'ts-%' ORDER BY prepared",
);

/// Chunks with fewer replicas than their hypertable wants (2.4+, on the access node).
pub(crate) const UNDER_REPLICATED_CHUNKS: Sql = Sql::from_static(
    "SELECT hypertable_schema::text AS hypertable_schema, hypertable_name::text AS hypertable_name, \
            chunk_schema::text AS chunk_schema, chunk_name::text AS chunk_name, \
            desired_num_replicas::int4 AS desired, num_replicas::int4 AS actual, \
            coalesce(replica_nodes, '{}')::text[] AS replica_nodes \
       FROM timescaledb_experimental.chunk_replication_status \
      WHERE num_replicas < desired_num_replicas \
      ORDER BY hypertable_schema, hypertable_name, chunk_name",
);

/// `ping_data_node` for each name in `$1` (2.12+ schema): `node_name`, `up`.
static PING_FUNCTIONS: Sql = Sql::from_static(
    "SELECT n::text AS node_name, _timescaledb_functions.ping_data_node(n) AS up \
       FROM unnest($1::name[]) n",
);

/// The same before 2.12.
static PING_INTERNAL: Sql = Sql::from_static(
    "SELECT n::text AS node_name, _timescaledb_internal.ping_data_node(n) AS up \
       FROM unnest($1::name[]) n",
);

/// The ping call for a server whose internal functions live in `schema`.
pub(crate) fn ping(schema: &str) -> &'static Sql {
    if schema == "_timescaledb_functions" {
        &PING_FUNCTIONS
    } else {
        &PING_INTERNAL
    }
}

/// The data nodes of hypertable `$1` (a quoted name, as text); no row for a table that is
/// not a distributed hypertable.
pub(crate) const HYPERTABLE_DATA_NODES: Sql = Sql::from_static(
    "SELECT coalesce(h.data_nodes, '{}')::text[] AS data_nodes \
       FROM timescaledb_information.hypertables h \
       JOIN pg_catalog.pg_class c ON c.relname = h.hypertable_name \
       JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace AND s.nspname = h.hypertable_schema \
      WHERE c.oid = to_regclass($1) AND h.is_distributed",
);
