//! User mappings: the password the access node uses, per local role, for each data node.
//! Creating (or converging) one is [`UserMapping`], dropping one [`DropUserMapping`].

mod drop;

pub use drop::DropUserMapping;

use secrecy::{ExposeSecret, SecretString};

use crate::connect::SessionOn;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::executor::{Executor, Purpose};
use crate::ident::Ident;
use crate::secret_send::Quiet;
use crate::sql::quiet::{Carriage, SecretTemplate};
use crate::sql::user_mapping::{
    alter, create, replace, OptionChange, RoleSpec, CURRENT_USER, MAPPING_OPTION_NAMES,
};

/// What [`UserMapping::run`] did.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MappingChange {
    /// A mapping was created.
    Created,
    /// An existing mapping got the given options.
    Updated,
    /// An existing mapping was left as it was (nothing to change).
    Unchanged,
}

/// A user mapping to create for one (local role, data node): which remote user to log in
/// as, and with which password. Works on any foreign server (TimescaleDB data nodes,
/// postgres_fdw). [`DropUserMapping`] drops one.
///
/// By default [`UserMapping::run`] creates the mapping and fails as the server does when it
/// exists (an error of kind [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists), SQLSTATE 42710); with
/// [`UserMapping::idempotent`] it creates the mapping or gives an existing one the options
/// set here, and says which it did ([`MappingChange`]).
///
/// ```no_run
/// # async fn demo(an: &timescaledb_multinode::AccessNode) -> timescaledb_multinode::Result<()> {
/// use timescaledb_multinode::lifecycle::MappingChange;
/// use timescaledb_multinode::{DropUserMapping, RoleSpec, SecretString, UserMapping};
///
/// let change = UserMapping::for_role("mn_user1", "dn1")
///     .remote_user("mn_user1")
///     .password(SecretString::from("dn1 password"))
///     .idempotent()
///     .run(an)
///     .await?;
/// println!("mapping {}", if change == MappingChange::Unchanged { "as it was" } else { "written" });
/// DropUserMapping::new(RoleSpec::CurrentUser, "dn2").idempotent().run(an).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "does nothing until .run() is awaited"]
pub struct UserMapping {
    role: Role,
    server: String,
    remote_user: Option<String>,
    password: Option<SecretString>,
    idempotent: bool,
}

/// The role as given: checked when the mapping is used, so the error names the operation.
#[derive(Debug, Clone)]
pub(super) enum Role {
    Spec(RoleSpec),
    Name(String),
}

/// The validated parts of a mapping.
pub(crate) struct Checked {
    role: RoleSpec,
    server: Ident,
    user: Option<Ident>,
}

impl UserMapping {
    /// The mapping of `role` on data node (foreign server) `server`.
    pub fn new(role: RoleSpec, server: impl Into<String>) -> Self {
        UserMapping {
            role: Role::Spec(role),
            server: server.into(),
            remote_user: None,
            password: None,
            idempotent: false,
        }
    }

    /// The mapping of the named local role `role` on `server`.
    pub fn for_role(role: impl Into<String>, server: impl Into<String>) -> Self {
        UserMapping {
            role: Role::Name(role.into()),
            server: server.into(),
            remote_user: None,
            password: None,
            idempotent: false,
        }
    }

    /// The user to log in as on the data node (the mapping's `user` option). Default: the
    /// local role's name.
    pub fn remote_user(mut self, user: impl Into<String>) -> Self {
        self.remote_user = Some(user.into());
        self
    }

