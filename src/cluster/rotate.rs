//! Rotating a data node's password: the data node's role and the access node's user
//! mapping together, then a round trip to prove it.

use secrecy::{ExposeSecret, SecretString};

use super::probe::probe_fresh;
use super::Cluster;
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::{AccessNode, MappingChange, UserMapping};
use crate::secret_send::Quiet;
use crate::sql::quiet::Carriage;
use crate::sql::role::{alter_role_password, verifier};
use crate::sql::user_mapping::RoleSpec;

/// A step of [`Cluster::rotate_password`].
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotationStep {
    /// The new password on the data node's role (as a SCRAM verifier).
    DataNodeRole,
    /// The access node's user mapping for the data node.
    UserMapping,
    /// A statement from a fresh access-node session to the data node.
    RoundTrip,
    /// Taking the apply lock first ([`APPLY_LOCK_KEY`](super::APPLY_LOCK_KEY)): an apply
    /// or another rotation of the cluster ran longer than [`Cluster::apply_lock_wait`]
    /// ([`crate::Error::ApplyLockHeld`] names who holds it), or the access node did not
    /// answer.
    /// Nothing was changed.
    ApplyLock,
}

/// What [`Cluster::rotate_password`] did. Running the rotation again after a failure picks
/// up where it stopped.
#[derive(Debug)]
#[non_exhaustive]
pub struct Rotation {
    /// The data node.
    pub data_node: String,
    /// Whether the data node's role got the new password now (false: it had it already, as
    /// after an earlier run that stopped halfway or a change made behind the crate's back).
    pub role_changed: bool,
    /// What happened to the user mapping (`None`: not reached).
    pub mapping: Option<MappingChange>,
    /// The cluster's other data nodes that are databases of the same PostgreSQL instance
    /// (the same host and port) and log in as the same user: the password belongs to the
    /// instance, so their user mappings got it too, and the round trip checks them as well.
    /// Update their settings with [`Cluster::set_data_node_config`] too.
    pub siblings: Vec<String>,
    /// Whether the round trip succeeded.
    pub verified: bool,
    /// The step that failed, and why.
    pub failure: Option<(RotationStep, Error)>,
}

impl Rotation {
    /// Whether every step succeeded.
    pub fn is_complete(&self) -> bool {
        self.failure.is_none() && self.verified
    }
}

const OP: &str = "rotate password";

impl Cluster {
    /// Gives data node `data_node`'s login role (the user of its settings) `new_password`,
    /// updates the access node's user mapping for it, and checks a round trip from a fresh
    /// access-node session. Sessions that already had a connection to the node keep it.
    ///
    /// Also repairs a password changed on the data node behind the crate's back: pass the
    /// password the node has now; the role step then finds it in place and only the mapping
    /// is updated. Afterwards, update this cluster's settings with
    /// [`Cluster::set_data_node_config`].
    ///
    /// A password belongs to the PostgreSQL instance, not to a database: the mappings of the
    /// cluster's other data nodes that are databases of the same instance (the same host and
    /// port) with the same user get it too ([`Rotation::siblings`]). On a data node that is a
    /// database of the access node's instance with the admin's user, that password is the
    /// admin's: it is refused unless it is the one the access node's settings already have
    /// (then only the mappings are updated).
    ///
    /// The password (and its SCRAM verifier) never reaches a server log, statistics view or
    /// error; see [`Cluster::secret_logging`] for when that is refused instead.
    ///
    /// It runs under the apply lock ([`APPLY_LOCK_KEY`](super::APPLY_LOCK_KEY)), waiting for
    /// an apply of the cluster to finish first, so that the apply cannot set the mapping back
    /// in between ([`RotationStep::ApplyLock`] when the lock cannot be taken).
    ///
    /// The data-node step and the round trip each run within [`Cluster::node_deadline`]: a
    /// data node that never answers fails its step with [`Error::Timeout`] naming it, and
    /// the access node's probe is cancelled on the server.
    ///
    /// # Errors
    ///
    /// Only for bad input (unknown data node, a password with a NUL byte, an empty one, a
    /// new admin password on the access node's instance, see above);
    /// a failing step is reported in [`Rotation::failure`].
    pub async fn rotate_password(
        &self,
        data_node: &str,
        new_password: SecretString,
    ) -> Result<Rotation> {
        let config = self.find(OP, data_node)?.clone();
        let name = config.node_name();
        if new_password.expose_secret().is_empty() || new_password.expose_secret().contains('\0') {
            return Err(Error::invalid(
                OP,
                Some(&name),
                "the new password must be non-empty and have no NUL byte",
            ));
        }
        let role = Ident::for_op(config.get_user(), "user", OP, Some(&name))?;
        let an = &self.access_node;
        if config.same_instance(an)
            && config.get_user() == an.get_user()
            && new_password.expose_secret() != an.get_password().expose_secret()
        {
            return Err(Error::invalid(
                OP,
                Some(&name),
                format!(
                    "data node {name:?} is a database of the access node's PostgreSQL \
                     instance ({}:{}) with the same user {:?}: its password is the \
                     admin's own, and changing it here would lock the cluster out of the \
                     access node. Change the admin's password on the instance, give the \
                     access node's settings the new one, then rotate with it: the user \
                     mappings follow",
                    an.get_host(),
                    an.get_port(),
                    an.get_user()
                ),
            ));
        }
        let mut rotation = Rotation {
            data_node: name.clone(),
            role_changed: false,
            mapping: None,
            siblings: Vec::new(),
            verified: false,
            failure: None,
        };
        // Under the apply lock, so that an apply running at the same time cannot set the
        // mapping back in between.
        let lock = match self.apply_lock().await {
            Ok(lock) => lock,
            Err(e) => {
                rotation.failure = Some((RotationStep::ApplyLock, e));
                return Ok(rotation);
            }
        };
        lock.during(self.rotate_locked(&mut rotation, config, role, new_password))
            .await;
        lock.release().await;
        tracing::debug!(data_node = %name, complete = rotation.is_complete(), "password rotation");
        Ok(rotation)
    }

