//! Driver and server errors sorted into [`Error`] variants.
//!
//! By the SQLSTATE and the server's structured fields wherever the server gives them. Text
//! is read in two places only, each said where it happens:
//!
//! - tokio-postgres's own errors (a connect timeout, a failed TLS handshake, a broken-off
//!   channel binding): its kinds are private and its messages are fixed English strings,
//!   never translated, so they are a stable if unlovely key;
//! - a data node's failure that the access node relays as text: TimescaleDB raises its own
//!   SQLSTATE (08001 `could not connect to "dn1"`, XX000 `[dn1]: ...`) and puts the data
//!   node's (or libpq's) words in the message or the DETAIL, dropping their SQLSTATE. Those
//!   words are in the access node's and the data node's `lc_messages`; they are matched in
//!   English here, and anything else is left as [`Error::Unreachable`] (for a failed
//!   connection) or [`Error::Database`], with the words intact. TimescaleDB's own messages
//!   have no translations, so the node names read from them are always found.
//!   [`crate::Cluster::status`] and [`crate::Cluster::plan`] tell a relayed wrong password or
//!   missing user mapping apart in any language from what they know of the mapping
//!   (`cluster/relayed.rs`).

use std::error::Error as StdError;
use std::io;

use tokio_postgres::error::SqlState;

use super::{DriverError, Error};

impl Error {
    /// Classifies a driver error from connecting to `node` as `user` for `op`.
    pub(crate) fn from_connect(
        op: &'static str,
        node: &str,
        user: &str,
        source: tokio_postgres::Error,
    ) -> Self {
        let node = node.to_owned();
        if is_channel_binding_not_used(&source) {
            return Error::ChannelBindingNotUsed {
                op,
                node,
                user: user.to_owned(),
                driver: DriverError::new(source),
            };
        }
        if let Some(db) = source.as_db_error() {
            if is_auth_failure(db.code()) {
                return Error::AuthenticationFailed {
                    op,
                    node,
                    user: user.to_owned(),
                    driver: DriverError::new(source),
                };
            }
            return Error::Database {
                op,
                node,
                driver: DriverError::new(source),
            };
        }
        // tokio-postgres's own refusals of a login (a password the server asked for and the
        // config lacks, an unsupported method): its fixed text, see the module docs.
        if source.to_string().starts_with("authentication error") {
            return Error::AuthenticationFailed {
                op,
                node,
                user: user.to_owned(),
                driver: DriverError::new(source),
            };
        }
        if is_tls_failure(&source) {
            return Error::Tls {
                op,
                node,
                driver: DriverError::new(source),
            };
        }
        if io_error(&source).is_some() || is_connect_timeout(&source) || source.is_closed() {
            return Error::Unreachable {
                op,
                node,
                driver: DriverError::new(source),
            };
        }
        Error::Client {
            op,
            node,
            driver: DriverError::new(source),
        }
    }

    /// Classifies a driver error from a statement `op` on an established session.
    pub(crate) fn from_statement(
        op: &'static str,
        node: &str,
        source: tokio_postgres::Error,
    ) -> Self {
        let node = node.to_owned();
        if let Some(refusal) = secret_refusal(op, &node, &source) {
            return refusal;
        }
        if source.as_db_error().is_some() {
            return Error::Database {
                op,
                node,
                driver: DriverError::new(source),
            };
        }
        if source.is_closed() || io_error(&source).is_some() {
            return Error::ConnectionLost {
                op,
                node,
                driver: DriverError::new(source),
                ended_by: None,
            };
        }
        Error::Client {
            op,
            node,
            driver: DriverError::new(source),
        }
    }

    /// Classifies a server error from a multi-node call on the access node `node`: errors the
    /// access node relays from a data node (`[dn1]: ...`, `could not connect to "dn1"`) name
    /// that data node.
    pub(crate) fn from_access_node(
        op: &'static str,
        node: &str,
        source: tokio_postgres::Error,
    ) -> Self {
        let Some(db) = source.as_db_error() else {
            return Error::from_statement(op, node, source);
        };
        if let Some(refusal) = secret_refusal(op, node, &source) {
            return refusal;
        }
        let message = db.message();
        let detail = db.detail().unwrap_or_default();
        let code = db.code();
        if *code == SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION {
            // TimescaleDB's message (never translated) names the data node.
            if let Some(dn) = quoted_after(message, "could not connect to ")
                .or_else(|| quoted_after(message, "could not connect to data node "))
            {
                // The DETAIL is libpq's message on the access node, with the data node's
                // FATAL: text that can only be read as text, in English (module docs).
                if detail.contains("no password supplied") {
                    return Error::NoUserMapping {
                        op,
                        node: dn,
                        driver: DriverError::new(source),
                    };
                }
                if detail.contains("password authentication failed") {
                    let user = quoted_after(detail, "for user ").unwrap_or_default();
                    return Error::AuthenticationFailed {
                        op,
                        node: dn,
                        user,
                        driver: DriverError::new(source),
                    };
                }
                return Error::Unreachable {
                    op,
                    node: dn,
                    driver: DriverError::new(source),
                };
            }
        }
        // TS170 (TimescaleDB's `insufficient_num_data_nodes`) is raised for a node whose
        // removal would lose data and for one that would leave too few nodes; the former's
        // DETAIL, TimescaleDB's own words, tells them apart.
        if code.code() == "TS170" && detail.contains("would lose data") {
            let dn = quoted_after(detail, "if data node ").unwrap_or_else(|| node.to_owned());
            return Error::WouldLoseData {
                op,
                node: dn,
                driver: DriverError::new(source),
            };
        }
        let remote = remote_node(message);
        // A foreign server (a data node) that exists, or does not: PostgreSQL's messages,
        // in the access node's language; the SQLSTATE decides, the name is read where the
        // words are known (otherwise the error stays a `Database` one, with kind
        // `AlreadyExists` or `NotFound` all the same).
        if *code == SqlState::DUPLICATE_OBJECT {
            if let Some(name) = foreign_server(message) {
                return Error::AlreadyExists {
                    op,
                    node: node.to_owned(),
                    object: format!("data node \"{name}\""),
                    driver: DriverError::new(source),
                };
            }
        }
        if *code == SqlState::UNDEFINED_OBJECT && remote.is_none() {
            if let Some(name) = foreign_server(message) {
                return Error::NotFound {
                    op,
                    node: node.to_owned(),
                    object: format!("data node \"{name}\""),
                    driver: DriverError::new(source),
                };
            }
        }
        let node = remote.unwrap_or_else(|| node.to_owned());
        Error::Database {
            op,
            node,
            driver: DriverError::new(source),
        }
    }

