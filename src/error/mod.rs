//! The crate's one error type, [`Error`], and what goes with it: [`ErrorKind`], the way a
//! caller reacts; [`Result`]; [`DriverError`], the driver's error a variant carries;
//! [`Mismatch`], what a migration's verification found different.
//!
//! Every variant names the operation that failed and, where one was involved, the node it was
//! talking to. No variant carries SQL text or a password: statements that hold a secret never
//! reach an error, and the server's own message is kept only as the server reported it.

// - `mod.rs`: the `Error` variants;
// - `kind.rs`: `ErrorKind`, the way a caller reacts, and the predicates built on it;
// - `display.rs`: the parts of the messages that are more than a field (each variant's
//   message is in its `#[error(...)]`; each text once);
// - `driver.rs`: `DriverError`, the driver's error in a variant, and the cause its
//   `source()` gives;
// - `classify.rs`: driver and server errors sorted into variants, by SQLSTATE and the
//   server's fields (and, where the access node relays a data node's failure as text only,
//   by that text);
// - `mismatch.rs`: what a migration's verification found different.

mod classify;
mod display;
mod driver;
mod kind;
mod mismatch;
#[cfg(test)]
mod tests;

pub use driver::DriverError;
pub use kind::ErrorKind;
pub use mismatch::Mismatch;

#[cfg(feature = "testing")]
use display::LogTail;
use display::{Each, EndedBy, OnNode, ServerWords};

