//! `COPY ... FROM STDIN (FORMAT binary)` and the column types it needs.

use super::hypertable::TableName;
use super::{quote, Sql};
use crate::ident::Ident;

/// `COPY <table> (<columns>) FROM STDIN (FORMAT binary)`.
pub(crate) fn copy_in_binary(table: &TableName, columns: &[Ident]) -> Sql {
    let list: Vec<String> = columns.iter().map(quote::ident).collect();
    Sql::rendered(format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.regclass_text(),
        list.join(", ")
    ))
}

/// Name and type OID of every live column of table `$1` (a quoted name, as text), in order.
pub(crate) const TABLE_COLUMNS: Sql = Sql::from_static(
    "SELECT a.attname::pg_catalog.text AS name, a.atttypid AS type_oid \
       FROM pg_catalog.pg_attribute a \
      WHERE a.attrelid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
        AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped \
      ORDER BY a.attnum",
);

/// [`TABLE_COLUMNS`] with, on every row, the table's data nodes
/// ([`super::status::HYPERTABLE_DATA_NODES`]): what an ingest needs to know, in one round
/// trip, on a server with TimescaleDB.
pub(crate) const INGEST_TARGET: Sql = Sql::from_static(concat!(
    "SELECT a.attname::pg_catalog.text AS name, a.atttypid AS type_oid, n.data_nodes \
       FROM pg_catalog.pg_attribute a \
      CROSS JOIN (",
    super::status::data_nodes_of_relation!(),
    ") n \
      WHERE a.attrelid OPERATOR(pg_catalog.=) \
              pg_catalog.to_regclass($1::pg_catalog.text)::pg_catalog.oid \
        AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped \
      ORDER BY a.attnum"
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_table_and_columns() {
        let table = TableName::new(Ident::new("sensor data").unwrap());
        let cols = [Ident::new("time").unwrap(), Ident::new("a\"b").unwrap()];
        assert_eq!(
            copy_in_binary(&table, &cols).text(),
            r#"COPY "sensor data" ("time", "a""b") FROM STDIN (FORMAT binary)"#
        );
    }
}
