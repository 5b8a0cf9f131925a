//! A [`Cluster`] spec read from a TOML or JSON file (feature `serde`).
//!
//! Passwords are never read from the file: each node and role names the environment
//! variable (or, with a callback, any key) its password comes from, and a file with a literal
//! `password` is refused.
//!
//! Errors name the entry (`data node "dn1" (data_nodes[0])`) and the field, and never hold a
//! value of `password`, `password_env` or `data_node_password_env` (a password typed there
//! by mistake must not reach a log): those fields accept any value while the file is read,
//! and are checked afterwards with messages of their own. Syntax errors give the position
//! and the parser's description, never the input line that TOML's `Display` would quote.
//!
//! ```toml
//! node_deadline_secs = 30   # optional: Cluster::node_deadline
//! apply_lock_wait_secs = 600   # optional: Cluster::apply_lock_wait
//!
//! [access_node]
//! name = "an"
//! host = "10.0.0.10"
//! database = "tsdb"
//! user = "tsdbadmin"
//! password_env = "TSMN_PASSWORD_AN"
//!
//! [[data_nodes]]
//! name = "dn1"
//! host = "10.0.0.11"
//! password_env = "TSMN_PASSWORD_DN1"
//! # optional: how the access node reaches it, when not as the client does
//! access_node_host = "dn1.cluster.internal"
//! access_node_port = 5432
//!
//! [[hypertables]]
//! create_table = "CREATE TABLE sensor_data (time timestamptz NOT NULL, sensor_id int NOT NULL, temperature float8)"
//! table = "sensor_data"
//! time_column = "time"
//! partitioning_column = "sensor_id"
//!
//! [[roles]]
//! name = "mn_user1"
//! password_env = "TSMN_PASSWORD_MN_USER1"
//! grants = [
//!     { privileges = ["select"], table = "sensor_data" },              # schema = "..." optional
//!     { privileges = ["select"], all_tables_in_schema = "reports" },   # and later tables too
//! ]
//! ```

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::Cluster;
use crate::config::{NodeConfig, TlsMode};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::{ChunkInterval, DistributedHypertable, DistributedRole};
use crate::sql::hypertable::TableName;
use crate::sql::raw::RawSql;
use crate::sql::role::Privilege;

const OP: &str = "read cluster spec";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    node_deadline_secs: Option<u64>,
    #[serde(default)]
    apply_lock_wait_secs: Option<u64>,
    access_node: NodeEntry,
    #[serde(default)]
    data_nodes: Vec<NodeEntry>,
    #[serde(default)]
    hypertables: Vec<HypertableEntry>,
    #[serde(default)]
    roles: Vec<RoleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    name: String,
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default)]
    database: Option<String>,
    #[serde(default = "default_user")]
    user: String,
    password_env: Option<SecretField>,
    /// Present only to refuse it with a clear message.
    password: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    tls: Option<String>,
    #[serde(default)]
    connect_timeout_secs: Option<u64>,
    /// A data node's host as the access node reaches it, when not `host`.
    #[serde(default)]
    access_node_host: Option<String>,
    /// A data node's port as the access node reaches it, when not `port`.
    #[serde(default)]
    access_node_port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HypertableEntry {
    create_table: String,
    table: String,
    #[serde(default)]
    schema: Option<String>,
    time_column: String,
    #[serde(default)]
    partitioning_column: Option<String>,
    #[serde(default)]
    number_partitions: Option<i32>,
    #[serde(default)]
    chunk_interval_secs: Option<u64>,
    #[serde(default)]
    replication_factor: Option<i32>,
    #[serde(default)]
    data_nodes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    name: String,
    password_env: Option<SecretField>,
    #[serde(default)]
    data_node_password_env: Option<SecretField>,
    password: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    data_nodes: Option<Vec<String>>,
    #[serde(default)]
    grants: Vec<GrantEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantEntry {
    privileges: Vec<String>,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    all_tables_in_schema: Option<String>,
}

/// A field that names where a password comes from. It takes any value, so that reading the
/// file never fails on it: serde's messages quote the offending value ("invalid type:
/// integer `…`"), and a password typed here by mistake must not reach an error. Its type is
/// checked afterwards, with a message that quotes nothing.
#[derive(Deserialize)]
#[serde(untagged)]
enum SecretField {
    Name(String),
    Other(serde::de::IgnoredAny),
}

impl std::fmt::Debug for SecretField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretField(..)")
    }
}

