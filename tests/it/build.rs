//! The fixture's TimescaleDB builder: archives checked before anything is built, clear
//! errors, and a cache that survives a builder killed halfway and two builders at once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use timescaledb_multinode::testing::PgInstall;
use timescaledb_multinode::Version;

use crate::common::{example_binary, matrix};

#[test]
fn a_damaged_archive_is_refused_before_anything_is_built() {
    let sources = tempfile::tempdir().unwrap();
    std::fs::write(
        sources.path().join("timescaledb-2.13.1.tar.gz"),
        b"not the published archive",
    )
    .unwrap();
    std::fs::write(
        sources.path().join("SHA256SUMS"),
        format!("{}  timescaledb-2.13.1.tar.gz\n", "ab".repeat(32)),
    )
    .unwrap();
    let base = PgInstall::discover_binaries().unwrap();
    let err = base
        .with_timescaledb(sources.path(), ["2.13.1"])
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("checksum mismatch"), "{text}");
    assert!(text.contains("timescaledb-2.13.1.tar.gz"), "{text}");

    let err = base
        .with_timescaledb(sources.path(), ["2.12.0"])
        .unwrap_err();
    assert!(
        err.to_string().contains("has no timescaledb-2.12.0.tar.gz"),
        "{err}"
    );
    let err = base
        .with_timescaledb(sources.path(), ["2.13.1; rm -rf /"])
        .unwrap_err();
    assert!(
        err.to_string().contains("is not a TimescaleDB release"),
        "{err}"
    );
    let err = base
        .with_timescaledb(sources.path(), Vec::<String>::new())
        .unwrap_err();
    assert!(err.to_string().contains("no TimescaleDB release"), "{err}");
}

/// Runs the `build_timescaledb` example for `release` with its own cache directory.
fn builder(cache: &Path, sources: &Path, release: &str) -> Command {
    let mut cmd = Command::new(example_binary("build_timescaledb"));
    cmd.arg(sources)
        .arg(release)
        .env("TSMN_CACHE_DIR", cache)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn a_killed_build_is_never_used_and_two_builders_share_one_build() {
    let Some(sources) = matrix() else { return };
    let cache = tempfile::tempdir().unwrap();
    let cache_path = cache.path().to_owned();
    let builds = cache_path.join("timescaledb");

    // A builder killed halfway through compiling (its whole process group: make and the
    // compilers too).
    let mut killed = {
        use std::os::unix::process::CommandExt;
        let mut cmd = builder(&cache_path, &sources, "2.13.1");
        cmd.process_group(0);
        cmd.spawn().unwrap()
    };
    let started = Instant::now();
    let compiling = || {
        std::fs::read_dir(&builds).ok().is_some_and(|entries| {
            entries.flatten().any(|e| {
                let log = e.path().join("build.log");
                std::fs::read_to_string(log).is_ok_and(|t| t.contains("Building C object"))
            })
        })
    };
    while !compiling() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the first builder never started compiling"
        );
        assert!(
            killed.try_wait().unwrap().is_none(),
            "the first builder ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let group = format!("-{}", killed.id());
    let status = Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .unwrap();
    assert!(status.success());
    killed.wait().unwrap();
    let finished: Vec<String> = std::fs::read_dir(&builds)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("release-") && !name.contains(".work-"))
        .collect();
    assert!(
        finished.is_empty(),
        "a killed build was put in place: {finished:?}"
    );

    // Two builders at once: one builds, the other waits and reuses it.
    let first = builder(&cache_path, &sources, "2.13.1").spawn().unwrap();
    let second = builder(&cache_path, &sources, "2.13.1").spawn().unwrap();
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let mut bindirs = Vec::new();
    let mut builds_run = 0;
    for out in &outputs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        builds_run += stderr.matches("building TimescaleDB 2.13.1").count();
        let bindir = stdout
            .lines()
            .find_map(|l| l.strip_prefix("TSMN_PG_BINDIR="))
            .unwrap_or_else(|| panic!("no TSMN_PG_BINDIR line in {stdout}"))
            .to_owned();
        bindirs.push(bindir);
    }
    assert_eq!(builds_run, 1, "built once, reused once");
    assert_eq!(bindirs[0], bindirs[1]);
    let install = PgInstall::at(Path::new(&bindirs[0])).unwrap();
    assert_eq!(
        install.multinode_support(),
        Ok(Version::new(2, 13, 1)),
        "{install:?}"
    );
    // Nothing the killed builder left behind survives.
    let leftovers: Vec<String> = std::fs::read_dir(&builds)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".work-") || name.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_cache_directory_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let sources = tempfile::tempdir().unwrap();
    let out = builder(open.path(), sources.path(), "2.13.1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("may be written by group or others"),
        "{stderr}"
    );
    assert!(stderr.contains("TSMN_CACHE_DIR"), "{stderr}");
    // Nothing was put there.
    assert_eq!(std::fs::read_dir(open.path()).unwrap().count(), 0);
}
