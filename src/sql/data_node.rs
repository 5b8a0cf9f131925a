//! Data-node calls. Every value is a bind parameter cast to the type the function declares,
//! and every TimescaleDB function is qualified with the extension's schema ([`Schemas`]).

use super::functions::Schemas;
use super::Sql;

/// `add_data_node`, all arguments bound: `$1` name, `$2` host, `$3` database, `$4` port,
/// `$5` if_not_exists, `$6` bootstrap, `$7` password.
pub(crate) fn add_data_node(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT node_name::pg_catalog.text AS node_name, host, port, \
                database::pg_catalog.text AS database, \
                node_created, database_created, extension_created \
           FROM {}.add_data_node($1::pg_catalog.name, host => $2::pg_catalog.text, \
                                 database => $3::pg_catalog.name, port => $4::pg_catalog.int4, \
                                 if_not_exists => $5::pg_catalog.bool, \
                                 bootstrap => $6::pg_catalog.bool, \
                                 password => $7::pg_catalog.text)",
        schemas.api()
    ))
}

/// The access node's data nodes (its `timescaledb_fdw` foreign servers), one row each:
/// what `timescaledb_information.data_nodes` shows, read from the catalog because that view
/// prints the owner through `regrole`, which quotes it when the server sets
/// `quote_all_identifiers`.
pub(crate) const LIST_DATA_NODES: Sql = Sql::from_static(
    "SELECT s.srvname::pg_catalog.text AS node_name, \
            pg_catalog.pg_get_userbyid(s.srvowner)::pg_catalog.text AS owner, \
            coalesce(s.srvoptions, '{}')::pg_catalog.text[] AS options \
       FROM pg_catalog.pg_foreign_server s \
       JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid OPERATOR(pg_catalog.=) s.srvfdw \
      WHERE w.fdwname OPERATOR(pg_catalog.=) 'timescaledb_fdw' \
      ORDER BY s.srvname",
);

/// `CALL distributed_exec($1 query, $2 node list, $3 transactional)`.
pub(crate) fn distributed_exec(schemas: &Schemas) -> Sql {
    Sql::rendered_to_keep(format!(
        "CALL {}.distributed_exec($1::pg_catalog.text, $2::pg_catalog.name[], \
                                  $3::pg_catalog.bool)",
        schemas.api()
    ))
}

/// The statement that proves a round trip from the access node to data nodes (through
/// `distributed_exec`, which runs it there).
pub(crate) const ROUND_TRIP: Sql = Sql::from_static("SELECT 1");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::Ident;

    #[test]
    fn qualifies_with_the_quoted_extension_schema() {
        let schemas = Schemas::new(Ident::new("ts api").unwrap(), "_timescaledb_functions");
        assert_eq!(
            distributed_exec(&schemas)
                .text()
                .split_whitespace()
                .collect::<Vec<_>>(),
            [
                "CALL",
                "\"ts",
                "api\".distributed_exec($1::pg_catalog.text,",
                "$2::pg_catalog.name[],",
                "$3::pg_catalog.bool)"
            ]
        );
        assert!(add_data_node(&schemas)
            .text()
            .contains("FROM \"ts api\".add_data_node($1::pg_catalog.name, host => $2::"));
    }
}
