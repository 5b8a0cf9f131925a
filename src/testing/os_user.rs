//! Which OS user runs the servers: the current one, or `postgres` when the process is root
//! (`initdb` and `postgres` refuse to run as root).

use std::path::Path;

use nix::unistd::{Gid, Uid, User};

use crate::error::{Error, Result};

/// The OS user the server processes run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerUser {
    /// `Some` when switching from root to another user.
    switch_to: Option<(Uid, Gid)>,
}

impl ServerUser {
    /// The current user, or `postgres` when running as root.
    pub(crate) fn detect() -> Result<ServerUser> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(ServerUser { switch_to: None });
        }
        match User::from_name("postgres") {
            Ok(Some(user)) => Ok(ServerUser {
                switch_to: Some((user.uid, user.gid)),
            }),
            _ => Err(Error::Fixture {
                op: "choose the server's OS user",
                reason: "running as root, and there is no `postgres` OS user to run the server \
                         as (PostgreSQL refuses to run as root); install the Debian package \
                         postgresql-15, which creates it, or run as an ordinary user"
                    .to_owned(),
                log_tail: None,
            }),
        }
    }

    /// A command for `program` that runs as this user in `cwd`.
    pub(crate) fn command(&self, program: &Path, cwd: &Path) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.current_dir(cwd).kill_on_drop(true);
        if let Some((uid, gid)) = self.switch_to {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    /// The same as [`ServerUser::command`], blocking (for `Drop`).
    pub(crate) fn std_command(&self, program: &Path, cwd: &Path) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(program);
        cmd.current_dir(cwd);
        if let Some((uid, gid)) = self.switch_to {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    /// Gives `path` to this user (a no-op when not switching users).
    pub(crate) fn own(&self, path: &Path) -> std::io::Result<()> {
        match self.switch_to {
            Some((uid, gid)) => {
                std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw()))
            }
            None => Ok(()),
        }
    }

    /// The uid the process switches to for the servers, if it switches.
    pub(crate) fn uid(&self) -> Option<u32> {
        self.switch_to.map(|(uid, _)| uid.as_raw())
    }

    /// A short label for cache keys: the uid the servers run as.
    pub(crate) fn label(&self) -> String {
        match self.switch_to {
            Some((uid, _)) => uid.to_string(),
            None => nix::unistd::geteuid().to_string(),
        }
    }
}

/// Runs `cmd` to completion; a non-zero exit becomes [`Error::Fixture`] for `op`, carrying
/// the end of what the program printed.
pub(crate) async fn run(cmd: &mut tokio::process::Command, op: &'static str) -> Result<String> {
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Fixture {
            op,
            reason: format!("cannot start {:?}: {e}", cmd.as_std().get_program()),
            log_tail: None,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(Error::Fixture {
        op,
        reason: format!(
            "{:?} exited with {}",
            cmd.as_std().get_program(),
            output.status
        ),
        log_tail: Some(tail(&format!("{stdout}{stderr}"), 20)),
    })
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