    /// Builds an [`Error::InvalidInput`].
    pub(crate) fn invalid(op: &'static str, node: Option<&str>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            op,
            node: node.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

/// The refusal the secret guard raises (`crate::sql::quiet::guard`), on `node` or relayed from
/// a data node (`[dn1]: ...`), as [`Error::SecretWouldBeLogged`]. The guard is the crate's
/// own code: its SQLSTATE and its message, which names the setting, are the crate's.
fn secret_refusal(op: &'static str, node: &str, source: &tokio_postgres::Error) -> Option<Error> {
    use crate::sql::quiet::{REFUSED_PREFIX, REFUSED_SQLSTATE};
    let db = source.as_db_error()?;
    if db.code().code() != REFUSED_SQLSTATE {
        return None;
    }
    let message = db.message();
    let setting = message.split(REFUSED_PREFIX).nth(1)?.to_owned();
    Some(Error::SecretWouldBeLogged {
        op,
        node: remote_node(message).unwrap_or_else(|| node.to_owned()),
        setting,
    })
}

/// The name in double quotes right after `prefix` in `text`: `server "dn1" already exists`
/// with prefix `server ` gives `dn1`.
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let rest = text[start..].strip_prefix('"')?;
    let end = rest.rfind('"')?;
    // Names may themselves hold quotes; the closing quote is the one before the rest of the
    // sentence, so take the longest match that leaves a known tail.
    let candidate = &rest[..end];
    Some(match candidate.find("\" ") {
        Some(stop) => candidate[..stop].to_owned(),
        None => candidate.to_owned(),
    })
}

/// The foreign server (data node) a message is about: `server "dn1" already exists` or
/// `server "dn9" does not exist` give `dn1`, `dn9`; a message about something else that
/// names a server (`user mapping for "u" already exists for server "dn1"`) gives nothing.
fn foreign_server(message: &str) -> Option<String> {
    if !message.starts_with("server \"") {
        return None;
    }
    quoted_after(message, "server ")
}

/// The data node a relayed error names: `[dn1]: relation "x" does not exist` gives `dn1`
/// (TimescaleDB's prefix, the same in every language).
pub(super) fn remote_node(message: &str) -> Option<String> {
    let rest = message.strip_prefix('[')?;
    let end = rest.find("]: ")?;
    Some(rest[..end].to_owned())
}

/// tokio-postgres breaks off a login that `channel_binding=require` forbids with an
/// authentication error whose cause says so; that (fixed, English) text is the only public
/// way to recognise it.
fn is_channel_binding_not_used(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_none()
        && err
            .source()
            .is_some_and(|cause| cause.to_string().contains("did not use channel binding"))
}

/// tokio-postgres's failed TLS handshake: its fixed text, the only public way to tell it.
fn is_tls_failure(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_none()
        && err
            .to_string()
            .starts_with("error performing TLS handshake")
}

/// SQLSTATE class 28, `invalid_authorization_specification`.
fn is_auth_failure(code: &SqlState) -> bool {
    code.code().starts_with("28")
}

/// The first I/O error in the driver error's source chain.
pub(crate) fn io_error(err: &tokio_postgres::Error) -> Option<&io::Error> {
    let mut cause: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cause = e.source();
    }
    None
}

/// tokio-postgres reports its own connect timeout with a dedicated error kind, whose fixed
/// text (`timeout waiting for server`) is the only public way to recognise it.
pub(super) fn is_connect_timeout(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_none() && err.to_string().contains("timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_quoted_and_bracketed_node_names() {
        assert_eq!(
            quoted_after(r#"could not connect to "dn1""#, "could not connect to "),
            Some("dn1".to_owned())
        );
        assert_eq!(
            quoted_after(r#"server "dn 2" already exists"#, "server "),
            Some("dn 2".to_owned())
        );
        assert_eq!(
            quoted_after(
                r#"Distributed hypertable "t" would lose data if data node "dn1" is deleted."#,
                "if data node "
            ),
            Some("dn1".to_owned())
        );
        assert_eq!(quoted_after("no quotes here", "server "), None);
        assert_eq!(
            foreign_server(r#"server "dn1" already exists"#),
            Some("dn1".to_owned())
        );
        assert_eq!(
            foreign_server(r#"user mapping for "u" already exists for server "dn1""#),
            None
        );
        assert_eq!(remote_node("[dn1]: boom"), Some("dn1".to_owned()));
        assert_eq!(remote_node("boom"), None);
    }
}
