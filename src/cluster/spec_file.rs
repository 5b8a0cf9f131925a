//! A [`Cluster`] spec read from a TOML or JSON file (feature `serde`).
//!
//! Passwords are never read from the file: each node and role names the environment
//! variable (or, with a callback, any key) its password comes from, and a file with a literal
//! `password` is refused.
//!
//! ```toml
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
//! grants = [{ privileges = ["select"], table = "sensor_data" }]
//! ```

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::Cluster;
use crate::config::{NodeConfig, TlsMode};
use crate::error::{Error, Result};
use crate::node::{ChunkInterval, DistributedHypertable, DistributedRole};
use crate::sql::raw::RawSql;
use crate::sql::role::Privilege;

const OP: &str = "read cluster spec";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
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
    password_env: Option<String>,
    /// Present only to refuse it with a clear message.
    password: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    tls: Option<String>,
    #[serde(default)]
    connect_timeout_secs: Option<u64>,
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
    password_env: Option<String>,
    #[serde(default)]
    data_node_password_env: Option<String>,
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
    table: String,
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
    pub fn from_toml(text: &str) -> Result<Cluster> {
        Self::from_toml_with(text, env_secret)
    }

    /// Reads a spec from JSON text; passwords as in [`Cluster::from_toml`].
    pub fn from_json(text: &str) -> Result<Cluster> {
        Self::from_json_with(text, env_secret)
    }

    /// Reads a spec from TOML text, asking `secret` for each `password_env` key.
    pub fn from_toml_with(
        text: &str,
        secret: impl Fn(&str) -> Option<SecretString>,
    ) -> Result<Cluster> {
        let file: SpecFile = toml::from_str(text)
            .map_err(|e| Error::invalid(OP, None, format!("TOML: {}", e.message())))?;
        file.into_cluster(&secret)
    }

    /// Reads a spec from JSON text, asking `secret` for each `password_env` key.
    pub fn from_json_with(
        text: &str,
        secret: impl Fn(&str) -> Option<SecretString>,
    ) -> Result<Cluster> {
        let file: SpecFile = serde_json::from_str(text)
            .map_err(|e| Error::invalid(OP, None, format!("JSON: {e}")))?;
        file.into_cluster(&secret)
    }
}

fn env_secret(key: &str) -> Option<SecretString> {
    std::env::var(key).ok().map(SecretString::from)
}

/// The secret `key` names, or an error naming the entry and the key (never a value).
fn lookup(
    what: &str,
    key: Option<&String>,
    literal: bool,
    secret: &dyn Fn(&str) -> Option<SecretString>,
) -> Result<SecretString> {
    if literal {
        return Err(Error::invalid(
            OP,
            None,
            format!(
                "{what} has a password in the spec file; passwords are never read from it: \
                 name an environment variable with password_env"
            ),
        ));
    }
    let key = key.ok_or_else(|| Error::invalid(OP, None, format!("{what} has no password_env")))?;
    secret(key).ok_or_else(|| {
        Error::invalid(
            OP,
            None,
            format!("{what}: the password variable {key} is not set"),
        )
    })
}

impl NodeEntry {
    fn into_config(self, secret: &dyn Fn(&str) -> Option<SecretString>) -> Result<NodeConfig> {
        let what = format!("node {:?}", self.name);
        let password = lookup(
            &what,
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
                    return Err(Error::invalid(
                        OP,
                        None,
                        format!(
                            "{what}: tls {other:?} is not disable, prefer, require or verify-full"
                        ),
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
        let mut cluster = Cluster::new(self.access_node.into_config(secret)?);
        for node in self.data_nodes {
            cluster = cluster.data_node(node.into_config(secret)?);
        }
        for ht in self.hypertables {
            let mut builder = DistributedHypertable::new(ht.table, ht.time_column);
            if let Some(schema) = ht.schema {
                builder = builder.schema(schema);
            }
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
        for role in self.roles {
            let what = format!("role {:?}", role.name);
            let password = lookup(
                &what,
                role.password_env.as_ref(),
                role.password.is_some(),
                secret,
            )?;
            let mut builder = DistributedRole::new(role.name, password);
            if let Some(key) = role.data_node_password_env {
                builder = builder.data_node_password(lookup(&what, Some(&key), false, secret)?);
            }
            if let Some(nodes) = role.data_nodes {
                builder = builder.data_nodes(nodes);
            }
            for grant in role.grants {
                let privileges = grant
                    .privileges
                    .iter()
                    .map(|p| parse_privilege(&what, p))
                    .collect::<Result<Vec<_>>>()?;
                builder = builder.grant(privileges, grant.table);
            }
            cluster = cluster.role(builder);
        }
        cluster.validate_spec(OP)?;
        Ok(cluster)
    }
}

fn parse_privilege(what: &str, text: &str) -> Result<Privilege> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "select" => Privilege::Select,
        "insert" => Privilege::Insert,
        "update" => Privilege::Update,
        "delete" => Privilege::Delete,
        "truncate" => Privilege::Truncate,
        "all" => Privilege::All,
        other => {
            return Err(Error::invalid(
                OP,
                None,
                format!("{what}: unknown privilege {other:?}"),
            ))
        }
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
    fn reads_json_too() {
        let json = r#"{"access_node": {"name": "an", "host": "h", "password_env": "PW_AN"},
                       "data_nodes": [{"name": "dn1", "host": "h", "password_env": "PW_DN1"}]}"#;
        let cluster = Cluster::from_json_with(json, secrets).unwrap();
        assert_eq!(cluster.data_node_configs().len(), 1);
    }

    #[test]
    fn refuses_a_literal_password() {
        let text = SPEC.replace("password_env = \"PW_DN1\"", "password = \"hunter2\"");
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("never read from it"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
        let json = r#"{"access_node": {"name": "an", "host": "h", "password": "hunter2"}}"#;
        let err = Cluster::from_json_with(json, secrets).unwrap_err();
        assert!(err.to_string().contains("never read from it"), "{err}");
    }

    #[test]
    fn refuses_missing_secrets_and_contradictions() {
        let err = Cluster::from_toml_with(SPEC, |_| None).unwrap_err();
        assert!(err.to_string().contains("PW_AN is not set"), "{err}");
        let text = SPEC.replace("data_nodes = [\"dn1\"]", "data_nodes = [\"dn9\"]");
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("dn9"), "{err}");
        let text = SPEC.replace("\"insert\"", "\"fly\"");
        let err = Cluster::from_toml_with(&text, secrets).unwrap_err();
        assert!(err.to_string().contains("fly"), "{err}");
        let err = Cluster::from_toml_with("[access_node]\nname = 1", secrets).unwrap_err();
        assert!(err.to_string().contains("TOML"), "{err}");
    }
}
