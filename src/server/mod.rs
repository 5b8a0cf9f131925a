//! What a node is: PostgreSQL and TimescaleDB versions, licence ([`License`]), role in a
//! cluster ([`NodeRole`]), and whether multi-node can work there.
//!
//! [`ServerInfo::detect`] reads it all over one connection; [`ServerInfo::check_multinode`]
//! turns it into a clear refusal ("TimescaleDB 2.14.0 has no multi-node ...") before any
//! multi-node call is made, and [`ServerInfo::check_multinode_offered`] does the same for a
//! database whose extension is not created yet, from what its server offers;
//! [`Capabilities`] answers "does this version have X?" for each [`Feature`].

mod capability;
mod support;

pub use capability::{Capabilities, Feature};

use tokio_postgres::error::SqlState;

use crate::config::NodeConfig;
use crate::connect::{Session, SessionOn};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::sql::functions::Schemas;
use crate::sql::server_info::{DIST_IDENTITY, SERVER_INFO, SERVER_INFO_BRIEF};
use crate::version::{PgVersion, Version};

/// The licence TimescaleDB runs under (`timescaledb.license`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum License {
    /// `timescale`: the TSL build, which has multi-node.
    Timescale,
    /// `apache`: the Apache-only build or licence, without multi-node.
    Apache,
    /// Any other value.
    Other(String),
}

impl License {
    fn parse(value: &str) -> License {
        match value {
            "timescale" => License::Timescale,
            "apache" => License::Apache,
            other => License::Other(other.to_owned()),
        }
    }
}

/// A node's place in a multi-node cluster.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeRole {
    /// The database is an access node (it has data nodes).
    AccessNode,
    /// The database is a data node of some access node.
    DataNode,
    /// Neither (no TimescaleDB, or a database not in a cluster).
    Standalone,
}

/// What one node runs, read over one connection by [`ServerInfo::detect`].
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The node's name (from [`NodeConfig::node_name`]).
    pub node: String,
    /// PostgreSQL version (`server_version_num`).
    pub postgres: PgVersion,
    /// PostgreSQL's version string (`server_version`), e.g. `15.20 (Debian 15.20-0+deb12u1)`.
    pub postgres_version_string: String,
    /// The connected database.
    pub database: String,
    /// The connected user.
    pub user: String,
    /// Whether that user is a superuser.
    pub is_superuser: bool,
    /// TimescaleDB version installed in this database, if any.
    pub timescaledb: Option<Version>,
    /// The schema of TimescaleDB's API functions (`add_data_node`, `distributed_exec`, ...)
    /// when it is installed: the extension's schema, `public` unless the extension was
    /// created `WITH SCHEMA`. The crate qualifies its calls with it.
    pub timescaledb_schema: Option<String>,
    /// The version `CREATE EXTENSION timescaledb` would install, if the server has it.
    ///
    /// Reading [`ServerInfo::timescaledb_available`] costs reading every version's control
    /// and update files (several milliseconds with TimescaleDB's many update scripts), and
    /// this one every extension's control file: the cluster's reports
    /// ([`Cluster::status`](crate::Cluster::status), [`Cluster::plan`](crate::Cluster::plan))
    /// read this one only where the extension is not installed, and the available versions
    /// only where the default cannot be used either (to name an alternative); elsewhere they
    /// are empty. [`ServerInfo::detect`] always reads both.
    pub timescaledb_default: Option<Version>,
    /// Every TimescaleDB version the server could install (ascending); see
    /// [`ServerInfo::timescaledb_default`] for when it is read.
    pub timescaledb_available: Vec<Version>,
    /// `timescaledb.license`, when the TimescaleDB library is loaded.
    pub license: Option<License>,
    /// Whether the TimescaleDB loader is preloaded (`shared_preload_libraries` names
    /// `timescaledb`), read without privileges from the setting the loader defines.
    pub preloaded: bool,
    /// `max_prepared_transactions` (multi-node needs it above 0 on data nodes for 2PC).
    pub max_prepared_transactions: i32,
    /// Whether the server is in recovery (a standby): it takes no writes.
    pub in_recovery: bool,
    /// When this session's server process last loaded the configuration files
    /// (`pg_conf_load_time()`): a reload, after a `pg_hba.conf` change say, moves it.
    pub config_loaded: std::time::SystemTime,
    /// Whether `default_transaction_read_only` is on for this user and database: every
    /// transaction that does not ask otherwise is read-only, so TimescaleDB's writes to a
    /// data node (its remote transactions) fail there. As a new session of this user
    /// starts with it: the user's and the database's settings (`ALTER ROLE ... SET`,
    /// `ALTER DATABASE ... SET`, read from `pg_db_role_setting`, as they are now), else the
    /// configuration file's. A session keeps the value it started with, so this is read
    /// from the catalog rather than from the session.
    pub default_read_only: bool,
    /// Number of data nodes (TimescaleDB foreign servers) this database has.
    pub data_node_count: i64,
    /// Access node, data node or neither.
    pub role: NodeRole,
}

