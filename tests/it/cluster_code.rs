//! Tier 2: cluster as code. A spec, a plan that changes nothing, an apply that converges,
//! a second apply that sends no mutating statement, and an apply that stops at a node that
//! is down and is finished by the next one.

use timescaledb_multinode::cluster::StepKind;
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalClusterBuilder};
use timescaledb_multinode::{
    AccessNode, Cluster, DistributedHypertable, DistributedRole, Error, ExposeSecret, Ident,
    Privilege, RawSql, SecretString, ServerInfo, TableName,
};

use crate::common::tier2;

fn spec(local: &LocalCluster) -> Cluster {
    let mut cluster = Cluster::new(local.access_node_config());
    for dn in local.data_nodes() {
        cluster = cluster.data_node(dn.config());
    }
    cluster
        .hypertable(
            RawSql::vouched(
                "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL, \
                 temperature float8)",
            ),
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        )
        .role(
            DistributedRole::new("mn_user1", SecretString::from("mn_user1 spec pw"))
                .grant([Privilege::Select], "sensor_data"),
        )
}

/// Lines of the servers' logs that record a data-changing or DDL statement.
fn mutating_lines(local: &LocalCluster) -> usize {
    local
        .nodes()
        .map(|n| {
            n.log()
                .lines()
                .filter(|l| l.contains("statement: "))
                .count()
        })
        .sum()
}

#[tokio::test]
async fn plan_then_apply_converges_and_a_second_apply_changes_nothing() {
    let Some(_) = tier2() else { return };
    plan_apply_converge(LocalCluster::builder()).await;
}

