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
