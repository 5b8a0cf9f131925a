//! Role statements. Passwords are sent only as SCRAM-SHA-256 verifiers, so the cleartext
//! never reaches the server or its log.

use postgres_protocol::password::scram_sha_256;
use secrecy::{ExposeSecret, SecretString};

use super::{quote, Sql};
use crate::ident::Ident;

/// `ALTER ROLE <role> PASSWORD '<scram verifier>'`.
pub(crate) fn alter_role_password(role: &Ident, password: &SecretString) -> Sql {
    let verifier = scram_sha_256(password.expose_secret().as_bytes());
    Sql::rendered_secret(format!(
        "ALTER ROLE {} PASSWORD {}",
        quote::ident(role),
        quote::literal(&verifier)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_a_verifier_not_the_password() {
        let role = Ident::new("tsdb admin").unwrap();
        let sql = alter_role_password(&role, &SecretString::from("cleartext-pw"));
        assert!(sql
            .text()
            .starts_with("ALTER ROLE \"tsdb admin\" PASSWORD 'SCRAM-SHA-256$4096:"));
        assert!(!sql.text().contains("cleartext-pw"));
    }
}

/// Creates `role` with LOGIN and the password's SCRAM verifier, or, when it exists, sets
/// its LOGIN and password: one idempotent statement (a `DO` block whose body is a quoted
/// literal, so it can also travel as a `distributed_exec` parameter to data nodes). The
/// server's own `format('%I', ...)` quotes the name inside. Every name in the body is
/// qualified: on the data nodes it runs with the search path TimescaleDB sets there.
pub(crate) fn ensure_login_role(role: &Ident, password: &SecretString) -> Sql {
    let verifier = scram_sha_256(password.expose_secret().as_bytes());
    let name = quote::literal(role.as_str());
    let verifier = quote::literal(&verifier);
    let body = format!(
        "BEGIN \
           IF EXISTS (SELECT FROM pg_catalog.pg_roles r \
                       WHERE r.rolname OPERATOR(pg_catalog.=) {name}::pg_catalog.name) THEN \
             EXECUTE pg_catalog.format('ALTER ROLE %I WITH LOGIN PASSWORD %L'::pg_catalog.text, \
                                       {name}::pg_catalog.text, {verifier}::pg_catalog.text); \
           ELSE \
             EXECUTE pg_catalog.format('CREATE ROLE %I WITH LOGIN PASSWORD %L'::pg_catalog.text, \
                                       {name}::pg_catalog.text, {verifier}::pg_catalog.text); \
           END IF; \
         END"
    );
    Sql::rendered_secret(format!("DO {}", quote::literal(&body)))
}

/// A table privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Privilege {
    /// `SELECT`.
    Select,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `TRUNCATE`.
    Truncate,
    /// `ALL PRIVILEGES`.
    All,
}

impl Privilege {
    /// The SQL keyword(s).
    pub fn keyword(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::Truncate => "TRUNCATE",
            Privilege::All => "ALL PRIVILEGES",
        }
    }
}

/// `GRANT <privileges> ON TABLE <table> TO <role>`.
pub(crate) fn grant_on_table(
    privileges: &[Privilege],
    table: &super::hypertable::TableName,
    role: &Ident,
) -> Sql {
    let list: Vec<&str> = privileges.iter().map(|p| p.keyword()).collect();
    Sql::rendered(format!(
        "GRANT {} ON TABLE {} TO {}",
        list.join(", "),
        table.regclass_text(),
        quote::ident(role)
    ))
}

/// Whether role `$1` exists.
pub(crate) const ROLE_EXISTS: Sql = Sql::from_static(
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_roles r \
                     WHERE r.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name) AS exists",
);

/// Whether role `$1` has privilege `$3` on table `$2` (a quoted name, as text).
pub(crate) const HAS_TABLE_PRIVILEGE: Sql = Sql::from_static(
    "SELECT pg_catalog.has_table_privilege($1::pg_catalog.name, \
            $2::pg_catalog.text::pg_catalog.regclass::pg_catalog.oid, $3::pg_catalog.text) \
       AS granted",
);

impl Privilege {
    /// The single privileges this one stands for (`ALL` is each table privilege).
    pub(crate) fn expanded(self) -> &'static [&'static str] {
        match self {
            Privilege::Select => &["SELECT"],
            Privilege::Insert => &["INSERT"],
            Privilege::Update => &["UPDATE"],
            Privilege::Delete => &["DELETE"],
            Privilege::Truncate => &["TRUNCATE"],
            Privilege::All => &[
                "SELECT",
                "INSERT",
                "UPDATE",
                "DELETE",
                "TRUNCATE",
                "REFERENCES",
                "TRIGGER",
            ],
        }
    }
}

#[cfg(test)]
mod ensure_tests {
    use super::*;

    #[test]
    fn ensure_login_role_is_one_quoted_do_block() {
        let sql = ensure_login_role(&Ident::new("o'neil").unwrap(), &SecretString::from("pw"));
        assert!(sql.text().starts_with("DO 'BEGIN"));
        assert!(sql
            .text()
            .contains("r.rolname OPERATOR(pg_catalog.=) ''o''''neil''::pg_catalog.name"));
        assert!(sql.text().contains("EXECUTE pg_catalog.format("));
        assert!(!sql.text().contains("pw'"));
    }

    #[test]
    fn grant_lists_privileges() {
        let table = super::super::hypertable::TableName::new(Ident::new("sensor_data").unwrap());
        let sql = grant_on_table(
            &[Privilege::Select, Privilege::Insert],
            &table,
            &Ident::new("mn_user1").unwrap(),
        );
        assert_eq!(
            sql.text(),
            r#"GRANT SELECT, INSERT ON TABLE "sensor_data" TO "mn_user1""#
        );
    }
}
