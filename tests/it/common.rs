//! Shared helpers: tier 2 detection and plain servers.

use std::io::Write;
use std::sync::Once;

use timescaledb_multinode::testing::{LocalCluster, LocalServer, PgInstall};
use timescaledb_multinode::Version;

/// Whether tier 2 can run here. When it cannot, prints `tier 2 skipped: <reason>` once per
/// process (straight to stderr, so the test harness does not hide it), or panics when
/// `TSMN_REQUIRE_TIMESCALEDB=1`.
pub fn tier2() -> Option<Version> {
    static SKIP_NOTICE: Once = Once::new();
    let reason = match PgInstall::discover() {
        Ok(install) => match install.multinode_support() {
            Ok(version) => return Some(version),
            Err(reason) => reason,
        },
        Err(e) => e.to_string(),
    };
    if std::env::var("TSMN_REQUIRE_TIMESCALEDB").as_deref() == Ok("1") {
        panic!("TSMN_REQUIRE_TIMESCALEDB=1, but tier 2 cannot run: {reason}");
    }
    SKIP_NOTICE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "tier 2 skipped: {reason}");
    });
    None
}

/// A plain PostgreSQL server (TimescaleDB not preloaded), for tier 1.
pub async fn plain_server(name: &str) -> LocalServer {
    LocalServer::builder(name)
        .timescaledb(false)
        .start()
        .await
        .expect("start a plain PostgreSQL server")
}

/// A plain cluster of 1 + `n` servers, for tier 1.
pub async fn plain_cluster(n: usize) -> LocalCluster {
    LocalCluster::builder()
        .data_nodes(n)
        .timescaledb(false)
        .start()
        .await
        .expect("start a plain local cluster")
}
