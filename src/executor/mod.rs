//! Bring your own session: the one trait, [`Executor`], that the typed operations run on,
//! whatever holds the connection to the access node — an [`AccessNode`] (its pool, or a
//! fresh session for administrative work), a caller's `tokio_postgres::Client` or
//! `Transaction`, a connection checked out of an [`AccessNode`]'s pool, or (feature
//! `bb8-postgres`) the caller's bb8-postgres pool or one of its connections.
//!
//! An operation asks its executor for a [`Lease`]: a session for that operation, with what
//! the operation needs to know about it (its node's name for errors, whether it runs inside
//! a transaction block the caller opened, the handle's secret-logging policy).

pub(crate) mod catalog;
mod client;

#[cfg(feature = "bb8-postgres")]
mod bb8_postgres;

use crate::catalog::{ChunkInfo, DataNodeInfo, HypertableInfo};
use crate::connect::{Session, SessionOn};
use crate::error::Result;
use crate::node::Ingest;
use crate::node::{AccessNode, SessionRef};
use crate::pool::PooledClient;
use crate::secret_send::SecretLogging;
use crate::server::{Feature, ServerInfo};
use crate::sql::functions::Schemas;
use crate::table_name::IntoTableName;

/// The name errors give the node behind a caller's client, pool or transaction (the crate
/// does not know the name the caller uses for it).
pub(crate) const CALLERS_NODE: &str = "access node";

/// Something the typed operations run on: a session to the access node, or a source of
/// them.
///
/// Every command's `run` ([`DistributedHypertable::run`](crate::DistributedHypertable::run),
/// [`DistributedExec::run`](crate::DistributedExec::run),
/// [`DistributedRole::run`](crate::DistributedRole::run), [`UserMapping::run`](crate::UserMapping::run),
/// [`DataNode::run`](crate::DataNode::run), the data-node lifecycle, ...; all but
/// [`UpdateExtension`](crate::UpdateExtension)) takes `&impl Executor`; the catalog reads
/// and binary-COPY ingest are methods of the trait
/// ([`Executor::data_nodes`], [`Executor::chunks`], [`Executor::ingest`], ...). Implemented
/// for:
///
/// | executor | sessions |
/// |---|---|
/// | [`AccessNode`] | its pool for queries and `distributed_exec`; a fresh session for administrative work |
/// | [`PooledClient`] (from [`AccessNode::client`]) | that connection |
/// | [`tokio_postgres::Client`] | that client, outside any transaction block |
/// | [`tokio_postgres::Transaction`] | inside the caller's transaction block: the operation commits or rolls back with it |
/// | `bb8::Pool<bb8_postgres::PostgresConnectionManager<Tls>>` (feature `bb8-postgres`) | a connection checked out for each operation |
/// | `bb8::PooledConnection<'_, bb8_postgres::PostgresConnectionManager<Tls>>` (feature `bb8-postgres`) | that connection |
/// | `&E` for any of them | as `E` |
///
/// What the server refuses inside a transaction block (`add_data_node`,
/// `delete_data_node`, a non-transactional `distributed_exec`, a distributed role's
/// statements on the data nodes) is refused on a `Transaction` with
/// [`Error::InvalidInput`](crate::Error::InvalidInput) before anything is sent.
///
/// On a caller's client, errors name the node `"access node"`; the session's settings are
/// the caller's (the crate qualifies every name it uses, so the search path does not
/// matter), and the operations that send a secret use [`SecretLogging::Refuse`]. The
/// trait is sealed: the crate's operations rely on what each implementation guarantees.
///
/// On a caller's session, operations run under that session's own `statement_timeout`: the
/// crate sets no deadline of its own there and sends no cancel request (an
/// [`AccessNode`]'s pooled sessions get [`PoolConfig::statement_timeout`](crate::pool::PoolConfig::statement_timeout)
/// and a deadline).
///
/// After an error that names a data node's login or connection
/// ([`Error::is_authentication_failure`](crate::Error::is_authentication_failure),
/// [`Error::is_unreachable`](crate::Error::is_unreachable),
/// [`Error::NoUserMapping`](crate::Error::NoUserMapping),
/// [`Error::is_stale_data_node_connection`](crate::Error::is_stale_data_node_connection)),
/// TimescaleDB 2.13 can crash that access-node session on its next `distributed_exec`. The
/// crate's own pools drop such a session; a caller's client or pool cannot be told, so drop
/// that client (or keep the connection out of your pool) yourself.
///
/// # In an application
///
/// The connection you already have runs the typed operations; no second pool, no second
/// copy of the credentials:
///
/// ```no_run
/// use timescaledb_multinode::{DistributedExec, DistributedHypertable, Executor, RawSql};
///
/// async fn setup(client: &mut tokio_postgres::Client) -> Result<(), Box<dyn std::error::Error>> {
///     // Any executor: a client, a transaction, an `AccessNode`, a bb8-postgres pool.
///     async fn metrics_table(on: &impl Executor) -> timescaledb_multinode::Result<()> {
///         DistributedHypertable::new("metrics", "time")
///             .partitioning_column("device")
///             .idempotent()
///             .run(on)
///             .await?;
///         Ok(())
///     }
///
///     client
///         .batch_execute("CREATE TABLE IF NOT EXISTS metrics (time timestamptz NOT NULL, device int, value float8)")
///         .await?;
///     metrics_table(&*client).await?;
///
///     // Inside your own transaction: the hypertable commits or rolls back with it.
///     let tx = client.transaction().await?;
///     tx.batch_execute("CREATE TABLE IF NOT EXISTS events (time timestamptz NOT NULL, kind text)")
///         .await?;
///     DistributedHypertable::new("events", "time").idempotent().run(&tx).await?;
///     tx.commit().await?;
///
///     // Statements on every data node, on the same client.
///     DistributedExec::new("CREATE SCHEMA IF NOT EXISTS staging").run(&*client).await?;
///     Ok(())
/// }
/// ```
#[async_trait::async_trait]
pub trait Executor: sealed::Sealed + Send + Sync {
    /// The name errors give the node this executor reaches: the [`AccessNode`]'s name, or
    /// `"access node"` for a caller's client, transaction or pool.
    fn node_name(&self) -> String;

