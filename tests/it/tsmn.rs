//! Tier 2: the `tsmn` example (plan / apply / status / heal / chunks / rotate from a spec
//! file), run as a program against a local cluster: its output for people has no Rust debug
//! form, its `--json` output parses with the documented fields, and the chunk view shows
//! every data node with the chunks and rows each really holds.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use timescaledb_multinode::cluster::APPLY_LOCK_KEY;
use timescaledb_multinode::data::query_each;
use timescaledb_multinode::testing::{AdminModel, LocalCluster};
use timescaledb_multinode::{AccessNode, ExposeSecret, Ident, RawSql, TableName};

use crate::common::{example_binary, hold_the_apply_lock, tier2};

fn binary() -> PathBuf {
    example_binary("tsmn")
}

fn spec(local: &LocalCluster) -> String {
    let mut text = format!(
        "[access_node]\nname = \"an\"\nhost = \"127.0.0.1\"\nport = {}\ndatabase = \"tsdb\"\n\
         password_env = \"T_PW_AN\"\n",
        local.access_node().port()
    );
    for dn in local.data_nodes() {
        text += &format!(
            "\n[[data_nodes]]\nname = \"{0}\"\nhost = \"127.0.0.1\"\nport = {1}\ndatabase = \"tsdb\"\n\
             password_env = \"T_PW_{2}\"\n",
            dn.name(),
            dn.port(),
            dn.name().to_uppercase()
        );
    }
    text +=
        "\n[[hypertables]]\ncreate_table = \"CREATE TABLE sensor_data (time timestamptz NOT NULL, \
             sensor_id int NOT NULL, temperature float8)\"\ntable = \"sensor_data\"\n\
             time_column = \"time\"\npartitioning_column = \"sensor_id\"\n\
             \n[[roles]]\nname = \"mn_user1\"\npassword_env = \"T_PW_MN\"\n\
             grants = [{ privileges = [\"select\"], table = \"sensor_data\" }]\n";
    text
}

struct Run<'a> {
    local: &'a LocalCluster,
    path: PathBuf,
    dn1_password: String,
}

impl Run<'_> {
    /// Runs the tool; the exit code and its standard output and error together.
    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, String) {
        let (code, stdout, stderr) = self.run_split(args, extra);
        (code, format!("{stdout}{stderr}"))
    }

    /// Runs the tool for people: its output must read as text, not as Rust values, and
    /// (not on a terminal) carry no progress bar.
    fn human(&self, args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, String) {
        let (code, text) = self.run(args, extra);
        assert_readable(&text);
        (code, text)
    }

    /// Runs the tool with `--json`: standard output is one JSON document.
    fn json(&self, args: &[&str]) -> (Option<i32>, Value) {
        let mut args = args.to_vec();
        args.push("--json");
        let (code, stdout, stderr) = self.run_split(&args, &[]);
        let value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}{stderr}"));
        (code, value)
    }

    fn run_split(&self, args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, String, String) {
        let mut cmd = Command::new(binary());
        cmd.args(args.iter().map(|a| {
            if *a == "SPEC" {
                self.path.to_str().unwrap()
            } else {
                a
            }
        }));
        cmd.env(
            "T_PW_AN",
            self.local.access_node().password().expose_secret(),
        )
        .env("T_PW_DN1", &self.dn1_password)
        .env(
            "T_PW_DN2",
            self.local.data_nodes()[1].password().expose_secret(),
        )
        .env("T_PW_MN", "mn spec password");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out: Output = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// No Rust debug form (`Some(true)`, `Ok(1)`, `Err(..)`, `[\"dn1\"]`-style vectors of
/// options) and no terminal control sequence (the progress bars stay off a pipe).
fn assert_readable(text: &str) {
    for debug in ["Some(", "None", "Ok(", "Err(", "{ ", "[\"", "\\\""] {
        assert!(!text.contains(debug), "{debug:?} in:\n{text}");
    }
    assert!(!text.contains('\x1b'), "a control sequence in:\n{text}");
}

/// The keys of JSON object `value`, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn sorted(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names
}

#[tokio::test]
async fn the_cli_plans_applies_reports_rotates_and_heals() {
    let Some(_) = tier2() else { return };
    cli(AdminModel::Superuser).await;
}

