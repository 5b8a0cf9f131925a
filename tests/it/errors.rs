//! Tier 1: errors from a real server read well. Walking a source chain (`error`, then
//! `error.source()`, ...) prints each text once; the kind says how to react; the server's
//! fields stay reachable.

use std::error::Error as StdError;

use timescaledb_multinode::tokio_postgres::{self, error::DbError};
use timescaledb_multinode::{
    AccessNode, Error, ErrorKind, NodeConfig, RawSql, SecretString, UserMapping,
};

use crate::common::plain_server;

/// Every text of `error`'s source chain, outermost first.
pub fn chain(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        source = cause.source();
    }
    texts
}

/// Panics when `needle` is not printed exactly once by a report of `error`'s chain, or when
/// a text of the chain holds a line of a later one.
pub fn assert_printed_once(error: &Error, needle: &str) {
    let texts = chain(error);
    let report = texts.join("\n");
    assert_eq!(
        report.matches(needle).count(),
        1,
        "{needle:?} is not printed once in {texts:#?}"
    );
    for (i, outer) in texts.iter().enumerate() {
        for inner in &texts[i + 1..] {
            for line in inner.lines().map(str::trim).filter(|l| l.len() > 3) {
                assert!(!outer.contains(line), "{line:?} twice in {texts:#?}");
            }
        }
    }
    assert!(!texts[0].ends_with('.'), "{}", texts[0]);
}

#[tokio::test]
async fn a_cause_chain_prints_each_server_message_once() {
    let server = plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();

    // A server error: the message holds the server's message, SQLSTATE and hint; no source.
    let err = an
        .query(
            &RawSql::vouched("SELECT pg_catalog.no_such_function(1)"),
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Database);
    assert!(err.source().is_none());
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42883");
    assert_printed_once(&err, db.message());
    assert_printed_once(&err, db.hint().unwrap());
    let shown = err.to_string();
    assert!(shown.starts_with("query on node an: "), "{shown}");
    assert!(shown.contains("(SQLSTATE 42883; hint: "), "{shown}");

    // With a DETAIL (a unique violation names the key).
    for sql in [
        "CREATE TABLE u (i int PRIMARY KEY)",
        "INSERT INTO u VALUES (1)",
    ] {
        an.execute(&RawSql::vouched(sql), &[]).await.unwrap();
    }
    let err = an
        .execute(&RawSql::vouched("INSERT INTO u VALUES (1)"), &[])
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "23505");
    assert_printed_once(&err, db.message());
    assert_printed_once(&err, db.detail().unwrap());

    // The kind follows the SQLSTATE: a missing table is "not found".
    let err = an
        .query(&RawSql::vouched("SELECT * FROM no_such_table"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.is_not_found());
    assert_printed_once(&err, err.as_db_error().unwrap().message());

    // A missing database.
    let err = server
        .config()
        .database("no_such_db")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_printed_once(&err, err.as_db_error().unwrap().message());

    // A refused password: the crate's words, then the server's (its DbError) once.
    let err = server
        .config()
        .password(SecretString::from("not the password"))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed);
    assert!(err.is_authentication_failure());
    assert_eq!(err.code().map(|c| c.code()), Some("28P01"));
    assert_eq!(chain(&err).len(), 2, "{:#?}", chain(&err));
    // The source is the server's `DbError` itself, so a caller can downcast to it.
    let source = err.source().unwrap();
    assert!(source.is::<DbError>(), "{source:?}");
    assert!(std::ptr::eq(
        source.downcast_ref::<DbError>().unwrap(),
        err.as_db_error().unwrap()
    ));
    assert_printed_once(&err, err.as_db_error().unwrap().message());
    assert_printed_once(&err, "authentication failed for user tsdbadmin");

    // What exists already is "already exists", by SQLSTATE.
    for sql in [
        "CREATE EXTENSION postgres_fdw",
        "CREATE SERVER dn1 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1')",
    ] {
        an.execute(&RawSql::vouched(sql), &[]).await.unwrap();
    }
    let mapping = || UserMapping::for_role("tsdbadmin", "dn1").password(SecretString::from("pw"));
    mapping().run(&an).await.unwrap();
    let err = mapping().run(&an).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err:?}");
    assert!(err.is_already_exists());
    assert!(!err.to_string().contains("data node"), "{err}");
    assert_printed_once(&err, err.as_db_error().unwrap().message());
    server.shutdown().await.unwrap();

    // Nothing answers: the crate's words, the driver's, the operating system's, each once.
    let port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let err = NodeConfig::new("127.0.0.1", "tsdbadmin", SecretString::from("x"))
        .name("dn2")
        .port(port)
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    let texts = chain(&err);
    assert_eq!(texts[0], "connect on node dn2: server unreachable");
    let io = texts.last().unwrap();
    assert_ne!(io, &texts[0]);
    // The source is the driver's error itself; the I/O error is below it.
    let source = err.source().unwrap();
    assert!(source.is::<tokio_postgres::Error>(), "{source:?}");
    assert_eq!(source.to_string(), "error connecting to server");
    assert!(err.as_db_error().is_none());
    assert_printed_once(&err, io);
}
