//! The error type's own tests: what each message says, and that a source chain prints each
//! text once. A driver error is made here from a connection string that does not parse;
//! one that carries the server's `DbError`, which only a server can produce, is checked the
//! same way in the integration tests.

use std::error::Error as StdError;
use std::time::Duration;

use super::*;

#[test]
fn error_is_send_sync_static() {
    fn assert<T: Send + Sync + 'static>() {}
    assert::<Error>();
    assert::<ErrorKind>();
}

#[test]
fn invalid_input_names_operation_and_node() {
    let e = Error::invalid("connect", Some("dn1"), "port must not be 0");
    assert_eq!(
        e.to_string(),
        "connect on node dn1: invalid input: port must not be 0"
    );
    assert_eq!(e.node(), Some("dn1"));
    assert_eq!(e.operation(), "connect");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.code().is_none());
}

#[cfg(feature = "testing")]
#[test]
fn fixture_error_shows_log_tail() {
    let e = Error::Fixture {
        op: "start local server",
        reason: "pg_ctl failed".into(),
        log_tail: Some("FATAL: boom".into()),
    };
    assert!(e.to_string().contains("FATAL: boom"));
    assert_eq!(e.server_log_tail(), Some("FATAL: boom"));
    assert_eq!(e.kind(), ErrorKind::Fixture);
}

/// Every text of `error`'s source chain, outermost first.
pub(crate) fn chain(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        source = cause.source();
    }
    texts
}

/// Panics when a text of the chain holds a later one (what a report walking the chain
/// would print twice).
pub(crate) fn assert_each_text_once(error: &(dyn StdError + 'static)) {
    let texts = chain(error);
    for (i, outer) in texts.iter().enumerate() {
        for inner in &texts[i + 1..] {
            for line in inner.lines().map(str::trim).filter(|l| l.len() > 3) {
                assert!(
                    !outer.contains(line),
                    "{line:?} is printed twice in the chain {texts:#?}"
                );
            }
        }
    }
}

#[test]
fn errors_without_a_driver_error_have_no_source_and_say_it_once() {
    let several = Error::Several {
        op: "apply",
        errors: vec![
            Error::Timeout {
                op: "apply",
                node: "dn1".into(),
                after: Duration::from_secs(3),
            },
            Error::invalid("apply", Some("dn2"), "bad"),
        ],
    };
    assert_eq!(
        several.to_string(),
        "apply: 2 errors: apply on node dn1: timed out after 3s; apply on node dn2: invalid \
         input: bad"
    );
    assert_eq!(several.kind(), ErrorKind::Several);
    assert_eq!(several.node(), Some("dn1"));
    let errors = [
        several,
        Error::Deadline {
            op: "ingest",
            node: "an".into(),
            after: Duration::from_millis(1500),
        },
        Error::SecretWouldBeLogged {
            op: "create user mapping",
            node: "dn1".into(),
            setting: "log_statement".into(),
        },
        Error::StalePlan {
            op: "apply",
            node: "an".into(),
            reason: "the fingerprint differs".into(),
        },
    ];
    for error in &errors {
        assert!(error.source().is_none(), "{error:?}");
        assert_each_text_once(error);
        let text = error.to_string();
        assert!(!text.ends_with('.') && !text.contains('\n'), "{text}");
        assert!(text.starts_with(error.operation()), "{text}");
    }
    // The secret guard's message reads as one sentence (no run of blanks).
    assert!(!errors[2].to_string().contains("  "), "{}", errors[2]);
}

#[test]
fn timeouts_are_one_kind() {
    for error in [
        Error::Timeout {
            op: "connect",
            node: "dn1".into(),
            after: Duration::from_secs(1),
        },
        Error::Deadline {
            op: "query",
            node: "an".into(),
            after: Duration::from_secs(1),
        },
        Error::PoolTimeout {
            op: "query",
            node: "an".into(),
            after: Duration::from_secs(1),
        },
        Error::ApplyLockHeld {
            op: "apply cluster",
            node: "an".into(),
            holder: "pid 7".into(),
            after: Duration::from_secs(1),
        },
    ] {
        assert_eq!(error.kind(), ErrorKind::Timeout);
        assert!(error.is_timeout());
        assert!(!error.is_unreachable() && !error.is_authentication_failure());
    }
}

#[test]
fn kinds_are_named_once_in_snake_case() {
    let kinds = [
        ErrorKind::InvalidInput,
        ErrorKind::Unreachable,
        ErrorKind::ConnectionLost,
        ErrorKind::Timeout,
        ErrorKind::AuthenticationFailed,
        ErrorKind::ChannelBindingNotUsed,
        ErrorKind::Tls,
        ErrorKind::UnsupportedServer,
        ErrorKind::MissingPrivilege,
        ErrorKind::AlreadyExists,
        ErrorKind::NotFound,
        ErrorKind::NoUserMapping,
        ErrorKind::DataNodeDown,
        ErrorKind::WouldLoseData,
        ErrorKind::SecretWouldBeLogged,
        ErrorKind::Conflict,
        ErrorKind::StalePlan,
        ErrorKind::VerificationFailed,
        ErrorKind::Several,
        ErrorKind::Database,
        ErrorKind::Client,
    ];
    let names: std::collections::BTreeSet<&str> = kinds.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), kinds.len());
    for kind in kinds {
        let name = kind.as_str();
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{name}"
        );
        assert_eq!(kind.to_string(), name);
    }
}

