//! Building one TimescaleDB release (with its TSL part) from its source archive against a
//! PostgreSQL installation's server headers, staged in the cache: the versioned libraries,
//! the loader, the control file and the SQL scripts, nothing else.
//!
//! The build runs in a directory of its own and its result is renamed into place when
//! complete, so a build that failed or was killed halfway is never used; the caller holds
//! the cache lock, so two processes never build the same release at once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::archive::Archive;
use super::{fixture, fixture_with_log};
use crate::error::Result;
use crate::testing::install::PgInstall;
use crate::testing::os_user::tail;
use crate::version::Version;

/// CMake options: no regression or TAP tests, no linter, warnings stay warnings.
const CMAKE_OPTIONS: [&str; 7] = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DREGRESS_CHECKS=OFF",
    "-DTAP_CHECKS=OFF",
    "-DWARNINGS_AS_ERRORS=OFF",
    "-DLINTER=OFF",
    "-DGENERATE_DOWNGRADE_SCRIPT=OFF",
    "-DSEND_TELEMETRY_DEFAULT=OFF",
];

/// The Debian packages a build needs, named in errors.
pub(crate) fn build_packages(major: u32) -> String {
    format!("postgresql-server-dev-{major} cmake gcc make libssl-dev libkrb5-dev")
}

/// Lines of the build log attached to a failure.
const LOG_TAIL_LINES: usize = 40;

/// The staged files of `release` built for `base`: `lib/` (for `$libdir`) and `extension/`
/// (for `$sharedir/extension`). Builds it when the cache does not have it yet.
pub(crate) fn staged(
    base: &PgInstall,
    archive: &Archive,
    release: Version,
    cache: &Path,
) -> Result<PathBuf> {
    let ready = cache.join(format!(
        "release-{release}-pg{}-{}",
        base.version(),
        super::install_hash(base, std::slice::from_ref(archive))
    ));
    if ready.is_dir() {
        return Ok(ready);
    }
    archive.verify()?;
    let pg_config = build_tools(base)?;
    {
        // A minute of silence in a test run deserves a line.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "timescaledb-multinode: building TimescaleDB {release} for PostgreSQL {} from {} \
             (once; cached in {})",
            base.version(),
            archive.path.display(),
            cache.display()
        );
    }

    let work = cache.join(format!(
        "{}.work-{}",
        ready.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| io(&work, e))?;
    let log_path = work.join("build.log");
    let result = build(base, &pg_config, &archive.path, release, &work, &log_path);
    match result {
        Ok(out) => {
            std::fs::rename(&out, &ready).map_err(|e| io(&ready, e))?;
            let _ = std::fs::remove_dir_all(&work);
            tracing::info!(%release, dir = %ready.display(), "built TimescaleDB");
            Ok(ready)
        }
        Err(e) => {
            // Keep the whole log beside the cache for a closer look; drop the rest.
            let kept = cache.join(format!("release-{release}.failed.log"));
            let _ = std::fs::copy(&log_path, &kept);
            let _ = std::fs::remove_dir_all(&work);
            Err(e)
        }
    }
}

