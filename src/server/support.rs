//! Whether a node can take part in a multi-node cluster, and if not, why not and what to do.

use super::{Capabilities, License, ServerInfo};
use crate::server::capability::MULTINODE_REMOVED;
use crate::version::Version;

/// `Ok` when `info` describes a node that can run multi-node; otherwise the reason, written
/// for the person who has to fix it.
pub(super) fn check(info: &ServerInfo) -> Result<(), String> {
    let Some(version) = info.timescaledb else {
        return Err(not_installed(info));
    };
    if let Some(problem) = version_problem(version) {
        return Err(format!("{problem}; use 2.0–2.13"));
    }
    match &info.license {
        Some(license) => check_license(license)?,
        None => {
            return Err("the TimescaleDB library is not loaded; add timescaledb to \
                 shared_preload_libraries and restart the server"
                .to_owned())
        }
    }
    check_postgres(version, info.postgres.major)
}

/// Like [`check`], but a node without the extension is judged by what the server offers:
/// `Ok` when `CREATE EXTENSION timescaledb` would give it a multi-node TimescaleDB (the
/// server's default version has multi-node on this PostgreSQL major, the library is
/// preloaded, the licence is not Apache). A version that cannot work is named before a
/// setting that can be fixed.
pub(super) fn check_offered(info: &ServerInfo) -> Result<(), String> {
    if info.timescaledb.is_some() {
        return check(info);
    }
    let Some(default) = info.timescaledb_default else {
        return Err(not_available());
    };
    // The PostgreSQL message names the majors the version supports: what to do is in it.
    let (problem, fix) = match version_problem(default) {
        Some(problem) => (Some(problem), "install 2.0–2.13"),
        None => (
            check_postgres(default, info.postgres.major).err(),
            "use a PostgreSQL major it supports",
        ),
    };
    if let Some(problem) = problem {
        let fix = match alternative(info) {
            Some(other) => format!(
                "the server also offers {other}, which has multi-node: run CREATE EXTENSION \
                 timescaledb VERSION '{other}' on this node first, or {fix}"
            ),
            None => fix.to_owned(),
        };
        return Err(format!(
            "{problem}, and it is the version CREATE EXTENSION timescaledb installs on this \
             server; {fix}"
        ));
    }
    if !info.preloaded {
        return Err(
            "timescaledb is not in shared_preload_libraries; add it and restart the server"
                .to_owned(),
        );
    }
    // Without the extension the library is not loaded, so the licence reads only when a
    // configuration file sets it; unset, the build's own default applies.
    match &info.license {
        Some(license) => check_license(license),
        None => Ok(()),
    }
}

/// Why `version` has no multi-node at all, if it has none.
fn version_problem(version: Version) -> Option<String> {
    if version >= MULTINODE_REMOVED {
        Some(format!(
            "TimescaleDB {version} has no multi-node (removed in 2.14)"
        ))
    } else if version < Version::new(2, 0, 0) {
        Some(format!(
            "TimescaleDB {version} predates multi-node (added in 2.0)"
        ))
    } else {
        None
    }
}

/// Refuses a PostgreSQL major that `version`'s multi-node does not support.
fn check_postgres(version: Version, pg: u32) -> Result<(), String> {
    if let Some((min, max)) = Capabilities::of(version).postgres_majors() {
        if pg < min || pg > max {
            return Err(format!(
                "TimescaleDB {version} does not support multi-node on PostgreSQL {pg} \
                 (supported: PostgreSQL {min}–{max})"
            ));
        }
    }
    Ok(())
}

fn check_license(license: &License) -> Result<(), String> {
    match license {
        License::Timescale => Ok(()),
        License::Apache => Err(
            "timescaledb.license is 'apache' (the Apache-only build or licence): multi-node \
             needs the Timescale License build; set timescaledb.license = 'timescale' in \
             postgresql.conf and reload the server (a build without the TSL part must be \
             replaced by one with it)"
                .to_owned(),
        ),
        License::Other(other) => Err(format!(
            "timescaledb.license is '{other}': multi-node needs the Timescale License build; \
             set timescaledb.license = 'timescale' in postgresql.conf and reload the server"
        )),
    }
}

