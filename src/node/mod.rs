//! The typed multi-node API: the access node, and the builders that act through it.
//!
//! Administrative operations open their own session to the access node, queries and writes
//! use its pool; each reads what the server runs, refuses clearly where the installed TimescaleDB lacks the feature, and
//! maps the server's answers to [`crate::Error`] variants that name the data node concerned.

mod access_node;
mod data_node;
mod distributed_exec;
mod extension;
mod health;
mod hypertable;
mod ingest;
mod ingest_retry;
pub(crate) mod lifecycle;
mod per_node;
mod quote_guard;
mod role;
mod user_mapping;
mod write_guard;

pub(crate) use access_node::SessionRef;
pub use access_node::{AccessNode, STALE_RETRIES};
pub use data_node::{AddedDataNode, Bootstrap, DataNode};
pub use distributed_exec::DistributedExec;
pub(crate) use extension::create_on_session;
pub use extension::{ExtensionChange, ExtensionUpdate, UpdateExtension};
pub use hypertable::{ChunkInterval, CreatedHypertable, DistributedHypertable};
pub(crate) use ingest::ingest_on;
pub use ingest::Ingest;
pub use ingest_retry::{IngestedBatch, INGEST_RETRIES};
pub use lifecycle::{
    AllowNewChunks, AlterDataNode, AlteredDataNode, AttachDataNode, AttachedDataNode,
    BlockNewChunks, CreateRestorePoint, DeleteDataNode, DeletedDataNode, DetachDataNode,
    Repartition, RestorePoint, SetChunkInterval, SetReplicationFactor,
};
pub use per_node::{query_each, NodeRows};
pub use role::DistributedRole;
pub(crate) use role::GrantOn;
pub use user_mapping::{DropUserMapping, MappingChange, UserMapping};
