//! Two-phase-commit healing on the access node.

use super::Sql;

/// `remote_txn_heal_data_node` for data node `$1` (2.12+ schema).
static HEAL_FUNCTIONS: Sql = Sql::from_static(
    "SELECT _timescaledb_functions.remote_txn_heal_data_node(s.oid) AS healed \
       FROM pg_catalog.pg_foreign_server s WHERE s.srvname = $1",
);

/// The same before 2.12.
static HEAL_INTERNAL: Sql = Sql::from_static(
    "SELECT _timescaledb_internal.remote_txn_heal_data_node(s.oid) AS healed \
       FROM pg_catalog.pg_foreign_server s WHERE s.srvname = $1",
);

/// The heal call for a server whose internal functions live in `schema`.
pub(crate) fn heal(schema: &str) -> &'static Sql {
    if schema == "_timescaledb_functions" {
        &HEAL_FUNCTIONS
    } else {
        &HEAL_INTERNAL
    }
}

/// The access node's two-phase-commit records for data node `$1`.
pub(crate) const REMOTE_TXN_COUNT: Sql = Sql::from_static(
    "SELECT count(*) AS records FROM _timescaledb_catalog.remote_txn WHERE data_node_name = $1",
);

/// Consumes an access-node transaction id (in its own committed transaction), so that the
/// xid of a transaction lost in a crash no longer counts as in progress.
pub(crate) const ADVANCE_XID: Sql = Sql::from_static("SELECT txid_current()::int8 AS xid");
