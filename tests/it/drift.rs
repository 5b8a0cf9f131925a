//! Tier 2: a cluster that drifted from its spec. Each defect the plan missed or failed on
//! has a test here: roles added after their grant table, a hypertable that is not
//! distributed, a data node registered at another address, a data node added to the spec
//! later, the replication factor, partitioning and the chunk interval, a data node with
//! another user, prune mode, and approved plans that refuse a changed cluster.

use std::time::Duration;
use timescaledb_multinode::testing::{AdminModel, LocalCluster};

use timescaledb_multinode::cluster::APPLY_LOCK_KEY;
use timescaledb_multinode::cluster::{Plan, Prune, StepKind};
use timescaledb_multinode::lifecycle::{AlterDataNode, ChunkInterval};
use timescaledb_multinode::{
    AccessNode, Cluster, DistributedHypertable, DistributedRole, Error, Ident, NodeConfig,
    Privilege, RawSql, SecretString, ServerInfo, TableName,
};

use crate::common::{as_both_admins, hold_the_apply_lock, tier2, until_trying_for_the_apply_lock};

const TABLE: &str = "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL, \
                     temperature float8)";

/// The spec of `local`'s first `n` data nodes: the table distributed over all of them.
fn spec(local: &LocalCluster, n: usize) -> Cluster {
    let mut cluster = Cluster::new(local.access_node_config());
    for dn in &local.data_nodes()[..n] {
        cluster = cluster.data_node(dn.config());
    }
    // A literal `CREATE TABLE`, no `RawSql` needed.
    cluster.hypertable(
        TABLE,
        DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
    )
}

fn role() -> DistributedRole {
    DistributedRole::new("mn_user1", SecretString::from("mn_user1 spec pw"))
        .grant([Privilege::Select], "sensor_data")
}

fn kinds(plan: &Plan) -> Vec<StepKind> {
    plan.steps.iter().map(|s| s.kind.clone()).collect()
}

fn table() -> TableName {
    TableName::new(Ident::new("sensor_data").unwrap())
}

/// A 1 + 2 cluster whose admin is `admin`.
async fn two_data_nodes(admin: AdminModel) -> LocalCluster {
    LocalCluster::builder()
        .data_nodes(2)
        .admin(admin)
        .start()
        .await
        .unwrap()
}

async fn access_node(local: &LocalCluster) -> AccessNode {
    AccessNode::connect(local.access_node_config())
        .await
        .unwrap()
}

/// A role added to the spec after its grant table exists used to fail the plan
/// (`has_table_privilege` on a role that does not exist: 42704); so did resuming after a
/// role was made on a data node only.
async fn a_role_added_after_its_table_is_planned(admin: AdminModel) {
    let local = two_data_nodes(admin).await;
    spec(&local, 2).apply().await.unwrap();
    // Halfway state of an earlier apply: the role exists on dn1 only.
    let dn1 = local.data_nodes()[0].config().connect().await.unwrap();
    dn1.batch_execute("CREATE ROLE mn_user1 LOGIN")
        .await
        .unwrap();

    let cluster = spec(&local, 2).role(role());
    let plan = cluster.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::ApplyRole], "{plan}");
    assert!(
        plan.steps[0]
            .why
            .contains("SELECT on sensor_data is not granted"),
        "{plan}"
    );
    cluster.apply().await.unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(plan.is_converged(), "{plan}");
    local.shutdown().await.unwrap();
}

/// A table of the spec's name that is a hypertable but not a distributed one is a conflict
/// with its reason: `create_distributed_hypertable(if_not_exists)` only notices, so apply
/// used to "succeed" on every run and the plan never converged.
#[tokio::test]
async fn a_hypertable_that_is_not_distributed_is_a_conflict() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(2).await.unwrap();
    let bare = {
        let mut c = Cluster::new(local.access_node_config());
        for dn in local.data_nodes() {
            c = c.data_node(dn.config());
        }
        c
    };
    bare.apply().await.unwrap();
    let an = access_node(&local).await;
    an.execute(&RawSql::vouched(TABLE), &[]).await.unwrap();
    an.execute(
        &RawSql::vouched(
            "SELECT public.create_hypertable('sensor_data', 'time', distributed => false)",
        ),
        &[],
    )
    .await
    .unwrap();

    let cluster = spec(&local, 2);
    let plan = cluster.plan().await.unwrap();
    assert!(!plan.is_converged(), "{plan}");
    assert!(plan.steps.is_empty(), "{plan}");
    assert_eq!(plan.conflicts.len(), 1, "{plan}");
    assert_eq!(plan.conflicts[0].target, "\"sensor_data\"");
    assert!(
        plan.conflicts[0].reason.contains("not a distributed one"),
        "{plan}"
    );
    let err = cluster.apply().await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("not a distributed one"), "{err}");
    let ht = an.hypertable(&table()).await.unwrap().unwrap();
    assert!(!ht.is_distributed);
    local.shutdown().await.unwrap();
}

