//! Tier 2: a data node that accepts TCP and never answers (a dropped firewall rule, a hung
//! host) does not hang `Cluster::status`, `Cluster::heal`, `Cluster::plan` or
//! `Cluster::rotate_password`: each returns,
//! names the node with a timeout, reports the other nodes as they are, and leaves no
//! access-node backend waiting on the node. An `apply` step held up on a data node or on
//! the access node ends at the deadline, cancelled on the server, and the next apply
//! converges.

use std::time::Duration;

use timescaledb_multinode::cluster::{AccessNodeLink, Cause, RotationStep};
use timescaledb_multinode::testing::LocalCluster;
use timescaledb_multinode::{Cluster, NodeConfig, SecretString};
use tokio::net::TcpListener;

use crate::common::{joined_cluster_from, tier2};

/// Turns a hang into a failure; generous, it is no timing assertion.
const GUARD: Duration = Duration::from_secs(300);

/// The deadline the cluster gets: short enough for a quick test, long enough for a healthy
/// node on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(10);

/// A port that accepts TCP connections and never reads or writes; the connections are
/// held until the returned task is aborted.
async fn black_hole() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (port, task)
}

/// How many other backends on `client`'s server still run a statement `matching` (an SQL
/// condition on `pg_stat_activity`): polled until none (a cancel request is asynchronous),
/// with a generous bound; no timing is asserted. `client` must not be in a transaction
/// (which would see one snapshot of `pg_stat_activity` throughout).
async fn active_after_cancel(client: &tokio_postgres::Client, matching: &str) -> i64 {
    let query = format!(
        "SELECT count(*) FROM pg_stat_activity \
          WHERE pid <> pg_backend_pid() AND state = 'active' AND ({matching})"
    );
    let mut active = -1;
    for _ in 0..600 {
        active = client
            .query_one(&query, &[])
            .await
            .unwrap()
            .get::<_, i64>(0);
        if active == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    active
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_data_node_does_not_hang_status_heal_or_plan() {
    let Some(_) = tier2() else { return };
    let (local, _an) = joined_cluster_from(LocalCluster::builder().data_nodes(2)).await;
    let (port, hole) = black_hole().await;

    // The access node reaches dn2 at the black hole, and so does the crate.
    let admin = local.access_node_config().connect().await.unwrap();
    admin
        .query(
            "SELECT * FROM alter_data_node('dn2', port => $1)",
            &[&i32::from(port)],
        )
        .await
        .unwrap();
    let dn2 = local.data_nodes()[1].config();
    let dn2 = NodeConfig::new(dn2.get_host(), dn2.get_user(), dn2.get_password().clone())
        .name("dn2")
        .port(port)
        .database(dn2.get_database());
    let cluster = Cluster::new(local.access_node_config())
        .data_node(local.data_nodes()[0].config())
        .data_node(dn2)
        .node_deadline(DEADLINE);

    // status returns, names dn2 with a timeout, and reports dn1 as it is.
    let status = tokio::time::timeout(GUARD, cluster.status())
        .await
        .expect("status hung on a black-holed data node");
    assert!(!status.is_healthy());
    assert!(status.access_node.is_up(), "{status}");
    let dn1 = &status.data_nodes[0];
    assert!(dn1.direct.is_up(), "{status}");
    assert!(matches!(dn1.link, AccessNodeLink::Ok), "{status}");
    let dn2 = &status.data_nodes[1];
    assert_eq!(dn2.name, "dn2");
    assert_eq!(dn2.direct.cause(), Some(Cause::TimedOut), "{status}");
    let err = dn2.direct.server.as_ref().unwrap_err();
    assert!(err.is_timeout() && err.node() == Some("dn2"), "{err:?}");
    assert!(matches!(dn2.link, AccessNodeLink::Down(_)), "{status}");
    assert_eq!(dn2.link.cause(), Some(Cause::TimedOut), "{status}");
    assert_eq!(dn2.link.error().unwrap().node(), Some("dn2"), "{status}");
    let text = status.to_string();
    assert!(
        text.contains("dn2: down (no answer within the deadline)"),
        "{text}"
    );

    // heal returns: dn1 healed (nothing in doubt), dn2 an error naming it.
    let report = tokio::time::timeout(GUARD, cluster.heal())
        .await
        .expect("heal hung on a black-holed data node")
        .unwrap();
    assert_eq!(report.nodes.len(), 2, "{report:#?}");
    assert_eq!(
        report.nodes[0].healed.as_ref().ok(),
        Some(&0),
        "{report:#?}"
    );
    let dn2 = &report.nodes[1];
    assert!(
        dn2.in_doubt_before.as_ref().unwrap_err().is_timeout(),
        "{dn2:#?}"
    );
    assert!(dn2.healed.is_err(), "{dn2:#?}");
    assert!(!report.is_clean());
    assert!(
        report.errors().iter().all(|e| e.node() == Some("dn2")),
        "{report:#?}"
    );

    // plan returns, with what it could not check on dn2.
    let plan = tokio::time::timeout(GUARD, cluster.plan())
        .await
        .expect("plan hung on a black-holed data node")
        .unwrap();
    assert!(
        plan.unknown
            .iter()
            .any(|u| u.node == "dn2" && u.error.is_timeout()),
        "{plan:#?}"
    );

    // Rotation returns too, naming the step that ran out of time.
    let rotation = tokio::time::timeout(
        GUARD,
        cluster.rotate_password("dn2", SecretString::from("rotated in a black hole")),
    )
    .await
    .expect("rotation hung on a black-holed data node")
    .unwrap();
    let (step, error) = rotation.failure.as_ref().expect("the rotation failed");
    assert_eq!(*step, RotationStep::DataNodeRole, "{rotation:?}");
    assert!(error.is_timeout(), "{rotation:?}");
    assert_eq!(error.node(), Some("dn2"), "{rotation:?}");

    // No access-node backend is left waiting on dn2: the probes were cancelled on the
    // server. Polled until true (the cancel is asynchronous), with a generous bound.
    let waiting = active_after_cancel(
        &admin,
        "query LIKE '%distributed_exec%' OR query LIKE '%remote_txn_heal%'",
    )
    .await;
    assert_eq!(
        waiting, 0,
        "access-node backends still wait on the black hole"
    );

    hole.abort();
    drop(admin);
    local.shutdown().await.unwrap();
}

/// An apply step that waits on a data node (here `CREATE EXTENSION`, held up by a lock
/// another session keeps on `pg_extension`) ends at the node deadline: the error names the
/// node, the statement is cancelled on the server, and the next apply finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_step_that_waits_on_a_data_node_ends_at_the_deadline() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(1).await.unwrap();
    let dn1 = local.data_nodes()[0].config();
    let cluster = Cluster::new(local.access_node_config())
        .data_node(dn1.clone())
        .hypertable(
            "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL)",
            timescaledb_multinode::DistributedHypertable::new("sensor_data", "time"),
        )
        .node_deadline(DEADLINE);
    let plan = cluster.plan().await.unwrap();
    assert!(
        plan.steps.iter().any(|s| s.node == "dn1"
            && s.kind == timescaledb_multinode::cluster::StepKind::CreateExtension),
        "{plan}"
    );

    // Reads of pg_extension go on; the insert CREATE EXTENSION makes waits.
    let holder = dn1.connect().await.unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE pg_catalog.pg_extension IN SHARE MODE")
        .await
        .unwrap();
    let err = tokio::time::timeout(GUARD, cluster.apply())
        .await
        .expect("apply hung on a data node's step")
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.node(), Some("dn1"), "{err:?}");

    // The step was cancelled on dn1 (polled: the cancel is asynchronous).
    // From another session: the holder's open transaction would see one snapshot of
    // pg_stat_activity throughout.
    let watcher = dn1.connect().await.unwrap();
    let waiting = active_after_cancel(&watcher, "query ILIKE '%CREATE EXTENSION%'").await;
    assert_eq!(waiting, 0, "CREATE EXTENSION still waits on dn1");

    holder.batch_execute("ROLLBACK").await.unwrap();
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    drop(holder);
    local.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_step_on_the_access_node_ends_at_the_deadline() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(1).await.unwrap();
    let an_config = local.access_node_config();
    let dn1 = local.data_nodes()[0].config();
    let create = "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL)";
    let cluster = Cluster::new(an_config.clone())
        .data_node(dn1.clone())
        .hypertable(
            create,
            timescaledb_multinode::DistributedHypertable::new("sensor_data", "time"),
        )
        .node_deadline(DEADLINE);

    // The table exists and is no hypertable yet: the plan distributes it, a step on the
    // access node that a lock on the table holds up.
    let admin = an_config.connect().await.unwrap();
    admin.batch_execute(create).await.unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(
        plan.steps
            .iter()
            .any(|s| s.kind == timescaledb_multinode::cluster::StepKind::DistributeTable),
        "{plan}"
    );
    let holder = an_config.connect().await.unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE sensor_data IN SHARE UPDATE EXCLUSIVE MODE")
        .await
        .unwrap();
    let err = tokio::time::timeout(GUARD, cluster.apply())
        .await
        .expect("apply hung on an access-node step")
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.node(), Some(an_config.node_name().as_str()), "{err:?}");

    // The step was cancelled on the access node, and nothing was left half-done that the
    // next apply cannot finish.
    let waiting =
        active_after_cancel(&admin, "query ILIKE '%create_distributed_hypertable%'").await;
    assert_eq!(waiting, 0, "create_distributed_hypertable still waits");
    holder.batch_execute("ROLLBACK").await.unwrap();
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    drop(holder);
    local.shutdown().await.unwrap();
}
