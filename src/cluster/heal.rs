//! Healing in-doubt two-phase-commit transactions.
//!
//! TimescaleDB commits distributed writes with two-phase commit. When a data node is lost
//! between PREPARE and COMMIT PREPARED, the client still sees its COMMIT succeed, while the
//! node keeps a prepared transaction whose rows are invisible and whose locks are held.
//! Nothing resolves it automatically. [`Cluster::heal`] reads each data node's prepared
//! transactions of the cluster's database (directly, with the node's own credentials) and
//! runs TimescaleDB's `remote_txn_heal_data_node` only for the nodes that list some
//! (outside any transaction block, with the foreign server's OID it wants): it commits what
//! the access node committed and rolls back the rest.
//!
//! # When heal is safe to run
//!
//! Run it when no distributed writes are running: after an incident (a data node or the
//! access node lost during a commit), with writers stopped or paused. The reason is the
//! server function's clean-up, read from the TimescaleDB 2.13 source
//! (`remote_txn_heal_data_node`, `remote_txn_persistent_record_delete_for_data_node`):
//! when the node lists nothing in doubt, or only what the call just resolved, it deletes
//! *every* record of the node from the access node's `_timescaledb_catalog.remote_txn`
//! (the record that says "the access node committed this transaction"), reading the table
//! under a snapshot taken after it listed the node's prepared transactions. A distributed
//! write that commits on the access node in between, and whose COMMIT PREPARED has not yet
//! reached the node, loses its record; if that COMMIT PREPARED then fails (the node lost at
//! that moment), the transaction stays prepared on the node with no record, and the next
//! heal presumes it aborted and rolls it back on that node while the access node and the
//! other data nodes committed it.
//!
//! The crate therefore never calls the function on a node with nothing in doubt (so a
//! routine heal on a healthy cluster deletes nothing), and the window stays open only on
//! nodes that do hold in-doubt transactions. The price: the `remote_txn` records of nodes
//! with nothing in doubt are no longer emptied by heal (TimescaleDB never prunes them
//! otherwise); they are small rows, one per node per distributed write.
//!
//! PostgreSQL lets only the role that prepared a transaction, or a superuser, finish it. A
//! transaction prepared by another role (another access-node role writing through its own
//! user mapping) cannot be resolved by this role: the report names it with its owner
//! ([`NodeHeal::other_owners`]); run heal as that role, or resolve it as a superuser.
//!
//! Every node's work runs at the same time, each within the cluster's node deadline
//! ([`Cluster::node_deadline`]); a node that does not answer gets an error entry (the
//! access node's session towards it is cancelled and dropped), and the others are healed.

use futures_util::future::join_all;

use super::probe::{access_node_session, towards};
use super::status::PreparedTransaction;
use super::Cluster;
use crate::connect::{Deadline, Session};
use crate::error::{Error, Result};
use crate::node::AccessNode;
use crate::server::{Feature, ServerInfo};
use crate::sql::functions::Schemas;
use crate::sql::heal::{heal, ADVANCE_XID, REMOTE_TXN_COUNT};
use crate::sql::server_info::ROLE_IS_SUPERUSER;
use crate::sql::status::PREPARED_TRANSACTIONS;

/// What [`Cluster::heal`] found and did on one data node.
#[derive(Debug)]
#[non_exhaustive]
pub struct NodeHeal {
    /// The data node.
    pub name: String,
    /// TimescaleDB's prepared transactions of the cluster's database on the node before
    /// healing (`Err`: the node could not be read directly; it is then not healed).
    pub in_doubt_before: Result<Vec<PreparedTransaction>>,
    /// How many the access node resolved (committed or rolled back), or why it could not.
    /// `Ok(0)` without a call when nothing was in doubt.
    pub healed: Result<i32>,
    /// The access node's two-phase-commit records for the node, before and after (`-1`:
    /// not read).
    pub remote_txn_records: (i64, i64),
    /// Prepared transactions still on the node afterwards.
    pub in_doubt_after: Result<Vec<PreparedTransaction>>,
    /// Those of [`NodeHeal::in_doubt_after`] prepared by another role than the one the
    /// access node logs in to the node as (which is not a superuser there): this role cannot
    /// finish them. Each names its owner.
    pub other_owners: Vec<PreparedTransaction>,
}