/// A data node registered under the spec's name at another port is drift, repaired with
/// `alter_data_node`; the address the access node uses can differ from the client's. An
/// approved plan is refused once the cluster changed.
#[tokio::test]
async fn a_data_node_at_another_address_is_altered_back() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(2).await.unwrap();
    let cluster = spec(&local, 2);
    cluster.apply().await.unwrap();
    let approved = cluster.plan().await.unwrap();
    assert!(approved.is_converged(), "{approved}");

    let an = access_node(&local).await;
    let real_port = local.data_nodes()[1].port();
    AlterDataNode::new("dn2")
        .port(real_port.wrapping_add(1000).max(1))
        .run(&an)
        .await
        .unwrap();
    // The cluster changed since `approved` was made.
    let err = cluster.apply_plan(&approved).await.unwrap_err();
    assert!(matches!(err, Error::StalePlan { .. }), "{err:?}");

    let plan = cluster.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::AlterDataNode], "{plan}");
    assert_eq!(plan.steps[0].target, "dn2");
    assert!(plan.steps[0].why.contains("port"), "{plan}");
    let report = cluster.apply_plan(&plan).await.unwrap();
    assert_eq!(report.applied.len(), 1);
    assert!(cluster.plan().await.unwrap().is_converged());
    let dn2 = an
        .data_nodes()
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.name == "dn2")
        .unwrap();
    assert_eq!(dn2.port, Some(real_port));
    assert!(cluster.status().await.is_healthy());

    // The access node's address of a data node, when it differs from the client's, is the
    // one compared and set.
    let routed = spec(&local, 2).access_node_route("dn1", "127.0.0.1", 1);
    let plan = routed.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::AlterDataNode], "{plan}");
    assert_eq!(plan.steps[0].target, "dn1");
    assert!(plan.steps[0].sql.contains("port => 1,"), "{plan}");
    local.shutdown().await.unwrap();
}

