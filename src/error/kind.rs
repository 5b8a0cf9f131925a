//! [`ErrorKind`]: the way a caller reacts to an [`Error`], and the accessors and predicates
//! that work across variants.

use std::fmt;
use std::io;

use tokio_postgres::error::{DbError, SqlState};

use super::classify::{io_error, is_connect_timeout, remote_node};
use super::Error;

/// The way a caller reacts to an [`Error`]: [`Error::kind`].
///
/// Several variants can share a kind (a connect timeout, an operation's deadline and a pool
/// checkout timeout are all [`ErrorKind::Timeout`]), and an [`Error::Database`] gets the kind
/// its SQLSTATE says (57014 `query_canceled` is a timeout, 42501 a missing privilege, ...).
/// [`ErrorKind::as_str`] is the name used in JSON (`"timeout"`, `"not_found"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was refused before anything was sent ([`Error::InvalidInput`]): fix it.
    InvalidInput,
    /// Nothing answered ([`Error::Unreachable`]): the server is down, or the address is
    /// wrong; try again later or fix the address.
    Unreachable,
    /// An established connection was closed under the caller ([`Error::ConnectionLost`]):
    /// reconnect; whether the statement took effect is unknown.
    ConnectionLost,
    /// A timeout or deadline passed: the connect timeout ([`Error::Timeout`], or an
    /// [`Error::Unreachable`] that timed out), an operation's deadline ([`Error::Deadline`]),
    /// the pool's checkout timeout ([`Error::PoolTimeout`]), or the server's statement or
    /// lock timeout (SQLSTATE 57014, 55P03). Try again later, or allow more time.
    Timeout,
    /// The server refused the login ([`Error::AuthenticationFailed`], SQLSTATE class 28):
    /// fix the credentials.
    AuthenticationFailed,
    /// The config requires channel binding and the server authenticated without it
    /// ([`Error::ChannelBindingNotUsed`]); the client broke off, sending no password: the
    /// server's authentication settings (SCRAM over TLS) need fixing, or the config.
    ChannelBindingNotUsed,
    /// TLS could not be set up ([`Error::Tls`]).
    Tls,
    /// The server cannot do this ([`Error::UnsupportedServer`]): another version or build
    /// of TimescaleDB is needed.
    UnsupportedServer,
    /// The role lacks a privilege ([`Error::MissingPrivilege`], SQLSTATE 42501).
    MissingPrivilege,
    /// What was to be created exists already ([`Error::AlreadyExists`], SQLSTATE 42710,
    /// 42P07, 42P06).
    AlreadyExists,
    /// A named object does not exist ([`Error::NotFound`], SQLSTATE 42704, 42P01, 3F000,
    /// 3D000).
    NotFound,
    /// The access node has no password for a data node ([`Error::NoUserMapping`]): create
    /// the user mapping.
    NoUserMapping,
    /// A data node a write needs does not answer the access node ([`Error::DataNodeDown`]):
    /// nothing was written; bring it back, or mark it unavailable.
    DataNodeDown,
    /// Refused because it would lose data ([`Error::WouldLoseData`]).
    WouldLoseData,
    /// A secret was not sent because a setting would record it
    /// ([`Error::SecretWouldBeLogged`]).
    SecretWouldBeLogged,
    /// The live cluster contradicts the spec in a way that cannot be changed in place
    /// ([`Error::Conflict`]): change it by hand.
    Conflict,
    /// An approved plan is out of date ([`Error::StalePlan`]): plan again.
    StalePlan,
    /// A migration's verification found a difference ([`Error::VerificationFailed`]).
    VerificationFailed,
    /// Several nodes failed ([`Error::Several`]); each error has its own kind.
    Several,
    /// Another error the server reported ([`Error::Database`]): its SQLSTATE
    /// ([`Error::code`]) says more.
    Database,
    /// Another driver error ([`Error::Client`]), such as a row that did not decode.
    Client,
    /// A local test cluster could not be set up or torn down ([`Error::Fixture`]).
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    Fixture,
}

