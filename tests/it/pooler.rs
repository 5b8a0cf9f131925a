//! Tier 2: the access node behind PgBouncer in session mode, as the README says the crate
//! may be used (a pooler in transaction mode is not supported, and documented so). Apply,
//! plan, ingest, a role's query, status, heal and a password rotation go through the pooler,
//! for both admins. Needs PgBouncer (Debian's `pgbouncer`; `.ci/run` installs it); without
//! it the test is skipped, saying so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use timescaledb_multinode::testing::{skip_or_fail, AdminModel, LocalCluster};
use timescaledb_multinode::{
    AccessNode, Cluster, DistributedHypertable, DistributedRole, ExposeSecret, NodeConfig,
    Privilege, RawSql, SecretString,
};

use crate::common::as_both_admins;

const WHAT: &str = "the session-mode pooler test";

/// The role of the spec, and its password.
const ROLE: &str = "mn_pooled";
const ROLE_PASSWORD: &str = "mn_pooled pw";

/// PgBouncer's program, or `None` (after the skip line) when it is not installed.
fn pgbouncer() -> Option<PathBuf> {
    let found = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        return skip_or_fail(WHAT, "PgBouncer is not installed (Debian: pgbouncer)");
    }
    found
}

/// A PgBouncer in session mode in front of one server, stopped when dropped.
struct Bouncer {
    dir: tempfile::TempDir,
    port: u16,
}

impl Bouncer {
    /// Starts `program` in front of `server_port`, knowing `users` (name, password). As
    /// root it runs as the `postgres` OS user (PgBouncer refuses to run as root).
    async fn start(program: &Path, server_port: u16, users: &[(&str, &str)]) -> Bouncer {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let userlist: String = users
            .iter()
            .map(|(user, password)| format!("\"{user}\" \"{password}\"\n"))
            .collect();
        std::fs::write(dir.path().join("userlist.txt"), userlist).unwrap();
        std::fs::write(
            dir.path().join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={server_port}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 auth_type = scram-sha-256\nauth_file = {d}/userlist.txt\n\
                 pool_mode = session\nunix_socket_dir =\n\
                 logfile = {d}/pgbouncer.log\npidfile = {d}/pgbouncer.pid\n\
                 ignore_startup_parameters = extra_float_digits,options\n\
                 max_client_conn = 500\ndefault_pool_size = 100\n"
            ),
        )
        .unwrap();
        let mut command = std::process::Command::new(program);
        command.arg("-d").arg(dir.path().join("pgbouncer.ini"));
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::fs::PermissionsExt;
            use std::os::unix::process::CommandExt;
            for entry in ["", "userlist.txt", "pgbouncer.ini"] {
                let path = dir.path().join(entry);
                let mode = if entry.is_empty() { 0o777 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            let postgres = nix::unistd::User::from_name("postgres")
                .unwrap()
                .expect("a `postgres` OS user (the test servers run as it too)");
            command
                .uid(postgres.uid.as_raw())
                .gid(postgres.gid.as_raw());
        }
        let status = command.status().unwrap();
        assert!(status.success(), "pgbouncer did not start");
        let bouncer = Bouncer { dir, port };
        // Daemonized: wait until it listens.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return bouncer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pgbouncer did not listen: {}", bouncer.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("pgbouncer.pid"));
        if let Some(pid) = pid.ok().and_then(|p| p.trim().parse().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

async fn through_a_session_mode_pooler(admin: AdminModel) {
    let Some(program) = pgbouncer() else { return };
    let local = LocalCluster::builder()
        .data_nodes(2)
        .admin(admin)
        .start()
        .await
        .unwrap();
    let direct = local.access_node_config();
    let bouncer = Bouncer::start(
        &program,
        direct.get_port(),
        &[
            (direct.get_user(), direct.get_password().expose_secret()),
            (ROLE, ROLE_PASSWORD),
        ],
    )
    .await;
    let pooled = direct.clone().port(bouncer.port);
    let mut cluster = Cluster::new(pooled.clone())
        .hypertable(
            "CREATE TABLE readings(time timestamptz NOT NULL, sensor int NOT NULL, v float8)",
            DistributedHypertable::new("readings", "time").partitioning_column("sensor"),
        )
        .role(
            DistributedRole::new(ROLE, SecretString::from(ROLE_PASSWORD))
                .grant([Privilege::Select], "readings"),
        );
    for dn in local.data_nodes() {
        cluster = cluster.data_node(dn.config());
    }

    cluster.apply().await.unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(plan.is_converged(), "{plan}");
    let an = AccessNode::connect(pooled.clone()).await.unwrap();
    let inserted = an
        .execute(
            &RawSql::vouched(
                "INSERT INTO readings SELECT t, s, 1 FROM generate_series(\
                 '2024-01-01'::timestamptz, '2024-01-02', '1 hour') t, generate_series(1, 10) s",
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 250);
    let reader = AccessNode::connect(
        NodeConfig::new("127.0.0.1", ROLE, SecretString::from(ROLE_PASSWORD))
            .port(bouncer.port)
            .database(direct.get_database()),
    )
    .await
    .unwrap();
    let rows = reader
        .query("SELECT count(*) AS n FROM readings", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>("n"), 250);

    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status}");
    cluster.heal().await.unwrap();
    let dn1 = local.data_nodes()[0].config();
    let new = SecretString::from("dn1 rotated through the pooler");
    let rotation = cluster
        .rotate_password(&dn1.node_name(), new.clone())
        .await
        .unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    cluster.set_data_node_config(dn1.password(new)).unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    assert!(cluster.status().await.is_healthy());
    drop(reader);
    drop(an);
    drop(cluster);
    let log = bouncer.log();
    assert!(!log.contains("pooler error"), "{log}");
}

as_both_admins!(through_a_session_mode_pooler);
