//! Finding the PostgreSQL server binaries, and whether TimescaleDB multi-node is installed
//! for them.

use std::path::{Path, PathBuf};

use super::timescaledb::{DEFAULT_RELEASE, RELEASE_ENV, SOURCES_ENV};
use crate::error::{Error, Result};
use crate::server::Capabilities;
use crate::version::Version;

/// The environment variable that points the fixtures at a PostgreSQL `bin` directory.
pub const PG_BINDIR_ENV: &str = "TSMN_PG_BINDIR";

/// PostgreSQL majors searched, newest first, when [`PG_BINDIR_ENV`] is not set.
const SEARCHED_MAJORS: [u32; 3] = [15, 14, 13];

const OP: &str = "find PostgreSQL server binaries";

/// One PostgreSQL server installation: its binaries, version, and what TimescaleDB it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgInstall {
    bindir: PathBuf,
    version: String,
    major: u32,
    pkglibdir: PathBuf,
    sharedir: PathBuf,
    timescaledb: Option<TimescaleDbFiles>,
}

/// What TimescaleDB files an installation has.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TimescaleDbFiles {
    default_version: String,
    loader: bool,
    tsl: bool,
}

impl PgInstall {
    /// The installation tests use by default.
    ///
    /// - With [`RELEASE_ENV`] and [`SOURCES_ENV`] set: that TimescaleDB release, built from
    ///   the source archives into a private copy of [`PgInstall::discover_binaries`]
    ///   ([`PgInstall::with_timescaledb`]; the first time takes about a minute).
    /// - Otherwise, when the server binaries have TimescaleDB multi-node installed: them.
    /// - Otherwise, with [`SOURCES_ENV`] set: TimescaleDB [`DEFAULT_RELEASE`] built from there.
    /// - Otherwise the binaries as they are (tier 1: plain PostgreSQL).
    ///
    /// # Errors
    ///
    /// [`Error::Fixture`] naming `TSMN_PG_BINDIR` and the Debian package when no server
    /// binaries are found; the build's error when a release must be built and cannot be.
    pub fn discover() -> Result<PgInstall> {
        let base = Self::discover_binaries()?;
        let sources = Self::timescaledb_sources();
        let chosen = std::env::var(RELEASE_ENV).ok().filter(|r| !r.is_empty());
        match (sources, chosen) {
            (Some(sources), Some(release)) => base.with_timescaledb(sources, [release]),
            (None, Some(release)) => Err(fixture(format!(
                "{RELEASE_ENV}={release} asks for a TimescaleDB build, but {SOURCES_ENV} (the \
                 directory of source archives) is not set"
            ))),
            (Some(sources), None) if base.multinode_support().is_err() => {
                base.with_timescaledb(sources, [DEFAULT_RELEASE.to_string()])
            }
            _ => Ok(base),
        }
    }

