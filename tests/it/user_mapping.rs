//! Tier 1: user mappings on a postgres_fdw server between two plain PostgreSQL servers,
//! with hostile names, proven by querying through the mapping (SCRAM on the remote side).

use timescaledb_multinode::lifecycle::MappingChange;
use timescaledb_multinode::testing::LocalServer;
use timescaledb_multinode::{
    AccessNode, DropUserMapping, Error, ExposeSecret, RoleSpec, SecretString, UserMapping,
};

/// A role name and a server name full of quotes, spaces, backslashes and unicode.
const ROLE: &str = "mn \"user\" 'x'; \\ ü";
const SERVER: &str = "dn 'odd\"name";
const MAPPING_SECRET: &str = "mapping-sentinel-\u{e9}'\"\\-pw";

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

async fn servers() -> (LocalServer, LocalServer) {
    let local = LocalServer::builder("an")
        .timescaledb(false)
        .setting("log_statement", "all")
        .start()
        .await
        .unwrap();
    let remote = LocalServer::builder("dn1")
        .timescaledb(false)
        .setting("log_statement", "all")
        .start()
        .await
        .unwrap();
    (local, remote)
}

#[tokio::test]
async fn mappings_with_hostile_names_work_through_postgres_fdw() {
    let (local, remote) = servers().await;
    // On the remote: the login the mapping uses, with the secret as its password, and a table.
    let remote_admin = remote.config().connect().await.unwrap();
    remote_admin
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN PASSWORD {}; CREATE TABLE t(i int); INSERT INTO t VALUES (1), (2); \
             GRANT SELECT ON t TO {}",
            quote_ident(ROLE),
            quote_literal(MAPPING_SECRET),
            quote_ident(ROLE)
        ))
        .await
        .unwrap();
    // Locally: postgres_fdw, the foreign server, the role, a foreign table.
    let admin = local.config().connect().await.unwrap();
    admin
        .batch_execute(&format!(
            "CREATE EXTENSION postgres_fdw; \
             CREATE SERVER {s} FOREIGN DATA WRAPPER postgres_fdw \
               OPTIONS (host '127.0.0.1', port '{port}', dbname 'tsdb'); \
             CREATE ROLE {r} LOGIN PASSWORD 'local-pw'; \
             CREATE FOREIGN TABLE ft(i int) SERVER {s} OPTIONS (table_name 't'); \
             GRANT SELECT ON ft TO {r}",
            s = quote_ident(SERVER),
            r = quote_ident(ROLE),
            port = remote.port()
        ))
        .await
        .unwrap();

    let an = AccessNode::connect(local.config()).await.unwrap();
    let mapping = || {
        UserMapping::for_role(ROLE, SERVER)
            .remote_user(ROLE)
            .password(SecretString::from(MAPPING_SECRET))
    };
    assert_eq!(
        mapping().idempotent().run(&an).await.unwrap(),
        MappingChange::Created
    );
    assert_eq!(
        mapping().idempotent().run(&an).await.unwrap(),
        MappingChange::Updated
    );

    // The role queries the remote table through its mapping.
    let as_role =
        timescaledb_multinode::NodeConfig::new("127.0.0.1", ROLE, SecretString::from("local-pw"))
            .name("an")
            .port(local.port())
            .database("tsdb");
    let count = |config: timescaledb_multinode::NodeConfig| async move {
        let client = config.connect().await.unwrap();
        client
            .query_one("SELECT count(*) FROM ft", &[])
            .await
            .map(|row| row.get::<_, i64>(0))
    };
    assert_eq!(count(as_role.clone()).await.unwrap(), 2);

    // A wrong password in the mapping breaks it; an idempotent run repairs it.
    let change = UserMapping::for_role(ROLE, SERVER)
        .password(SecretString::from("wrong"))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    assert_eq!(change, MappingChange::Updated);
    assert!(count(as_role.clone()).await.is_err());
    assert_eq!(
        mapping().idempotent().run(&an).await.unwrap(),
        MappingChange::Updated
    );
    assert_eq!(count(as_role.clone()).await.unwrap(), 2);

    // Creating it again is refused by the server; dropping works once.
    let err = mapping().run(&an).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42710"), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(MAPPING_SECRET));
    let drop = || DropUserMapping::for_role(ROLE, SERVER);
    assert!(drop().run(&an).await.unwrap());
    let err = drop().run(&an).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42704"), "{err:?}");
    assert!(err.is_not_found(), "{err:?}");
    assert!(!drop().idempotent().run(&an).await.unwrap());
    // Without idempotent(), a missing mapping is created; dropped idempotently, it is gone.
    assert_eq!(mapping().run(&an).await.unwrap(), MappingChange::Created);
    assert!(drop().idempotent().run(&an).await.unwrap());
    assert!(count(as_role).await.is_err());

    // PUBLIC and CURRENT_USER mappings render and apply too.
    UserMapping::new(RoleSpec::Public, SERVER)
        .remote_user(ROLE)
        .password(SecretString::from(MAPPING_SECRET))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    UserMapping::new(RoleSpec::CurrentUser, SERVER)
        .password(SecretString::from(MAPPING_SECRET))
        .idempotent()
        .run(&an)
        .await
        .unwrap();

    // The local server logged every statement, but never the mapping's password (the crate
    // turned statement logging off around each mapping statement).
    let log = local.log();
    assert!(log.contains("CREATE SERVER"), "log_statement = all is on");
    assert!(
        !log.contains(MAPPING_SECRET),
        "the mapping password reached the server log"
    );
    assert!(!log.contains(local.password().expose_secret()));
    local.shutdown().await.unwrap();
    remote.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_names_are_refused_before_anything_is_sent() {
    let (local, remote) = servers().await;
    let an = AccessNode::connect(local.config()).await.unwrap();
    for mapping in [
        UserMapping::for_role("", "dn1"),
        UserMapping::for_role("r", "x".repeat(64)),
        UserMapping::for_role("r", "dn1").remote_user("nul\0"),
    ] {
        let err = mapping.idempotent().run(&an).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.node(), Some("an"));
        assert_eq!(err.operation(), "ensure user mapping");
    }
    for drop in [
        DropUserMapping::for_role("", "dn1"),
        DropUserMapping::new(RoleSpec::Public, "x".repeat(64)),
    ] {
        let err = drop.idempotent().run(&an).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.operation(), "drop user mapping");
    }
    // A server that does not exist: the server's error, typed.
    let err = UserMapping::for_role("tsdbadmin", "no_such_server")
        .password(SecretString::from("x"))
        .idempotent()
        .run(&an)
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42704"), "{err:?}");
    local.shutdown().await.unwrap();
    remote.shutdown().await.unwrap();
}