/// Where a spec entry is in the file, for errors: `data node "dn1" (data_nodes[0])`.
#[derive(Debug, Clone)]
struct Entry(String);

impl Entry {
    fn new(kind: &str, name: Option<&str>, place: &str) -> Self {
        Entry(match name {
            Some(name) => format!("{kind} {name:?} ({place})"),
            None => place.to_owned(),
        })
    }

    /// An error about `field` of this entry.
    fn error(&self, field: &str, reason: impl std::fmt::Display) -> Error {
        Error::invalid(OP, None, format!("{}, field {field}: {reason}", self.0))
    }
}

fn default_port() -> u16 {
    NodeConfig::DEFAULT_PORT
}

fn default_user() -> String {
    "tsdbadmin".to_owned()
}

impl Cluster {
    /// Reads a spec from TOML text; each password comes from the environment variable its
    /// entry names in `password_env`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a file that does not fit the spec, a literal `password`,
    /// or a password variable that is missing or not set. Each error names the entry
    /// (`data node "dn1" (data_nodes[0])`) and the field, and the line for a file that does
    /// not parse; none holds the value of `password`, `password_env` or
    /// `data_node_password_env`, nor the text of the file's lines, since a password typed
    /// there by mistake must not reach a log.
    pub fn from_toml(text: &str) -> Result<Cluster> {
        Self::from_toml_with(text, env_secret)
    }

    /// Reads a spec from JSON text; passwords as in [`Cluster::from_toml`].
    pub fn from_json(text: &str) -> Result<Cluster> {
        Self::from_json_with(text, env_secret)
    }

    /// Reads a spec from TOML text, asking `secret` for each `password_env` key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the entry and the field; never with a value of a
    /// password field (see [`Cluster::from_toml`]).
    pub fn from_toml_with(
        text: &str,
        secret: impl Fn(&str) -> Option<SecretString>,
    ) -> Result<Cluster> {
        read(text, Format::Toml)?.into_cluster(&secret)
    }

    /// Reads a spec from JSON text, asking `secret` for each `password_env` key.
    ///
    /// # Errors
    ///
    /// As [`Cluster::from_toml_with`].
    pub fn from_json_with(
        text: &str,
        secret: impl Fn(&str) -> Option<SecretString>,
    ) -> Result<Cluster> {
        read(text, Format::Json)?.into_cluster(&secret)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Toml,
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        }
    }
}

/// Reads the file; an error names the position, the entry and the field.
fn read(text: &str, format: Format) -> Result<SpecFile> {
    match format {
        Format::Toml => {
            let de = toml::Deserializer::parse(text).map_err(|e| {
                // The message is the parser's description; `Display` would add the line.
                syntax_error(format, line_of(text, e.span()), e.message())
            })?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let line = line_of(text, e.inner().span());
                let message = e.inner().message().to_owned();
                data_error(format, line, text, e.path(), &message)
            })
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let file: SpecFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let inner = e.inner();
                let line = Some(inner.line());
                if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                    return syntax_error(format, line, &json_message(inner));
                }
                data_error(format, line, text, e.path(), &json_message(inner))
            })?;
            de.end()
                .map_err(|e| syntax_error(format, Some(e.line()), &json_message(&e)))?;
            Ok(file)
        }
    }
}

/// serde_json's message without its " at line … column …" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// The 1-based line of byte offset `span.start` in `text`.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let start = span?.start.min(text.len());
    Some(
        text.as_bytes()[..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1,
    )
}