/// A data node added to the spec later is attached to the existing hypertables, and gets
/// the role; the replication factor follows the spec; an approved plan survives JSON; prune
/// mode deletes a data node the spec no longer has, and only in prune mode.
#[tokio::test]
async fn a_data_node_added_later_is_attached_and_pruned_only_when_asked() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(3).await.unwrap();
    spec(&local, 2).role(role()).apply().await.unwrap();
    let an = access_node(&local).await;
    assert_eq!(
        an.hypertable(&table()).await.unwrap().unwrap().data_nodes,
        ["dn1", "dn2"]
    );

    let three = spec(&local, 3).role(role());
    let plan = three.plan().await.unwrap();
    // dn3 gets the extension at the access node's version (a managed service's superuser
    // created it already).
    let an_version = ServerInfo::detect(&local.access_node_config())
        .await
        .unwrap()
        .timescaledb;
    let mut expected = vec![
        StepKind::AddDataNode,
        StepKind::ApplyRole,
        StepKind::AttachDataNode,
    ];
    if plan.steps[0].kind == StepKind::CreateExtension {
        assert_eq!(plan.steps[0].target, "dn3");
        assert_eq!(plan.steps[0].extension_version, an_version);
        expected.insert(0, StepKind::CreateExtension);
    }
    assert_eq!(kinds(&plan), expected, "{plan}");
    let attach = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::AttachDataNode)
        .unwrap();
    assert_eq!(attach.data_node.as_deref(), Some("dn3"));
    assert!(!plan.is_destructive());
    // Shown, approved, stored as JSON and read back: the same plan, applied as it is.
    let json = serde_json::to_string(&plan).unwrap();
    assert!(!json.contains("mn_user1 spec pw"));
    let approved: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(approved.steps, plan.steps);
    assert_eq!(approved.fingerprint, plan.fingerprint);
    three.apply_plan(&approved).await.unwrap();
    assert!(three.plan().await.unwrap().is_converged());
    assert_eq!(
        an.hypertable(&table()).await.unwrap().unwrap().data_nodes,
        ["dn1", "dn2", "dn3"]
    );

    // The replication factor.
    let replicated = Cluster::new(local.access_node_config())
        .data_node(local.data_nodes()[0].config())
        .data_node(local.data_nodes()[1].config())
        .data_node(local.data_nodes()[2].config())
        .hypertable(
            RawSql::vouched(TABLE),
            DistributedHypertable::new("sensor_data", "time")
                .partitioning_column("sensor_id")
                .replication_factor(2),
        );
    let plan = replicated.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::SetReplicationFactor], "{plan}");
    replicated.apply().await.unwrap();
    assert!(replicated.plan().await.unwrap().is_converged());
    assert_eq!(
        an.hypertable(&table())
            .await
            .unwrap()
            .unwrap()
            .replication_factor,
        Some(2)
    );

    // dn3 leaves the spec: nothing destructive unless asked.
    let two = spec(&local, 2);
    let plan = two.plan().await.unwrap();
    assert!(plan.is_converged(), "{plan}");
    let pruning = spec(&local, 2).prune(Prune::KeepData);
    let plan = pruning.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::DeleteDataNode], "{plan}");
    assert!(plan.steps[0].destructive && plan.is_destructive());
    assert!(plan.to_string().contains("DESTRUCTIVE"), "{plan}");
    assert!(!plan.steps[0].sql.contains("drop_database"), "{plan}");
    pruning.apply().await.unwrap();
    assert!(pruning.plan().await.unwrap().is_converged());
    let names: Vec<String> = an
        .data_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["dn1", "dn2"]);
    // Its database was kept (no second opt-in).
    let info = ServerInfo::detect(&local.data_nodes()[2].config())
        .await
        .unwrap();
    assert!(info.timescaledb.is_some());

    // Back into the spec, the kept database cannot be added again as it is: TimescaleDB
    // refuses a database that is a data node already (TS174), so the plan says why instead
    // of planning an add that fails.
    let plan = three.plan().await.unwrap();
    assert!(!kinds(&plan).contains(&StepKind::AddDataNode), "{plan}");
    assert_eq!(plan.conflicts.len(), 1, "{plan}");
    assert_eq!(plan.conflicts[0].node, "dn3");
    assert!(
        plan.conflicts[0]
            .reason
            .contains("its database \"tsdb\" is a data node of a distributed database already"),
        "{plan}"
    );
    let refused = three.apply().await.unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
    // As the reason says: a new database, and dn3 joins again.
    let dn3 = local.data_nodes()[2].config().database("postgres");
    let dn3 = dn3.connect().await.unwrap();
    for statement in ["DROP DATABASE tsdb WITH (FORCE)", "CREATE DATABASE tsdb"] {
        dn3.batch_execute(statement).await.unwrap();
    }
    three.apply().await.unwrap();
    assert!(three.plan().await.unwrap().is_converged());
    assert_eq!(
        an.hypertable(&table()).await.unwrap().unwrap().data_nodes,
        ["dn1", "dn2", "dn3"]
    );
    local.shutdown().await.unwrap();
}

/// Bad input is refused before anything is sent: a data node whose user is not the access
/// node's (add_data_node would log in as the access node's user and fail with 28P01), a
/// role named like the admin or a data node's login user.
#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(2).await.unwrap();
    let dn2 = local.data_nodes()[1].config();
    let other_user = NodeConfig::new("127.0.0.1", "someone_else", dn2.get_password().clone())
        .name("dn2")
        .port(dn2.get_port())
        .database(dn2.get_database());
    let cluster = Cluster::new(local.access_node_config())
        .data_node(local.data_nodes()[0].config())
        .data_node(other_user);
    let err = cluster.apply().await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn2"));
    assert!(
        err.to_string()
            .contains("add_data_node logs in to it as the access node's user"),
        "{err}"
    );

    let admin = local.access_node_config().get_user().to_owned();
    let err = spec(&local, 2)
        .role(DistributedRole::new(admin, SecretString::from("x")))
        .plan()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("admin user"), "{err}");
    let other = Cluster::new(local.access_node_config())
        .data_node(
            NodeConfig::new("127.0.0.1", "dn_login", SecretString::from("x"))
                .name("dn1")
                .port(local.data_nodes()[0].port()),
        )
        .role(DistributedRole::new("dn_login", SecretString::from("x")));
    let err = other.plan().await.unwrap_err();
    assert!(err.to_string().contains("logs in to data node"), "{err}");
    let unrouted = spec(&local, 2).access_node_route("dn9", "h", 5432);
    let err = unrouted.plan().await.unwrap_err();
    assert!(err.to_string().contains("dn9"), "{err}");

    // Nothing was sent: the extension is still missing everywhere.
    for node in local.nodes() {
        let info = ServerInfo::detect(&node.config()).await.unwrap();
        assert_eq!(info.timescaledb, None, "{}", node.name());
    }
    local.shutdown().await.unwrap();
}

