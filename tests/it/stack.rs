//! Tier 2: the cluster operations fit in a small thread stack, in the debug build tests run
//! in. A debug build lays out every temporary of a future's poll side by side, so a deep
//! chain of large futures (a plan checking data nodes while it opens connections to them)
//! once needed more than a test thread's 2 MiB. Here the whole life of a cluster spec
//! (apply, adding a data node through an approved plan, status, heal, rotation, pruning)
//! runs on a thread with a quarter of that, for both admins.

use std::future::Future;

use timescaledb_multinode::cluster::Prune;
use timescaledb_multinode::testing::{AdminModel, LocalCluster};
use timescaledb_multinode::{
    Cluster, DistributedHypertable, DistributedRole, Privilege, SecretString,
};

use crate::common::tier2;

/// The stack the operations run on: a quarter of what a test thread or a tokio worker
/// gets by default.
const STACK: usize = 512 * 1024;

/// Runs `work` on a current-thread runtime, on a thread of its own with [`STACK`] bytes of
/// stack (an overflow aborts the test binary, naming this thread).
fn on_a_small_stack<F, Fut>(work: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::Builder::new()
        .name("small-stack".to_owned())
        .stack_size(STACK)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(work());
        })
        .unwrap()
        .join()
        .unwrap();
}

fn spec(local: &LocalCluster, n: usize) -> Cluster {
    let mut cluster = Cluster::new(local.access_node_config());
    for dn in &local.data_nodes()[..n] {
        cluster = cluster.data_node(dn.config());
    }
    cluster
        .hypertable(
            "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL, \
             temperature float8)",
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        )
        .role(
            DistributedRole::new("mn_user1", SecretString::from("mn_user1 stack pw"))
                .grant([Privilege::Select], "sensor_data"),
        )
}

async fn a_cluster_spec_from_start_to_prune(admin: AdminModel) {
    let local = LocalCluster::builder()
        .data_nodes(3)
        .admin(admin)
        .start()
        .await
        .unwrap();
    spec(&local, 2).apply().await.unwrap();

    // A data node added to the spec, through a plan approved before it is applied.
    let three = spec(&local, 3);
    let plan = three.plan().await.unwrap();
    assert!(!plan.is_converged(), "{plan}");
    three.apply_plan(&plan).await.unwrap();
    assert!(three.plan().await.unwrap().is_converged());

    let status = three.status().await;
    assert!(status.is_healthy(), "{status}");
    three.heal().await.unwrap();
    let dn3 = local.data_nodes()[2].name().to_owned();
    let rotation = three
        .rotate_password(&dn3, SecretString::from("dn3 rotated pw"))
        .await
        .unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");

    // Pruned back to two data nodes.
    let pruned = spec(&local, 2).prune(Prune::KeepData);
    pruned.apply().await.unwrap();
    assert!(pruned.plan().await.unwrap().is_converged());
}

#[test]
fn a_cluster_spec_runs_on_a_quarter_of_a_thread_stack_as_superuser() {
    let Some(_) = tier2() else { return };
    on_a_small_stack(|| a_cluster_spec_from_start_to_prune(AdminModel::Superuser));
}

#[test]
fn a_cluster_spec_runs_on_a_quarter_of_a_thread_stack_as_the_managed_admin() {
    let Some(_) = tier2() else { return };
    on_a_small_stack(|| a_cluster_spec_from_start_to_prune(AdminModel::ManagedService));
}