/// Shorthand for `Result<T, timescaledb_multinode::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// The variants are the situations a caller can act on. [`Error::kind`] sorts them into the
/// ways a caller reacts ([`ErrorKind`]), and the accessors work across variants:
/// [`Error::operation`], [`Error::node`], [`Error::code`], [`Error::as_db_error`] and the
/// predicates ([`Error::is_timeout`], [`Error::is_authentication_failure`], ...).
///
/// # Messages and sources: each text once
///
/// Messages are lowercase, one line, without a trailing period, and start with the operation
/// and the node. A message never repeats a text that a [`source`](std::error::Error::source)
/// below it prints, so a report that walks the chain (`error`, then `error.source()`, ...)
/// prints every text once:
///
/// - [`Error::Database`], an error the server reported in its own words: the message holds
///   the server's message, SQLSTATE, detail and hint, and `source()` is `None`. The server's
///   fields are at [`Error::as_db_error`].
/// - A variant the crate classified ([`Error::AuthenticationFailed`], [`Error::NotFound`],
///   [`Error::Unreachable`], ...): the message says what happened in the crate's words, and
///   `source()` says why, in the words of whoever reported it: the server's error
///   ([`DbError`](tokio_postgres::error::DbError): severity, message, detail, hint) when
///   the server reported it, otherwise the driver's error, whose own source is the I/O or
///   TLS error underneath. The driver's error itself is the variant's `driver` field
///   ([`DriverError`]).
/// - [`Error::Several`]: the message lists each error's message; `source()` is `None`.
///
/// # Matching
///
/// `Error` and each of its variants are `#[non_exhaustive]`: new variants and new fields
/// can come in a minor release. Match with `..` (`Error::NotFound { object, .. }`), and end
/// a `match` with a `_` arm, or match on [`Error::kind`].
///
/// ```
/// use timescaledb_multinode::{Error, ErrorKind};
///
/// fn advice(error: &Error) -> &'static str {
///     match error.kind() {
///         ErrorKind::Timeout | ErrorKind::Unreachable => "retry later",
///         ErrorKind::AuthenticationFailed | ErrorKind::NoUserMapping => "check the password",
///         ErrorKind::InvalidInput => "fix the input",
///         _ => "read the message",
///     }
/// }
/// # let _ = advice;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent to a server: an identifier with a NUL
    /// byte or over 63 bytes, a port of 0, an empty host, and the like.
    #[non_exhaustive]
    #[error("{op}{}: invalid input: {reason}", OnNode(.node.as_deref()))]
    InvalidInput {
        /// What was being done.
        op: &'static str,
        /// The node concerned, when the input belonged to one.
        node: Option<String>,
        /// Why the input was refused.
        reason: String,
    },

    /// Nothing answered: connection refused, host unreachable, or the connect timeout passed.
    #[non_exhaustive]
    #[error("{op} on node {node}: server unreachable")]
    Unreachable {
        /// What was being done.
        op: &'static str,
        /// The node that could not be reached.
        node: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// A connection could not be established within the configured connect timeout (the
    /// server accepted the TCP connection, or did not, but never finished the handshake),
    /// or a node's step did not finish within its deadline ([`crate::Cluster::node_deadline`];
    /// `node` is then the node that did not answer, which may be a data node the access
    /// node was waiting for).
    #[non_exhaustive]
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
    #[non_exhaustive]
    #[error("{op} on node {node}: did not finish within {after:?}; cancelled")]
    Deadline {
        /// What was being done.
        op: &'static str,
        /// The node the statement ran on.
        node: String,
        /// The deadline that passed.
        after: std::time::Duration,
    },

    /// [`crate::Cluster::apply`] (or a password rotation, or a heal) waited its whole
    /// [`crate::Cluster::apply_lock_wait`] for the cluster's apply lock, which another
    /// apply (or a script that took [`crate::cluster::APPLY_LOCK_KEY`]) still holds.
    #[non_exhaustive]
    #[error("{op} on node {node}: the apply lock is still held after {after:?}, by {holder}")]
    ApplyLockHeld {
        /// What was being done.
        op: &'static str,
        /// The access node.
        node: String,
        /// Who holds it, as far as the role may see: the session's process id, user,
        /// application name, client address and start; or another apply of the same
        /// `Cluster` in this process.
        holder: String,
        /// How long it waited.
        after: std::time::Duration,
    },

    /// No pooled connection became free within the pool's checkout timeout.
    #[non_exhaustive]
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
    #[non_exhaustive]
    #[error("{op} on node {node}: authentication failed for user {user}")]
    AuthenticationFailed {
        /// What was being done.
        op: &'static str,
        /// The node that refused.
        node: String,
        /// The user name that was refused.
        user: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// The config requires channel binding ([`crate::ChannelBinding::Require`]) and the
    /// server authenticated without it: it let the user in without a password (`trust`),
    /// asked for one in another way (`md5`, `password`), or offered SCRAM without channel
    /// binding. The client broke off the handshake; no password was sent.
    #[non_exhaustive]
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
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// An established connection was closed under the caller (server restarted or crashed,
    /// or it ended the session).
    #[non_exhaustive]
    #[error("{op} on node {node}: connection lost{}", EndedBy(.ended_by.as_deref()))]
    ConnectionLost {
        /// What was being done.
        op: &'static str,
        /// The node whose connection was lost.
        node: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
        /// What the server said as it ended the connection, when it said something: 57P05
        /// for a session idle longer than its `idle_session_timeout`, 57P01 at a shutdown,
        /// ... Not the statement's outcome: [`Error::code`] stays `None`, since whether a
        /// statement in flight took effect is unknown.
        ended_by: Option<Box<tokio_postgres::error::DbError>>,
    },

    /// TLS could not be set up: the server refused it, or its certificate failed
    /// verification (`verify-full`: unknown issuer, or a name that does not match the host).
    #[non_exhaustive]
    #[error("{op} on node {node}: TLS handshake failed")]
    Tls {
        /// What was being done.
        op: &'static str,
        /// The node concerned.
        node: String,
        /// The driver's error (the TLS library's reason is in its source); `source()` is
        /// the driver's error.
        #[source]
        driver: DriverError,
    },

    /// The server is not one this crate can work with for the requested operation: no
    /// TimescaleDB, the Apache-only build, a version without multi-node, an unsupported
    /// PostgreSQL major, or a feature the installed version does not have.
    #[non_exhaustive]
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
    #[non_exhaustive]
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
    #[non_exhaustive]
    #[error("{op} on node {node}: {}", ServerWords(.driver))]
    Database {
        /// What was being done.
        op: &'static str,
        /// The node that reported the error.
        node: String,
        /// The driver's error; [`Error::as_db_error`] reaches the server's fields. Not the
        /// `source()`: the message holds the server's words.
        driver: DriverError,
    },

    /// The object to create exists already (a data node, a user mapping, a hypertable).
    #[non_exhaustive]
    #[error("{op} on node {node}: {object} already exists")]
    AlreadyExists {
        /// What was being done.
        op: &'static str,
        /// The node that reported it.
        node: String,
        /// What exists, e.g. `data node "dn1"`.
        object: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// A named object does not exist (a data node, a role, a table).
    #[non_exhaustive]
    #[error("{op} on node {node}: {object} does not exist")]
    NotFound {
        /// What was being done.
        op: &'static str,
        /// The node that reported it.
        node: String,
        /// What is missing, e.g. `data node "dn9"`.
        object: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// The access node has no password for a data node: the current role has no user mapping
    /// with a password for it, and no passfile entry (`fe_sendauth: no password supplied`).
    #[non_exhaustive]
    #[error("{op}: the access node has no password for data node {node} (no user mapping)")]
    NoUserMapping {
        /// What was being done.
        op: &'static str,
        /// The data node.
        node: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// A data node a write needs does not answer the access node. Writing anyway can crash
    /// the access node (TimescaleDB 2.13 dereferences a dead connection when a distributed
    /// COPY or INSERT reaches a chunk with a replica on a down node), so the crate refuses.
    #[non_exhaustive]
    #[error("{op}: data node {node} does not answer the access node; refusing to write")]
    DataNodeDown {
        /// What was being done.
        op: &'static str,
        /// The data node that is down.
        node: String,
    },

    /// The server refused because the operation would lose data (for example deleting or
    /// detaching the only data node that holds some chunks).
    #[non_exhaustive]
    #[error("{op} on node {node}: refused, it would lose data")]
    WouldLoseData {
        /// What was being done.
        op: &'static str,
        /// The node the data is on.
        node: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// A secret was not sent: a setting of the node would record it (in the server log or a
    /// statistics view), and the connecting role cannot turn that setting off for its session
    /// (only a superuser can). Nothing secret reached the node. A superuser role can, or the
    /// caller may accept the risk with [`crate::SecretLogging::Accept`].
    #[non_exhaustive]
    #[error(
        "{op} on node {node}: refusing to send a secret: the setting {setting} would record \
         it, and this role cannot turn it off (a superuser can; or accept the risk with \
         SecretLogging::Accept)"
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
    #[non_exhaustive]
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
    #[non_exhaustive]
    #[error("{op} on node {node}: client error")]
    Client {
        /// What was being done.
        op: &'static str,
        /// The node concerned.
        node: String,
        /// The driver's error; `source()` is its cause ([`DriverError`]).
        #[source]
        driver: DriverError,
    },

    /// The live cluster has something the spec contradicts and that cannot be changed in
    /// place (a table that is a hypertable but not a distributed one, a data node registered
    /// at another address on a server without `alter_data_node`, ...). Nothing was changed;
    /// the reason says what to do by hand.
    #[non_exhaustive]
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
    #[non_exhaustive]
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
    #[non_exhaustive]
    #[error("{op}: {} errors: {}", .errors.len(), Each(.errors))]
    Several {
        /// What was being done.
        op: &'static str,
        /// Every error, in the order they happened.
        errors: Vec<Error>,
    },

    /// A local test cluster (feature `testing`) could not be set up or torn down.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    #[non_exhaustive]
    #[error("{op}: {reason}{}", LogTail(.log_tail.as_deref()))]
    Fixture {
        /// What was being done.
        op: &'static str,
        /// What went wrong.
        reason: String,
        /// The last lines of the server log, when a server was involved.
        log_tail: Option<String>,
    },
}
