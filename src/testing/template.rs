//! One `initdb` per installation, reused by every local server.
//!
//! `initdb` is the slow part of starting a server (about a second); copying its result is
//! not. The first server to start for a given installation runs `initdb` into a cache
//! directory (`TSMN_CACHE_DIR`, default: the system temporary directory) and prepares it
//! (settings, `pg_hba.conf`, the admin role and database); every server after that, in this
//! process or a later one, copies it. A template is written under a temporary name and
//! renamed into place, so concurrent test processes never see half of one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::cache::cache_root;
use super::install::PgInstall;
use super::os_user::{run, ServerUser};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::sql::bootstrap;

/// Bumped whenever what a template contains changes, so old caches are not reused.
const TEMPLATE_FORMAT: u32 = 2;

/// The superuser every local server has (with a password of its own on each server).
pub(crate) const ADMIN_USER: &str = "tsdbadmin";
/// The database every local server has, owned by [`ADMIN_USER`].
pub(crate) const DATABASE: &str = "tsdb";
/// The bootstrap superuser, reachable only through the server's private Unix socket.
pub(crate) const BOOTSTRAP_USER: &str = "postgres";
/// The file each server writes its own settings (port, socket, extras) into.
pub(crate) const NODE_CONF: &str = "tsmn.node.conf";

const OP: &str = "prepare PostgreSQL template";

/// The data directory to copy for `install`, with or without TimescaleDB preloaded.
pub(crate) async fn data_dir(
    install: &PgInstall,
    user: &ServerUser,
    timescaledb: bool,
) -> Result<PathBuf> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _guard = LOCK.get_or_init(|| Mutex::new(())).lock().await;

    let root = cache_root(user)?;
    let key = format!(
        "pg{}-{}-f{TEMPLATE_FORMAT}-{}",
        install.version(),
        match (timescaledb, install.timescaledb_version()) {
            (true, Some(v)) => format!("ts{v}"),
            _ => "plain".to_owned(),
        },
        hash(install.bindir().to_string_lossy().as_bytes()),
    )
    .replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
        "_",
    );
    let ready = root.join(&key);
    if ready.join("data").join("PG_VERSION").is_file() {
        return Ok(ready.join("data"));
    }

    let building = root.join(format!("{key}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir(&building).map_err(|e| io(&building, e))?;
    user.own(&building).map_err(|e| io(&building, e))?;
    let result = build(install, user, timescaledb, &building).await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&building);
        return Err(e);
    }
    if std::fs::rename(&building, &ready).is_err() {
        // Another process finished first; use its template.
        let _ = std::fs::remove_dir_all(&building);
    }
    Ok(ready.join("data"))
}

async fn build(
    install: &PgInstall,
    user: &ServerUser,
    timescaledb: bool,
    dir: &Path,
) -> Result<()> {
    let data = dir.join("data");
    run(
        user.command(&install.bin("initdb"), dir)
            .arg("--pgdata")
            .arg(&data)
            .args([
                "--username",
                BOOTSTRAP_USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                // 1 MB WAL segments instead of 16 MB: less to copy per server.
                "--wal-segsize=1",
            ]),
        OP,
    )
    .await?;

    let mut conf = String::from(
        "\n# timescaledb-multinode test server\n\
         listen_addresses = '127.0.0.1'\n\
         password_encryption = 'scram-sha-256'\n\
         unix_socket_permissions = 0700\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         shared_buffers = 32MB\n\
         max_connections = 100\n\
         max_prepared_transactions = 150\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n",
    );
    if timescaledb {
        conf.push_str(
            "shared_preload_libraries = 'timescaledb'\n\
             timescaledb.telemetry_level = off\n",
        );
    }
    conf.push_str(&format!("include_if_exists = '{NODE_CONF}'\n"));
    append(&data.join("postgresql.conf"), &conf)?;
    // Password (SCRAM) on TCP; trust only on the server's private Unix socket, whose
    // directory only the server's OS user (and root) can enter.
    write(
        &data.join("pg_hba.conf"),
        "local all all trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n\
         host all all ::1/128 scram-sha-256\n",
    )?;

    // The admin role and database, made once here in single-user mode instead of on every
    // server start.
    let admin = Ident::new(ADMIN_USER)?;
    let database = Ident::new(DATABASE)?;
    let script = format!(
        "{};\n{};\n",
        bootstrap::create_superuser(&admin).text(),
        bootstrap::create_database(&database, &admin).text()
    );
    let mut child = user
        .command(&install.bin("postgres"), dir)
        .arg("--single")
        .arg("-D")
        .arg(&data)
        .args([
            "-c",
            "exit_on_error=on",
            "-c",
            "shared_preload_libraries=",
            BOOTSTRAP_USER,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fixture(format!("cannot start postgres --single: {e}"), None))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| fixture(format!("cannot write to postgres --single: {e}"), None))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| fixture(format!("postgres --single: {e}"), None))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        return Err(fixture(
            format!("postgres --single exited with {}", out.status),
            Some(text),
        ));
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| io(path, e))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| io(path, e))
}

/// FNV-1a, enough to keep two installations' templates apart.
pub(crate) fn hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn io(path: &Path, e: std::io::Error) -> Error {
    fixture(format!("{}: {e}", path.display()), None)
}

fn fixture(reason: String, log_tail: Option<String>) -> Error {
    Error::Fixture {
        op: OP,
        reason,
        log_tail,
    }
}
