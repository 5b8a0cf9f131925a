//! One throwaway PostgreSQL server: its own data directory, free loopback port, private
//! Unix socket, SCRAM password authentication and an admin password of its own.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::install::PgInstall;
use super::leftovers;
use super::os_user::{run, tail, ServerUser};
use super::scratch::scratch_dir;
use super::template::{self, ADMIN_USER, BOOTSTRAP_USER, DATABASE, NODE_CONF};
use crate::config::{NodeConfig, TlsMode};
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::secret_send::{Quiet, SecretLogging};
use crate::sql::quiet::Carriage;
use crate::sql::{bootstrap, role};

/// The environment variable that keeps every local server's data directory and log after
/// it is shut down: `TSMN_KEEP=1` (see [`LocalServerBuilder::keep`]).
pub const KEEP_ENV: &str = "TSMN_KEEP";

/// How many ports are tried when the chosen one is taken before the server binds it.
const PORT_ATTEMPTS: usize = 8;
/// Lines of the server log attached to a start failure.
const LOG_TAIL_LINES: usize = 30;

/// Settings for one [`LocalServer`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use timescaledb_multinode::testing::LocalServer;
///
/// let server = LocalServer::builder("solo").setting("log_statement", "all").start().await?;
/// let client = server.config().connect().await?;
/// client.simple_query("SELECT 1").await?;
/// server.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .start() is awaited"]
pub struct LocalServerBuilder {
    name: String,
    install: Option<PgInstall>,
    release: Option<String>,
    timescaledb: bool,
    admin: AdminModel,
    settings: Vec<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
    port: Option<u16>,
    keep: bool,
}

/// Which kind of admin `tsdbadmin` is on a local server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminModel {
    /// A superuser (the default).
    #[default]
    Superuser,
    /// The managed-service admin of the multi-node how-to: `NOSUPERUSER CREATEROLE`, owner of
    /// the database `tsdb` and its schema `public`; where TimescaleDB is preloaded, the
    /// extension is created by a superuser and the admin has `USAGE` on `timescaledb_fdw`.
    ManagedService,
}

impl LocalServerBuilder {
    /// The installation to use. Default: [`PgInstall::discover`].
    pub fn install(mut self, install: PgInstall) -> Self {
        self.install = Some(install);
        self
    }

    /// Runs TimescaleDB `release` (such as `"2.11.2"`), built from the source archives in
    /// `TSMN_TIMESCALEDB_SOURCES` into a private copy of the installation (see
    /// [`PgInstall::with_timescaledb`]; the first build of a release takes about a minute).
    /// Default: the installation's own TimescaleDB ([`PgInstall::discover`]).
    pub fn timescaledb_release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Which kind of admin `tsdbadmin` is. Default: [`AdminModel::Superuser`].
    pub fn admin(mut self, admin: AdminModel) -> Self {
        self.admin = admin;
        self
    }

    /// Whether to preload TimescaleDB when the installation has multi-node
    /// ([`PgInstall::multinode_support`]). Default: true.
    pub fn timescaledb(mut self, enabled: bool) -> Self {
        self.timescaledb = enabled;
        self
    }

