//! The check before a distributed write that the data nodes it may reach answer, shared by
//! every task writing through one [`super::AccessNode`].
//!
//! TimescaleDB 2.13 crashes the access node (every session on it) when a distributed COPY
//! or INSERT reaches a chunk with a replica on a data node that is down, so the crate pings
//! a hypertable's data nodes (`ping_data_node`) before each ingest. Done by every caller,
//! that check is a storm under load: with many tasks ingesting, most pooled sessions are
//! busy pinging. So the check is shared:
//!
//! - one check runs at a time per access-node handle, and callers that asked while it ran
//!   wait for it and then use a result no older than they accept: by default one that
//!   *started after they asked* ([`super::AccessNode::node_check_max_age`] is zero), which is
//!   exactly the guarantee a check of their own would give, so concurrent callers share one
//!   round of pings instead of each sending their own;
//! - a node seen down is refused ([`crate::Error::DataNodeDown`]) until a later check sees it
//!   up;
//! - an error on the access node's link to a data node forgets everything seen, so the next
//!   write checks again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};

/// What a check saw of one data node.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// When the check that saw it started.
    started: Instant,
    up: bool,
}

/// Shared data-node health for one access-node handle (and its clones).
#[derive(Debug)]
pub(crate) struct NodeHealth {
    max_age: Duration,
    /// Held while a check runs: one at a time, waiters in line.
    flight: tokio::sync::Mutex<()>,
    seen: Mutex<HashMap<String, Seen>>,
}

impl NodeHealth {
    /// Health that accepts results of checks started at most `max_age` before a caller asked.
    pub(crate) fn new(max_age: Duration) -> Self {
        NodeHealth {
            max_age,
            flight: tokio::sync::Mutex::new(()),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The accepted age.
    pub(crate) fn max_age(&self) -> Duration {
        self.max_age
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets what was seen: the next caller checks again.
    pub(crate) fn forget(&self) {
        self.seen().clear();
    }

    /// Fails with [`Error::DataNodeDown`] (for `op`) unless every node in `nodes` was seen
    /// up by a check recent enough for a caller asking now; `check` pings the nodes given
    /// and says which are up, and runs only when the known results are not recent enough.
    pub(crate) async fn require_up<F, Fut>(
        &self,
        op: &'static str,
        nodes: &[String],
        check: F,
    ) -> Result<()>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<Vec<(String, bool)>>>,
    {
        let asked = Instant::now();
        let fresh = |seen: &Seen| seen.started + self.max_age >= asked;
        let stale = |known: &HashMap<String, Seen>| -> Vec<String> {
            nodes
                .iter()
                .filter(|n| !known.get(*n).is_some_and(fresh))
                .cloned()
                .collect()
        };
        if stale(&self.seen()).is_empty() {
            return self.verdict(op, nodes);
        }
        let _flight = self.flight.lock().await;
        // A check that ran while this caller waited may have answered already.
        let stale = stale(&self.seen());
        if !stale.is_empty() {
            let started = Instant::now();
            let results = check(stale).await?;
            let mut known = self.seen();
            for (node, up) in results {
                known.insert(node, Seen { started, up });
            }
        }
        self.verdict(op, nodes)
    }

    fn verdict(&self, op: &'static str, nodes: &[String]) -> Result<()> {
        let known = self.seen();
        for node in nodes {
            match known.get(node) {
                Some(seen) if seen.up => {}
                // Down, or missing from the check's answer (not a data node any more).
                _ => {
                    return Err(Error::DataNodeDown {
                        op,
                        node: node.clone(),
                    })
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    fn nodes() -> Vec<String> {
        vec!["dn1".to_owned(), "dn2".to_owned()]
    }

    /// A check that takes a while and counts how often it ran.
    async fn slow_check(
        calls: &AtomicU32,
        down: Option<&str>,
        asked: Vec<String>,
    ) -> Result<Vec<(String, bool)>> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(asked
            .into_iter()
            .map(|n| {
                let up = Some(n.as_str()) != down;
                (n, up)
            })
            .collect())
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_checks_that_started_after_they_asked() {
        let health = Arc::new(NodeHealth::new(Duration::ZERO));
        let calls = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (health, calls) = (health.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                health
                    .require_up("ingest", &nodes(), |asked| slow_check(&calls, None, asked))
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        // All 64 asked before the first check finished: that one, or at most one more
        // that started after they all asked, answered every one of them.
        assert!(calls.load(Ordering::SeqCst) <= 2, "{calls:?}");
        // Later callers check again: nothing older than their question is accepted.
        tokio::time::sleep(Duration::from_millis(1)).await;
        health
            .require_up("ingest", &nodes(), |asked| slow_check(&calls, None, asked))
            .await
            .unwrap();
        assert!(calls.load(Ordering::SeqCst) <= 3, "{calls:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_down_node_is_refused_and_a_max_age_saves_checks() {
        let health = NodeHealth::new(Duration::from_secs(1));
        let calls = AtomicU32::new(0);
        let err = health
            .require_up("ingest", &nodes(), |asked| {
                slow_check(&calls, Some("dn2"), asked)
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::DataNodeDown { node, .. } if node == "dn2"),
            "{err:?}"
        );
        // Within the max age the result is reused, down included.
        let err = health
            .require_up("ingest", &nodes(), |asked| slow_check(&calls, None, asked))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::DataNodeDown { .. }), "{err:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // After it, or once forgotten, a new check decides.
        health.forget();
        health
            .require_up("ingest", &nodes(), |asked| slow_check(&calls, None, asked))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_check_fails_the_caller_and_records_nothing() {
        let health = NodeHealth::new(Duration::from_secs(60));
        let err = health
            .require_up("ingest", &nodes(), |_| async {
                Err::<Vec<(String, bool)>, _>(Error::invalid("ingest", Some("an"), "boom"))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        let calls = AtomicU32::new(0);
        health
            .require_up("ingest", &nodes(), |asked| slow_check(&calls, None, asked))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
