//! Whether a password is the one a role's stored verifier was made from, checked here, the
//! way the server checks a login, without logging in.
//!
//! A superuser can read `pg_authid.rolpassword`: a SCRAM-SHA-256 verifier (or, on old
//! servers, an MD5 hash). Recomputing the stored key from the spec's password and the
//! verifier's salt and iteration count answers "would this password log in?" as the server
//! would, but with no backend started, no login attempt in the node's log and no round trip.
//! The verifier stays a [`SecretString`]; the outcome for a (verifier, password) pair is
//! kept, so a cluster checked again costs nothing until a password changes.

use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::connect::Session;
use crate::error::Result;
use crate::server::ServerInfo;
use crate::sql::role::{ROLES_LOGIN, ROLES_LOGIN_VERIFIER, ROLE_VERIFIER};

/// How many (verifier, password) outcomes a cluster keeps; the oldest go first.
const KEPT: usize = 256;

/// What a role's stored password is, as read from one node.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    /// The admin may not read it (not a superuser): only a login tells.
    NotRead,
    /// The role has no password: no password logs in.
    None,
    /// The role's verifier (or hash).
    Verifier(SecretString),
}

/// The outcomes already worked out, shared by a cluster's clones.
#[derive(Debug, Default)]
pub(crate) struct Verified {
    kept: Mutex<Vec<(SecretString, SecretString, bool)>>,
}

impl Verified {
    /// Whether `password` logs in as `role` by `stored`; `None` when only a login tells
    /// (not read, or a format this crate does not know).
    pub(crate) fn matches(
        &self,
        stored: &Stored,
        role: &str,
        password: &SecretString,
    ) -> Option<bool> {
        let verifier = match stored {
            Stored::NotRead => return None,
            Stored::None => return Some(false),
            Stored::Verifier(v) => v,
        };
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, _, ok)) = kept.iter().find(|(v, p, _)| {
            v.expose_secret() == verifier.expose_secret()
                && p.expose_secret() == password.expose_secret()
        }) {
            return Some(*ok);
        }
        // Worked out under the lock: two checks of one pair do the work once.
        let ok = password_matches(verifier.expose_secret(), role, password.expose_secret())?;
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push((verifier.clone(), password.clone(), ok));
        Some(ok)
    }
}

/// `role`'s stored password on this node, where the admin may read it (a superuser); an
/// expired password is as good as none (the server refuses a login with it).
pub(crate) async fn read_stored(
    session: &Session,
    op: &'static str,
    server: &ServerInfo,
    role: &str,
) -> Result<Stored> {
    if !server.is_superuser {
        return Ok(Stored::NotRead);
    }
    read_verifier(session, op, role).await
}

/// [`read_stored`] for a session whose user is known to be a superuser.
pub(crate) async fn read_verifier(
    session: &Session,
    op: &'static str,
    role: &str,
) -> Result<Stored> {
    let Some(row) = session.query_opt(op, &ROLE_VERIFIER, &[&role]).await? else {
        return Ok(Stored::NotRead);
    };
    stored_in(session, op, &row)
}

/// The stored password in a row with `verifier` and `valid` columns.
fn stored_in(session: &Session, op: &'static str, row: &tokio_postgres::Row) -> Result<Stored> {
    let valid: bool = session.get(op, row, "valid")?;
    let verifier: Option<String> = session.get(op, row, "verifier")?;
    Ok(match verifier {
        Some(v) if valid => Stored::Verifier(SecretString::from(v)),
        _ => Stored::None,
    })
}

/// What each of `roles` is on the node, in `roles`' order, in one statement: `None` for a
/// role that does not exist, else whether it may log in and its stored password. The
/// password is read with the rest where the session read before that its user is a
/// superuser (and still is); [`Stored::NotRead`] elsewhere.
pub(crate) async fn role_states(
    session: &Session,
    op: &'static str,
    roles: &[&str],
) -> Result<Vec<Option<(bool, Stored)>>> {
    let mut with_verifiers = session.superuser() == Some(true);
    let rows = if with_verifiers {
        match session.query(op, &ROLES_LOGIN_VERIFIER, &[&roles]).await {
            Ok(rows) => rows,
            // No longer a superuser: without the passwords.
            Err(e) if e.code().is_some_and(|c| c.code() == "42501") => {
                with_verifiers = false;
                session.query(op, &ROLES_LOGIN, &[&roles]).await?
            }
            Err(e) => return Err(e),
        }
    } else {
        session.query(op, &ROLES_LOGIN, &[&roles]).await?
    };
    let mut states = vec![None; roles.len()];
    for row in &rows {
        let role: String = session.get(op, row, "role")?;
        let can_login: bool = session.get(op, row, "can_login")?;
        let stored = if with_verifiers {
            stored_in(session, op, row)?
        } else {
            Stored::NotRead
        };
        if let Some(at) = roles.iter().position(|r| *r == role) {
            states[at] = Some((can_login, stored));
        }
    }
    Ok(states)
}

