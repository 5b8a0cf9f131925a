//! Tier 2: in-doubt two-phase commits, produced on purpose, reported and healed.

use std::time::Duration;

use timescaledb_multinode::cluster::APPLY_LOCK_KEY;
use timescaledb_multinode::data::query_each;
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalClusterBuilder};
use timescaledb_multinode::{AccessNode, Cluster, DistributedExec, Error, NodeConfig, RawSql};

use crate::common::{hold_the_apply_lock, tier2, until_trying_for_the_apply_lock};

async fn joined(builder: LocalClusterBuilder) -> (LocalCluster, Cluster, AccessNode) {
    let joined = builder.data_nodes(2).start_joined().await.unwrap();
    DistributedExec::new(RawSql::vouched("CREATE TABLE heal_t(i int)"))
        .run(&joined.access_node)
        .await
        .unwrap();
    (joined.local, joined.cluster, joined.access_node)
}

async fn rows_on(configs: &[NodeConfig]) -> Vec<i64> {
    let sql = RawSql::vouched("SELECT count(*) FROM heal_t");
    query_each(configs, &sql, &[])
        .await
        .into_iter()
        .map(|e| e.result.unwrap()[0].get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_node_lost_between_prepare_and_commit_is_healed() {
    let Some(_) = tier2() else { return };
    lost_between_prepare_and_commit(LocalCluster::builder()).await;
}

/// A real in-doubt two-phase commit (a data node stopped after PREPARE, before COMMIT
/// PREPARED), reported by status and healed, on a 1 + 2 cluster started from `builder`
/// (also run on every release of the version matrix). Needs a multi-threaded runtime.
pub async fn lost_between_prepare_and_commit(builder: LocalClusterBuilder) {
    let (mut local, cluster, an) = joined(builder).await;
    let configs = local.data_node_configs();

    // dn2 prepares slowly (a deferred trigger sleeps at PREPARE), so there is time to lose
    // dn1 after it prepared and before the access node sends COMMIT PREPARED.
    for statement in [
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON heal_t DEFERRABLE INITIALLY DEFERRED \
         FOR EACH ROW EXECUTE FUNCTION slow()",
    ] {
        DistributedExec::new(RawSql::vouched(statement))
            .data_nodes(["dn2"])
            .run(&an)
            .await
            .unwrap();
    }
    let writer = {
        let config = local.access_node_config();
        tokio::spawn(async move {
            let client = config.connect().await.unwrap();
            client
                .batch_execute(
                    "BEGIN; CALL distributed_exec('INSERT INTO heal_t VALUES (1)'); COMMIT;",
                )
                .await
        })
    };
    // Wait until dn1 holds the prepared transaction, then stop it.
    let dn1 = configs[0].connect().await.unwrap();
    let mut prepared = false;
    for _ in 0..200 {
        let n: i64 = dn1
            .query_one(
                "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'ts-%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            prepared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(prepared, "dn1 never prepared");
    drop(dn1);
    local.data_nodes_mut()[0].stop().await.unwrap();
    // The client's COMMIT succeeds (with warnings) although dn1 never committed.
    writer.await.unwrap().unwrap();
    local.data_nodes_mut()[0].start().await.unwrap();
    assert_eq!(rows_on(&configs).await, [0, 1], "dn1's row is in doubt");

    // status() reports it.
    let status = cluster.status().await;
    let in_doubt = status.data_nodes[0].prepared_transactions.as_ref().unwrap();
    assert_eq!(in_doubt.len(), 1, "{status:#?}");
    assert!(in_doubt[0].gid.starts_with("ts-"));
    // ISO 8601 in UTC whatever the server's DateStyle and TimeZone (the `settings` tests
    // run this on servers that print dates otherwise).
    let prepared = &in_doubt[0].prepared;
    assert_eq!(
        prepared.len(),
        "2026-11-30T02:27:12.464123Z".len(),
        "{prepared}"
    );
    assert!(
        prepared.starts_with("20") && prepared.as_bytes()[10] == b'T' && prepared.ends_with('Z'),
        "{prepared}"
    );
    assert!(!status.is_healthy());

    // heal() commits it: the access node committed.
    let report = cluster.heal().await.unwrap();
    assert!(report.healed() >= 1, "{report:#?}");
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.nodes[0].in_doubt_before.as_ref().unwrap().len(), 1);
    assert_eq!(
        rows_on(&configs).await,
        [1, 1],
        "nothing lost, nothing duplicated"
    );
    // The bookkeeping of the healed node is emptied too; the node with nothing in doubt
    // is left alone (its records stay: heal deletes nothing there).
    assert_eq!(report.nodes[0].remote_txn_records.1, 0, "{report:#?}");
    assert!(report.nodes[1].in_doubt_before.as_ref().unwrap().is_empty());
    assert_eq!(
        report.nodes[1].remote_txn_records.0, report.nodes[1].remote_txn_records.1,
        "{report:#?}"
    );
    assert!(cluster.status().await.is_healthy());
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn heal_rolls_back_what_the_access_node_never_committed() {
    let Some(_) = tier2() else { return };
    let (local, cluster, an) = joined(LocalCluster::builder()).await;
    let configs = local.data_node_configs();
    // A prepared transaction on dn1 with an id of this access node that it never recorded
    // as committed (as after an access-node crash): presumed aborted.
    let row = an
        .query(
            &RawSql::vouched(
                "SELECT txid_current()::text, (SELECT oid FROM pg_foreign_server WHERE srvname = 'dn1')::int8, \
                        (SELECT oid FROM pg_roles WHERE rolname = current_user)::int8",
            ),
            &[],
        )
        .await
        .unwrap();
    let gid = format!(
        "ts-1-{}-{}-{}",
        row[0].get::<_, String>(0),
        row[0].get::<_, i64>(1),
        row[0].get::<_, i64>(2)
    );
    let dn1 = configs[0].connect().await.unwrap();
    dn1.batch_execute(&format!(
        "BEGIN; INSERT INTO heal_t VALUES (7); PREPARE TRANSACTION '{gid}'"
    ))
    .await
    .unwrap();
    let report = cluster.heal().await.unwrap();
    assert_eq!(
        report.nodes[0].healed.as_ref().copied().unwrap(),
        1,
        "{report:#?}"
    );
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(rows_on(&configs).await, [0, 0]);
    // Healing a healed cluster does nothing.
    let again = cluster.heal().await.unwrap();
    assert_eq!(again.healed(), 0);
    assert!(!again.advanced_xid);
    local.shutdown().await.unwrap();
}

/// A prepared transaction with a TimescaleDB-like id in another database of dn1's
/// instance: not this cluster's. Status stays healthy, heal neither reports nor touches it,
/// and heal on a cluster with nothing in doubt deletes none of the access node's records.
#[tokio::test]
async fn another_databases_prepared_transaction_is_not_in_doubt_here() {
    let Some(_) = tier2() else { return };
    let (local, cluster, _an) = joined(LocalCluster::builder()).await;
    let dn1 = &local.data_nodes()[0];
    dn1.superuser_client("tsdb")
        .await
        .unwrap()
        .batch_execute("CREATE DATABASE other_app")
        .await
        .unwrap();
    let other = dn1.superuser_client("other_app").await.unwrap();
    other
        .batch_execute(
            "CREATE TABLE t(i int); BEGIN; INSERT INTO t VALUES (1); \
             PREPARE TRANSACTION 'ts-1-999-1-1'",
        )
        .await
        .unwrap();

    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status}");
    assert!(status.data_nodes[0]
        .prepared_transactions
        .as_ref()
        .unwrap()
        .is_empty());

    let report = cluster.heal().await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
    assert!(!report.advanced_xid, "{report:#?}");
    for node in &report.nodes {
        assert!(
            node.in_doubt_before.as_ref().unwrap().is_empty(),
            "{node:#?}"
        );
        assert_eq!(node.healed.as_ref().ok(), Some(&0), "{node:#?}");
        // Nothing in doubt: the heal function was not called, so the records of earlier
        // distributed writes (the table's creation) are still there.
        assert!(node.remote_txn_records.0 > 0, "{node:#?}");
        assert_eq!(
            node.remote_txn_records.0, node.remote_txn_records.1,
            "{node:#?}"
        );
    }
    // The other database's transaction is untouched.
    let left: i64 = other
        .query_one(
            "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'ts-1-999-1-1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
    other
        .batch_execute("ROLLBACK PREPARED 'ts-1-999-1-1'")
        .await
        .unwrap();
    local.shutdown().await.unwrap();
}

/// A transaction in doubt on dn1 prepared by another role: the managed-service admin (not
/// a superuser) cannot finish it, and heal names it with its owner; a superuser admin
/// finishes it.
async fn another_roles_transaction_is_named_with_its_owner(model: AdminModel) {
    let (local, cluster, an) = joined(LocalCluster::builder().admin(model)).await;
    let row = an
        .query(
            &RawSql::vouched(
                "SELECT txid_current()::text, (SELECT oid FROM pg_foreign_server WHERE srvname = 'dn1')::int8, \
                        (SELECT oid FROM pg_roles WHERE rolname = current_user)::int8",
            ),
            &[],
        )
        .await
        .unwrap();
    let gid = format!(
        "ts-1-{}-{}-{}",
        row[0].get::<_, String>(0),
        row[0].get::<_, i64>(1),
        row[0].get::<_, i64>(2)
    );
    let dn1 = local.data_nodes()[0]
        .superuser_client("tsdb")
        .await
        .unwrap();
    // (Its own statement: in one simple query the role would be created inside the
    // prepared transaction.)
    dn1.batch_execute("CREATE ROLE other_writer; GRANT INSERT ON heal_t TO other_writer")
        .await
        .unwrap();
    dn1.batch_execute(&format!(
        "BEGIN; SET LOCAL ROLE other_writer; INSERT INTO heal_t VALUES (9); \
         PREPARE TRANSACTION '{gid}'"
    ))
    .await
    .unwrap();

    let report = cluster.heal().await.unwrap();
    let node = &report.nodes[0];
    assert_eq!(
        node.in_doubt_before.as_ref().unwrap().len(),
        1,
        "{report:#?}"
    );
    assert!(!report.advanced_xid, "{report:#?}");
    match model {
        AdminModel::ManagedService => {
            assert_eq!(node.healed.as_ref().ok(), Some(&0), "{report:#?}");
            assert_eq!(node.other_owners.len(), 1, "{report:#?}");
            assert_eq!(node.other_owners[0].owner, "other_writer");
            assert_eq!(node.other_owners[0].gid, gid);
            assert!(!report.is_clean());
            dn1.batch_execute(&format!("ROLLBACK PREPARED '{gid}'"))
                .await
                .unwrap();
        }
        _ => {
            assert_eq!(node.healed.as_ref().ok(), Some(&1), "{report:#?}");
            assert!(node.other_owners.is_empty(), "{report:#?}");
            assert!(report.is_clean(), "{report:#?}");
        }
    }
    assert_eq!(rows_on(&local.data_node_configs()).await, [0, 0]);
    local.shutdown().await.unwrap();
}

mod another_roles_transaction {
    use super::*;

    #[tokio::test]
    async fn superuser() {
        let Some(_) = tier2() else { return };
        another_roles_transaction_is_named_with_its_owner(AdminModel::Superuser).await;
    }

    #[tokio::test]
    async fn managed_service() {
        let Some(_) = tier2() else { return };
        another_roles_transaction_is_named_with_its_owner(AdminModel::ManagedService).await;
    }
}

/// Heal runs under the apply lock: while an apply holds it (here: held by hand), heal
/// waits, and runs once it is free; with a short wait it fails naming the holder.
#[tokio::test]
async fn heal_waits_for_a_running_apply() {
    let Some(_) = tier2() else { return };
    let (local, cluster, _an) = joined(LocalCluster::builder()).await;
    let (an, _) = hold_the_apply_lock(local.access_node_config()).await;
    let err = cluster
        .clone()
        .apply_lock_wait(Duration::from_millis(300))
        .heal()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ApplyLockHeld { .. }), "{err:?}");
    let healing = {
        let cluster = cluster.clone();
        tokio::spawn(async move { cluster.heal().await })
    };
    until_trying_for_the_apply_lock(&local).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!healing.is_finished());
    an.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK_KEY])
        .await
        .unwrap();
    let report = healing.await.unwrap().unwrap();
    assert!(report.is_clean(), "{report:#?}");
    local.shutdown().await.unwrap();
}
