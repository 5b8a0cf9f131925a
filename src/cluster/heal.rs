//! Healing in-doubt two-phase-commit transactions.
//!
//! TimescaleDB commits distributed writes with two-phase commit. When a data node is lost
//! between PREPARE and COMMIT PREPARED, the client still sees its COMMIT succeed, while the
//! node keeps a prepared transaction whose rows are invisible and whose locks are held.
//! Nothing resolves it automatically. [`Cluster::heal`] runs TimescaleDB's
//! `remote_txn_heal_data_node` for every data node (outside any transaction block, with the
//! foreign server's OID it wants), which commits what the access node committed and rolls
//! back the rest; it also empties the access node's `remote_txn` records for the node, which
//! otherwise grow forever.

use super::status::PreparedTransaction;
use super::Cluster;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::node::AccessNode;
use crate::server::{Feature, ServerInfo};
use crate::sql::functions::Schemas;
use crate::sql::heal::{heal, ADVANCE_XID, REMOTE_TXN_COUNT};
use crate::sql::status::PREPARED_TRANSACTIONS;

/// What [`Cluster::heal`] found and did on one data node.
#[derive(Debug)]
#[non_exhaustive]
pub struct NodeHeal {
    /// The data node.
    pub name: String,
    /// TimescaleDB's prepared transactions on the node before healing (`Err`: the node
    /// could not be read directly).
    pub in_doubt_before: Result<Vec<PreparedTransaction>>,
    /// How many the access node resolved (committed or rolled back), or why it could not.
    pub healed: Result<i32>,
    /// The access node's two-phase-commit records for the node, before and after.
    pub remote_txn_records: (i64, i64),
    /// Prepared transactions still on the node afterwards.
    pub in_doubt_after: Result<Vec<PreparedTransaction>>,
}

/// What [`Cluster::heal`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct HealReport {
    /// One entry per data node the access node has.
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
}

const OP: &str = "heal two-phase commits";

impl Cluster {
    /// Resolves in-doubt two-phase-commit transactions on every data node the access node
    /// has, and reports what was there before and after. A data node that is down gets an
    /// error entry; the others are healed.
    ///
    /// After an access-node crash the heal function can return 0 while a node still holds
    /// prepared transactions (the lost transaction's id counts as in progress); then one
    /// access-node transaction id is consumed and healing runs once more.
    ///
    /// # Errors
    ///
    /// When the access node cannot be reached or has no multi-node.
    pub async fn heal(&self) -> Result<HealReport> {
        let an = AccessNode::connect(self.access_node.clone()).await?;
        let session = an.session(OP).await?;
        let info = ServerInfo::read(&session).await?;
        info.require(OP, Feature::MultiNode)?;
        let schemas = info.schemas(OP)?;
        let names: Vec<String> = AccessNode::list_data_nodes(&session, OP)
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect();

        let mut report = HealReport {
            nodes: Vec::new(),
            advanced_xid: false,
        };
        for name in &names {
            let before = self.in_doubt(name).await;
            let records_before = records(&session, name).await.unwrap_or(-1);
            let healed = heal_one(&session, &schemas, name).await;
            report.nodes.push(NodeHeal {
                name: name.clone(),
                in_doubt_before: before,
                healed,
                remote_txn_records: (records_before, -1),
                in_doubt_after: Ok(Vec::new()),
            });
        }
        // Healing that found nothing to resolve while a node still lists prepared
        // transactions: the access node's xid is stuck behind a crash. Consume one, heal again.
        let stuck = |n: &NodeHeal| {
            n.healed.as_ref().is_ok_and(|h| *h == 0)
                && n.in_doubt_before.as_ref().is_ok_and(|v| !v.is_empty())
        };
        if report.nodes.iter().any(stuck) {
            session.query_one(OP, &ADVANCE_XID, &[]).await?;
            report.advanced_xid = true;
            for node in report.nodes.iter_mut().filter(|n| stuck(n)) {
                node.healed = heal_one(&session, &schemas, &node.name).await;
            }
        }
        for node in &mut report.nodes {
            node.remote_txn_records.1 = records(&session, &node.name).await.unwrap_or(-1);
            node.in_doubt_after = self.in_doubt(&node.name).await;
        }
        tracing::debug!(
            healed = report.healed(),
            advanced_xid = report.advanced_xid,
            "heal"
        );
        Ok(report)
    }

    /// TimescaleDB's prepared transactions on data node `name`, read directly.
    async fn in_doubt(&self, name: &str) -> Result<Vec<PreparedTransaction>> {
        let config = self.find(OP, name)?;
        let session = Session::open(config, OP).await?;
        let rows = session.query(OP, &PREPARED_TRANSACTIONS, &[]).await?;
        rows.iter()
            .map(|row| PreparedTransaction::from_row(&session, OP, row))
            .collect()
    }
}

async fn heal_one(session: &Session, schemas: &Schemas, name: &str) -> Result<i32> {
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
}

async fn records(session: &Session, name: &str) -> Result<i64> {
    let row = session.query_one(OP, &REMOTE_TXN_COUNT, &[&name]).await?;
    session.get(OP, &row, "records")
}