/// A role that may no longer log in, a role whose password changed, a mapping to another
/// remote user (the admin's, and with a superuser admin the role's): all were reported
/// converged. The password is checked by logging in with the spec's, never read back.
async fn role_and_mapping_drift_is_repaired(admin: AdminModel) {
    let local = two_data_nodes(admin).await;
    let cluster = spec(&local, 2).role(role());
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());

    let an = local.access_node_config().connect().await.unwrap();
    an.batch_execute("ALTER ROLE mn_user1 PASSWORD 'changed behind the spec'")
        .await
        .unwrap();
    let dn2 = local.data_nodes()[1].config().connect().await.unwrap();
    dn2.batch_execute("ALTER ROLE mn_user1 NOLOGIN")
        .await
        .unwrap();
    an.batch_execute(
        "ALTER USER MAPPING FOR CURRENT_USER SERVER dn1 OPTIONS (SET user 'mn_user1')",
    )
    .await
    .unwrap();
    let superuser = admin == AdminModel::Superuser;
    if superuser {
        an.batch_execute("ALTER USER MAPPING FOR mn_user1 SERVER dn2 OPTIONS (SET user 'nobody')")
            .await
            .unwrap();
    }

    let plan = cluster.plan().await.unwrap();
    assert_eq!(
        kinds(&plan),
        [StepKind::UserMapping, StepKind::ApplyRole],
        "{plan}"
    );
    assert_eq!(plan.steps[0].target, "dn1");
    assert!(
        plan.steps[0].why.contains("logs in as \"mn_user1\""),
        "{plan}"
    );
    let why = &plan.steps[1].why;
    assert!(why.contains("may not log in on dn2"), "{plan}");
    assert_eq!(why.contains("logs in as \"nobody\""), superuser, "{plan}");
    assert!(!plan.to_string().contains("changed behind the spec"));
    cluster.apply().await.unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(plan.is_converged(), "{plan}");

    // Only the password drifted, on the access node and on one data node: found against
    // the stored verifier (a superuser) or by logging in with the spec's (the managed
    // service's admin).
    an.batch_execute("ALTER ROLE mn_user1 PASSWORD 'changed behind the spec'")
        .await
        .unwrap();
    dn2.batch_execute("ALTER ROLE mn_user1 PASSWORD 'changed on dn2 too'")
        .await
        .unwrap();
    let plan = cluster.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::ApplyRole], "{plan}");
    let why = &plan.steps[0].why;
    assert!(why.contains("password on an is not the spec's"), "{plan}");
    assert!(why.contains("password on dn2 is not the spec's"), "{plan}");
    assert!(!why.contains("on dn1 is not"), "{plan}");
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    assert!(cluster.status().await.is_healthy());
    local.shutdown().await.unwrap();
}

/// When several nodes fail, every node's error comes back, not only the first.
#[tokio::test]
async fn every_nodes_error_is_reported() {
    let Some(_) = tier2() else { return };
    let mut local = LocalCluster::start(2).await.unwrap();
    let cluster = spec(&local, 2);
    for dn in local.data_nodes_mut() {
        dn.stop().await.unwrap();
    }
    let err = cluster.apply().await.unwrap_err();
    let Error::Several { errors, .. } = &err else {
        panic!("{err:?}");
    };
    let nodes: Vec<Option<&str>> = errors.iter().map(Error::node).collect();
    assert_eq!(nodes, [Some("dn1"), Some("dn2")], "{err}");
    assert!(errors.iter().all(Error::is_unreachable), "{err:?}");
    assert!(err.to_string().contains("2 errors"), "{err}");
    local.shutdown().await.unwrap();
}

