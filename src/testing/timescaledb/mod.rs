//! Private TimescaleDB installations, built from the published source archives.
//!
//! No package registry ships TimescaleDB 2.13 (the last release with multi-node), so the
//! fixture builds it: given a directory of source archives (`timescaledb-<release>.tar.gz`
//! with a `SHA256SUMS` file, pointed at by [`SOURCES_ENV`]), [`PgInstall::with_timescaledb`]
//! checks the archive's checksum, builds the release with its TSL part against the
//! installation's server headers, and lays out a private copy of the installation whose
//! `$libdir` and share directory hold that release's files, its own loader among them.
//! Everything lives in the cache directory ([`super::CACHE_DIR_ENV`]) and is reused by later
//! runs: a release builds once (about a minute on two cores), an installation is assembled
//! once (a fraction of a second).
//!
//! Builds and assemblies run under a lock file in the cache, each in a directory of its own
//! that is renamed into place when complete: two test processes never build the same thing
//! at once, and a build that failed or was killed halfway is never used.

mod archive;
mod assemble;
mod build;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg};

use super::cache::cache_subdir;
use super::install::PgInstall;
use super::os_user::ServerUser;
use super::template::hash;
use crate::error::{Error, Result};
use crate::version::Version;

/// The environment variable naming the directory of TimescaleDB source archives
/// (`timescaledb-<release>.tar.gz` and `SHA256SUMS`).
pub const SOURCES_ENV: &str = "TSMN_TIMESCALEDB_SOURCES";

/// The environment variable choosing the release [`PgInstall::discover`] builds (default
/// [`DEFAULT_RELEASE`]).
pub const RELEASE_ENV: &str = "TSMN_TIMESCALEDB_RELEASE";

/// The release built when none is chosen: the last with multi-node.
pub const DEFAULT_RELEASE: Version = Version::new(2, 13, 1);

const OP: &str = "build TimescaleDB";

impl PgInstall {
    /// The directory of TimescaleDB source archives named by [`SOURCES_ENV`], if set.
    pub fn timescaledb_sources() -> Option<PathBuf> {
        std::env::var_os(SOURCES_ENV)
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
    }

    /// A private copy of this installation with TimescaleDB `releases` built from the source
    /// archives in `sources` (each checked against `sources/SHA256SUMS`), cached and reused.
    ///
    /// The newest of `releases` provides the loader (`timescaledb.so`) and the default
    /// version; the others can be created with `CREATE EXTENSION timescaledb VERSION '...'`
    /// and updated from (2.9.3 to 2.13.1 run under 2.13.1's loader; 2.14 needs its own).
    /// The first call for a release builds it, which takes about a minute and blocks the
    /// calling thread (from async code, call it through `tokio::task::spawn_blocking`).
    ///
    /// ```no_run
    /// # fn demo() -> timescaledb_multinode::Result<()> {
    /// use timescaledb_multinode::testing::{LocalCluster, PgInstall};
    ///
    /// let install = PgInstall::discover_binaries()?
    ///     .with_timescaledb("/srv/timescaledb-archives", ["2.11.2", "2.13.1"])?;
    /// assert_eq!(install.timescaledb_version(), Some("2.13.1"));
    /// let cluster = LocalCluster::builder().install(install);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Fixture`] saying what to install or set: a release that is not a version, a
    /// missing archive or checksum, a checksum mismatch, missing build tools (`cmake`,
    /// `make`, a C compiler, the server headers: Debian packages
    /// `postgresql-server-dev-<major> cmake gcc make libssl-dev libkrb5-dev`), or a failed
    /// build with the end of its log.
    pub fn with_timescaledb<I, S>(
        &self,
        sources: impl AsRef<Path>,
        releases: I,
    ) -> Result<PgInstall>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut wanted = Vec::new();
        for release in releases {
            let text = release.as_ref();
            let version: Version = text.parse().map_err(|_| {
                fixture(format!(
                    "{text:?} is not a TimescaleDB release (expected one like 2.13.1)"
                ))
            })?;
            wanted.push(version);
        }
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Err(fixture("no TimescaleDB release was given".to_owned()));
        }
        let user = ServerUser::detect()?;
        let cache = cache_subdir(&user, "timescaledb")?;

        // One builder at a time: threads of this process, then other processes.
        static IN_PROCESS: Mutex<()> = Mutex::new(());
        let _thread = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let lock_path = cache.join("lock");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        let _process = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, e)| fixture(format!("cannot lock {}: {e}", lock_path.display())))?;

        remove_abandoned(&cache);

        // The archives named, with the checksums SHA256SUMS gives them: part of every
        // cache key, so a different archive is never mistaken for a cached build.
        let archives = wanted
            .iter()
            .map(|release| archive::locate(sources.as_ref(), *release))
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<String> = wanted.iter().map(Version::to_string).collect();
        let ready = cache.join(format!(
            "install-pg{}-{}-{}",
            self.version(),
            install_hash(self, &archives),
            names.join("+")
        ));
        let layout = assemble::Layout::of(self);
        if !ready.is_dir() {
            let mut staged = Vec::new();
            for (release, archive) in wanted.iter().zip(&archives) {
                staged.push(build::staged(self, archive, *release, &cache)?);
            }
            let building = cache.join(format!(
                "{}.tmp-{}",
                ready.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&building);
            if let Err(e) = assemble::assemble(&layout, &staged, &building) {
                let _ = std::fs::remove_dir_all(&building);
                return Err(e);
            }
            std::fs::rename(&building, &ready).map_err(|e| io(&ready, e))?;
        } else {
            assemble::link_added(&layout, &ready)?;
        }
        if let Some(localedir) = super::install::pg_config(self.bindir(), "--localedir") {
            assemble::link_messages(&layout, &localedir, &ready)?;
        }
        PgInstall::at(&layout.under(&ready).bindir)
    }
}

/// Removes what builds and assemblies that died halfway left behind: with the lock held,
/// no other builder is at work, so every work or temporary directory is abandoned.
fn remove_abandoned(cache: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".work-") || name.contains(".tmp-") {
            tracing::debug!(dir = %entry.path().display(), "removing an abandoned build");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Keeps builds apart: the binaries' directory and version, and the archives' checksums.
pub(crate) fn install_hash(install: &PgInstall, archives: &[archive::Archive]) -> String {
    let mut key = format!("{}\0{}", install.bindir().display(), install.version());
    for archive in archives {
        key.push('\0');
        key.push_str(&archive.sha256);
    }
    hash(key.as_bytes())
}

fn io(path: &Path, e: std::io::Error) -> Error {
    fixture(format!("{}: {e}", path.display()))
}

fn fixture(reason: String) -> Error {
    Error::Fixture {
        op: OP,
        reason,
        log_tail: None,
    }
}

fn fixture_with_log(reason: String, log_tail: String) -> Error {
    Error::Fixture {
        op: OP,
        reason,
        log_tail: Some(log_tail),
    }
}
