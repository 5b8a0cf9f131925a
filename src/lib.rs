//! A typed async client that provisions, operates and queries **TimescaleDB multi-node
//! clusters** (TimescaleDB 2.0–2.13 with its TSL part): one access node, N data nodes.
//!
//! The crate root holds what the main flow needs: how to reach a node ([`NodeConfig`],
//! [`TlsMode`], passwords as [`SecretString`]), what a node runs ([`ServerInfo`]), the access
//! node ([`AccessNode`]) and the commands of the multi-node how-to ([`UpdateExtension`],
//! [`DataNode`], [`UserMapping`], [`DistributedHypertable`], [`DistributedRole`],
//! [`DistributedExec`]), the cluster as a whole ([`Cluster`]), and the one [`Error`]. The rest
//! is grouped in modules named for what they hold ([Layout](#layout)). With the `testing`
//! feature, `testing::LocalCluster` starts throwaway clusters of real PostgreSQL (and
//! TimescaleDB, when installed) servers.
//!
//! ```no_run
//! use timescaledb_multinode::server::NodeRole;
//! use timescaledb_multinode::{NodeConfig, SecretString, ServerInfo};
//!
//! # async fn demo() -> timescaledb_multinode::Result<()> {
//! let password = SecretString::from(std::env::var("AN_PASSWORD").unwrap_or_default());
//! let access_node = NodeConfig::new("an.example.internal", "tsdbadmin", password)
//!     .name("an")
//!     .database("tsdb");
//!
//! let info = ServerInfo::detect(&access_node).await?;
//! info.check_multinode()?;
//! if info.role == NodeRole::AccessNode {
//!     println!("{} has {} data nodes", info.node, info.data_node_count);
//! }
//! # Ok(()) }
//! ```
//!
//! # Commands
//!
//! Every command is a `#[must_use]` builder: the required data in its constructor, the
//! options in chainable setters, and one async call at the end, `.run(on)`, where `on` is
//! any [`Executor`] (an [`AccessNode`], your `tokio_postgres::Client` or `Transaction`, a
//! pool). At the crate root: [`DataNode`], [`DistributedHypertable`], [`DistributedRole`],
//! [`UserMapping`], [`DropUserMapping`], [`DistributedExec`]; in [`lifecycle`], with the
//! options and results of every command: [`AttachDataNode`], [`DetachDataNode`],
//! [`DeleteDataNode`], [`AlterDataNode`], [`BlockNewChunks`], [`AllowNewChunks`],
//! [`SetChunkInterval`], [`SetReplicationFactor`], [`CreateRestorePoint`]. The one
//! exception is [`UpdateExtension`], which needs a fresh session of its own and so runs on a
//! node's [`NodeConfig`] (`.run(&config)`, or `.run_cluster(..)` for every node, data nodes
//! first). Reads are plain methods ([`AccessNode::data_nodes`], [`Executor::chunks`],
//! [`AccessNode::query`], ...), and [`Cluster`] works on the whole cluster.
//!
//! **Idempotency is spelled `.idempotent()`.** By default a command whose result already
//! holds fails as the server does (an error of kind [`ErrorKind::AlreadyExists`], or
//! [`ErrorKind::NotFound`] / [`Error::InvalidInput`] for what is not there); `.idempotent()`
//! makes it succeed, and the result says nothing changed ([`AddedDataNode::node_created`]
//! and [`CreatedHypertable::created`] false, [`MappingChange::Unchanged`] or `Updated`, a
//! count of 0, `false`). It exists on [`DataNode`], [`DistributedHypertable`],
//! [`AttachDataNode`], [`DetachDataNode`], [`DeleteDataNode`], [`UserMapping`] and
//! [`DropUserMapping`]. The other commands converge by nature and have none: running them
//! again is the same as running them once ([`DistributedRole`] creates or updates,
//! [`UpdateExtension`] leaves a node at that version alone, [`SetChunkInterval`] and
//! [`SetReplicationFactor`] set what they set, [`BlockNewChunks`] counts a node blocked
//! already as 0); [`CreateRestorePoint`] and [`DistributedExec`] do what they say each time.
//!
//! **Tables are named as text** wherever a command or read takes one ([`IntoTableName`]):
//! `"metrics"`, `"app.metrics"`, `r#""My Schema"."a.b""#` (a quoted part may hold a dot or
//! a doubled quote; unquoted parts are taken as written), or a [`TableName`]. Text that is
//! not a table name is an [`Error::InvalidInput`] naming the command, from `run`, before
//! anything is sent. SQL you write is a string literal, or [`RawSql::vouched`].
//!
//! [`AttachDataNode`]: lifecycle::AttachDataNode
//! [`DetachDataNode`]: lifecycle::DetachDataNode
//! [`DeleteDataNode`]: lifecycle::DeleteDataNode
//! [`AlterDataNode`]: lifecycle::AlterDataNode
//! [`BlockNewChunks`]: lifecycle::BlockNewChunks
//! [`AllowNewChunks`]: lifecycle::AllowNewChunks
//! [`SetChunkInterval`]: lifecycle::SetChunkInterval
//! [`SetReplicationFactor`]: lifecycle::SetReplicationFactor
//! [`CreateRestorePoint`]: lifecycle::CreateRestorePoint
//! [`AddedDataNode::node_created`]: lifecycle::AddedDataNode::node_created
//! [`CreatedHypertable::created`]: lifecycle::CreatedHypertable::created
//! [`MappingChange::Unchanged`]: lifecycle::MappingChange::Unchanged
//!
//! ```no_run
//! use timescaledb_multinode::lifecycle::{ChunkInterval, SetChunkInterval};
//! use timescaledb_multinode::{
//!     AccessNode, DataNode, DistributedHypertable, DistributedRole, NodeConfig, Privilege,
//!     SecretString, UpdateExtension,
//! };
//!
//! # async fn demo(an_config: NodeConfig, dn1: NodeConfig) -> timescaledb_multinode::Result<()> {
//! UpdateExtension::new().run_cluster(&an_config, &[dn1.clone()]).await?;
//! let an = AccessNode::connect(an_config).await?;
//! DataNode::from_config(&dn1).idempotent().run(&an).await?;
//! DistributedHypertable::new("app.metrics", "time").idempotent().run(&an).await?;
//! SetChunkInterval::new("app.metrics", ChunkInterval::Time(std::time::Duration::from_secs(86_400)))
//!     .run(&an)
//!     .await?;
//! DistributedRole::new("reader", SecretString::from("…"))
//!     .grant([Privilege::Select], "app.metrics")
//!     .run(&an)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! The public modules, each named for what it holds (the crate root re-exports the names of
//! the main flow):
//!
//! | module | what it holds |
//! |---|---|
//! | [`cluster`] | [`Cluster`] and what it gives: plan / apply ([`cluster::Plan`], [`cluster::ApplyReport`]), status ([`cluster::ClusterStatus`] and its [`cluster::Cause`]s), heal ([`cluster::HealReport`]), password rotation ([`cluster::Rotation`]), chunk placement ([`cluster::ChunkPlacement`]), each node's step within [`Cluster::node_deadline`] |
//! | [`lifecycle`] | the commands beyond the first steps ([`lifecycle::AttachDataNode`], [`lifecycle::SetChunkInterval`], ...) and the options and results of every command ([`lifecycle::AddedDataNode`], [`lifecycle::MappingChange`], ...) |
//! | [`catalog`] | rows of the access node's catalog: [`catalog::DataNodeInfo`], [`catalog::HypertableInfo`], [`catalog::ChunkInfo`] |
//! | [`server`] | what a node runs and can do: [`ServerInfo`], [`server::Capabilities`], [`server::Feature`], [`server::NodeRole`], [`server::License`] |
//! | [`data`] | data in and out: binary-COPY ingest ([`data::Ingest`]) and read-only queries on each node ([`data::query_each`]) |
//! | [`pool`] | one node's connection pool: [`pool::NodePool`], [`pool::PoolConfig`], [`pool::PooledClient`] |
//! | [`migrate`] | [`migrate::Migration`]: leaving multi-node, distributed hypertables to one node, resumable and verified |
//! | [`error`] | [`Error`]: one type, variants a caller can act on, node and operation named; [`ErrorKind`], the way to react; [`error::DriverError`], the driver's error a variant carries; each text of a cause chain once |
//! | `testing` | (feature `testing`) `LocalCluster` and `LocalServer` fixtures |
//!
//! Inside, at the root: [`NodeConfig`], [`TlsMode`] and [`ChannelBinding`] (how to reach one
//! node: `config`, `connect`, `tls`); [`Executor`] (what the commands run on: `executor`);
//! [`Ident`] and [`TableName`] (validated identifiers and table names: `ident`,
//! `table_name`); [`SecretLogging`] (the one way a secret is sent, nothing secret in logs,
//! statistics views or errors: `secret_send`); [`Version`] and [`PgVersion`] (`version`).
//! The typed commands live in `node`, and `sql` is the only place SQL text is made
//! (renderers, quoting through `postgres_protocol`).
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `rustls` | TLS through rustls: [`TlsMode::Require`] and [`TlsMode::VerifyFull`], and so [`ChannelBinding::Require`] |
//! | `serde` | [`Cluster`] specs read from TOML or JSON files (`Cluster::from_toml`, `Cluster::from_json`), passwords from the environment; `Serialize` for the reports (see [Serialization](#serialization-feature-serde)) |
//! | `bb8-postgres` | [`Executor`] for your `bb8::Pool<bb8_postgres::PostgresConnectionManager<Tls>>` and its pooled connections (`bb8_postgres` re-exported) |
//! | `testing` | `testing::LocalCluster`: real throwaway servers for tests, joined in one call, with the tier-2 skip helper (needs PostgreSQL server binaries) |
//!
//! # Serialization (feature `serde`)
//!
//! The reports serialize for tools that print JSON or keep a record
//! ([`cluster::ClusterStatus`], [`cluster::HealReport`], [`cluster::Rotation`],
//! [`cluster::ChunkPlacement`], [`ServerInfo`], the [`catalog`] rows, [`Error`]). The field
//! names are part of the crate's interface and change only with a changelog note.
//!
//! Conventions:
//!
//! - Names are `snake_case`; enums without data serialize as a `snake_case` string
//!   ([`cluster::Cause`]: `"wrong_password"`, [`server::NodeRole`]: `"access_node"`).
//! - Versions are strings: `"2.13.1"` ([`Version`]), `"15.20"` ([`PgVersion`]); a licence
//!   is `"timescale"`, `"apache"` or the setting's value.
//! - A field that holds a `Result` in Rust is two fields: `x` (the value, or `null` when it
//!   failed) and `x_error` (an error object, or `null` when it succeeded).
//! - An [`Error`] is an object `{"kind", "operation", "node", "message", "sqlstate"}`:
//!   `kind` is its [`ErrorKind`] in `snake_case` ([`ErrorKind::as_str`]:
//!   `"authentication_failed"`, `"timeout"`, `"unreachable"`, ...), `node` and `sqlstate`
//!   may be `null`, and `message` is the error's `Display` (which never holds a password or
//!   SQL text).
//! - What a report's methods compute is included, so a reader needs no rules of its own:
//!   `healthy` on a status, `clean` and `healed` on a heal report, `complete` on a rotation.
//!
//! | type | fields |
//! |---|---|
//! | [`cluster::ClusterStatus`] | `healthy`, `access_node_name`, `access_node` (a node status), `data_nodes`, `under_replicated`, `under_replicated_error` |
//! | [`cluster::NodeStatus`] | `up`, `cause`, `server` ([`ServerInfo`]), `server_error` |
//! | [`cluster::DataNodeStatus`] | `name`, `healthy`, `direct` (a node status), `link`, `available`, `version_ok`, `extension_missing`, `max_prepared_transactions`, `two_phase_commit_disabled`, `prepared_transactions`, `prepared_transactions_error` |
//! | [`cluster::AccessNodeLink`] | `state` (`ok`, `down`, `wrong_password`, `no_user_mapping`, `rejected_by_hba`, `unknown_role`, `unknown_database`, `tls`, `dns`, `extension_missing`, `extension_incompatible`, `not_added`, `not_checked`, `failed`), `cause`, `error`, `reason` (why it was not checked) |
//! | [`cluster::PreparedTransaction`] | `gid`, `prepared`, `owner`, `database` |
//! | [`cluster::UnderReplicatedChunk`] | `hypertable_schema`, `hypertable_name`, `chunk_schema`, `chunk_name`, `desired`, `actual`, `replica_nodes` |
//! | [`cluster::HealReport`] | `clean`, `healed`, `advanced_xid`, `nodes` |
//! | [`cluster::NodeHeal`] | `name`, `in_doubt_before`, `in_doubt_before_error`, `healed`, `healed_error`, `remote_txn_records_before`, `remote_txn_records_after` (`null`: not read), `in_doubt_after`, `in_doubt_after_error`, `other_owners` |
//! | [`cluster::Rotation`] | `data_node`, `complete`, `role_changed`, `mapping` (`created`, `updated`, `unchanged` or `null`), `siblings`, `verified`, `failure` (`{"step", "error"}` or `null`) |
//! | [`cluster::ChunkPlacement`] | `schema`, `table`, `data_nodes`, `chunks` ([`catalog::ChunkInfo`]s), `rows` (per data node: `node`, `chunks` (`chunk_schema`, `chunk_name`, `rows`), `chunks_error`) |
//! | [`ServerInfo`] | its public fields, by their names |
//! | [`catalog::ChunkInfo`], [`catalog::DataNodeInfo`], [`catalog::HypertableInfo`] | their public fields, by their names |
//!
//! # Security
//!
//! Passwords are [`SecretString`] from the caller to the wire: `Debug` shows `[REDACTED]`,
//! there is no `Display`, no URL form (a [`NodeConfig`] is read from a URL, never written to
//! one), and errors never hold a password or SQL text. Role
//! passwords are sent as SCRAM-SHA-256 verifiers, so the cleartext never reaches the server
//! or its log. Every statement that carries a secret is sent one way (`secret_send`): the
//! secret only as a bind parameter, after the session turned off the settings that would
//! record it, or refused with [`Error::SecretWouldBeLogged`] naming the setting when the role
//! cannot ([`SecretLogging`] to accept the risk). Server notices (TimescaleDB's deprecation
//! warnings among them) are logged through `tracing` at debug level and never fail an
//! operation. Every function the crate calls is qualified with its schema and every
//! argument cast to the declared type, so a look-alike function that another role created in
//! `public` is never run in its place (CVE-2018-1058).

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(rust_2018_idioms, unreachable_pub, unused_qualifications)]
// docs.rs (nightly, `--cfg docsrs`): feature badges on every item gated by a feature, found
// by rustdoc itself (`doc_cfg` took in the former `doc_auto_cfg`).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod catalog;
pub mod cluster;
pub mod data;
pub mod error;
pub mod lifecycle;
pub mod migrate;
pub mod pool;
pub mod server;

