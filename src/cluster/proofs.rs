//! What status last proved with fresh logins, and under which configuration.
//!
//! Status reads every node over the sessions the cluster keeps, and, for a superuser
//! admin, checks passwords against the stored verifiers instead of logging in. A kept
//! session outlives a `pg_hba.conf` change that rejects new logins, so a login proved once
//! holds only while the node has not reloaded its configuration since
//! (`pg_conf_load_time()`, read with every status): after a reload, status logs in again.
//!
//! Each server process has its own load time: one that existed at the reload takes it when
//! it next runs a statement, one started after inherits the server's. So a node's kept
//! sessions may show different times for the same configuration, and each is remembered
//! (the last few) once a login was proved under it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

/// Per node, the configuration load times under which a fresh login was accepted: from the
/// client to each node, and from a fresh access-node session to each data node (under the
/// access node's and the data node's configuration).
#[derive(Debug, Default)]
pub(crate) struct Proofs {
    logins: Mutex<HashMap<String, Vec<SystemTime>>>,
    links: Mutex<HashMap<String, Vec<(SystemTime, SystemTime)>>>,
}

/// How many load times are remembered per node: a cluster keeps two sessions per node,
/// and a session made anew after one ended shows the server's time.
const KEPT: usize = 8;

/// Whether `seen` holds `at`.
fn holds<T: PartialEq>(seen: &Mutex<HashMap<String, Vec<T>>>, node: &str, at: &T) -> bool {
    lock(seen).get(node).is_some_and(|times| times.contains(at))
}

/// Remembers `at` for `node`, dropping the oldest beyond [`KEPT`].
fn remember<T: PartialEq>(seen: &Mutex<HashMap<String, Vec<T>>>, node: &str, at: T) {
    let mut seen = lock(seen);
    let times = seen.entry(node.to_owned()).or_default();
    if !times.contains(&at) {
        if times.len() == KEPT {
            times.remove(0);
        }
        times.push(at);
    }
}

impl Proofs {
    /// Whether a fresh login to `node` was accepted under the configuration `loaded`.
    pub(crate) fn login_holds(&self, node: &str, loaded: SystemTime) -> bool {
        holds(&self.logins, node, &loaded)
    }

    /// A fresh login to `node` was accepted under the configuration `loaded`.
    pub(crate) fn login_proved(&self, node: &str, loaded: SystemTime) {
        remember(&self.logins, node, loaded);
    }

    /// Whether a fresh access-node session reached data node `node` under these
    /// configurations (the access node's, the data node's).
    pub(crate) fn link_holds(&self, node: &str, loaded: (SystemTime, SystemTime)) -> bool {
        holds(&self.links, node, &loaded)
    }

    /// A fresh access-node session reached data node `node` under these configurations.
    pub(crate) fn link_proved(&self, node: &str, loaded: (SystemTime, SystemTime)) {
        remember(&self.links, node, loaded);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_proof_holds_only_under_the_configuration_it_was_made_under() {
        let proofs = Proofs::default();
        let t0 = SystemTime::UNIX_EPOCH;
        let t1 = t0 + Duration::from_secs(1);
        assert!(!proofs.login_holds("dn1", t0));
        proofs.login_proved("dn1", t0);
        assert!(proofs.login_holds("dn1", t0));
        assert!(!proofs.login_holds("dn1", t1));
        assert!(!proofs.login_holds("dn2", t0));
        // Two sessions' times for one configuration: both hold once proved.
        proofs.login_proved("dn1", t1);
        assert!(proofs.login_holds("dn1", t0) && proofs.login_holds("dn1", t1));
        // The oldest goes beyond KEPT.
        for i in 2..=KEPT as u64 {
            proofs.login_proved("dn1", t0 + Duration::from_secs(i));
        }
        assert!(!proofs.login_holds("dn1", t0));
        assert!(proofs.login_holds("dn1", t1));
        assert!(!proofs.link_holds("dn1", (t0, t0)));
        proofs.link_proved("dn1", (t0, t0));
        assert!(proofs.link_holds("dn1", (t0, t0)));
        assert!(!proofs.link_holds("dn1", (t1, t0)));
        assert!(!proofs.link_holds("dn1", (t0, t1)));
    }
}