/// What [`Cluster::heal`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct HealReport {
    /// One entry per data node: the cluster's, then any other the access node has.
    pub nodes: Vec<NodeHeal>,
    /// Whether an access-node transaction id was consumed to unblock healing (after an
    /// access-node crash the lost transaction's id counts as in progress until reused).
    pub advanced_xid: bool,
}

impl HealReport {
    /// Transactions resolved in total.
    pub fn healed(&self) -> i32 {
        self.nodes
            .iter()
            .filter_map(|n| n.healed.as_ref().ok())
            .sum()
    }

    /// Whether no TimescaleDB prepared transaction is left on any node that could be read,
    /// and every node could be healed.
    pub fn is_clean(&self) -> bool {
        self.nodes
            .iter()
            .all(|n| n.healed.is_ok() && n.in_doubt_after.as_ref().is_ok_and(Vec::is_empty))
    }

    /// Every node's error (reading it, healing it, reading it afterwards), not only the
    /// first.
    pub fn errors(&self) -> Vec<&Error> {
        self.nodes
            .iter()
            .flat_map(|n| {
                [
                    n.in_doubt_before.as_ref().err(),
                    n.healed.as_ref().err(),
                    n.in_doubt_after.as_ref().err(),
                ]
            })
            .flatten()
            .collect()
    }
}

const OP: &str = "heal two-phase commits";

/// A node's prepared transactions, read directly, and who the crate logs in as there.
struct InDoubt {
    list: Vec<PreparedTransaction>,
    role: String,
    superuser: bool,
}

impl InDoubt {
    /// Those this role cannot finish: another role's, unless this one is a superuser.
    fn other_owners(&self) -> Vec<PreparedTransaction> {
        if self.superuser {
            return Vec::new();
        }
        self.list
            .iter()
            .filter(|t| t.owner != self.role)
            .cloned()
            .collect()
    }

    /// Whether something in doubt is this role's to finish.
    fn has_own(&self) -> bool {
        self.list
            .iter()
            .any(|t| self.superuser || t.owner == self.role)
    }
}

impl Cluster {
    /// Resolves in-doubt two-phase-commit transactions on the data nodes that hold some
    /// (of the cluster's database), and reports what was there before and after. Nodes
    /// with nothing in doubt are left alone. Every node's work runs at the same time; a
    /// data node that is down, or does not answer within the node deadline
    /// ([`Cluster::node_deadline`]), gets an error entry, and the others are healed. A
    /// transaction prepared by another role, which this role cannot finish, is named with
    /// its owner ([`NodeHeal::other_owners`]).
    ///
    /// # When it is safe to run
    ///
    /// When no distributed writes are running (after an incident, writers stopped). Where
    /// a node holds in-doubt transactions, TimescaleDB's heal function ends by deleting
    /// every access-node record (`_timescaledb_catalog.remote_txn`) of that node once it
    /// resolved all it listed, reading the records after it listed the node's prepared
    /// transactions: the record of a write that commits on the access node in between, and
    /// whose COMMIT PREPARED has not reached the node yet, goes too; should that COMMIT
    /// PREPARED then fail, a later heal would roll the write back on that node although the
    /// access node committed it. The crate never calls the function on a node with nothing
    /// in doubt, so a routine heal of a healthy cluster deletes nothing (and no longer
    /// empties those nodes' records, which TimescaleDB keeps forever otherwise).
    ///
    /// After an access-node crash the heal function can return 0 while a node still holds
    /// prepared transactions (the lost transaction's id counts as in progress); then one
    /// access-node transaction id is consumed and healing runs once more.
    ///
    /// It runs under the apply lock ([`APPLY_LOCK_KEY`](super::APPLY_LOCK_KEY)), waiting for
    /// an apply or rotation of the cluster to finish first: their distributed writes are
    /// writes heal must not run beside.
    ///
    /// # Errors
    ///
    /// When the access node cannot be reached or has no multi-node;
    /// [`Error::ApplyLockHeld`] when the apply lock stays held longer than
    /// [`Cluster::apply_lock_wait`].
    pub async fn heal(&self) -> Result<HealReport> {
        let lock = self.apply_lock().await?;
        let report = lock.during(self.heal_locked()).await;
        lock.release().await;
        report
    }

