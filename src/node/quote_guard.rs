//! The double-quote guard: refuses to let TimescaleDB copy a table definition that holds a
//! name with a `"` to the data nodes.
//!
//! TimescaleDB (2.x up to 2.13, `tsl/src/deparse.c`) rebuilds a distributed hypertable's
//! `CREATE TABLE` for the data nodes, in `create_distributed_hypertable` and again in
//! `attach_data_node`, and writes the schema, table, column, column-collation and table
//! access-method names into it as `"%s"`, without doubling a `"` inside: such a name breaks
//! that statement, or rewrites it (a table named `x"AS SELECT 1/0 AS y--` runs a query on
//! the data nodes). The constraints, indexes and column types it copies go through
//! PostgreSQL's own deparser, which quotes them; the guard refuses a `"` in those names too,
//! so that one rule covers every name of the table's definition and its indexes.
//!
//! The guard reads the names from the access node's catalog just before the call, so it also
//! catches names given after the table was made (a column renamed after distribution, a
//! collation created with such a name), and refuses with [`Error::InvalidInput`] before
//! anything is sent to a data node.

use std::fmt;

use crate::connect::SessionOn;
use crate::error::{Error, Result};
use crate::sql::hypertable::{TableName, COPIED_NAMES};

/// What a name copied to the data nodes names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Schema,
    Table,
    TableAccessMethod,
    Column,
    ColumnCollation,
    ColumnType,
    ColumnTypeSchema,
    Constraint,
    Index,
    IndexAccessMethod,
    IndexCollation,
}

impl Kind {
    const ALL: [Kind; 11] = [
        Kind::Schema,
        Kind::Table,
        Kind::TableAccessMethod,
        Kind::Column,
        Kind::ColumnCollation,
        Kind::ColumnType,
        Kind::ColumnTypeSchema,
        Kind::Constraint,
        Kind::Index,
        Kind::IndexAccessMethod,
        Kind::IndexCollation,
    ];

    /// The label the catalog query (`COPIED_NAMES`) gives this kind in its `kind` column.
    fn label(self) -> &'static str {
        match self {
            Kind::Schema => "schema",
            Kind::Table => "table",
            Kind::TableAccessMethod => "table access method",
            Kind::Column => "column",
            Kind::ColumnCollation => "column collation",
            Kind::ColumnType => "column type",
            Kind::ColumnTypeSchema => "column type schema",
            Kind::Constraint => "constraint",
            Kind::Index => "index",
            Kind::IndexAccessMethod => "index access method",
            Kind::IndexCollation => "index collation",
        }
    }

    fn from_label(label: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == label)
    }
}

/// One name TimescaleDB copies to the data nodes, and what it names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CopiedName {
    kind: Kind,
    /// The column or index the name belongs to, for collations, types and access methods of
    /// one.
    owner: Option<String>,
    name: String,
}

impl CopiedName {
    /// A name given to a builder, before the catalog is read.
    pub(crate) fn given(kind: Kind, name: &str) -> Self {
        CopiedName {
            kind,
            owner: None,
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for CopiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        let owner = self.owner.as_deref().unwrap_or_default();
        match self.kind {
            Kind::Schema => write!(f, "schema {name:?}"),
            Kind::Table => write!(f, "table {name:?}"),
            Kind::TableAccessMethod => write!(f, "table access method {name:?}"),
            Kind::Column => write!(f, "column {name:?}"),
            Kind::ColumnCollation => write!(f, "collation {name:?} of column {owner:?}"),
            Kind::ColumnType => write!(f, "type {name:?} of column {owner:?}"),
            Kind::ColumnTypeSchema => {
                write!(f, "schema {name:?} of the type of column {owner:?}")
            }
            Kind::Constraint => write!(f, "constraint {name:?}"),
            Kind::Index => write!(f, "index {name:?}"),
            Kind::IndexAccessMethod => write!(f, "access method {name:?} of index {owner:?}"),
            Kind::IndexCollation => write!(f, "collation {name:?} of index {owner:?}"),
        }
    }
}

/// Where TimescaleDB is about to copy the table's definition.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CopyTo<'a> {
    /// The data nodes of a new distributed hypertable.
    DataNodes,
    /// One data node being attached.
    DataNode(&'a str),
}

impl fmt::Display for CopyTo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyTo::DataNodes => f.write_str("the data nodes"),
            CopyTo::DataNode(name) => write!(f, "data node {name:?}"),
        }
    }
}

/// Why `names` cannot be copied to `to`, or `None` when none of them holds a `"`. Every
/// offending name is listed once, in a stable order.
pub(crate) fn refusal(names: &[CopiedName], to: CopyTo<'_>) -> Option<String> {
    let mut bad: Vec<&CopiedName> = names.iter().filter(|n| n.name.contains('"')).collect();
    if bad.is_empty() {
        return None;
    }
    bad.sort();
    bad.dedup();
    let list = bad
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let verb = if bad.len() == 1 {
        "contains"
    } else {
        "each contain"
    };
    Some(format!(
        "{list} {verb} a double quote; TimescaleDB copies the table's names to {to} and writes \
         some of them there unescaped, which breaks (or injects into) the statements it runs \
         there, so the crate refuses a double quote in any of them"
    ))
}

