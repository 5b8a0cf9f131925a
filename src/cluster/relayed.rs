//! Why the access node could not log in to a data node, in any language.
//!
//! TimescaleDB reports every failed connection to a data node as its own SQLSTATE 08001
//! (`could not connect to "dn1"`) with libpq's message as DETAIL, which holds the data
//! node's `FATAL:` text; the data node's SQLSTATE is dropped. Those words are in the access
//! node's and the data node's `lc_messages`, so [`relayed_connect_cause`] reads them in
//! English only. For the rest, the crate compares what it knows: the credentials the data
//! node accepted when the crate connected to it itself, and what the access node's user
//! mapping for it holds ([`MappingCheck`]). A mapping without a password is a missing user
//! mapping; a password other than the one the node just accepted for that user is a wrong
//! one, whatever the words.
//!
//! [`relayed_connect_cause`]: super::cause::relayed_connect_cause

use secrecy::{ExposeSecret, SecretString};

use super::cause::{relayed_connect_cause, Cause};
use super::probe::access_node_session;
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::Result;
use crate::sql::user_mapping::{CURRENT_USER, CURRENT_USER_MAPPING_OPTIONS};

/// What the access node's mapping for data node `dn` (current user) holds, against `dn`'s
/// settings. The values are compared here and dropped; no password is logged or returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MappingCheck {
    /// Exactly the user and password of the settings.
    Matches,
    /// A mapping that logs in as another user than the settings' (its name).
    WrongUser(String),
    /// No mapping, or one without a password: the access node has no password to send.
    NoPassword,
    /// The settings' user with another password than the settings'.
    OtherPassword,
}

impl MappingCheck {
    /// What a failed login of the access node to a data node whose settings the data node
    /// accepts most likely means, when the relayed words do not say.
    pub(crate) fn likely_cause(&self) -> Option<Cause> {
        match self {
            MappingCheck::NoPassword => Some(Cause::NoUserMapping),
            MappingCheck::OtherPassword => Some(Cause::WrongPassword),
            MappingCheck::Matches | MappingCheck::WrongUser(_) => None,
        }
    }
}

/// Compares the current user's mapping for `dn` on the access node of `session` with `dn`'s
/// settings.
pub(crate) async fn mapping_check(
    session: &Session,
    op: &'static str,
    dn: &NodeConfig,
) -> Result<MappingCheck> {
    let rows = session
        .query(op, &CURRENT_USER_MAPPING_OPTIONS, &[&dn.node_name()])
        .await?;
    let mut user = None;
    let mut password: Option<SecretString> = None;
    for row in &rows {
        let option: String = session.get(op, row, "option")?;
        match option.split_once('=') {
            Some(("user", value)) => user = Some(value.to_owned()),
            Some(("password", value)) => password = Some(SecretString::from(value.to_owned())),
            _ => {}
        }
    }
    if rows.is_empty() {
        return Ok(MappingCheck::NoPassword);
    }
    let user = match user {
        Some(user) => user,
        None => {
            let row = session.query_one(op, &CURRENT_USER, &[]).await?;
            session.get(op, &row, "name")?
        }
    };
    if user != dn.get_user() {
        return Ok(MappingCheck::WrongUser(user));
    }
    Ok(match password {
        None => MappingCheck::NoPassword,
        Some(p) if p.expose_secret() == dn.get_password().expose_secret() => MappingCheck::Matches,
        Some(_) => MappingCheck::OtherPassword,
    })
}

/// Whether `result` is a failed connection the access node relayed in words
/// [`relayed_connect_cause`] does not know (a server with translated messages).
pub(crate) fn unread(result: &Result<()>) -> bool {
    let Err(error) = result else {
        return false;
    };
    error.as_db_error().is_some_and(|db| {
        db.code().code() == "08001" && db.detail().and_then(relayed_connect_cause).is_none()
    })
}

/// The likely cause of a failed login of `access_node` to `dn`, from `dn`'s mapping: a fresh
/// access-node session within `deadline`; `None` when the mapping does not tell, or cannot
/// be read.
pub(crate) async fn cause_from_mapping(
    access_node: &NodeConfig,
    dn: &NodeConfig,
    op: &'static str,
    deadline: Deadline,
) -> Option<Cause> {
    let session = access_node_session(access_node, op, deadline).await.ok()?;
    let check = session
        .bounded(
            op,
            session.node(),
            deadline,
            mapping_check(&session, op, dn),
        )
        .await;
    check.as_ref().ok().and_then(MappingCheck::likely_cause)
}
