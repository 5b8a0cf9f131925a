//! The error type's own tests: what a message says, and that a source chain prints each
//! text once (errors that carry a driver error, which only a server can produce, are
//! checked the same way in the integration tests).

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
