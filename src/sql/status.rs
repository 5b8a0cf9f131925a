//! What `Cluster::status` reads.

use super::functions::Schemas;
use super::Sql;

/// TimescaleDB's prepared (two-phase) transactions on a data node (`ts-<...>` GIDs) in the
/// session's database only: `pg_prepared_xacts` lists every database of the instance, and
/// another database's transactions are neither this cluster's nor resolvable from it
/// (TimescaleDB's own healing reads the view the same way). The time is ISO 8601 in UTC,
/// whatever the server's `DateStyle` and `TimeZone`.
pub(crate) const PREPARED_TRANSACTIONS: Sql = Sql::from_static(
    "SELECT p.gid, \
            pg_catalog.to_char(p.prepared AT TIME ZONE 'UTC', \
                               'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS prepared, \
            p.owner::pg_catalog.text AS owner, \
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

/// The data nodes of the relation `$1` (a quoted name, as text): one row, with an empty
/// array for a table that is not a distributed hypertable. Read from TimescaleDB's catalog
/// by the hypertable's unique name (the `timescaledb_information.hypertables` view costs
/// several times as much: it counts chunks and reads compression settings).
macro_rules! data_nodes_of_relation {
    () => {
        "SELECT ARRAY(SELECT d.node_name::pg_catalog.text \
           FROM pg_catalog.pg_class c \
           JOIN pg_catalog.pg_namespace s ON s.oid OPERATOR(pg_catalog.=) c.relnamespace \
           JOIN _timescaledb_catalog.hypertable h \
             ON h.schema_name OPERATOR(pg_catalog.=) s.nspname \
            AND h.table_name OPERATOR(pg_catalog.=) c.relname \
           JOIN _timescaledb_catalog.hypertable_data_node d \
             ON d.hypertable_id OPERATOR(pg_catalog.=) h.id \
          WHERE c.oid OPERATOR(pg_catalog.=) \
                  pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
          ORDER BY d.node_name) AS data_nodes"
    };
}
pub(crate) use data_nodes_of_relation;

/// The data nodes of the relation `$1` (see [`data_nodes_of_relation`]), on a server with
/// TimescaleDB.
pub(crate) const HYPERTABLE_DATA_NODES: Sql = Sql::from_static(data_nodes_of_relation!());

/// The names of the access node's data nodes (its `timescaledb_fdw` foreign servers): a
/// catalog read, cheaper than `timescaledb_information.data_nodes`.
pub(crate) const DATA_NODE_NAMES: Sql = Sql::from_static(
    "SELECT s.srvname::pg_catalog.text AS node_name \
       FROM pg_catalog.pg_foreign_server s \
       JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid OPERATOR(pg_catalog.=) s.srvfdw \
      WHERE w.fdwname OPERATOR(pg_catalog.=) 'timescaledb_fdw' \
      ORDER BY s.srvname",
);
