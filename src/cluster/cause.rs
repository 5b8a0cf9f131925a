//! Why a node could not be used: the causes [`crate::Cluster::status`] tells apart, read
//! from SQLSTATEs and the server's structured error fields wherever the server gives them.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::error::Error;

/// Why a node (seen directly, or from the access node) could not be used.
///
/// Read from the SQLSTATE and the server's structured fields (the reporting routine), not
/// from message text, where the server gives them; see [`Cause::of`].
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// Nothing answers: connection refused, reset or closed, host or network unreachable,
    /// or the server is starting up or shutting down.
    Down,
    /// The node did not answer within its deadline (it may accept connections and never
    /// answer: a dropped firewall rule, a hung host).
    TimedOut,
    /// `pg_hba.conf` has no entry for this connection, or one that rejects it.
    RejectedByHba,
    /// The role does not exist, or may not log in. (With password authentication a server
    /// hides whether the role exists and reports [`Cause::WrongPassword`] instead.)
    UnknownRole,
    /// The database does not exist.
    UnknownDatabase,
    /// The server takes no more connections: every connection slot is in use, or those left
    /// are reserved for superusers (SQLSTATE 53300). Raise its `max_connections` or close
    /// connections; the access node's own connections to data nodes count there too.
    TooManyConnections,
    /// TLS could not be set up (refused, or the certificate failed verification).
    Tls,
    /// The host name could not be resolved.
    Dns,
    /// The password was refused (SQLSTATE 28P01).
    WrongPassword,
    /// Another authentication failure (SQLSTATE class 28: certificate, ident, ...).
    AuthenticationFailed,
    /// The access node has no password for the data node: no user mapping (with one) for
    /// the current role.
    NoUserMapping,
    /// The TimescaleDB extension is not created in the node's database.
    ExtensionMissing,
    /// The node's TimescaleDB version does not fit the access node's (TimescaleDB's rule: a
    /// data node needs the same major version and at least the access node's minor, or a
    /// newer major; patch levels do not matter).
    ExtensionIncompatible,
    /// Anything else.
    Other,
}

impl Cause {
    /// The cause of `error` (from connecting to a node, or from a node's statement).
    ///
    /// Classified by variant, SQLSTATE and the routine that reported it: 28P01 is a wrong
    /// password; 28000 from `ClientAuthentication` is `pg_hba.conf`, from
    /// `InitializeSessionUserId` an unknown role (or one without `LOGIN`); 3D000 an unknown
    /// database; TS174 (TimescaleDB's "invalid data node configuration", raised for an
    /// incompatible version) an incompatible extension.
    pub fn of(error: &Error) -> Cause {
        match error {
            Error::Timeout { .. } | Error::PoolTimeout { .. } => return Cause::TimedOut,
            Error::Tls { .. } => return Cause::Tls,
            Error::NoUserMapping { .. } => return Cause::NoUserMapping,
            Error::ConnectionLost { .. } | Error::DataNodeDown { .. } => return Cause::Down,
            Error::Unreachable { driver, .. } => return unreachable_cause(driver.get_ref()),
            _ => {}
        }
        if error.is_timeout() {
            return Cause::TimedOut;
        }
        let Some(db) = error.as_db_error() else {
            return Cause::Other;
        };
        match db.code().code() {
            "28P01" => Cause::WrongPassword,
            "28000" => match db.routine() {
                Some("ClientAuthentication") => Cause::RejectedByHba,
                Some("InitializeSessionUserId") => Cause::UnknownRole,
                _ => Cause::AuthenticationFailed,
            },
            code if code.starts_with("28") => Cause::AuthenticationFailed,
            "3D000" => Cause::UnknownDatabase,
            "53300" => Cause::TooManyConnections,
            "57P01" | "57P02" | "57P03" => Cause::Down,
            "57014" => Cause::TimedOut,
            "TS174" => Cause::ExtensionIncompatible,
            _ => Cause::Other,
        }
    }

    /// Whether the node simply did not answer ([`Cause::Down`] or [`Cause::TimedOut`]).
    pub fn is_down(self) -> bool {
        matches!(self, Cause::Down | Cause::TimedOut)
    }
}

/// Why nothing answered: a host name that did not resolve, or the network.
fn unreachable_cause(source: &tokio_postgres::Error) -> Cause {
    let mut cause: Option<&(dyn StdError + 'static)> = source.source();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::TimedOut {
                return Cause::TimedOut;
            }
            // A failed name lookup is the one I/O error of a connection attempt without an
            // OS error code; the standard library's own (untranslated) text names it, which
            // is the only way to tell it from other errors of that kind.
            if io.raw_os_error().is_none()
                && io
                    .to_string()
                    .starts_with("failed to lookup address information")
            {
                return Cause::Dns;
            }
            return Cause::Down;
        }
        cause = e.source();
    }
    Cause::Down
}

