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
//! # Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `error` | [`Error`]: one type, variants a caller can act on, node and operation named |
//! | `ident` | [`Ident`]: validated identifiers (no NUL, ≤ 63 bytes) |
//! | `config` | [`NodeConfig`], [`TlsMode`]: how to reach one node |
//! | `connect`, `tls` | one unpooled session; deadlines and cancel requests; notices to `tracing` |
//! | `secret_send` | the one way a secret is sent, [`SecretLogging`]: nothing secret in logs, statistics views or errors |
//! | `sql` | the only place SQL text is made (renderers, quoting through `postgres_protocol`) |
//! | `cluster` | [`Cluster`]: plan / apply, status and its [`Cause`]s, heal and rotation, each node's step within [`Cluster::node_deadline`] |
//! | `server` | [`ServerInfo`], [`Capabilities`], [`Feature`]: what a node runs and can do |
//! | `version` | [`Version`], [`PgVersion`] |
//! | `testing` | (feature `testing`) `LocalCluster` and `LocalServer` fixtures |
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `rustls` | TLS through rustls: [`TlsMode::Require`] and [`TlsMode::VerifyFull`], and so [`ChannelBinding::Require`] |
//! | `serde` | [`Cluster`] specs read from TOML or JSON files (`Cluster::from_toml`, `Cluster::from_json`), passwords from the environment |
//! | `testing` | `testing::LocalCluster`: real throwaway servers for tests, joined in one call, with the tier-2 skip helper (needs PostgreSQL server binaries) |
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

mod catalog;
mod cluster;
mod config;
mod connect;
mod error;
mod ident;
mod node;
mod pool;
mod secret_send;
mod server;
mod sql;
mod tls;
mod version;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use catalog::{ChunkInfo, DataNodeInfo, HypertableInfo};
pub use cluster::{
    AccessNodeLink, ApplyReport, Cause, Cluster, ClusterStatus, Conflict, DataNodeStatus,
    HealReport, NodeHeal, NodeStatus, Plan, PreparedTransaction, Prune, Rotation, RotationStep,
    Step, StepKind, UnderReplicatedChunk, Unknown, DEFAULT_NODE_DEADLINE,
};
pub use config::{ChannelBinding, NodeConfig, TlsMode};
pub use error::{Error, Result};
pub use ident::{Ident, MAX_IDENT_BYTES};
pub use node::{query_each, Ingest, IngestedBatch, NodeRows, INGEST_RETRIES, STALE_RETRIES};
pub use node::{
    update_extension, update_extensions, AccessNode, AddedDataNode, Bootstrap, ChunkInterval,
    CreatedHypertable, DataNode, DistributedExec, DistributedHypertable, DistributedRole,
    ExtensionChange, ExtensionUpdate, GrantOn, MappingChange, UserMapping,
};
pub use node::{
    AllowNewChunks, AlterDataNode, AlteredDataNode, AttachDataNode, AttachedDataNode,
    BlockNewChunks, DeleteDataNode, DeletedDataNode, DetachDataNode, Repartition, RestorePoint,
};
pub use pool::{CheckoutWaits, NodePool, PoolConfig, PoolState, PooledClient, CANCEL_GRACE};
pub use secrecy::{ExposeSecret, SecretString};
pub use secret_send::SecretLogging;
pub use server::{Capabilities, Feature, License, NodeRole, ServerInfo};
pub use sql::hypertable::TableName;
pub use sql::raw::RawSql;
pub use sql::role::Privilege;
pub use sql::user_mapping::RoleSpec;
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
    }
}