fn at_line(format: Format, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}, line {line}", format.name()),
        None => format.name().to_owned(),
    }
}

fn syntax_error(format: Format, line: Option<usize>, message: &str) -> Error {
    Error::invalid(
        OP,
        None,
        format!("{}: syntax error: {message}", at_line(format, line)),
    )
}

/// The names of the password fields, whose values an error never shows.
const SECRET_FIELDS: [&str; 3] = ["password", "password_env", "data_node_password_env"];

/// A field that does not fit the spec: names the entry (with its name, read again leniently
/// from the file) and the field. serde's message is shown, unless the field is a password
/// field (they take any value, so this does not happen; the check keeps it so).
fn data_error(
    format: Format,
    line: Option<usize>,
    text: &str,
    path: &serde_path_to_error::Path,
    message: &str,
) -> Error {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let key = |i: usize| match segments.get(i) {
        Some(Segment::Map { key }) => Some(key.as_str()),
        _ => None,
    };
    let index = |i: usize| match segments.get(i) {
        Some(Segment::Seq { index }) => Some(*index),
        _ => None,
    };
    let (entry, rest) = match (key(0), index(1)) {
        (Some("access_node"), _) => {
            let name = entry_name(text, format, "access_node", None, "name");
            (Entry::new("access node", name.as_deref(), "access_node"), 1)
        }
        (Some(list @ ("data_nodes" | "hypertables" | "roles")), Some(i)) => {
            let (kind, name_key) = match list {
                "data_nodes" => ("data node", "name"),
                "hypertables" => ("hypertable", "table"),
                _ => ("role", "name"),
            };
            let name = entry_name(text, format, list, Some(i), name_key);
            (
                Entry::new(kind, name.as_deref(), &format!("{list}[{i}]")),
                2,
            )
        }
        _ => (Entry("the spec".to_owned()), 0),
    };
    let field = segments[rest.min(segments.len())..]
        .iter()
        .map(|s| match s {
            Segment::Seq { index } => format!("[{index}]"),
            Segment::Map { key } => format!(".{key}"),
            Segment::Enum { variant } => format!(".{variant}"),
            Segment::Unknown => String::new(),
        })
        .collect::<String>();
    let field = field.trim_start_matches('.');
    let reason = if segments
        .iter()
        .any(|s| matches!(s, Segment::Map { key } if SECRET_FIELDS.contains(&key.as_str())))
    {
        "not valid here (the parser's message is not shown: it may quote a password)".to_owned()
    } else {
        message.to_owned()
    };
    let place = at_line(format, line);
    if field.is_empty() {
        Error::invalid(OP, None, format!("{place}: {}: {reason}", entry.0))
    } else {
        Error::invalid(
            OP,
            None,
            format!("{place}: {}, field {field}: {reason}", entry.0),
        )
    }
}

/// The string at `list[index].key` (or `list.key`), read leniently from a file that did not
/// fit the spec, to name the entry an error is about.
fn entry_name(
    text: &str,
    format: Format,
    list: &str,
    index: Option<usize>,
    key: &str,
) -> Option<String> {
    let value: serde_json::Value = match format {
        Format::Toml => serde_json::to_value(toml::from_str::<toml::Table>(text).ok()?).ok()?,
        Format::Json => serde_json::from_str(text).ok()?,
    };
    let entry = value.get(list)?;
    let entry = match index {
        Some(i) => entry.get(i)?,
        None => entry,
    };
    entry.get(key)?.as_str().map(str::to_owned)
}

fn env_secret(key: &str) -> Option<SecretString> {
    std::env::var(key).ok().map(SecretString::from)
}

