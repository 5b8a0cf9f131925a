//! A private PostgreSQL installation: a copy of the server's `bin` directory beside its own
//! `lib` and `share` directories, so that the TimescaleDB files there (loader included)
//! are the ones the server loads.
//!
//! PostgreSQL finds `$libdir` and its share directory relative to the running binary
//! (`make_relative_path`): a binary copied to `<root>/lib/postgresql/15/bin` reads
//! `<root>/lib/postgresql/15/lib` and `<root>/share/postgresql/15`. So the installation
//! mirrors the original layout under a root of its own: the binaries are copied (a
//! symbolic link would resolve back to the original), every other file of the original is
//! a symbolic link, and the original's own TimescaleDB files, if any, are left out.

use std::path::{Path, PathBuf};

use super::fixture;
use crate::error::Result;
use crate::testing::install::PgInstall;

/// Directories of one installation, as `pg_config` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) bindir: PathBuf,
    pub(crate) pkglibdir: PathBuf,
    pub(crate) sharedir: PathBuf,
}

impl Layout {
    pub(crate) fn of(install: &PgInstall) -> Layout {
        Layout {
            bindir: install.bindir().to_owned(),
            pkglibdir: install.pkglibdir().to_owned(),
            sharedir: install.sharedir().to_owned(),
        }
    }

    /// The same layout moved under `root`: each directory keeps its path below the three
    /// directories' common ancestor.
    pub(crate) fn under(&self, root: &Path) -> Layout {
        let common = common_ancestor(&[&self.bindir, &self.pkglibdir, &self.sharedir]);
        let moved = |dir: &Path| root.join(dir.strip_prefix(&common).unwrap_or(dir));
        Layout {
            bindir: moved(&self.bindir),
            pkglibdir: moved(&self.pkglibdir),
            sharedir: moved(&self.sharedir),
        }
    }
}

/// Fills `root` with a private installation of the installation laid out as `from`, whose
/// TimescaleDB files are those of `releases` (staged directories, oldest first: a newer
/// release's file wins, so the newest decides the loader and the default version).
/// Returns its layout.
pub(crate) fn assemble(from: &Layout, releases: &[PathBuf], root: &Path) -> Result<Layout> {
    let to = from.under(root);
    for dir in [&to.bindir, &to.pkglibdir, &to.sharedir.join("extension")] {
        create_dir(dir)?;
    }
    copy_binaries(&from.bindir, &to.bindir)?;
    link_entries(&from.sharedir, &to.sharedir, |name| name != "extension")?;
    link_added(from, root)?;
    for staged in releases {
        copy_files(&staged.join("lib"), &to.pkglibdir)?;
        copy_files(&staged.join("extension"), &to.sharedir.join("extension"))?;
    }
    Ok(to)
}

/// Links the original installation's message catalogs (`localedir`, `pg_config
/// --localedir`) into the installation under `root`, where its server looks for them
/// (relative to its binary, as for the share directory): without them a server whose
/// `lc_messages` names another language speaks English. Idempotent, so that installations
/// assembled before it was done get the link too; nothing when the catalogs lie outside the
/// original's tree.
pub(crate) fn link_messages(from: &Layout, localedir: &Path, root: &Path) -> Result<()> {
    let common = common_ancestor(&[&from.bindir, &from.pkglibdir, &from.sharedir]);
    let Ok(below) = localedir.strip_prefix(&common) else {
        return Ok(());
    };
    let target = root.join(below);
    if target.symlink_metadata().is_ok() || !localedir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        create_dir(parent)?;
    }
    match std::os::unix::fs::symlink(localedir, &target) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io(&target, e)),
        _ => Ok(()),
    }
}

/// Links the libraries and extensions of the original installation `from` (TimescaleDB's
/// excepted) into the installation under `root`, where it lacks them: at assembly, and
/// again on later use for what the system got since (a library installed later, `pgaudit`
/// say). Idempotent; what is there stays (TimescaleDB's files above all).
pub(crate) fn link_added(from: &Layout, root: &Path) -> Result<()> {
    let to = from.under(root);
    link_entries(&from.pkglibdir, &to.pkglibdir, |name| {
        !name.starts_with("timescaledb")
    })?;
    link_entries(
        &from.sharedir.join("extension"),
        &to.sharedir.join("extension"),
        |name| !name.starts_with("timescaledb"),
    )
}

/// Links every entry of `from` that `keep` accepts and `to` lacks into `to`.
fn link_entries(from: &Path, to: &Path, keep: impl Fn(&str) -> bool) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let name = entry.file_name();
        let target = to.join(&name);
        if !keep(&name.to_string_lossy()) || target.symlink_metadata().is_ok() {
            continue;
        }
        match std::os::unix::fs::symlink(entry.path(), &target) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(io(&target, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Copies the programs of `from` into `to`; relative symbolic links (`postmaster ->
/// postgres`) stay links, others are copied as the file they point to.
fn copy_binaries(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().map_err(|e| io(&source, e))?;
        if file_type.is_symlink() {
            let link = std::fs::read_link(&source).map_err(|e| io(&source, e))?;
            if link.is_relative() {
                replace(&target)?;
                std::os::unix::fs::symlink(&link, &target).map_err(|e| io(&target, e))?;
                continue;
            }
        } else if !file_type.is_file() {
            continue;
        }
        replace(&target)?;
        std::fs::copy(&source, &target).map_err(|e| io(&target, e))?;
    }
    Ok(())
}

/// Copies every file of `from` into `to`, replacing what is there.
fn copy_files(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let target = to.join(entry.file_name());
        replace(&target)?;
        std::fs::copy(entry.path(), &target).map_err(|e| io(&target, e))?;
    }
    Ok(())
}

