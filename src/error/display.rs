//! The messages and the source chain of [`Error`]: each text once (the rule is on [`Error`]).

use std::error::Error as StdError;
use std::fmt;

use tokio_postgres::error::DbError;

use super::Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput { op, node, reason } => {
                write!(
                    f,
                    "{op}{}: invalid input: {reason}",
                    OnNode(node.as_deref())
                )
            }
            Error::Unreachable { op, node, .. } => {
                write!(f, "{op} on node {node}: server unreachable")
            }
            Error::Timeout { op, node, after } => {
                write!(f, "{op} on node {node}: timed out after {after:?}")
            }
            Error::Deadline { op, node, after } => write!(
                f,
                "{op} on node {node}: did not finish within {after:?}; cancelled"
            ),
            Error::PoolTimeout { op, node, after } => write!(
                f,
                "{op} on node {node}: no pooled connection free after {after:?}"
            ),
            Error::AuthenticationFailed { op, node, user, .. } => write!(
                f,
                "{op} on node {node}: authentication failed for user {user}"
            ),
            Error::ChannelBindingNotUsed { op, node, user, .. } => write!(
                f,
                "{op} on node {node}: channel binding required, but the server authenticated \
                 without it (it needs SCRAM-SHA-256 authentication for user {user}, over TLS)"
            ),
            Error::ConnectionLost { op, node, .. } => {
                write!(f, "{op} on node {node}: connection lost")
            }
            Error::Tls { op, node, .. } => write!(f, "{op} on node {node}: TLS handshake failed"),
            Error::UnsupportedServer { op, node, reason } => {
                write!(f, "{op} on node {node}: unsupported server: {reason}")
            }
            Error::MissingPrivilege {
                op,
                node,
                role,
                privilege,
            } => write!(f, "{op} on node {node}: the role {role} lacks {privilege}"),
            Error::Database { op, node, source } => {
                write!(f, "{op} on node {node}: ")?;
                match source.as_db_error() {
                    Some(db) => server_words(f, db),
                    // Not built so by the crate; say what the driver says.
                    None => write!(f, "{source}"),
                }
            }
            Error::AlreadyExists {
                op, node, object, ..
            } => write!(f, "{op} on node {node}: {object} already exists"),
            Error::NotFound {
                op, node, object, ..
            } => write!(f, "{op} on node {node}: {object} does not exist"),
            Error::NoUserMapping { op, node, .. } => write!(
                f,
                "{op}: the access node has no password for data node {node} (no user mapping)"
            ),
            Error::DataNodeDown { op, node } => write!(
                f,
                "{op}: data node {node} does not answer the access node; refusing to write"
            ),
            Error::WouldLoseData { op, node, .. } => {
                write!(f, "{op} on node {node}: refused, it would lose data")
            }
            Error::SecretWouldBeLogged { op, node, setting } => write!(
                f,
                "{op} on node {node}: refusing to send a secret: the setting {setting} would \
                 record it, and this role cannot turn it off (a superuser can; or accept the \
                 risk with SecretLogging::Accept)"
            ),
            Error::VerificationFailed { op, node, mismatch } => {
                write!(f, "{op} on node {node}: {mismatch}")
            }
            Error::Client { op, node, .. } => write!(f, "{op} on node {node}: client error"),
            Error::Conflict { op, node, reason } => {
                write!(f, "{op} on node {node}: conflict: {reason}")
            }
            Error::StalePlan { op, node, reason } => {
                write!(f, "{op} on node {node}: the plan is out of date: {reason}")
            }
            Error::Several { op, errors } => {
                write!(f, "{op}: {} errors: ", errors.len())?;
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
            #[cfg(feature = "testing")]
            Error::Fixture {
                op,
                reason,
                log_tail,
            } => {
                write!(f, "{op}: {reason}")?;
                if let Some(tail) = log_tail {
                    write!(f, "\n--- server log (last lines) ---\n{tail}")?;
                }
                Ok(())
            }
        }
    }
}

/// The server's error in one line: `message (SQLSTATE code; detail: ...; hint: ...)`.
fn server_words(f: &mut fmt::Formatter<'_>, db: &DbError) -> fmt::Result {
    write!(f, "{} (SQLSTATE {}", db.message(), db.code().code())?;
    if let Some(detail) = db.detail() {
        write!(f, "; detail: {}", OneLine(detail))?;
    }
    if let Some(hint) = db.hint() {
        write!(f, "; hint: {}", OneLine(hint))?;
    }
    f.write_str(")")
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            // The server's words are in the message already.
            Error::Database { .. } => None,
            Error::Unreachable { source, .. }
            | Error::AuthenticationFailed { source, .. }
            | Error::ChannelBindingNotUsed { source, .. }
            | Error::ConnectionLost { source, .. }
            | Error::Tls { source, .. }
            | Error::AlreadyExists { source, .. }
            | Error::NotFound { source, .. }
            | Error::NoUserMapping { source, .. }
            | Error::WouldLoseData { source, .. }
            | Error::Client { source, .. } => Some(cause(source)),
            _ => None,
        }
    }
}

/// What a classified variant's `source()` gives: the server's error itself when the server
/// reported it (the driver's wrapper around it says only "db error"), the driver's error
/// otherwise (its message names what failed, its source the I/O or TLS error underneath).
fn cause(source: &tokio_postgres::Error) -> &(dyn StdError + 'static) {
    match source.as_db_error() {
        Some(db) => db,
        None => source,
    }
}

/// ` on node <node>`, or nothing.
struct OnNode<'a>(Option<&'a str>);

impl fmt::Display for OnNode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(node) => write!(f, " on node {node}"),
            None => Ok(()),
        }
    }
}

/// A server's text with its line breaks (and the tabs libpq indents with) folded into
/// spaces, so that a message stays one line.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = self.0.split(['\n', '\t']).filter(|w| !w.trim().is_empty());
        if let Some(first) = words.next() {
            f.write_str(first.trim_end())?;
        }
        for word in words {
            write!(f, " {}", word.trim())?;
        }
        Ok(())
    }
}
