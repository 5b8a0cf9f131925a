//! The data-node lifecycle: delete, detach, attach, alter, block / allow new chunks, and the
//! cluster-wide calls that go with them (replication factor, distributed restore points).
//!
//! Each builder validates its input, opens a session to the access node, refuses where the
//! installed TimescaleDB lacks the call (or the named argument asked for), checks that the data
//! node exists (the error lists the ones that do), and only then sends the call, every value
//! bound as a parameter.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::access_node::AccessNode;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::{Ident, MAX_IDENT_BYTES};
use crate::server::Feature;
use crate::sql::hypertable::TableName;
use crate::sql::lifecycle::{
    delete_data_node, detach_data_node, ALLOW_NEW_CHUNKS, ALTER_DATA_NODE, ATTACH_DATA_NODE, BEGIN,
    BLOCK_NEW_CHUNKS, COMMIT, CREATE_DISTRIBUTED_RESTORE_POINT, ROLLBACK, SET_REPLICATION_FACTOR,
    USER_MAPPINGS_OF_SERVER,
};
use crate::sql::user_mapping::{self, RoleSpec};

/// Whether the space partitions of the hypertables concerned follow the number of data nodes
/// when a node is attached, detached or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Repartition {
    /// Change the number of space partitions to match the number of attached data nodes
    /// (`repartition => true`, the server's default). The server says so in a NOTICE.
    #[default]
    Adjust,
    /// Keep the number of space partitions (`repartition => false`).
    Keep,
}

impl Repartition {
    fn as_bool(self) -> bool {
        self == Repartition::Adjust
    }
}

/// A data node to remove from the access node with `delete_data_node`.
///
/// PostgreSQL refuses to drop a foreign server while any user mapping depends on it
/// (SQLSTATE 2BP01), and `delete_data_node` has no cascade, so [`DeleteDataNode::run`] drops
/// every user mapping of the node (for every role, and PUBLIC's) and deletes the node in one
/// transaction: both happen, or neither.
///
/// With [`DeleteDataNode::drop_database`] the server drops the data node's database before it
/// drops the node, outside any transaction, and needs credentials to connect (from a user
/// mapping, a passfile or a certificate). Run naively, with a user mapping present it drops the
/// remote database and then fails, leaving the node registered with its database gone; without
/// one it cannot connect. So the crate first rehearses the delete in a transaction it rolls back
/// (any refusal, such as "would lose data", comes out before anything is dropped), then lets the
/// server drop the remote database while the mappings still supply the credentials, and then
/// drops the mappings and the node in one transaction.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::DeleteDataNode;
///
/// let deleted = DeleteDataNode::new("dn3").drop_database().run(an).await?;
/// assert!(deleted.deleted && deleted.database_dropped);
/// println!("dropped the user mappings of {:?}", deleted.user_mappings_dropped);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DeleteDataNode {
    name: String,
    if_exists: bool,
    force: bool,
    repartition: Repartition,
    drop_database: bool,
}

/// What [`DeleteDataNode::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedDataNode {
    /// The data node's name.
    pub name: String,
    /// Whether the node was deleted now (false: it did not exist, with `if_exists`).
    pub deleted: bool,
    /// The roles whose user mappings for the node were dropped ([`RoleSpec::Public`] for the
    /// PUBLIC mapping).
    pub user_mappings_dropped: Vec<RoleSpec>,
    /// Whether the data node's database is gone (dropped now, or found already gone when a
    /// previous attempt was interrupted), with [`DeleteDataNode::drop_database`].
    pub database_dropped: bool,
}

