//! Data in and out beyond [`AccessNode::query`](crate::AccessNode::query): bulk ingest
//! through the access node, and read-only queries on every data node directly.
//!
//! - [`Ingest`]: a binary COPY into a distributed hypertable, row by row
//!   ([`AccessNode::ingest`](crate::AccessNode::ingest)), or a whole batch run again after a
//!   failure known to have written nothing
//!   ([`AccessNode::ingest_with_retry`](crate::AccessNode::ingest_with_retry), at most
//!   [`INGEST_RETRIES`] times, reporting an [`IngestedBatch`]).
//! - [`query_each`]: caller-written read-only SQL on each node at once, one [`NodeRows`] per
//!   node.
//! - [`STALE_RETRIES`]: how often [`AccessNode::query`](crate::AccessNode::query) and
//!   [`AccessNode::execute`](crate::AccessNode::execute) run a statement again after a stale
//!   data-node connection.

pub use crate::node::{query_each, Ingest, IngestedBatch, NodeRows, INGEST_RETRIES, STALE_RETRIES};