mod config;
mod connect;
mod executor;
mod ident;
mod node;
mod secret_send;
#[cfg(feature = "serde")]
mod serialize;
mod sql;
mod table_name;
mod tls;
mod version;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

/// The bb8-postgres crate this one implements [`Executor`] for (feature `bb8-postgres`), so
/// an application can build its pool with the same versions.
#[cfg(feature = "bb8-postgres")]
pub use bb8_postgres;
pub use cluster::Cluster;
pub use config::{ChannelBinding, NodeConfig, TlsMode};
pub use error::{Error, ErrorKind, Result};
pub use executor::Executor;
pub use ident::{Ident, MAX_IDENT_BYTES};
pub use lifecycle::{Bootstrap, UpdateExtension};
pub use node::{
    AccessNode, DataNode, DistributedExec, DistributedHypertable, DistributedRole, DropUserMapping,
    UserMapping,
};
pub use secrecy::{ExposeSecret, SecretString};
pub use secret_send::SecretLogging;
pub use server::ServerInfo;
pub use sql::raw::RawSql;
pub use sql::role::Privilege;
pub use sql::user_mapping::RoleSpec;
pub use table_name::{IntoTableName, TableName};
pub use tokio_postgres;
pub use version::{PgVersion, Version};

/// The README's Rust examples, compiled (and run: they only define functions) as doctests, so
/// that they keep up with the API.
#[cfg(all(
    doctest,
    feature = "testing",
    feature = "serde",
    feature = "bb8-postgres"
))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

#[cfg(test)]
mod tests {
    #[test]
    fn public_types_are_send_sync() {
        fn assert<T: Send + Sync + 'static>() {}
        assert::<crate::NodeConfig>();
        assert::<crate::ServerInfo>();
        assert::<crate::Error>();
        assert::<crate::Ident>();
        assert::<crate::migrate::Migration>();
        assert::<crate::migrate::MigrationPlan>();
        assert::<crate::migrate::MigrationReport>();
    }
}
