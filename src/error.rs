//! The crate's one error type.
//!
//! Every variant names the operation that failed and, where one was involved, the node it was
//! talking to. No variant carries SQL text or a password: statements that hold a secret never
//! reach an error, and the server's own message is kept only as the driver reported it.

use std::error::Error as StdError;
use std::io;

use tokio_postgres::error::{DbError, SqlState};

/// Shorthand for `Result<T, timescaledb_multinode::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// The variants are the situations a caller can act on. Match on them, or use the accessors
/// ([`Error::node`], [`Error::code`], [`Error::as_db_error`], [`Error::is_timeout`]) that work
/// across variants.
///
/// Messages are lowercase without a trailing period; the underlying driver error is in
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent to a server: an identifier with a NUL
    /// byte or over 63 bytes, a port of 0, an empty host, and the like.
    #[error("{op}{}: invalid input: {reason}", on_node(node.as_deref()))]
    InvalidInput {
        /// What was being done.
        op: &'static str,
        /// The node concerned, when the input belonged to one.
        node: Option<String>,
        /// Why the input was refused.
        reason: String,
    },

    /// Nothing answered: connection refused, host unreachable, or the connect timeout passed.
    #[error("{op} on node {node}: server unreachable ({})", io_reason(source))]
    Unreachable {
        /// What was being done.
        op: &'static str,
        /// The node that could not be reached.
        node: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A connection could not be established within the configured connect timeout (the
    /// server accepted the TCP connection, or did not, but never finished the handshake),
    /// or a node's step did not finish within its deadline ([`crate::Cluster::node_deadline`];
    /// `node` is then the node that did not answer, which may be a data node the access
    /// node was waiting for).
    #[error("{op} on node {node}: timed out after {after:?}")]
    Timeout {
        /// What was being done.
        op: &'static str,
        /// The node that did not answer in time.
        node: String,
        /// The timeout that expired.
        after: std::time::Duration,
    },

    /// An operation on a pooled session did not finish within its deadline (the pool's
    /// statement timeout plus a grace period): the statement was cancelled on the server
    /// and the session closed. Whether a write took effect is unknown unless the operation
    /// says otherwise (an ingest that had not finished wrote nothing).
    #[error("{op} on node {node}: did not finish within {after:?}; cancelled")]
    Deadline {
        /// What was being done.
        op: &'static str,
        /// The node the statement ran on.
        node: String,
        /// The deadline that passed.
        after: std::time::Duration,
    },

    /// No pooled connection became free within the pool's checkout timeout.
    #[error("{op} on node {node}: no pooled connection free after {after:?}")]
    PoolTimeout {
        /// What was being done.
        op: &'static str,
        /// The node whose pool is exhausted.
        node: String,
        /// The checkout timeout.
        after: std::time::Duration,
    },

    /// The server answered and refused the credentials (SQLSTATE class 28).
    #[error("{op} on node {node}: authentication failed for user {user}")]
    AuthenticationFailed {
        /// What was being done.
        op: &'static str,
        /// The node that refused.
        node: String,
        /// The user name that was refused.
        user: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The config requires channel binding ([`crate::ChannelBinding::Require`]) and the
    /// server authenticated without it: it let the user in without a password (`trust`),
    /// asked for one in another way (`md5`, `password`), or offered SCRAM without channel
    /// binding. The client broke off the handshake; no password was sent.
    #[error(
        "{op} on node {node}: channel binding required, but the server authenticated without \
         it (it needs SCRAM-SHA-256 authentication for user {user}, over TLS)"
    )]
    ChannelBindingNotUsed {
        /// What was being done.
        op: &'static str,
        /// The node concerned.
        node: String,
        /// The user name that was logging in.
        user: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// An established connection was closed under the caller (server restarted or crashed).
    #[error("{op} on node {node}: connection lost")]
    ConnectionLost {
        /// What was being done.
        op: &'static str,
        /// The node whose connection was lost.
        node: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// TLS could not be set up: the server refused it, or its certificate failed
    /// verification (`verify-full`: unknown issuer, or a name that does not match the host).
    #[error("{op} on node {node}: TLS handshake failed")]
    Tls {
        /// What was being done.
        op: &'static str,
        /// The node concerned.
        node: String,
        /// The driver's error (the TLS library's reason is in its source).
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server is not one this crate can work with for the requested operation: no
    /// TimescaleDB, the Apache-only build, a version without multi-node, an unsupported
    /// PostgreSQL major, or a feature the installed version does not have.
    #[error("{op} on node {node}: unsupported server: {reason}")]
    UnsupportedServer {
        /// What was being done.
        op: &'static str,
        /// The node that was checked.
        node: String,
        /// What is missing and how to get it.
        reason: String,
    },

    /// The connecting role lacks a privilege the operation needs (found before anything was
    /// sent, such as a managed service's admin, which is not a superuser, asking for what
    /// TimescaleDB reserves to superusers).
    #[error("{op} on node {node}: the role {role} lacks {privilege}")]
    MissingPrivilege {
        /// What was being done.
        op: &'static str,
        /// The node that was checked.
        node: String,
        /// The role that was checked.
        role: String,
        /// The privilege it lacks, and why it is needed.
        privilege: String,
    },

    /// The server reported an error (it carries a SQLSTATE, message, detail and hint).
    #[error("{op} on node {node}: {}", db_summary(source))]
    Database {
        /// What was being done.
        op: &'static str,
        /// The node that reported the error.
        node: String,
        /// The driver's error; [`Error::as_db_error`] reaches its fields.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The object to create exists already (a data node, a user mapping, a hypertable).
    #[error("{op} on node {node}: {object} already exists")]
    AlreadyExists {
        /// What was being done.
        op: &'static str,
        /// The node that reported it.
        node: String,
        /// What exists, e.g. `data node "dn1"`.
        object: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A named object does not exist (a data node, a role, a table).
    #[error("{op} on node {node}: {object} does not exist")]
    NotFound {
        /// What was being done.
        op: &'static str,
        /// The node that reported it.
        node: String,
        /// What is missing, e.g. `data node "dn9"`.
        object: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The access node has no password for a data node: the current role has no user mapping
    /// with a password for it, and no passfile entry (`fe_sendauth: no password supplied`).
    #[error("{op}: the access node has no password for data node {node} (no user mapping)")]
    NoUserMapping {
        /// What was being done.
        op: &'static str,
        /// The data node.
        node: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A data node a write needs does not answer the access node. Writing anyway can crash
    /// the access node (TimescaleDB 2.13 dereferences a dead connection when a distributed
    /// COPY or INSERT reaches a chunk with a replica on a down node), so the crate refuses.
    #[error("{op}: data node {node} does not answer the access node; refusing to write")]
    DataNodeDown {
        /// What was being done.
        op: &'static str,
        /// The data node that is down.
        node: String,
    },

    /// The server refused because the operation would lose data (for example deleting or
    /// detaching the only data node that holds some chunks).
    #[error("{op} on node {node}: refused, it would lose data")]
    WouldLoseData {
        /// What was being done.
        op: &'static str,
        /// The node the data is on.
        node: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A secret was not sent: a setting of the node would record it (in the server log or a
    /// statistics view), and the connecting role cannot turn that setting off for its session
    /// (only a superuser can). Nothing secret reached the node. A superuser role can, or the
    /// caller may accept the risk with [`crate::SecretLogging::Accept`].
    #[error(
        "{op} on node {node}: refusing to send a secret: the setting {setting} would record          it, and this role cannot turn it off (a superuser can; or accept the risk with          SecretLogging::Accept)"
    )]
    SecretWouldBeLogged {
        /// What was being done.
        op: &'static str,
        /// The node whose setting it is (a data node when it was checked through the access
        /// node).
        node: String,
        /// The setting, such as `log_statement`.
        setting: String,
    },

    /// A migration's verification found that the target's rows of a time range differ from
    /// the rows of that range's chunks on the data nodes (row count or checksum): the copy
    /// is not exact. The chunks are named; nothing is repaired automatically.
    #[error("{op} on node {node}: {mismatch}")]
    VerificationFailed {
        /// What was being done.
        op: &'static str,
        /// The target node.
        node: String,
        /// The table, the chunks and both sides' counts and checksums.
        mismatch: Box<Mismatch>,
    },

    /// A driver error that is neither a server error nor a connection problem (for example a
    /// row that could not be decoded into the expected type).
    #[error("{op} on node {node}: client error")]
    Client {
        /// What was being done.
        op: &'static str,
        /// The node concerned.
        node: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The live cluster has something the spec contradicts and that cannot be changed in
    /// place (a table that is a hypertable but not a distributed one, a data node registered
    /// at another address on a server without `alter_data_node`, ...). Nothing was changed;
    /// the reason says what to do by hand.
    #[error("{op} on node {node}: conflict: {reason}")]
    Conflict {
        /// What was being done.
        op: &'static str,
        /// The node where the conflict is (the first, when there are several).
        node: String,
        /// What conflicts, and why it cannot be changed in place (every conflict).
        reason: String,
    },

    /// An approved plan was not applied: the cluster (or the spec) changed since the plan
    /// was made. Plan again and approve the new plan.
    #[error("{op} on node {node}: the plan is out of date: {reason}")]
    StalePlan {
        /// What was being done.
        op: &'static str,
        /// The access node.
        node: String,
        /// What differs.
        reason: String,
    },

    /// Several nodes failed in one operation; each error names its node.
    #[error("{op}: {} errors: {}", errors.len(), list_errors(errors))]
    Several {
        /// What was being done.
        op: &'static str,
        /// Every error, in the order they happened.
        errors: Vec<Error>,
    },

    /// A local test cluster (feature `testing`) could not be set up or torn down.
    #[error("{op}: {reason}{}", log_suffix(log_tail.as_deref()))]
    Fixture {
        /// What was being done.
        op: &'static str,
        /// What went wrong.
        reason: String,
        /// The last lines of the server log, when a server was involved.
        log_tail: Option<String>,
    },
}

impl Error {
    /// Classifies a driver error from connecting to `node` as `user` for `op`.
    pub(crate) fn from_connect(
        op: &'static str,
        node: &str,
        user: &str,
        source: tokio_postgres::Error,
    ) -> Self {
        let node = node.to_owned();
        let text = source.to_string();
        if is_channel_binding_not_used(&source) {
            return Error::ChannelBindingNotUsed {
                op,
                node,
                user: user.to_owned(),
                source,
            };
        }
        let auth = source
            .as_db_error()
            .is_some_and(|db| is_auth_failure(db.code()))
            || text.starts_with("authentication error");
        if auth {
            return Error::AuthenticationFailed {
                op,
                node,
                user: user.to_owned(),
                source,
            };
        }
        if source.as_db_error().is_some() {
            return Error::Database { op, node, source };
        }
        if text.starts_with("error performing TLS handshake") {
            return Error::Tls { op, node, source };
        }
        if io_error(&source).is_some() || is_connect_timeout(&source) || source.is_closed() {
            return Error::Unreachable { op, node, source };
        }
        Error::Client { op, node, source }
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
            return Error::Database { op, node, source };
        }
        if source.is_closed() || io_error(&source).is_some() {
            return Error::ConnectionLost { op, node, source };
        }
        Error::Client { op, node, source }
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
        let code = db.code().code();
        if code == "08001" {
            if let Some(dn) = quoted_after(message, "could not connect to ")
                .or_else(|| quoted_after(message, "could not connect to data node "))
            {
                if detail.contains("no password supplied") {
                    return Error::NoUserMapping {
                        op,
                        node: dn,
                        source,
                    };
                }
                if detail.contains("password authentication failed") {
                    let user = quoted_after(detail, "for user ").unwrap_or_default();
                    return Error::AuthenticationFailed {
                        op,
                        node: dn,
                        user,
                        source,
                    };
                }
                return Error::Unreachable {
                    op,
                    node: dn,
                    source,
                };
            }
        }
        if code == "TS170" && detail.contains("would lose data") {
            let dn = quoted_after(detail, "if data node ").unwrap_or_else(|| node.to_owned());
            return Error::WouldLoseData {
                op,
                node: dn,
                source,
            };
        }
        let remote = remote_node(message);
        if code == "42710" {
            if let Some(name) = quoted_after(message, "server ") {
                return Error::AlreadyExists {
                    op,
                    node: node.to_owned(),
                    object: format!("data node \"{name}\""),
                    source,
                };
            }
        }
        if code == "42704" && remote.is_none() {
            if let Some(name) = quoted_after(message, "server ") {
                return Error::NotFound {
                    op,
                    node: node.to_owned(),
                    object: format!("data node \"{name}\""),
                    source,
                };
            }
        }
        let node = remote.unwrap_or_else(|| node.to_owned());
        Error::Database { op, node, source }
    }

    /// Builds an [`Error::InvalidInput`].
    pub(crate) fn invalid(op: &'static str, node: Option<&str>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            op,
            node: node.map(str::to_owned),
            reason: reason.into(),
        }
    }

    /// The operation that failed, as a short label such as `"connect"`.
    pub fn operation(&self) -> &'static str {
        match self {
            Error::InvalidInput { op, .. }
            | Error::Unreachable { op, .. }
            | Error::AuthenticationFailed { op, .. }
            | Error::ChannelBindingNotUsed { op, .. }
            | Error::ConnectionLost { op, .. }
            | Error::Timeout { op, .. }
            | Error::Deadline { op, .. }
            | Error::DataNodeDown { op, .. }
            | Error::SecretWouldBeLogged { op, .. }
            | Error::PoolTimeout { op, .. }
            | Error::Tls { op, .. }
            | Error::UnsupportedServer { op, .. }
            | Error::MissingPrivilege { op, .. }
            | Error::Database { op, .. }
            | Error::AlreadyExists { op, .. }
            | Error::NotFound { op, .. }
            | Error::NoUserMapping { op, .. }
            | Error::WouldLoseData { op, .. }
            | Error::VerificationFailed { op, .. }
            | Error::Client { op, .. }
            | Error::Conflict { op, .. }
            | Error::StalePlan { op, .. }
            | Error::Several { op, .. }
            | Error::Fixture { op, .. } => op,
        }
    }

    /// The node the error came from, when one was involved.
    pub fn node(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { node, .. } => node.as_deref(),
            Error::Unreachable { node, .. }
            | Error::AuthenticationFailed { node, .. }
            | Error::ChannelBindingNotUsed { node, .. }
            | Error::ConnectionLost { node, .. }
            | Error::Timeout { node, .. }
            | Error::Deadline { node, .. }
            | Error::DataNodeDown { node, .. }
            | Error::SecretWouldBeLogged { node, .. }
            | Error::PoolTimeout { node, .. }
            | Error::Tls { node, .. }
            | Error::UnsupportedServer { node, .. }
            | Error::MissingPrivilege { node, .. }
            | Error::Database { node, .. }
            | Error::AlreadyExists { node, .. }
            | Error::NotFound { node, .. }
            | Error::NoUserMapping { node, .. }
            | Error::WouldLoseData { node, .. }
            | Error::VerificationFailed { node, .. }
            | Error::Client { node, .. }
            | Error::Conflict { node, .. }
            | Error::StalePlan { node, .. } => Some(node),
            Error::Several { errors, .. } => errors.first().and_then(Error::node),
            Error::Fixture { .. } => None,
        }
    }

    /// The driver error underneath, if there is one.
    fn driver(&self) -> Option<&tokio_postgres::Error> {
        match self {
            Error::Unreachable { source, .. }
            | Error::AuthenticationFailed { source, .. }
            | Error::ChannelBindingNotUsed { source, .. }
            | Error::ConnectionLost { source, .. }
            | Error::Tls { source, .. }
            | Error::Database { source, .. }
            | Error::AlreadyExists { source, .. }
            | Error::NotFound { source, .. }
            | Error::NoUserMapping { source, .. }
            | Error::WouldLoseData { source, .. }
            | Error::Client { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The server's error fields (SQLSTATE, message, detail, hint, ...), when the server
    /// reported the error.
    pub fn as_db_error(&self) -> Option<&DbError> {
        self.driver().and_then(tokio_postgres::Error::as_db_error)
    }

    /// The SQLSTATE the server reported, if any.
    pub fn code(&self) -> Option<&SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// True when a timeout expired: the connect timeout, the pool's checkout timeout, an
    /// operation's deadline, or the server's statement or lock timeout (SQLSTATE 57014
    /// `query_canceled`, 55P03 `lock_not_available`).
    pub fn is_timeout(&self) -> bool {
        if matches!(
            self,
            Error::Timeout { .. } | Error::PoolTimeout { .. } | Error::Deadline { .. }
        ) {
            return true;
        }
        if let Some(code) = self.code() {
            if *code == SqlState::QUERY_CANCELED || *code == SqlState::LOCK_NOT_AVAILABLE {
                return true;
            }
        }
        match self.driver() {
            Some(source) => {
                is_connect_timeout(source)
                    || io_error(source).is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
            }
            None => false,
        }
    }

    /// True when the server refused the credentials.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(self, Error::AuthenticationFailed { .. })
    }

    /// True when the node could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
    }

    /// True for the errors an access-node session reports once or twice after a data node
    /// restarted under it (its cached connection to the node died: `XX000 [dn1]: ...
    /// terminating connection`, then `08000 connection to data node "dn1" was lost`); the
    /// session reconnects on the next statement, so the statement can simply run again.
    pub fn is_stale_data_node_connection(&self) -> bool {
        let Some(db) = self.as_db_error() else {
            return false;
        };
        let message = db.message();
        match db.code().code() {
            "08000" => message.contains("connection to data node"),
            "XX000" | "57P01" | "08006" => {
                remote_node(message).is_some()
                    && (message.contains("terminating connection")
                        || message.contains("server closed the connection"))
            }
            _ => false,
        }
    }

    /// The tail of the server log attached to a [`Error::Fixture`] error.
    pub fn server_log_tail(&self) -> Option<&str> {
        match self {
            Error::Fixture { log_tail, .. } => log_tail.as_deref(),
            _ => None,
        }
    }
}

/// The refusal the secret guard raises (`crate::sql::quiet::guard`), on `node` or relayed from
/// a data node (`[dn1]: ...`), as [`Error::SecretWouldBeLogged`].
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

/// The data node a relayed error names: `[dn1]: relation "x" does not exist` gives `dn1`.
fn remote_node(message: &str) -> Option<String> {
    let rest = message.strip_prefix('[')?;
    let end = rest.find("]: ")?;
    Some(rest[..end].to_owned())
}

/// tokio-postgres breaks off a login that `channel_binding=require` forbids with an
/// authentication error whose cause says so; that text is the only public way to recognise it.
fn is_channel_binding_not_used(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_none()
        && err
            .source()
            .is_some_and(|cause| cause.to_string().contains("did not use channel binding"))
}

fn is_auth_failure(code: &SqlState) -> bool {
    code.code().starts_with("28")
}

/// The first I/O error in the driver error's source chain.
fn io_error(err: &tokio_postgres::Error) -> Option<&io::Error> {
    let mut cause: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cause = e.source();
    }
    None
}

/// tokio-postgres reports its own connect timeout with a dedicated error kind, whose text is
/// the only public way to recognise it.
fn is_connect_timeout(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_none() && err.to_string().contains("timeout")
}

fn io_reason(err: &tokio_postgres::Error) -> String {
    match io_error(err) {
        Some(io) => io.to_string(),
        None if is_connect_timeout(err) => "connect timeout expired".to_owned(),
        None => err.to_string(),
    }
}

fn db_summary(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

fn list_errors(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn on_node(node: Option<&str>) -> String {
    node.map(|n| format!(" on node {n}")).unwrap_or_default()
}

fn log_suffix(tail: Option<&str>) -> String {
    tail.map(|t| format!("\n--- server log (last lines) ---\n{t}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn assert<T: Send + Sync + 'static>() {}
        assert::<Error>();
    }

    #[test]
    fn invalid_input_names_operation_and_node() {
        let e = Error::invalid("connect", Some("dn1"), "port must not be 0");
        assert_eq!(
            e.to_string(),
            "connect on node dn1: invalid input: port must not be 0"
        );
        assert_eq!(e.node(), Some("dn1"));
        assert_eq!(e.operation(), "connect");
        assert!(e.code().is_none());
    }

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
        assert_eq!(remote_node("[dn1]: boom"), Some("dn1".to_owned()));
        assert_eq!(remote_node("boom"), None);
    }

    #[test]
    fn fixture_error_shows_log_tail() {
        let e = Error::Fixture {
            op: "start local server",
            reason: "pg_ctl failed".into(),
            log_tail: Some("FATAL: boom".into()),
        };
        assert!(e.to_string().contains("FATAL: boom"));
        assert_eq!(e.server_log_tail(), Some("FATAL: boom"));
    }
}

/// What a migration's verification found different ([`Error::VerificationFailed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// The table, `"schema"."name"`.
    pub table: String,
    /// The chunks of the time range that differs.
    pub chunks: Vec<String>,
    /// Rows of those chunks on the data nodes.
    pub source_rows: u64,
    /// Their checksum on the data nodes.
    pub source_checksum: String,
    /// Rows of that range on the target.
    pub target_rows: u64,
    /// Their checksum on the target.
    pub target_checksum: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "table {}: the rows of chunk(s) {} differ: the data nodes have {} rows \
             (checksum {}), the target {} (checksum {})",
            self.table,
            self.chunks.join(", "),
            self.source_rows,
            self.source_checksum,
            self.target_rows,
            self.target_checksum
        )
    }
}
