//! Changing a data node's connection settings or availability: `alter_data_node`.

use super::{data_node_name, first_row, node_session};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::ident::Ident;
use crate::server::Feature;
use crate::sql::lifecycle::alter_data_node;

/// A change to a data node's connection settings or availability with `alter_data_node`
/// (TimescaleDB 2.9+). Settings left unset stay as they are; with none set, the call just
/// returns the current ones.
///
/// # Data loss while a node is marked unavailable
///
/// Marking a node unavailable ([`AlterDataNode::mark_unavailable`]) is how reads fail over to
/// other replicas, but it is not harmless (observed on TimescaleDB 2.13.1):
///
/// - a write to an existing chunk that has a replica on the node succeeds, but **drops that
///   node's replica** from the access node's catalog; the chunk stays under-replicated after
///   the node is marked available again (re-replicate with `copy_chunk`, and clear the stale
///   copy on the node with `_timescaledb_functions.drop_stale_chunks`);
/// - new chunks are created with fewer replicas than the replication factor (a WARNING);
/// - a write to a chunk whose only replica is on the node fails (TS170), and reads of such
///   chunks fail (`XX000 data node "..." is not available`);
/// - `distributed_exec` still runs on the node;
/// - marking does not protect against a node that is really down: a write to an existing
///   chunk with a replica on a stopped data node crashes the access-node backend (and with
///   it every session of the access node), marked or not. Check that nodes answer before
///   writing when one may be down.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::lifecycle::AlterDataNode;
///
/// // Maintenance on dn1: reads of replicated data fail over to the other replicas.
/// AlterDataNode::new("dn1").mark_unavailable().run(an).await?;
/// // ... later, when it is back:
/// let dn1 = AlterDataNode::new("dn1").mark_available().run(an).await?;
/// assert!(dn1.available);
/// // Moved to a new address:
/// AlterDataNode::new("dn1").host("10.0.0.21").port(5433).run(an).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct AlterDataNode {
    name: String,
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    available: Option<bool>,
}

/// A data node's settings after [`AlterDataNode::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlteredDataNode {
    /// The data node's name.
    pub name: String,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Its database.
    pub database: String,
    /// Whether it is marked available.
    pub available: bool,
}

impl AlterDataNode {
    /// Change the data node called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        AlterDataNode {
            name: name.into(),
            host: None,
            port: None,
            database: None,
            available: None,
        }
    }

    /// The new host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The new port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The new database on the data node.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Mark the node available again. Replicas dropped while it was unavailable stay
    /// dropped (see the type's documentation).
    pub fn mark_available(mut self) -> Self {
        self.available = Some(true);
        self
    }

    /// Mark the node unavailable: reads use other replicas, writes skip the node and drop
    /// its replicas of the chunks they touch (see the type's documentation).
    pub fn mark_unavailable(mut self) -> Self {
        self.available = Some(false);
        self
    }

    /// Applies the changes and returns the node's settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or database, an
    /// empty host, port 0, or a node the access node does not have (the error lists the ones
    /// it has); [`Error::UnsupportedServer`] before TimescaleDB 2.9.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<AlteredDataNode> {
        const OP: &str = "alter data node";
        let node = data_node_name(&self.name, OP, &on.node_name())?;
        let invalid = |reason: &str| Error::invalid(OP, Some(node.as_str()), reason);
        if let Some(host) = &self.host {
            if host.trim().is_empty() {
                return Err(invalid("host is empty"));
            }
            if host.contains('\0') {
                return Err(invalid("host contains a NUL byte"));
            }
        }
        if self.port == Some(0) {
            return Err(invalid("port must not be 0"));
        }
        let database = self
            .database
            .as_ref()
            .map(|db| Ident::for_op(db.clone(), "database", OP, Some(node.as_str())))
            .transpose()?;
        let (lease, schemas) = node_session(on, OP, Feature::AlterDataNode, &node).await?;
        let session = lease.session();
        let port = self.port.map(i32::from);
        let database = database.as_ref().map(Ident::as_str);
        let rows = session
            .query_multinode(
                OP,
                &alter_data_node(&schemas),
                &[
                    &node.as_str(),
                    &self.host,
                    &database,
                    &port,
                    &self.available,
                ],
            )
            .await?;
        let row = first_row(session, OP, &rows)?;
        let altered = AlteredDataNode {
            name: session.get(OP, row, "node_name")?,
            host: session
                .get::<Option<String>>(OP, row, "host")?
                .unwrap_or_default(),
            port: session
                .get::<Option<i32>>(OP, row, "port")?
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or_default(),
            database: session
                .get::<Option<String>>(OP, row, "database")?
                .unwrap_or_default(),
            available: session
                .get::<Option<bool>>(OP, row, "available")?
                .unwrap_or(true),
        };
        tracing::debug!(node = %node, available = altered.available, "data node altered");
        Ok(altered)
    }
}