#[tokio::test]
async fn the_cli_works_for_the_managed_service_admin() {
    let Some(_) = tier2() else { return };
    cli(AdminModel::ManagedService).await;
}

/// While another apply holds the cluster's apply lock, `tsmn apply` says who holds it, and
/// when the spec's `apply_lock_wait_secs` runs out it fails naming the holder; once the lock
/// is free, it applies.
#[tokio::test]
async fn the_cli_says_who_holds_the_apply_lock() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::builder().data_nodes(2).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, format!("apply_lock_wait_secs = 1\n{}", spec(&local))).unwrap();
    let run = Run {
        local: &local,
        path,
        dn1_password: local.data_nodes()[0].password().expose_secret().to_owned(),
    };
    let (an, holder) = hold_the_apply_lock(local.access_node_config()).await;
    let (code, text) = run.human(&["apply", "SPEC"], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("waiting for the apply lock another apply holds")
            && text.contains(&format!("holder=pid {holder} ")),
        "{text}"
    );
    assert!(
        text.contains(&format!("still held after 1s, by pid {holder} ")),
        "{text}"
    );
    an.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK_KEY])
        .await
        .unwrap();
    let (code, text) = run.human(&["apply", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("waiting for the apply lock"), "{text}");
    local.shutdown().await.unwrap();
}

