//! The checksums a migration compares: row count and an order-independent checksum of a set
//! of rows, the sum of a 64-bit hash of each row's text form (`hashtextextended`), computed
//! the same way over a chunk on a data node and over that chunk's time range on the target.
//! Both sessions first run [`super::migrate_source::STABLE_TEXT`], so every value prints
//! the same on both sides.

use super::hypertable::{IntervalKind, TableName};
use super::migrate_source::column_list;
use super::{quote, Sql};
use crate::ident::Ident;

/// The select list of a checksum over the rows of subquery `s`.
const CHECKSUM: &str = "SELECT pg_catalog.count(*) AS rows, \
        coalesce(pg_catalog.sum(pg_catalog.hashtextextended(s::pg_catalog.text, 0)), 0)\
        ::pg_catalog.text AS checksum";

/// Row count and checksum of every row of `chunk` (on a data node), over `columns` in order.
pub(crate) fn chunk_checksum(chunk: &TableName, columns: &[Ident]) -> Sql {
    Sql::rendered(format!(
        "{CHECKSUM} FROM (SELECT {} FROM {}) s",
        column_list(columns),
        chunk.regclass_text()
    ))
}

/// Row count and checksum of the rows of `table` (on the target) whose `time_column` is in
/// [`$1`, `$2`), over `columns` in order. Time bounds are `timestamptz` text (the session's
/// time zone is UTC, as on the access node that printed them), integer bounds `int8`.
pub(crate) fn range_checksum(
    table: &TableName,
    columns: &[Ident],
    time_column: &Ident,
    bounds: IntervalKind,
) -> Sql {
    let ty = match bounds {
        IntervalKind::Interval => "pg_catalog.timestamptz",
        IntervalKind::Integer => "pg_catalog.int8",
    };
    let time = quote::ident(time_column);
    Sql::rendered(format!(
        "{CHECKSUM} FROM (SELECT {} FROM {} \
          WHERE {time} OPERATOR(pg_catalog.>=) $1::pg_catalog.text::{ty} \
            AND {time} OPERATOR(pg_catalog.<) $2::pg_catalog.text::{ty}) s",
        column_list(columns),
        table.regclass_text()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_checksum_binds_typed_bounds() {
        let table = TableName::qualified(Ident::new("s").unwrap(), Ident::new("t").unwrap());
        let cols = [Ident::new("time").unwrap(), Ident::new("v").unwrap()];
        let sql = range_checksum(&table, &cols, &cols[0], IntervalKind::Integer);
        assert!(sql.text().ends_with(
            "FROM (SELECT \"time\", \"v\" FROM \"s\".\"t\" \
              WHERE \"time\" OPERATOR(pg_catalog.>=) $1::pg_catalog.text::pg_catalog.int8 \
                AND \"time\" OPERATOR(pg_catalog.<) $2::pg_catalog.text::pg_catalog.int8) s"
        ));
    }
}
