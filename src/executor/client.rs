//! A caller's `tokio_postgres` client or transaction, and a connection checked out of an
//! [`AccessNode`](crate::AccessNode)'s pool, as [`Executor`]s.

use tokio_postgres::{Client, Transaction};

use super::sealed::Sealed;
use super::{Executor, Lease, Purpose, CALLERS_NODE};
use crate::connect::{Handle, SessionOn};
use crate::error::Result;
use crate::pool::PooledClient;

#[async_trait::async_trait]
impl Sealed for Client {
    async fn lease(&self, _op: &'static str, _purpose: Purpose) -> Result<Lease<'_>> {
        Ok(Lease::callers(SessionOn::borrowed(
            Handle::Borrowed(self),
            CALLERS_NODE.to_owned(),
            false,
        )))
    }
}

#[async_trait::async_trait]
impl Executor for Client {
    fn node_name(&self) -> String {
        CALLERS_NODE.to_owned()
    }
}

/// The statements run on the transaction's client, so inside its transaction block.
#[async_trait::async_trait]
impl Sealed for Transaction<'_> {
    async fn lease(&self, _op: &'static str, _purpose: Purpose) -> Result<Lease<'_>> {
        Ok(Lease::callers(SessionOn::borrowed(
            Handle::Borrowed(self.client()),
            CALLERS_NODE.to_owned(),
            true,
        )))
    }
}

#[async_trait::async_trait]
impl Executor for Transaction<'_> {
    fn node_name(&self) -> String {
        CALLERS_NODE.to_owned()
    }

    fn in_transaction_block(&self) -> bool {
        true
    }
}

/// The session stays the pool's: a failed data-node login marks it, and the pool drops it
/// instead of handing it out again.
#[async_trait::async_trait]
impl Sealed for PooledClient<'_> {
    async fn lease(&self, _op: &'static str, _purpose: Purpose) -> Result<Lease<'_>> {
        Ok(Lease::borrowed(self.session()))
    }
}

#[async_trait::async_trait]
impl Executor for PooledClient<'_> {
    fn node_name(&self) -> String {
        self.session().node().to_owned()
    }
}
