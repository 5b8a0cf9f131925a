//! Data-node calls. Every value is a bind parameter: these functions take them.

use super::Sql;

/// `add_data_node`, all arguments bound: `$1` name, `$2` host, `$3` database, `$4` port,
/// `$5` if_not_exists, `$6` bootstrap, `$7` password.
pub(crate) const ADD_DATA_NODE: Sql = Sql::from_static(
    "SELECT node_name::text AS node_name, host, port, database::text AS database, \
            node_created, database_created, extension_created \
       FROM add_data_node($1, host => $2, database => $3, port => $4, \
                          if_not_exists => $5, bootstrap => $6, password => $7)",
);

/// `timescaledb_information.data_nodes`, one row per data node.
pub(crate) const LIST_DATA_NODES: Sql = Sql::from_static(
    "SELECT node_name::text AS node_name, owner::text AS owner, \
            coalesce(options, '{}')::text[] AS options \
       FROM timescaledb_information.data_nodes ORDER BY node_name",
);

/// `CALL distributed_exec($1 query, $2 node list, $3 transactional)`.
pub(crate) const DISTRIBUTED_EXEC: Sql =
    Sql::from_static("CALL distributed_exec($1, $2::name[], $3)");
