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
