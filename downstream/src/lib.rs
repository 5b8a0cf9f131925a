//! A small application on a TimescaleDB multi-node cluster: it keeps sensor readings in a
//! distributed hypertable, loads them in bulk and reads averages back.
//!
//! It lives in the timescaledb-multinode repository as a user of the crate would write it:
//! the public API only, as a dependency by path, and its tests use the crate's `testing`
//! feature as a dev-dependency (a joined cluster in one call, the tier-2 skip helper). It is
//! not published.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

use std::collections::BTreeMap;
use std::time::SystemTime;

use timescaledb_multinode::{AccessNode, DistributedHypertable, Ident, RawSql, Result, TableName};

/// The table the readings go to.
pub const TABLE: &str = "readings";

/// One measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// When it was taken.
    pub at: SystemTime,
    /// Which sensor took it.
    pub sensor: i32,
    /// The temperature, in degrees Celsius.
    pub celsius: f64,
}

/// The readings store: a pooled access node.
#[derive(Debug, Clone)]
pub struct Store {
    access_node: AccessNode,
}

impl Store {
    /// A store on this access node (whose data nodes are added already).
    pub fn new(access_node: AccessNode) -> Self {
        Store { access_node }
    }

    /// Creates the table and distributes it over the data nodes, by time and sensor; does
    /// nothing where that is done already.
    pub async fn provision(&self) -> Result<()> {
        self.access_node
            .execute(
                &RawSql::vouched(
                    "CREATE TABLE IF NOT EXISTS readings(\
                       at timestamptz NOT NULL, \
                       sensor int4 NOT NULL, \
                       celsius float8 NOT NULL)",
                ),
                &[],
            )
            .await?;
        DistributedHypertable::new(TABLE, "at")
            .partitioning_column("sensor")
            .idempotent()
            .run(&self.access_node)
            .await?;
        Ok(())
    }

    /// Loads `readings` with one binary COPY; returns how many rows went in.
    pub async fn record(&self, readings: &[Reading]) -> Result<u64> {
        let mut copy = self
            .access_node
            .ingest(&table()?, &["at", "sensor", "celsius"])
            .await?;
        for r in readings {
            copy.write(&[&r.at, &r.sensor, &r.celsius]).await?;
        }
        copy.finish().await
    }

    /// The average temperature of `sensor`, if it has readings.
    pub async fn average(&self, sensor: i32) -> Result<Option<f64>> {
        let rows = self
            .access_node
            .query(
                &RawSql::vouched("SELECT avg(celsius) FROM readings WHERE sensor = $1"),
                &[&sensor],
            )
            .await?;
        Ok(rows.first().and_then(|row| row.get(0)))
    }

    /// How many chunks of the table each data node holds.
    pub async fn chunks_per_data_node(&self) -> Result<BTreeMap<String, usize>> {
        let mut placement = BTreeMap::new();
        for chunk in self.access_node.chunks(&table()?).await? {
            for node in chunk.data_nodes {
                *placement.entry(node).or_default() += 1;
            }
        }
        Ok(placement)
    }
}

fn table() -> Result<TableName> {
    Ok(TableName::new(Ident::new(TABLE)?))
}
