//! Integration tests: every test here talks to real PostgreSQL servers that it starts itself
//! (`testing::LocalServer` / `LocalCluster`).
//!
//! Tier 1 (plain PostgreSQL) always runs. Tier 2 (TimescaleDB multi-node) runs when the
//! installation has TimescaleDB 2.0–2.13 with its TSL part; otherwise it prints
//! `tier 2 skipped: <reason>` once, and `TSMN_REQUIRE_TIMESCALEDB=1` makes that a failure.

mod common;

mod bounded;
mod build;

mod cluster_code;
mod connect;
mod deadlines;
mod distributed;
mod double_quote;
mod drift;
mod errors;
mod executor;
mod fixtures;
mod heal;
mod hijack;
mod hostile;
mod ingest;
mod lifecycle;
mod local_cluster;
mod managed;
mod matrix;
mod migrate;
mod multinode;
mod notices;
mod one_instance;
mod operate;
mod pool;
mod pooler;
mod quickstart;
mod refusals;
mod secrets;
mod secrets_grid;
mod server_info;
mod settings;
mod soak;
mod stack;
mod table_names;
mod tier2;
#[cfg(feature = "rustls")]
mod tls;
mod translated;
mod tsmn;
mod tsmn_migrate;
mod user_mapping;
