//! Statements that prepare a fresh PostgreSQL instance (used by the `testing` fixture).

use super::{quote, Sql};
use crate::ident::Ident;

/// `CREATE ROLE <role> SUPERUSER LOGIN` (no password yet: it is set per node).
pub(crate) fn create_superuser(role: &Ident) -> Sql {
    Sql::rendered(format!(
        "CREATE ROLE {} SUPERUSER LOGIN",
        quote::ident(role)
    ))
}

/// `CREATE DATABASE <db> OWNER <owner>`.
pub(crate) fn create_database(database: &Ident, owner: &Ident) -> Sql {
    Sql::rendered(format!(
        "CREATE DATABASE {} OWNER {}",
        quote::ident(database),
        quote::ident(owner)
    ))
}

/// Turns `admin` into the managed-service admin of the how-to: not a superuser, may create
/// roles, owns schema `public` (run in the admin's database).
pub(crate) fn managed_admin(admin: &Ident) -> Sql {
    let admin = quote::ident(admin);
    Sql::rendered(format!(
        "ALTER ROLE {admin} NOSUPERUSER CREATEROLE; ALTER SCHEMA public OWNER TO {admin}"
    ))
}

/// What a managed service's superuser does for its admin where TimescaleDB is preloaded:
/// creates the extension, and grants `USAGE` on its foreign-data wrapper.
pub(crate) fn managed_timescaledb(admin: &Ident) -> Sql {
    Sql::rendered(format!(
        "CREATE EXTENSION IF NOT EXISTS timescaledb; \
         GRANT USAGE ON FOREIGN DATA WRAPPER timescaledb_fdw TO {}",
        quote::ident(admin)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_names() {
        let db = Ident::new("ts db").unwrap();
        let owner = Ident::new("Admin").unwrap();
        assert_eq!(
            create_database(&db, &owner).text(),
            r#"CREATE DATABASE "ts db" OWNER "Admin""#
        );
        assert_eq!(
            create_superuser(&owner).text(),
            r#"CREATE ROLE "Admin" SUPERUSER LOGIN"#
        );
        assert_eq!(
            managed_admin(&owner).text(),
            r#"ALTER ROLE "Admin" NOSUPERUSER CREATEROLE; ALTER SCHEMA public OWNER TO "Admin""#
        );
        assert!(managed_timescaledb(&owner)
            .text()
            .ends_with(r#"timescaledb_fdw TO "Admin""#));
    }
}