/// Grants on all tables of a schema, with default privileges so later tables follow, on the
/// access node and every data node, as the how-to gives its extra user; a grant on a table
/// of another schema; a grant revoked on one data node is noticed there.
async fn grants_on_all_tables_of_a_schema_on_every_node(admin: AdminModel) {
    let local = two_data_nodes(admin).await;
    spec(&local, 2).apply().await.unwrap();
    let an = local.access_node_config().connect().await.unwrap();
    an.batch_execute("CREATE SCHEMA reports; CREATE TABLE reports.daily(day date)")
        .await
        .unwrap();
    let cluster = spec(&local, 2).role(
        DistributedRole::new("mn_user1", SecretString::from("mn_user1 spec pw"))
            .grant_on_all_tables_in_schema([Privilege::Select], "public")
            .grant([Privilege::Select], "reports.daily"),
    );
    let plan = cluster.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::ApplyRole], "{plan}");
    assert!(
        plan.steps[0].sql.contains("ON ALL TABLES IN SCHEMA"),
        "{plan}"
    );
    assert!(
        plan.steps[0].sql.contains("ALTER DEFAULT PRIVILEGES"),
        "{plan}"
    );
    cluster.apply().await.unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(plan.is_converged(), "{plan}");

    // A table made later by the admin follows, on every node, without another apply.
    an.batch_execute(
        "CREATE TABLE later(time timestamptz NOT NULL, id int NOT NULL); \
         SELECT public.create_distributed_hypertable('later', 'time'); \
         INSERT INTO later VALUES ('2024-01-01', 1), ('2024-06-01', 2)",
    )
    .await
    .unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    let as_user = NodeConfig::new(
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
        .query_one("SELECT count(*) FROM later", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2);

    // Revoked behind the spec's back on one data node: noticed there, and granted again.
    let dn1 = local.data_nodes()[0].config().connect().await.unwrap();
    dn1.batch_execute(
        "SET timescaledb.enable_client_ddl_on_data_nodes = true; \
         REVOKE SELECT ON sensor_data FROM mn_user1",
    )
    .await
    .unwrap();
    let plan = cluster.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::ApplyRole], "{plan}");
    assert!(
        plan.steps[0]
            .why
            .contains("SELECT on 1 table(s) of schema public is not granted on dn1"),
        "{plan}"
    );
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    local.shutdown().await.unwrap();
}

