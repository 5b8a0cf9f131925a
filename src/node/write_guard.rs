//! What an ingest checks before it writes to a distributed hypertable: that the data nodes
//! it may reach answer, from shared rounds of pings ([`super::health`]) run on sessions of
//! their own.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::health::{NodeHealth, Round, PING_TIMEOUT};
use crate::config::NodeConfig;
use crate::connect::{Session, SessionOn};
use crate::error::{Error, Result};
use crate::pool::CANCEL_GRACE;
use crate::sql::functions::Schemas;
use crate::sql::session::STATEMENT_TIMEOUT;
use crate::sql::status::{ping, DATA_NODE_NAMES};

/// The sessions rounds ping from, one per data node, and one that lists them (key `""`,
/// which no data node can be named).
pub(crate) type PingSessions = HashMap<String, Session>;

const LISTER: &str = "";

/// The write guard of one access-node handle and its clones.
#[derive(Debug)]
pub(crate) struct WriteGuard {
    pub(crate) health: NodeHealth<PingSessions>,
    /// Tables seen not to be distributed hypertables: their ingests wait for no round
    /// before they take a pooled connection.
    plain: Mutex<HashSet<String>>,
}

impl WriteGuard {
    pub(crate) fn new(max_age: Duration) -> Self {
        WriteGuard {
            health: NodeHealth::new(max_age),
            plain: Mutex::new(HashSet::new()),
        }
    }

    fn plain(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.plain
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `relation` was last seen to be a plain table (or a hypertable that is not
    /// distributed).
    pub(crate) fn is_plain(&self, relation: &str) -> bool {
        self.plain().contains(relation)
    }

    /// Notes whether `relation` is a distributed hypertable.
    pub(crate) fn note_table(&self, relation: &str, distributed: bool) {
        if distributed {
            self.plain().remove(relation);
        } else {
            self.plain().insert(relation.to_owned());
        }
    }

    /// A round recent enough for a caller that asked at `asked`, run on the access node
    /// `config` if none is.
    pub(crate) async fn round_since(
        &self,
        config: &NodeConfig,
        schemas: &Schemas,
        op: &'static str,
        asked: Instant,
    ) -> Result<Arc<Round>> {
        let (config, schemas) = (config.clone(), schemas.clone());
        self.health
            .round_since(asked, move |sessions| {
                Box::pin(async move { ping_every_data_node(&config, &schemas, op, sessions).await })
            })
            .await
    }
}

/// A session to ping from: connected, with [`PING_TIMEOUT`] as its statement timeout.
async fn ping_session(config: &NodeConfig, op: &'static str) -> Result<Session> {
    let session = Session::open(config, op).await?;
    let timeout = format!("{}ms", PING_TIMEOUT.as_millis());
    session.query(op, &STATEMENT_TIMEOUT, &[&timeout]).await?;
    Ok(session)
}

/// The kept session under `key`, or a new one.
async fn take(
    sessions: &mut PingSessions,
    key: &str,
    config: &NodeConfig,
    op: &'static str,
) -> Result<Session> {
    match sessions.remove(key) {
        Some(session) if !session.client().is_closed() => Ok(session),
        _ => ping_session(config, op).await,
    }
}

/// Pings every data node of the access node at once, each from its own session: whether
/// each answered within [`PING_TIMEOUT`].
async fn ping_every_data_node(
    config: &NodeConfig,
    schemas: &Schemas,
    op: &'static str,
    sessions: &mut PingSessions,
) -> Result<Vec<(String, bool)>> {
    let lister = take(sessions, LISTER, config, op).await?;
    let names: Vec<String> = lister
        .query(op, &DATA_NODE_NAMES, &[])
        .await?
        .iter()
        .map(|row| lister.get(op, row, "node_name"))
        .collect::<Result<_>>()?;
    sessions.insert(LISTER.to_owned(), lister);
    // Sessions of data nodes that are gone are closed.
    sessions.retain(|key, _| key == LISTER || names.contains(key));

    let sql = ping(schemas);
    let mut pings = Vec::with_capacity(names.len());
    for name in names {
        let kept = sessions.remove(&name);
        let sql = &sql;
        pings.push(async move {
            let session = match kept {
                Some(session) if !session.client().is_closed() => session,
                _ => ping_session(config, op).await?,
            };
            let nodes = [name.as_str()];
            let answer = tokio::time::timeout(
                PING_TIMEOUT + CANCEL_GRACE,
                session.query(op, sql, &[&&nodes[..]]),
            )
            .await;
            match answer {
                Ok(Ok(rows)) => {
                    let up = match rows.first() {
                        Some(row) => session.get(op, row, "up")?,
                        None => false,
                    };
                    Ok((name, up, Some(session)))
                }
                // The server's statement timeout stopped the ping: the node does not answer.
                Ok(Err(e)) if e.is_timeout() => Ok((name, false, Some(session))),
                Ok(Err(e)) => Err(e),
                // The access node itself did not answer: this session is given up.
                Err(_) => Ok((name, false, None)),
            }
        });
    }
    let mut seen = Vec::new();
    let mut failed: Option<Error> = None;
    for result in join_all(pings).await {
        match result {
            Ok((name, up, session)) => {
                if let Some(session) = session {
                    sessions.insert(name.clone(), session);
                }
                seen.push((name, up));
            }
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(seen),
    }
}

/// Pings `nodes` from `session` (the access node, with its TimescaleDB functions in
/// `schemas`) and refuses the write with [`Error::DataNodeDown`] naming the first that does
/// not answer.
pub(crate) async fn refuse_unless_up(
    session: &SessionOn<'_>,
    op: &'static str,
    schemas: &Schemas,
    nodes: &[String],
) -> Result<()> {
    let rows = session.query(op, &ping(schemas), &[&nodes]).await?;
    for row in &rows {
        let up: bool = session.get(op, row, "up")?;
        if !up {
            return Err(Error::DataNodeDown {
                op,
                node: session.get(op, row, "node_name")?,
            });
        }
    }
    Ok(())
}