/// Refuses names given to a builder (before the catalog can be read): an
/// [`Error::InvalidInput`] for `op` on access node `node` when one holds a `"`.
pub(crate) fn check_given(
    op: &'static str,
    node: &str,
    names: &[CopiedName],
    to: CopyTo<'_>,
) -> Result<()> {
    match refusal(names, to) {
        Some(reason) => Err(Error::invalid(op, Some(node), reason)),
        None => Ok(()),
    }
}

/// The guard: reads from the access node's catalog every name TimescaleDB copies to the data
/// nodes for `table`, and refuses with an [`Error::InvalidInput`] naming each offending
/// object and the access node when one holds a `"`. Run it on the session that makes the
/// call, right before it. A table that does not exist passes (the call itself then fails).
pub(crate) async fn check(
    session: &SessionOn<'_>,
    op: &'static str,
    table: &TableName,
    to: CopyTo<'_>,
) -> Result<()> {
    let rows = session
        .query(op, &COPIED_NAMES, &[&table.regclass_text()])
        .await?;
    let mut names = Vec::with_capacity(rows.len());
    for row in &rows {
        let label: String = session.get(op, row, "kind")?;
        let kind = Kind::from_label(&label).ok_or_else(|| {
            Error::invalid(
                op,
                Some(session.node()),
                format!("unexpected kind of name {label:?} from the catalog"),
            )
        })?;
        names.push(CopiedName {
            kind,
            owner: session.get(op, row, "owner")?,
            name: session.get(op, row, "name")?,
        });
    }
    check_given(op, session.node(), &names, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(kind: Kind, owner: Option<&str>, name: &str) -> CopiedName {
        CopiedName {
            kind,
            owner: owner.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    #[test]
    fn clean_names_pass() {
        let names = [
            name(Kind::Schema, None, "public"),
            name(Kind::Table, None, "sensor data; it's 'fine'"),
            name(Kind::ColumnCollation, Some("s"), "C"),
            name(Kind::Column, None, "x\"y"),
        ];
        assert_eq!(refusal(&names[..3], CopyTo::DataNodes), None);
        assert!(refusal(&names, CopyTo::DataNodes).is_some());
    }

    #[test]
    fn names_every_offending_object_and_where_it_goes() {
        let names = [
            name(Kind::IndexCollation, Some("i\"x"), "c\"1"),
            name(Kind::Column, None, "ok"),
            name(Kind::ColumnCollation, Some("s"), "x\"y"),
            name(Kind::TableAccessMethod, None, "heap\"2"),
            name(Kind::ColumnCollation, Some("s"), "x\"y"),
            name(Kind::Column, None, "a\"b"),
        ];
        let reason = refusal(&names, CopyTo::DataNode("dn3")).unwrap();
        assert!(
            reason.starts_with(
                "table access method \"heap\\\"2\", column \"a\\\"b\", \
                 collation \"x\\\"y\" of column \"s\", \
                 collation \"c\\\"1\" of index \"i\\\"x\" each contain a double quote; \
                 TimescaleDB copies the table's names to data node \"dn3\""
            ),
            "{reason}"
        );
        assert!(!reason.contains("\"ok\""), "{reason}");
        let one = refusal(&names[2..3], CopyTo::DataNodes).unwrap();
        assert!(
            one.starts_with(
                "collation \"x\\\"y\" of column \"s\" contains a double quote; \
                 TimescaleDB copies the table's names to the data nodes"
            ),
            "{one}"
        );
    }

    #[test]
    fn every_kind_reads_back_from_its_label_and_is_in_the_query() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_label(kind.label()), Some(kind));
            assert!(
                COPIED_NAMES.text().contains(&format!("'{}'", kind.label())),
                "{kind:?} is not in the catalog query"
            );
        }
        assert_eq!(Kind::from_label("trigger"), None);
    }

    #[test]
    fn every_kind_reads_as_a_sentence() {
        for kind in Kind::ALL {
            let text = name(kind, Some("o\"wner"), "n\"ame").to_string();
            assert!(text.contains("\"n\\\"ame\""), "{text}");
            let has_owner = matches!(
                kind,
                Kind::ColumnCollation
                    | Kind::ColumnType
                    | Kind::ColumnTypeSchema
                    | Kind::IndexAccessMethod
                    | Kind::IndexCollation
            );
            assert_eq!(text.contains("o\\\"wner"), has_owner, "{text}");
        }
    }

    #[test]
    fn the_error_is_invalid_input_on_the_access_node() {
        let err = check_given(
            "attach data node",
            "an",
            &[CopiedName::given(Kind::Table, "t\"")],
            CopyTo::DataNode("dn2"),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.node(), Some("an"));
        assert_eq!(err.operation(), "attach data node");
        assert!(err.to_string().contains("data node \"dn2\""), "{err}");
    }
}
