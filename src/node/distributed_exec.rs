//! `CALL distributed_exec(...)` on a pooled access-node connection.

use super::access_node::AccessNode;
use crate::error::{Error, Result};
use crate::executor::{Executor, Lease, Purpose};
use crate::ident::Ident;
use crate::server::Feature;
use crate::sql::data_node::distributed_exec;
use crate::sql::raw::{count_statements, RawSql};

/// One caller-written statement to run on data nodes with TimescaleDB's
/// `distributed_exec` (a procedure that returns no rows).
///
/// # Warning
///
/// The statement runs as written on every chosen data node (as the current role, through
/// its user mapping). Pass a string literal, or build it with [`RawSql::vouched`] from
/// trusted text only; it cannot take bind parameters of its own.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{DistributedExec, RawSql};
///
/// DistributedExec::new("CREATE SCHEMA IF NOT EXISTS metrics")
///     .data_nodes(["dn1", "dn2"])
///     .run(an)
///     .await?;
/// // Text made at run time is vouched for by name:
/// let schema = "metrics_2026";
/// DistributedExec::new(RawSql::vouched(format!("CREATE SCHEMA IF NOT EXISTS {schema}")))
///     .run(an)
///     .await?;
/// // Statements that cannot run in a transaction (CREATE DATABASE, VACUUM, ...):
/// DistributedExec::new("VACUUM ANALYZE")
///     .non_transactional()
///     .run(an)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DistributedExec {
    sql: RawSql,
    data_nodes: Option<Vec<String>>,
    transactional: bool,
}

const OP: &str = "distributed exec";

impl DistributedExec {
    /// Run `sql` (exactly one statement) on every data node, in one distributed
    /// transaction (two-phase commit): an error on any node undoes it on all.
    pub fn new(sql: impl Into<RawSql>) -> Self {
        DistributedExec {
            sql: sql.into(),
            data_nodes: None,
            transactional: true,
        }
    }

    /// Run only on these data nodes (each at most once). Default: every data node.
    pub fn data_nodes<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.data_nodes = Some(nodes.into_iter().map(Into::into).collect());
        self
    }

    /// Commit on each node on its own (`transactional => false`), for statements that
    /// cannot run in a transaction block. An error on one node leaves the others' effects in
    /// place. The call is never made inside a transaction block: on a
    /// [`tokio_postgres::Transaction`] it is refused before anything is sent.
    pub fn non_transactional(mut self) -> Self {
        self.transactional = false;
        self
    }

    /// Runs the statement on `on`: an [`AccessNode`]'s pool, or any other [`Executor`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for an empty statement, more than one
    /// statement, an unclosed quote, or a node list that is empty, repeats a node or names a
    /// node the access node does not have (the error lists the ones it has), and for a
    /// non-transactional call inside a transaction block (on a
    /// [`tokio_postgres::Transaction`]). Errors from a data node name it (`[dn1]: ...` is
    /// parsed out).
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<()> {
        self.validate(&on.node_name())?;
        if !self.transactional && on.in_transaction_block() {
            return Err(in_transaction_block(&on.node_name()));
        }
        let lease = on.lease(OP, Purpose::Pooled).await?;
        lease.within(OP, self.run_leased(&lease)).await
    }

    fn validate(&self, an_name: &str) -> Result<()> {
        let node = Some(an_name);
        match count_statements(self.sql.as_str()) {
            Ok(1) => {}
            Ok(0) => return Err(Error::invalid(OP, node, "the statement is empty")),
            Ok(n) => {
                return Err(Error::invalid(
                    OP,
                    node,
                    format!("distributed_exec runs exactly one statement; this text has {n}"),
                ))
            }
            Err(reason) => return Err(Error::invalid(OP, node, reason)),
        }
        if self.sql.as_str().contains('\0') {
            return Err(Error::invalid(
                OP,
                node,
                "the statement contains a NUL byte",
            ));
        }
        if let Some(nodes) = &self.data_nodes {
            if nodes.is_empty() {
                return Err(Error::invalid(OP, node, "the data node list is empty"));
            }
            for (i, n) in nodes.iter().enumerate() {
                Ident::for_op(n.clone(), "data node", OP, node)?;
                if nodes[..i].contains(n) {
                    return Err(Error::invalid(
                        OP,
                        node,
                        format!("data node {n:?} is listed twice"),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn run_leased(&self, lease: &Lease<'_>) -> Result<()> {
        if !self.transactional {
            lease.refuse_in_transaction_block(OP, "a non-transactional distributed_exec")?;
        }
        let session = lease.session();
        let schemas = lease.require(OP, Feature::MultiNode).await?;
        if let Some(nodes) = &self.data_nodes {
            AccessNode::check_data_nodes(session, OP, nodes).await?;
        }
        let node_refs: Option<Vec<&str>> = self
            .data_nodes
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect());
        session
            .execute_multinode(
                OP,
                &distributed_exec(&schemas),
                &[&self.sql.as_str(), &node_refs, &self.transactional],
            )
            .await?;
        Ok(())
    }
}

/// The refusal of a non-transactional call inside a transaction block, before anything is
/// sent (the server would refuse it with 25001).
fn in_transaction_block(node: &str) -> Error {
    Error::invalid(
        OP,
        Some(node),
        "a non-transactional distributed_exec cannot run inside a transaction block; run it on a client or pool, not a transaction",
    )
}
