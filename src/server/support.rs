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
    if version >= MULTINODE_REMOVED {
        return Err(format!(
            "TimescaleDB {version} has no multi-node (removed in 2.14); use 2.0–2.13"
        ));
    }
    if version < Version::new(2, 0, 0) {
        return Err(format!(
            "TimescaleDB {version} predates multi-node (added in 2.0); use 2.0–2.13"
        ));
    }
    match &info.license {
        Some(License::Apache) => {
            return Err(
                "timescaledb is the Apache-only build (timescaledb.license = apache); multi-node \
                 needs the Timescale License build with timescaledb.license = timescale"
                    .to_owned(),
            )
        }
        Some(License::Other(other)) => {
            return Err(format!(
                "timescaledb.license is {other:?}; multi-node needs \"timescale\""
            ))
        }
        Some(License::Timescale) => {}
        None => {
            return Err("the TimescaleDB library is not loaded; add timescaledb to \
                 shared_preload_libraries and restart the server"
                .to_owned())
        }
    }
    let caps = Capabilities::of(version);
    if let Some((min, max)) = caps.postgres_majors() {
        let pg = info.postgres.major;
        if pg < min || pg > max {
            return Err(format!(
                "TimescaleDB {version} does not support multi-node on PostgreSQL {pg} \
                 (supported: PostgreSQL {min}–{max})"
            ));
        }
    }
    Ok(())
}

fn not_installed(info: &ServerInfo) -> String {
    match info.timescaledb_default {
        Some(default) => format!(
            "extension timescaledb is not installed in database {:?} (the server has {}); \
             run CREATE EXTENSION timescaledb there",
            info.database, default
        ),
        None => "extension timescaledb is not available on this server; install TimescaleDB \
                 2.0–2.13 with its TSL part (for example the timescaledb-2-postgresql-15 \
                 package at version 2.13.x) and add it to shared_preload_libraries"
            .to_owned(),
    }
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
            timescaledb_default: ts.map(|v| v.parse().unwrap()),
            timescaledb_available: vec![],
            license,
            preloaded: true,
            max_prepared_transactions: 150,
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
}
