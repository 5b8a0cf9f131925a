//! What `Cluster::status` reads.

use super::functions::Schemas;
use super::Sql;

/// TimescaleDB's prepared (two-phase) transactions on a data node (`ts-<...>` GIDs) in the
/// session's database only: `pg_prepared_xacts` lists every database of the instance, and
/// another database's transactions are neither this cluster's nor resolvable from it
/// (TimescaleDB's own healing reads the view the same way).
pub(crate) const PREPARED_TRANSACTIONS: Sql = Sql::from_static(
    "SELECT p.gid, p.prepared::pg_catalog.text AS prepared, p.owner::pg_catalog.text AS owner, \
            p.database::pg_catalog.text AS database \
       FROM pg_catalog.pg_prepared_xacts p \
      WHERE p.gid OPERATOR(pg_catalog.~~) 'ts-%' \
        AND p.database OPERATOR(pg_catalog.=) pg_catalog.current_database() \
      ORDER BY p.prepared",
);

/// Chunks with fewer replicas than their hypertable wants (2.4+, on the access node).
pub(crate) const UNDER_REPLICATED_CHUNKS: Sql = Sql::from_static(
    "SELECT r.hypertable_schema::pg_catalog.text AS hypertable_schema, \
            r.hypertable_name::pg_catalog.text AS hypertable_name, \
            r.chunk_schema::pg_catalog.text AS chunk_schema, \
            r.chunk_name::pg_catalog.text AS chunk_name, \
            r.desired_num_replicas::pg_catalog.int4 AS desired, \
            r.num_replicas::pg_catalog.int4 AS actual, \
            coalesce(r.replica_nodes, '{}')::pg_catalog.text[] AS replica_nodes \
       FROM timescaledb_experimental.chunk_replication_status r \
      WHERE r.num_replicas OPERATOR(pg_catalog.<) r.desired_num_replicas \
      ORDER BY r.hypertable_schema, r.hypertable_name, r.chunk_name",
);

/// `ping_data_node` for each name in `$1`, in the internal functions' schema: `node_name`,
/// `up`.
pub(crate) fn ping(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT n::pg_catalog.text AS node_name, {}.ping_data_node(n) AS up \
           FROM pg_catalog.unnest($1::pg_catalog.name[]) n",
        schemas.internal()
    ))
}

/// The data nodes of hypertable `$1` (a quoted name, as text); no row for a table that is
/// not a distributed hypertable.
pub(crate) const HYPERTABLE_DATA_NODES: Sql = Sql::from_static(
    "SELECT coalesce(h.data_nodes, '{}')::pg_catalog.text[] AS data_nodes \
       FROM timescaledb_information.hypertables h \
       JOIN pg_catalog.pg_class c ON c.relname OPERATOR(pg_catalog.=) h.hypertable_name \
       JOIN pg_catalog.pg_namespace s ON s.oid OPERATOR(pg_catalog.=) c.relnamespace \
                                     AND s.nspname OPERATOR(pg_catalog.=) h.hypertable_schema \
      WHERE c.oid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
        AND h.is_distributed",
);
