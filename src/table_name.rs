//! Table names, optionally schema-qualified: built from [`Ident`]s, or read from text
//! written as in SQL (`metrics`, `public.metrics`, `"My Schema"."t"`), and shown the same way.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::ident::Ident;

/// A table name, optionally qualified with its schema (without one, the search path
/// decides, usually `public`).
///
/// Read from text as SQL writes it: one or two parts separated by a `.`, each either
/// double-quoted (`""` for a quote inside, any other character kept) or unquoted. Unlike
/// SQL, an unquoted part is taken as written, without folding it to lower case, as
/// everywhere in this crate: `Metrics` is the table `Metrics`. `Display` writes it back,
/// quoting a part unless it is lower-case letters, digits, `_` and `$` starting with a letter
/// or `_`; the text it writes reads back as the same name.
///
/// ```
/// use timescaledb_multinode::TableName;
///
/// let t: TableName = "metrics.sensor_data".parse()?;
/// assert_eq!(t.schema().map(|s| s.as_str()), Some("metrics"));
/// assert_eq!(t.name().as_str(), "sensor_data");
/// assert_eq!(t.to_string(), "metrics.sensor_data");
///
/// let odd: TableName = r#""My Schema"."a.b""#.parse()?;
/// assert_eq!(odd.schema().unwrap().as_str(), "My Schema");
/// assert_eq!(odd.name().as_str(), "a.b");
/// assert_eq!(odd.to_string(), r#""My Schema"."a.b""#);
/// assert!("a.b.c".parse::<TableName>().is_err());
/// # Ok::<(), timescaledb_multinode::Error>(())
/// ```
///
/// Every call that takes a table takes `impl IntoTableName`: a `TableName` (or a
/// reference to one), or such text (`&str`, `String`), read when the call runs; text that is
/// not a table name is an [`Error::InvalidInput`] naming the call, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    schema: Option<Ident>,
    name: Ident,
}

impl TableName {
    /// A table in the default schema (the search path decides, usually `public`).
    pub fn new(name: Ident) -> Self {
        TableName { schema: None, name }
    }

    /// A table in `schema`.
    pub fn qualified(schema: Ident, name: Ident) -> Self {
        TableName {
            schema: Some(schema),
            name,
        }
    }

    /// The schema, if one was given.
    pub fn schema(&self) -> Option<&Ident> {
        self.schema.as_ref()
    }

    /// The table name.
    pub fn name(&self) -> &Ident {
        &self.name
    }
}

/// What the text is not, when it is not a table name.
fn parse(text: &str) -> std::result::Result<TableName, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let (part, after) = part(rest)?;
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.is_empty() => break,
            None => return Err(format!("unexpected text after a quoted name: {after:?}")),
        }
    }
    let mut idents = Vec::with_capacity(parts.len());
    for part in parts {
        idents.push(Ident::checked(part)?);
    }
    let mut idents = idents.into_iter();
    match (idents.next(), idents.next(), idents.next()) {
        (Some(name), None, _) => Ok(TableName::new(name)),
        (Some(schema), Some(name), None) => Ok(TableName::qualified(schema, name)),
        _ => Err("a table name has at most two parts, schema.table".to_owned()),
    }
}

/// The first part of `text` and what follows it.
fn part(text: &str) -> std::result::Result<(String, &str), String> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find('.').unwrap_or(text.len());
        let bare = &text[..end];
        if bare.contains('"') {
            return Err(format!(
                "{bare:?}: a double quote inside an unquoted name; quote the name and double the quote"
            ));
        }
        return Ok((bare.to_owned(), &text[end..]));
    };
    let mut name = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '"' {
            name.push(c);
            continue;
        }
        if quoted[i + 1..].starts_with('"') {
            name.push('"');
            chars.next();
            continue;
        }
        return Ok((name, &quoted[i + 1..]));
    }
    Err("a quoted name is not closed".to_owned())
}

/// Whether `part` is written without quotes.
fn plain(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
}

fn write_part(f: &mut fmt::Formatter<'_>, part: &Ident) -> fmt::Result {
    if plain(part.as_str()) {
        f.write_str(part.as_str())
    } else {
        write!(f, "\"{}\"", part.as_str().replace('"', "\"\""))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write_part(f, schema)?;
            f.write_str(".")?;
        }
        write_part(f, &self.name)
    }
}

impl FromStr for TableName {
    type Err = Error;

    /// Reads `metrics`, `public.metrics`, `"My Schema"."t"` (see [`TableName`]).
    fn from_str(text: &str) -> Result<Self> {
        parse(text).map_err(|reason| Error::invalid("read table name", None, reason))
    }
}

impl TryFrom<&str> for TableName {
    type Error = Error;

    fn try_from(text: &str) -> Result<Self> {
        text.parse()
    }
}

impl TryFrom<String> for TableName {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        text.parse()
    }
}

/// A table given to a call: a [`TableName`] (or a reference to one), or text read as one
/// (`&str`, `String`: `metrics`, `public.metrics`, `"My Schema"."t"`).
pub trait IntoTableName: sealed::Sealed {}

pub(crate) mod sealed {
    use super::TableName;
    use crate::error::{Error, Result};