/// The secret `field` of `entry` names, or an error naming the entry and the field (never a
/// value: what the field holds may be a password typed there by mistake).
fn lookup(
    entry: &Entry,
    field: &str,
    key: Option<&SecretField>,
    literal: bool,
    secret: &dyn Fn(&str) -> Option<SecretString>,
) -> Result<SecretString> {
    if literal {
        return Err(entry.error(
            "password",
            "passwords are never read from the spec file: name an environment variable with \
             password_env",
        ));
    }
    match key {
        None => Err(entry.error(field, "missing")),
        Some(SecretField::Other(_)) => Err(entry.error(
            field,
            "must be a string, the name of an environment variable (the value is not shown: \
             it may be a password)",
        )),
        Some(SecretField::Name(key)) => secret(key).ok_or_else(|| {
            entry.error(
                field,
                "the environment variable it names is not set (its name is not shown: it may \
                 be a password)",
            )
        }),
    }
}

impl NodeEntry {
    fn into_config(
        self,
        entry: &Entry,
        secret: &dyn Fn(&str) -> Option<SecretString>,
    ) -> Result<NodeConfig> {
        let password = lookup(
            entry,
            "password_env",
            self.password_env.as_ref(),
            self.password.is_some(),
            secret,
        )?;
        let mut config = NodeConfig::new(self.host, self.user, password)
            .name(self.name)
            .port(self.port);
        if let Some(database) = self.database {
            config = config.database(database);
        }
        if let Some(tls) = self.tls {
            config = config.tls(match tls.as_str() {
                "disable" => TlsMode::Disable,
                "prefer" => TlsMode::Prefer,
                "require" => TlsMode::Require,
                "verify-full" => TlsMode::VerifyFull,
                other => {
                    return Err(entry.error(
                        "tls",
                        format!("{other:?} is not disable, prefer, require or verify-full"),
                    ))
                }
            });
        }
        if let Some(secs) = self.connect_timeout_secs {
            config = config.connect_timeout(Duration::from_secs(secs));
        }
        Ok(config)
    }
}

impl SpecFile {
    fn into_cluster(self, secret: &dyn Fn(&str) -> Option<SecretString>) -> Result<Cluster> {
        let entry = Entry::new("access node", Some(&self.access_node.name), "access_node");
        if self.access_node.access_node_host.is_some()
            || self.access_node.access_node_port.is_some()
        {
            return Err(entry.error(
                "access_node_host",
                "only a data node has an address as the access node sees it",
            ));
        }
        let mut cluster = Cluster::new(self.access_node.into_config(&entry, secret)?);
        match self.node_deadline_secs {
            Some(0) => {
                return Err(Error::invalid(
                    OP,
                    None,
                    "field node_deadline_secs: must be greater than zero",
                ))
            }
            Some(secs) => cluster = cluster.node_deadline(Duration::from_secs(secs)),
            None => {}
        }
        if let Some(secs) = self.apply_lock_wait_secs {
            cluster = cluster.apply_lock_wait(Duration::from_secs(secs));
        }
        for (i, node) in self.data_nodes.into_iter().enumerate() {
            let entry = Entry::new("data node", Some(&node.name), &format!("data_nodes[{i}]"));
            let route = match (&node.access_node_host, node.access_node_port) {
                (None, None) => None,
                (host, port) => Some((
                    host.clone().unwrap_or_else(|| node.host.clone()),
                    port.unwrap_or(node.port),
                )),
            };
            let name = node.name.clone();
            cluster = cluster.data_node(node.into_config(&entry, secret)?);
            if let Some((host, port)) = route {
                cluster = cluster.access_node_route(name, host, port);
            }
        }
        for (i, ht) in self.hypertables.into_iter().enumerate() {
            let entry = Entry::new("hypertable", Some(&ht.table), &format!("hypertables[{i}]"));
            let table = spec_table(&entry, "", ht.schema, ht.table)?;
            let mut builder = DistributedHypertable::new(table, ht.time_column);
            if let Some(column) = ht.partitioning_column {
                builder = builder.partitioning_column(column);
            }
            if let Some(n) = ht.number_partitions {
                builder = builder.number_partitions(n);
            }
            if let Some(secs) = ht.chunk_interval_secs {
                builder = builder.chunk_interval(ChunkInterval::Time(Duration::from_secs(secs)));
            }
            if let Some(n) = ht.replication_factor {
                builder = builder.replication_factor(n);
            }
            if let Some(nodes) = ht.data_nodes {
                builder = builder.data_nodes(nodes);
            }
            cluster = cluster.hypertable(RawSql::vouched(ht.create_table), builder);
        }
        for (i, role) in self.roles.into_iter().enumerate() {
            let entry = Entry::new("role", Some(&role.name), &format!("roles[{i}]"));
            let password = lookup(
                &entry,
                "password_env",
                role.password_env.as_ref(),
                role.password.is_some(),
                secret,
            )?;
            let mut builder = DistributedRole::new(role.name, password);
            if let Some(key) = &role.data_node_password_env {
                builder = builder.data_node_password(lookup(
                    &entry,
                    "data_node_password_env",
                    Some(key),
                    false,
                    secret,
                )?);
            }
            if let Some(nodes) = role.data_nodes {
                builder = builder.data_nodes(nodes);
            }
            for (g, grant) in role.grants.into_iter().enumerate() {
                let field = format!("grants[{g}].privileges");
                let privileges = grant
                    .privileges
                    .iter()
                    .map(|p| parse_privilege(&entry, &field, p))
                    .collect::<Result<Vec<_>>>()?;
                builder = match (grant.table, grant.schema, grant.all_tables_in_schema) {
                    (Some(table), schema, None) => {
                        let at = format!("grants[{g}].");
                        builder.grant(privileges, spec_table(&entry, &at, schema, table)?)
                    }
                    (None, None, Some(schema)) => {
                        builder.grant_on_all_tables_in_schema(privileges, schema)
                    }
                    _ => {
                        return Err(entry.error(
                            &format!("grants[{g}]"),
                            "give either table (and optionally schema) or \
                             all_tables_in_schema",
                        ))
                    }
                };
            }
            cluster = cluster.role(builder);
        }
        cluster.validate_spec(OP)?;
        Ok(cluster)
    }
}

