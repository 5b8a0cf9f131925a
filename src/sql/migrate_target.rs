//! What a migration writes on its target: the schema of each hypertable, and the state that
//! makes a migration resumable (schema `_tsmn_migration`: one row per table created, one row
//! per chunk copied, each written in the transaction that did the work).
//!
//! Column types, defaults, constraint and index definitions are the access node's own
//! rendering of its catalog, read with an empty search path (see
//! [`super::migrate_source`]); identifiers the crate adds are quoted through [`quote`].

use super::functions::Schemas;
use super::hypertable::{IntervalKind, TableName};
use super::{quote, Sql};
use crate::ident::Ident;

/// Creates the migration state on the target when it is missing.
pub(crate) const CREATE_STATE: Sql = Sql::from_static(
    "CREATE SCHEMA IF NOT EXISTS _tsmn_migration; \
     CREATE TABLE IF NOT EXISTS _tsmn_migration.tables (\
        table_schema pg_catalog.text NOT NULL, table_name pg_catalog.text NOT NULL, \
        source pg_catalog.text NOT NULL, \
        created_at pg_catalog.timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP, \
        PRIMARY KEY (table_schema, table_name)); \
     CREATE TABLE IF NOT EXISTS _tsmn_migration.chunks (\
        table_schema pg_catalog.text NOT NULL, table_name pg_catalog.text NOT NULL, \
        chunk_name pg_catalog.text NOT NULL, source_node pg_catalog.text NOT NULL, \
        rows pg_catalog.int8 NOT NULL, bytes pg_catalog.int8 NOT NULL, \
        copied_at pg_catalog.timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP, \
        PRIMARY KEY (table_schema, table_name, chunk_name)); \
     CREATE TABLE IF NOT EXISTS _tsmn_migration.indexed (\
        table_schema pg_catalog.text NOT NULL, table_name pg_catalog.text NOT NULL, \
        indexed_at pg_catalog.timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP, \
        PRIMARY KEY (table_schema, table_name))",
);

/// Whether the indexes of table `$1` schema, `$2` name were built (they are built once its
/// rows are in).
pub(crate) const INDEXED: Sql = Sql::from_static(
    "SELECT EXISTS (SELECT FROM _tsmn_migration.indexed i \
                     WHERE i.table_schema OPERATOR(pg_catalog.=) $1::pg_catalog.text \
                       AND i.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.text) AS indexed",
);

/// Records the indexes of table `$1` schema, `$2` name as built.
pub(crate) const RECORD_INDEXED: Sql = Sql::from_static(
    "INSERT INTO _tsmn_migration.indexed VALUES ($1::pg_catalog.text, $2::pg_catalog.text)",
);

/// Whether the migration state exists on the target.
pub(crate) const STATE_EXISTS: Sql = Sql::from_static(
    "SELECT pg_catalog.to_regclass('_tsmn_migration.chunks'::pg_catalog.text) IS NOT NULL \
       AS exists",
);

/// The row of table `$1` schema, `$2` name in the migration state, if it was created.
pub(crate) const TABLE_RECORDED: Sql = Sql::from_static(
    "SELECT t.source FROM _tsmn_migration.tables t \
      WHERE t.table_schema OPERATOR(pg_catalog.=) $1::pg_catalog.text \
        AND t.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.text",
);

/// Records table `$1` schema, `$2` name as created from source `$3` (the columns in the
/// order [`CREATE_STATE`] made them; the time of creation is the default).
pub(crate) const RECORD_TABLE: Sql = Sql::from_static(
    "INSERT INTO _tsmn_migration.tables \
     VALUES ($1::pg_catalog.text, $2::pg_catalog.text, $3::pg_catalog.text)",
);

/// The chunks of table `$1` schema, `$2` name recorded as copied.
pub(crate) const CHUNKS_RECORDED: Sql = Sql::from_static(
    "SELECT c.chunk_name, c.source_node, c.rows, c.bytes FROM _tsmn_migration.chunks c \
      WHERE c.table_schema OPERATOR(pg_catalog.=) $1::pg_catalog.text \
        AND c.table_name OPERATOR(pg_catalog.=) $2::pg_catalog.text",
);

/// Records chunk `$3` of table `$1` schema, `$2` name as copied from node `$4`: `$5` rows,
/// `$6` bytes (the columns in the order [`CREATE_STATE`] made them).
pub(crate) const RECORD_CHUNK: Sql = Sql::from_static(
    "INSERT INTO _tsmn_migration.chunks \
     VALUES ($1::pg_catalog.text, $2::pg_catalog.text, $3::pg_catalog.text, \
             $4::pg_catalog.text, $5::pg_catalog.int8, $6::pg_catalog.int8)",
);

/// `CREATE SCHEMA IF NOT EXISTS <schema>`.
pub(crate) fn create_schema(schema: &Ident) -> Sql {
    Sql::rendered(format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        quote::ident(schema)
    ))
}

/// One column of a table to create: its name, and the rest of its definition as the source
/// server rendered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnDef {
    pub(crate) name: Ident,
    /// The type, as `format_type` writes it.
    pub(crate) type_text: String,
    /// A collation other than the type's: schema and name.
    pub(crate) collation: Option<(Ident, Ident)>,
    pub(crate) not_null: bool,
    /// The default, as `pg_get_expr` writes it.
    pub(crate) default: Option<String>,
    /// The generation expression of a stored generated column.
    pub(crate) generated: Option<String>,
}

