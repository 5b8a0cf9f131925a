//! The pieces of [`Error`](super::Error)'s messages that are more than a field: each
//! variant's `#[error(...)]` uses them (the rule, each text once, is on `Error`).

use std::fmt;

use tokio_postgres::error::DbError;

use super::{DriverError, Error};

/// ` on node <node>`, or nothing.
pub(super) struct OnNode<'a>(pub(super) Option<&'a str>);

impl fmt::Display for OnNode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(node) => write!(f, " on node {node}"),
            None => Ok(()),
        }
    }
}

/// What an [`Error::Database`] says after the node: the server's error in one line,
/// `message (SQLSTATE code; detail: ...; hint: ...)`.
pub(super) struct ServerWords<'a>(pub(super) &'a DriverError);

impl fmt::Display for ServerWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get_ref().as_db_error() {
            Some(db) => server_words(f, db),
            // Not built so by the crate; say what the driver says.
            None => write!(f, "{}", self.0.get_ref()),
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

/// What the server said as it ended a connection (`: the server ended it: message
/// (SQLSTATE code)`), or nothing.
pub(super) struct EndedBy<'a>(pub(super) Option<&'a DbError>);

impl fmt::Display for EndedBy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(db) => {
                f.write_str(": the server ended it: ")?;
                server_words(f, db)
            }
            None => Ok(()),
        }
    }
}

/// An [`Error::Several`]'s errors: each one's message, separated by `; `.
pub(super) struct Each<'a>(pub(super) &'a [Error]);

impl fmt::Display for Each<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// A fixture error's server log: a heading line and the last lines, or nothing.
#[cfg(feature = "testing")]
pub(super) struct LogTail<'a>(pub(super) Option<&'a str>);

#[cfg(feature = "testing")]
impl fmt::Display for LogTail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(tail) => write!(f, "\n--- server log (last lines) ---\n{tail}"),
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
