//! SQL written by the caller, and the check that it is exactly one statement.

use std::borrow::Cow;
use std::fmt;

/// SQL text written by the caller, who vouches for it: the crate runs it as given (with
/// bind parameters where the statement has `$n` placeholders), never pasting values into it.
///
/// A string literal is SQL as it is (`From<&'static str>`): the calls that take SQL take
/// `impl Into<RawSql>`, so `an.query("SELECT 1", &[])` needs no constructor; a literal
/// cannot carry a value picked at run time. Text made at run time goes through
/// [`RawSql::vouched`].
///
/// # Warning
///
/// Never build the text from untrusted input with `format!`: pass values as bind
/// parameters instead. The constructor's name is there to make that visible in review.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawSql(Cow<'static, str>);

impl RawSql {
    /// SQL the caller vouches for, made at run time.
    pub fn vouched(text: impl Into<String>) -> Self {
        RawSql(Cow::Owned(text.into()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Static SQL: a literal, written where the program is.
impl From<&'static str> for RawSql {
    fn from(text: &'static str) -> Self {
        RawSql(Cow::Borrowed(text))
    }
}

/// A copy (free for static SQL), so the calls that take `impl Into<RawSql>` also take
/// `&RawSql`.
impl From<&RawSql> for RawSql {
    fn from(sql: &RawSql) -> Self {
        sql.clone()
    }
}

impl fmt::Debug for RawSql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawSql").field(&self.0).finish()
    }
}

/// How many statements `sql` holds, ignoring empty ones (`;;`), comments and whitespace,
/// and honouring quotes, quoted identifiers, `E''` escapes, dollar quoting and nested block
/// comments. `Err` when a quote or comment is left open.
pub(crate) fn count_statements(sql: &str) -> Result<usize, &'static str> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut count = 0;
    let mut has_content = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b';' => {
                if has_content {
                    count += 1;
                }
                has_content = false;
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    if i + 1 >= bytes.len() {
                        return Err("a block comment is not closed");
                    }
                    if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                has_content = true;
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && (i < 2 || !is_ident_byte(bytes[i - 2]));
                i = skip_quoted(bytes, i, b'\'', escapes)
                    .ok_or("a string literal is not closed")?;
            }
            b'"' => {
                has_content = true;
                i = skip_quoted(bytes, i, b'"', false)
                    .ok_or("a quoted identifier is not closed")?;
            }
            b'$' if i == 0 || !is_ident_byte(bytes[i - 1]) => {
                has_content = true;
                match dollar_tag(bytes, i) {
                    Some(tag_end) => {
                        let tag = &sql[i..tag_end];
                        match sql[tag_end..].find(tag) {
                            Some(pos) => i = tag_end + pos + tag.len(),
                            None => return Err("a dollar-quoted string is not closed"),
                        }
                    }
                    None => i += 1,
                }
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                has_content = true;
                i += 1;
            }
        }
    }
    if has_content {
        count += 1;
    }
    Ok(count)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The index after the closing quote of the quoted text starting at `start`.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, backslash_escapes: bool) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// If a dollar-quote tag (`$$` or `$tag$`) starts at `start`, the index after it.
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'$' => return Some(i + 1),
            b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => i += 1,
            b if b.is_ascii_digit() && i > start + 1 => i += 1,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_statements() {
        let cases = [
            ("", 0),
            ("  ;; -- nothing\n /* at all */ ", 0),
            ("SELECT 1", 1),
            ("SELECT 1;", 1),
            ("SELECT 1; ", 1),
            ("SELECT 1; SELECT 2", 2),
            ("SELECT ';'", 1),
            ("SELECT 'it''s; fine'", 1),
            (r"SELECT E'a\'; b'", 1),
            ("SELECT \"a;b\" FROM t", 1),
            ("DO $$ BEGIN PERFORM 1; END $$", 1),
            ("DO $x$ BEGIN PERFORM '$$;'; END $x$; SELECT 2", 2),
            ("SELECT $1; SELECT $2", 2),
            ("SELECT 1 /* ; /* nested ; */ ; */", 1),
            ("SELECT 1 -- ; \n", 1),
            ("CREATE TABLE x(i int); INSERT INTO x VALUES (1)", 2),
        ];
        for (sql, n) in cases {
            assert_eq!(count_statements(sql), Ok(n), "{sql:?}");
        }
    }

    #[test]
    fn open_quotes_are_errors() {
        for sql in ["SELECT 'x", "SELECT \"x", "DO $$ x", "SELECT 1 /* x"] {
            assert!(count_statements(sql).is_err(), "{sql:?}");
        }
    }
}
