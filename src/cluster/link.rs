//! The access node's link to one data node: whether it can reach and log in to it, and
//! why not.

use super::cause::Cause;
use crate::error::Error;

/// The error of a failed link, `None` for the links without one: by reference or by value
/// as `link` is (the variants listed once for [`AccessNodeLink::error`] and
/// [`AccessNodeLink::into_error`]).
macro_rules! failure {
    ($link:expr) => {
        match $link {
            AccessNodeLink::Down(e)
            | AccessNodeLink::WrongPassword(e)
            | AccessNodeLink::NoUserMapping(e)
            | AccessNodeLink::RejectedByHba(e)
            | AccessNodeLink::UnknownRole(e)
            | AccessNodeLink::UnknownDatabase(e)
            | AccessNodeLink::TooManyConnections(e)
            | AccessNodeLink::Tls(e)
            | AccessNodeLink::Dns(e)
            | AccessNodeLink::ExtensionMissing(e)
            | AccessNodeLink::ExtensionIncompatible(e)
            | AccessNodeLink::Failed(e) => Some(e),
            AccessNodeLink::Ok | AccessNodeLink::NotAdded | AccessNodeLink::NotChecked(_) => None,
        }
    };
}

/// Whether the access node can reach and log in to a data node (with the current role's
/// user mapping). TimescaleDB's own `ping_data_node` says only true or false; this tells
/// the cases apart ([`AccessNodeLink::cause`] gives the [`Cause`] of each failure).
#[derive(Debug)]
#[non_exhaustive]
pub enum AccessNodeLink {
    /// The access node runs statements on the node.
    Ok,
    /// The node does not answer the access node: connection refused, or no answer within
    /// the cluster's node deadline ([`Error::is_timeout`] tells which).
    Down(Error),
    /// The node refuses the password in the access node's user mapping (changed on the data
    /// node, say): rotate it.
    WrongPassword(Error),
    /// The access node has no password for the node: no user mapping (with a password) for
    /// the current role.
    NoUserMapping(Error),
    /// The node's `pg_hba.conf` has no entry for the access node's connection, or one that
    /// rejects it.
    RejectedByHba(Error),
    /// The user the access node logs in as does not exist on the node (or may not log in).
    UnknownRole(Error),
    /// The node's database (the data node's `database`) does not exist.
    UnknownDatabase(Error),
    /// The node takes no more connections from the access node: every slot is in use, or
    /// those left are reserved for superusers.
    TooManyConnections(Error),
    /// TLS between the access node and the node failed.
    Tls(Error),
    /// The access node cannot resolve the node's host name.
    Dns(Error),
    /// The node's database has no TimescaleDB extension.
    ExtensionMissing(Error),
    /// The node's TimescaleDB version does not fit the access node's (same major and a
    /// minor at least the access node's, or a newer major).
    ExtensionIncompatible(Error),
    /// The access node does not have this data node.
    NotAdded,
    /// Not checked, and why: the access node could not be read, cannot run multi-node
    /// (licence, TimescaleDB version, extension not created, library not preloaded, ...) or
    /// could not list its data nodes.
    NotChecked(String),
    /// Another failure.
    Failed(Error),
}

impl AccessNodeLink {
    /// The link that fails for `cause`, with `error`.
    pub(crate) fn from_cause(cause: Cause, error: Error) -> AccessNodeLink {
        match cause {
            Cause::Down | Cause::TimedOut => AccessNodeLink::Down(error),
            Cause::WrongPassword => AccessNodeLink::WrongPassword(error),
            Cause::NoUserMapping => AccessNodeLink::NoUserMapping(error),
            Cause::RejectedByHba => AccessNodeLink::RejectedByHba(error),
            Cause::UnknownRole => AccessNodeLink::UnknownRole(error),
            Cause::UnknownDatabase => AccessNodeLink::UnknownDatabase(error),
            Cause::TooManyConnections => AccessNodeLink::TooManyConnections(error),
            Cause::Tls => AccessNodeLink::Tls(error),
            Cause::Dns => AccessNodeLink::Dns(error),
            Cause::ExtensionMissing => AccessNodeLink::ExtensionMissing(error),
            Cause::ExtensionIncompatible => AccessNodeLink::ExtensionIncompatible(error),
            Cause::AuthenticationFailed | Cause::Other => AccessNodeLink::Failed(error),
        }
    }

    /// The error of a failed link (`None` for [`AccessNodeLink::Ok`],
    /// [`AccessNodeLink::NotAdded`] and [`AccessNodeLink::NotChecked`]).
    pub fn error(&self) -> Option<&Error> {
        failure!(self)
    }

    /// The error of a failed link, owned.
    pub(crate) fn into_error(self) -> Option<Error> {
        failure!(self)
    }

    /// Why the link fails, when it does and was checked.
    pub fn cause(&self) -> Option<Cause> {
        let error = self.error()?;
        Some(match self {
            AccessNodeLink::Down(e) if e.is_timeout() => Cause::TimedOut,
            AccessNodeLink::Down(_) => Cause::Down,
            AccessNodeLink::WrongPassword(_) => Cause::WrongPassword,
            AccessNodeLink::NoUserMapping(_) => Cause::NoUserMapping,
            AccessNodeLink::RejectedByHba(_) => Cause::RejectedByHba,
            AccessNodeLink::UnknownRole(_) => Cause::UnknownRole,
            AccessNodeLink::UnknownDatabase(_) => Cause::UnknownDatabase,
            AccessNodeLink::TooManyConnections(_) => Cause::TooManyConnections,
            AccessNodeLink::Tls(_) => Cause::Tls,
            AccessNodeLink::Dns(_) => Cause::Dns,
            AccessNodeLink::ExtensionMissing(_) => Cause::ExtensionMissing,
            AccessNodeLink::ExtensionIncompatible(_) => Cause::ExtensionIncompatible,
            _ => Cause::of(error),
        })
    }
}
