//! Quoting, only through `postgres_protocol::escape`.

use postgres_protocol::escape::{escape_identifier, escape_literal};

use crate::ident::Ident;

/// `name` as a quoted identifier: `"Sensor ""x"""`.
pub(crate) fn ident(name: &Ident) -> String {
    escape_identifier(name.as_str())
}

/// A name not yet validated as an [`Ident`], quoted for display text.
pub(crate) fn ident_str(name: &str) -> String {
    escape_identifier(name)
}

/// `value` as a string literal: `'it''s'`, or `E'a\\b'` when it holds a backslash.
pub(crate) fn literal(value: &str) -> String {
    escape_literal(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_double_their_quotes() {
        let id = Ident::new(r#"a"b"#).unwrap();
        assert_eq!(ident(&id), r#""a""b""#);
        let id = Ident::new("x; DROP TABLE t").unwrap();
        assert_eq!(ident(&id), r#""x; DROP TABLE t""#);
    }

    #[test]
    fn literals_handle_quotes_and_backslashes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"a\b"), r" E'a\\b'");
        assert_eq!(literal("$$"), "'$$'");
    }
}
