//! Deleting a data node: `delete_data_node`, with its user mappings and, optionally, its database.

use tokio_postgres::error::SqlState;

use super::{check_node, data_node_name, single, Repartition};
use crate::connect::SessionOn;
use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::ident::Ident;
use crate::server::Feature;
use crate::sql::functions::Schemas;
use crate::sql::lifecycle::{delete_data_node, USER_MAPPINGS_OF_SERVER};
use crate::sql::session::{BEGIN, COMMIT, ROLLBACK};
use crate::sql::user_mapping::{self, RoleSpec};

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
/// use timescaledb_multinode::lifecycle::DeleteDataNode;
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
    idempotent: bool,
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
    /// Whether the node was deleted now (false: it did not exist, with
    /// [`DeleteDataNode::idempotent`]).
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
            idempotent: false,
            force: false,
            repartition: Repartition::default(),
            drop_database: false,
        }
    }

    /// Succeed, deleting nothing ([`DeletedDataNode::deleted`] is false), when there is no
    /// such data node (`if_exists => true`). Without it, that is
    /// [`Error::InvalidInput`] listing the data nodes there are, before anything is sent.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
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
    /// access node does not have (unless [`DeleteDataNode::idempotent`]; the error lists the
    /// nodes it has);
    /// [`Error::WouldLoseData`] naming the data node when it holds the only copy of some
    /// chunks (with or without `force`); [`Error::Database`] with SQLSTATE TS504 when it
    /// holds replicated data and `force` is not set; [`Error::UnsupportedServer`] for
    /// `drop_database` before TimescaleDB 2.6; [`Error::NoUserMapping`] naming the data node
    /// when `drop_database` has no credentials to connect with. Nothing is changed when any
    /// of these is returned.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<DeletedDataNode> {
        const OP: &str = "delete data node";
        let node = data_node_name(&self.name, OP, &on.node_name())?;
        let feature = if self.drop_database {
            Feature::DeleteDataNodeDropDatabase
        } else {
            Feature::MultiNode
        };
        if on.in_transaction_block() {
            return Err(Error::invalid(
                OP,
                Some(&on.node_name()),
                "delete_data_node cannot run inside a transaction block; run it on a client or pool, not a transaction",
            ));
        }
        let lease = on.lease(OP, Purpose::Admin).await?;
        let session = lease.session();
        let schemas = lease.require(OP, feature).await?;
        if !self.idempotent {
            check_node(session, OP, &node).await?;
        }
        let call = DeleteCall {
            schemas: &schemas,
            node: &node,
            if_exists: self.idempotent,
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
            let (exists, _) = call.in_transaction(session, OP, End::Rollback).await?;
            if !exists {
                return Ok(result);
            }
            let remote_drop = session
                .query_multinode(
                    OP,
                    &delete_data_node(&schemas, true),
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
                    result.deleted = single(session, OP, &rows, "deleted")?;
                    result.database_dropped = result.deleted;
                    tracing::debug!(node = %node, "data node and its database deleted");
                    return Ok(result);
                }
                // The remote database is gone; the user mappings kept the server.
                Err(e)
                    if is_server_dependency(&e, session.node())
                        || is_database_gone(&e, node.as_str()) =>
                {
                    result.database_dropped = true;
                }
                Err(e) => return Err(e),
            }
        }

        let (deleted, mappings) = call.in_transaction(session, OP, End::Commit).await?;
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
    schemas: &'a Schemas,
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
        session: &SessionOn<'_>,
        op: &'static str,
        end: End,
    ) -> Result<(bool, Vec<RoleSpec>)> {
        session.execute_utility(op, &BEGIN).await?;
        let work = async {
            let mappings = drop_user_mappings(session, op, self.node).await?;
            let rows = session
                .query_multinode(
                    op,
                    &delete_data_node(self.schemas, false),
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
    session: &SessionOn<'_>,
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

/// `2BP01 cannot drop server ... because other objects depend on it`, raised by the access
/// node `access_node` itself (a data node's error comes relayed, naming that node): the one
/// object `delete_data_node` drops there is the foreign server, so the SQLSTATE says it
/// whatever the server's `lc_messages`.
fn is_server_dependency(e: &Error, access_node: &str) -> bool {
    e.code() == Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST) && e.node() == Some(access_node)
}

/// `3D000 [dn]: database "..." does not exist`, relayed from data node `node`: an earlier
/// `drop_database` got as far as dropping it.
fn is_database_gone(e: &Error, node: &str) -> bool {
    e.code() == Some(&SqlState::INVALID_CATALOG_NAME) && e.node() == Some(node)
}