    /// Adds a `postgresql.conf` setting, such as `("log_statement", "all")`.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Writes a file into the data directory before the server starts (readable only by the
    /// server's OS user), such as `server.crt` and `server.key` for `ssl = on`.
    pub fn file(mut self, name: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.into(), contents.into()));
        self
    }

    /// The port to try first. If the server cannot bind it, a free port is chosen instead.
    /// Default: a free port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Keeps the data directory and the server log after the server is shut down or
    /// dropped (the server is stopped; the path is printed to standard error). Default:
    /// false, unless `TSMN_KEEP=1` is set ([`KEEP_ENV`]); a server dropped while its thread
    /// panics (a failing test) is kept either way.
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// Starts the server.
    ///
    /// # Errors
    ///
    /// [`Error::Fixture`] when the binaries are missing or the server does not start; the
    /// error carries the tail of the server log.
    pub async fn start(self) -> Result<LocalServer> {
        let install = PgInstall::resolve(self.install, self.release).await?;
        let user = ServerUser::detect()?;
        let timescaledb = self.timescaledb && install.multinode_support().is_ok();
        let template = template::data_dir(&install, &user, timescaledb).await?;

        // Once per process: servers and directories of earlier runs that were killed.
        static LEFTOVERS: std::sync::Once = std::sync::Once::new();
        LEFTOVERS.call_once(|| {
            if let Err(e) = leftovers::remove(&scratch_dir()) {
                tracing::warn!(error = %e, "could not remove what killed runs left behind");
            }
        });
        let dir = tempfile::Builder::new()
            .prefix(&format!(
                "{}{}-",
                leftovers::DIR_PREFIX,
                sanitize(&self.name)
            ))
            .tempdir_in(scratch_dir())
            .map_err(|e| fixture(format!("cannot create a temporary directory: {e}"), None))?;
        let root = dir.path().to_owned();
        leftovers::claim(&root, &user)?;
        user.own(&root).map_err(|e| io(&root, e))?;
        let data_dir = root.join("data");
        let socket_dir = root.join("socket");
        let log_path = root.join("server.log");
        run(
            user.command(Path::new("cp"), &root)
                .arg("-a")
                .arg(&template)
                .arg(&data_dir),
            OP,
        )
        .await?;
        std::fs::create_dir(&socket_dir).map_err(|e| io(&socket_dir, e))?;
        user.own(&socket_dir).map_err(|e| io(&socket_dir, e))?;
        for (name, contents) in &self.files {
            let path = data_dir.join(name);
            write_private(&path, contents, &user)?;
        }

        let mut server = LocalServer {
            name: self.name,
            install,
            user,
            timescaledb,
            data_dir,
            socket_dir,
            log_path,
            port: 0,
            password: SecretString::from(random_password()?),
            admin: self.admin,
            settings: self.settings,
            running: false,
            keep: self.keep || keep_requested(),
            dir: Some(dir),
        };
        server.start_on_free_port(self.port).await?;
        if let Err(e) = server.prepare_admin(self.admin).await {
            let _ = server.stop().await;
            return Err(e);
        }
        Ok(server)
    }
}

/// A running throwaway PostgreSQL server (see [`LocalServer::builder`]).
///
/// Every server has the superuser `tsdbadmin` with a random password of its own and the
/// database `tsdb`; [`LocalServer::config`] hands out the [`NodeConfig`] to reach it over TCP
/// with SCRAM authentication. [`LocalServer::shutdown`] stops it and deletes its files;
/// dropping it does the same, best-effort and blocking.
///
/// # Kept for a look afterwards
///
/// A server dropped while its thread panics (the test using it failed), or one asked to be
/// kept ([`LocalServerBuilder::keep`], `TSMN_KEEP=1`), is stopped and its directory kept:
/// standard error names the data directory and the server log (`server.log` beside it),
/// for a failing test in that test's captured output, shown with its failure.
/// Kept directories are never removed by [`LocalServer::remove_leftovers`]; delete them by
/// hand.
#[derive(Debug)]
pub struct LocalServer {
    name: String,
    install: PgInstall,
    user: ServerUser,
    timescaledb: bool,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    password: SecretString,
    admin: AdminModel,
    settings: Vec<(String, String)>,
    running: bool,
    keep: bool,
    dir: Option<tempfile::TempDir>,
}

const OP: &str = "start local server";

impl LocalServer {
    /// Settings for a server called `name` (the name used in its [`NodeConfig`]).
    pub fn builder(name: impl Into<String>) -> LocalServerBuilder {
        LocalServerBuilder {
            name: name.into(),
            install: None,
            release: None,
            timescaledb: true,
            admin: AdminModel::Superuser,
            settings: Vec::new(),
            files: Vec::new(),
            port: None,
            keep: false,
        }
    }

