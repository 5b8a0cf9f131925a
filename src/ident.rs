//! Validated PostgreSQL identifiers.
//!
//! PostgreSQL silently truncates names longer than 63 bytes (so two long names can collide)
//! and the wire protocol cannot carry a NUL byte. [`Ident`] refuses both, and the empty name,
//! when it is built, so a bad name is an [`Error::InvalidInput`] before any server is touched.
//! Quoting happens later, only in `crate::sql`.

use std::fmt;

use crate::error::{Error, Result};

/// The longest identifier PostgreSQL keeps without truncating (`NAMEDATALEN - 1`).
pub const MAX_IDENT_BYTES: usize = 63;

/// A role, database, node, schema, table or column name that PostgreSQL will store exactly
/// as given (case and punctuation included).
///
/// ```
/// use timescaledb_multinode::Ident;
///
/// let name = Ident::new("Sensor Data; DROP TABLE x")?; // kept verbatim, quoted when used
/// assert_eq!(name.as_str(), "Sensor Data; DROP TABLE x");
/// assert!(Ident::new("").is_err());
/// assert!(Ident::new("a".repeat(64)).is_err());
/// # Ok::<(), timescaledb_multinode::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(String);

impl Ident {
    /// Validates `name`: not empty, no NUL byte, at most 63 bytes.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        match check(&name) {
            Ok(()) => Ok(Ident(name)),
            Err(reason) => Err(Error::invalid("validate identifier", None, reason)),
        }
    }

    /// Like [`Ident::new`], with only the reason when `name` is not an identifier.
    pub(crate) fn checked(name: String) -> std::result::Result<Self, String> {
        check(&name).map(|()| Ident(name))
    }

    /// Like [`Ident::new`], but the error names the operation and node it belongs to.
    pub(crate) fn for_op(
        name: impl Into<String>,
        what: &str,
        op: &'static str,
        node: Option<&str>,
    ) -> Result<Self> {
        let name = name.into();
        check(&name)
            .map(|()| Ident(name))
            .map_err(|reason| Error::invalid(op, node, format!("{what}: {reason}")))
    }

    /// The name as PostgreSQL stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("identifier is empty".to_owned());
    }
    if name.contains('\0') {
        return Err("identifier contains a NUL byte".to_owned());
    }
    if name.len() > MAX_IDENT_BYTES {
        return Err(format!(
            "identifier is {} bytes long; PostgreSQL keeps at most {MAX_IDENT_BYTES}",
            name.len()
        ));
    }
    Ok(())
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Ident {
    /// The bare name, unquoted: for messages, never for SQL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Ident {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self> {
        Ident::new(value)
    }
}

impl TryFrom<String> for Ident {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Ident::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hostile_but_valid_names() {
        for name in [
            "dn1",
            "Dn 1",
            "a\"b",
            "x'; DROP TABLE t; --",
            "$$",
            "ünï",
            "a\\b",
        ] {
            assert_eq!(Ident::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn length_limit_is_in_bytes() {
        assert!(Ident::new("a".repeat(63)).is_ok());
        assert!(Ident::new("a".repeat(64)).is_err());
        // 32 two-byte characters = 64 bytes
        assert!(Ident::new("é".repeat(32)).is_err());
        assert!(Ident::new("é".repeat(31)).is_ok());
    }

    #[test]
    fn refuses_empty_and_nul() {
        let err = Ident::new("a\0b").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }));
        assert!(err.to_string().contains("NUL"));
        assert!(Ident::new("").is_err());
    }

    #[test]
    fn for_op_names_node_and_operation() {
        let err = Ident::for_op("", "user", "connect", Some("dn2")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "connect on node dn2: invalid input: user: identifier is empty"
        );
    }
}