    /// [`Cluster::heal`], under the apply lock.
    async fn heal_locked(&self) -> Result<HealReport> {
        let an_name = self.access_node.node_name();
        let after = self.node_deadline;
        let deadline = Deadline::after(after);
        let session = deadline
            .run(OP, &an_name, Session::open(&self.access_node, OP))
            .await?;
        let (info, names) = session
            .bounded(OP, &an_name, deadline, async {
                let info = ServerInfo::read(&session).await?;
                info.require(OP, Feature::MultiNode)?;
                let names: Vec<String> = AccessNode::list_data_nodes(&session, OP)
                    .await?
                    .into_iter()
                    .map(|n| n.name)
                    .collect();
                Ok((info, names))
            })
            .await?;
        let schemas = info.schemas(OP)?;
        // The cluster's data nodes in order, then the access node's others.
        let mut ordered: Vec<String> = self
            .data_nodes
            .iter()
            .map(crate::config::NodeConfig::node_name)
            .filter(|n| names.contains(n))
            .collect();
        let others: Vec<String> = names
            .iter()
            .filter(|n| !ordered.contains(n))
            .cloned()
            .collect();
        ordered.extend(others);

        let before = join_all(ordered.iter().map(|name| self.in_doubt(name))).await;
        let records_before = join_all(ordered.iter().map(|name| records(&session, name))).await;
        let healed = join_all(
            ordered
                .iter()
                .zip(&before)
                .map(|(name, before)| self.heal_if_in_doubt(&schemas, name, before.as_ref())),
        )
        .await;
        let mut report = HealReport {
            nodes: Vec::new(),
            advanced_xid: false,
        };
        let mut doubts = Vec::new();
        for (((name, before), records), healed) in ordered
            .into_iter()
            .zip(before)
            .zip(records_before)
            .zip(healed)
        {
            let (in_doubt_before, doubt) = match before {
                Ok(doubt) => (Ok(doubt.list.clone()), Some(doubt)),
                Err(e) => (Err(e), None),
            };
            doubts.push(doubt);
            report.nodes.push(NodeHeal {
                name,
                in_doubt_before,
                healed,
                remote_txn_records: (records.unwrap_or(-1), -1),
                in_doubt_after: Ok(Vec::new()),
                other_owners: Vec::new(),
            });
        }
        // Healing that found nothing to resolve while a node still lists prepared
        // transactions this role may finish: the access node's xid is stuck behind a crash.
        // Consume one, heal again.
        let stuck: Vec<usize> = report
            .nodes
            .iter()
            .zip(&doubts)
            .enumerate()
            .filter(|(_, (n, doubt))| {
                n.healed.as_ref().is_ok_and(|h| *h == 0)
                    && doubt.as_ref().is_some_and(InDoubt::has_own)
            })
            .map(|(i, _)| i)
            .collect();
        if !stuck.is_empty() {
            session
                .bounded(
                    OP,
                    &an_name,
                    Deadline::after(after),
                    session.query_one(OP, &ADVANCE_XID, &[]),
                )
                .await?;
            report.advanced_xid = true;
            let again = join_all(stuck.iter().map(|&i| {
                let name = &report.nodes[i].name;
                heal_one(&self.access_node, &schemas, name, Deadline::after(after))
            }))
            .await;
            for (&i, healed) in stuck.iter().zip(again) {
                report.nodes[i].healed = healed;
            }
        }
        let names: Vec<&str> = report.nodes.iter().map(|n| n.name.as_str()).collect();
        let (records_after, after_lists) = tokio::join!(
            join_all(names.iter().map(|name| records(&session, name))),
            join_all(names.iter().map(|name| self.in_doubt(name))),
        );
        for ((node, records), doubt) in report.nodes.iter_mut().zip(records_after).zip(after_lists)
        {
            node.remote_txn_records.1 = records.unwrap_or(-1);
            match doubt {
                Ok(doubt) => {
                    node.other_owners = doubt.other_owners();
                    node.in_doubt_after = Ok(doubt.list);
                }
                Err(e) => node.in_doubt_after = Err(e),
            }
        }
        tracing::debug!(
            healed = report.healed(),
            advanced_xid = report.advanced_xid,
            "heal"
        );
        Ok(report)
    }