/// Plan, apply, plan (converged), a second apply that changes nothing, a healthy status and
/// the how-to's result, on a 1 + 2 cluster started from `builder` (also run on every
/// release of the version matrix).
pub async fn plan_apply_converge(builder: LocalClusterBuilder) {
    let local = builder
        .data_nodes(2)
        .setting("log_statement", "mod")
        .start()
        .await
        .unwrap();
    let cluster = spec(&local);

    let plan = cluster.plan().await.unwrap();
    let kinds: Vec<StepKind> = plan.steps.iter().map(|s| s.kind.clone()).collect();
    // A managed service's superuser created the extension on every node already.
    let extensions = match local.access_node().admin_model() {
        AdminModel::ManagedService => 0,
        _ => 3,
    };
    let expected: Vec<StepKind> = std::iter::repeat_n(StepKind::CreateExtension, extensions)
        .chain([
            StepKind::AddDataNode,
            StepKind::AddDataNode,
            StepKind::CreateTable,
            StepKind::DistributeTable,
            StepKind::ApplyRole,
        ])
        .collect();
    assert_eq!(kinds, expected, "{plan:#?}");
    assert!(plan.unknown.is_empty());
    let shown: String = plan.steps.iter().map(|s| format!("{s}\n{s:?}\n")).collect();
    assert!(shown.contains("[REDACTED]"));
    for node in local.nodes() {
        assert!(!shown.contains(node.password().expose_secret()), "{shown}");
    }
    assert!(!shown.contains("mn_user1 spec pw"));
    // The plan changed nothing.
    let info = ServerInfo::detect(&local.access_node_config())
        .await
        .unwrap();
    assert_eq!(info.timescaledb.is_some(), extensions == 0);
    assert_eq!(info.data_node_count, 0);

    let mut seen = Vec::new();
    let report = cluster
        .apply_with_progress(|step| seen.push(step.kind.clone()))
        .await
        .unwrap();
    assert_eq!(report.applied.len(), expected.len());
    assert_eq!(seen, kinds);
    let plan = cluster.plan().await.unwrap();
    assert!(plan.is_converged(), "{plan:#?}");
    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status:#?}");

    // Converged: apply sends no mutating statement anywhere.
    let before = mutating_lines(&local);
    assert!(before > 0, "log_statement = mod records the first apply");
    let report = cluster.apply().await.unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(
        mutating_lines(&local),
        before,
        "a converged apply changed something"
    );

    // And the result is the how-to's cluster: mn_user1 reads the distributed hypertable.
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    an.execute(
        &RawSql::vouched(
            "INSERT INTO sensor_data SELECT t, s, 20 FROM \
             generate_series('2024-01-01'::timestamptz, '2024-01-10', '1 day') t, generate_series(1, 4) s",
        ),
        &[],
    )
    .await
    .unwrap();
    let as_user = timescaledb_multinode::NodeConfig::new(
        "127.0.0.1",
        "mn_user1",
        SecretString::from("mn_user1 spec pw"),
    )
    .port(local.access_node().port())
    .database("tsdb");
    let count: i64 = as_user
        .connect()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM sensor_data", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 40);
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn apply_stops_at_a_down_node_and_the_next_apply_finishes() {
    let Some(_) = tier2() else { return };
    let mut local = LocalCluster::start(2).await.unwrap();
    let cluster = spec(&local);
    local.data_nodes_mut()[1].stop().await.unwrap();

    let plan = cluster.plan().await.unwrap();
    assert!(!plan.unknown.is_empty(), "{plan:#?}");
    assert!(plan.unknown.iter().all(|u| u.node == "dn2"), "{plan:#?}");
    assert!(
        plan.unknown.iter().all(|u| u.error.is_unreachable()),
        "{plan:#?}"
    );
    let err = cluster.apply().await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert_eq!(err.node(), Some("dn2"));
    // What could be done was done; nothing was distributed over too few nodes.
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    let names: Vec<String> = an
        .data_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["dn1"]);
    let table = TableName::new(Ident::new("sensor_data").unwrap());
    assert!(an.hypertable(&table).await.unwrap().is_none());

    local.data_nodes_mut()[1].start().await.unwrap();
    let report = cluster.apply().await.unwrap();
    assert!(!report.applied.is_empty());
    assert!(cluster.plan().await.unwrap().is_converged());
    let names: Vec<String> = an
        .data_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["dn1", "dn2"]);
    let ht = an.hypertable(&table).await.unwrap().unwrap();
    assert_eq!(ht.data_nodes, ["dn1", "dn2"]);
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_contradictory_spec_is_refused_before_anything_is_read() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(2).await.unwrap();
    let dn1 = local.data_nodes()[0].config();
    let twice = Cluster::new(local.access_node_config())
        .data_node(dn1.clone())
        .data_node(dn1.clone());
    let err = twice.plan().await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("twice"), "{err}");

    let unknown_node = Cluster::new(local.access_node_config())
        .data_node(dn1.clone())
        .hypertable(
            RawSql::vouched("CREATE TABLE t(time timestamptz NOT NULL)"),
            DistributedHypertable::new("t", "time").data_nodes(["dn1", "dn9"]),
        );
    let err = unknown_node.apply().await.unwrap_err();
    assert!(err.to_string().contains("dn9"), "{err}");

    let role_elsewhere = Cluster::new(local.access_node_config())
        .data_node(dn1)
        .role(DistributedRole::new("r", SecretString::from("pw")).data_nodes(["dn7"]));
    let err = role_elsewhere.plan().await.unwrap_err();
    assert!(err.to_string().contains("dn7"), "{err}");
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_broken_user_mapping_is_planned_and_repaired() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(2).await.unwrap();
    let cluster = spec(&local);
    cluster.apply().await.unwrap();
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    timescaledb_multinode::UserMapping::new(timescaledb_multinode::RoleSpec::CurrentUser, "dn2")
        .password(SecretString::from("not dn2's password"))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    let plan = cluster.plan().await.unwrap();
    assert_eq!(plan.steps.len(), 1, "{plan:#?}");
    assert_eq!(plan.steps[0].kind, StepKind::UserMapping);
    assert_eq!(plan.steps[0].target, "dn2");
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    assert!(cluster.status().await.is_healthy());
    // No access-node backend crashed on the way (TimescaleDB 2.13 crashes a session that
    // reuses a failed data-node connection for distributed_exec).
    assert!(!local.access_node().log().contains("Segmentation fault"));
    local.shutdown().await.unwrap();
}

/// Apply creates the extension over the sessions it keeps, whose search path puts
/// `pg_catalog` first: the extension still goes where a fresh session would put it, the
/// first schema of the path the server gives the admin (here a schema of its own), on
/// every node, and never into `pg_catalog`; the steps after it find the API there.
#[tokio::test]
async fn apply_creates_the_extension_where_the_admins_search_path_says() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(2).await.unwrap();
    for node in local.nodes() {
        let admin = node.config().connect().await.unwrap();
        admin
            .batch_execute(
                "CREATE SCHEMA \"ts home\"; \
                 ALTER ROLE CURRENT_USER SET search_path = \"ts home\", public",
            )
            .await
            .unwrap();
    }
    let cluster = spec(&local);
    cluster.apply().await.unwrap();
    for node in local.nodes() {
        let info = ServerInfo::detect(&node.config()).await.unwrap();
        assert_eq!(
            info.timescaledb_schema.as_deref(),
            Some("ts home"),
            "{}",
            node.name()
        );
    }
    assert!(cluster.plan().await.unwrap().is_converged());
    assert!(cluster.status().await.is_healthy());
    local.shutdown().await.unwrap();
}