    /// The password to log in with on the data node.
    pub fn password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// Succeed when the mapping exists already, giving it the remote user and password set
    /// here (afterwards the mapping has them, whatever was there before):
    /// [`UserMapping::run`] then returns [`MappingChange::Updated`], or
    /// [`MappingChange::Unchanged`] when it had them. Without it, an existing mapping is
    /// an error of kind [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists), as the server says.
    ///
    /// A mapping of another role that the connecting role may not read the options of (only
    /// a superuser reads another role's) is dropped and created again with exactly these
    /// options, in one statement.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub(crate) fn validate(&self, op: &'static str, an: &str) -> Result<Checked> {
        let role = self.role.checked(op, an)?;
        let server = Ident::for_op(self.server.clone(), "data node", op, Some(an))?;
        let user = self
            .remote_user
            .as_ref()
            .map(|u| Ident::for_op(u.clone(), "remote user", op, Some(an)))
            .transpose()?;
        Ok(Checked { role, server, user })
    }

    /// Creates the mapping ([`MappingChange::Created`]), or with
    /// [`UserMapping::idempotent`] converges an existing one.
    ///
    /// The password never reaches a server log, statistics view or error; see
    /// [`AccessNode::secret_logging`](crate::AccessNode::secret_logging) for when that is
    /// refused instead. Runs on any [`Executor`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent for a bad role, data node or remote
    /// user name; an error of kind [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) when the mapping
    /// exists, without [`UserMapping::idempotent`]; [`Error::Database`](crate::Error::Database)
    /// for the server's other refusals (a foreign server or role that does not exist, say).
    pub async fn run(self, on: &(impl Executor + ?Sized)) -> Result<MappingChange> {
        let op = if self.idempotent {
            "ensure user mapping"
        } else {
            "create user mapping"
        };
        let checked = self.validate(op, &on.node_name())?;
        let lease = on.lease(op, Purpose::Admin).await?;
        let quiet =
            Quiet::enter(lease.session(), op, Carriage::Bound, lease.secret_logging()).await?;
        let result = if self.idempotent {
            self.ensure_on(&quiet, op, &checked).await
        } else {
            self.create_on(&quiet, &checked).await
        };
        quiet.leave(result).await
    }

    /// Creates the mapping `checked` names, with this mapping's options.
    async fn create_on(&self, quiet: &Quiet<'_>, checked: &Checked) -> Result<MappingChange> {
        let template = create(
            &checked.role,
            &checked.server,
            checked.user.as_ref(),
            self.password.is_some(),
            false,
        );
        self.send(quiet, &template).await?;
        Ok(MappingChange::Created)
    }

    /// Runs `template` with this mapping's password (or none) in its hole.
    async fn send(&self, quiet: &Quiet<'_>, template: &SecretTemplate) -> Result<()> {
        let secret = self.password.as_ref().map_or("", |p| p.expose_secret());
        quiet.run(template, secret).await
    }

    pub(crate) async fn ensure_on(
        &self,
        quiet: &Quiet<'_>,
        op: &'static str,
        checked: &Checked,
    ) -> Result<MappingChange> {
        let session = quiet.session();
        let existing = match mapping_of(session, op, &checked.role, &checked.server).await? {
            Mapping::Absent => return self.create_on(quiet, checked).await,
            // Another role's mapping, seen by a non-superuser: its options cannot be read,
            // so it is replaced by one with exactly the options given here.
            Mapping::Hidden => {
                let template = replace(
                    &checked.role,
                    &checked.server,
                    checked.user.as_ref(),
                    self.password.is_some(),
                );
                self.send(quiet, &template).await?;
                return Ok(MappingChange::Updated);
            }
            Mapping::Options(names) => names,
        };
        match self.alter_template(checked, &existing) {
            Some(template) => {
                self.send(quiet, &template).await?;
                Ok(MappingChange::Updated)
            }
            None => Ok(MappingChange::Unchanged),
        }
    }

    fn alter_template(&self, checked: &Checked, existing: &[String]) -> Option<SecretTemplate> {
        let change = |name: &str| {
            if existing.iter().any(|o| o == name) {
                OptionChange::Set
            } else {
                OptionChange::Add
            }
        };
        alter(
            &checked.role,
            &checked.server,
            checked.user.as_ref().map(|u| (change("user"), u)),
            self.password.as_ref().map(|_| change("password")),
        )
    }
}

impl Role {
    /// The role spec, its name checked; the error names `op` and access node `an`.
    pub(super) fn checked(&self, op: &'static str, an: &str) -> Result<RoleSpec> {
        Ok(match self {
            Role::Spec(spec) => spec.clone(),
            Role::Name(name) => RoleSpec::Named(Ident::for_op(name.clone(), "role", op, Some(an))?),
        })
    }
}

/// What this role can see of an existing mapping.
pub(crate) enum Mapping {
    /// There is none.
    Absent,
    /// There is one, but its options are not visible to this role (another role's mapping,
    /// seen by a non-superuser).
    Hidden,
    /// There is one with these option names.
    Options(Vec<String>),
}

/// What this role can see of the mapping of `role` on `server`.
pub(super) async fn mapping_of(
    session: &SessionOn<'_>,
    op: &'static str,
    role: &RoleSpec,
    server: &Ident,
) -> Result<Mapping> {
    let usename = match role {
        RoleSpec::Named(role) => role.as_str().to_owned(),
        RoleSpec::Public => "public".to_owned(),
        RoleSpec::CurrentUser => {
            let row = session.query_one(op, &CURRENT_USER, &[]).await?;
            session.get(op, &row, "name")?
        }
    };
    mapping_options(session, op, server.as_str(), &usename).await
}

/// What this role can see of the mapping of `usename` (a role name, or `public`) on
/// `server`.
pub(crate) async fn mapping_options(
    session: &SessionOn<'_>,
    op: &'static str,
    server: &str,
    usename: &str,
) -> Result<Mapping> {
    let row = session
        .query_opt(op, &MAPPING_OPTION_NAMES, &[&server, &usename])
        .await?;
    Ok(match row {
        None => Mapping::Absent,
        Some(row) => match session.get::<Option<Vec<String>>>(op, &row, "option_names")? {
            None => Mapping::Hidden,
            Some(names) => Mapping::Options(names),
        },
    })
}
