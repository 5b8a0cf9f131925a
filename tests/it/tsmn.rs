//! Tier 2: the `tsmn` example (plan / apply / status / rotate / heal from a spec file),
//! run as a program against a local cluster.

use std::path::PathBuf;
use std::process::{Command, Output};

use timescaledb_multinode::testing::{AdminModel, LocalCluster};
use timescaledb_multinode::ExposeSecret;

use crate::common::{example_binary, tier2};

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
    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, String) {
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
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }
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

    let (code, text) = run.run(&["plan", "SPEC"], &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("AddDataNode dn1 on an") && text.contains("[REDACTED]"),
        "{text}"
    );
    let (code, text) = run.run(&["apply", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    // The managed service's superuser created the extension on every node already.
    let steps = if model == AdminModel::ManagedService {
        5
    } else {
        8
    };
    assert!(text.contains(&format!("applied {steps} steps")), "{text}");
    let (code, text) = run.run(&["plan", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("converged"), "{text}");
    let (code, text) = run.run(&["status", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("healthy: true"), "{text}");
    let (code, text) = run.run(&["heal", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("clean: true"), "{text}");

    let (code, text) = run.run(
        &["rotate", "SPEC", "dn1"],
        &[("TSMN_NEW_PASSWORD", "rotated dn1 password")],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verified: true"), "{text}");
    // With the old password in the environment, dn1 is no longer reachable directly.
    let (code, text) = run.run(&["status", "SPEC"], &[]);
    assert_eq!(code, Some(2), "{text}");
    run.dn1_password = "rotated dn1 password".to_owned();
    let (code, text) = run.run(&["status", "SPEC"], &[]);
    assert_eq!(code, Some(0), "{text}");

    // No password ever printed.
    for node in local.nodes() {
        assert!(!text.contains(node.password().expose_secret()));
    }
    local.shutdown().await.unwrap();
}