impl DeleteDataNode {
    /// Delete the data node called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        DeleteDataNode {
            name: name.into(),
            if_exists: false,
            force: false,
            repartition: Repartition::default(),
            drop_database: false,
        }
    }

    /// Succeed, deleting nothing, when there is no such data node.
    pub fn if_exists(mut self) -> Self {
        self.if_exists = true;
        self
    }

    /// Delete the node even when hypertables then fall below their replication factor (the
    /// server warns). Never overrides "would lose data": a node that holds the only copy of a
    /// chunk is not deleted.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// What happens to the space partitions of the node's hypertables. Default:
    /// [`Repartition::Adjust`].
    pub fn repartition(mut self, repartition: Repartition) -> Self {
        self.repartition = repartition;
        self
    }

    /// Also drop the data node's database (TimescaleDB 2.6+).
    ///
    /// The data node refuses (`55006 database is being accessed by other users`, after
    /// waiting 5 seconds) while other sessions are connected to that database, and each
    /// access-node session that has queried the node keeps a connection to it: close pooled
    /// access-node connections that ran distributed queries (or let them time out) first.
    pub fn drop_database(mut self) -> Self {
        self.drop_database = true;
        self
    }

    /// Deletes the data node (see the type's documentation for the order of steps).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name, or a node the
    /// access node does not have (unless `if_exists`; the error lists the nodes it has);
    /// [`Error::WouldLoseData`] naming the data node when it holds the only copy of some
    /// chunks (with or without `force`); [`Error::Database`] with SQLSTATE TS504 when it
    /// holds replicated data and `force` is not set; [`Error::UnsupportedServer`] for
    /// `drop_database` before TimescaleDB 2.6; [`Error::NoUserMapping`] naming the data node
    /// when `drop_database` has no credentials to connect with. Nothing is changed when any
    /// of these is returned.
    pub async fn run(self, an: &AccessNode) -> Result<DeletedDataNode> {
        const OP: &str = "delete data node";
        let node = data_node_name(&self.name, OP, an)?;
        let feature = if self.drop_database {
            Feature::DeleteDataNodeDropDatabase
        } else {
            Feature::MultiNode
        };
        let (session, _) = an.session_with(OP, feature).await?;
        if !self.if_exists {
            AccessNode::check_data_nodes(&session, OP, &[node.as_str().to_owned()]).await?;
        }
        let call = DeleteCall {
            node: &node,
            if_exists: self.if_exists,
            force: self.force,
            repartition: self.repartition.as_bool(),
        };
        let mut result = DeletedDataNode {
            name: node.as_str().to_owned(),
            deleted: false,
            user_mappings_dropped: Vec::new(),
            database_dropped: false,
        };

        if self.drop_database {
            // Rehearse: every refusal comes out now, before the remote database is touched.
            let (exists, _) = call.in_transaction(&session, OP, End::Rollback).await?;
            if !exists {
                return Ok(result);
            }
            let remote_drop = session
                .query_multinode(
                    OP,
                    &delete_data_node(true),
                    &[
                        &node.as_str(),
                        &call.if_exists,
                        &call.force,
                        &call.repartition,
                        &true,
                    ],
                )
                .await;
            match remote_drop {
                // No user mapping was in the way (credentials from a passfile or certificate):
                // the server did everything.
                Ok(rows) => {
                    result.deleted = single(&session, OP, &rows, "deleted")?;
                    result.database_dropped = result.deleted;
                    tracing::debug!(node = %node, "data node and its database deleted");
                    return Ok(result);
                }
                // The remote database is gone; the user mappings kept the server.
                Err(e) if is_server_dependency(&e) || is_database_gone(&e, node.as_str()) => {
                    result.database_dropped = true;
                }
                Err(e) => return Err(e),
            }
        }

        let (deleted, mappings) = call.in_transaction(&session, OP, End::Commit).await?;
        result.deleted = deleted;
        result.user_mappings_dropped = mappings;
        tracing::debug!(
            node = %node,
            deleted,
            mappings = result.user_mappings_dropped.len(),
            "data node deleted"
        );
        Ok(result)
    }
}

/// The arguments of one `delete_data_node` call without `drop_database`.
struct DeleteCall<'a> {
    node: &'a Ident,
    if_exists: bool,
    force: bool,
    repartition: bool,
}

/// How a transaction block ends when everything in it succeeded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Commit,
    Rollback,
}

impl DeleteCall<'_> {
    /// In one transaction: drops every user mapping of the node, then deletes it; commits or
    /// rolls back as told (always rolls back on an error). Returns whether the node was
    /// deleted and whose mappings were dropped.
    async fn in_transaction(
        &self,
        session: &Session,
        op: &'static str,
        end: End,
    ) -> Result<(bool, Vec<RoleSpec>)> {
        session.execute_utility(op, &BEGIN).await?;
        let work = async {
            let mappings = drop_user_mappings(session, op, self.node).await?;
            let rows = session
                .query_multinode(
                    op,
                    &delete_data_node(false),
                    &[
                        &self.node.as_str(),
                        &self.if_exists,
                        &self.force,
                        &self.repartition,
                    ],
                )
                .await?;
            Ok::<_, Error>((single::<bool>(session, op, &rows, "deleted")?, mappings))
        };
        match work.await {
            Ok(done) => {
                let end = match end {
                    End::Commit => &COMMIT,
                    End::Rollback => &ROLLBACK,
                };
                session.execute_utility(op, end).await?;
                Ok(done)
            }
            Err(e) => {
                // The session is dropped after an error anyway; the error that matters is `e`.
                let _ = session.execute_utility(op, &ROLLBACK).await;
                Err(e)
            }
        }
    }
}