/// A driver error made without a server: a connection string that does not parse. Its
/// message is the driver's (`invalid connection string`), its source the parser's reason.
fn driver_error() -> tokio_postgres::Error {
    "port=none"
        .parse::<tokio_postgres::Config>()
        .expect_err("port=none does not parse")
}

/// Every variant that carries a driver error, built around `driver_error()`, with the message
/// it must show.
fn with_driver_error() -> Vec<(Error, &'static str)> {
    let (op, node) = ("connect", String::from("dn1"));
    vec![
        (
            Error::Unreachable {
                op,
                node: node.clone(),
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: server unreachable",
        ),
        (
            Error::AuthenticationFailed {
                op,
                node: node.clone(),
                user: "u1".into(),
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: authentication failed for user u1",
        ),
        (
            Error::ChannelBindingNotUsed {
                op,
                node: node.clone(),
                user: "u1".into(),
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: channel binding required, but the server authenticated \
             without it (it needs SCRAM-SHA-256 authentication for user u1, over TLS)",
        ),
        (
            Error::ConnectionLost {
                op,
                node: node.clone(),
                driver: DriverError::new(driver_error()),
                ended_by: None,
            },
            "connect on node dn1: connection lost",
        ),
        (
            Error::Tls {
                op,
                node: node.clone(),
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: TLS handshake failed",
        ),
        (
            Error::AlreadyExists {
                op,
                node: node.clone(),
                object: "data node \"dn2\"".into(),
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: data node \"dn2\" already exists",
        ),
        (
            Error::NotFound {
                op,
                node: node.clone(),
                object: "data node \"dn9\"".into(),
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: data node \"dn9\" does not exist",
        ),
        (
            Error::NoUserMapping {
                op,
                node: node.clone(),
                driver: DriverError::new(driver_error()),
            },
            "connect: the access node has no password for data node dn1 (no user mapping)",
        ),
        (
            Error::WouldLoseData {
                op,
                node: node.clone(),
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: refused, it would lose data",
        ),
        (
            Error::Client {
                op,
                node,
                driver: DriverError::new(driver_error()),
            },
            "connect on node dn1: client error",
        ),
    ]
}

#[test]
fn a_classified_driver_error_says_what_happened_and_its_source_says_why() {
    for (error, message) in with_driver_error() {
        assert_eq!(error.to_string(), message);
        // The source is the driver's error itself (the server's `DbError` when the server
        // reported one, which only a server can make: see the integration tests), then
        // the driver's own source.
        let source = error.source().expect("a classified error has a source");
        assert!(source.is::<tokio_postgres::Error>(), "{error:?}");
        assert_eq!(
            chain(&error),
            [
                message,
                "invalid connection string",
                "invalid value for option `port`"
            ]
        );
        assert_each_text_once(&error);
        assert!(error.driver().is_some() && error.as_db_error().is_none());
    }
}

#[test]
fn a_database_error_without_the_servers_fields_says_what_the_driver_says() {
    let error = Error::Database {
        op: "query",
        node: "an".into(),
        driver: DriverError::new(driver_error()),
    };
    assert_eq!(
        error.to_string(),
        "query on node an: invalid connection string"
    );
    assert!(error.source().is_none());
    assert!(error.driver().is_some());
    assert_eq!(error.kind(), ErrorKind::Database);
}

#[test]
fn every_message_without_a_driver_error_is_pinned() {
    let after = Duration::from_millis(1500);
    let mismatch = Mismatch {
        table: "\"public\".\"t\"".into(),
        chunks: vec!["_hyper_1_1_chunk".into(), "_hyper_1_2_chunk".into()],
        source_rows: 10,
        source_checksum: "abc".into(),
        target_rows: 9,
        target_checksum: "abd".into(),
    };
    let cases = [
        (
            Error::invalid("connect", None, "empty host"),
            "connect: invalid input: empty host",
        ),
        (
            Error::Timeout {
                op: "connect",
                node: "dn1".into(),
                after,
            },
            "connect on node dn1: timed out after 1.5s",
        ),
        (
            Error::Deadline {
                op: "ingest",
                node: "an".into(),
                after,
            },
            "ingest on node an: did not finish within 1.5s; cancelled",
        ),
        (
            Error::PoolTimeout {
                op: "query",
                node: "an".into(),
                after,
            },
            "query on node an: no pooled connection free after 1.5s",
        ),
        (
            Error::ApplyLockHeld {
                op: "apply cluster",
                node: "an".into(),
                holder: "pid 7 (user \"ops\")".into(),
                after,
            },
            "apply cluster on node an: the apply lock is still held after 1.5s, by pid 7 \
             (user \"ops\")",
        ),
        (
            Error::UnsupportedServer {
                op: "connect",
                node: "an".into(),
                reason: "no TimescaleDB".into(),
            },
            "connect on node an: unsupported server: no TimescaleDB",
        ),
        (
            Error::MissingPrivilege {
                op: "add data node",
                node: "an".into(),
                role: "admin".into(),
                privilege: "SUPERUSER".into(),
            },
            "add data node on node an: the role admin lacks SUPERUSER",
        ),
        (
            Error::DataNodeDown {
                op: "ingest",
                node: "dn2".into(),
            },
            "ingest: data node dn2 does not answer the access node; refusing to write",
        ),
        (
            Error::SecretWouldBeLogged {
                op: "create user mapping",
                node: "dn1".into(),
                setting: "log_statement".into(),
            },
            "create user mapping on node dn1: refusing to send a secret: the setting \
             log_statement would record it, and this role cannot turn it off (a superuser \
             can; or accept the risk with SecretLogging::Accept)",
        ),
        (
            Error::VerificationFailed {
                op: "migrate",
                node: "target".into(),
                mismatch: Box::new(mismatch),
            },
            "migrate on node target: table \"public\".\"t\": the rows of chunk(s) \
             _hyper_1_1_chunk, _hyper_1_2_chunk differ: the data nodes have 10 rows \
             (checksum abc), the target 9 (checksum abd)",
        ),
        (
            Error::Conflict {
                op: "plan",
                node: "an".into(),
                reason: "t is not distributed".into(),
            },
            "plan on node an: conflict: t is not distributed",
        ),
        (
            Error::StalePlan {
                op: "apply",
                node: "an".into(),
                reason: "the fingerprint differs".into(),
            },
            "apply on node an: the plan is out of date: the fingerprint differs",
        ),
        (
            Error::Several {
                op: "apply",
                errors: vec![],
            },
            "apply: 0 errors: ",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
        assert!(error.source().is_none(), "{error:?}");
        assert!(error.driver().is_none(), "{error:?}");
    }
}

#[cfg(feature = "testing")]
#[test]
fn a_fixture_error_without_a_log_is_one_line() {
    let e = Error::Fixture {
        op: "start local server",
        reason: "pg_ctl failed".into(),
        log_tail: None,
    };
    assert_eq!(e.to_string(), "start local server: pg_ctl failed");
    let e = Error::Fixture {
        op: "start local server",
        reason: "pg_ctl failed".into(),
        log_tail: Some("FATAL: boom\nLOG: down".into()),
    };
    assert_eq!(
        e.to_string(),
        "start local server: pg_ctl failed\n--- server log (last lines) ---\nFATAL: boom\nLOG: down"
    );
    assert!(e.source().is_none());
}

#[test]
fn a_driver_error_gives_the_drivers_error_and_derefs_to_the_cause() {
    let driver = DriverError::new(driver_error());
    assert_eq!(
        format!("{driver:?}"),
        format!("{:?}", driver.get_ref()),
        "Debug is the driver's error's"
    );
    // Without the server's fields, the cause is the driver's error itself.
    let cause: &(dyn StdError + Send + Sync + 'static) = &*driver;
    assert!(std::ptr::eq(
        cause.downcast_ref::<tokio_postgres::Error>().unwrap(),
        driver.get_ref()
    ));
    assert_eq!(driver.into_inner().to_string(), "invalid connection string");
}
