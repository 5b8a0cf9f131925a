//! Creating and updating the TimescaleDB extension.

use crate::config::NodeConfig;
use std::future::Future;

use crate::connect::{Deadline, Session, SessionOn};
use crate::error::{Error, Result};
use crate::sql::extension::{create, update, EXTENSION_STATE, INSTALLED_VERSION};
use crate::sql::session::{CATALOG_FIRST, RESET_SEARCH_PATH};
use crate::version::Version;

/// What [`UpdateExtension`] did on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionChange {
    /// The extension was not installed and was created.
    Created,
    /// It was updated from an older version.
    Updated,
    /// It was already at the requested (or newest) version.
    Unchanged,
}

/// The outcome of [`UpdateExtension`] on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtensionUpdate {
    /// The node.
    pub node: String,
    /// The version before (`None`: not installed).
    pub from: Option<Version>,
    /// The version after.
    pub to: Version,
    /// What changed.
    pub change: ExtensionChange,
}

const OP: &str = "update extension";

/// The TimescaleDB extension to create on a node, or update (to the version given with
/// [`UpdateExtension::to`], or to the newest version the server has).
///
/// It runs on a node's connection settings ([`NodeConfig`]; an
/// [`AccessNode`](crate::AccessNode)'s are [`AccessNode::config`](crate::AccessNode::config)),
/// not on an [`Executor`](crate::Executor): `ALTER EXTENSION timescaledb UPDATE` must be the
/// first statement of a fresh, unpooled session, as TimescaleDB requires (a session that has
/// loaded the old library cannot update), so the crate opens that session itself; the version
/// before is read in a separate session. It converges by nature: a node already at that
/// version is left alone ([`ExtensionChange::Unchanged`]).
///
/// ```no_run
/// # async fn demo(an: timescaledb_multinode::NodeConfig, data_nodes: Vec<timescaledb_multinode::NodeConfig>) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{UpdateExtension, Version};
///
/// // Every node, data nodes first (a data node's version must be at least the access node's).
/// for done in UpdateExtension::new().run_cluster(&an, &data_nodes).await? {
///     println!("{}: {:?} -> {} ({:?})", done.node, done.from, done.to, done.change);
/// }
/// // One node, to a chosen version.
/// let version: Version = "2.13.1".parse()?;
/// UpdateExtension::new().to(version).run(&data_nodes[0]).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "does nothing until .run() or .run_cluster() is awaited"]
pub struct UpdateExtension {
    to: Option<Version>,
}

impl UpdateExtension {
    /// Create or update to the newest version the server has.
    pub fn new() -> Self {
        UpdateExtension::default()
    }

    /// The version to create or update to (`None`: the newest the server has, the default).
    pub fn to(mut self, version: impl Into<Option<Version>>) -> Self {
        self.to = version.into();
        self
    }

    /// Creates or updates the extension on `node`.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedServer`] naming the node when the server has no TimescaleDB, does
    /// not preload it, or the role may not update the extension (it needs to own it); the
    /// node's connection errors; the server's refusal of the update (an unknown version,
    /// say).
    pub async fn run(self, node: &NodeConfig) -> Result<ExtensionUpdate> {
        update_extension_within(node, self.to, None).await
    }

    /// Creates or updates the extension on every node of a cluster: the data nodes first (a
    /// data node's version must be at least the access node's), then the access node; one
    /// outcome per node in that order. Stops at the first failure: what was updated stays
    /// updated, and running it again finishes the job.
    ///
    /// # Errors
    ///
    /// As [`UpdateExtension::run`], for the first node that fails.
    pub async fn run_cluster(
        self,
        access_node: &NodeConfig,
        data_nodes: &[NodeConfig],
    ) -> Result<Vec<ExtensionUpdate>> {
        let mut done = Vec::with_capacity(data_nodes.len() + 1);
        for node in data_nodes.iter().chain(std::iter::once(access_node)) {
            done.push(update_extension_within(node, self.to, None).await?);
        }
        Ok(done)
    }
}

/// A fresh session to `node`, within `deadline` when there is one.
async fn open(node: &NodeConfig, deadline: Option<Deadline>) -> Result<Session> {
    let opening = Session::open_as_configured(node, OP);
    match deadline {
        Some(deadline) => deadline.run(OP, &node.node_name(), opening).await,
        None => opening.await,
    }
}

/// `work` on `session`, within `deadline` when there is one (cancelled on the server and
/// the session given up when it passes).
async fn within<T>(
    session: &Session,
    deadline: Option<Deadline>,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        Some(deadline) => {
            let node = session.node().to_owned();
            session.bounded(OP, &node, deadline, work).await
        }
        None => work.await,
    }
}