/// Drops every user mapping of foreign server `server` (every role's, and PUBLIC's).
async fn drop_user_mappings(
    session: &Session,
    op: &'static str,
    server: &Ident,
) -> Result<Vec<RoleSpec>> {
    let rows = session
        .query(op, &USER_MAPPINGS_OF_SERVER, &[&server.as_str()])
        .await?;
    let mut dropped = Vec::with_capacity(rows.len());
    for row in &rows {
        let role = if session.get::<bool>(op, row, "is_public")? {
            RoleSpec::Public
        } else {
            let name: String = session.get(op, row, "role")?;
            RoleSpec::Named(Ident::for_op(name, "role", op, Some(session.node()))?)
        };
        session
            .execute_utility_multinode(op, &user_mapping::drop(&role, server, false))
            .await?;
        dropped.push(role);
    }
    Ok(dropped)
}

/// `2BP01 cannot drop server ... because other objects depend on it`.
fn is_server_dependency(e: &Error) -> bool {
    e.code() == Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST)
        && e.as_db_error()
            .is_some_and(|db| db.message().starts_with("cannot drop server"))
}

/// `3D000 [dn]: database "..." does not exist`, relayed from data node `node`: an earlier
/// `drop_database` got as far as dropping it.
fn is_database_gone(e: &Error, node: &str) -> bool {
    e.code() == Some(&SqlState::INVALID_CATALOG_NAME) && e.node() == Some(node)
}

/// A data node to detach from one hypertable, or from all of them, with `detach_data_node`.
///
/// Detaching keeps the node registered and its user mappings. It refuses when the node holds
/// the only copy of some chunks, even with [`DetachDataNode::force`]; when the data is
/// replicated elsewhere it needs `force` and leaves the hypertable under-replicated. The
/// member table stays on the data node unless [`DetachDataNode::drop_remote_data`] is set,
/// and while it stays, attaching the node to the hypertable again fails (`42P07 relation
/// already exists`, naming the data node).
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{DetachDataNode, Ident, TableName};
///
/// let table = TableName::new(Ident::new("sensor_data")?);
/// let detached = DetachDataNode::new("dn2")
///     .hypertable(table)
///     .drop_remote_data()
///     .run(an)
///     .await?;
/// assert_eq!(detached, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DetachDataNode {
    name: String,
    hypertable: Option<TableName>,
    if_attached: bool,
    force: bool,
    repartition: Repartition,
    drop_remote_data: bool,
}

impl DetachDataNode {
    /// Detach the data node called `name` from every hypertable it is attached to (see
    /// [`DetachDataNode::hypertable`] for one).
    pub fn new(name: impl Into<String>) -> Self {
        DetachDataNode {
            name: name.into(),
            hypertable: None,
            if_attached: false,
            force: false,
            repartition: Repartition::default(),
            drop_remote_data: false,
        }
    }

    /// Detach it from this hypertable only.
    pub fn hypertable(mut self, table: TableName) -> Self {
        self.hypertable = Some(table);
        self
    }

    /// Succeed, detaching nothing, when the node is not attached to the hypertable.
    pub fn if_attached(mut self) -> Self {
        self.if_attached = true;
        self
    }

    /// Detach even when the node holds data that is replicated elsewhere (the hypertable is
    /// then under-replicated). Never overrides "would lose data".
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// What happens to the space partitions. Default: [`Repartition::Adjust`].
    pub fn repartition(mut self, repartition: Repartition) -> Self {
        self.repartition = repartition;
        self
    }

    /// Drop the hypertable's member table on the data node too (TimescaleDB 2.8+), so the
    /// node can be attached to it again.
    pub fn drop_remote_data(mut self) -> Self {
        self.drop_remote_data = true;
        self
    }