impl ErrorKind {
    /// The kind's name in `snake_case`, as in JSON: `"invalid_input"`, `"timeout"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::ConnectionLost => "connection_lost",
            ErrorKind::Timeout => "timeout",
            ErrorKind::AuthenticationFailed => "authentication_failed",
            ErrorKind::ChannelBindingNotUsed => "channel_binding_not_used",
            ErrorKind::Tls => "tls",
            ErrorKind::UnsupportedServer => "unsupported_server",
            ErrorKind::MissingPrivilege => "missing_privilege",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NoUserMapping => "no_user_mapping",
            ErrorKind::DataNodeDown => "data_node_down",
            ErrorKind::WouldLoseData => "would_lose_data",
            ErrorKind::SecretWouldBeLogged => "secret_would_be_logged",
            ErrorKind::Conflict => "conflict",
            ErrorKind::StalePlan => "stale_plan",
            ErrorKind::VerificationFailed => "verification_failed",
            ErrorKind::Several => "several",
            ErrorKind::Database => "database",
            ErrorKind::Client => "client",
            #[cfg(feature = "testing")]
            ErrorKind::Fixture => "fixture",
        }
    }
}

/// The kind's name, as [`ErrorKind::as_str`].
impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The way a caller reacts to this error; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::Unreachable { driver, .. } if timed_out(driver.get_ref()) => ErrorKind::Timeout,
            Error::Unreachable { .. } => ErrorKind::Unreachable,
            Error::ConnectionLost { .. } => ErrorKind::ConnectionLost,
            Error::Timeout { .. }
            | Error::Deadline { .. }
            | Error::PoolTimeout { .. }
            | Error::ApplyLockHeld { .. } => ErrorKind::Timeout,
            Error::AuthenticationFailed { .. } => ErrorKind::AuthenticationFailed,
            Error::ChannelBindingNotUsed { .. } => ErrorKind::ChannelBindingNotUsed,
            Error::Tls { .. } => ErrorKind::Tls,
            Error::UnsupportedServer { .. } => ErrorKind::UnsupportedServer,
            Error::MissingPrivilege { .. } => ErrorKind::MissingPrivilege,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::NoUserMapping { .. } => ErrorKind::NoUserMapping,
            Error::DataNodeDown { .. } => ErrorKind::DataNodeDown,
            Error::WouldLoseData { .. } => ErrorKind::WouldLoseData,
            Error::SecretWouldBeLogged { .. } => ErrorKind::SecretWouldBeLogged,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::StalePlan { .. } => ErrorKind::StalePlan,
            Error::VerificationFailed { .. } => ErrorKind::VerificationFailed,
            Error::Several { .. } => ErrorKind::Several,
            Error::Database { driver, .. } => driver
                .get_ref()
                .as_db_error()
                .map_or(ErrorKind::Database, |db| kind_of_code(db.code())),
            Error::Client { .. } => ErrorKind::Client,
            #[cfg(feature = "testing")]
            Error::Fixture { .. } => ErrorKind::Fixture,
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
            | Error::ApplyLockHeld { op, .. }
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
            | Error::Several { op, .. } => op,
            #[cfg(feature = "testing")]
            Error::Fixture { op, .. } => op,
        }
    }

    /// The node the error came from, when one was involved (for [`Error::Several`], the
    /// first error's).
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
            | Error::ApplyLockHeld { node, .. }
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
            #[cfg(feature = "testing")]
            Error::Fixture { .. } => None,
        }
    }

    /// The driver error underneath, if there is one.
    pub(crate) fn driver(&self) -> Option<&tokio_postgres::Error> {
        match self {
            Error::Unreachable { driver, .. }
            | Error::AuthenticationFailed { driver, .. }
            | Error::ChannelBindingNotUsed { driver, .. }
            | Error::ConnectionLost { driver, .. }
            | Error::Tls { driver, .. }
            | Error::Database { driver, .. }
            | Error::AlreadyExists { driver, .. }
            | Error::NotFound { driver, .. }
            | Error::NoUserMapping { driver, .. }
            | Error::WouldLoseData { driver, .. }
            | Error::Client { driver, .. } => Some(driver.get_ref()),
            _ => None,
        }
    }

    /// The server's error fields (SQLSTATE, message, detail, hint, routine, ...), when the
    /// server reported the error. For an error the access node relayed from a data node,
    /// these are the access node's fields (TimescaleDB puts the data node's words in the
    /// message or the detail).
    pub fn as_db_error(&self) -> Option<&DbError> {
        self.driver().and_then(tokio_postgres::Error::as_db_error)
    }

    /// This error with what the server said as it ended the session's connection
    /// (`ended_by`, from the session's driver), when the connection was lost.
    pub(crate) fn ended_by(self, said: Option<&DbError>) -> Error {
        match (self, said) {
            (
                Error::ConnectionLost {
                    op,
                    node,
                    driver,
                    ended_by: None,
                },
                Some(said),
            ) => Error::ConnectionLost {
                op,
                node,
                driver,
                ended_by: Some(Box::new(said.clone())),
            },
            (err, _) => err,
        }
    }

    /// True when the server ended the session as idle (57P05 `idle_session_timeout`) just as
    /// a statement was sent: the server ends only a session waiting for a statement, so
    /// that statement never ran, and may be sent again over another session.
    pub(crate) fn ended_as_idle(&self) -> bool {
        let said = match self {
            Error::ConnectionLost { ended_by, .. } => ended_by.as_deref(),
            _ => self.as_db_error(),
        };
        said.is_some_and(|db| db.code().code() == "57P05" && remote_node(db.message()).is_none())
    }

    /// The SQLSTATE the server reported, if any.
    pub fn code(&self) -> Option<&SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// True when a timeout expired ([`ErrorKind::Timeout`]): the connect timeout, the pool's
    /// checkout timeout, an operation's deadline, or the server's statement or lock timeout
    /// (SQLSTATE 57014 `query_canceled`, 55P03 `lock_not_available`).
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// True when the server refused the login ([`ErrorKind::AuthenticationFailed`]).
    pub fn is_authentication_failure(&self) -> bool {
        self.kind() == ErrorKind::AuthenticationFailed
    }

    /// True when the node could not be reached at all ([`Error::Unreachable`], also when
    /// that was the connect timeout, whose kind is [`ErrorKind::Timeout`]).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
    }

    /// True when an established session's own connection ended under it: closed
    /// ([`ErrorKind::ConnectionLost`]), a connection failure (SQLSTATE class 08), the
    /// server shutting down or restarting (57P01 `admin_shutdown`, 57P02 `crash_shutdown`,
    /// 57P03 `cannot_connect_now`), or the server ending a session idle for too long (57P05
    /// `idle_session_timeout`, 25P03 `idle_in_transaction_session_timeout`; a kept session
    /// may be sent a statement just as the server ends it). Such an error tells how the old
    /// session ended, not how the node is now: a new session does.
    pub(crate) fn ended_the_session(&self) -> bool {
        if self.kind() == ErrorKind::ConnectionLost {
            return true;
        }
        let Some(db) = self.as_db_error() else {
            return false;
        };
        let code = db.code().code();
        // Relayed from a data node: the access node's own session is fine.
        if remote_node(db.message()).is_some() {
            return false;
        }
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "57P05" | "25P03")
    }

    /// True when an object to create exists already ([`ErrorKind::AlreadyExists`]).
    pub fn is_already_exists(&self) -> bool {
        self.kind() == ErrorKind::AlreadyExists
    }

    /// True when a named object does not exist ([`ErrorKind::NotFound`]).
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
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
            // TimescaleDB's own message (it has no translations).
            "08000" => message.contains("connection to data node"),
            // The data node's SQLSTATE, relayed with the node's name: whatever the words.
            "57P01" | "57P02" | "57P05" | "08006" => remote_node(message).is_some(),
            // TimescaleDB relays the data node's failure as text under its own XX000, in the
            // data node's `lc_messages`: this match is on the English text, and a server
            // in another language is caught by the 08000 of the next statement instead.
            "XX000" => {
                remote_node(message).is_some()
                    && (message.contains("terminating connection")
                        || message.contains("server closed the connection"))
            }
            _ => false,
        }
    }

    /// The tail of the server log attached to an [`Error::Fixture`] error.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn server_log_tail(&self) -> Option<&str> {
        match self {
            Error::Fixture { log_tail, .. } => log_tail.as_deref(),
            _ => None,
        }
    }
}

/// The kind of a server error with SQLSTATE `code` that the crate did not classify further.
fn kind_of_code(code: &SqlState) -> ErrorKind {
    match code.code() {
        c if c.starts_with("28") => ErrorKind::AuthenticationFailed,
        "42501" => ErrorKind::MissingPrivilege,
        "57014" | "55P03" => ErrorKind::Timeout,
        "42710" | "42P07" | "42P06" => ErrorKind::AlreadyExists,
        "42704" | "42P01" | "3F000" | "3D000" => ErrorKind::NotFound,
        _ => ErrorKind::Database,
    }
}

/// Whether a failed connection attempt was the connect timeout (tokio-postgres's own, or
/// the operating system's).
fn timed_out(source: &tokio_postgres::Error) -> bool {
    is_connect_timeout(source)
        || io_error(source).is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
}
