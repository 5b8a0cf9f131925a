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
) -> String {
    let api = api_prefix(schemas);
    format!(
        "SELECT * FROM {api}add_data_node({}, host => {}, port => {port}, database => {}, \
         bootstrap => false, if_not_exists => true, password => {REDACTED}); \
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

pub(crate) fn distribute(
    schemas: Option<&Schemas>,
    table: &str,
    time_column: &str,
    partitioning: Option<&str>,
) -> String {
    let api = api_prefix(schemas);
    let partitioning = partitioning
        .map(|p| format!(", partitioning_column => {}", quote::literal(p)))
        .unwrap_or_default();
    format!(
        "SELECT * FROM {api}create_distributed_hypertable({}, {}{partitioning}, \
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