fn build(
    base: &PgInstall,
    pg_config: &Path,
    archive: &Path,
    release: Version,
    work: &Path,
    log_path: &Path,
) -> Result<PathBuf> {
    let log = File::create(log_path).map_err(|e| io(log_path, e))?;
    let step = |what: &str, cmd: &mut Command| -> Result<()> {
        let out = log.try_clone().map_err(|e| io(log_path, e))?;
        let err = log.try_clone().map_err(|e| io(log_path, e))?;
        let status = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .status()
            .map_err(|e| fixture(format!("{what}: cannot start {:?}: {e}", cmd.get_program())))?;
        if status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        // A full disk fails the build as a missing tool would; say which it was.
        let cause = if text.contains("No space left on device") {
            format!("the disk under {} is full", work.display())
        } else {
            format!(
                "the build needs the Debian packages {}",
                build_packages(base.major())
            )
        };
        Err(fixture_with_log(
            format!("{what} of TimescaleDB {release} failed ({status}); {cause}"),
            tail(&text, LOG_TAIL_LINES),
        ))
    };

    step(
        "unpacking the source archive",
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(work),
    )?;
    let src = work.join(format!("timescaledb-{release}"));
    if !src.join("CMakeLists.txt").is_file() {
        return Err(fixture(format!(
            "{} does not unpack to timescaledb-{release}/ with a CMakeLists.txt; is it the \
             published source archive?",
            archive.display()
        )));
    }
    let build_dir = src.join("build");
    step(
        "configuring (cmake)",
        Command::new("cmake")
            .arg("-S")
            .arg(&src)
            .arg("-B")
            .arg(&build_dir)
            .arg(format!("-DPG_CONFIG={}", pg_config.display()))
            .args(CMAKE_OPTIONS),
    )?;
    let jobs = std::thread::available_parallelism().map_or(2, usize::from);
    step(
        "compiling",
        Command::new("make")
            .arg("-C")
            .arg(&build_dir)
            .arg(format!("-j{jobs}")),
    )?;
    let destdir = work.join("destdir");
    step(
        "installing into the staging directory",
        Command::new("make")
            .arg("-C")
            .arg(&build_dir)
            .arg("install")
            .arg(format!("DESTDIR={}", destdir.display())),
    )?;

    let out = work.join("out");
    let staged_lib = destdir.join(relative(base.pkglibdir()));
    let staged_ext = destdir.join(relative(base.sharedir())).join("extension");
    copy_timescaledb_files(&staged_lib, &out.join("lib"))?;
    copy_timescaledb_files(&staged_ext, &out.join("extension"))?;
    for needed in [
        format!("lib/timescaledb-{release}.so"),
        format!("lib/timescaledb-tsl-{release}.so"),
        "lib/timescaledb.so".to_owned(),
        "extension/timescaledb.control".to_owned(),
        format!("extension/timescaledb--{release}.sql"),
    ] {
        if !out.join(&needed).is_file() {
            return Err(fixture(format!(
                "the build of TimescaleDB {release} did not install {needed}"
            )));
        }
    }
    Ok(out)
}

/// The `pg_config` to build with, once `cmake`, `make`, a C compiler and the server headers
/// are known to be there.
fn build_tools(base: &PgInstall) -> Result<PathBuf> {
    let major = base.major();
    let path = std::env::var_os("PATH").unwrap_or_default();
    missing_tools(&path, &["cmake", "make", "cc", "tar"]).map_or(Ok(()), |missing| {
        Err(fixture(format!(
            "cannot build TimescaleDB: {missing} not found on PATH; install the Debian \
             packages {}",
            build_packages(major)
        )))
    })?;
    let pg_config = base.bindir().join("pg_config");
    let headers = Command::new(&pg_config)
        .arg("--includedir-server")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match headers {
        Some(dir) if dir.join("postgres.h").is_file() => Ok(pg_config),
        _ => Err(fixture(format!(
            "cannot build TimescaleDB: the PostgreSQL {major} server headers are missing (no \
             {} with --includedir-server pointing at postgres.h); install the Debian package \
             postgresql-server-dev-{major} (build dependencies: {})",
            pg_config.display(),
            build_packages(major)
        ))),
    }
}

/// The first of `tools` found in none of `path`'s directories, if any.
fn missing_tools(path: &std::ffi::OsStr, tools: &[&'static str]) -> Option<&'static str> {
    tools.iter().copied().find(|tool| {
        !std::env::split_paths(path).any(|dir| {
            let candidate = dir.join(tool);
            candidate.is_file()
                && std::fs::metadata(&candidate)
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
                    .unwrap_or(false)
        })
    })
}

/// Copies every `timescaledb*` file of `from` into `to` (created).
fn copy_timescaledb_files(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| io(to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io(from, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("timescaledb") {
            let target = to.join(&name);
            std::fs::copy(entry.path(), &target).map_err(|e| io(&target, e))?;
        }
    }
    Ok(())
}

/// `path` without its root, to join under a staging directory.
fn relative(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

fn io(path: &Path, e: std::io::Error) -> crate::error::Error {
    fixture(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_missing_tool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().as_os_str();
        assert_eq!(missing_tools(path, &["cmake", "make"]), Some("cmake"));
        let cmake = dir.path().join("cmake");
        std::fs::write(&cmake, "#!/bin/sh\n").unwrap();
        // Present but not executable: still missing.
        assert_eq!(missing_tools(path, &["cmake", "make"]), Some("cmake"));
        std::fs::set_permissions(&cmake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(missing_tools(path, &["cmake", "make"]), Some("make"));
        assert_eq!(missing_tools(path, &["cmake"]), None);
    }

    #[test]
    fn build_packages_name_the_server_headers() {
        assert!(build_packages(15).starts_with("postgresql-server-dev-15 cmake"));
    }
}
