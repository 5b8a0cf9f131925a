//! The check before a distributed write that the data nodes it may reach answer, shared by
//! every task writing through one [`super::AccessNode`].
//!
//! TimescaleDB 2.13 crashes the access node (every session on it) when a distributed COPY
//! or INSERT reaches a chunk with a replica on a data node that is down, so the crate pings
//! a hypertable's data nodes (`ping_data_node`) before each ingest. That function opens a
//! new connection to the data node each time (a full login), so done by every caller it is
//! a storm: with many tasks ingesting, most pooled sessions were busy pinging. So the check
//! is shared, in rounds:
//!
//! - a round pings every data node of the access node at once, each from a session of its
//!   own kept for that (outside the pool, so waiting for a round holds no pooled
//!   connection), each ping bounded by [`PING_TIMEOUT`] (a node that does not answer in
//!   time counts as down);
//! - one round runs at a time; a caller uses a round no older than it accepts — by default
//!   one that *started after it asked* ([`super::AccessNode::node_check_max_age`] is zero),
//!   exactly the guarantee a check of its own would give — so all callers that asked while
//!   one round ran share the next;
//! - a node seen down is refused ([`crate::Error::DataNodeDown`]); an error on the access
//!   node's link to a data node forgets the last round, so the next write checks again.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};

/// How long one ping may take before its node counts as down.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// What one round saw.
#[derive(Debug)]
pub(crate) struct Round {
    /// When it started.
    started: Instant,
    /// Every data node the access node had then, and whether it answered.
    up: HashMap<String, bool>,
}

impl Round {
    /// A round that started at `started` and saw `up`.
    pub(crate) fn new(started: Instant, up: impl IntoIterator<Item = (String, bool)>) -> Self {
        Round {
            started,
            up: up.into_iter().collect(),
        }
    }

    /// Fails with [`Error::DataNodeDown`] (for `op`) when a node in `nodes` was seen down;
    /// returns the nodes the round did not see (added since), for the caller to check.
    pub(crate) fn verdict(&self, op: &'static str, nodes: &[String]) -> Result<Vec<String>> {
        let mut unseen = Vec::new();
        for node in nodes {
            match self.up.get(node) {
                Some(true) => {}
                Some(false) => {
                    return Err(Error::DataNodeDown {
                        op,
                        node: node.clone(),
                    })
                }
                None => unseen.push(node.clone()),
            }
        }
        Ok(unseen)
    }
}

/// A round's work: given the state kept between rounds (the ping sessions), what every data
/// node answered.
pub(crate) type RoundFuture<'s> =
    Pin<Box<dyn Future<Output = Result<Vec<(String, bool)>>> + Send + 's>>;

/// Shared data-node health for one access-node handle (and its clones). `S` is what rounds
/// keep between them (the ping sessions).
#[derive(Debug)]
pub(crate) struct NodeHealth<S> {
    max_age: Duration,
    /// Held while a round runs: one at a time, waiters in line.
    flight: tokio::sync::Mutex<S>,
    last: Mutex<Option<Arc<Round>>>,
}

impl<S: Default> NodeHealth<S> {
    /// Health that accepts rounds started at most `max_age` before a caller asked.
    pub(crate) fn new(max_age: Duration) -> Self {
        NodeHealth {
            max_age,
            flight: tokio::sync::Mutex::new(S::default()),
            last: Mutex::new(None),
        }
    }
}

impl<S> NodeHealth<S> {
    fn last(&self) -> std::sync::MutexGuard<'_, Option<Arc<Round>>> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets the last round: the next caller waits for a new one.
    pub(crate) fn forget(&self) {
        *self.last() = None;
    }

    /// The last round, if recent enough for a caller that asked at `asked`.
    fn fresh(&self, asked: Instant) -> Option<Arc<Round>> {
        self.last()
            .as_ref()
            .filter(|round| round.started + self.max_age >= asked)
            .cloned()
    }

    /// A round recent enough for a caller that asked at `asked`: the last one, or the next
    /// (run by this caller with `round` if no other caller runs it first).
    pub(crate) async fn round_since<F>(&self, asked: Instant, round: F) -> Result<Arc<Round>>
    where
        F: for<'s> FnOnce(&'s mut S) -> RoundFuture<'s>,
    {
        if let Some(round) = self.fresh(asked) {
            return Ok(round);
        }
        let mut state = self.flight.lock().await;
        // A round that ran while this caller waited may do.
        if let Some(round) = self.fresh(asked) {
            return Ok(round);
        }
        let started = Instant::now();
        let seen = Arc::new(Round::new(started, round(&mut state).await?));
        *self.last() = Some(seen.clone());
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    type Health = NodeHealth<u32>;

    fn nodes() -> Vec<String> {
        vec!["dn1".to_owned(), "dn2".to_owned()]
    }

    /// A round that takes a while, counts itself, and sees `down` down.
    fn slow_round<'s>(rounds: &'s mut u32, down: Option<&'static str>) -> RoundFuture<'s> {
        Box::pin(async move {
            *rounds += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(nodes()
                .into_iter()
                .map(|n| {
                    let up = Some(n.as_str()) != down;
                    (n, up)
                })
                .collect())
        })
    }

    #[tokio::test(start_paused = true)]
    async fn callers_share_rounds_that_started_after_they_asked() {
        let health = Arc::new(Health::new(Duration::ZERO));
        let done = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (health, done) = (health.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let asked = Instant::now();
                let round = health
                    .round_since(asked, |rounds| slow_round(rounds, None))
                    .await
                    .unwrap();
                // Never a round older than the question.
                assert!(round.started >= asked);
                round.verdict("ingest", &nodes()).unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 64);
        // All 64 asked before the first round finished: that one, or the one after it,
        // answered every one of them.
        assert!(*health.flight.lock().await <= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_down_node_is_refused_an_unseen_one_returned_and_max_age_saves_rounds() {
        let health = Health::new(Duration::from_secs(1));
        let round = health
            .round_since(Instant::now(), |rounds| slow_round(rounds, Some("dn2")))
            .await
            .unwrap();
        let err = round.verdict("ingest", &nodes()).unwrap_err();
        assert!(
            matches!(&err, Error::DataNodeDown { node, .. } if node == "dn2"),
            "{err:?}"
        );
        assert_eq!(
            round
                .verdict("ingest", &["dn1".into(), "dn3".into()])
                .unwrap(),
            ["dn3"]
        );
        // Within the max age the round is reused, down included.
        let again = health
            .round_since(Instant::now(), |rounds| slow_round(rounds, None))
            .await
            .unwrap();
        assert!(again.verdict("ingest", &nodes()).is_err());
        assert_eq!(*health.flight.lock().await, 1);
        // Once forgotten (or older than the max age), a new round decides.
        health.forget();
        let fresh = health
            .round_since(Instant::now(), |rounds| slow_round(rounds, None))
            .await
            .unwrap();
        fresh.verdict("ingest", &nodes()).unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        health
            .round_since(Instant::now(), |rounds| slow_round(rounds, None))
            .await
            .unwrap();
        assert_eq!(*health.flight.lock().await, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_round_fails_its_caller_and_is_not_kept() {
        let health = Health::new(Duration::from_secs(60));
        let err = health
            .round_since(Instant::now(), |_| {
                Box::pin(async { Err(Error::invalid("ingest", Some("an"), "boom")) })
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        health
            .round_since(Instant::now(), |rounds| slow_round(rounds, None))
            .await
            .unwrap();
        assert_eq!(*health.flight.lock().await, 1);
    }
}
