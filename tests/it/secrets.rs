//! Secret hygiene: every operation that handles a password runs with a sentinel password,
//! and the sentinel must appear in no `Debug` or `Display` output, no error (with its
//! `source()` chain), no tracing event, and no line of the servers' logs (which log every
//! statement here). The one place a password must live is the user-mapping catalog
//! (`pg_user_mapping`), which the server needs in clear for postgres_fdw.

use std::error::Error as _;
use std::fmt::Write as _;

use timescaledb_multinode::lifecycle::MappingChange;
use timescaledb_multinode::testing::{LocalCluster, LocalServer};
use timescaledb_multinode::{
    AccessNode, Bootstrap, DataNode, DistributedRole, Error, ExposeSecret, NodeConfig, Privilege,
    SecretString, ServerInfo, UpdateExtension, UserMapping,
};

use crate::common::tier2;
use crate::notices::capture;

const SENTINEL: &str = "Sent1nel-\u{e9}'\"\\;$$-pw";

/// Everything an error shows: Display, Debug, and every source's Display and Debug.
fn shown(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}\n");
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = writeln!(text, "{cause}\n{cause:?}");
        source = cause.source();
    }
    text
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} shows a password:\n{text}");
    }
}

#[tokio::test]
async fn tier1_no_password_in_debug_errors_traces_or_logs() {
    let (captured, _guard) = capture();
    let local = LocalServer::builder("an")
        .timescaledb(false)
        .setting("log_statement", "all")
        .setting("log_min_error_statement", "error")
        .start()
        .await
        .unwrap();
    let remote = LocalServer::builder("dn1")
        .timescaledb(false)
        .setting("log_statement", "all")
        .start()
        .await
        .unwrap();
    let mut everything = String::new();

    // Configs and fixtures.
    let bad = NodeConfig::new("127.0.0.1", "tsdbadmin", SecretString::from(SENTINEL))
        .name("an")
        .port(local.port())
        .database("tsdb");
    let _ = writeln!(everything, "{bad:?}\n{local:?}\n{remote:?}");
    let pg = bad.to_tokio_postgres().unwrap();
    let _ = writeln!(everything, "{pg:?}");

    // Wrong password: connect, detect, access node, pool.
    everything += &shown(&bad.connect().await.unwrap_err());
    everything += &shown(&ServerInfo::detect(&bad).await.unwrap_err());
    everything += &shown(&AccessNode::connect(bad.clone()).await.unwrap_err());

    // User mappings carrying the sentinel, through postgres_fdw.
    let admin = local.config().connect().await.unwrap();
    admin
        .batch_execute(&format!(
            "CREATE EXTENSION postgres_fdw; CREATE SERVER dn1 FOREIGN DATA WRAPPER postgres_fdw \
             OPTIONS (host '127.0.0.1', port '{}', dbname 'tsdb'); CREATE ROLE app LOGIN",
            remote.port()
        ))
        .await
        .unwrap();
    let an = AccessNode::connect(local.config()).await.unwrap();
    let mapping = UserMapping::for_role("app", "dn1")
        .remote_user("app")
        .password(SecretString::from(SENTINEL));
    let _ = writeln!(everything, "{mapping:?}");
    mapping.clone().idempotent().run(&an).await.unwrap();
    mapping.clone().idempotent().run(&an).await.unwrap();
    let change = mapping.clone().idempotent().run(&an).await.unwrap();
    assert_eq!(change, MappingChange::Updated);
    // A failing mapping statement: the error and the server's error log stay clean.
    everything += &shown(&mapping.clone().run(&an).await.unwrap_err());
    let on_missing =
        UserMapping::for_role("app", "no_such_server").password(SecretString::from(SENTINEL));
    everything += &shown(&on_missing.idempotent().run(&an).await.unwrap_err());

    // The one place the password lives: the user-mapping catalog.
    let stored: Vec<String> = admin
        .query_one(
            "SELECT umoptions::text[] FROM pg_user_mapping m JOIN pg_foreign_server s \
             ON s.oid = m.umserver WHERE s.srvname = 'dn1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stored.iter().any(|o| o == &format!("password={SENTINEL}")));

    everything += &captured.text();
    assert!(captured.text().contains("server notice") || !captured.text().is_empty());
    assert!(
        local.log().contains("CREATE SERVER dn1"),
        "statements are logged"
    );
    everything += &local.log();
    everything += &remote.log();
    assert_clean("tier 1 output", &everything, &[SENTINEL]);
    local.shutdown().await.unwrap();
    remote.shutdown().await.unwrap();
}

#[tokio::test]
async fn tier2_no_password_in_debug_errors_traces_or_logs() {
    let Some(_) = tier2() else { return };
    let (captured, _guard) = capture();
    let cluster = LocalCluster::builder()
        .data_nodes(2)
        .setting("log_statement", "all")
        .start()
        .await
        .unwrap();
    let mut secrets: Vec<String> = cluster
        .nodes()
        .map(|n| n.password().expose_secret().to_owned())
        .collect();
    secrets.push(SENTINEL.to_owned());
    let an_pw = "role-an-Sent1nel";
    let dn_pw = "role-dn-Sent1nel";
    secrets.push(an_pw.to_owned());
    secrets.push(dn_pw.to_owned());
    let mut everything = format!("{cluster:?}\n");

    UpdateExtension::new()
        .run_cluster(&cluster.access_node_config(), &cluster.data_node_configs())
        .await
        .unwrap();
    let an = AccessNode::connect(cluster.access_node_config())
        .await
        .unwrap();
    for dn in cluster.data_nodes() {
        let builder = DataNode::from_config(&dn.config()).bootstrap(Bootstrap::ExistingDatabase);
        let _ = writeln!(everything, "{builder:?}");
        let added = builder.run(&an).await.unwrap();
        let _ = writeln!(everything, "{added:?}");
    }
    // A data node with a wrong password: the error names the node, not the password.
    let dn1 = &cluster.data_nodes()[0];
    let wrong = DataNode::new("dn1_wrong", "127.0.0.1")
        .port(dn1.port())
        .database("tsdb")
        .password(SecretString::from(SENTINEL))
        .bootstrap(Bootstrap::ExistingDatabase);
    everything += &shown(&wrong.run(&an).await.unwrap_err());

    // A distributed role: passwords as SCRAM verifiers on every node, mappings in clear.
    let client = an.config().connect().await.unwrap();
    client
        .batch_execute("CREATE TABLE t(time timestamptz NOT NULL, v int)")
        .await
        .unwrap();
    timescaledb_multinode::DistributedHypertable::new("t", "time")
        .run(&an)
        .await
        .unwrap();
    let role = DistributedRole::new("mn_user1", SecretString::from(an_pw))
        .data_node_password(SecretString::from(dn_pw))
        .grant([Privilege::Select], "t");
    let _ = writeln!(everything, "{role:?}");
    role.clone().run(&an).await.unwrap();
    role.run(&an).await.unwrap();
    let as_user = NodeConfig::new("127.0.0.1", "mn_user1", SecretString::from(an_pw))
        .port(cluster.access_node().port())
        .database("tsdb");
    as_user
        .connect()
        .await
        .unwrap()
        .simple_query("SELECT count(*) FROM t")
        .await
        .unwrap();

    everything += &captured.text();
    assert!(
        cluster.access_node().log().contains("CREATE TABLE t"),
        "statements are logged"
    );
    for node in cluster.nodes() {
        everything += &node.log();
    }
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_clean("tier 2 output", &everything, &secrets);
    cluster.shutdown().await.unwrap();
}

/// Tier 1: a role that is not a superuser cannot turn `log_statement = all` off for its
/// session, so a mapping password is refused before it is sent, naming the setting; with the
/// risk accepted it is sent (and the log shows why refusing was right).
#[tokio::test]
async fn tier1_a_setting_the_role_cannot_change_is_refused_naming_it() {
    use timescaledb_multinode::testing::AdminModel;
    use timescaledb_multinode::{RoleSpec, SecretLogging};

    let server = LocalServer::builder("an")
        .timescaledb(false)
        .admin(AdminModel::ManagedService)
        .setting("log_statement", "all")
        .start()
        .await
        .unwrap();
    server
        .superuser_client("tsdb")
        .await
        .unwrap()
        .batch_execute(
            "CREATE EXTENSION postgres_fdw; CREATE SERVER dn1 FOREIGN DATA WRAPPER postgres_fdw; \
             GRANT USAGE ON FOREIGN SERVER dn1 TO tsdbadmin",
        )
        .await
        .unwrap();
    let an = AccessNode::connect(server.config()).await.unwrap();
    let mapping = |pw: &str| {
        UserMapping::new(RoleSpec::CurrentUser, "dn1").password(SecretString::from(pw.to_owned()))
    };
    let refused = mapping(SENTINEL).run(&an).await.unwrap_err();
    match &refused {
        Error::SecretWouldBeLogged { node, setting, .. } => {
            assert_eq!(node, "an");
            assert_eq!(setting, "log_statement");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(refused.to_string().contains("log_statement"), "{refused}");
    assert!(
        !server.log().contains("Sent1nel"),
        "nothing secret was sent"
    );

    let accepted = "accepted-Sent1nel-pw";
    mapping(accepted)
        .run(&an.clone().secret_logging(SecretLogging::Accept))
        .await
        .unwrap();
    assert!(
        server.log().contains(accepted),
        "with the risk accepted, this server logs the password"
    );
    server.shutdown().await.unwrap();
}
