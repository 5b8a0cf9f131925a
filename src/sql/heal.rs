//! Two-phase-commit healing on the access node.

use super::functions::Schemas;
use super::Sql;

/// `remote_txn_heal_data_node` for data node `$1`, in the internal functions' schema.
pub(crate) fn heal(schemas: &Schemas) -> Sql {
    Sql::rendered(format!(
        "SELECT {}.remote_txn_heal_data_node(s.oid) AS healed \
           FROM pg_catalog.pg_foreign_server s \
          WHERE s.srvname OPERATOR(pg_catalog.=) $1::pg_catalog.name",
        schemas.internal()
    ))
}

/// The access node's two-phase-commit records for data node `$1`.
pub(crate) const REMOTE_TXN_COUNT: Sql = Sql::from_static(
    "SELECT pg_catalog.count(*) AS records FROM _timescaledb_catalog.remote_txn r \
      WHERE r.data_node_name OPERATOR(pg_catalog.=) $1::pg_catalog.name",
);

/// Consumes an access-node transaction id (in its own committed transaction), so that the
/// xid of a transaction lost in a crash no longer counts as in progress.
pub(crate) const ADVANCE_XID: Sql =
    Sql::from_static("SELECT pg_catalog.txid_current()::pg_catalog.int8 AS xid");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::Ident;

    #[test]
    fn heals_in_the_internal_schema() {
        let old = Schemas::new(Ident::new("public").unwrap(), "_timescaledb_internal");
        assert!(heal(&old)
            .text()
            .starts_with("SELECT _timescaledb_internal.remote_txn_heal_data_node(s.oid)"));
    }
}
