//! A typed async client that provisions, operates and queries **TimescaleDB multi-node
//! clusters** (TimescaleDB 2.0–2.13 with its TSL part): one access node, N data nodes.
//!
//! This release lays the foundation: typed connection settings with secret passwords,
//! optional TLS, one error type, and [`ServerInfo`], which tells what a node runs and refuses
//! clearly where multi-node cannot work. With the `testing` feature, `testing::LocalCluster`
//! starts throwaway clusters of real PostgreSQL (and TimescaleDB, when installed) servers.
//!
//! ```no_run
//! use timescaledb_multinode::{NodeConfig, NodeRole, SecretString, ServerInfo};
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
//! pool): [`DataNode`], [`DistributedHypertable`], [`DistributedRole`], [`UserMapping`],
//! [`DropUserMapping`], [`DistributedExec`], [`AttachDataNode`], [`DetachDataNode`],
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
//! ```no_run
//! use timescaledb_multinode::{
//!     AccessNode, DataNode, DistributedHypertable, DistributedRole, NodeConfig, Privilege,
//!     SecretString, SetChunkInterval, ChunkInterval, UpdateExtension,
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
//! | module | what it holds |
//! |---|---|
//! | `error` | [`Error`]: one type, variants a caller can act on, node and operation named; [`ErrorKind`], the way to react; [`DriverError`], the driver's error a variant carries; each text of a cause chain once |
//! | `ident` | [`Ident`]: validated identifiers (no NUL, ≤ 63 bytes) |
//! | `table_name` | [`TableName`]: a table, optionally schema-qualified, read from and shown as SQL text; [`IntoTableName`] for the calls that take one |
//! | `config` | [`NodeConfig`], [`TlsMode`]: how to reach one node |
//! | `connect`, `tls` | one unpooled session; deadlines and cancel requests; notices to `tracing` |
//! | `executor` | [`Executor`]: what the typed operations run on — an [`AccessNode`], a [`PooledClient`], your `tokio_postgres::Client` or `Transaction`, your bb8-postgres pool |
//! | `secret_send` | the one way a secret is sent, [`SecretLogging`]: nothing secret in logs, statistics views or errors |
//! | `sql` | the only place SQL text is made (renderers, quoting through `postgres_protocol`) |
//! | `cluster` | [`Cluster`]: plan / apply, status and its [`Cause`]s, heal and rotation, chunk placement, each node's step within [`Cluster::node_deadline`] |
//! | `migrate` | [`Migration`]: leaving multi-node, distributed hypertables to one node, resumable and verified |
//! | `server` | [`ServerInfo`], [`Capabilities`], [`Feature`]: what a node runs and can do |
//! | `version` | [`Version`], [`PgVersion`] |
//! | `testing` | (feature `testing`) `LocalCluster` and `LocalServer` fixtures |
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
//! The reports serialize for tools that print JSON or keep a record ([`ClusterStatus`],
//! [`HealReport`], [`Rotation`], [`ChunkPlacement`], [`ServerInfo`], the catalog rows,
//! [`Error`]). The field
//! names are part of the crate's interface and change only with a changelog note.
//!
//! Conventions:
//!
//! - Names are `snake_case`; enums without data serialize as a `snake_case` string
//!   ([`crate::Cause`]: `"wrong_password"`, [`crate::NodeRole`]: `"access_node"`).
//! - Versions are strings: `"2.13.1"` ([`crate::Version`]), `"15.20"`
//!   ([`crate::PgVersion`]); a licence is `"timescale"`, `"apache"` or the setting's value.
//! - A field that holds a `Result` in Rust is two fields: `x` (the value, or `null` when it
//!   failed) and `x_error` (an error object, or `null` when it succeeded).
//! - An [`crate::Error`] is an object `{"kind", "operation", "node", "message",
//!   "sqlstate"}`: `kind` is its [`crate::ErrorKind`] in `snake_case`
//!   ([`crate::ErrorKind::as_str`]: `"authentication_failed"`, `"timeout"`,
//!   `"unreachable"`, ...), `node` and `sqlstate` may be `null`, and `message` is the error's
//!   `Display` (which never holds a password or SQL text).
//! - What a report's methods compute is included, so a reader needs no rules of its own:
//!   `healthy` on a status, `clean` and `healed` on a heal report, `complete` on a rotation.
//!
//! | type | fields |
//! |---|---|
//! | [`crate::ClusterStatus`] | `healthy`, `access_node_name`, `access_node` (a node status), `data_nodes`, `under_replicated`, `under_replicated_error` |
//! | [`crate::NodeStatus`] | `up`, `cause`, `server` ([`crate::ServerInfo`]), `server_error` |
//! | [`crate::DataNodeStatus`] | `name`, `healthy`, `direct` (a node status), `link`, `available`, `version_ok`, `extension_missing`, `max_prepared_transactions`, `two_phase_commit_disabled`, `prepared_transactions`, `prepared_transactions_error` |
//! | [`crate::AccessNodeLink`] | `state` (`ok`, `down`, `wrong_password`, `no_user_mapping`, `rejected_by_hba`, `unknown_role`, `unknown_database`, `tls`, `dns`, `extension_missing`, `extension_incompatible`, `not_added`, `not_checked`, `failed`), `cause`, `error`, `reason` (why it was not checked) |
//! | [`crate::PreparedTransaction`] | `gid`, `prepared`, `owner`, `database` |
//! | [`crate::UnderReplicatedChunk`] | `hypertable_schema`, `hypertable_name`, `chunk_schema`, `chunk_name`, `desired`, `actual`, `replica_nodes` |
//! | [`crate::HealReport`] | `clean`, `healed`, `advanced_xid`, `nodes` |
//! | [`crate::NodeHeal`] | `name`, `in_doubt_before`, `in_doubt_before_error`, `healed`, `healed_error`, `remote_txn_records_before`, `remote_txn_records_after` (`null`: not read), `in_doubt_after`, `in_doubt_after_error`, `other_owners` |
//! | [`crate::Rotation`] | `data_node`, `complete`, `role_changed`, `mapping` (`created`, `updated`, `unchanged` or `null`), `verified`, `failure` (`{"step", "error"}` or `null`) |
//! | [`crate::ChunkPlacement`] | `schema`, `table`, `data_nodes`, `chunks` ([`crate::ChunkInfo`]s), `rows` (per data node: `node`, `chunks` (`chunk_schema`, `chunk_name`, `rows`), `chunks_error`) |
//! | [`crate::ServerInfo`] | its public fields, by their names |
//! | [`crate::ChunkInfo`], [`crate::DataNodeInfo`], [`crate::HypertableInfo`] | their public fields, by their names |
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
pub use catalog::{ChunkInfo, DataNodeInfo, HypertableInfo};
pub use cluster::{
    AccessNodeLink, ApplyReport, Cause, ChunkPlacement, ChunkRows, Cluster, ClusterStatus,
    Conflict, DataNodeStatus, HealReport, NodeChunkRows, NodeHeal, NodeStatus, Plan,
    PreparedTransaction, Prune, Rotation, RotationStep, Step, StepKind, UnderReplicatedChunk,
    Unknown, DEFAULT_NODE_DEADLINE,
};
pub use config::{ChannelBinding, NodeConfig, TlsMode};
pub use error::{DriverError, Error, ErrorKind, Mismatch, Result};
pub use executor::Executor;
pub use ident::{Ident, MAX_IDENT_BYTES};
pub use migrate::{
    ChunkPlan, ChunkReport, Creation, Migration, MigrationEvent, MigrationPlan, MigrationReport,
    RangeCheck, TablePlan, TableReport, TargetKind, DEFAULT_MIGRATION_CONCURRENCY,
};
pub use node::{query_each, Ingest, IngestedBatch, NodeRows, INGEST_RETRIES, STALE_RETRIES};
pub use node::{
    AccessNode, AddedDataNode, Bootstrap, ChunkInterval, CreatedHypertable, DataNode,
    DistributedExec, DistributedHypertable, DistributedRole, DropUserMapping, ExtensionChange,
    ExtensionUpdate, MappingChange, UpdateExtension, UserMapping,
};
pub use node::{
    AllowNewChunks, AlterDataNode, AlteredDataNode, AttachDataNode, AttachedDataNode,
    BlockNewChunks, CreateRestorePoint, DeleteDataNode, DeletedDataNode, DetachDataNode,
    Repartition, RestorePoint, SetChunkInterval, SetReplicationFactor,
};
pub use pool::{CheckoutWaits, NodePool, PoolConfig, PoolState, PooledClient, CANCEL_GRACE};
pub use secrecy::{ExposeSecret, SecretString};
pub use secret_send::SecretLogging;
pub use server::{Capabilities, Feature, License, NodeRole, ServerInfo};
pub use sql::raw::RawSql;
pub use sql::role::Privilege;
pub use sql::user_mapping::RoleSpec;
pub use table_name::{IntoTableName, TableName};
pub use tokio_postgres;
pub use version::{PgVersion, Version};

#[cfg(test)]
mod tests {
    #[test]
    fn public_types_are_send_sync() {
        fn assert<T: Send + Sync + 'static>() {}
        assert::<crate::NodeConfig>();
        assert::<crate::ServerInfo>();
        assert::<crate::Error>();
        assert::<crate::Ident>();
        assert::<crate::Migration>();
        assert::<crate::MigrationPlan>();
        assert::<crate::MigrationReport>();
    }
}