/// The table of fields `{at}table` and `{at}schema`: each one identifier, taken as written
/// (a spec's `table = "a.b"` is a table called `a.b`).
fn spec_table(entry: &Entry, at: &str, schema: Option<String>, table: String) -> Result<TableName> {
    let part = |name: String, field: &str| {
        Ident::checked(name).map_err(|reason| entry.error(&format!("{at}{field}"), reason))
    };
    let table = part(table, "table")?;
    Ok(match schema {
        Some(schema) => TableName::qualified(part(schema, "schema")?, table),
        None => TableName::new(table),
    })
}

fn parse_privilege(entry: &Entry, field: &str, text: &str) -> Result<Privilege> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "select" => Privilege::Select,
        "insert" => Privilege::Insert,
        "update" => Privilege::Update,
        "delete" => Privilege::Delete,
        "truncate" => Privilege::Truncate,
        "all" => Privilege::All,
        other => return Err(entry.error(field, format!("unknown privilege {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const SPEC: &str = r#"
        [access_node]
        name = "an"
        host = "127.0.0.1"
        port = 5432
        database = "tsdb"
        password_env = "PW_AN"

        [[data_nodes]]
        name = "dn1"
        host = "127.0.0.1"
        port = 5433
        password_env = "PW_DN1"

        [[hypertables]]
        create_table = "CREATE TABLE t (time timestamptz NOT NULL, id int)"
        table = "t"
        time_column = "time"
        partitioning_column = "id"
        data_nodes = ["dn1"]

        [[roles]]
        name = "mn_user1"
        password_env = "PW_ROLE"
        grants = [{ privileges = ["select", "insert"], table = "t" }]
    "#;

    fn secrets(key: &str) -> Option<SecretString> {
        (key.starts_with("PW_")).then(|| SecretString::from(format!("secret-of-{key}")))
    }

    #[test]
    fn reads_toml_with_passwords_from_the_callback() {
        let cluster = Cluster::from_toml_with(SPEC, secrets).unwrap();
        assert_eq!(cluster.access_node_config().node_name(), "an");
        assert_eq!(
            cluster.access_node_config().get_password().expose_secret(),
            "secret-of-PW_AN"
        );
        assert_eq!(cluster.data_node_configs()[0].get_port(), 5433);
        assert_eq!(cluster.data_node_configs()[0].get_user(), "tsdbadmin");
        assert!(!format!("{cluster:?}").contains("secret-of"));
    }

    #[test]
    fn reads_the_access_nodes_address_of_a_data_node() {
        let text = SPEC.replace(
            "port = 5433\n",
            "port = 5433\n        access_node_host = \"dn1.internal\"\n",
        );
        let cluster = Cluster::from_toml_with(&text, secrets).unwrap();
        let dn1 = &cluster.data_node_configs()[0];
        assert_eq!(cluster.seen_by_access_node(dn1), ("dn1.internal", 5433));
        assert_eq!(dn1.get_host(), "127.0.0.1");
        let cluster = Cluster::from_toml_with(SPEC, secrets).unwrap();
        let dn1 = &cluster.data_node_configs()[0];
        assert_eq!(cluster.seen_by_access_node(dn1), ("127.0.0.1", 5433));
        let text = SPEC.replace(
            "port = 5432\n",
            "port = 5432\n        access_node_port = 1\n",
        );
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("only a data node"), "{err}");
    }

    #[test]
    fn reads_the_apply_lock_wait() {
        let cluster = Cluster::from_toml_with(SPEC, secrets).unwrap();
        assert_eq!(
            cluster.get_apply_lock_wait(),
            crate::cluster::APPLY_LOCK_WAIT
        );
        let text = format!("apply_lock_wait_secs = 0\n{SPEC}");
        let cluster = Cluster::from_toml_with(&text, secrets).unwrap();
        assert_eq!(cluster.get_apply_lock_wait(), Duration::ZERO);
    }

    #[test]
    fn reads_the_node_deadline() {
        let cluster = Cluster::from_toml_with(SPEC, secrets).unwrap();
        assert_eq!(
            cluster.get_node_deadline(),
            crate::cluster::DEFAULT_NODE_DEADLINE
        );
        let text = format!("node_deadline_secs = 7\n{SPEC}");
        let cluster = Cluster::from_toml_with(&text, secrets).unwrap();
        assert_eq!(cluster.get_node_deadline(), Duration::from_secs(7));
        let text = format!("node_deadline_secs = 0\n{SPEC}");
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("node_deadline_secs"), "{err}");
    }

    #[test]
    fn reads_json_too() {
        let json = r#"{"access_node": {"name": "an", "host": "h", "password_env": "PW_AN"},
                       "data_nodes": [{"name": "dn1", "host": "h1", "password_env": "PW_DN1"}]}"#;
        let cluster = Cluster::from_json_with(json, secrets).unwrap();
        assert_eq!(cluster.data_node_configs().len(), 1);
    }

    #[test]
    fn refuses_a_literal_password() {
        let text = SPEC.replace("password_env = \"PW_DN1\"", "password = \"hunter2\"");
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(
            err.to_string().contains("never read from the spec file"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"));
        let json = r#"{"access_node": {"name": "an", "host": "h", "password": "hunter2"}}"#;
        let err = Cluster::from_json_with(json, secrets).unwrap_err();
        assert!(
            err.to_string().contains("never read from the spec file"),
            "{err}"
        );
    }

    #[test]
    fn refuses_missing_secrets_and_contradictions() {
        let err = Cluster::from_toml_with(SPEC, |_| None).unwrap_err();
        assert!(
            err.to_string().contains(
                "access node \"an\" (access_node), field password_env: the environment \
                 variable it names is not set"
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("PW_AN"), "{err}");
        let text = SPEC.replace("data_nodes = [\"dn1\"]", "data_nodes = [\"dn9\"]");
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("dn9"), "{err}");
        let text = SPEC.replace("\"insert\"", "\"fly\"");
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("fly"), "{err}");
        let text = SPEC.replace(
            "table = \"t\" }",
            "table = \"t\", all_tables_in_schema = \"s\" }",
        );
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("grants[0]: give either"), "{err}");
        let text = SPEC.replace("table = \"t\" }", "all_tables_in_schema = \"s\" }");
        let cluster = Cluster::from_toml_with(&text, secrets).unwrap();
        assert!(format!("{cluster:?}").contains("AllTablesInSchema(\"s\")"));
        let err = Cluster::from_toml_with("[access_node]\nname = 1", secrets).unwrap_err();
        assert!(
            err.to_string().contains(
                "TOML, line 2: access_node, field name: invalid type: integer `1`, expected a \
                 string"
            ),
            "{err}"
        );
    }

    #[test]
    fn tables_are_single_identifiers_checked_when_read() {
        // `table` is one identifier as written, not SQL text: `a.b` is a table called so.
        let dotted = SPEC.replace("table = \"t\"", "table = \"a.b\"");
        let cluster = Cluster::from_toml_with(&dotted, secrets).unwrap();
        let table = cluster.hypertables[0].hypertable.table_name().unwrap();
        assert_eq!((table.schema(), table.name().as_str()), (None, "a.b"));
        let (_, grant) = &cluster.roles[0].grants()[0];
        let granted = grant.table_name("test", None).unwrap().unwrap();
        assert_eq!((granted.schema(), granted.name().as_str()), (None, "a.b"));

        let empty = SPEC.replace("table = \"t\"\n", "table = \"\"\n");
        let err = Cluster::from_toml_with(&empty, secrets).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("hypertable \"\" (hypertables[0]), field table: "),
            "{err}"
        );
        let schema = SPEC.replace("table = \"t\" }", "table = \"t\", schema = \"\" }");
        let err = Cluster::from_toml_with(&schema, secrets).unwrap_err();
        assert!(
            err.to_string()
                .contains("role \"mn_user1\" (roles[0]), field grants[0].schema: "),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_entry_and_the_field() {
        let port = SPEC.replace("port = 5433", "port = \"fifty\"");
        let err = Cluster::from_toml_with(&port, secrets).unwrap_err();
        assert!(
            err.to_string().contains(
                "TOML, line 12: data node \"dn1\" (data_nodes[0]), field port: invalid type: \
                 string \"fifty\", expected u16"
            ),
            "{err}"
        );
        let grant = SPEC.replace("\"insert\"", "\"fly\"");
        let err = Cluster::from_toml_with(&grant, secrets).unwrap_err();
        assert!(
            err.to_string().contains(
                "role \"mn_user1\" (roles[0]), field grants[0].privileges: unknown privilege \
                 \"fly\""
            ),
            "{err}"
        );
        let json = r#"{"access_node": {"name": "an", "host": "h", "password_env": "PW_AN"},
                       "hypertables": [{"create_table": "x", "table": "t", "time_column": 1}]}"#;
        let err = Cluster::from_json_with(json, secrets).unwrap_err();
        assert!(
            err.to_string().contains(
                "JSON, line 2: hypertable \"t\" (hypertables[0]), field time_column: invalid \
                 type: integer `1`, expected a string"
            ),
            "{err}"
        );
        let tls = SPEC.replace("port = 5433", "port = 5433\ntls = \"always\"");
        let err = Cluster::from_toml_with(&tls, secrets).unwrap_err();
        assert!(
            err.to_string().contains(
                "data node \"dn1\" (data_nodes[0]), field tls: \"always\" is not disable"
            ),
            "{err}"
        );
    }

    /// A value that may be a password, put in every place a password field can hold it and
    /// in lines that do not parse, never reaches an error's text or `Debug`.
    #[test]
    fn no_error_shows_a_value_that_may_be_a_password() {
        const WORD: &str = "hunter2Sentinel";
        const NUMBER: &str = "987654321";
        let an = "[access_node]\nname = \"an\"\nhost = \"h\"\n";
        let an_ok = format!("{an}password_env = \"PW_AN\"\n");
        let dn = "[[data_nodes]]\nname = \"dn1\"\nhost = \"h\"\n";
        let role = "[[roles]]\nname = \"r\"\n";
        let mut toml = Vec::new();
        for value in [
            format!("\"{WORD}\""),
            NUMBER.to_owned(),
            format!("[\"{WORD}\", {NUMBER}]"),
            format!("{{ x = \"{WORD}\", y = {NUMBER} }}"),
            format!("{NUMBER}.5"),
            format!("1979-05-27T07:32:00Z{NUMBER}"),
            WORD.to_owned(),
            format!("\"{WORD}"),
            format!("\"{WORD}\" {NUMBER}"),
            format!("'{WORD}\n"),
        ] {
            for field in ["password_env", "password"] {
                toml.push(format!("{an}{field} = {value}\n"));
                toml.push(format!("{an_ok}{dn}{field} = {value}\n"));
                toml.push(format!("{an_ok}{role}{field} = {value}\n"));
                toml.push(format!("{field} = {value}\n{an_ok}"));
            }
            toml.push(format!(
                "{an_ok}{role}password_env = \"PW_R\"\ndata_node_password_env = {value}\n"
            ));
            toml.push(format!("{an_ok}[data_nodes]\npassword_env = {value}\n"));
        }
        toml.push(format!(
            "{an}password_env = \"PW_AN\"\npassword_env = \"{WORD}\"\n"
        ));
        toml.push(format!(
            "{an}password_env = \"{WORD}\"\npassword_env = \"{WORD}\"\n"
        ));
        let json_an = r#""access_node": {"name": "an", "host": "h""#;
        let mut json = Vec::new();
        for value in [
            format!("\"{WORD}\""),
            NUMBER.to_owned(),
            format!("[\"{WORD}\", {NUMBER}]"),
            format!("{{\"x\": \"{WORD}\", \"y\": {NUMBER}}}"),
            format!("-{NUMBER}e999999"),
            WORD.to_owned(),
            format!("\"{WORD}"),
            format!("\"{WORD}\" {NUMBER}"),
        ] {
            for field in ["password_env", "password"] {
                json.push(format!("{{{json_an}, \"{field}\": {value}}}}}"));
                json.push(format!(
                    "{{{json_an}, \"password_env\": \"PW_AN\"}}, \"data_nodes\": \
                     [{{\"name\": \"dn1\", \"host\": \"h\", \"{field}\": {value}}}]}}"
                ));
                json.push(format!("{{\"{field}\": {value}, {json_an}}}}}"));
            }
            json.push(format!(
                "{{{json_an}, \"password_env\": \"PW_AN\"}}, \"roles\": [{{\"name\": \"r\", \
                 \"password_env\": \"PW_R\", \"data_node_password_env\": {value}}}]}}"
            ));
            json.push(format!(
                "{{{json_an}, \"password_env\": \"PW_AN\"}}}} {value}"
            ));
        }
        let mut checked = 0;
        for (format, texts) in [("TOML", &toml), ("JSON", &json)] {
            for text in texts {
                assert!(text.contains(WORD) || text.contains(NUMBER));
                for with_env in [false, true] {
                    let result = match (format, with_env) {
                        ("TOML", false) => Cluster::from_toml_with(text, secrets),
                        ("TOML", true) => Cluster::from_toml(text),
                        (_, false) => Cluster::from_json_with(text, secrets),
                        (_, true) => Cluster::from_json(text),
                    };
                    let err = result.expect_err(text);
                    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
                    for shown in [err.to_string(), format!("{err:?}")] {
                        assert!(
                            !shown.contains(WORD) && !shown.contains(NUMBER),
                            "{format} error shows a password field's value:\n{text}\n-> {shown}"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 200, "{checked}");
    }
}
