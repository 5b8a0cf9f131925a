//! Connecting: success, and each failure as its own error variant naming the node.

use std::time::{Duration, Instant};

use timescaledb_multinode::tokio_postgres::error::SqlState;
use timescaledb_multinode::{Error, NodeConfig, SecretString};

use crate::common::plain_server;

const SENTINEL: &str = "sentinel-Pa55-\u{e9}'\"\\-never-shown";

#[tokio::test]
async fn connects_with_scram_and_runs_a_query() {
    let server = plain_server("an").await;
    let client = server.config().connect().await.unwrap();
    let row = client
        .query_one(
            "SELECT current_user::text, current_database()::text, \
                    (SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "tsdbadmin");
    assert_eq!(row.get::<_, String>(1), "tsdb");
    assert_eq!(row.get::<_, String>(2), "scram-sha-256");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_an_authentication_failure_naming_the_node() {
    let server = plain_server("dn1").await;
    let config = NodeConfig::new("127.0.0.1", "tsdbadmin", SecretString::from(SENTINEL))
        .name("dn1")
        .port(server.port())
        .database("tsdb");
    let err = config.connect().await.unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");
    assert!(err.is_authentication_failure());
    assert_eq!(err.node(), Some("dn1"));
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD));
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("dn1"), "{shown}");
    assert!(
        shown.contains("authentication failed for user tsdbadmin"),
        "{shown}"
    );
    assert!(!shown.contains(SENTINEL), "password leaked: {shown}");
    // Nor does the server log hold it.
    assert!(!server.log().contains(SENTINEL));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn nothing_listening_is_unreachable_naming_the_node() {
    let port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let config = NodeConfig::new("127.0.0.1", "tsdbadmin", SecretString::from(SENTINEL))
        .name("dn2")
        .port(port);
    let err = config.connect().await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_unreachable());
    assert!(!err.is_timeout());
    assert_eq!(err.node(), Some("dn2"));
    let shown = err.to_string();
    assert!(
        shown.starts_with("connect on node dn2: server unreachable"),
        "{shown}"
    );
    assert!(!format!("{shown} {err:?}").contains(SENTINEL));
}

#[tokio::test]
async fn connect_timeout_is_reported_as_a_timeout() {
    // A listener that accepts TCP connections and never answers.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let config = NodeConfig::new("127.0.0.1", "u", SecretString::from("p"))
        .name("slow")
        .port(port)
        .connect_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = config.connect().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.node(), Some("slow"));
}

#[tokio::test]
async fn invalid_config_is_refused_before_connecting() {
    // 192.0.2.1 (TEST-NET-1) would hang if a connection were attempted; nothing is sent.
    let base = NodeConfig::new("192.0.2.1", "tsdbadmin", SecretString::from("p")).name("an");
    let cases = [
        base.clone().port(0),
        base.clone().database("x".repeat(64)),
        base.clone().database("nul\0byte"),
        NodeConfig::new("", "tsdbadmin", SecretString::from("p")).name("an"),
        NodeConfig::new("192.0.2.1", "bad\0user", SecretString::from("p")).name("an"),
    ];
    for config in cases {
        let started = Instant::now();
        let err = config.connect().await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.node(), Some("an"));
        assert_eq!(err.operation(), "connect");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[tokio::test]
async fn missing_database_is_a_database_error_with_sqlstate() {
    let server = plain_server("an").await;
    let err = server
        .config()
        .database("no_such_db")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::INVALID_CATALOG_NAME));
    let db = err.as_db_error().unwrap();
    assert!(db.message().contains("no_such_db"));
    assert!(err.to_string().contains("(SQLSTATE 3D000)"), "{err}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn lost_connection_after_server_stop() {
    let mut server = plain_server("dn1").await;
    let client = server.config().connect().await.unwrap();
    server.stop().await.unwrap();
    let err = client.simple_query("SELECT 1").await.unwrap_err();
    assert!(err.is_closed() || err.as_db_error().is_some(), "{err:?}");
    // Starting again on the same port makes the node reachable again.
    server.start().await.unwrap();
    server.config().connect().await.unwrap();
    server.shutdown().await.unwrap();
}

/// Every byte of `s` that is not an unreserved URL character, percent-encoded.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn connects_with_a_config_parsed_from_a_url_and_a_connection_string() {
    let server = plain_server("an").await;
    // A role whose password has every character a URL or a connection string treats
    // specially.
    const HOSTILE: &str = "p@ss:w/o%rd? #&='q' \\ \u{e9}";
    let superuser = server.superuser_client("tsdb").await.unwrap();
    let literal = HOSTILE.replace('\'', "''");
    superuser
        .batch_execute(&format!("CREATE ROLE app LOGIN PASSWORD '{literal}'"))
        .await
        .unwrap();
    let port = server.port();

    let url = format!(
        "postgresql://app:{}@127.0.0.1:{port}/tsdb?sslmode=disable&application_name=from-url",
        percent_encode(HOSTILE)
    );
    let quoted = HOSTILE.replace('\\', "\\\\").replace('\'', "\\'");
    let keyword_value = format!(
        "host=127.0.0.1 port={port} user=app password='{quoted}' dbname=tsdb \
         sslmode=disable application_name=from-string"
    );
    let mut driver = timescaledb_multinode::tokio_postgres::Config::new();
    driver
        .host("127.0.0.1")
        .port(port)
        .user("app")
        .password(HOSTILE)
        .dbname("tsdb")
        .application_name("from-driver");
    let configs = [
        ("from-url", url.parse::<NodeConfig>().unwrap()),
        (
            "from-string",
            NodeConfig::from_connection_string(&keyword_value).unwrap(),
        ),
        (
            "from-driver",
            NodeConfig::try_from(&driver).unwrap().name("an"),
        ),
    ];
    for (application, config) in configs {
        assert!(!format!("{config:?}").contains("p@ss"));
        let client = config.connect().await.unwrap();
        let row = client
            .query_one(
                "SELECT current_user::text, current_setting('application_name')",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "app");
        assert_eq!(row.get::<_, String>(1), application);
    }

    // A wrong password: refused by the server, and the error shows neither password.
    let wrong: NodeConfig = format!("postgresql://app:Wr0ng-{}@127.0.0.1:{port}/tsdb", "Secret")
        .parse()
        .unwrap();
    let err = wrong.connect().await.unwrap_err();
    assert!(err.is_authentication_failure(), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("Wr0ng-Secret") && !shown.contains("p@ss"),
        "{shown}"
    );
    server.shutdown().await.unwrap();
}
