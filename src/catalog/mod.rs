//! Rows read from the access node's catalog: its data nodes ([`DataNodeInfo`]), its
//! hypertables ([`HypertableInfo`]) and their chunks ([`ChunkInfo`]).
//!
//! The reads are methods: [`AccessNode::data_nodes`](crate::AccessNode::data_nodes),
//! [`Executor::hypertables`](crate::Executor::hypertables),
//! [`Executor::chunks`](crate::Executor::chunks), ... Rows are decoded by column name; a row
//! of an unexpected shape is an error naming the view, never a panic.

// One file per view, the query beside the struct.

mod chunk;
mod data_node;
mod hypertable;

pub use chunk::ChunkInfo;
pub use data_node::DataNodeInfo;
pub use hypertable::HypertableInfo;