const OP: &str = "detect server";

impl ServerInfo {
    /// Why the node takes no writes, when it does not: in recovery (a standby), or
    /// `default_transaction_read_only` on for this user and database.
    pub fn read_only_reason(&self) -> Option<&'static str> {
        if self.in_recovery {
            Some("read-only: in recovery (a standby)")
        } else if self.default_read_only {
            Some("read-only: default_transaction_read_only is on for this user and database")
        } else {
            None
        }
    }

    /// Connects to `config`'s node and reads what it runs. Works on any PostgreSQL 10+, with
    /// or without TimescaleDB.
    ///
    /// ```no_run
    /// # async fn demo() -> timescaledb_multinode::Result<()> {
    /// use timescaledb_multinode::{NodeConfig, SecretString, ServerInfo};
    ///
    /// let an = NodeConfig::new("127.0.0.1", "tsdbadmin", SecretString::from("pw")).database("tsdb");
    /// let info = ServerInfo::detect(&an).await?;
    /// info.check_multinode()?; // refuses 2.14+, Apache-only, missing extension, ...
    /// println!("{} runs TimescaleDB {:?} as {:?}", info.node, info.timescaledb, info.role);
    /// # Ok(()) }
    /// ```
    pub async fn detect(config: &NodeConfig) -> Result<ServerInfo> {
        let session = Session::open(config, OP).await?;
        Self::read(&session).await
    }

    pub(crate) async fn read(session: &SessionOn<'_>) -> Result<ServerInfo> {
        Self::read_with(session, &SERVER_INFO, true, None).await
    }

    /// Like [`ServerInfo::read`], cheaper, in one round trip: `timescaledb_default` is read
    /// only when the extension is not installed (enough for
    /// [`ServerInfo::check_multinode_offered`]), `timescaledb_available` only when the
    /// default version cannot be used either (for the refusal's alternative; a second round
    /// trip then), and `role` is not read (it says [`NodeRole::AccessNode`] when the database
    /// has data nodes, else [`NodeRole::Standalone`]).
    pub(crate) async fn read_brief(session: &SessionOn<'_>) -> Result<ServerInfo> {
        let info = Self::read_with(session, &SERVER_INFO_BRIEF, false, Some(false)).await?;
        if info.timescaledb.is_none() && support::check_offered(&info).is_err() {
            return Self::read_brief_with_versions(session).await;
        }
        Ok(info)
    }

    /// [`ServerInfo::read_brief`], with `timescaledb_available` whenever the extension is not
    /// installed.
    pub(crate) async fn read_brief_with_versions(session: &SessionOn<'_>) -> Result<ServerInfo> {
        Self::read_with(session, &SERVER_INFO_BRIEF, false, Some(true)).await
    }

    /// Reads `query` ([`SERVER_INFO`], or [`SERVER_INFO_BRIEF`] with `versions` as its `$2`).
    async fn read_with(
        session: &SessionOn<'_>,
        query: &crate::sql::Sql,
        with_role: bool,
        versions: Option<bool>,
    ) -> Result<ServerInfo> {
        let preloaded = session.preloaded();
        let row = match versions {
            Some(versions) => {
                session
                    .query_one(OP, query, &[&preloaded, &versions])
                    .await?
            }
            None => session.query_one(OP, query, &[&preloaded]).await?,
        };
        let get_text = |column: &str| session.get::<Option<String>>(OP, &row, column);
        let num: i32 = session.get(OP, &row, "server_version_num")?;
        let node = session.node().to_owned();
        let version = |text: Option<String>| -> Result<Option<Version>> {
            text.map(|t| {
                t.parse::<Version>().map_err(|_| Error::UnsupportedServer {
                    op: OP,
                    node: node.clone(),
                    reason: format!("cannot read TimescaleDB version {t:?}"),
                })
            })
            .transpose()
        };
        let timescaledb = version(get_text("installed_version")?)?;
        let timescaledb_default = version(get_text("default_version")?)?;
        let mut timescaledb_available = Vec::new();
        for text in session.get::<Vec<String>>(OP, &row, "available_versions")? {
            // Development or unusual version strings are skipped, not fatal.
            if let Ok(v) = text.parse::<Version>() {
                timescaledb_available.push(v);
            }
        }
        timescaledb_available.sort();
        let data_node_count: i64 = session.get(OP, &row, "data_node_count")?;
        let role = if timescaledb.is_none() {
            NodeRole::Standalone
        } else if with_role {
            Self::read_role(session, data_node_count).await?
        } else {
            role_from_count(data_node_count)
        };
        Ok(ServerInfo {
            node: node.clone(),
            postgres: PgVersion::from_num(u32::try_from(num).unwrap_or_default()),
            postgres_version_string: session.get(OP, &row, "server_version")?,
            database: session.get(OP, &row, "database")?,
            user: session.get(OP, &row, "user_name")?,
            is_superuser: {
                let superuser = session.get(OP, &row, "is_superuser")?;
                session.remember_superuser(superuser);
                superuser
            },
            timescaledb,
            timescaledb_schema: get_text("extension_schema")?,
            timescaledb_default,
            timescaledb_available,
            license: get_text("license")?.as_deref().map(License::parse),
            preloaded: {
                let preloaded = session.get(OP, &row, "loader_preloaded")?;
                session.remember_preloaded(preloaded);
                preloaded
            },
            max_prepared_transactions: session.get(OP, &row, "max_prepared_transactions")?,
            in_recovery: session.get(OP, &row, "in_recovery")?,
            config_loaded: session.get(OP, &row, "config_loaded")?,
            default_read_only: session.get(OP, &row, "default_read_only")?,
            data_node_count,
            role,
        })
    }

    /// Whether the session's database is an access node, a data node or neither, by its
    /// distributed identity (TimescaleDB installed); `data_node_count` as this session read
    /// it decides for a role that may not read the catalog.
    pub(crate) async fn read_role(
        session: &SessionOn<'_>,
        data_node_count: i64,
    ) -> Result<NodeRole> {
        let fallback = role_from_count(data_node_count);
        let row = match session.query_one(OP, &DIST_IDENTITY, &[]).await {
            Ok(row) => row,
            // A role without access to the catalog still gets an answer.
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => return Ok(fallback),
            Err(e) => return Err(e),
        };
        let uuid: Option<String> = session.get(OP, &row, "uuid")?;
        let dist_uuid: Option<String> = session.get(OP, &row, "dist_uuid")?;
        Ok(match dist_uuid {
            None => fallback,
            Some(dist) if Some(&dist) == uuid.as_ref() => NodeRole::AccessNode,
            Some(_) => NodeRole::DataNode,
        })
    }

    /// The capabilities of the installed TimescaleDB, if it is installed.
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.timescaledb.map(Capabilities::of)
    }

    /// Whether the installed TimescaleDB has `feature` (false when it is not installed).
    pub fn supports(&self, feature: Feature) -> bool {
        self.capabilities().is_some_and(|c| c.has(feature))
    }

    /// Refuses, with a message that says what is missing and how to get it, unless this node
    /// can take part in a multi-node cluster: TimescaleDB 2.0–2.13 installed, the Timescale
    /// License build, and a PostgreSQL major that version supports.
    pub fn check_multinode(&self) -> Result<()> {
        self.refuse_unless(support::check(self), "check multi-node support")
    }

    /// Like [`ServerInfo::check_multinode`], but a database without the extension is judged
    /// by what its server offers: it passes when `CREATE EXTENSION timescaledb` would give it
    /// a multi-node TimescaleDB. Refuses, saying what to do, when the server's default
    /// version has no multi-node (2.14 and later; naming a version the server also offers
    /// that has it), when `timescaledb.license` is not `timescale`, when timescaledb is not
    /// in `shared_preload_libraries`, when the PostgreSQL major is not one that version
    /// supports, or when the server has no TimescaleDB at all.
    ///
    /// Without the extension, the licence can only be read when a configuration file sets
    /// it (the library that defines it is not loaded yet); when it is unset, the build's
    /// default is assumed to be `timescale`.
    ///
    /// [`Cluster::plan`](crate::Cluster::plan) runs this on every node before it plans
    /// anything.
    pub fn check_multinode_offered(&self) -> Result<()> {
        self.refuse_unless(support::check_offered(self), "check multi-node support")
    }

    /// [`ServerInfo::check_multinode_offered`], with errors naming `op`.
    pub(crate) fn check_offered_for(&self, op: &'static str) -> Result<()> {
        self.refuse_unless(support::check_offered(self), op)
    }

    fn refuse_unless(
        &self,
        check: std::result::Result<(), String>,
        op: &'static str,
    ) -> Result<()> {
        check.map_err(|reason| Error::UnsupportedServer {
            op,
            node: self.node.clone(),
            reason,
        })
    }

    /// Like [`ServerInfo::check_multinode`], and also refuses when the installed version
    /// lacks `feature`; `op` names the operation that needs it.
    pub fn require(&self, op: &'static str, feature: Feature) -> Result<()> {
        self.multinode_capabilities(op)?
            .require(op, &self.node, feature)
    }

    /// The capabilities of a node that passes [`ServerInfo::check_multinode`], with errors
    /// naming `op`.
    pub(crate) fn multinode_capabilities(&self, op: &'static str) -> Result<Capabilities> {
        self.refuse_unless(support::check(self), op)?;
        self.capabilities().ok_or_else(|| self.not_installed(op))
    }

    /// Where the installed TimescaleDB's functions are: the extension's schema for its API,
    /// and (by version) the schema of its internal functions.
    pub(crate) fn schemas(&self, op: &'static str) -> Result<Schemas> {
        let caps = self.capabilities().ok_or_else(|| self.not_installed(op))?;
        let api = self
            .timescaledb_schema
            .clone()
            .ok_or_else(|| self.not_installed(op))?;
        let api = Ident::for_op(api, "extension schema", op, Some(&self.node))?;
        Ok(Schemas::new(api, caps.internal_schema()))
    }

    fn not_installed(&self, op: &'static str) -> Error {
        Error::UnsupportedServer {
            op,
            node: self.node.clone(),
            reason: "extension timescaledb is not installed".to_owned(),
        }
    }
}

/// The role a database's data-node count suggests, when its distributed identity is not read.
fn role_from_count(data_node_count: i64) -> NodeRole {
    if data_node_count > 0 {
        NodeRole::AccessNode
    } else {
        NodeRole::Standalone
    }
}