/// Partitioning, as far as the server can change it: the chunk interval converges (for new
/// chunks); another time or space column, or number of partitions, is a conflict.
async fn partitioning_and_the_chunk_interval_converge_or_conflict(admin: AdminModel) {
    let local = two_data_nodes(admin).await;
    let day = ChunkInterval::Time(Duration::from_secs(86_400));
    let with = |hypertable: DistributedHypertable| {
        let mut cluster = Cluster::new(local.access_node_config());
        for dn in local.data_nodes() {
            cluster = cluster.data_node(dn.config());
        }
        cluster.hypertable(RawSql::vouched(TABLE), hypertable)
    };
    let stated = || {
        DistributedHypertable::new("sensor_data", "time")
            .partitioning_column("sensor_id")
            .number_partitions(2)
            .chunk_interval(day)
    };
    let cluster = with(stated());
    // The step shows every argument it passes, and applying that plan gives the table them.
    let plan = cluster.plan().await.unwrap();
    let distribute = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::DistributeTable)
        .unwrap();
    assert!(
        distribute.sql.contains(
            "partitioning_column => 'sensor_id', number_partitions => 2, \
             chunk_time_interval => INTERVAL '86400000000 microseconds', if_not_exists => true"
        ),
        "{plan}"
    );
    cluster.apply_plan(&plan).await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    let an = local.access_node_config().connect().await.unwrap();
    let (interval, partitions): (i64, i16) = an
        .query_one(
            "SELECT max(d.interval_length), max(d.num_slices) FROM _timescaledb_catalog.dimension d",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!((interval, partitions), (86_400_000_000, 2));

    // Changed behind the spec: the chunk interval converges (for new chunks).
    an.batch_execute("SELECT set_chunk_time_interval('sensor_data', INTERVAL '7 days')")
        .await
        .unwrap();
    let plan = cluster.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::SetChunkInterval], "{plan}");
    assert!(
        plan.steps[0]
            .why
            .contains("is 604800000000, the spec's 86400000000 (in the time column's units"),
        "{plan}"
    );
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    let interval: i64 = an
        .query_one(
            "SELECT d.interval_length FROM _timescaledb_catalog.dimension d \
              WHERE d.interval_length IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(interval, 86_400_000_000);

    // The number of partitions is a conflict the crate leaves to the operator:
    // TimescaleDB passes set_number_partitions on to the data nodes with untyped arguments.
    an.batch_execute("SELECT set_number_partitions('sensor_data', 3, 'sensor_id')")
        .await
        .unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(plan.steps.is_empty(), "{plan}");
    assert_eq!(plan.conflicts.len(), 1, "{plan}");
    assert!(plan.conflicts[0].reason.contains("3 partitions"), "{plan}");
    assert!(plan.conflicts[0].reason.contains("look-alike"), "{plan}");
    an.batch_execute("SELECT set_number_partitions('sensor_data', 2, 'sensor_id')")
        .await
        .unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());

    // What the spec does not state is left alone.
    let unstated = with(DistributedHypertable::new("sensor_data", "time"));
    assert!(unstated.plan().await.unwrap().is_converged());

    // What cannot change in place: another time column, another space column.
    for (hypertable, says) in [
        (
            DistributedHypertable::new("sensor_data", "temperature"),
            "the spec's time column is \"temperature\"; a hypertable's time column cannot \
             change: copy the rows out",
        ),
        (
            DistributedHypertable::new("sensor_data", "time").partitioning_column("temperature"),
            "the spec's on \"temperature\"; a space dimension's column cannot change: copy the \
             rows out",
        ),
    ] {
        let other = with(hypertable);
        let plan = other.plan().await.unwrap();
        assert!(!plan.is_converged(), "{plan}");
        assert_eq!(plan.conflicts.len(), 1, "{plan}");
        assert!(plan.conflicts[0].reason.contains(says), "{plan}");
        assert!(matches!(other.apply().await, Err(Error::Conflict { .. })));
    }
    local.shutdown().await.unwrap();
}

/// A privilege the spec does not grant is kept, unless prune mode revokes it (a destructive
/// step), on the access node and, for a distributed hypertable, on the data nodes.
async fn prune_revokes_what_the_spec_does_not_grant(admin: AdminModel) {
    let local = two_data_nodes(admin).await;
    let cluster = spec(&local, 2).role(role());
    cluster.apply().await.unwrap();
    let an = local.access_node_config().connect().await.unwrap();
    an.batch_execute("GRANT INSERT, DELETE ON sensor_data TO mn_user1")
        .await
        .unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());

    let pruning = cluster.clone().prune(Prune::KeepData);
    let plan = pruning.plan().await.unwrap();
    assert_eq!(kinds(&plan), [StepKind::RevokeGrants], "{plan}");
    let step = &plan.steps[0];
    assert!(step.destructive, "{plan}");
    assert_eq!(step.target, "mn_user1");
    assert_eq!(step.table.as_deref(), Some("\"sensor_data\""));
    assert!(step.why.contains("INSERT"), "{plan}");
    assert!(step.why.contains("DELETE"), "{plan}");
    assert!(plan.to_string().contains("DESTRUCTIVE"), "{plan}");
    pruning.apply_plan(&plan).await.unwrap();
    assert!(pruning.plan().await.unwrap().is_converged());

    let privileges = "SELECT has_table_privilege('mn_user1', 'sensor_data', 'SELECT'), \
                             has_table_privilege('mn_user1', 'sensor_data', 'INSERT'), \
                             has_table_privilege('mn_user1', 'sensor_data', 'DELETE')";
    let row = an.query_one(privileges, &[]).await.unwrap();
    assert_eq!((row.get(0), row.get(1), row.get(2)), (true, false, false));
    let dn1 = local.data_nodes()[0].config().connect().await.unwrap();
    let row = dn1.query_one(privileges, &[]).await.unwrap();
    assert_eq!((row.get(0), row.get(1), row.get(2)), (true, false, false));
    local.shutdown().await.unwrap();
}

