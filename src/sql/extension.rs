//! `CREATE EXTENSION` / `ALTER EXTENSION ... UPDATE` for TimescaleDB.

use super::{quote, Sql};
use crate::version::Version;

/// The installed TimescaleDB version of the current database (no row when not installed).
pub(crate) const INSTALLED_VERSION: Sql = Sql::from_static(
    "SELECT e.extversion::pg_catalog.text AS version FROM pg_catalog.pg_extension e \
      WHERE e.extname OPERATOR(pg_catalog.=) 'timescaledb'",
);

/// The installed version (NULL when not installed), the version `CREATE EXTENSION` or a
/// plain `ALTER EXTENSION ... UPDATE` goes to, whether this role may update it (owner, member
/// of the owner, or superuser), whether the server can install it at all, and whether the
/// library is preloaded (read as in [`super::server_info::SERVER_INFO`],
/// without privileges): what deciding to create or update needs.
pub(crate) const EXTENSION_STATE: Sql = Sql::from_static(
    "SELECT (SELECT e.extversion::pg_catalog.text FROM pg_catalog.pg_extension e \
              WHERE e.extname OPERATOR(pg_catalog.=) 'timescaledb') AS version, \
            (SELECT a.default_version::pg_catalog.text FROM pg_catalog.pg_available_extensions a \
              WHERE a.name OPERATOR(pg_catalog.=) 'timescaledb') AS default_version, \
            COALESCE((SELECT pg_catalog.pg_has_role(e.extowner, 'USAGE'::pg_catalog.text) \
                        FROM pg_catalog.pg_extension e \
                       WHERE e.extname OPERATOR(pg_catalog.=) 'timescaledb'), true) \
              AS may_update, \
            EXISTS (SELECT FROM pg_catalog.pg_available_extensions a \
                     WHERE a.name OPERATOR(pg_catalog.=) 'timescaledb') AS available, \
            EXISTS (SELECT FROM pg_catalog.pg_settings g \
                     WHERE g.name OPERATOR(pg_catalog.=) 'timescaledb.max_background_workers' \
                       AND g.vartype OPERATOR(pg_catalog.=) 'integer') AS preloaded",
);

/// `ALTER EXTENSION timescaledb UPDATE [TO '<version>']`.
pub(crate) fn update(to: Option<Version>) -> Sql {
    match to {
        None => Sql::from_static("ALTER EXTENSION timescaledb UPDATE"),
        Some(v) => Sql::rendered(format!(
            "ALTER EXTENSION timescaledb UPDATE TO {}",
            quote::literal(&v.to_string())
        )),
    }
}

/// `CREATE EXTENSION IF NOT EXISTS timescaledb [VERSION '<version>']`.
pub(crate) fn create(version: Option<Version>) -> Sql {
    match version {
        None => Sql::from_static("CREATE EXTENSION IF NOT EXISTS timescaledb"),
        Some(v) => Sql::rendered(format!(
            "CREATE EXTENSION IF NOT EXISTS timescaledb VERSION {}",
            quote::literal(&v.to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_versions_as_literals() {
        assert_eq!(update(None).text(), "ALTER EXTENSION timescaledb UPDATE");
        assert_eq!(
            update(Some(Version::new(2, 13, 1))).text(),
            "ALTER EXTENSION timescaledb UPDATE TO '2.13.1'"
        );
        assert_eq!(
            create(Some(Version::new(2, 9, 3))).text(),
            "CREATE EXTENSION IF NOT EXISTS timescaledb VERSION '2.9.3'"
        );
    }
}
