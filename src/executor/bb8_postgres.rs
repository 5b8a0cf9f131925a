//! (feature `bb8-postgres`) The caller's bb8-postgres pool, and its pooled connections, as
//! [`Executor`]s.

use bb8_postgres::PostgresConnectionManager;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::Socket;

use super::sealed::Sealed;
use super::{Executor, Lease, Purpose, CALLERS_NODE};
use crate::connect::{Handle, SessionOn};
use crate::error::{Error, Result};

/// A connection checked out for each operation, back in the pool when it ends.
#[async_trait::async_trait]
impl<Tls> Sealed for bb8::Pool<PostgresConnectionManager<Tls>>
where
    Tls: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    <Tls as MakeTlsConnect<Socket>>::Stream: Send + Sync,
    <Tls as MakeTlsConnect<Socket>>::TlsConnect: Send,
    <<Tls as MakeTlsConnect<Socket>>::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    async fn lease(&self, op: &'static str, _purpose: Purpose) -> Result<Lease<'_>> {
        let conn = match self.get().await {
            Ok(conn) => conn,
            Err(bb8::RunError::User(e)) => {
                return Err(Error::from_connect(op, CALLERS_NODE, "", e))
            }
            Err(bb8::RunError::TimedOut) => {
                return Err(Error::PoolTimeout {
                    op,
                    node: CALLERS_NODE.to_owned(),
                    after: self.config().connection_timeout,
                })
            }
        };
        Ok(Lease::callers(SessionOn::borrowed(
            Handle::Held(Box::new(conn)),
            CALLERS_NODE.to_owned(),
            false,
        )))
    }
}

#[async_trait::async_trait]
impl<Tls> Executor for bb8::Pool<PostgresConnectionManager<Tls>>
where
    Tls: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    <Tls as MakeTlsConnect<Socket>>::Stream: Send + Sync,
    <Tls as MakeTlsConnect<Socket>>::TlsConnect: Send,
    <<Tls as MakeTlsConnect<Socket>>::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn node_name(&self) -> String {
        CALLERS_NODE.to_owned()
    }
}

#[async_trait::async_trait]
impl<Tls> Sealed for bb8::PooledConnection<'_, PostgresConnectionManager<Tls>>
where
    Tls: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    <Tls as MakeTlsConnect<Socket>>::Stream: Send + Sync,
    <Tls as MakeTlsConnect<Socket>>::TlsConnect: Send,
    <<Tls as MakeTlsConnect<Socket>>::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    async fn lease(&self, _op: &'static str, _purpose: Purpose) -> Result<Lease<'_>> {
        Ok(Lease::callers(SessionOn::borrowed(
            Handle::Borrowed(self),
            CALLERS_NODE.to_owned(),
            false,
        )))
    }
}

#[async_trait::async_trait]
impl<Tls> Executor for bb8::PooledConnection<'_, PostgresConnectionManager<Tls>>
where
    Tls: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    <Tls as MakeTlsConnect<Socket>>::Stream: Send + Sync,
    <Tls as MakeTlsConnect<Socket>>::TlsConnect: Send,
    <<Tls as MakeTlsConnect<Socket>>::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn node_name(&self) -> String {
        CALLERS_NODE.to_owned()
    }
}
