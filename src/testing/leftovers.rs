//! Servers and data directories that a killed earlier run left behind.
//!
//! Every server's directory (in the scratch directory, named `tsmn-<name>-...`) holds a file
//! naming the process that owns it: its process id and start time. A run killed before it
//! could shut its servers down leaves them running and their directories in place; the next
//! run finds them (at its first server start, or through
//! [`LocalServer::remove_leftovers`](super::LocalServer::remove_leftovers)), stops each
//! server whose owner is gone and removes its directory. Servers of runs still alive, and
//! directories kept on purpose (a failing test's, or asked for), are never touched.

use std::path::Path;
use std::time::Duration;

use super::os_user::ServerUser;
use crate::error::{Error, Result};

/// The file in a server's directory that names its owner.
pub(crate) const OWNER_FILE: &str = "owner";
/// The file in a server's directory that keeps it (a failing test's server, or one asked to
/// be kept): never removed here.
pub(crate) const KEPT_FILE: &str = "kept";
/// The prefix of a server's directory name.
pub(crate) const DIR_PREFIX: &str = "tsmn-";
/// A directory without an owner file younger than this may still be being set up.
const SETUP_GRACE: Duration = Duration::from_secs(120);

const OP: &str = "remove leftover servers";

/// Writes the owner file of a server directory: this process.
pub(crate) fn claim(dir: &Path, user: &ServerUser) -> Result<()> {
    let me = std::process::id();
    let started = start_time(me).unwrap_or_default();
    let path = dir.join(OWNER_FILE);
    std::fs::write(&path, format!("{me} {started}\n")).map_err(|e| io(&path, e))?;
    user.own(&path).map_err(|e| io(&path, e))
}

/// Stops the servers and removes the directories in `scratch` whose owner process is gone;
/// returns how many directories were removed.
pub(crate) fn remove(scratch: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(scratch) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(scratch, e)),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir
            || !name.starts_with(DIR_PREFIX)
            || dir.join(KEPT_FILE).exists()
            || !abandoned(&dir)
        {
            continue;
        }
        stop_server(&dir.join("data"));
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                tracing::info!(dir = %dir.display(), "removed a server left by a killed run");
                removed += 1;
            }
            // Not ours to remove (another user's run): leave it.
            Err(e) => tracing::debug!(dir = %dir.display(), error = %e, "cannot remove"),
        }
    }
    Ok(removed)
}

/// Whether the process that owns `dir` is gone.
fn abandoned(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(OWNER_FILE)) else {
        // No owner file: being set up right now, or older than owner files.
        let age = std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        return age.is_some_and(|age| age > SETUP_GRACE);
    };
    let mut parts = text.split_whitespace();
    let (Some(Ok(pid)), Some(Ok(started))) = (
        parts.next().map(str::parse::<u32>),
        parts.next().map(str::parse::<u64>),
    ) else {
        return false;
    };
    // Gone, or the id now belongs to another process.
    start_time(pid) != Some(started)
}

/// Stops the server whose data directory is `data`, if one runs there: an immediate
/// shutdown of its postmaster, then a kill if it does not end.
fn stop_server(data: &Path) {
    let Ok(text) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return;
    };
    let Some(Ok(pid)) = text.lines().next().map(|l| l.trim().parse::<i32>()) else {
        return;
    };
    // Only the postmaster of this data directory, not a process that reused its id.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let data_dir = data.to_string_lossy();
    if !String::from_utf8_lossy(&cmdline).contains(data_dir.as_ref()) {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
    for _ in 0..100 {
        if nix::sys::signal::kill(pid, None).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
}

/// The start time of process `pid` (clock ticks since boot, from `/proc/<pid>/stat`).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (2nd field) is in parentheses and may hold spaces: count after it.
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields from the 3rd on; the start time is the 22nd.
    after.split_whitespace().nth(19)?.parse().ok()
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Fixture {
        op: OP,
        reason: format!("{}: {e}", path.display()),
        log_tail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_start_time() {
        let me = start_time(std::process::id()).unwrap();
        assert!(me > 0);
        assert_eq!(start_time(std::process::id()), Some(me));
    }

    #[test]
    fn a_live_owner_keeps_its_directory_and_a_gone_one_does_not() {
        let scratch = tempfile::tempdir().unwrap();
        let user = ServerUser::detect().unwrap();
        let mine = scratch.path().join("tsmn-mine-1");
        std::fs::create_dir(&mine).unwrap();
        claim(&mine, &user).unwrap();

        // An owner that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let stale = scratch.path().join("tsmn-stale-1");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join(OWNER_FILE), format!("{gone} 1\n")).unwrap();
        // Kept on purpose (a failing test's server): never touched.
        let kept = scratch.path().join("tsmn-kept-1");
        std::fs::create_dir(&kept).unwrap();
        std::fs::write(kept.join(OWNER_FILE), format!("{gone} 1\n")).unwrap();
        std::fs::write(kept.join(KEPT_FILE), "a failing test").unwrap();
        // Someone else's name pattern: never touched.
        let other = scratch.path().join("other-dir");
        std::fs::create_dir(&other).unwrap();

        assert_eq!(remove(scratch.path()).unwrap(), 1);
        assert!(mine.exists() && other.exists() && kept.exists() && !stale.exists());
    }
}