/// A data node whose database does not exist yet (a new server, or one pruned with
/// `Prune::DropData`): a superuser admin's plan adds it with `bootstrap => true`, which
/// creates the database and the extension at the access node's version, and apply
/// converges; the managed-service admin (no superuser) gets a conflict that says what to
/// create. Either way the plan is clear and apply changes nothing it cannot finish.
async fn a_data_node_without_its_database(admin: AdminModel) {
    let local = two_data_nodes(admin).await;
    let cluster = Cluster::new(local.access_node_config())
        .data_node(local.data_nodes()[0].config())
        .data_node(local.data_nodes()[1].config().database("tsdb_new"))
        .hypertable(
            TABLE,
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        )
        .role(role());
    let plan = cluster.plan().await.unwrap();
    assert!(plan.unknown.is_empty(), "{plan}");
    if admin == AdminModel::ManagedService {
        assert_eq!(plan.conflicts.len(), 1, "{plan}");
        assert_eq!(plan.conflicts[0].node, "dn2");
        assert!(
            plan.conflicts[0].reason.contains(
                "its database \"tsdb_new\" does not exist, and \"tsdbadmin\" is not a \
                 superuser there"
            ),
            "{plan}"
        );
        let refused = cluster.apply().await.unwrap_err();
        assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
        local.shutdown().await.unwrap();
        return;
    }
    assert!(plan.conflicts.is_empty(), "{plan}");
    let add = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::AddDataNode && s.target == "dn2")
        .unwrap();
    assert!(add.bootstrap, "{plan}");
    assert!(
        add.sql
            .contains("database => 'tsdb_new', bootstrap => true"),
        "{plan}"
    );
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| s.kind == StepKind::CreateExtension && s.node == "dn2"),
        "{plan}"
    );
    cluster.apply_plan(&plan).await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status}");
    let an_version = ServerInfo::detect(&local.access_node_config())
        .await
        .unwrap()
        .timescaledb;
    let dn2 = ServerInfo::detect(&local.data_nodes()[1].config().database("tsdb_new"))
        .await
        .unwrap();
    assert_eq!(dn2.timescaledb, an_version);
    let an = access_node(&local).await;
    assert_eq!(
        an.hypertable(&table()).await.unwrap().unwrap().data_nodes,
        ["dn1", "dn2"]
    );
    // Its database dropped behind the cluster's back: nothing to add, nothing to create in
    // place; the plan says so.
    let maintenance = local.data_nodes()[1].config().database("postgres");
    maintenance
        .connect()
        .await
        .unwrap()
        .batch_execute("DROP DATABASE tsdb_new WITH (FORCE)")
        .await
        .unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(
        !plan.steps.iter().any(|s| s.kind == StepKind::AddDataNode),
        "{plan}"
    );
    assert!(
        plan.conflicts.iter().any(|c| c.node == "dn2"
            && c.reason.contains(
                "the access node has this data node, but its database \"tsdb_new\" does not exist"
            )),
        "{plan}"
    );
    local.shutdown().await.unwrap();
}