    /// Stops the servers and removes the directories that runs killed before they could
    /// shut down left in the scratch directory (`TSMN_SCRATCH_DIR`); returns how many
    /// directories were removed. Servers whose owning process still runs are not touched.
    /// The first server a process starts does this by itself.
    ///
    /// # Errors
    ///
    /// [`Error::Fixture`] when the scratch directory cannot be read.
    pub fn remove_leftovers() -> Result<usize> {
        leftovers::remove(&scratch_dir())
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TCP port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether TimescaleDB is preloaded on this server.
    pub fn has_timescaledb(&self) -> bool {
        self.timescaledb
    }

    /// The installation it runs from.
    pub fn install(&self) -> &PgInstall {
        &self.install
    }

    /// Which kind of admin `tsdbadmin` is here.
    pub fn admin_model(&self) -> AdminModel {
        self.admin
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// How to reach the server as `tsdbadmin` in database `tsdb` over TCP, with this
    /// server's own password.
    pub fn config(&self) -> NodeConfig {
        NodeConfig::new("127.0.0.1", ADMIN_USER, self.password.clone())
            .name(self.name.clone())
            .port(self.port)
            .database(DATABASE)
    }

    /// The admin password.
    pub fn password(&self) -> &SecretString {
        &self.password
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole server log so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// Stops the server (fast shutdown: sessions end, a checkpoint is written), keeping its
    /// files so it can start again.
    pub async fn stop(&mut self) -> Result<()> {
        self.pg_ctl_stop("fast").await
    }

    /// Stops the server the way a crash would (immediate shutdown: no checkpoint; the next
    /// start runs crash recovery), keeping its files.
    pub async fn kill(&mut self) -> Result<()> {
        self.pg_ctl_stop("immediate").await
    }

    async fn pg_ctl_stop(&mut self, mode: &str) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        run(
            self.user
                .command(&self.install.bin("pg_ctl"), &self.data_dir)
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-m", mode, "-w", "-s", "stop"]),
            "stop local server",
        )
        .await?;
        self.running = false;
        Ok(())
    }

    /// Starts a stopped server again on the same port.
    pub async fn start(&mut self) -> Result<()> {
        if self.running {
            return Ok(());
        }
        match self.pg_ctl_start(self.port).await {
            Ok(()) => Ok(()),
            Err(tail) => Err(fixture(
                format!(
                    "server {} did not start again on port {}",
                    self.name, self.port
                ),
                Some(tail),
            )),
        }
    }

    /// Whether the server's directory is kept when it is shut down or dropped (see
    /// [`LocalServerBuilder::keep`]).
    pub fn is_kept(&self) -> bool {
        self.keep
    }

    /// Stops the server and deletes its files (an immediate shutdown: nothing is kept), or,
    /// when the server is to be kept ([`LocalServerBuilder::keep`], `TSMN_KEEP=1`), stops it
    /// and keeps them.
    pub async fn shutdown(mut self) -> Result<()> {
        let stopped = self.kill().await;
        if self.keep {
            self.keep_files("asked to keep it", false);
        } else if let Some(dir) = self.dir.take() {
            let path = dir.path().to_owned();
            dir.close().map_err(|e| io(&path, e))?;
        }
        stopped
    }

    /// Keeps the server's directory, marked so that leftover removal leaves it alone, and
    /// says where it is on standard error: for a failing test through the test harness's
    /// capture, so it is shown with that test's failure; when asked, past it, so it is shown
    /// for a passing test too.
    fn keep_files(&mut self, why: &str, beside_the_failure: bool) {
        let Some(dir) = self.dir.take() else { return };
        let _ = std::fs::write(dir.path().join(leftovers::KEPT_FILE), why);
        let root = dir.keep();
        let line = format!(
            "kept server {} ({why}): data directory {}, log {}; delete {} when done",
            self.name,
            self.data_dir.display(),
            self.log_path.display(),
            root.display(),
        );
        if beside_the_failure {
            eprintln!("{line}");
        } else {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    async fn start_on_free_port(&mut self, preferred: Option<u16>) -> Result<()> {
        let mut last_tail = String::new();
        for attempt in 0..PORT_ATTEMPTS {
            let port = match (attempt, preferred) {
                (0, Some(port)) => port,
                _ => free_port()?,
            };
            match self.pg_ctl_start(port).await {
                Ok(()) => return Ok(()),
                Err(tail) if port_taken(&tail) => {
                    tracing::debug!(server = %self.name, port, "port taken; trying another");
                    last_tail = tail;
                }
                Err(tail) => {
                    return Err(fixture(
                        format!("server {} did not start", self.name),
                        Some(tail),
                    ))
                }
            }
        }
        Err(fixture(
            format!(
                "server {} found no free port in {PORT_ATTEMPTS} attempts",
                self.name
            ),
            Some(last_tail),
        ))
    }

    /// Writes the per-server settings and runs `pg_ctl start`; on failure returns the log tail.
    async fn pg_ctl_start(&mut self, port: u16) -> std::result::Result<(), String> {
        let mut conf = format!(
            "port = {port}\nunix_socket_directories = {}\n",
            conf_string(&self.socket_dir.to_string_lossy())
        );
        for (name, value) in &self.settings {
            conf.push_str(&format!("{name} = {}\n", conf_string(value)));
        }
        let conf_path = self.data_dir.join(NODE_CONF);
        write_private(&conf_path, conf.as_bytes(), &self.user).map_err(|e| e.to_string())?;
        let mut cmd = self
            .user
            .command(&self.install.bin("pg_ctl"), &self.data_dir);
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_path)
            .args(["-w", "-t", "60", "-s", "start"]);
        match run(&mut cmd, OP).await {
            Ok(_) => {
                self.port = port;
                self.running = true;
                Ok(())
            }
            Err(e) => {
                let ctl = e.server_log_tail().unwrap_or_default().to_owned();
                Err(format!("{}\n{ctl}", self.log_tail(LOG_TAIL_LINES)))
            }
        }
    }

    /// Sets `tsdbadmin`'s password (as a SCRAM verifier) and, for the managed-service
    /// model, its privileges, as the bootstrap superuser through the private Unix socket.
    async fn prepare_admin(&self, model: AdminModel) -> Result<()> {
        const OP: &str = "prepare local server admin";
        let admin = Ident::new(ADMIN_USER)?;
        let session = self.bootstrap_session("postgres", OP).await?;
        let quiet = Quiet::enter(&session, OP, Carriage::Bound, SecretLogging::Refuse).await?;
        let sent = quiet
            .run(
                &role::alter_role_password(&admin),
                role::verifier(&self.password).expose_secret(),
            )
            .await;
        quiet.leave(sent).await?;
        if model == AdminModel::ManagedService {
            let session = self.bootstrap_session(DATABASE, OP).await?;
            session
                .execute_utility(OP, &bootstrap::managed_admin(&admin))
                .await?;
            if self.timescaledb {
                session
                    .execute_utility(OP, &bootstrap::managed_timescaledb(&admin))
                    .await?;
            }
        }
        Ok(())
    }

    /// A client as the server's bootstrap superuser (`postgres`) on `database`, through the
    /// server's private Unix socket (which only the server's OS user, and root, can enter),
    /// whatever [`AdminModel`] `tsdbadmin` has: for tests that must do or see what only a
    /// superuser may, such as `CREATE EXTENSION pg_stat_statements` or reading every role's
    /// `pg_stat_statements` and `pg_stat_activity` rows.
    ///
    /// # Errors
    ///
    /// [`Error::Unreachable`] when the server is not running, [`Error::Database`] for a
    /// database that does not exist.
    pub async fn superuser_client(&self, database: &str) -> Result<tokio_postgres::Client> {
        self.bootstrap_session(database, "connect as the bootstrap superuser")
            .await
            .map(Session::into_client)
    }

    /// A session as the bootstrap superuser, through the server's private Unix socket.
    async fn bootstrap_session(&self, database: &str, op: &'static str) -> Result<Session> {
        let bootstrap = NodeConfig::new(
            self.socket_dir.to_string_lossy(),
            BOOTSTRAP_USER,
            SecretString::from(String::new()),
        )
        .name(self.name.clone())
        .port(self.port)
        .database(database)
        .tls(TlsMode::Disable)
        .connect_timeout(Duration::from_secs(30));
        // The server's own search path: the fixture creates extensions (in `public`, as a
        // service's superuser would), and `superuser_client` runs the caller's SQL.
        Session::open_as_configured(&bootstrap, op).await
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if self.running {
            // Best effort: the async `shutdown` is the real way out.
            let _ = self
                .user
                .std_command(&self.install.bin("pg_ctl"), &self.data_dir)
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "immediate", "-w", "-s", "stop"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        if failed {
            self.keep_files("dropped while its thread panicked: a failing test", true);
        } else if self.keep {
            self.keep_files("asked to keep it", false);
        }
    }
}

/// Whether [`KEEP_ENV`] asks to keep every server's files.
fn keep_requested() -> bool {
    std::env::var(KEEP_ENV).as_deref() == Ok("1")
}

fn port_taken(log_tail: &str) -> bool {
    [
        "could not bind",
        "Address already in use",
        "could not create any TCP/IP sockets",
    ]
    .iter()
    .any(|needle| log_tail.contains(needle))
}

/// A port nothing listens on right now (it may be taken before the server binds it; the
/// caller retries).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| fixture(format!("cannot find a free port: {e}"), None))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| fixture(format!("cannot find a free port: {e}"), None))
}

/// A `postgresql.conf` string value (configuration-file syntax, not SQL).
fn conf_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

fn write_private(path: &Path, contents: &[u8], user: &ServerUser) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).map_err(|e| io(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io(path, e))?;
    user.own(path).map_err(|e| io(path, e))
}

fn random_password() -> Result<String> {
    let mut bytes = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| fixture(format!("cannot read /dev/urandom: {e}"), None))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
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
