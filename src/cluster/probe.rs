//! The access node's view of its data nodes: one bounded probe, from a fresh access-node
//! session that is never reused, and what its outcome says.
//!
//! TimescaleDB (2.x) connects to a data node with no connect timeout: a data node that
//! accepts the connection and never answers keeps the access node's backend waiting for
//! good. In the 2.13 source, `remote_connection_open_session` (every statement's
//! connection, `distributed_exec`, `remote_txn_heal_data_node`) passes "no timeout"; there
//! is no setting for it; and a libpq `connect_timeout` option on the foreign server, which
//! TimescaleDB would accept, does nothing, because TimescaleDB drives the connection itself
//! (`PQconnectStartParams` and `PQconnectPoll`, for which libpq ignores `connect_timeout`).
//! Only `ping_data_node` takes a timeout (2.11 has it, 2.9 not), and it says no more than
//! true or false. But TimescaleDB waits for the data node in an interruptible wait
//! (`WaitLatchOrSocket`, then `CHECK_FOR_INTERRUPTS`), so a statement timeout or a cancel
//! request ends it.
//!
//! A probe therefore runs under a deadline on both sides: the access-node session's
//! `statement_timeout` is the time left (the server ends the statement itself, even if the
//! client is gone), and when the deadline passes the client sends a cancel request and
//! drops the session.

use super::cause::{relayed_connect_cause, Cause};
use super::link::AccessNodeLink;
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::sql::data_node::{distributed_exec, ROUND_TRIP};
use crate::sql::functions::Schemas;
use crate::sql::session::STATEMENT_TIMEOUT;

/// Opens a fresh session to the access node for work that reaches data nodes: connected
/// within `deadline`, with `statement_timeout` set to the time left. Run the work through
/// [`Session::bounded`] naming the data node, and drop the session afterwards.
pub(crate) async fn access_node_session(
    access_node: &NodeConfig,
    op: &'static str,
    deadline: Deadline,
) -> Result<Session> {
    let an = access_node.node_name();
    let session = deadline
        .run(op, &an, Session::open(access_node, op))
        .await?;
    let left = format!("{}ms", deadline.remaining().as_millis().max(1));
    session
        .bounded(
            op,
            &an,
            deadline,
            session.query_one(op, &STATEMENT_TIMEOUT, &[&left]),
        )
        .await?;
    Ok(session)
}

/// Runs `work` towards data node(s) `blame` on an access-node session from
/// [`access_node_session`], until `deadline`; the server's own statement timeout (57014)
/// becomes [`Error::Timeout`] naming `blame` too.
pub(crate) async fn towards<T>(
    session: &Session,
    op: &'static str,
    blame: &str,
    deadline: Deadline,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let result = session.bounded(op, blame, deadline, work).await;
    match result {
        Err(e) if e.code().is_some_and(|c| c.code() == "57014") => {
            session.discard();
            Err(Error::Timeout {
                op,
                node: blame.to_owned(),
                after: deadline.after,
            })
        }
        other => other,
    }
}

/// Runs `SELECT 1` on `nodes` through `distributed_exec` (autocommit, not in a transaction
/// block) from a fresh access-node session, within `deadline`. Always a session of its
/// own, dropped afterwards: in TimescaleDB 2.13 a session whose connection to a data node
/// failed crashes (signal 11) on its next `distributed_exec`, and one cut off at its
/// deadline may still be busy.
pub(crate) async fn probe_fresh(
    access_node: &NodeConfig,
    schemas: &Schemas,
    nodes: &[&str],
    op: &'static str,
    deadline: Deadline,
) -> Result<()> {
    let session = access_node_session(access_node, op, deadline).await?;
    let blame = nodes.join(", ");
    let names: Vec<&str> = nodes.to_vec();
    towards(
        &session,
        op,
        &blame,
        deadline,
        session.execute_multinode(
            op,
            &distributed_exec(schemas),
            &[&ROUND_TRIP.text(), &names, &false],
        ),
    )
    .await
    .map(|_| ())
}

/// The link a probe's outcome shows. `direct` is what the crate knows otherwise (what the
/// node said when the crate connected to it itself, or what the access node's mapping for it
/// holds: `relayed.rs`), used only where the access node's relayed error says no more than
/// "could not connect" in words the crate does not know.
pub(crate) fn link(result: Result<()>, direct: Option<Cause>) -> AccessNodeLink {
    let error = match result {
        Ok(()) => return AccessNodeLink::Ok,
        Err(e) => e,
    };
    let cause = match error.as_db_error() {
        Some(db) if db.code().code() == "08001" => db
            .detail()
            .and_then(relayed_connect_cause)
            .or(direct.filter(|c| !matches!(c, Cause::Other)))
            .unwrap_or(Cause::Down),
        _ => match &error {
            Error::NoUserMapping { .. } => Cause::NoUserMapping,
            Error::AuthenticationFailed { .. } => Cause::WrongPassword,
            Error::Unreachable { .. } => Cause::Down,
            other => Cause::of(other),
        },
    };
    AccessNodeLink::from_cause(cause, error)
}