/// The cause of a data-node connection error the access node relayed: TimescaleDB reports
/// every failed connection to a data node as SQLSTATE 08001 `could not connect to "<node>"`
/// with libpq's message as DETAIL, dropping the data node's own SQLSTATE and fields. So
/// here, and only here, the DETAIL text is read: libpq's and the server's English messages,
/// which a server with another `lc_messages` translates. When it matches nothing known, the
/// caller falls back to what the node said when the crate connected directly, or to what the
/// access node's user mapping holds (`relayed.rs`), which tell a wrong password and a
/// missing user mapping apart in any language.
pub(crate) fn relayed_connect_cause(detail: &str) -> Option<Cause> {
    // In order: the first that matches wins (older servers end a pg_hba.conf refusal with
    // "SSL off", which is no TLS failure).
    const KNOWN: &[(&str, Cause)] = &[
        ("no password supplied", Cause::NoUserMapping),
        ("password authentication failed", Cause::WrongPassword),
        ("no pg_hba.conf entry", Cause::RejectedByHba),
        ("pg_hba.conf rejects connection", Cause::RejectedByHba),
        ("too many clients already", Cause::TooManyConnections),
        ("connection slots are reserved", Cause::TooManyConnections),
        ("is not permitted to log in", Cause::UnknownRole),
        ("could not translate host name", Cause::Dns),
        ("SSL", Cause::Tls),
        ("Connection refused", Cause::Down),
        ("could not connect to server", Cause::Down),
        ("timeout expired", Cause::TimedOut),
        ("the database system is", Cause::Down),
    ];
    if let Some((_, cause)) = KNOWN.iter().find(|(text, _)| detail.contains(text)) {
        return Some(*cause);
    }
    // `FATAL:  role "x" does not exist` / `FATAL:  database "x" does not exist`.
    if detail.contains("does not exist") {
        if detail.contains("FATAL:  role ") {
            return Some(Cause::UnknownRole);
        }
        if detail.contains("FATAL:  database ") {
            return Some(Cause::UnknownDatabase);
        }
    }
    None
}

/// `down`, `refused by pg_hba.conf`, `wrong password`, ...
impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Down => "down",
            Cause::TimedOut => "down (no answer within the deadline)",
            Cause::RejectedByHba => "refused by pg_hba.conf",
            Cause::UnknownRole => "unknown role (or one that may not log in)",
            Cause::UnknownDatabase => "unknown database",
            Cause::TooManyConnections => "too many connections (no free connection slot)",
            Cause::Tls => "TLS failure",
            Cause::Dns => "host name not resolved (DNS)",
            Cause::WrongPassword => "wrong password",
            Cause::AuthenticationFailed => "authentication failed",
            Cause::NoUserMapping => "no user mapping",
            Cause::ExtensionMissing => "TimescaleDB extension missing",
            Cause::ExtensionIncompatible => "TimescaleDB version incompatible",
            Cause::Other => "failed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_details_are_told_apart() {
        let cases = [
            (
                "connection to server at \"127.0.0.1\", port 1 failed: Connection refused",
                Some(Cause::Down),
            ),
            (
                "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf \
                 entry for host \"127.0.0.1\", user \"u\", database \"d\", no encryption",
                Some(Cause::RejectedByHba),
            ),
            (
                "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  role \"u\" \
                 does not exist",
                Some(Cause::UnknownRole),
            ),
            (
                "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \
                 \"d\" does not exist",
                Some(Cause::UnknownDatabase),
            ),
            (
                "could not translate host name \"nowhere.invalid\" to address: Name or service \
                 not known",
                Some(Cause::Dns),
            ),
            (
                "fe_sendauth: no password supplied",
                Some(Cause::NoUserMapping),
            ),
            (
                "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  sorry, too \
                 many clients already",
                Some(Cause::TooManyConnections),
            ),
            (
                "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  remaining \
                 connection slots are reserved for non-replication superuser connections",
                Some(Cause::TooManyConnections),
            ),
            ("Verbindung fehlgeschlagen", None),
        ];
        for (detail, want) in cases {
            assert_eq!(relayed_connect_cause(detail), want, "{detail}");
        }
    }

    #[test]
    fn causes_read_well() {
        assert_eq!(Cause::RejectedByHba.to_string(), "refused by pg_hba.conf");
        assert!(Cause::TimedOut.is_down() && Cause::Down.is_down());
        assert!(!Cause::WrongPassword.is_down());
    }
}
