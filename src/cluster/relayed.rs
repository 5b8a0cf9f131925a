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

use super::cause::{relayed_connect_cause, Cause};
use super::mapping::{mapping_checks, MappingCheck};
use super::probe::access_node_session;
use crate::config::NodeConfig;
use crate::connect::Deadline;
use crate::error::Result;

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
            mapping_checks(&session, op, &[dn]),
        )
        .await;
    check.ok()?.first().and_then(MappingCheck::likely_cause)
}
