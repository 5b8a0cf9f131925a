//! The access node's own user mapping for a data node, against the data node's settings:
//! whether it holds exactly the credentials the crate logs in with.

use secrecy::{ExposeSecret, SecretString};

use super::cause::Cause;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::Result;
use crate::sql::user_mapping::CURRENT_USER_MAPPING_OPTIONS;

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

/// What the access node's mapping for each data node in `dns` holds (see
/// [`MappingCheck`]), in `dns`' order, read in one statement.
pub(super) async fn mapping_checks(
    session: &Session,
    op: &'static str,
    dns: &[&NodeConfig],
) -> Result<Vec<MappingCheck>> {
    if dns.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = dns.iter().map(|dn| dn.node_name()).collect();
    let rows = session
        .query(op, &CURRENT_USER_MAPPING_OPTIONS, &[&names])
        .await?;
    let mut read: Vec<(Option<String>, Option<SecretString>, bool)> =
        vec![(None, None, false); dns.len()];
    let mut me = String::new();
    for row in &rows {
        let server: String = session.get(op, row, "server")?;
        me = session.get(op, row, "me")?;
        let Some(at) = names.iter().position(|n| *n == server) else {
            continue;
        };
        let Some(option) = session.get::<Option<String>>(op, row, "option")? else {
            continue;
        };
        let (user, password, any) = &mut read[at];
        *any = true;
        match option.split_once('=') {
            Some(("user", value)) => *user = Some(value.to_owned()),
            Some(("password", value)) => *password = Some(SecretString::from(value.to_owned())),
            _ => {}
        }
    }
    Ok(dns
        .iter()
        .zip(read)
        .map(|(dn, (user, password, any))| {
            if !any {
                return MappingCheck::NoPassword;
            }
            let user = user.unwrap_or_else(|| me.clone());
            if user != dn.get_user() {
                return MappingCheck::WrongUser(user);
            }
            match password {
                None => MappingCheck::NoPassword,
                Some(p) if p.expose_secret() == dn.get_password().expose_secret() => {
                    MappingCheck::Matches
                }
                Some(_) => MappingCheck::OtherPassword,
            }
        })
        .collect())
}