    /// Whether its statements run inside a transaction block the caller opened (a
    /// [`tokio_postgres::Transaction`]).
    fn in_transaction_block(&self) -> bool {
        false
    }

    /// The access node's data nodes (like `\des+`), by name.
    async fn data_nodes(&self) -> Result<Vec<DataNodeInfo>> {
        catalog::data_nodes(self).await
    }

    /// The hypertable `table` (resolved with the search path when unqualified), if it is
    /// one.
    async fn hypertable<T: IntoTableName + Send>(
        &self,
        table: T,
    ) -> Result<Option<HypertableInfo>> {
        catalog::hypertable(self, table).await
    }

    /// Every hypertable of the access node's database (distributed or not), by schema and
    /// name.
    async fn hypertables(&self) -> Result<Vec<HypertableInfo>> {
        catalog::hypertables(self).await
    }

    /// The chunks of hypertable `table` and the data nodes that hold each.
    async fn chunks<T: IntoTableName + Send>(&self, table: T) -> Result<Vec<ChunkInfo>> {
        catalog::chunks(self, table).await
    }

    /// Starts a binary COPY into `columns` of `table` on this executor's session, as
    /// [`AccessNode::ingest`] does on its pool: for a distributed hypertable, every data
    /// node it is attached to is pinged first, and the write is refused with
    /// [`Error::DataNodeDown`](crate::Error::DataNodeDown) if one does not answer (a
    /// distributed write to a chunk with a replica on a down node crashes a TimescaleDB 2.13
    /// access node). Inside a `Transaction`, the rows commit or roll back with it.
    async fn ingest<T: IntoTableName + Send>(
        &self,
        table: T,
        columns: &[&str],
    ) -> Result<Ingest<'_>> {
        crate::node::ingest_on(self, table, columns).await
    }
}

/// What an operation needs its session for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Administrative work (catalog changes, secrets): on an [`AccessNode`], a fresh
    /// session of its own, so its settings never reach a pooled one.
    Admin,
    /// Queries and `distributed_exec`: a pooled session where there is a pool.
    Pooled,
}

pub(crate) mod sealed {
    use super::{Lease, Purpose};
    use crate::error::Result;

    /// The part of [`super::Executor`] only the crate implements and calls.
    #[async_trait::async_trait]
    pub trait Sealed {
        /// A session for operation `op`.
        async fn lease(&self, op: &'static str, purpose: Purpose) -> Result<Lease<'_>>;
    }
}

/// A session checked out for one typed operation (the crate's operations take one from
/// their [`Executor`]); a pooled one goes back to its pool when this is dropped.
pub struct Lease<'a> {
    held: Held<'a>,
    /// The handle the session came from, when it is an [`AccessNode`]: what it learnt of
    /// the server, its secret-logging policy, its data-node checks.
    access_node: Option<&'a AccessNode>,
}

enum Held<'a> {
    /// Checked out of an [`AccessNode`]'s pool for this operation.
    Pooled(PooledClient<'a>),
    /// An [`AccessNode`]'s fresh (or pinned) session.
    Own(SessionRef),
    /// A connection of an [`AccessNode`]'s pool the caller holds.
    Borrowed(&'a Session),
    /// A caller's client, transaction or pooled connection.
    Callers(SessionOn<'a>),
}

impl std::fmt::Debug for Lease<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("node", &self.session().node())
            .field(
                "in_transaction_block",
                &self.session().in_transaction_block(),
            )
            .finish()
    }
}

impl<'a> Lease<'a> {
    pub(crate) fn pooled(client: PooledClient<'a>, an: &'a AccessNode) -> Self {
        Lease {
            held: Held::Pooled(client),
            access_node: Some(an),
        }
    }

    pub(crate) fn own(session: SessionRef, an: &'a AccessNode) -> Self {
        Lease {
            held: Held::Own(session),
            access_node: Some(an),
        }
    }

    pub(crate) fn borrowed(session: &'a Session) -> Self {
        Lease {
            held: Held::Borrowed(session),
            access_node: None,
        }
    }

