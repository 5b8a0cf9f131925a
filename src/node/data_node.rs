//! Adding a data node to the access node.

use secrecy::{ExposeSecret, SecretString};

use super::user_mapping::{Checked, UserMapping};
use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::executor::{Executor, Purpose};
use crate::ident::Ident;
use crate::secret_send::Quiet;
use crate::server::Feature;
use crate::sql::data_node::{add_data_node, distributed_exec, ROUND_TRIP};
use crate::sql::functions::Schemas;
use crate::sql::quiet::Carriage;
use crate::sql::user_mapping::RoleSpec;

use super::user_mapping::MappingChange;

/// Whether `add_data_node` creates the data node's database and extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Bootstrap {
    /// Create the database (and the extension) on the data node if they are missing
    /// (`bootstrap => true`, the server's default). TimescaleDB then first checks, over the
    /// node's `postgres` (else `template1`) database, that the server offers the extension;
    /// that check finds none where `standard_conforming_strings` is off for the login role.
    #[default]
    CreateDatabase,
    /// The database and the extension exist already (`bootstrap => false`); the connecting
    /// role needs no right to create databases.
    ExistingDatabase,
}

/// A data node to add with `add_data_node`.
///
/// TimescaleDB uses the password given to `add_data_node` only while adding the node and
/// stores it nowhere, so every later connection from the access node fails until a user
/// mapping supplies it. [`DataNode::run`] therefore also creates (or updates) the user
/// mapping of the connecting role, unless told not to with [`DataNode::without_user_mapping`],
/// and returns only when the access node can really reach the node.
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::{Bootstrap, DataNode, SecretString};
///
/// let added = DataNode::new("dn1", "10.0.0.11")
///     .port(5432)
///     .database("tsdb")
///     .password(SecretString::from("dn1 password"))
///     .bootstrap(Bootstrap::ExistingDatabase)
///     .idempotent()
///     .run(an)
///     .await?;
/// println!("{} created: {}", added.name, added.node_created);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct DataNode {
    name: String,
    host: String,
    port: u16,
    database: Option<String>,
    password: Option<SecretString>,
    remote_user: Option<String>,
    bootstrap: Bootstrap,
    idempotent: bool,
    user_mapping: bool,
}

/// What [`DataNode::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddedDataNode {
    /// The data node's name.
    pub name: String,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Its database.
    pub database: String,
    /// Whether the node was added now (false: it existed, with [`DataNode::idempotent`]).
    pub node_created: bool,
    /// Whether its database was created.
    pub database_created: bool,
    /// Whether the extension was created in it.
    pub extension_created: bool,
    /// What happened to the connecting role's user mapping (`None`: not managed).
    pub user_mapping: Option<MappingChange>,
}

const OP: &str = "add data node";

impl DataNode {
    /// A data node called `name` at `host` (port 5432, the access node's database name).
    pub fn new(name: impl Into<String>, host: impl Into<String>) -> Self {
        DataNode {
            name: name.into(),
            host: host.into(),
            port: NodeConfig::DEFAULT_PORT,
            database: None,
            password: None,
            remote_user: None,
            bootstrap: Bootstrap::default(),
            idempotent: false,
            user_mapping: true,
        }
    }

    /// A data node described by its own connection settings: name, host, port, database,
    /// user (the remote user of the mapping) and password.
    pub fn from_config(config: &NodeConfig) -> Self {
        DataNode::new(config.node_name(), config.get_host())
            .port(config.get_port())
            .database(config.get_database())
            .remote_user(config.get_user())
            .password(config.get_password().clone())
    }

    /// The host the access node connects to (replaces the one given to
    /// [`DataNode::new`]).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port. Default: 5432.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The database on the data node. Default: the access node's database name.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// The password of the connecting role on the data node.
    pub fn password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// The user the access node logs in as (the mapping's `user` option). Default: the
    /// connecting role's own name.
    pub fn remote_user(mut self, user: impl Into<String>) -> Self {
        self.remote_user = Some(user.into());
        self
    }

    /// Whether to create the database and extension. Default: [`Bootstrap::CreateDatabase`].
    pub fn bootstrap(mut self, bootstrap: Bootstrap) -> Self {
        self.bootstrap = bootstrap;
        self
    }

    /// Succeed when a data node of that name exists already (`if_not_exists => true`):
    /// nothing is added ([`AddedDataNode::node_created`] is false), and the user mapping and
    /// the reachability check are seen to as for a new node. Without it, an existing node is
    /// [`Error::AlreadyExists`], as the server says.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Do not create a user mapping (for example when a passfile or certificates supply the
    /// credentials); the reachability check still runs.
    pub fn without_user_mapping(mut self) -> Self {
        self.user_mapping = false;
        self
    }

