//! `timescaledb_information.data_nodes`.

use tokio_postgres::Row;

use crate::connect::SessionOn;
use crate::error::Result;

/// One data node as the access node knows it (what `\des+` shows).
///
/// Only the known foreign-server options are kept; any other option (the view shows every
/// option, even a `password` someone added with `ALTER SERVER`) is dropped, never stored.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataNodeInfo {
    /// The data node's name (its foreign server's name).
    pub name: String,
    /// The role that owns the foreign server.
    pub owner: String,
    /// `host` option.
    pub host: Option<String>,
    /// `port` option.
    pub port: Option<u16>,
    /// `dbname` option.
    pub database: Option<String>,
    /// `available` option (set by `alter_data_node`, 2.9+); true when absent.
    pub available: bool,
}

impl DataNodeInfo {
    pub(crate) fn from_row(session: &SessionOn<'_>, op: &'static str, row: &Row) -> Result<Self> {
        let options: Vec<String> = session.get(op, row, "options")?;
        let option = |key: &str| {
            options.iter().find_map(|o| {
                o.split_once('=')
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_owned())
            })
        };
        Ok(DataNodeInfo {
            name: session.get(op, row, "node_name")?,
            owner: session.get(op, row, "owner")?,
            host: option("host"),
            port: option("port").and_then(|p| p.parse().ok()),
            database: option("dbname"),
            available: option("available").is_none_or(|v| v != "false"),
        })
    }
}
