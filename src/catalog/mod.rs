//! Typed rows read back from the server's views, one file per view.
//!
//! Rows are decoded by column name; a row of an unexpected shape is an error naming the
//! view, never a panic.

mod chunk;
mod data_node;
mod hypertable;

pub use chunk::ChunkInfo;
pub use data_node::DataNodeInfo;
pub use hypertable::HypertableInfo;
