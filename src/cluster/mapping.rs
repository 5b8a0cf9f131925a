//! The access node's own user mapping for a data node, against the data node's settings:
//! whether it holds exactly the credentials the crate logs in with.

use secrecy::{ExposeSecret, SecretString};

use super::cause::Cause;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::Result;
use crate::sql::user_mapping::{CURRENT_USER, CURRENT_USER_MAPPING_OPTIONS};

/// What the access node's mapping for data node `dn` (current user) holds, against `dn`'s
/// settings. The values are compared here and dropped; no password is logged or returned.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum MappingCheck {
    /// Exactly the user and password of the settings.
    Matches,
    /// A mapping that logs in as another user than the settings' (its name).
    WrongUser(String),
    /// No mapping, or one without a password: the access node has no password to send
    /// (only a probe tells whether it needs one).
    NoPassword,
    /// The settings' user with another password than the settings' (only a probe tells
    /// whether it works).
    OtherPassword,
}

impl MappingCheck {
    /// What a failed login of the access node to a data node that accepts its settings most
    /// likely means, when the words the access node relays do not say (`relayed.rs`).
    pub(super) fn likely_cause(&self) -> Option<Cause> {
        match self {
            MappingCheck::NoPassword => Some(Cause::NoUserMapping),
            MappingCheck::OtherPassword => Some(Cause::WrongPassword),
            MappingCheck::Matches | MappingCheck::WrongUser(_) => None,
        }
    }
}

pub(super) async fn mapping_check(
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
        None => session_user(session, op).await?,
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

async fn session_user(session: &Session, op: &'static str) -> Result<String> {
    let row = session.query_one(op, &CURRENT_USER, &[]).await?;
    session.get(op, &row, "name")
}
