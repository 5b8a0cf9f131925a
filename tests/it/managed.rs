//! Tier 2 as the managed-service admin of the how-to: `tsdbadmin` is `NOSUPERUSER
//! CREATEROLE`, owns the database and its schema `public`, has `USAGE` on `timescaledb_fdw`,
//! and the extension was created by a superuser on every node. The how-to, cluster as code,
//! healing and rotation are the suite's own tests, run on such a cluster.

use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalClusterBuilder};

use crate::common::tier2;

fn managed() -> LocalClusterBuilder {
    LocalCluster::builder().admin(AdminModel::ManagedService)
}

#[tokio::test]
async fn the_how_to() {
    let Some(_) = tier2() else { return };
    crate::multinode::how_to(managed()).await;
}

#[tokio::test]
async fn plan_apply_plan_status() {
    let Some(_) = tier2() else { return };
    crate::cluster_code::plan_apply_converge(managed()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_in_doubt_commit_is_healed() {
    let Some(_) = tier2() else { return };
    crate::heal::lost_between_prepare_and_commit(managed()).await;
}

#[tokio::test]
async fn a_password_rotation() {
    let Some(_) = tier2() else { return };
    crate::operate::rotation(managed()).await;
}

#[tokio::test]
async fn the_admin_is_not_a_superuser_and_the_extension_is_in_public() {
    let Some(_) = tier2() else { return };
    let local = managed().data_nodes(1).start().await.unwrap();
    for node in local.nodes() {
        let info = timescaledb_multinode::ServerInfo::detect(&node.config())
            .await
            .unwrap();
        assert!(!info.is_superuser, "{}", node.name());
        assert!(info.timescaledb.is_some(), "{}", node.name());
        assert_eq!(
            info.timescaledb_schema.as_deref(),
            Some("public"),
            "{}",
            node.name()
        );
    }
    local.shutdown().await.unwrap();
}