/// Plan, apply, plan, status, heal, rotate and status again through the CLI, as `model`.
async fn cli(model: AdminModel) {
    let local = LocalCluster::builder()
        .data_nodes(2)
        .admin(model)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, spec(&local)).unwrap();
    let mut run = Run {
        local: &local,
        path,
        dn1_password: local.data_nodes()[0].password().expose_secret().to_owned(),
    };

    let (code, text) = run.human(&["plan", "SPEC"], &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("add data node dn1 on an") && text.contains("[REDACTED]"),
        "{text}"
    );
    // A failure prints its cause chain with the server's message once.
    let (code, text) = run.run(&["plan", "SPEC"], &[("T_PW_AN", "not the password")]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(
        text.matches("password authentication failed").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains(
            "on node an: authentication failed for user tsdbadmin\n  caused by: FATAL: password \
             authentication failed"
        ),
        "{text}"
    );
    assert!(!text.contains("not the password"), "{text}");
    let nodb = dir.path().join("nodb.toml");
    std::fs::write(&nodb, spec(&local).replacen("\"tsdb\"", "\"nodb\"", 1)).unwrap();
    let (code, text) = run.run(&["plan", nodb.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(text.matches("does not exist").count(), 1, "{text}");
    assert!(text.contains("(SQLSTATE 3D000)"), "{text}");
    let (code, plan) = run.json(&["plan", "SPEC"]);
    assert_eq!(code, Some(2), "{plan}");
    assert_eq!(
        keys(&plan),
        ["conflicts", "converged", "fingerprint", "steps", "unknown"]
    );
    assert_eq!(plan["converged"], false);
    let steps = plan["steps"].as_array().unwrap();
    for step in steps {
        assert_eq!(
            keys(step),
            ["kind", "node", "sql", "target", "why"],
            "{step}"
        );
    }
    assert!(
        steps
            .iter()
            .any(|s| s["kind"] == "add_data_node" && s["target"] == "dn1" && s["node"] == "an"),
        "{plan}"
    );

    let (code, text) = run.human(&["apply", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    // The managed service's superuser created the extension on every node already.
    let steps = if model == AdminModel::ManagedService {
        5
    } else {
        8
    };
    assert!(text.contains(&format!("applied {steps} steps")), "{text}");
    assert!(text.contains("applying add data node dn1 on an"), "{text}");
    let (code, text) = run.human(&["plan", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("converged"), "{text}");
    let (code, plan) = run.json(&["plan", "SPEC"]);
    assert_eq!(code, Some(0), "{plan}");
    assert_eq!(plan["converged"], true);
    assert_eq!(plan["steps"], Value::Array(Vec::new()));

    let (code, text) = run.human(&["status", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("healthy: yes"), "{text}");
    assert!(text.contains("available: yes"), "{text}");
    let (code, status) = run.json(&["status", "SPEC"]);
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(
        keys(&status),
        sorted(vec![
            "healthy",
            "access_node_name",
            "access_node",
            "data_nodes",
            "under_replicated",
            "under_replicated_error",
        ])
    );
    assert_eq!(status["healthy"], true);
    assert_eq!(status["access_node_name"], "an");
    assert_eq!(status["access_node"]["up"], true);
    assert_eq!(status["access_node"]["server"]["role"], "access_node");
    let data_nodes = status["data_nodes"].as_array().unwrap();
    assert_eq!(data_nodes.len(), 2, "{status}");
    for (dn, name) in data_nodes.iter().zip(["dn1", "dn2"]) {
        assert_eq!(
            keys(dn),
            sorted(vec![
                "name",
                "healthy",
                "direct",
                "link",
                "available",
                "version_ok",
                "extension_missing",
                "max_prepared_transactions",
                "two_phase_commit_disabled",
                "prepared_transactions",
                "prepared_transactions_error",
            ])
        );
        assert_eq!(dn["name"], name);
        assert_eq!(dn["healthy"], true);
        assert_eq!(dn["direct"]["up"], true);
        assert_eq!(dn["direct"]["server"]["timescaledb"], "2.13.1");
        assert_eq!(dn["link"]["state"], "ok");
        assert_eq!(dn["available"], true);
        assert_eq!(dn["prepared_transactions"], Value::Array(Vec::new()));
    }

    let (code, text) = run.human(&["heal", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("clean: yes"), "{text}");
    assert!(text.contains("dn1: 0 in doubt, healed 0, 0 left"), "{text}");
    let (code, heal) = run.json(&["heal", "SPEC"]);
    assert_eq!(code, Some(0), "{heal}");
    assert_eq!(keys(&heal), ["advanced_xid", "clean", "healed", "nodes"]);
    assert_eq!(heal["clean"], true);
    assert_eq!(heal["healed"], 0);
    let nodes = heal["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{heal}");
    for node in nodes {
        assert_eq!(
            keys(node),
            sorted(vec![
                "name",
                "in_doubt_before",
                "in_doubt_before_error",
                "healed",
                "healed_error",
                "remote_txn_records_before",
                "remote_txn_records_after",
                "in_doubt_after",
                "in_doubt_after_error",
                "other_owners",
            ])
        );
        assert_eq!(node["in_doubt_before"], Value::Array(Vec::new()));
        assert_eq!(node["healed"], 0);
    }

    chunks(&run).await;

    let (code, text) = run.human(
        &["rotate", "SPEC", "dn1"],
        &[("TSMN_NEW_PASSWORD", "rotated dn1 password")],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verified: yes"), "{text}");
    // With the old password in the environment, dn1 is no longer reachable directly: the
    // status names the cause in words, and in JSON.
    let (code, text) = run.human(&["status", "SPEC"], &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("healthy: no"), "{text}");
    let (code, status) = run.json(&["status", "SPEC"]);
    assert_eq!(code, Some(2), "{status}");
    let dn1 = &status["data_nodes"][0];
    assert_eq!(dn1["direct"]["up"], false, "{status}");
    assert_eq!(dn1["direct"]["cause"], "wrong_password", "{status}");
    assert_eq!(
        dn1["direct"]["server_error"]["kind"],
        "authentication_failed"
    );
    assert_eq!(dn1["direct"]["server_error"]["node"], "dn1");
    assert_eq!(dn1["direct"]["server_error"]["sqlstate"], "28P01");
    // The chunk view still shows dn1's chunks, its rows unknown, and says why.
    let (code, text) = run.human(&["chunks", "SPEC", "sensor_data"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("chunks, ? rows on 2 data nodes"), "{text}");
    assert!(
        text.contains("dn1: rows not read: chunk placement on node dn1: authentication failed"),
        "{text}"
    );
    let total = text.lines().find(|l| l.starts_with("total")).unwrap();
    assert_eq!(total.split_whitespace().nth(2), Some("?"), "{text}");
    let (code, json) = run.json(&["chunks", "SPEC", "public.sensor_data"]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json[0]["rows"][0]["chunks"], Value::Null);
    assert_eq!(
        json[0]["rows"][0]["chunks_error"]["kind"],
        "authentication_failed"
    );
    assert!(json[0]["rows"][1]["chunks"].is_array(), "{json}");
    run.dn1_password = "rotated dn1 password".to_owned();
    let (code, text) = run.human(&["status", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");

    // No password ever printed.
    for node in local.nodes() {
        assert!(!text.contains(node.password().expose_secret()));
    }
    local.shutdown().await.unwrap();
}

/// Rows in `sensor_data` over six weeks and four sensors, then the chunk view: every data
/// node shown, and the chunks and rows of each as the access node and the data nodes
/// themselves count them.
async fn chunks(run: &Run<'_>) {
    let local = run.local;
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    let insert = "INSERT INTO sensor_data (time, sensor_id, temperature) \
                  SELECT timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour', i % 4, i \
                  FROM generate_series(0, 999) i";
    assert_eq!(
        an.execute(&RawSql::vouched(insert), &[]).await.unwrap(),
        1000
    );

    // What each data node holds, counted there; its chunks, from the access node.
    let table = TableName::new(Ident::new("sensor_data").unwrap());
    let chunks = an.chunks(&table).await.unwrap();
    let configs: Vec<_> = local.data_nodes().iter().map(|dn| dn.config()).collect();
    let counted = query_each(
        &configs,
        &RawSql::vouched("SELECT count(*) FROM sensor_data"),
        &[],
    )
    .await;
    let mut expected = Vec::new();
    for entry in counted {
        let rows: i64 = entry.result.unwrap()[0].get(0);
        let held = chunks
            .iter()
            .filter(|c| c.data_nodes.contains(&entry.node))
            .count();
        expected.push((entry.node, held, rows));
    }
    assert_eq!(expected.iter().map(|e| e.2).sum::<i64>(), 1000);
    assert!(expected.iter().all(|e| e.1 > 0), "{expected:?}");

    let (code, text) = run.human(&["chunks", "SPEC", "sensor_data"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(&format!(
            "public.sensor_data: {} chunks, 1,000 rows on 2 data nodes",
            chunks.len()
        )),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .find(|l| l.contains("dn1"))
        .expect("node names");
    assert!(header.contains("dn2"), "{text}");
    // The total line: chunks and rows under each node, in the order of the header.
    let total: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("total"))
        .expect("a total line")
        .split_whitespace()
        .skip(1)
        .collect();
    let mut want = Vec::new();
    for (_, held, rows) in &expected {
        want.push(held.to_string());
        want.push(thousands(*rows));
    }
    assert_eq!(total, want, "{text}");
    // Time ranges, earliest first, and each range's cells add up to the totals.
    let ranges: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("2026-"))
        .map(|l| &l[..10])
        .collect();
    assert!(ranges.len() >= 6, "{text}");
    assert!(ranges.windows(2).all(|w| w[0] <= w[1]), "{text}");

    // A table that is no hypertable is named.
    let (code, missing) = run.run(&["chunks", "SPEC", "no_such_table"], &[]);
    assert_eq!(code, Some(1), "{missing}");
    assert!(
        missing.contains("\"no_such_table\" is not a hypertable"),
        "{missing}"
    );

    let (code, error) = run.json(&["chunks", "SPEC", "no_such_table"]);
    assert_eq!(code, Some(1), "{error}");
    assert_eq!(
        keys(&error["error"]),
        ["kind", "message", "node", "operation", "sqlstate"]
    );
    assert_eq!(error["error"]["kind"], "invalid_input");
    assert_eq!(error["error"]["node"], "an");
    assert_eq!(error["error"]["operation"], "chunk placement");

    // Without a table: every distributed hypertable; and the same in JSON.
    let (code, all) = run.human(&["chunks", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(all, text);
    let (code, json) = run.json(&["chunks", "SPEC"]);
    assert_eq!(code, Some(0), "{json}");
    let placement = &json[0];
    assert_eq!(
        keys(placement),
        ["chunks", "data_nodes", "rows", "schema", "table"]
    );
    assert_eq!(placement["table"], "sensor_data");
    assert_eq!(placement["chunks"].as_array().unwrap().len(), chunks.len());
    for (entry, (node, _, rows)) in placement["rows"].as_array().unwrap().iter().zip(&expected) {
        assert_eq!(entry["node"], node.as_str());
        assert_eq!(entry["chunks_error"], Value::Null);
        let sum: i64 = entry["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rows"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, *rows, "{json}");
    }
}

/// `1,000`.
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
