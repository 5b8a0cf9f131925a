//! The one way a statement that carries a secret (a user-mapping password, a data node's
//! password for `add_data_node`, a role's SCRAM verifier) is sent: so that no server log,
//! statistics view or returned error holds the secret, whatever the server's logging
//! settings, or the operation is refused before the secret is sent, naming the setting.
//!
//! A [`Quiet`] scope starts with a guard (`crate::sql::quiet::guard`) in its own
//! transaction: for a superuser it turns off, for the session, every setting that could
//! record the secret (`log_statement`, `log_min_duration_statement`, the sampling settings,
//! `log_min_error_statement`, `log_parameter_max_length`, `track_activities`,
//! `pg_stat_statements.track`, `pgaudit.log`, ...); for any role it turns off what any role may
//! (`log_parameter_max_length_on_error`, `debug_print_*`), and refuses with
//! [`Error::SecretWouldBeLogged`] when a setting it cannot change would record the secret,
//! unless the caller chose [`SecretLogging::Accept`]. The scope ends by resetting them, also
//! after an error.
//!
//! Inside, the secret travels only as a bind parameter: either of a statement that takes one
//! (`add_data_node(password => $7)`), or of `pg_temp.tsmn_secret($1 template, $2 secret)`,
//! which completes a utility statement on the server. Roles on data nodes go through
//! `distributed_exec`, which sends text: there the same guard runs on each data node first.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::connect::SessionOn;
use crate::error::Result;
use crate::sql::data_node::distributed_exec;
use crate::sql::functions::Schemas;
use crate::sql::quiet::{guard, Carriage, SecretTemplate, RESTORE, SEND};
use crate::sql::Sql;

/// What to do when a server's settings would record a secret and the connecting role cannot
/// turn them off for its session (it is not a superuser): `log_statement = all`,
/// `log_min_duration_statement >= 0` and the sampling settings (each while
/// `log_parameter_max_length` logs bind parameters), `pg_stat_statements.track = all` with
/// `track_utility`, `pgaudit.log`, and where a secret goes through `distributed_exec` a
/// `log_min_messages` of `debug2` or below (on the access node and on the data nodes).
///
/// Set it on an [`AccessNode`](crate::AccessNode) with
/// [`AccessNode::secret_logging`](crate::AccessNode::secret_logging), or on a
/// [`Cluster`](crate::Cluster) with [`Cluster::secret_logging`](crate::Cluster::secret_logging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SecretLogging {
    /// Refuse before the secret is sent, with [`Error::SecretWouldBeLogged`] naming the
    /// setting (the default).
    ///
    /// [`Error::SecretWouldBeLogged`]: crate::Error::SecretWouldBeLogged
    #[default]
    Refuse,
    /// Send it anyway: the caller accepts that this server's logging settings may record the
    /// secret (in the server log or `pg_stat_statements`). Settings the role may change are
    /// still turned off.
    Accept,
}

/// A session whose logging was checked and quieted for secrets, until [`Quiet::leave`].
#[derive(Debug)]
pub(crate) struct Quiet<'s> {
    session: &'s SessionOn<'s>,
    op: &'static str,
    accept: bool,
}

impl<'s> Quiet<'s> {
    /// Checks and quiets `session` for secrets sent as `carriage` says
    /// ([`Carriage::Bound`], or [`Carriage::Relayed`] when data nodes get them through
    /// `distributed_exec`).
    pub(crate) async fn enter(
        session: &'s SessionOn<'s>,
        op: &'static str,
        carriage: Carriage,
        policy: SecretLogging,
    ) -> Result<Quiet<'s>> {
        let accept = policy == SecretLogging::Accept;
        if let Err(e) = session.execute_utility(op, &guard(carriage, accept)).await {
            // What the guard set before it refused is undone.
            let _ = session.execute_utility(op, &RESTORE).await;
            return Err(e);
        }
        Ok(Quiet {
            session,
            op,
            accept,
        })
    }

    /// The session.
    pub(crate) fn session(&self) -> &SessionOn<'s> {
        self.session
    }

    /// Runs `template` with `secret` in its hole (a utility statement); a statement without
    /// a hole takes an empty secret.
    pub(crate) async fn run(&self, template: &SecretTemplate, secret: &str) -> Result<()> {
        self.session
            .execute_multinode(self.op, &SEND, &[&template.text(), &secret])
            .await
            .map(|_| ())
    }

    /// Runs `sql`, whose secret is one of the bind parameters `params`, and returns its rows.
    pub(crate) async fn query_bound(
        &self,
        sql: &Sql,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.session.query_multinode(self.op, sql, params).await
    }

    /// Runs `call` (a `crate::sql::quiet::send_literal*` call) on `data_nodes` through
    /// `distributed_exec`, each node checked and quieted first, and reset afterwards; an
    /// error the call kept on a node is raised then. Each node commits on its own (a
    /// session-private function cannot take part in a two-phase commit), so after a failure
    /// some nodes may have the change; running the operation again converges.
    pub(crate) async fn distributed(
        &self,
        schemas: &Schemas,
        data_nodes: &[&str],
        call: &Sql,
    ) -> Result<()> {
        let exec_sql = &distributed_exec(schemas);
        let exec = |sql: &Sql| {
            let text = sql.text().to_owned();
            async move {
                self.session
                    .execute_multinode(self.op, exec_sql, &[&text, &data_nodes, &false])
                    .await
                    .map(|_| ())
            }
        };
        let guarded = exec(&guard(Carriage::Literal, self.accept)).await;
        let sent = match guarded {
            Ok(()) => exec(call).await,
            Err(e) => Err(e),
        };
        let restored = exec(&RESTORE).await;
        sent?;
        restored
    }

    /// Resets what [`Quiet::enter`] set (always), and returns `result`; an error from the
    /// reset is returned only when `result` is fine.
    pub(crate) async fn leave<T>(self, result: Result<T>) -> Result<T> {
        let restored = self.session.execute_utility(self.op, &RESTORE).await;
        let value = result?;
        restored?;
        Ok(value)
    }
}
