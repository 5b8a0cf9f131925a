//! Tier 2: `tsmn migrate`, run as a program. A small distributed hypertable (replication
//! factor 2) of a 1 + 2 cluster planned (for people and as JSON), then migrated to plain
//! PostgreSQL with `--json`, then run again (everything resumed), then a row written to the
//! source since copied by `--catch-up`; the target's rows equal the source's, the output for people has no Rust debug form, and a password typed into the
//! target URL is refused without being repeated.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalServer};
use timescaledb_multinode::ExposeSecret;

use crate::common::{example_binary, joined_cluster_from, plain_server, tier2};

const ROWS: i64 = 3 * 144 * 3;

fn spec(local: &LocalCluster) -> String {
    let mut text = format!(
        "[access_node]\nname = \"an\"\nhost = \"127.0.0.1\"\nport = {}\ndatabase = \"tsdb\"\n\
         password_env = \"T_PW_AN\"\n",
        local.access_node().port()
    );
    for dn in local.data_nodes() {
        text += &format!(
            "\n[[data_nodes]]\nname = \"{0}\"\nhost = \"127.0.0.1\"\nport = {1}\n\
             database = \"tsdb\"\npassword_env = \"T_PW_{2}\"\n",
            dn.name(),
            dn.port(),
            dn.name().to_uppercase()
        );
    }
    text
}