/// The newest version the server offers whose multi-node runs on its PostgreSQL major.
fn alternative(info: &ServerInfo) -> Option<Version> {
    info.timescaledb_available
        .iter()
        .rev()
        .copied()
        .find(|v| version_problem(*v).is_none() && check_postgres(*v, info.postgres.major).is_ok())
}

fn not_installed(info: &ServerInfo) -> String {
    match info.timescaledb_default {
        Some(default) => format!(
            "extension timescaledb is not installed in database {:?} (the server has {}); \
             run CREATE EXTENSION timescaledb there",
            info.database, default
        ),
        None => not_available(),
    }
}

fn not_available() -> String {
    "extension timescaledb is not available on this server; install TimescaleDB 2.0–2.13 \
     with its TSL part (for example the timescaledb-2-postgresql-15 package at version \
     2.13.x) and add it to shared_preload_libraries"
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::NodeRole;
    use crate::version::PgVersion;

    fn info(ts: Option<&str>, license: Option<License>, pg: u32) -> ServerInfo {
        ServerInfo {
            node: "an".into(),
            postgres: PgVersion {
                major: pg,
                minor: 0,
            },
            postgres_version_string: format!("{pg}.0"),
            database: "tsdb".into(),
            user: "tsdbadmin".into(),
            is_superuser: true,
            timescaledb: ts.map(|v| v.parse().unwrap()),
            timescaledb_schema: ts.map(|_| "public".into()),
            timescaledb_default: ts.map(|v| v.parse().unwrap()),
            timescaledb_available: vec![],
            license,
            preloaded: true,
            max_prepared_transactions: 150,
            in_recovery: false,
            config_loaded: std::time::SystemTime::UNIX_EPOCH,
            default_read_only: false,
            data_node_count: 0,
            role: NodeRole::Standalone,
        }
    }

    #[test]
    fn accepts_2_13_on_pg15() {
        assert_eq!(
            check(&info(Some("2.13.1"), Some(License::Timescale), 15)),
            Ok(())
        );
        assert_eq!(
            check(&info(Some("2.9.3"), Some(License::Timescale), 15)),
            Ok(())
        );
    }

    #[test]
    fn refuses_removed_and_too_old_versions() {
        let e = check(&info(Some("2.14.0"), Some(License::Timescale), 15)).unwrap_err();
        assert_eq!(
            e,
            "TimescaleDB 2.14.0 has no multi-node (removed in 2.14); use 2.0–2.13"
        );
        let e = check(&info(Some("1.7.5"), Some(License::Timescale), 12)).unwrap_err();
        assert!(e.contains("predates multi-node"), "{e}");
    }

    #[test]
    fn refuses_apache_and_unloaded() {
        let e = check(&info(Some("2.13.1"), Some(License::Apache), 15)).unwrap_err();
        assert!(e.contains("Apache-only build"), "{e}");
        assert!(e.contains("set timescaledb.license = 'timescale'"), "{e}");
        let e = check(&info(Some("2.13.1"), None, 15)).unwrap_err();
        assert!(e.contains("shared_preload_libraries"), "{e}");
    }

    #[test]
    fn refuses_unsupported_postgres_major() {
        let e = check(&info(Some("2.13.1"), Some(License::Timescale), 16)).unwrap_err();
        assert!(e.contains("PostgreSQL 16"), "{e}");
        let e = check(&info(Some("2.3.0"), Some(License::Timescale), 15)).unwrap_err();
        assert!(e.contains("supported: PostgreSQL 11–13"), "{e}");
    }

    #[test]
    fn missing_extension_says_what_to_do() {
        let e = check(&info(None, None, 15)).unwrap_err();
        assert!(e.contains("not available on this server"), "{e}");
        let mut i = info(None, None, 15);
        i.timescaledb_default = Some(Version::new(2, 13, 1));
        let e = check(&i).unwrap_err();
        assert!(e.contains("CREATE EXTENSION timescaledb"), "{e}");
    }

    /// A server without the extension created: what `CREATE EXTENSION` would give.
    fn offering(default: &str, available: &[&str], license: Option<License>) -> ServerInfo {
        let mut i = info(None, license, 15);
        i.timescaledb_default = Some(default.parse().unwrap());
        i.timescaledb_available = available.iter().map(|v| v.parse().unwrap()).collect();
        i
    }

    #[test]
    fn offered_multinode_version_passes() {
        assert_eq!(
            check_offered(&offering("2.13.1", &["2.13.1"], None)),
            Ok(())
        );
        assert_eq!(
            check_offered(&offering("2.9.3", &["2.9.3"], Some(License::Timescale))),
            Ok(())
        );
        // Installed decides over offered.
        let mut i = info(Some("2.13.1"), Some(License::Timescale), 15);
        i.timescaledb_default = Some(Version::new(2, 14, 2));
        assert_eq!(check_offered(&i), Ok(()));
        let i = info(Some("2.14.2"), Some(License::Timescale), 15);
        assert_eq!(
            check_offered(&i).unwrap_err(),
            "TimescaleDB 2.14.2 has no multi-node (removed in 2.14); use 2.0–2.13"
        );
    }

    #[test]
    fn offered_2_14_default_is_refused_naming_an_alternative() {
        let e = check_offered(&offering(
            "2.14.2",
            &["2.9.3", "2.13.1", "2.14.2"],
            Some(License::Timescale),
        ))
        .unwrap_err();
        assert_eq!(
            e,
            "TimescaleDB 2.14.2 has no multi-node (removed in 2.14), and it is the version \
             CREATE EXTENSION timescaledb installs on this server; the server also offers \
             2.13.1, which has multi-node: run CREATE EXTENSION timescaledb VERSION '2.13.1' \
             on this node first, or install 2.0–2.13"
        );
        let e = check_offered(&offering("2.14.2", &["2.14.2"], None)).unwrap_err();
        assert_eq!(
            e,
            "TimescaleDB 2.14.2 has no multi-node (removed in 2.14), and it is the version \
             CREATE EXTENSION timescaledb installs on this server; install 2.0–2.13"
        );
    }

    #[test]
    fn an_alternative_must_run_on_the_servers_postgres() {
        // 2.3 runs on PostgreSQL 11–13 only.
        let e = check_offered(&offering("2.14.2", &["2.3.0", "2.14.2"], None)).unwrap_err();
        assert!(!e.contains("also offers"), "{e}");
        let mut i = offering("2.13.1", &["2.9.3", "2.13.1"], None);
        i.postgres.major = 16;
        let e = check_offered(&i).unwrap_err();
        assert!(
            e.contains("PostgreSQL 16 (supported: PostgreSQL 13–15)"),
            "{e}"
        );
        assert!(e.ends_with("use a PostgreSQL major it supports"), "{e}");
        let mut i = offering("2.13.1", &["2.3.0", "2.13.1"], None);
        i.postgres.major = 12;
        let e = check_offered(&i).unwrap_err();
        assert!(e.contains("also offers 2.3.0"), "{e}");
    }

    #[test]
    fn offered_apache_licence_or_no_preload_is_refused() {
        let e = check_offered(&offering("2.13.1", &["2.13.1"], Some(License::Apache))).unwrap_err();
        assert!(e.starts_with("timescaledb.license is 'apache'"), "{e}");
        assert!(e.contains("set timescaledb.license = 'timescale'"), "{e}");
        let e = check_offered(&offering(
            "2.13.1",
            &["2.13.1"],
            Some(License::Other("x".into())),
        ))
        .unwrap_err();
        assert!(e.starts_with("timescaledb.license is 'x'"), "{e}");
        let mut i = offering("2.13.1", &["2.13.1"], None);
        i.preloaded = false;
        let e = check_offered(&i).unwrap_err();
        assert!(e.contains("shared_preload_libraries"), "{e}");
        let e = check_offered(&info(None, None, 15)).unwrap_err();
        assert!(e.contains("not available on this server"), "{e}");
    }

    #[test]
    fn a_version_that_cannot_work_is_named_before_settings() {
        let mut i = offering("2.14.2", &["2.14.2"], Some(License::Apache));
        i.preloaded = false;
        let e = check_offered(&i).unwrap_err();
        assert!(e.starts_with("TimescaleDB 2.14.2 has no multi-node"), "{e}");
    }
}