    /// The part of [`super::IntoTableName`] only the crate calls.
    pub trait Sealed: Sized {
        /// The table name, or why the text is not one.
        fn read_table_name(self) -> std::result::Result<TableName, String>;

        /// The table name; text that is not one is an error naming `op` and `node`.
        fn into_table_name(self, op: &'static str, node: Option<&str>) -> Result<TableName> {
            self.read_table_name()
                .map_err(|reason| Error::invalid(op, node, format!("table name: {reason}")))
        }
    }
}

impl sealed::Sealed for TableName {
    fn read_table_name(self) -> std::result::Result<TableName, String> {
        Ok(self)
    }
}
impl IntoTableName for TableName {}

impl sealed::Sealed for &TableName {
    fn read_table_name(self) -> std::result::Result<TableName, String> {
        Ok(self.clone())
    }
}
impl IntoTableName for &TableName {}

impl sealed::Sealed for &str {
    fn read_table_name(self) -> std::result::Result<TableName, String> {
        parse(self)
    }
}
impl IntoTableName for &str {}

impl sealed::Sealed for String {
    fn read_table_name(self) -> std::result::Result<TableName, String> {
        parse(&self)
    }
}
impl IntoTableName for String {}

impl sealed::Sealed for &String {
    fn read_table_name(self) -> std::result::Result<TableName, String> {
        parse(self)
    }
}
impl IntoTableName for &String {}

#[cfg(test)]
mod tests {
    use super::sealed::Sealed as _;
    use super::*;

    fn read(text: &str) -> (Option<String>, String) {
        let t: TableName = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
        (
            t.schema().map(|s| s.as_str().to_owned()),
            t.name().as_str().to_owned(),
        )
    }

    #[test]
    fn reads_plain_qualified_and_quoted_names() {
        assert_eq!(read("metrics"), (None, "metrics".into()));
        assert_eq!(
            read("public.metrics"),
            (Some("public".into()), "metrics".into())
        );
        assert_eq!(
            read("\"My Schema\".\"t\""),
            (Some("My Schema".into()), "t".into())
        );
        assert_eq!(read("s.\"a.b\""), (Some("s".into()), "a.b".into()));
        assert_eq!(read("\"a\"\"b\""), (None, "a\"b".into()));
        assert_eq!(read("\"x.y\""), (None, "x.y".into()));
        // Unquoted parts are taken as written (no case folding).
        assert_eq!(
            read("Metrics.Sensor"),
            (Some("Metrics".into()), "Sensor".into())
        );
        assert_eq!(read("ü t"), (None, "ü t".into()));
    }

    #[test]
    fn refuses_what_is_not_a_table_name() {
        for bad in [
            "",
            ".",
            "a.",
            ".a",
            "a.b.c",
            "\"a",
            "\"a\"b",
            "a\"b",
            "\"\"",
            "a\0b",
            &"x".repeat(64),
            &format!("s.{}", "x".repeat(64)),
        ] {
            let err = bad.parse::<TableName>().unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { .. }),
                "{bad:?}: {err:?}"
            );
        }
        let err = "a.b.c"
            .into_table_name("list chunks", Some("an"))
            .unwrap_err();
        assert_eq!(err.node(), Some("an"));
        assert!(err.to_string().contains("list chunks"), "{err}");
    }

    #[test]
    fn displays_quoting_only_where_needed_and_reads_back() {
        let cases = [
            ("metrics", "metrics"),
            ("public.metrics", "public.metrics"),
            ("_t$1", "_t$1"),
            ("Metrics", "\"Metrics\""),
            ("\"My Schema\".t", "\"My Schema\".t"),
            ("s.\"a.b\"", "s.\"a.b\""),
            ("\"a\"\"b\"", "\"a\"\"b\""),
            ("\"1t\"", "\"1t\""),
        ];
        for (text, shown) in cases {
            let t: TableName = text.parse().unwrap();
            assert_eq!(t.to_string(), shown, "{text:?}");
            assert_eq!(shown.parse::<TableName>().unwrap(), t, "{shown:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn display_reads_back_as_the_same_name(
            schema in proptest::option::of("[^\\x00]{1,15}"),
            name in "[^\\x00]{1,15}",
        ) {
            let name = Ident::new(name).unwrap();
            let table = match schema {
                Some(schema) => TableName::qualified(Ident::new(schema).unwrap(), name),
                None => TableName::new(name),
            };
            let shown = table.to_string();
            proptest::prop_assert_eq!(shown.parse::<TableName>().unwrap(), table);
        }
    }

    #[test]
    fn any_names_survive_a_round_trip() {
        let names = [
            "a", "A", "a b", "a.b", "\"", "'", "ü", "x\"y\"", "$", "_", "1",
        ];
        for schema in std::iter::once(None).chain(names.iter().map(Some)) {
            for name in names {
                let t = match schema {
                    Some(s) => {
                        TableName::qualified(Ident::new(*s).unwrap(), Ident::new(name).unwrap())
                    }
                    None => TableName::new(Ident::new(name).unwrap()),
                };
                assert_eq!(t.to_string().parse::<TableName>().unwrap(), t, "{t}");
            }
        }
    }
}