/// Runs `tsmn` with the cluster's and the target's passwords in the environment: exit code,
/// standard output, standard error.
fn tsmn(
    local: &LocalCluster,
    target: &LocalServer,
    spec: &Path,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(example_binary("tsmn"));
    cmd.arg("migrate").arg(spec).args(args);
    cmd.env("T_PW_AN", local.access_node().password().expose_secret())
        .env("TSMN_TARGET_PASSWORD", target.password().expose_secret());
    for dn in local.data_nodes() {
        cmd.env(
            format!("T_PW_{}", dn.name().to_uppercase()),
            dn.password().expose_secret(),
        );
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// No Rust debug form and no terminal control sequence (no progress bar off a terminal).
fn assert_readable(text: &str) {
    for debug in [
        "Some(", "None", "Ok(", "Err(", "{ ", "[\"", "\\\"", "Duration",
    ] {
        assert!(!text.contains(debug), "{debug:?} in:\n{text}");
    }
    assert!(!text.contains('\x1b'), "a control sequence in:\n{text}");
}

fn json(stdout: &str, stderr: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}{stderr}"))
}

/// Row count and an order-independent checksum of `metrics` through `client`.
async fn fingerprint(config: timescaledb_multinode::NodeConfig) -> (i64, String) {
    let client = config.connect().await.unwrap();
    client
        .batch_execute("SET TimeZone = 'UTC'; SET extra_float_digits = 1")
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text \
               FROM public.metrics t",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn tsmn_migrate_plans_and_migrates_to_plain_postgresql() {
    let Some(_) = tier2() else { return };
    migrate(AdminModel::Superuser).await;
}

#[tokio::test]
async fn tsmn_migrate_as_the_managed_service_admin() {
    let Some(_) = tier2() else { return };
    migrate(AdminModel::ManagedService).await;
}

async fn migrate(model: AdminModel) {
    let (local, _an) =
        joined_cluster_from(LocalCluster::builder().data_nodes(2).admin(model)).await;
    let an = local.access_node_config().connect().await.unwrap();
    for statement in [
        "CREATE TABLE metrics (time timestamptz NOT NULL, device int4 NOT NULL, value float8, \
         PRIMARY KEY (time, device))",
        "SELECT create_distributed_hypertable('metrics', 'time', 'device', \
         chunk_time_interval => interval '1 day', replication_factor => 2)",
        "INSERT INTO metrics SELECT t, d, CASE WHEN d = 2 THEN NULL ELSE d * 1.5 END \
           FROM generate_series('2024-01-01'::timestamptz, '2024-01-03 23:50', '10 min') t, \
                generate_series(1, 3) d",
        // Not named on the command line: not migrated.
        "CREATE TABLE other (time timestamptz NOT NULL, v int)",
        "SELECT create_distributed_hypertable('other', 'time')",
    ] {
        an.batch_execute(statement).await.unwrap();
    }
    let target = plain_server("target").await;
    let dir = tempfile::tempdir().unwrap();
    let spec_path: PathBuf = dir.path().join("cluster.toml");
    std::fs::write(&spec_path, spec(&local)).unwrap();
    let url = format!(
        "postgresql://tsdbadmin@127.0.0.1:{}/tsdb?sslmode=disable",
        target.port()
    );
    let run = |args: &[&str]| tsmn(&local, &target, &spec_path, args);

    // A password on the command line is refused, not repeated, before anything is read.
    let secret = "Pa55-w0rd-on-the-command-line";
    let (code, stdout, stderr) = run(&[
        &format!(
            "postgresql://tsdbadmin:{secret}@127.0.0.1:{}/tsdb",
            target.port()
        ),
        "metrics",
    ]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("TSMN_TARGET_PASSWORD"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains(secret));

    // The plan, for people: no debug form; nothing written.
    let (code, stdout, stderr) = run(&[&url, "public.metrics", "--plan"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_readable(&format!("{stdout}{stderr}"));
    assert!(
        stdout.contains("PostgreSQL without TimescaleDB")
            && stdout.contains("create a plain table")
            && stdout.contains("ready: yes")
            && !stdout.contains("other"),
        "{stdout}"
    );

    // The plan as JSON.
    let (code, stdout, stderr) = run(&[&url, "metrics", "--plan", "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let plan = json(&stdout, &stderr);
    assert_eq!(plan["ready"], true, "{plan}");
    assert_eq!(plan["target_kind"]["kind"], "postgresql", "{plan}");
    let tables = plan["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 1, "{plan}");
    assert_eq!(tables[0]["table"], "\"public\".\"metrics\"", "{plan}");
    assert_eq!(tables[0]["creation"]["kind"], "plain_table", "{plan}");
    let chunks = tables[0]["chunks"].as_array().unwrap();
    assert!(!chunks.is_empty(), "{plan}");
    for chunk in chunks {
        assert_eq!(chunk["copied"], false, "{chunk}");
        assert_eq!(chunk["data_nodes"].as_array().unwrap().len(), 2, "{chunk}");
    }
    assert_eq!(plan["chunks_to_copy"], chunks.len(), "{plan}");
    let exists = target
        .config()
        .connect()
        .await
        .unwrap()
        .query_one("SELECT to_regclass('public.metrics') IS NOT NULL", &[])
        .await
        .unwrap()
        .get::<_, bool>(0);
    assert!(!exists, "--plan created the table");

    // The migration as JSON.
    let (code, stdout, stderr) = run(&[&url, "metrics", "--concurrency=2", "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report = json(&stdout, &stderr);
    assert_eq!(report["rows"], ROWS, "{report}");
    assert_eq!(report["chunks_copied"], chunks.len(), "{report}");
    assert_eq!(report["chunks_resumed"], 0, "{report}");
    let table = &report["tables"][0];
    assert_eq!(table["created"], true, "{report}");
    assert_eq!(table["rows"], ROWS, "{report}");
    assert_eq!(table["newest"], "2024-01-03 23:50:00+00", "{report}");
    let chunk_rows: i64 = table["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_i64().unwrap())
        .sum();
    assert_eq!(chunk_rows, ROWS, "{report}");
    for range in table["ranges"].as_array().unwrap() {
        assert!(range["checksum"].is_string(), "{range}");
    }
    let source = fingerprint(local.access_node_config()).await;
    assert_eq!(source.0, ROWS);
    assert_eq!(fingerprint(target.config()).await, source);

    // Again, for people: everything was copied by the first run, and verified again.
    let (code, stdout, stderr) = run(&[&url, "metrics"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_readable(&format!("{stdout}{stderr}"));
    assert!(
        stdout.contains(&format!("{} rows verified", thousands(ROWS)))
            && stdout.contains("0 chunks copied now")
            && stdout.contains("newest: 2024-01-03 23:50:00+00"),
        "{stdout}"
    );
    assert_eq!(fingerprint(target.config()).await, source);

    // A row written since, into a range already copied: the final pass copies it.
    an.batch_execute("INSERT INTO metrics VALUES ('2024-01-02 00:05', 7, 7.5)")
        .await
        .unwrap();
    let (code, stdout, stderr) = run(&[&url, "metrics", "--catch-up", "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report = json(&stdout, &stderr);
    assert_eq!(report["rows"], ROWS + 1, "{report}");
    assert!(report["chunks_copied"].as_u64().unwrap() >= 1, "{report}");
    let source = fingerprint(local.access_node_config()).await;
    assert_eq!(fingerprint(target.config()).await, source);

    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}