    /// [`Cluster::rotate_password`]'s steps, under the apply lock.
    async fn rotate_locked(
        &self,
        rotation: &mut Rotation,
        config: NodeConfig,
        role: Ident,
        new_password: SecretString,
    ) {
        let name = config.node_name();

        // 1. The data node's role, within the node deadline.
        let deadline = Deadline::after(self.node_deadline);
        let with_new = config.clone().password(new_password.clone());
        match deadline.run(OP, &name, Session::open(&with_new, OP)).await {
            Ok(_) => {}
            Err(e) if e.is_authentication_failure() => {
                let changed = async {
                    let session = deadline.run(OP, &name, Session::open(&config, OP)).await?;
                    let change = async {
                        let quiet =
                            Quiet::enter(&session, OP, Carriage::Bound, self.secret_logging)
                                .await?;
                        let sent = quiet
                            .run(
                                &alter_role_password(&role),
                                verifier(&new_password).expose_secret(),
                            )
                            .await;
                        quiet.leave(sent).await
                    };
                    session.bounded(OP, &name, deadline, change).await
                }
                .await;
                match changed {
                    Ok(()) => rotation.role_changed = true,
                    Err(e) => {
                        rotation.failure = Some((RotationStep::DataNodeRole, e));
                        return;
                    }
                }
            }
            Err(e) => {
                rotation.failure = Some((RotationStep::DataNodeRole, e));
                return;
            }
        }

        // 2. The access node's user mapping.
        let an = match AccessNode::connect(self.access_node.clone()).await {
            Ok(an) => an.secret_logging(self.secret_logging),
            Err(e) => {
                rotation.failure = Some((RotationStep::UserMapping, e));
                return;
            }
        };
        let mapping = UserMapping::new(RoleSpec::CurrentUser, name.clone())
            .remote_user(role.as_str())
            .password(new_password.clone());
        match mapping.idempotent().run(&an).await {
            Ok(change) => rotation.mapping = Some(change),
            Err(e) => {
                rotation.failure = Some((RotationStep::UserMapping, e));
                return;
            }
        }
        // The role is the instance's: the mappings of the data nodes that are other
        // databases of it, with the same user, need the new password as much.
        rotation.siblings = self
            .data_nodes
            .iter()
            .filter(|dn| {
                dn.node_name() != name
                    && dn.same_instance(&config)
                    && dn.get_user() == config.get_user()
            })
            .map(NodeConfig::node_name)
            .collect();
        for sibling in &rotation.siblings {
            let mapping = UserMapping::new(RoleSpec::CurrentUser, sibling.clone())
                .remote_user(role.as_str())
                .password(new_password.clone());
            if let Err(e) = mapping.idempotent().run(&an).await {
                rotation.failure = Some((RotationStep::UserMapping, e));
                return;
            }
        }

        // 3. The round trip, from a session that has no cached connection, within the node
        //    deadline (cancelled on the access node when it passes).
        let probed: Vec<&str> = std::iter::once(name.as_str())
            .chain(rotation.siblings.iter().map(String::as_str))
            .collect();
        let probe = match an.schemas(OP).await {
            Ok(schemas) => {
                probe_fresh(
                    &self.access_node,
                    &schemas,
                    &probed,
                    OP,
                    Deadline::after(self.node_deadline),
                )
                .await
            }
            Err(e) => Err(e),
        };
        match probe {
            Ok(()) => rotation.verified = true,
            Err(e) => rotation.failure = Some((RotationStep::RoundTrip, e)),
        }
    }
}
