//! A directory of TimescaleDB source archives: finding a release's archive and checking it
//! against `SHA256SUMS` before anything is built from it.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fixture;
use crate::error::Result;
use crate::version::Version;

/// The file beside the archives that lists their SHA-256 checksums (`sha256sum` format).
pub(crate) const SUMS_FILE: &str = "SHA256SUMS";

/// The archive file name of `release`, as published: `timescaledb-<release>.tar.gz`.
pub(crate) fn file_name(release: Version) -> String {
    format!("timescaledb-{release}.tar.gz")
}

/// One release's source archive and the checksum `SHA256SUMS` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Archive {
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
}

/// The archive of `release` in `sources` and its expected checksum (the file itself is
/// read only by [`Archive::verify`], before a build).
///
/// # Errors
///
/// [`crate::Error::Fixture`] when the directory, the archive or its checksum line is
/// missing.
pub(crate) fn locate(sources: &Path, release: Version) -> Result<Archive> {
    let name = file_name(release);
    if !sources.is_dir() {
        return Err(fixture(format!(
            "the TimescaleDB source directory {} does not exist; point {} at a directory \
             holding {name} and {SUMS_FILE}",
            sources.display(),
            super::SOURCES_ENV
        )));
    }
    let path = sources.join(&name);
    if !path.is_file() {
        return Err(fixture(format!(
            "{} has no {name}: download the source archive of TimescaleDB {release} \
             (release tag {release} of github.com/timescale/timescaledb) into it and add its \
             checksum to {SUMS_FILE}",
            sources.display()
        )));
    }
    let sums_path = sources.join(SUMS_FILE);
    let sums = std::fs::read_to_string(&sums_path).map_err(|e| {
        fixture(format!(
            "cannot read {}: {e}; the archives are checked against it before they are built",
            sums_path.display()
        ))
    })?;
    let Some(expected) = expected_sum(&sums, &name) else {
        return Err(fixture(format!(
            "{} has no line for {name}; add one (`sha256sum {name} >> {SUMS_FILE}`) after \
             checking the archive",
            sums_path.display()
        )));
    };
    Ok(Archive {
        path,
        sha256: expected.to_ascii_lowercase(),
    })
}

impl Archive {
    /// Checks the file against its expected checksum.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Fixture`] when it cannot be read or its checksum differs.
    pub(crate) fn verify(&self) -> Result<()> {
        let actual = sha256_file(&self.path)?;
        if actual != self.sha256 {
            return Err(fixture(format!(
                "checksum mismatch for {}: {SUMS_FILE} says {}, the file has {actual}; the \
                 archive is damaged or not the published one, so it is not built",
                self.path.display(),
                self.sha256
            )));
        }
        Ok(())
    }
}

/// The checksum `sums` (lines of `<hex>  <file>`, `*<file>` for binary mode) gives `name`.
fn expected_sum<'a>(sums: &'a str, name: &str) -> Option<&'a str> {
    sums.lines().find_map(|line| {
        let (sum, file) = line.trim().split_once(char::is_whitespace)?;
        let file = file.trim_start().trim_start_matches('*');
        (file == name && sum.len() == 64).then_some(sum)
    })
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| fixture(format!("cannot open {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| fixture(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: Version = Version::new(2, 13, 1);

    #[test]
    fn reads_sha256sum_lines() {
        let sums = format!(
            "{}  timescaledb-2.11.2.tar.gz\n{} *timescaledb-2.13.1.tar.gz\n",
            "a".repeat(64),
            "b".repeat(64)
        );
        assert_eq!(
            expected_sum(&sums, "timescaledb-2.13.1.tar.gz"),
            Some("b".repeat(64).as_str())
        );
        assert_eq!(expected_sum(&sums, "timescaledb-2.9.3.tar.gz"), None);
        assert_eq!(expected_sum("short  timescaledb-2.9.3.tar.gz", "x"), None);
    }

    #[test]
    fn checks_the_archive_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let verified =
            |dir: &Path, release| locate(dir, release).and_then(|a| a.verify().map(|()| a.path));
        let err = verified(&dir.path().join("absent"), RELEASE).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");

        let err = verified(dir.path(), RELEASE).unwrap_err();
        assert!(
            err.to_string().contains("has no timescaledb-2.13.1.tar.gz"),
            "{err}"
        );

        let archive = dir.path().join(file_name(RELEASE));
        std::fs::write(&archive, b"not really an archive").unwrap();
        let err = verified(dir.path(), RELEASE).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");

        std::fs::write(dir.path().join(SUMS_FILE), "").unwrap();
        let err = verified(dir.path(), RELEASE).unwrap_err();
        assert!(err.to_string().contains("has no line for"), "{err}");

        let wrong = format!("{}  {}\n", "0".repeat(64), file_name(RELEASE));
        std::fs::write(dir.path().join(SUMS_FILE), wrong).unwrap();
        let err = verified(dir.path(), RELEASE).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");

        let right = format!(
            "{}  {}\n",
            sha256_file(&archive).unwrap(),
            file_name(RELEASE)
        );
        std::fs::write(dir.path().join(SUMS_FILE), right).unwrap();
        assert_eq!(verified(dir.path(), RELEASE).unwrap(), archive);
    }

    #[test]
    fn sha256_of_a_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