    pub(crate) fn callers(session: SessionOn<'a>) -> Self {
        Lease {
            held: Held::Callers(session),
            access_node: None,
        }
    }

    /// The session.
    pub(crate) fn session(&self) -> &SessionOn<'a> {
        match &self.held {
            Held::Pooled(client) => client.session(),
            Held::Own(session) => session,
            Held::Borrowed(session) => session,
            Held::Callers(session) => session,
        }
    }

    /// The [`AccessNode`] the session came from, if it did.
    pub(crate) fn access_node(&self) -> Option<&'a AccessNode> {
        self.access_node
    }

    /// When an operation on the session must be over: the pool's operation deadline on a
    /// session the crate pools (see [`PooledClient::deadline`]); none on a caller's.
    pub(crate) fn deadline(&self) -> Option<tokio::time::Instant> {
        match &self.held {
            Held::Pooled(client) => client.deadline(),
            _ => None,
        }
    }

    /// Runs `work` until `deadline` when the session is pooled by the crate (see
    /// [`PooledClient::until`]); as it is otherwise.
    pub(crate) async fn until<T>(
        &self,
        op: &'static str,
        deadline: Option<tokio::time::Instant>,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        match &self.held {
            Held::Pooled(client) => client.until(op, deadline, work).await,
            _ => work.await,
        }
    }

    /// What to do when a setting would record a secret: the [`AccessNode`]'s policy, or
    /// [`SecretLogging::Refuse`] on a caller's client.
    pub(crate) fn secret_logging(&self) -> SecretLogging {
        self.access_node
            .map_or(SecretLogging::default(), AccessNode::secret_logging_policy)
    }

    /// Refuses `op` unless the server has `feature`; the schemas of its TimescaleDB
    /// functions. An [`AccessNode`] keeps what it learnt; on a caller's session the server
    /// is read each time (one round trip).
    pub(crate) async fn require(&self, op: &'static str, feature: Feature) -> Result<Schemas> {
        let session = self.session();
        if let Some(an) = self.access_node {
            return an.require_pooled(session, op, feature).await;
        }
        let info = ServerInfo::read_brief(session).await?;
        let caps = info.multinode_capabilities(op)?;
        caps.require(op, session.node(), feature)?;
        info.schemas(op)
    }

    /// Runs `work` within the pool's operation deadline when the session is pooled by the
    /// crate (see [`PooledClient::within`]); as it is otherwise.
    pub(crate) async fn within<T>(
        &self,
        op: &'static str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        match &self.held {
            Held::Pooled(client) => client.within(op, work).await,
            _ => work.await,
        }
    }

    /// Refuses `op` before anything is sent when the session runs inside the caller's
    /// transaction block, where the server refuses `what`.
    pub(crate) fn refuse_in_transaction_block(&self, op: &'static str, what: &str) -> Result<()> {
        self.session().refuse_in_transaction_block(op, what)
    }
}

#[async_trait::async_trait]
impl<E: Executor + ?Sized> sealed::Sealed for &E {
    async fn lease(&self, op: &'static str, purpose: Purpose) -> Result<Lease<'_>> {
        (**self).lease(op, purpose).await
    }
}

#[async_trait::async_trait]
impl<E: Executor + ?Sized> Executor for &E {
    fn node_name(&self) -> String {
        (**self).node_name()
    }

    fn in_transaction_block(&self) -> bool {
        (**self).in_transaction_block()
    }
}

#[async_trait::async_trait]
impl sealed::Sealed for AccessNode {
    async fn lease(&self, op: &'static str, purpose: Purpose) -> Result<Lease<'_>> {
        // A pinned handle runs everything on its one session (see `AccessNode::pinned_on`).
        if self.pinned_session().is_some() {
            return Ok(Lease::own(self.session(op).await?, self));
        }
        match purpose {
            Purpose::Admin => Ok(Lease::own(self.session(op).await?, self)),
            Purpose::Pooled => Ok(Lease::pooled(self.pool().get(op).await?, self)),
        }
    }
}

#[async_trait::async_trait]
impl Executor for AccessNode {
    fn node_name(&self) -> String {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::Executor;

    #[test]
    fn the_executors_are_what_the_docs_say() {
        fn executor<E: Executor + ?Sized>() {}
        executor::<crate::AccessNode>();
        executor::<crate::pool::PooledClient<'static>>();
        executor::<tokio_postgres::Client>();
        executor::<tokio_postgres::Transaction<'static>>();
        executor::<&tokio_postgres::Client>();
        #[cfg(feature = "bb8-postgres")]
        {
            use bb8_postgres::PostgresConnectionManager;
            use tokio_postgres::NoTls;
            executor::<bb8::Pool<PostgresConnectionManager<NoTls>>>();
            executor::<bb8::PooledConnection<'static, PostgresConnectionManager<NoTls>>>();
            #[cfg(feature = "rustls")]
            executor::<
                bb8::Pool<PostgresConnectionManager<tokio_postgres_rustls::MakeRustlsConnect>>,
            >();
        }
    }
}
