//! How plan steps show their SQL: the statements the step will send, with every secret
//! replaced by `[REDACTED]` and values in place of bind parameters. Display text only:
//! nothing here is executed. TimescaleDB's functions are shown in the extension's schema
//! when the access node has the extension already (as they are sent), unqualified before.

use super::functions::Schemas;
use super::quote;
use super::user_mapping::RoleSpec;
use crate::ident::Ident;
use crate::version::Version;

/// The marker shown in place of a secret.
pub(crate) const REDACTED: &str = "[REDACTED]";

pub(crate) fn create_extension(version: Option<Version>) -> String {
    match version {
        Some(v) => format!(
            "CREATE EXTENSION IF NOT EXISTS timescaledb VERSION {}",
            quote::literal(&v.to_string())
        ),
        None => "CREATE EXTENSION IF NOT EXISTS timescaledb".to_owned(),
    }
}

/// `"schema".` for TimescaleDB's API functions, when the schema is known.
fn api_prefix(schemas: Option<&Schemas>) -> String {
    schemas.map(|s| format!("{}.", s.api())).unwrap_or_default()
}

pub(crate) fn add_data_node(
    schemas: Option<&Schemas>,
    name: &Ident,
    host: &str,
    port: u16,
    database: &str,
    bootstrap: bool,
) -> String {
    let api = api_prefix(schemas);
    format!(
        "SELECT * FROM {api}add_data_node({}, host => {}, port => {port}, database => {}, \
         bootstrap => {bootstrap}, if_not_exists => true, password => {REDACTED}); \
         CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER {} OPTIONS (user ..., password {REDACTED}); \
         CALL {api}distributed_exec('SELECT 1', node_list => ARRAY[{}])",
        quote::literal(name.as_str()),
        quote::literal(host),
        quote::literal(database),
        quote::ident(name),
        quote::literal(name.as_str()),
    )
}

pub(crate) fn user_mapping(role: &RoleSpec, server: &Ident, remote_user: &str) -> String {
    format!(
        "CREATE USER MAPPING FOR {} SERVER {} OPTIONS (user {}, password {REDACTED}) \
         (or ALTER USER MAPPING ... SET password {REDACTED})",
        role.render(),
        quote::ident(server),
        quote::literal(remote_user)
    )
}

/// The arguments of a `create_distributed_hypertable` step beyond the table and its time
/// column, as the step passes them (`None`: left to the server's default).
#[derive(Debug, Default)]
pub(crate) struct DistributeArgs<'a> {
    pub(crate) partitioning: Option<&'a str>,
    pub(crate) number_partitions: Option<i32>,
    pub(crate) chunk_interval: Option<ShownInterval>,
    pub(crate) replication_factor: Option<i32>,
    pub(crate) data_nodes: Option<&'a [String]>,
}

/// A chunk interval as a step passes it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ShownInterval {
    /// A time span, in microseconds (bound as an `interval`).
    Micros(u128),
    /// In the integer time column's units.
    Integer(i64),
}

pub(crate) fn distribute(
    schemas: Option<&Schemas>,
    table: &str,
    time_column: &str,
    args: &DistributeArgs<'_>,
) -> String {
    let api = api_prefix(schemas);
    let mut named = String::new();
    if let Some(p) = args.partitioning {
        named.push_str(&format!(", partitioning_column => {}", quote::literal(p)));
    }
    if let Some(n) = args.number_partitions {
        named.push_str(&format!(", number_partitions => {n}"));
    }
    match args.chunk_interval {
        Some(ShownInterval::Micros(us)) => named.push_str(&format!(
            ", chunk_time_interval => INTERVAL '{us} microseconds'"
        )),
        Some(ShownInterval::Integer(n)) => {
            named.push_str(&format!(", chunk_time_interval => {n}"));
        }
        None => {}
    }
    if let Some(n) = args.replication_factor {
        named.push_str(&format!(", replication_factor => {n}"));
    }
    if let Some(nodes) = args.data_nodes {
        let names: Vec<String> = nodes.iter().map(|n| quote::literal(n)).collect();
        named.push_str(&format!(", data_nodes => ARRAY[{}]", names.join(", ")));
    }
    format!(
        "SELECT * FROM {api}create_distributed_hypertable({}, {}{named}, \
         if_not_exists => true)",
        quote::literal(table),
        quote::literal(time_column)
    )
}

