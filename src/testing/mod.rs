//! Real throwaway servers for tests (feature `testing`): this crate's and yours.
//!
//! [`LocalCluster::start`] brings up one access node and N data nodes, each a real
//! PostgreSQL server (`initdb` + `pg_ctl`) in a temporary directory on a free loopback port,
//! with SCRAM password authentication and an admin password of its own, and TimescaleDB
//! preloaded when the installation has multi-node. No mocks: what passes against it passes
//! against a server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use timescaledb_multinode::testing::LocalCluster;
//!
//! let cluster = LocalCluster::start(2).await?;
//! let client = cluster.access_node_config().connect().await?;
//! let row = client.query_one("SELECT 1::int4", &[]).await?;
//! assert_eq!(row.get::<_, i32>(0), 1);
//! cluster.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! # In your own tests
//!
//! Add the crate with the feature to your dev-dependencies
//! (`cargo add --dev timescaledb-multinode --features testing`), then:
//!
//! - [`LocalCluster::start_joined`] (or [`LocalClusterBuilder::start_joined`]): a cluster
//!   whose data nodes are added to the access node with their user mappings, in one call,
//!   with the pooled [`AccessNode`](crate::AccessNode) and the [`Cluster`](crate::Cluster)
//!   for it ([`JoinedCluster`]);
//! - [`tier2`]: start each test that needs TimescaleDB multi-node with
//!   `let Some(_) = tier2() else { return };` it prints `tier 2 skipped: <reason>` once
//!   where multi-node is not at hand, and fails the test under `TSMN_REQUIRE_TIMESCALEDB=1`
//!   (set that in CI); [`skip_or_fail`] does the same for other needs;
//! - a failing test's servers are stopped and their data directories and logs kept, the
//!   paths printed with the test's failure; `TSMN_KEEP=1` or [`LocalClusterBuilder::keep`] keeps
//!   them after a passing test too.
//!
//! ```no_run
//! use timescaledb_multinode::testing::{tier2, LocalCluster};
//! use timescaledb_multinode::RawSql;
//!
//! // #[tokio::test]
//! async fn reads_back_what_it_wrote() {
//!     let Some(_) = tier2() else { return };
//!     let joined = LocalCluster::start_joined(2).await.unwrap();
//!     let rows = joined
//!         .access_node
//!         .query(&RawSql::vouched("SELECT node_name FROM timescaledb_information.data_nodes"), &[])
//!         .await
//!         .unwrap();
//!     assert_eq!(rows.len(), 2);
//!     joined.shutdown().await.unwrap();
//! }
//! ```
//!
//! # Environment
//!
//! | variable | effect |
//! |---|---|
//! | `TSMN_PG_BINDIR` | the PostgreSQL `bin` directory to use (default: the newest of `/usr/lib/postgresql/{15,14,13}/bin`) |
//! | `TSMN_TIMESCALEDB_SOURCES` | a directory of TimescaleDB source archives (`timescaledb-<release>.tar.gz` and `SHA256SUMS`) to build releases from |
//! | `TSMN_TIMESCALEDB_RELEASE` | the release [`PgInstall::discover`] builds and uses (default: an installed multi-node TimescaleDB, else 2.13.1) |
//! | `TSMN_CACHE_DIR` | where `initdb` templates and TimescaleDB builds are kept (default: the system temporary directory) |
//! | `TSMN_SCRATCH_DIR` | where servers' data directories go (default: `/dev/shm` when it has 2 GiB free, else the system temporary directory) |
//! | `TSMN_REQUIRE_TIMESCALEDB` | `1`: [`tier2`] and [`skip_or_fail`] fail the test instead of skipping it |
//! | `TSMN_KEEP` | `1`: keep every server's data directory and log after shutdown (a failing test's are kept anyway) |
//!
//! # TimescaleDB releases
//!
//! No package registry ships TimescaleDB 2.13, the last release with multi-node. Given its
//! source archive, the fixture builds it: [`PgInstall::with_timescaledb`] checks the archive
//! against `SHA256SUMS`, builds the release with its TSL part against the installation's
//! server headers, and lays out a private copy of the installation with that release's
//! files and loader, cached and reused. [`PgInstall::discover`] (the default of every
//! fixture) does this on its own for `TSMN_TIMESCALEDB_RELEASE` (default 2.13.1) when
//! `TSMN_TIMESCALEDB_SOURCES` is set and the machine has no multi-node TimescaleDB;
//! [`LocalClusterBuilder::timescaledb_release`] chooses a release per cluster.
//!
//! ```no_run
//! # async fn demo() -> timescaledb_multinode::Result<()> {
//! use timescaledb_multinode::testing::LocalCluster;
//!
//! // With TSMN_TIMESCALEDB_SOURCES=/path/to/archives in the environment:
//! let cluster = LocalCluster::builder().timescaledb_release("2.11.2").start().await?;
//! assert_eq!(cluster.multinode().unwrap().to_string(), "2.11.2");
//! cluster.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! # Speed
//!
//! `initdb` runs once per installation (its result is cached on disk and copied for every
//! server, onto a memory file system where there is one), and the nodes of a cluster start
//! concurrently.
//!
//! # Leftovers and the cache
//!
//! Each server's directory names the process that owns it; a run killed before it could
//! shut its servers down leaves them behind, and the next run's first server start stops
//! them and removes their directories ([`LocalServer::remove_leftovers`]). The cache
//! directory must belong to this user (or, as root, to the servers' user) and not be
//! writable by group or others; otherwise it is refused with the reason.
//!
//! # Running as root
//!
//! PostgreSQL refuses to run as root; when the test process is root, the servers run as
//! the `postgres` OS user and their files belong to it.
//!
//! # Stability
//!
//! This module is for tests. It follows the crate's version, but its details (settings,
//! names) may change in any release.

mod cache;
mod cluster;
mod functions;
mod install;
mod joined;
mod leftovers;
mod os_user;
mod scratch;
mod server;
mod skip;
mod template;
mod timescaledb;

pub use cache::CACHE_DIR_ENV;
pub use cluster::{LocalCluster, LocalClusterBuilder};
pub use functions::{called_functions, CalledFunction, FunctionHome, FunctionKind, LookAlike};
pub use install::{PgInstall, PG_BINDIR_ENV};
pub use joined::JoinedCluster;
pub use scratch::SCRATCH_DIR_ENV;
pub use server::{AdminModel, LocalServer, LocalServerBuilder, KEEP_ENV};
pub use skip::{skip_or_fail, tier2, REQUIRE_TIMESCALEDB_ENV};
pub use timescaledb::{
    DEFAULT_RELEASE as DEFAULT_TIMESCALEDB_RELEASE, RELEASE_ENV as TIMESCALEDB_RELEASE_ENV,
    SOURCES_ENV as TIMESCALEDB_SOURCES_ENV,
};
