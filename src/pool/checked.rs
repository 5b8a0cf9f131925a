//! The statement methods of a [`PooledClient`] handed out raw ([`crate::AccessNode::client`],
//! [`crate::pool::NodePool::client`]): the driver's, with every error routed through the check that
//! keeps a session whose access node lost (or never got) its connection to a data node out
//! of the pool, and named after the node.
//!
//! They have the names and arguments of [`tokio_postgres::Client`]'s, so they are the ones
//! `client.query(..)` calls (inherent methods come before those reached through `Deref`).

use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, SimpleQueryMessage, Statement, ToStatement};

use super::PooledClient;
use crate::error::Result;

impl PooledClient<'_> {
    /// [`tokio_postgres::Client::query`], checked: when the error shows that the access
    /// node's connection to a data node failed (a failed login, a node down, a lost
    /// connection), this session is not handed out again.
    pub async fn query<T>(&self, statement: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>>
    where
        T: ?Sized + ToStatement + Sync,
    {
        let session = self.session();
        session
            .client()
            .query(statement, params)
            .await
            .map_err(|e| session.multinode_err("query", e))
    }

    /// [`tokio_postgres::Client::query_one`], checked as [`PooledClient::query`].
    pub async fn query_one<T>(&self, statement: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Row>
    where
        T: ?Sized + ToStatement + Sync,
    {
        let session = self.session();
        session
            .client()
            .query_one(statement, params)
            .await
            .map_err(|e| session.multinode_err("query", e))
    }

    /// [`tokio_postgres::Client::query_opt`], checked as [`PooledClient::query`].
    pub async fn query_opt<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>>
    where
        T: ?Sized + ToStatement + Sync,
    {
        let session = self.session();
        session
            .client()
            .query_opt(statement, params)
            .await
            .map_err(|e| session.multinode_err("query", e))
    }

    /// [`tokio_postgres::Client::execute`], checked as [`PooledClient::query`].
    pub async fn execute<T>(&self, statement: &T, params: &[&(dyn ToSql + Sync)]) -> Result<u64>
    where
        T: ?Sized + ToStatement + Sync,
    {
        let session = self.session();
        session
            .client()
            .execute(statement, params)
            .await
            .map_err(|e| session.multinode_err("execute", e))
    }

    /// [`tokio_postgres::Client::batch_execute`], checked as [`PooledClient::query`].
    pub async fn batch_execute(&self, query: &str) -> Result<()> {
        let session = self.session();
        session
            .client()
            .batch_execute(query)
            .await
            .map_err(|e| session.multinode_err("batch execute", e))
    }

    /// [`tokio_postgres::Client::simple_query`], checked as [`PooledClient::query`].
    pub async fn simple_query(&self, query: &str) -> Result<Vec<SimpleQueryMessage>> {
        let session = self.session();
        session
            .client()
            .simple_query(query)
            .await
            .map_err(|e| session.multinode_err("simple query", e))
    }

    /// [`tokio_postgres::Client::prepare`], checked as [`PooledClient::query`].
    pub async fn prepare(&self, query: &str) -> Result<Statement> {
        let session = self.session();
        session
            .client()
            .prepare(query)
            .await
            .map_err(|e| session.multinode_err("prepare", e))
    }
}