/// Removes a file or link at `path`, if there is one.
fn replace(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path, e)),
        _ => Ok(()),
    }
}

/// Creates `dir` and its parents, readable by every user (the server may run as another).
fn create_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| io(dir, e))
}

/// The longest path that is an ancestor of (or equal to) every one of `paths`.
fn common_ancestor(paths: &[&Path]) -> PathBuf {
    let mut common: Vec<std::path::Component<'_>> = paths
        .first()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for path in &paths[1..] {
        let same = common
            .iter()
            .zip(path.components())
            .take_while(|(a, b)| *a == b)
            .count();
        common.truncate(same);
    }
    common.iter().collect()
}

fn io(path: &Path, e: std::io::Error) -> crate::error::Error {
    fixture(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_the_debian_layout_under_a_root() {
        let debian = Layout {
            bindir: "/usr/lib/postgresql/15/bin".into(),
            pkglibdir: "/usr/lib/postgresql/15/lib".into(),
            sharedir: "/usr/share/postgresql/15".into(),
        };
        let moved = debian.under(Path::new("/cache/install"));
        assert_eq!(
            moved.bindir,
            Path::new("/cache/install/lib/postgresql/15/bin")
        );
        assert_eq!(
            moved.pkglibdir,
            Path::new("/cache/install/lib/postgresql/15/lib")
        );
        assert_eq!(
            moved.sharedir,
            Path::new("/cache/install/share/postgresql/15")
        );
    }

    #[test]
    fn moves_a_source_build_layout_under_a_root() {
        let built = Layout {
            bindir: "/opt/pg/bin".into(),
            pkglibdir: "/opt/pg/lib/postgresql".into(),
            sharedir: "/opt/pg/share/postgresql".into(),
        };
        let moved = built.under(Path::new("/r"));
        assert_eq!(moved.bindir, Path::new("/r/bin"));
        assert_eq!(moved.pkglibdir, Path::new("/r/lib/postgresql"));
        assert_eq!(moved.sharedir, Path::new("/r/share/postgresql"));
    }

    #[test]
    fn newest_release_files_win_and_originals_are_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("usr");
        let layout = Layout {
            bindir: base.join("lib/pg/bin"),
            pkglibdir: base.join("lib/pg/lib"),
            sharedir: base.join("share/pg"),
        };
        for dir in [
            &layout.bindir,
            &layout.pkglibdir,
            &layout.sharedir.join("extension"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(layout.bindir.join("postgres"), "binary").unwrap();
        std::os::unix::fs::symlink("postgres", layout.bindir.join("postmaster")).unwrap();
        std::fs::write(layout.pkglibdir.join("plpgsql.so"), "").unwrap();
        std::fs::write(layout.pkglibdir.join("timescaledb.so"), "system loader").unwrap();
        std::fs::write(layout.sharedir.join("postgres.bki"), "").unwrap();
        std::fs::write(layout.sharedir.join("extension/plpgsql.control"), "").unwrap();
        std::fs::write(
            layout.sharedir.join("extension/timescaledb.control"),
            "system",
        )
        .unwrap();
        let mut releases = Vec::new();
        for (name, loader) in [("old", "old loader"), ("new", "new loader")] {
            let staged = tmp.path().join(name);
            std::fs::create_dir_all(staged.join("lib")).unwrap();
            std::fs::create_dir_all(staged.join("extension")).unwrap();
            std::fs::write(staged.join("lib/timescaledb.so"), loader).unwrap();
            std::fs::write(staged.join(format!("lib/timescaledb-{name}.so")), "").unwrap();
            std::fs::write(staged.join("extension/timescaledb.control"), name).unwrap();
            releases.push(staged);
        }

        let root = tmp.path().join("private");
        let moved = assemble(&layout, &releases, &root).unwrap();
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(moved.bindir.join("postgres")), "binary");
        assert!(!std::fs::symlink_metadata(moved.bindir.join("postgres"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            std::fs::read_link(moved.bindir.join("postmaster")).unwrap(),
            Path::new("postgres")
        );
        assert!(moved.pkglibdir.join("plpgsql.so").exists());
        assert!(moved.pkglibdir.join("timescaledb-old.so").exists());
        assert_eq!(read(moved.pkglibdir.join("timescaledb.so")), "new loader");
        assert_eq!(
            read(moved.sharedir.join("extension/timescaledb.control")),
            "new"
        );
        assert!(moved.sharedir.join("postgres.bki").exists());
        assert!(moved.sharedir.join("extension/plpgsql.control").exists());

        // A library and an extension installed later are linked in; TimescaleDB's files
        // stay the assembled ones; twice is the same as once.
        std::fs::write(layout.pkglibdir.join("pgaudit.so"), "audit").unwrap();
        std::fs::write(layout.sharedir.join("extension/pgaudit.control"), "").unwrap();
        for _ in 0..2 {
            link_added(&layout, &root).unwrap();
        }
        assert_eq!(read(moved.pkglibdir.join("pgaudit.so")), "audit");
        assert!(moved.sharedir.join("extension/pgaudit.control").exists());
        assert_eq!(read(moved.pkglibdir.join("timescaledb.so")), "new loader");
    }
}