    /// Detaches the node; returns the number of hypertables it was detached from.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has);
    /// [`Error::WouldLoseData`] naming the data node when it holds the only copy of some
    /// chunks; [`Error::Database`] for other refusals (TS504: holds replicated data, needs
    /// `force`; TS173: not attached, without `if_attached`; 42P01: no such table);
    /// [`Error::UnsupportedServer`] for `drop_remote_data` before TimescaleDB 2.8.
    pub async fn run(self, an: &AccessNode) -> Result<u32> {
        const OP: &str = "detach data node";
        let node = data_node_name(&self.name, OP, an)?;
        let feature = if self.drop_remote_data {
            Feature::DetachDropRemoteData
        } else {
            Feature::MultiNode
        };
        let (session, _) = an.session_with(OP, feature).await?;
        AccessNode::check_data_nodes(&session, OP, &[node.as_str().to_owned()]).await?;
        let table = self.hypertable.as_ref().map(TableName::regclass_text);
        let repartition = self.repartition.as_bool();
        let node_name = node.as_str();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &node_name,
            &table,
            &self.if_attached,
            &self.force,
            &repartition,
        ];
        if self.drop_remote_data {
            params.push(&self.drop_remote_data);
        }
        let rows = session
            .query_multinode(OP, &detach_data_node(self.drop_remote_data), &params)
            .await?;
        let detached = count(single(&session, OP, &rows, "detached")?);
        tracing::debug!(node = %node, detached, "data node detached");
        Ok(detached)
    }
}

/// A data node to attach to a distributed hypertable with `attach_data_node`.
///
/// Attaching creates the (empty) member table on the node; existing chunks stay where they
/// are, only new chunks use the node.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{AttachDataNode, Ident, TableName};
///
/// let table = TableName::new(Ident::new("sensor_data")?);
/// let attached = AttachDataNode::new("dn3", table).if_not_attached().run(an).await?;
/// println!("hypertable {} on {}", attached.hypertable_id, attached.node_name);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct AttachDataNode {
    name: String,
    hypertable: TableName,
    if_not_attached: bool,
    repartition: Repartition,
}

/// What [`AttachDataNode::run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttachedDataNode {
    /// The hypertable's id on the access node.
    pub hypertable_id: i32,
    /// The id of its member hypertable on the data node.
    pub node_hypertable_id: i32,
    /// The data node.
    pub node_name: String,
}

impl AttachDataNode {
    /// Attach the data node called `name` to the distributed hypertable `hypertable`.
    pub fn new(name: impl Into<String>, hypertable: TableName) -> Self {
        AttachDataNode {
            name: name.into(),
            hypertable,
            if_not_attached: false,
            repartition: Repartition::default(),
        }
    }

    /// Succeed when the node is attached already (the server returns the existing row).
    pub fn if_not_attached(mut self) -> Self {
        self.if_not_attached = true;
        self
    }

    /// What happens to the space partitions. Default: [`Repartition::Adjust`], which raises
    /// their number to the number of attached data nodes.
    pub fn repartition(mut self, repartition: Repartition) -> Self {
        self.repartition = repartition;
        self
    }

    /// Attaches the node.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has); [`Error::Database`] for
    /// the server's refusals: TS172 already attached (without `if_not_attached`), 42P07
    /// naming the data node when its member table is left from a detach without
    /// `drop_remote_data`, 42P01 no such table.
    pub async fn run(self, an: &AccessNode) -> Result<AttachedDataNode> {
        const OP: &str = "attach data node";
        let node = data_node_name(&self.name, OP, an)?;
        let (session, _) = an.session_with(OP, Feature::MultiNode).await?;
        AccessNode::check_data_nodes(&session, OP, &[node.as_str().to_owned()]).await?;
        let table = self.hypertable.regclass_text();
        let repartition = self.repartition.as_bool();
        let rows = session
            .query_multinode(
                OP,
                &ATTACH_DATA_NODE,
                &[&node.as_str(), &table, &self.if_not_attached, &repartition],
            )
            .await?;
        let row = first_row(&session, OP, &rows)?;
        let attached = AttachedDataNode {
            hypertable_id: session.get(OP, row, "hypertable_id")?,
            node_hypertable_id: session.get(OP, row, "node_hypertable_id")?,
            node_name: session.get(OP, row, "node_name")?,
        };
        tracing::debug!(node = %node, hypertable_id = attached.hypertable_id, "data node attached");
        Ok(attached)
    }
}

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
/// use timescaledb_multinode::AlterDataNode;
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
    pub async fn run(self, an: &AccessNode) -> Result<AlteredDataNode> {
        const OP: &str = "alter data node";
        let node = data_node_name(&self.name, OP, an)?;
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
        let (session, _) = an.session_with(OP, Feature::AlterDataNode).await?;
        AccessNode::check_data_nodes(&session, OP, &[node.as_str().to_owned()]).await?;
        let port = self.port.map(i32::from);
        let database = database.as_ref().map(Ident::as_str);
        let rows = session
            .query_multinode(
                OP,
                &ALTER_DATA_NODE,
                &[
                    &node.as_str(),
                    &self.host,
                    &database,
                    &port,
                    &self.available,
                ],
            )
            .await?;
        let row = first_row(&session, OP, &rows)?;
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

/// Stop creating new chunks on a data node, for one hypertable or all of them, with
/// `timescaledb_experimental.block_new_chunks` (TimescaleDB 2.4+). Existing chunks stay.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{AllowNewChunks, BlockNewChunks};
///
/// let blocked = BlockNewChunks::new("dn1").run(an).await?; // every hypertable
/// // ... drain dn1 ...
/// let allowed = AllowNewChunks::new("dn1").run(an).await?;
/// println!("blocked on {blocked}, allowed again on {allowed} hypertables");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct BlockNewChunks {
    name: String,
    hypertable: Option<TableName>,
    force: bool,
}