    /// Runs the heal function for data node `name` when `before` lists something in doubt;
    /// `Ok(0)` without a call when nothing is, the reading's error when it could not be
    /// read (the node is not healed blind).
    async fn heal_if_in_doubt(
        &self,
        schemas: &Schemas,
        name: &str,
        before: std::result::Result<&InDoubt, &Error>,
    ) -> Result<i32> {
        match before {
            Ok(doubt) if doubt.list.is_empty() => Ok(0),
            Ok(_) => {
                heal_one(
                    &self.access_node,
                    schemas,
                    name,
                    Deadline::after(self.node_deadline),
                )
                .await
            }
            Err(e) => Err(Error::invalid(
                OP,
                Some(name),
                format!("not healed: its prepared transactions could not be read: {e}"),
            )),
        }
    }

    /// TimescaleDB's prepared transactions of the node's database on data node `name`,
    /// read directly within the node deadline, with who the crate logs in as there.
    async fn in_doubt(&self, name: &str) -> Result<InDoubt> {
        let config = self.find(OP, name)?;
        let deadline = Deadline::after(self.node_deadline);
        let session = deadline.run(OP, name, Session::open(config, OP)).await?;
        session
            .bounded(OP, name, deadline, async {
                let rows = session.query(OP, &PREPARED_TRANSACTIONS, &[]).await?;
                let list = rows
                    .iter()
                    .map(|row| PreparedTransaction::from_row(&session, OP, row))
                    .collect::<Result<Vec<_>>>()?;
                let row = session.query_one(OP, &ROLE_IS_SUPERUSER, &[]).await?;
                Ok(InDoubt {
                    list,
                    role: session.get(OP, &row, "role")?,
                    superuser: session.get(OP, &row, "superuser")?,
                })
            })
            .await
    }
}

/// `remote_txn_heal_data_node` for data node `name`, from a fresh access-node session
/// bounded by `deadline` (cancelled and dropped when it passes).
async fn heal_one(
    access_node: &crate::config::NodeConfig,
    schemas: &Schemas,
    name: &str,
    deadline: Deadline,
) -> Result<i32> {
    let session = access_node_session(access_node, OP, deadline).await?;
    towards(&session, OP, name, deadline, async {
        let rows = session
            .query_multinode(OP, &heal(schemas), &[&name])
            .await?;
        let row = rows.first().ok_or_else(|| {
            Error::invalid(
                OP,
                Some(name),
                "the access node has no foreign server of that name",
            )
        })?;
        session.get(OP, row, "healed")
    })
    .await
}

async fn records(session: &Session, name: &str) -> Result<i64> {
    let row = session.query_one(OP, &REMOTE_TXN_COUNT, &[&name]).await?;
    session.get(OP, &row, "records")
}