    /// The server binaries named by `TSMN_PG_BINDIR`, or else the machine's newest
    /// PostgreSQL 13–15 server (Debian layout), with whatever TimescaleDB they have.
    ///
    /// # Errors
    ///
    /// [`Error::Fixture`] naming `TSMN_PG_BINDIR` and the Debian package when no server
    /// binaries are found.
    pub fn discover_binaries() -> Result<PgInstall> {
        let searched = SEARCHED_MAJORS
            .iter()
            .map(|major| PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")));
        Self::discover_in(std::env::var_os(PG_BINDIR_ENV), searched)
    }

    /// The installation a fixture starts servers from: `install` when given, else
    /// [`PgInstall::discover`]; with `release`, that TimescaleDB release built into a private
    /// copy of it. Builds run on a blocking thread.
    pub(crate) async fn resolve(
        install: Option<PgInstall>,
        release: Option<String>,
    ) -> Result<PgInstall> {
        let resolved = tokio::task::spawn_blocking(move || match (install, release) {
            (Some(install), None) => Ok(install),
            (None, None) => PgInstall::discover(),
            (install, Some(release)) => {
                let base = match install {
                    Some(install) => install,
                    None => PgInstall::discover_binaries()?,
                };
                let sources = PgInstall::timescaledb_sources().ok_or_else(|| {
                    fixture(format!(
                        "TimescaleDB {release} was asked for, but {SOURCES_ENV} (the directory \
                         of source archives to build it from) is not set"
                    ))
                })?;
                base.with_timescaledb(sources, [release])
            }
        })
        .await;
        resolved.unwrap_or_else(|e| Err(fixture(format!("the installation task failed: {e}"))))
    }

    /// [`PgInstall::discover`] with the environment value and the searched directories given.
    fn discover_in(
        bindir_env: Option<std::ffi::OsString>,
        searched: impl IntoIterator<Item = PathBuf>,
    ) -> Result<PgInstall> {
        if let Some(dir) = bindir_env.filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir);
            if !has_server_binaries(&dir) {
                return Err(fixture(format!(
                    "{PG_BINDIR_ENV}={} has no initdb, pg_ctl and postgres; point it at a \
                     PostgreSQL server's bin directory, or install the Debian package \
                     postgresql-15",
                    dir.display()
                )));
            }
            return Self::at(&dir);
        }
        for dir in searched {
            if has_server_binaries(&dir) {
                return Self::at(&dir);
            }
        }
        Err(fixture(format!(
            "no PostgreSQL server binaries found: set {PG_BINDIR_ENV} to a directory with \
             initdb, pg_ctl and postgres, or install the Debian package postgresql-15"
        )))
    }

    /// The installation whose `bin` directory is `bindir`.
    pub fn at(bindir: &Path) -> Result<PgInstall> {
        let output = std::process::Command::new(bindir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| fixture(format!("cannot run {}/postgres: {e}", bindir.display())))?;
        // "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let version = text
            .split_whitespace()
            .nth(2)
            .map(str::to_owned)
            .ok_or_else(|| fixture(format!("unexpected `postgres --version` output {text:?}")))?;
        let major = version
            .split(['.', 'b', 'r'])
            .next()
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| fixture(format!("unexpected PostgreSQL version {version:?}")))?;
        let pkglibdir = pg_config(bindir, "--pkglibdir")
            .unwrap_or_else(|| bindir.parent().unwrap_or(bindir).join("lib"));
        let sharedir = pg_config(bindir, "--sharedir")
            .unwrap_or_else(|| PathBuf::from(format!("/usr/share/postgresql/{major}")));
        let timescaledb = TimescaleDbFiles::find(&pkglibdir, &sharedir);
        Ok(PgInstall {
            bindir: bindir.to_owned(),
            version,
            major,
            pkglibdir,
            sharedir,
            timescaledb,
        })
    }

    /// The `bin` directory.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The PostgreSQL version, e.g. `15.20`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The directory server libraries are loaded from (`$libdir`).
    pub fn pkglibdir(&self) -> &Path {
        &self.pkglibdir
    }

    /// The share directory (`extension/` holds the control and SQL files).
    pub fn sharedir(&self) -> &Path {
        &self.sharedir
    }

    /// The PostgreSQL major version.
    pub fn major(&self) -> u32 {
        self.major
    }

    /// The TimescaleDB version the installation would create by default, if it has one.
    pub fn timescaledb_version(&self) -> Option<&str> {
        self.timescaledb
            .as_ref()
            .map(|t| t.default_version.as_str())
    }

    /// Whether TimescaleDB multi-node (2.0–2.13 with its TSL part, on a PostgreSQL major that
    /// version supports) is installed; otherwise why not, in one line.
    pub fn multinode_support(&self) -> std::result::Result<Version, String> {
        let Some(ts) = &self.timescaledb else {
            return Err(format!(
                "TimescaleDB is not installed for PostgreSQL {} (no timescaledb.control in {})",
                self.version,
                self.sharedir.join("extension").display()
            ));
        };
        let version: Version = ts.default_version.parse().map_err(|_| {
            format!(
                "cannot read TimescaleDB version {:?} from timescaledb.control",
                ts.default_version
            )
        })?;
        let Some((min, max)) = Capabilities::of(version).postgres_majors() else {
            return Err(format!(
                "TimescaleDB {version} is installed; multi-node needs 2.0–2.13"
            ));
        };
        if !ts.loader {
            return Err(format!(
                "TimescaleDB {version} has no loader library timescaledb.so in {}",
                self.pkglibdir.display()
            ));
        }
        if !ts.tsl {
            return Err(format!(
                "TimescaleDB {version} is the Apache-only build (no timescaledb-tsl-{version}.so \
                 in {}); multi-node needs the TSL part",
                self.pkglibdir.display()
            ));
        }
        if self.major < min || self.major > max {
            return Err(format!(
                "TimescaleDB {version} has no multi-node on PostgreSQL {} (supported: {min}–{max})",
                self.major
            ));
        }
        Ok(version)
    }

    pub(crate) fn bin(&self, program: &str) -> PathBuf {
        self.bindir.join(program)
    }
}

impl TimescaleDbFiles {
    fn find(pkglibdir: &Path, sharedir: &Path) -> Option<TimescaleDbFiles> {
        let control =
            std::fs::read_to_string(sharedir.join("extension").join("timescaledb.control")).ok()?;
        let default_version = control.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "default_version").then(|| value.trim().trim_matches('\'').to_owned())
        })?;
        Some(TimescaleDbFiles {
            loader: pkglibdir.join("timescaledb.so").exists(),
            tsl: pkglibdir
                .join(format!("timescaledb-tsl-{default_version}.so"))
                .exists(),
            default_version,
        })
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

pub(crate) fn pg_config(bindir: &Path, flag: &str) -> Option<PathBuf> {
    let out = std::process::Command::new(bindir.join("pg_config"))
        .arg(flag)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(text.trim()))
}

fn fixture(reason: String) -> Error {
    Error::Fixture {
        op: OP,
        reason,
        log_tail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_binaries_names_the_variable_and_the_package() {
        let empty = tempfile::tempdir().unwrap();
        let err = PgInstall::discover_in(None, [empty.path().to_owned()]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TSMN_PG_BINDIR"), "{text}");
        assert!(text.contains("postgresql-15"), "{text}");

        let err =
            PgInstall::discover_in(Some(empty.path().as_os_str().to_owned()), []).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TSMN_PG_BINDIR="), "{text}");
        assert!(text.contains("postgresql-15"), "{text}");
    }

    #[test]
    fn reads_timescaledb_files() {
        let lib = tempfile::tempdir().unwrap();
        let share = tempfile::tempdir().unwrap();
        std::fs::create_dir(share.path().join("extension")).unwrap();
        assert_eq!(TimescaleDbFiles::find(lib.path(), share.path()), None);
        std::fs::write(
            share.path().join("extension/timescaledb.control"),
            "comment = 'x'\ndefault_version = '2.13.1'\n",
        )
        .unwrap();
        std::fs::write(lib.path().join("timescaledb.so"), "").unwrap();
        let files = TimescaleDbFiles::find(lib.path(), share.path()).unwrap();
        assert_eq!(files.default_version, "2.13.1");
        assert!(files.loader && !files.tsl);
    }
}