impl BlockNewChunks {
    /// Block new chunks on the data node called `name`, for every hypertable it is attached
    /// to (see [`BlockNewChunks::hypertable`] for one).
    pub fn new(name: impl Into<String>) -> Self {
        BlockNewChunks {
            name: name.into(),
            hypertable: None,
            force: false,
        }
    }

    /// Block them for this hypertable only.
    pub fn hypertable(mut self, table: TableName) -> Self {
        self.hypertable = Some(table);
        self
    }

    /// Block even when too few data nodes remain for the replication factor (inserts that
    /// need a new chunk then fail while no node takes it).
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Blocks new chunks; returns the number of hypertables changed (one already blocked
    /// counts 0).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has); [`Error::Database`] with
    /// SQLSTATE TS170 when too few data nodes would remain, without `force`;
    /// [`Error::UnsupportedServer`] before TimescaleDB 2.4.
    pub async fn run(self, an: &AccessNode) -> Result<u32> {
        const OP: &str = "block new chunks";
        let node = data_node_name(&self.name, OP, an)?;
        let (session, _) = an.session_with(OP, Feature::ExperimentalChunkOps).await?;
        AccessNode::check_data_nodes(&session, OP, &[node.as_str().to_owned()]).await?;
        let table = self.hypertable.as_ref().map(TableName::regclass_text);
        let rows = session
            .query_multinode(
                OP,
                &BLOCK_NEW_CHUNKS,
                &[&node.as_str(), &table, &self.force],
            )
            .await?;
        let blocked = count(single(&session, OP, &rows, "affected")?);
        tracing::debug!(node = %node, blocked, "new chunks blocked");
        Ok(blocked)
    }
}

/// Let a data node take new chunks again, for one hypertable or all of them, with
/// `timescaledb_experimental.allow_new_chunks` (TimescaleDB 2.4+). See [`BlockNewChunks`].
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct AllowNewChunks {
    name: String,
    hypertable: Option<TableName>,
}

impl AllowNewChunks {
    /// Allow new chunks on the data node called `name`, for every hypertable it is attached
    /// to (see [`AllowNewChunks::hypertable`] for one).
    pub fn new(name: impl Into<String>) -> Self {
        AllowNewChunks {
            name: name.into(),
            hypertable: None,
        }
    }

    /// Allow them for this hypertable only.
    pub fn hypertable(mut self, table: TableName) -> Self {
        self.hypertable = Some(table);
        self
    }

    /// Allows new chunks; returns the number of hypertables concerned.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an invalid name or a node the
    /// access node does not have (the error lists the ones it has);
    /// [`Error::UnsupportedServer`] before TimescaleDB 2.4.
    pub async fn run(self, an: &AccessNode) -> Result<u32> {
        const OP: &str = "allow new chunks";
        let node = data_node_name(&self.name, OP, an)?;
        let (session, _) = an.session_with(OP, Feature::ExperimentalChunkOps).await?;
        AccessNode::check_data_nodes(&session, OP, &[node.as_str().to_owned()]).await?;
        let table = self.hypertable.as_ref().map(TableName::regclass_text);
        let rows = session
            .query_multinode(OP, &ALLOW_NEW_CHUNKS, &[&node.as_str(), &table])
            .await?;
        let allowed = count(single(&session, OP, &rows, "affected")?);
        tracing::debug!(node = %node, allowed, "new chunks allowed");
        Ok(allowed)
    }
}

/// One row of [`AccessNode::create_distributed_restore_point`]: the restore point on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestorePoint {
    /// The data node's name; `None` for the access node.
    pub node_name: Option<String>,
    /// `access_node` or `data_node`.
    pub node_type: String,
    /// The restore point's WAL location (`pg_lsn` as text, e.g. `0/1BE51C8`).
    pub lsn: String,
}

