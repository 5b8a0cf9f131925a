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

/// `timescaledb_information.data_nodes`, one row per data node.
pub(crate) const LIST_DATA_NODES: Sql = Sql::from_static(
    "SELECT d.node_name::pg_catalog.text AS node_name, d.owner::pg_catalog.text AS owner, \
            coalesce(d.options, '{}')::pg_catalog.text[] AS options \
       FROM timescaledb_information.data_nodes d ORDER BY d.node_name",
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
