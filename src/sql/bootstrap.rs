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
    }
}