pub(crate) fn role(role: &Ident, nodes: &[String], grants: &[String]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| quote::ident_str(n)).collect();
    let mut text = format!(
        "CREATE ROLE {} LOGIN PASSWORD {REDACTED} (or ALTER ROLE) on the access node and, \
         through distributed_exec, on {}; ",
        quote::ident(role),
        names.join(", ")
    );
    for node in nodes {
        text.push_str(&format!(
            "CREATE USER MAPPING FOR {} SERVER {} OPTIONS (user {}, password {REDACTED}); ",
            quote::ident(role),
            quote::ident_str(node),
            quote::literal(role.as_str())
        ));
    }
    for grant in grants {
        text.push_str(grant);
        text.push_str("; ");
    }
    text.trim_end().to_owned()
}

pub(crate) fn alter_data_node(
    schemas: Option<&Schemas>,
    name: &Ident,
    host: &str,
    port: u16,
    database: &str,
) -> String {
    format!(
        "SELECT * FROM {}alter_data_node({}, host => {}, port => {port}, database => {})",
        api_prefix(schemas),
        quote::literal(name.as_str()),
        quote::literal(host),
        quote::literal(database),
    )
}

pub(crate) fn attach_data_node(schemas: Option<&Schemas>, name: &Ident, table: &str) -> String {
    format!(
        "SELECT * FROM {}attach_data_node({}, {}, if_not_attached => true)",
        api_prefix(schemas),
        quote::literal(name.as_str()),
        quote::literal(table),
    )
}

pub(crate) fn set_chunk_time_interval(
    schemas: Option<&Schemas>,
    table: &str,
    units: i64,
) -> String {
    format!(
        "SELECT {}set_chunk_time_interval({}, {units})",
        api_prefix(schemas),
        quote::literal(table),
    )
}

pub(crate) fn set_replication_factor(schemas: Option<&Schemas>, table: &str, n: i32) -> String {
    format!(
        "SELECT {}set_replication_factor({}, {n})",
        api_prefix(schemas),
        quote::literal(table),
    )
}

pub(crate) fn detach_data_node(
    schemas: Option<&Schemas>,
    name: &str,
    table: &str,
    drop_remote_data: bool,
) -> String {
    format!(
        "SELECT {}detach_data_node({}, hypertable => {}{})",
        api_prefix(schemas),
        quote::literal(name),
        quote::literal(table),
        if drop_remote_data {
            ", drop_remote_data => true"
        } else {
            ""
        }
    )
}

pub(crate) fn delete_data_node(
    schemas: Option<&Schemas>,
    name: &str,
    drop_database: bool,
) -> String {
    format!(
        "SELECT {}delete_data_node({}{}) (after DROP USER MAPPING of every role for it{})",
        api_prefix(schemas),
        quote::literal(name),
        if drop_database {
            ", drop_database => true"
        } else {
            ""
        },
        if drop_database {
            ""
        } else {
            "; its database stays"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distribute_step_shows_every_argument_it_passes() {
        let nodes = ["dn1".to_owned(), "dn'2".to_owned()];
        let shown = distribute(
            None,
            "\"sensor_data\"",
            "time",
            &DistributeArgs {
                partitioning: Some("sensor_id"),
                number_partitions: Some(4),
                chunk_interval: Some(ShownInterval::Micros(86_400_000_000)),
                replication_factor: Some(2),
                data_nodes: Some(&nodes),
            },
        );
        assert_eq!(
            shown,
            "SELECT * FROM create_distributed_hypertable('\"sensor_data\"', 'time', \
             partitioning_column => 'sensor_id', number_partitions => 4, \
             chunk_time_interval => INTERVAL '86400000000 microseconds', \
             replication_factor => 2, data_nodes => ARRAY['dn1', 'dn''2'], \
             if_not_exists => true)"
        );
        let shown = distribute(
            None,
            "t",
            "ts",
            &DistributeArgs {
                chunk_interval: Some(ShownInterval::Integer(250)),
                ..DistributeArgs::default()
            },
        );
        assert_eq!(
            shown,
            "SELECT * FROM create_distributed_hypertable('t', 'ts', \
             chunk_time_interval => 250, if_not_exists => true)"
        );
    }
}
