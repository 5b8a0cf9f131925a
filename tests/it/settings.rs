//! Tier 2 on servers whose settings differ from the defaults in every way a production
//! cluster's may: output styles, quoting, isolation, time zone, timeouts.

use timescaledb_multinode::cluster::StepKind;
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalClusterBuilder};
use timescaledb_multinode::{
    AccessNode, Bootstrap, Cluster, DataNode, DistributedHypertable, Error, UpdateExtension,
};

use crate::common::{as_both_admins, tier2};

fn unusual(admin: AdminModel, isolation: &str) -> LocalClusterBuilder {
    LocalCluster::builder()
        .admin(admin)
        .setting("IntervalStyle", "iso_8601")
        .setting("DateStyle", "SQL, DMY")
        .setting("TimeZone", "Pacific/Chatham")
        .setting("default_transaction_isolation", isolation)
        .setting("standard_conforming_strings", "off")
        .setting("quote_all_identifiers", "on")
        .setting("bytea_output", "escape")
        .setting("extra_float_digits", "-15")
        .setting("transform_null_equals", "on")
        .setting("plan_cache_mode", "force_generic_plan")
        .setting("lock_timeout", "5s")
        .setting("statement_timeout", "60s")
        .setting("idle_in_transaction_session_timeout", "3s")
        .setting("password_encryption", "md5")
        .setting("client_min_messages", "log")
}

async fn the_how_to(admin: AdminModel) {
    crate::multinode::how_to(unusual(admin, "serializable")).await;
}

async fn plan_apply_converge(admin: AdminModel) {
    crate::cluster_code::plan_apply_converge(unusual(admin, "serializable")).await;
}

async fn rotation(admin: AdminModel) {
    crate::operate::rotation(unusual(admin, "serializable")).await;
}

as_both_admins!(the_how_to, plan_apply_converge, rotation);

// Under `serializable`, the test's own count of a data node's rows is cancelled while a
// prepared transaction there is a pivot (40001): PostgreSQL's rule, not the crate's.
mod heal {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn superuser() {
        let Some(_) = tier2() else { return };
        let builder = unusual(AdminModel::Superuser, "repeatable read");
        crate::heal::lost_between_prepare_and_commit(builder).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn managed_service() {
        let Some(_) = tier2() else { return };
        let builder = unusual(AdminModel::ManagedService, "repeatable read");
        crate::heal::lost_between_prepare_and_commit(builder).await;
    }
}

/// A data node whose server has `standard_conforming_strings = off`: TimescaleDB's bootstrap
/// check for the extension (a pattern it writes as `'\d+...'`) finds none there, whatever is
/// installed. The plan reports a conflict that says so instead of a step that would fail;
/// the typed call fails naming the data node and both causes, and adds nothing; with the
/// setting on for the login role, the same spec bootstraps the node and converges.
#[tokio::test]
async fn bootstrap_where_standard_conforming_strings_is_off() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::builder()
        .data_nodes(1)
        .setting("standard_conforming_strings", "off")
        .start()
        .await
        .unwrap();
    let dn = local.data_nodes()[0].config().database("tsdb_new");
    let cluster = Cluster::new(local.access_node_config())
        .data_node(dn.clone())
        .hypertable(
            "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL)",
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        );
    let plan = cluster.plan().await.unwrap();
    assert!(plan.unknown.is_empty(), "{plan}");
    assert_eq!(plan.conflicts.len(), 1, "{plan}");
    assert_eq!(plan.conflicts[0].node, "dn1");
    assert!(
        plan.conflicts[0]
            .reason
            .contains("standard_conforming_strings is off for \"tsdbadmin\""),
        "{plan}"
    );
    let refused = cluster.apply().await.unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");

    // The typed call, with the extension on the access node.
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    UpdateExtension::new()
        .run(&local.access_node_config())
        .await
        .unwrap();
    let err = DataNode::from_config(&dn)
        .bootstrap(Bootstrap::CreateDatabase)
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedServer { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn1"), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("standard_conforming_strings is off"),
        "{text}"
    );
    assert!(text.contains("Bootstrap::ExistingDatabase"), "{text}");
    assert!(an.data_nodes().await.unwrap().is_empty());

    // The repair the conflict names.
    local.data_nodes()[0]
        .superuser_client("postgres")
        .await
        .unwrap()
        .batch_execute("ALTER ROLE tsdbadmin SET standard_conforming_strings = on")
        .await
        .unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(plan.conflicts.is_empty(), "{plan}");
    let add = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::AddDataNode)
        .unwrap();
    assert!(add.bootstrap, "{plan}");
    cluster.apply_plan(&plan).await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status}");
    local.shutdown().await.unwrap();
}
