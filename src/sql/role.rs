//! Role statements. Passwords are sent only as SCRAM-SHA-256 verifiers, so the cleartext
//! never reaches the server; the verifier (a secret too: it allows offline guessing) goes in
//! the hole of a [`SecretTemplate`], filled on the server (see `crate::secret_send`).

use postgres_protocol::password::scram_sha_256;
use secrecy::{ExposeSecret, SecretString};

use super::quiet::SecretTemplate;
use super::{quote, Sql};
use crate::ident::Ident;

/// The SCRAM-SHA-256 verifier of `password` (a fresh random salt each time).
pub(crate) fn verifier(password: &SecretString) -> SecretString {
    SecretString::from(scram_sha_256(password.expose_secret().as_bytes()))
}

/// `ALTER ROLE <role> PASSWORD <hole>`.
pub(crate) fn alter_role_password(role: &Ident) -> SecretTemplate {
    SecretTemplate::new()
        .push(&format!("ALTER ROLE {} PASSWORD ", quote::ident(role)))
        .secret()
}

/// `ALTER ROLE <role> WITH LOGIN PASSWORD <hole>` when the role exists, else `CREATE ROLE
/// ...`: the two templates of an idempotent login role.
pub(crate) fn login_role(role: &Ident, exists: bool) -> SecretTemplate {
    SecretTemplate::new()
        .push(&format!(
            "{} ROLE {} WITH LOGIN PASSWORD ",
            if exists { "ALTER" } else { "CREATE" },
            quote::ident(role)
        ))
        .secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_a_verifier_not_the_password() {
        let v = verifier(&SecretString::from("cleartext-pw"));
        assert!(v.expose_secret().starts_with("SCRAM-SHA-256$4096:"));
        let role = Ident::new("tsdb admin%").unwrap();
        assert_eq!(
            alter_role_password(&role).text(),
            "ALTER ROLE \"tsdb admin%%\" PASSWORD %L"
        );
        assert_eq!(
            login_role(&role, false).text(),
            "CREATE ROLE \"tsdb admin%%\" WITH LOGIN PASSWORD %L"
        );
    }
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

/// `REVOKE <privileges> ON TABLE <table> FROM <role>`, for single privileges (the keywords
/// of [`Privilege::expanded`]).
pub(crate) fn revoke_on_table(
    privileges: &[&str],
    table: &super::hypertable::TableName,
    role: &Ident,
) -> Sql {
    Sql::rendered(format!(
        "REVOKE {} ON TABLE {} FROM {}",
        privileges.join(", "),
        table.regclass_text(),
        quote::ident(role)
    ))
}

/// The privileges granted to role `$2` directly on table `$1` (a quoted name, as text):
/// one row each, column `privilege`. Not those it has through PUBLIC or another role.
pub(crate) const DIRECT_TABLE_PRIVILEGES: Sql = Sql::from_static(
    "SELECT DISTINCT a.privilege_type AS privilege \
       FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a \
      WHERE c.oid OPERATOR(pg_catalog.=) \
            $1::pg_catalog.text::pg_catalog.regclass::pg_catalog.oid \
        AND a.grantee OPERATOR(pg_catalog.=) \
            (SELECT r.oid FROM pg_catalog.pg_roles r \
              WHERE r.rolname OPERATOR(pg_catalog.=) $2::pg_catalog.name)",
);

/// `GRANT <privileges> ON ALL TABLES IN SCHEMA <schema> TO <role>`.
pub(crate) fn grant_on_all_tables(privileges: &[Privilege], schema: &Ident, role: &Ident) -> Sql {
    let list: Vec<&str> = privileges.iter().map(|p| p.keyword()).collect();
    Sql::rendered(format!(
        "GRANT {} ON ALL TABLES IN SCHEMA {} TO {}",
        list.join(", "),
        quote::ident(schema),
        quote::ident(role)
    ))
}

/// `ALTER DEFAULT PRIVILEGES IN SCHEMA <schema> GRANT <privileges> ON TABLES TO <role>`:
/// the tables the current user creates there later get the privileges too.
pub(crate) fn default_privileges(privileges: &[Privilege], schema: &Ident, role: &Ident) -> Sql {
    let list: Vec<&str> = privileges.iter().map(|p| p.keyword()).collect();
    Sql::rendered(format!(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT {} ON TABLES TO {}",
        quote::ident(schema),
        list.join(", "),
        quote::ident(role)
    ))
}

/// For schema `$1`, role `$2` and privilege `$3`: how many tables of the schema (the kinds
/// `GRANT ... ON ALL TABLES` covers) the role lacks it on (`lacking`), and whether the
/// current user's default privileges there give it for new tables (`by_default`).
pub(crate) const SCHEMA_GRANT_STATE: Sql = Sql::from_static(
    "SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
              WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name \
                AND c.relkind::pg_catalog.text OPERATOR(pg_catalog.=) \
                    ANY ('{r,p,v,m,f}'::pg_catalog.text[]) \
                AND NOT pg_catalog.has_table_privilege($2::pg_catalog.name, c.oid, \
                                                       $3::pg_catalog.text)) AS lacking, \
            EXISTS (SELECT FROM pg_catalog.pg_default_acl d \
                      JOIN pg_catalog.pg_namespace n \
                        ON n.oid OPERATOR(pg_catalog.=) d.defaclnamespace, \
                           pg_catalog.aclexplode(d.defaclacl) a \
                     WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name \
                       AND d.defaclobjtype::pg_catalog.text OPERATOR(pg_catalog.=) 'r'::pg_catalog.text \
                       AND d.defaclrole OPERATOR(pg_catalog.=) \
                           (SELECT r.oid FROM pg_catalog.pg_roles r \
                             WHERE r.rolname OPERATOR(pg_catalog.=) current_user) \
                       AND a.grantee OPERATOR(pg_catalog.=) \
                           (SELECT r.oid FROM pg_catalog.pg_roles r \
                             WHERE r.rolname OPERATOR(pg_catalog.=) $2::pg_catalog.name) \
                       AND a.privilege_type OPERATOR(pg_catalog.=) $3::pg_catalog.text) \
              AS by_default",
);