/// [`UpdateExtension::run`], every connection and statement within `deadline` when there is
/// one (a cluster's node deadline); past it, [`Error::Timeout`] names the node, and the
/// statement is cancelled on the server (a `CREATE EXTENSION` cut off rolls back).
pub(crate) async fn update_extension_within(
    node: &NodeConfig,
    to: Option<Version>,
    deadline: Option<Deadline>,
) -> Result<ExtensionUpdate> {
    // The search path stays as the server gives it: `CREATE EXTENSION` puts the extension
    // in its first schema, and `ALTER EXTENSION ... UPDATE` must be the session's first
    // statement. The catalog reads here qualify every name.
    let first = open(node, deadline).await?;
    let state = within(&first, deadline, check_installable(&first)).await?;
    let from = state.installed;
    if let Some(installed) = from {
        // Already where an update would take it: nothing to send (a role that does not own
        // the extension, such as a managed service's admin, could not send it anyway).
        if Some(installed) == to.or(state.default) {
            return Ok(ExtensionUpdate {
                node: first.node().to_owned(),
                from,
                to: installed,
                change: ExtensionChange::Unchanged,
            });
        }
        if !state.may_update {
            return Err(Error::UnsupportedServer {
                op: OP,
                node: first.node().to_owned(),
                reason: format!(
                    "updating TimescaleDB {installed} to {} needs ownership of the extension \
                     (or membership in its owner's role), which {} does not have; ask the \
                     server's superuser to run the update",
                    to.or(state.default)
                        .map_or_else(|| "the newest version".to_owned(), |v| v.to_string()),
                    node.get_user()
                ),
            });
        }
    }
    let (session, change) = match from {
        // Not installed: no TimescaleDB library is loaded in this session yet, so it can
        // create the extension itself.
        None => {
            let sql = create(to);
            within(&first, deadline, first.execute_utility(OP, &sql)).await?;
            (first, ExtensionChange::Created)
        }
        // Installed: the update must be the first statement of a fresh session.
        Some(_) => {
            drop(first);
            let fresh = open(node, deadline).await?;
            let sql = update(to);
            within(&fresh, deadline, fresh.execute_utility(OP, &sql)).await?;
            (fresh, ExtensionChange::Updated)
        }
    };
    let now = within(&session, deadline, read_version(&session))
        .await?
        .ok_or_else(|| Error::UnsupportedServer {
            op: OP,
            node: session.node().to_owned(),
            reason: "extension timescaledb is still not installed".to_owned(),
        })?;
    let change = match (change, from) {
        (ExtensionChange::Updated, Some(before)) if before == now => ExtensionChange::Unchanged,
        (change, _) => change,
    };
    tracing::debug!(node = %session.node(), from = ?from, to = %now, ?change, "extension");
    Ok(ExtensionUpdate {
        node: session.node().to_owned(),
        from,
        to: now,
        change,
    })
}

/// `CREATE EXTENSION IF NOT EXISTS timescaledb [VERSION to]` on `session`, a session of the
/// crate's own whose search path puts `pg_catalog` first, to a node that a plan found just
/// now able to run it (the extension available, the loader preloaded): the statement runs
/// under the search path the server gives (the extension goes to its first schema, as with
/// a fresh session), then `pg_catalog` goes first again, and the version now installed is
/// read (those three in one round trip) to check it is there, within `deadline`. A session
/// whose search path could not be set back is given up.
pub(crate) async fn create_on_session(
    session: &Session,
    to: Option<Version>,
    deadline: Deadline,
) -> Result<()> {
    let sql = create(to);
    let catalog_first = CATALOG_FIRST;
    let (created, back, now) = within(session, Some(deadline), async {
        // Not sent ahead: the extension must never be created under `pg_catalog`.
        session.execute_utility(OP, &RESET_SEARCH_PATH).await?;
        Ok(tokio::join!(
            session.execute_utility(OP, &sql),
            session.execute_utility(OP, &catalog_first),
            read_version(session),
        ))
    })
    .await
    .inspect_err(|_| session.discard())?;
    if back.is_err() {
        session.discard();
    }
    created?;
    back?;
    let now = now?.ok_or_else(|| Error::UnsupportedServer {
        op: OP,
        node: session.node().to_owned(),
        reason: "extension timescaledb is still not installed".to_owned(),
    })?;
    tracing::debug!(node = %session.node(), to = %now, "extension created");
    Ok(())
}

/// What deciding to create or update needs.
struct ExtensionState {
    /// The installed version.
    installed: Option<Version>,
    /// The version `CREATE EXTENSION` or a plain update goes to.
    default: Option<Version>,
    /// Whether this role may update the extension.
    may_update: bool,
}

/// The extension's state, after checking that the server can load TimescaleDB at all.
async fn check_installable(session: &SessionOn<'_>) -> Result<ExtensionState> {
    let row = session.query_one(OP, &EXTENSION_STATE, &[]).await?;
    let installed: Option<String> = session.get(OP, &row, "version")?;
    let default: Option<String> = session.get(OP, &row, "default_version")?;
    let may_update: bool = session.get(OP, &row, "may_update")?;
    let available: bool = session.get(OP, &row, "available")?;
    let preloaded: bool = session.get(OP, &row, "preloaded")?;
    let refuse = |reason: &str| {
        Err(Error::UnsupportedServer {
            op: OP,
            node: session.node().to_owned(),
            reason: reason.to_owned(),
        })
    };
    if installed.is_none() && !available {
        return refuse(
            "the server has no TimescaleDB extension; install TimescaleDB 2.0–2.13 with its \
             TSL part",
        );
    }
    if !preloaded {
        return refuse(
            "timescaledb is not in shared_preload_libraries; add it and restart the server",
        );
    }
    let parse = |text: String| {
        text.parse().map_err(|_| Error::UnsupportedServer {
            op: OP,
            node: session.node().to_owned(),
            reason: format!("cannot read TimescaleDB version {text:?}"),
        })
    };
    Ok(ExtensionState {
        installed: installed.map(parse).transpose()?,
        // A development version the server offers is not fatal here: the update runs.
        default: default.and_then(|text| text.parse().ok()),
        may_update,
    })
}

async fn read_version(session: &SessionOn<'_>) -> Result<Option<Version>> {
    let row = session.query_opt(OP, &INSTALLED_VERSION, &[]).await?;
    let Some(row) = row else { return Ok(None) };
    let text: String = session.get(OP, &row, "version")?;
    text.parse()
        .map(Some)
        .map_err(|_| Error::UnsupportedServer {
            op: OP,
            node: session.node().to_owned(),
            reason: format!("cannot read TimescaleDB version {text:?}"),
        })
}