/// `CREATE TABLE <table> (<columns>, CONSTRAINT <name> <definition>, ...)`; each constraint is
/// its name and its definition as `pg_get_constraintdef` writes it.
pub(crate) fn create_table(
    table: &TableName,
    columns: &[ColumnDef],
    constraints: &[(Ident, String)],
) -> Sql {
    let mut items: Vec<String> = columns
        .iter()
        .map(|c| {
            let mut item = format!("{} {}", quote::ident(&c.name), c.type_text);
            if let Some((schema, name)) = &c.collation {
                item.push_str(&format!(
                    " COLLATE {}.{}",
                    quote::ident(schema),
                    quote::ident(name)
                ));
            }
            if c.not_null {
                item.push_str(" NOT NULL");
            }
            if let Some(generated) = &c.generated {
                item.push_str(&format!(" GENERATED ALWAYS AS ({generated}) STORED"));
            } else if let Some(default) = &c.default {
                item.push_str(&format!(" DEFAULT {default}"));
            }
            item
        })
        .collect();
    for (name, definition) in constraints {
        items.push(format!("CONSTRAINT {} {definition}", quote::ident(name)));
    }
    Sql::rendered(format!(
        "CREATE TABLE {} ({})",
        table.regclass_text(),
        items.join(", ")
    ))
}

/// A `CREATE INDEX` statement as the source server wrote it (`pg_get_indexdef`, read with
/// an empty search path, so the table name is qualified).
pub(crate) fn server_index(definition: String) -> Sql {
    Sql::rendered(definition)
}

/// `SELECT ... FROM <api>.create_hypertable($1 relation, $2 time column, chunk_time_interval
/// => $3, create_default_indexes => false)`: the source's indexes are created apart.
pub(crate) fn create_hypertable(schemas: &Schemas, interval: IntervalKind) -> Sql {
    let interval = match interval {
        IntervalKind::Interval => "$3::pg_catalog.text::pg_catalog.interval",
        IntervalKind::Integer => "$3::pg_catalog.int8",
    };
    Sql::rendered(format!(
        "SELECT hypertable_id FROM {}.create_hypertable(\
                $1::pg_catalog.text::pg_catalog.regclass, $2::pg_catalog.name, \
                chunk_time_interval => {interval}, create_default_indexes => false)",
        schemas.api()
    ))
}

/// A table privilege as `aclexplode` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TablePrivilege {
    Select,
    Insert,
    Update,
    Delete,
    Truncate,
    References,
    Trigger,
}

impl TablePrivilege {
    /// The privilege `aclexplode` reports as `name`, if it is a table privilege.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "SELECT" => TablePrivilege::Select,
            "INSERT" => TablePrivilege::Insert,
            "UPDATE" => TablePrivilege::Update,
            "DELETE" => TablePrivilege::Delete,
            "TRUNCATE" => TablePrivilege::Truncate,
            "REFERENCES" => TablePrivilege::References,
            "TRIGGER" => TablePrivilege::Trigger,
            _ => return None,
        })
    }

    /// The keyword.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            TablePrivilege::Select => "SELECT",
            TablePrivilege::Insert => "INSERT",
            TablePrivilege::Update => "UPDATE",
            TablePrivilege::Delete => "DELETE",
            TablePrivilege::Truncate => "TRUNCATE",
            TablePrivilege::References => "REFERENCES",
            TablePrivilege::Trigger => "TRIGGER",
        }
    }
}

/// `GRANT <privilege> ON TABLE <table> TO <role | PUBLIC> [WITH GRANT OPTION]`.
pub(crate) fn grant(
    privilege: TablePrivilege,
    table: &TableName,
    grantee: Option<&Ident>,
    grantable: bool,
) -> Sql {
    Sql::rendered(format!(
        "GRANT {} ON TABLE {} TO {}{}",
        privilege.keyword(),
        table.regclass_text(),
        grantee.map_or_else(|| "PUBLIC".to_owned(), quote::ident),
        if grantable { " WITH GRANT OPTION" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Ident {
        Ident::new(s).unwrap()
    }

    #[test]
    fn create_table_quotes_what_the_crate_adds() {
        let table = TableName::qualified(id("My \"Schema\""), id("t ü"));
        let columns = [
            ColumnDef {
                name: id("time"),
                type_text: "timestamp with time zone".into(),
                collation: None,
                not_null: true,
                default: Some("now()".into()),
                generated: None,
            },
            ColumnDef {
                name: id("Naïve \"x\""),
                type_text: "text".into(),
                collation: Some((id("pg_catalog"), id("C"))),
                not_null: false,
                default: None,
                generated: None,
            },
        ];
        let sql = create_table(&table, &columns, &[(id("c 1"), "CHECK (true)".into())]);
        assert_eq!(
            sql.text(),
            "CREATE TABLE \"My \"\"Schema\"\"\".\"t ü\" (\"time\" timestamp with time zone \
             NOT NULL DEFAULT now(), \"Naïve \"\"x\"\"\" text COLLATE \"pg_catalog\".\"C\", \
             CONSTRAINT \"c 1\" CHECK (true))"
        );
    }

    #[test]
    fn grants_to_roles_and_public() {
        let table = TableName::qualified(id("s"), id("t"));
        assert_eq!(
            grant(TablePrivilege::Select, &table, Some(&id("r\"1")), true).text(),
            "GRANT SELECT ON TABLE \"s\".\"t\" TO \"r\"\"1\" WITH GRANT OPTION"
        );
        assert_eq!(
            grant(TablePrivilege::Insert, &table, None, false).text(),
            "GRANT INSERT ON TABLE \"s\".\"t\" TO PUBLIC"
        );
        assert_eq!(
            TablePrivilege::parse("TRIGGER"),
            Some(TablePrivilege::Trigger)
        );
        assert_eq!(TablePrivilege::parse("USAGE"), None);
    }
}
