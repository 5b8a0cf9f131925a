//! The cache directory: `initdb` templates and TimescaleDB builds, reused by later runs.
//!
//! What is in it is run as the database server, so it must not be writable by anyone but
//! the user the fixture runs as (or, when that is root, the OS user the servers run as): a
//! directory that another user made first, or that others may write into, is refused with
//! the reason rather than used.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::os_user::ServerUser;
use crate::error::{Error, Result};

/// The environment variable that moves the cache.
pub const CACHE_DIR_ENV: &str = "TSMN_CACHE_DIR";

const OP: &str = "open the fixture cache";

/// The cache directory, created when missing (owned by the servers' OS user, mode 0755),
/// and checked when it exists.
///
/// # Errors
///
/// [`Error::Fixture`] saying why when it is not a directory, belongs to another user, or
/// may be written by group or others.
pub(crate) fn cache_root(user: &ServerUser) -> Result<PathBuf> {
    let root = match std::env::var_os(CACHE_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join(format!("timescaledb-multinode-{}", user.label())),
    };
    if std::fs::symlink_metadata(&root).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&root)
            .map_err(|e| io(&root, e))?;
        user.own(&root).map_err(|e| io(&root, e))?;
    }
    check_private(&root, &trusted_owners(user))?;
    Ok(root)
}

/// A directory inside the cache, created when missing and checked like the cache itself.
pub(crate) fn cache_subdir(user: &ServerUser, name: &str) -> Result<PathBuf> {
    let dir = cache_root(user)?.join(name);
    if std::fs::symlink_metadata(&dir).is_err() {
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&dir)
            .or_else(|e| {
                // Another process made it first.
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| io(&dir, e))?;
    }
    check_private(&dir, &trusted_owners(user))?;
    Ok(dir)
}

/// The owners a cache directory may have: this process's user and the servers' user.
fn trusted_owners(user: &ServerUser) -> Vec<u32> {
    let mut owners = vec![nix::unistd::geteuid().as_raw()];
    if let Some(uid) = user.uid() {
        owners.push(uid);
    }
    owners
}

/// Refuses `dir` unless it is a real directory (not a symbolic link) owned by one of
/// `owners` that neither group nor others may write.
fn check_private(dir: &Path, owners: &[u32]) -> Result<()> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| io(dir, e))?;
    let refuse = |why: String| {
        Err(Error::Fixture {
            op: OP,
            reason: format!(
                "the cache directory {} {why}; remove it, or set {CACHE_DIR_ENV} to a \
                 directory of your own",
                dir.display()
            ),
            log_tail: None,
        })
    };
    if !meta.file_type().is_dir() {
        return refuse("is not a directory (a symbolic link or a file is not followed)".into());
    }
    if !owners.contains(&meta.uid()) {
        return refuse(format!(
            "belongs to uid {}, not to this user (uid {}): another user could have put \
             programs there for the servers to run",
            meta.uid(),
            owners[0]
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!(
            "may be written by group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
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
    use std::os::unix::fs::PermissionsExt;

    fn me() -> Vec<u32> {
        vec![nix::unistd::geteuid().as_raw()]
    }

    #[test]
    fn accepts_a_private_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        check_private(dir.path(), &me()).unwrap();
    }

    #[test]
    fn refuses_a_directory_others_may_write() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_private(dir.path(), &me()).unwrap_err();
        assert!(err.to_string().contains("group or others"), "{err}");
        assert!(err.to_string().contains(CACHE_DIR_ENV), "{err}");
    }

    #[test]
    fn refuses_another_users_directory_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let someone_else = me()[0].wrapping_add(4242);
        let err = check_private(dir.path(), &[someone_else]).unwrap_err();
        assert!(err.to_string().contains("belongs to uid"), "{err}");

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let err = check_private(&link, &me()).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