/// Whether `password` is the password `verifier` (`rolpassword`) of `role` was made from;
/// `None` for a format the server may have that this crate does not check.
pub(crate) fn password_matches(verifier: &str, role: &str, password: &str) -> Option<bool> {
    if let Some(rest) = verifier.strip_prefix("SCRAM-SHA-256$") {
        return scram_matches(rest, password);
    }
    if verifier.len() == 35 && verifier.starts_with("md5") {
        let hash = postgres_protocol::password::md5(password.as_bytes(), role);
        return Some(constant_time_eq(hash.as_bytes(), verifier.as_bytes()));
    }
    None
}

/// `<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5803, as PostgreSQL stores it).
fn scram_matches(rest: &str, password: &str) -> Option<bool> {
    let (params, keys) = rest.split_once('$')?;
    let (iterations, salt) = params.split_once(':')?;
    let (stored_key, _server_key) = keys.split_once(':')?;
    let iterations: u32 = iterations.parse().ok().filter(|i| *i > 0)?;
    let salt = STANDARD.decode(salt).ok()?;
    let stored_key = STANDARD.decode(stored_key).ok()?;
    // As the server and libpq prepare it: SASLprep where the password allows it, the bytes
    // as they are where not.
    let prepared = match stringprep::saslprep(password) {
        Ok(p) => p.into_owned().into_bytes(),
        Err(_) => password.as_bytes().to_vec(),
    };
    let salted = hi(&prepared, &salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let computed = Sha256::digest(client_key);
    Some(constant_time_eq(&computed, &stored_key))
}

/// PBKDF2-HMAC-SHA-256 with one block: SCRAM's `Hi()`.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(password).expect("HMAC takes keys of any length");
    let mut round = mac.clone();
    round.update(salt);
    round.update(&[0, 0, 0, 1]);
    let mut u: [u8; 32] = round.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut round = mac.clone();
        round.update(&u);
        u = round.finalize().into_bytes().into();
        for (o, b) in out.iter_mut().zip(u) {
            *o ^= b;
        }
    }
    out
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scram_verifier_matches_its_password_only() {
        let verifier = postgres_protocol::password::scram_sha_256(b"right pw");
        assert_eq!(password_matches(&verifier, "r", "right pw"), Some(true));
        assert_eq!(password_matches(&verifier, "r", "wrong pw"), Some(false));
        assert_eq!(password_matches(&verifier, "r", ""), Some(false));
    }

    #[test]
    fn saslprep_is_applied_as_the_server_applies_it() {
        // U+00A0 (no-break space) maps to a space under SASLprep.
        let verifier = postgres_protocol::password::scram_sha_256("a\u{a0}b".as_bytes());
        assert_eq!(password_matches(&verifier, "r", "a b"), Some(true));
    }

    #[test]
    fn md5_hashes_are_checked_with_the_role_name_as_salt() {
        let hash = postgres_protocol::password::md5(b"pw", "alice");
        assert_eq!(password_matches(&hash, "alice", "pw"), Some(true));
        assert_eq!(password_matches(&hash, "bob", "pw"), Some(false));
    }

    #[test]
    fn unknown_or_broken_formats_say_nothing() {
        assert_eq!(password_matches("plain", "r", "plain"), None);
        assert_eq!(password_matches("SCRAM-SHA-256$x:y$z", "r", "p"), None);
        assert_eq!(
            password_matches("SCRAM-SHA-256$0:AAAA$AAAA:AAAA", "r", "p"),
            None
        );
    }

    #[test]
    fn outcomes_are_kept_per_verifier_and_password() {
        let verified = Verified::default();
        let stored = Stored::Verifier(SecretString::from(
            postgres_protocol::password::scram_sha_256(b"pw"),
        ));
        let right = SecretString::from("pw");
        let wrong = SecretString::from("nope");
        assert_eq!(verified.matches(&stored, "r", &right), Some(true));
        assert_eq!(verified.matches(&stored, "r", &wrong), Some(false));
        assert_eq!(verified.matches(&stored, "r", &right), Some(true));
        assert_eq!(verified.kept.lock().unwrap().len(), 2);
        assert_eq!(verified.matches(&Stored::None, "r", &right), Some(false));
        assert_eq!(verified.matches(&Stored::NotRead, "r", &right), None);
    }
}
