//! Where servers' data directories go.
//!
//! Copying a data directory onto a memory file system takes a fraction of the time it takes
//! on disk, and these servers are thrown away, so `/dev/shm` is used when it is a writable
//! directory with room to spare; otherwise the system temporary directory.
//! `TSMN_SCRATCH_DIR` chooses another place.

use std::path::{Path, PathBuf};

/// The environment variable that chooses where data directories go.
pub const SCRATCH_DIR_ENV: &str = "TSMN_SCRATCH_DIR";

/// Free space a memory file system must have to be used.
const MIN_FREE_BYTES: u64 = 2 << 30;

/// The directory new data directories are created in.
pub(crate) fn scratch_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(SCRATCH_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    if has_room(shm) {
        return shm.to_owned();
    }
    std::env::temp_dir()
}

fn has_room(dir: &Path) -> bool {
    if !dir.is_dir() || nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err() {
        return false;
    }
    match nix::sys::statvfs::statvfs(dir) {
        // The field types differ between platforms.
        #[allow(clippy::useless_conversion)]
        Ok(st) => {
            let free = u64::from(st.blocks_available()).saturating_mul(st.fragment_size());
            free >= MIN_FREE_BYTES
        }
        Err(_) => false,
    }
}