    /// Adds the node, sees to the user mapping, and checks that the access node can reach it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for a bad name, host, port or
    /// database, or a missing password; [`Error::AlreadyExists`] when the name is taken (or
    /// the database is a data node of an access node already); [`Error::Unreachable`],
    /// [`Error::AuthenticationFailed`] or [`Error::NoUserMapping`] naming the data node when
    /// the access node cannot reach or log in to it; [`Error::UnsupportedServer`] on a server
    /// without multi-node, and naming the data node when a bootstrap finds no extension on
    /// its server (see [`Bootstrap::CreateDatabase`]). A failure after the node was added leaves it added: running the
    /// same call with [`DataNode::idempotent`] finishes the job.
    ///
    /// Runs on any [`Executor`] but a `Transaction`: the server refuses `add_data_node`
    /// inside a transaction block, so that is refused with [`Error::InvalidInput`] before
    /// anything is sent.
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<AddedDataNode> {
        let an_name = on.node_name();
        let name = Ident::for_op(self.name.clone(), "data node name", OP, Some(&an_name))?;
        let node = name.as_str().to_owned();
        let invalid = |reason: &str| Error::invalid(OP, Some(&node), reason);
        if self.host.trim().is_empty() {
            return Err(invalid("host is empty"));
        }
        if self.host.contains('\0') {
            return Err(invalid("host contains a NUL byte"));
        }
        if self.port == 0 {
            return Err(invalid("port must not be 0"));
        }
        if let Some(db) = &self.database {
            Ident::for_op(db.clone(), "database", OP, Some(&node))?;
        }
        if self
            .password
            .as_ref()
            .is_some_and(|p| p.expose_secret().contains('\0'))
        {
            return Err(invalid("password contains a NUL byte"));
        }
        let mapping = if self.user_mapping {
            let Some(password) = &self.password else {
                return Err(invalid(
                    "a password is needed for the user mapping; give one, or call \
                     without_user_mapping() when a passfile supplies it",
                ));
            };
            let mut mapping =
                UserMapping::new(RoleSpec::CurrentUser, node.clone()).password(password.clone());
            if let Some(user) = &self.remote_user {
                mapping = mapping.remote_user(user.clone());
            }
            Some((mapping.validate(OP, &an_name)?, mapping))
        } else {
            None
        };

        if on.in_transaction_block() {
            return Err(Error::invalid(
                OP,
                Some(&an_name),
                "add_data_node cannot run inside a transaction block; run it on a client or pool, not a transaction",
            ));
        }
        let lease = on.lease(OP, Purpose::Admin).await?;
        let session = lease.session();
        let schemas = lease.require(OP, Feature::MultiNode).await?;
        // The password travels as a bound parameter, and in the user mapping's hole.
        let quiet = Quiet::enter(session, OP, Carriage::Bound, lease.secret_logging()).await?;
        let result = self
            .add_quietly(&quiet, &schemas, &name, &node, mapping)
            .await;
        let added = quiet
            .leave(result)
            .await
            .map_err(|e| self.explain_bootstrap_failure(e, &node))?;
        // The node counts as added only when the access node can log in to it.
        session
            .execute_multinode(
                OP,
                &distributed_exec(&schemas),
                &[&ROUND_TRIP.text(), &vec![name.as_str()], &false],
            )
            .await?;
        tracing::debug!(node = %node, created = added.node_created, "data node added");
        Ok(added)
    }

    /// `e` as an [`Error::UnsupportedServer`] naming data node `node` when it is
    /// TimescaleDB's bootstrap finding no extension on the node's server (TS174), with both
    /// reasons that has; any other error as it is.
    fn explain_bootstrap_failure(&self, e: Error, node: &str) -> Error {
        let found_none = self.bootstrap == Bootstrap::CreateDatabase
            && e.code().is_some_and(|c| c.code() == "TS174")
            && e.as_db_error()
                .is_some_and(|db| db.message().contains("not available on remote"));
        if !found_none {
            return e;
        }
        Error::UnsupportedServer {
            op: OP,
            node: node.to_owned(),
            reason: "the access node found no TimescaleDB on this server to create the \
                     database with (TS174): either none is installed there, or \
                     standard_conforming_strings is off there for the login role, and \
                     TimescaleDB's check (a pattern it writes as '\\d+...') then finds \
                     none; install TimescaleDB, or turn standard_conforming_strings on for \
                     that role (ALTER ROLE ... SET standard_conforming_strings = on), or create \
                     the database with the extension and add it with \
                     Bootstrap::ExistingDatabase"
                .to_owned(),
        }
    }

    /// `add_data_node` and the user mapping: the steps that carry the password.
    async fn add_quietly(
        &self,
        quiet: &Quiet<'_>,
        schemas: &Schemas,
        name: &Ident,
        node: &str,
        mapping: Option<(Checked, UserMapping)>,
    ) -> Result<AddedDataNode> {
        let session = quiet.session();
        let port = i32::from(self.port);
        let rows = quiet
            .query_bound(
                &add_data_node(schemas),
                &[
                    &name.as_str(),
                    &self.host,
                    &self.database,
                    &port,
                    &self.idempotent,
                    &(self.bootstrap == Bootstrap::CreateDatabase),
                    &self.password.as_ref().map(|p| p.expose_secret()),
                ],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| Error::invalid(OP, Some(node), "add_data_node returned no row"))?;
        let get_bool = |column: &str| session.get::<bool>(OP, row, column);
        let mut added = AddedDataNode {
            name: session.get(OP, row, "node_name")?,
            host: session.get(OP, row, "host")?,
            port: u16::try_from(session.get::<i32>(OP, row, "port")?).unwrap_or(self.port),
            database: session.get(OP, row, "database")?,
            node_created: get_bool("node_created")?,
            database_created: get_bool("database_created")?,
            extension_created: get_bool("extension_created")?,
            user_mapping: None,
        };
        if let Some((checked, mapping)) = mapping {
            added.user_mapping = Some(mapping.ensure_on(quiet, OP, &checked).await?);
        }
        Ok(added)
    }
}