/// Applies of one cluster at once (two operators, two CI jobs) used to collide: each
/// planned the same steps, and one or both failed on the other's objects (`duplicate key
/// value violates unique constraint "pg_extension_name_index"`, `... "pg_foreign_server_name_index"`,
/// `user mapping ... already exists`). Now the second waits for the first's lock, plans
/// again and finds nothing to do; an apply waits for anyone holding the lock, and one that
/// is dropped releases it.
async fn applies_at_once_do_not_collide(admin: AdminModel) {
    let local = two_data_nodes(admin).await;
    // An apply dropped at its first step (a caller's timeout, say) gives up the session
    // that holds the lock, though its cluster lives on: the next applies do not wait.
    let dropped = spec(&local, 2).role(role());
    let (started, mut first_step) = tokio::sync::mpsc::unbounded_channel();
    tokio::select! {
        _ = dropped.apply_with_progress(move |_| { let _ = started.send(()); }) => {
            panic!("the apply finished before its first step was seen")
        }
        _ = first_step.recv() => {}
    }
    let steps = spec(&local, 2)
        .role(role())
        .plan()
        .await
        .unwrap()
        .steps
        .len();
    // Two clusters (two processes, say), and a clone of one (another task of the same).
    let (a, b) = (spec(&local, 2).role(role()), spec(&local, 2).role(role()));
    let c = a.clone();
    let (a, b, c) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(a.apply(), b.apply(), c.apply())
    })
    .await
    .expect("no apply waits for a dropped one's lock");
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let mut counts = [a.applied.len(), b.applied.len(), c.applied.len()];
    counts.sort_unstable();
    assert_eq!(counts, [0, 0, steps]);
    let cluster = spec(&local, 2).role(role());
    assert!(cluster.plan().await.unwrap().is_converged());

    // Someone holds the lock: an apply with steps waits for it.
    let (an, holder) =
        hold_the_apply_lock(local.access_node_config().application_name("ops script")).await;
    let with_more = cluster.role(DistributedRole::new(
        "mn_user2",
        SecretString::from("mn_user2 spec pw"),
    ));
    // With a short wait, it gives up naming who holds the lock, and changes nothing; while
    // it waits, it says who holds it (info level).
    let (captured, _guard) = crate::notices::capture();
    let impatient = with_more
        .clone()
        .apply_lock_wait(Duration::from_millis(400));
    let err = impatient.apply().await.unwrap_err();
    let traced = captured.text();
    assert!(
        traced.contains("waiting for the apply lock another apply holds")
            && traced.contains(&format!("holder=pid {holder} ")),
        "{traced}"
    );
    assert!(matches!(err, Error::ApplyLockHeld { .. }), "{err:?}");
    assert!(err.is_timeout(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("by pid {holder} (user \"tsdbadmin\", application \"ops script\", from 127.0.0.1, since ")),
        "{text}"
    );
    assert_eq!(impatient.plan().await.unwrap().steps.len(), 1);
    // No wait at all: it fails at once while the lock is held.
    let err = with_more
        .clone()
        .apply_lock_wait(Duration::ZERO)
        .apply()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ApplyLockHeld { .. }), "{err:?}");
    let applying = tokio::spawn(async move { with_more.apply().await });
    until_trying_for_the_apply_lock(&local).await;
    // It cannot finish while the lock is held here (nor fail: it waits).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!applying.is_finished());
    an.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK_KEY])
        .await
        .unwrap();
    let report = applying.await.unwrap().unwrap();
    assert_eq!(report.applied.len(), 1, "{report:?}");
    // No wait at all, with the lock free: it applies.
    let report = spec(&local, 2)
        .apply_lock_wait(Duration::ZERO)
        .apply()
        .await
        .unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    local.shutdown().await.unwrap();
}

as_both_admins!(
    applies_at_once_do_not_collide,
    a_data_node_without_its_database,
    prune_revokes_what_the_spec_does_not_grant,
    partitioning_and_the_chunk_interval_converge_or_conflict,
    a_role_added_after_its_table_is_planned,
    role_and_mapping_drift_is_repaired,
    grants_on_all_tables_of_a_schema_on_every_node,
);

/// A server that ends idle sessions after a second, and an apply step that waits three
/// (a data node's `CREATE EXTENSION` behind a lock held by hand): the session holding the
/// apply lock sits idle meanwhile, and is kept alive, so the lock holds the whole time and
/// the apply finishes. It used to be ended mid-step, releasing the lock, and the apply
/// stopped before its next step.
#[tokio::test]
async fn a_step_longer_than_the_idle_session_timeout_keeps_the_apply_lock() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::builder()
        .data_nodes(1)
        .setting("idle_session_timeout", "1s")
        .start()
        .await
        .unwrap();
    let dn1 = local.data_nodes()[0].config();
    let cluster = Cluster::new(local.access_node_config())
        .data_node(dn1.clone())
        .hypertable(
            TABLE,
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        );
    // An open transaction is not idle: the holder stays.
    let holder = dn1.connect().await.unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE pg_catalog.pg_extension IN SHARE MODE")
        .await
        .unwrap();
    let applying = tokio::spawn({
        let cluster = cluster.clone();
        async move { cluster.apply().await }
    });
    let watcher = local.access_node_config().connect().await.unwrap();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let held: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                   AND classid = ($1::int8 >> 32)::oid \
                   AND objid = ($1::int8 & 4294967295)::oid AND objsubid = 1",
                &[&APPLY_LOCK_KEY],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(held, 1, "the apply lock is held throughout");
        assert!(!applying.is_finished());
    }
    holder.batch_execute("COMMIT").await.unwrap();
    let report = applying.await.unwrap().unwrap();
    assert!(!report.applied.is_empty());
    assert!(cluster.plan().await.unwrap().is_converged());
    local.shutdown().await.unwrap();
}