/// Whether role `$1` exists.
pub(crate) const ROLE_EXISTS: Sql = Sql::from_static(
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_roles r \
                     WHERE r.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name) AS exists",
);

/// Whether role `$1` may log in: one row when it exists, column `can_login`.
pub(crate) const ROLE_LOGIN: Sql = Sql::from_static(
    "SELECT r.rolcanlogin AS can_login FROM pg_catalog.pg_roles r \
      WHERE r.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name",
);

/// Role `$1`'s stored password (`verifier`, null for none) and whether it has not
/// expired (`valid`): one row when it exists. Only a superuser may read `pg_authid`; the
/// verifier is read into a secret and checked by the crate, never shown.
pub(crate) const ROLE_VERIFIER: Sql = Sql::from_static(
    "SELECT a.rolpassword AS verifier, \
            (a.rolvaliduntil IS NULL \
             OR a.rolvaliduntil OPERATOR(pg_catalog.>) pg_catalog.now()) AS valid \
       FROM pg_catalog.pg_authid a \
      WHERE a.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name",
);

/// The roles among `$1` (`name[]`) that exist, each with whether it may log in (`role`,
/// `can_login`): every role a plan checks on a node, in one statement.
pub(crate) const ROLES_LOGIN: Sql = Sql::from_static(
    "SELECT r.rolname::pg_catalog.text AS role, r.rolcanlogin AS can_login \
       FROM pg_catalog.pg_roles r \
      WHERE r.rolname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])",
);

/// [`ROLES_LOGIN`] with each role's stored password and whether it has not expired
/// (`verifier`, `valid`, as in [`ROLE_VERIFIER`]), for a superuser (only one may read
/// `pg_authid`).
pub(crate) const ROLES_LOGIN_VERIFIER: Sql = Sql::from_static(
    "SELECT a.rolname::pg_catalog.text AS role, a.rolcanlogin AS can_login, \
            a.rolpassword AS verifier, \
            (a.rolvaliduntil IS NULL \
             OR a.rolvaliduntil OPERATOR(pg_catalog.>) pg_catalog.now()) AS valid \
       FROM pg_catalog.pg_authid a \
      WHERE a.rolname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])",
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
    fn revoke_lists_single_privileges() {
        let table = super::super::hypertable::TableName::new(Ident::new("sensor_data").unwrap());
        let sql = revoke_on_table(
            &["INSERT", "DELETE"],
            &table,
            &Ident::new("mn user").unwrap(),
        );
        assert_eq!(
            sql.text(),
            r#"REVOKE INSERT, DELETE ON TABLE "sensor_data" FROM "mn user""#
        );
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
