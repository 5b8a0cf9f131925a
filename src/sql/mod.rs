//! The only place where SQL text is made.
//!
//! Renderers here are pure functions from validated input ([`crate::Ident`], secrets) to
//! [`Sql`]; the rest of the crate runs only `Sql` values, never a caller's `&str`. Values are
//! bound as parameters wherever the statement takes them; utility statements that cannot
//! (`ALTER ROLE`, `CREATE DATABASE`, ...) are quoted through [`quote`], which wraps
//! `postgres_protocol::escape` and nothing else.
//!
//! Every function call names its schema (`pg_catalog`, or TimescaleDB's schemas from
//! [`functions::Schemas`]), every bind parameter is cast to a `pg_catalog` type, and every
//! operator is written `OPERATOR(pg_catalog.op)`, so a look-alike function or operator
//! that a role created in a schema the server searches is never chosen instead
//! ([`functions`] says why; a unit test in `audit` checks every statement).

use std::borrow::Cow;
use std::fmt;

#[cfg(test)]
mod audit;
// Used by the `testing` fixtures; audited (src/sql/audit.rs) in every build.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) mod bootstrap;
pub(crate) mod copy;
pub(crate) mod data_node;
pub(crate) mod extension;
pub(crate) mod functions;
pub(crate) mod heal;
pub(crate) mod hypertable;
pub(crate) mod lifecycle;
pub(crate) mod migrate_source;
pub(crate) mod migrate_target;
pub(crate) mod migrate_verify;
pub(crate) mod plan;
pub(crate) mod quiet;
pub(crate) mod quote;
pub(crate) mod raw;
pub(crate) mod role;
pub(crate) mod server_info;
pub(crate) mod session;
pub(crate) mod status;
pub(crate) mod user_mapping;

/// A statement made by this crate (from static text or a renderer in this module).
///
/// A statement that carries a secret (even a SCRAM verifier) is marked so: its `Debug` output
/// shows only a label.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Sql {
    text: Cow<'static, str>,
    secret: bool,
    /// Whether a session may keep it prepared: its text is the same for every use on a
    /// server (static text, or rendered from nothing but the server's TimescaleDB schemas).
    keep: bool,
}

impl Sql {
    /// A statement written into the crate's source.
    pub(crate) const fn from_static(text: &'static str) -> Self {
        Sql {
            text: Cow::Borrowed(text),
            secret: false,
            keep: true,
        }
    }

    /// A statement assembled by a renderer from quoted identifiers and literals.
    pub(crate) fn rendered(text: String) -> Self {
        Sql {
            text: Cow::Owned(text),
            secret: false,
            keep: false,
        }
    }

    /// A statement rendered from nothing but the server's TimescaleDB schemas: the same text
    /// every time on one server, so a session may keep it prepared.
    pub(crate) fn rendered_to_keep(text: String) -> Self {
        Sql {
            text: Cow::Owned(text),
            secret: false,
            keep: true,
        }
    }

    /// A rendered statement that embeds a secret.
    pub(crate) fn rendered_secret(text: String) -> Self {
        Sql {
            text: Cow::Owned(text),
            secret: true,
            keep: false,
        }
    }

    /// Caller-written SQL ([`raw::RawSql`]), which its constructor says the caller vouches for.
    pub(crate) fn vouched(raw: &raw::RawSql) -> Self {
        Sql {
            text: Cow::Owned(raw.as_str().to_owned()),
            secret: false,
            keep: false,
        }
    }

    /// The text to send.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The text, when a session may keep the statement prepared (see
    /// [`Sql::rendered_to_keep`]).
    pub(crate) fn kept_text(&self) -> Option<&Cow<'static, str>> {
        self.keep.then_some(&self.text)
    }
}

impl fmt::Debug for Sql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            f.write_str("Sql(<statement with a secret, redacted>)")
        } else {
            f.debug_tuple("Sql").field(&self.text).finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_statements_are_redacted_in_debug() {
        let s = Sql::rendered_secret("ALTER ROLE x PASSWORD 'hush'".into());
        assert!(!format!("{s:?}").contains("hush"));
        let p = Sql::from_static("SELECT 1");
        assert_eq!(format!("{p:?}"), "Sql(\"SELECT 1\")");
    }
}
