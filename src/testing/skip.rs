//! Tests that need TimescaleDB multi-node: skipped with one visible line where it is not at
//! hand, failed where it is required.

use std::collections::HashSet;
use std::fmt::Display;
use std::io::Write;
use std::sync::Mutex;

use super::install::PgInstall;
use crate::version::Version;

/// The environment variable that turns a skip into a failure: `TSMN_REQUIRE_TIMESCALEDB=1`
/// (set it in CI, where tier 2 must run).
pub const REQUIRE_TIMESCALEDB_ENV: &str = "TSMN_REQUIRE_TIMESCALEDB";

/// Whether tests that need TimescaleDB multi-node ("tier 2") can run here: the TimescaleDB
/// version whose multi-node the installation ([`PgInstall::discover`]) has, or `None` after
/// printing `tier 2 skipped: <reason>`.
///
/// Start a tier-2 test with it, so that a machine without TimescaleDB 2.0–2.13 (TSL) says so
/// once instead of failing every test, and CI, with `TSMN_REQUIRE_TIMESCALEDB=1`, fails
/// instead of passing nothing:
///
/// ```no_run
/// use timescaledb_multinode::testing::{tier2, LocalCluster};
///
/// // #[tokio::test]
/// async fn rows_reach_both_data_nodes() {
///     let Some(_version) = tier2() else { return };
///     let joined = LocalCluster::start_joined(2).await.unwrap();
///     // ...
///     joined.shutdown().await.unwrap();
/// }
/// ```
///
/// With `TSMN_TIMESCALEDB_SOURCES` set, the first call may build TimescaleDB from the source
/// archives there (about a minute, then cached).
///
/// # Panics
///
/// When `TSMN_REQUIRE_TIMESCALEDB=1` and multi-node cannot run, naming the reason.
pub fn tier2() -> Option<Version> {
    let reason = match PgInstall::discover() {
        Ok(install) => match install.multinode_support() {
            Ok(version) => return Some(version),
            Err(reason) => reason,
        },
        Err(e) => e.to_string(),
    };
    skip_or_fail("tier 2", reason)
}

/// Skips (returns `None`) or fails a test that cannot run here: panics when
/// `TSMN_REQUIRE_TIMESCALEDB=1`; otherwise prints `<what> skipped: <reason>` to standard
/// error, once per process for each `what`, past the test harness's output capture so it is
/// seen.
///
/// ```no_run
/// use timescaledb_multinode::testing::{skip_or_fail, PgInstall};
///
/// # fn demo() -> Option<()> {
/// let Some(sources) = PgInstall::timescaledb_sources() else {
///     return skip_or_fail("release matrix", "TSMN_TIMESCALEDB_SOURCES is not set");
/// };
/// # Some(()) }
/// ```
///
/// # Panics
///
/// When `TSMN_REQUIRE_TIMESCALEDB=1`, with `what` and `reason`.
pub fn skip_or_fail<T>(what: &str, reason: impl Display) -> Option<T> {
    if std::env::var(REQUIRE_TIMESCALEDB_ENV).as_deref() == Ok("1") {
        panic!("{REQUIRE_TIMESCALEDB_ENV}=1, but {what} cannot run: {reason}");
    }
    static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let first = SAID
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(what.to_owned());
    if first {
        let _ = writeln!(std::io::stderr(), "{what} skipped: {reason}");
    }
    None
}