impl AccessNode {
    /// Sets how many data nodes hold each new chunk of the distributed hypertable `table`
    /// (`set_replication_factor`). Existing chunks are not copied: raising the factor leaves
    /// them under-replicated (the server warns).
    ///
    /// ```no_run
    /// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
    /// use timescaledb_multinode::{Ident, TableName};
    ///
    /// an.set_replication_factor(&TableName::new(Ident::new("sensor_data")?), 2).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for a factor outside 1 to 32767;
    /// [`Error::Database`] for the server's refusals: TS170 more than the attached data
    /// nodes, TS001 not a hypertable, 42P01 no such table.
    pub async fn set_replication_factor(&self, table: &TableName, n: i32) -> Result<()> {
        const OP: &str = "set replication factor";
        if !(1..=32767).contains(&n) {
            return Err(Error::invalid(
                OP,
                Some(&self.name()),
                format!("replication factor must be 1 to 32767, not {n}"),
            ));
        }
        let (session, _) = self.session_with(OP, Feature::MultiNode).await?;
        session
            .execute_multinode(OP, &SET_REPLICATION_FACTOR, &[&table.regclass_text(), &n])
            .await?;
        tracing::debug!(table = %table.name(), n, "replication factor set");
        Ok(())
    }

    /// Creates a restore point named `name` on the access node and every data node at once
    /// (`create_distributed_restore_point`, TimescaleDB 2.2+), for point-in-time recovery of
    /// the whole cluster to a consistent state. One row per node; the access node's comes
    /// with no node name.
    ///
    /// ```no_run
    /// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
    /// for point in an.create_distributed_restore_point("before-upgrade").await? {
    ///     println!("{:?} ({}) at {}", point.node_name, point.node_type, point.lsn);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an empty name, one over 63 bytes
    /// or one with a NUL byte; [`Error::Unreachable`] naming the data node when one is
    /// down (no restore point is then made); [`Error::UnsupportedServer`] before
    /// TimescaleDB 2.2.
    pub async fn create_distributed_restore_point(&self, name: &str) -> Result<Vec<RestorePoint>> {
        const OP: &str = "create distributed restore point";
        let an_name = self.name();
        let invalid = |reason: String| Error::invalid(OP, Some(&an_name), reason);
        if name.is_empty() {
            return Err(invalid("restore point name is empty".to_owned()));
        }
        if name.contains('\0') {
            return Err(invalid("restore point name contains a NUL byte".to_owned()));
        }
        if name.len() > MAX_IDENT_BYTES {
            return Err(invalid(format!(
                "restore point name is {} bytes long; the server takes at most \
                 {MAX_IDENT_BYTES}",
                name.len()
            )));
        }
        let (session, _) = self
            .session_with(OP, Feature::DistributedRestorePoint)
            .await?;
        let rows = session
            .query_multinode(OP, &CREATE_DISTRIBUTED_RESTORE_POINT, &[&name])
            .await?;
        let points = rows
            .iter()
            .map(|row| {
                Ok(RestorePoint {
                    node_name: session.get(OP, row, "node_name")?,
                    node_type: session.get(OP, row, "node_type")?,
                    lsn: session.get(OP, row, "lsn")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tracing::debug!(
            name,
            nodes = points.len(),
            "distributed restore point created"
        );
        Ok(points)
    }
}

/// Validates a data node's name; the error names the access node it was meant for.
fn data_node_name(name: &str, op: &'static str, an: &AccessNode) -> Result<Ident> {
    Ident::for_op(name, "data node name", op, Some(&an.name()))
}

/// The first row of a call that returns one.
fn first_row<'a>(
    session: &Session,
    op: &'static str,
    rows: &'a [tokio_postgres::Row],
) -> Result<&'a tokio_postgres::Row> {
    rows.first()
        .ok_or_else(|| Error::invalid(op, Some(session.node()), "the call returned no row"))
}

/// Column `column` of the one row a call returns.
fn single<'a, T: tokio_postgres::types::FromSql<'a>>(
    session: &Session,
    op: &'static str,
    rows: &'a [tokio_postgres::Row],
    column: &str,
) -> Result<T> {
    session.get(op, first_row(session, op, rows)?, column)
}

/// A count the server returns as `int4`.
fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
