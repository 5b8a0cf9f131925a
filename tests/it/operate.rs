//! Tier 2: cluster status that tells the failures apart (each cause, an incompatible
//! version on the version matrix's installation), and password rotation that
//! repairs a password changed behind the crate's back.

use timescaledb_multinode::cluster::{AccessNodeLink, Cause, RotationStep, APPLY_LOCK_KEY};
use timescaledb_multinode::lifecycle::MappingChange;
use timescaledb_multinode::testing::{
    AdminModel, LocalCluster, LocalClusterBuilder, LocalServer, PgInstall,
};
use timescaledb_multinode::{
    AccessNode, Bootstrap, Cluster, DataNode, DistributedExec, DistributedRole, DropUserMapping,
    Error, NodeConfig, RawSql, RoleSpec, SecretString, UpdateExtension, Version,
};

use crate::common::{hold_the_apply_lock, matrix, tier2, until_trying_for_the_apply_lock};

async fn joined(builder: LocalClusterBuilder) -> (LocalCluster, Cluster, AccessNode) {
    let joined = builder.data_nodes(2).start_joined().await.unwrap();
    (joined.local, joined.cluster, joined.access_node)
}

#[tokio::test]
async fn status_tells_down_from_wrong_password_from_no_mapping() {
    let Some(_) = tier2() else { return };
    let (mut local, cluster, an) = joined(LocalCluster::builder()).await;

    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status:#?}");
    for dn in &status.data_nodes {
        assert!(matches!(dn.link, AccessNodeLink::Ok), "{dn:?}");
        assert_eq!(dn.available, Some(true));
        assert_eq!(dn.version_ok, Some(true));
        assert!(dn.prepared_transactions.as_ref().unwrap().is_empty());
    }

    // dn1: its password changed behind our back.
    let dn1_admin = local.data_nodes()[0].config().connect().await.unwrap();
    dn1_admin
        .batch_execute("ALTER ROLE tsdbadmin PASSWORD 'changed-behind-our-back'")
        .await
        .unwrap();
    // dn2: down.
    local.data_nodes_mut()[1].stop().await.unwrap();

    let status = cluster.status().await;
    assert!(!status.is_healthy());
    assert!(status.access_node.is_up());
    let dn1 = &status.data_nodes[0];
    assert!(
        dn1.direct
            .server
            .as_ref()
            .unwrap_err()
            .is_authentication_failure(),
        "{dn1:?}"
    );
    assert!(
        matches!(dn1.link, AccessNodeLink::WrongPassword(_)),
        "{dn1:?}"
    );
    let dn2 = &status.data_nodes[1];
    assert!(
        dn2.direct.server.as_ref().unwrap_err().is_unreachable(),
        "{dn2:?}"
    );
    assert!(matches!(dn2.link, AccessNodeLink::Down(_)), "{dn2:?}");

    // The repair: rotate to the password dn1 has now.
    let rotation = cluster
        .rotate_password("dn1", SecretString::from("changed-behind-our-back"))
        .await
        .unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    assert!(!rotation.role_changed, "the role had the password already");
    assert_eq!(rotation.mapping, Some(MappingChange::Updated));

    // No user mapping at all: told apart from a wrong password.
    local.data_nodes_mut()[1].start().await.unwrap();
    DropUserMapping::new(RoleSpec::CurrentUser, "dn2")
        .run(&an)
        .await
        .unwrap();
    let status = cluster.status().await;
    assert!(
        matches!(status.data_nodes[0].link, AccessNodeLink::Ok),
        "{status:#?}"
    );
    assert!(
        matches!(status.data_nodes[1].link, AccessNodeLink::NoUserMapping(_)),
        "{status:#?}"
    );
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn rotation_changes_both_sides_and_resumes_after_a_failure() {
    let Some(_) = tier2() else { return };
    rotation(LocalCluster::builder()).await;
}

/// A rotation that fails at a down node, then completes, on a 1 + 2 cluster started from
/// `builder` (also run on every release of the version matrix).
pub async fn rotation(builder: LocalClusterBuilder) {
    let (mut local, mut cluster, _an) = joined(builder).await;
    let old = local.data_nodes()[1].config();

    // A failure at the first step (the node is down) is reported, not returned.
    local.data_nodes_mut()[1].stop().await.unwrap();
    let rotation = cluster
        .rotate_password("dn2", SecretString::from("new dn2 password"))
        .await
        .unwrap();
    assert!(!rotation.is_complete());
    let (step, err) = rotation.failure.as_ref().unwrap();
    assert_eq!(*step, RotationStep::DataNodeRole);
    assert!(err.is_unreachable(), "{err:?}");

    // Run again once the node is back: done.
    local.data_nodes_mut()[1].start().await.unwrap();
    let rotation = cluster
        .rotate_password("dn2", SecretString::from("new dn2 password"))
        .await
        .unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    assert!(rotation.role_changed);
    // The old password no longer opens dn2; the new one does.
    assert!(old.connect().await.unwrap_err().is_authentication_failure());
    let new = old.clone().password(SecretString::from("new dn2 password"));
    new.connect().await.unwrap();
    cluster.set_data_node_config(new).unwrap();
    assert!(cluster.status().await.is_healthy());

    // Bad input.
    let err = cluster
        .rotate_password("dn9", SecretString::from("x"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("dn9") && err.to_string().contains("dn1"),
        "{err}"
    );
    let err = cluster
        .rotate_password("dn1", SecretString::from(""))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("non-empty"), "{err}");

    // An apply runs (here: its lock, held by hand): the rotation waits for it, so that
    // the apply cannot set the mapping back in between, then runs.
    let (an, _) = hold_the_apply_lock(local.access_node_config()).await;
    let same = local.data_nodes()[0].config().get_password().clone();
    let rotating = {
        let cluster = cluster.clone();
        tokio::spawn(async move { cluster.rotate_password("dn1", same).await })
    };
    until_trying_for_the_apply_lock(&local).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!rotating.is_finished());
    an.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK_KEY])
        .await
        .unwrap();
    let rotation = rotating.await.unwrap().unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    assert!(!rotation.role_changed, "{rotation:?}");
    local.shutdown().await.unwrap();
}

/// Runs `sql` on the access node as the admin.
async fn on_access_node(local: &LocalCluster, sql: &str) {
    local
        .access_node_config()
        .connect()
        .await
        .unwrap()
        .batch_execute(sql)
        .await
        .unwrap();
}

/// Rewrites `server`'s `pg_hba.conf` and reloads it; returns once a TCP login as the admin
/// gives `wanted` (an error, or not), polled with a generous bound.
async fn set_hba(server: &LocalServer, hba: &str, reject: bool) {
    std::fs::write(server.data_dir().join("pg_hba.conf"), hba).unwrap();
    server
        .superuser_client("tsdb")
        .await
        .unwrap()
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    for _ in 0..600 {
        if server.config().connect().await.is_err() == reject {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("pg_hba.conf reload not seen");
}

const HBA_OPEN: &str = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n\
                        host all all ::1/128 scram-sha-256\n";
const HBA_REJECT: &str = "local all all trust\nhost all all 127.0.0.1/32 reject\n\
                          host all all ::1/128 reject\n";

/// A `Cluster` kept between calls (a monitor's) notices a `pg_hba.conf` change that its
/// kept sessions outlive: after a data node reloads a configuration that rejects every
/// TCP login, status says so for the crate's login and the access node's, though both
/// kept connections still work; after the access node does, status says so for it.
/// Healthy again once the nodes accept logins.
async fn a_kept_cluster_notices_a_reloaded_pg_hba(model: AdminModel) {
    let (local, cluster, _an) = joined(LocalCluster::builder().admin(model)).await;
    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status}");

    set_hba(&local.data_nodes()[1], HBA_REJECT, true).await;
    let status = cluster.status().await;
    assert!(!status.is_healthy(), "{status}");
    let s2 = &status.data_nodes[1];
    assert_eq!(s2.direct.cause(), Some(Cause::RejectedByHba), "{status}");
    assert!(
        matches!(s2.link, AccessNodeLink::RejectedByHba(_)),
        "{status}"
    );
    assert!(status.data_nodes[0].is_healthy(), "{status}");

    set_hba(&local.data_nodes()[1], HBA_OPEN, false).await;
    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status}");
    // Nothing reloaded since: the next status proves nothing again, and stays healthy.
    assert!(cluster.status().await.is_healthy());

    // The access node itself: its kept session still works, a new login does not; the
    // links are then not checked (any probe of them would need that login).
    set_hba(local.access_node(), HBA_REJECT, true).await;
    let status = cluster.status().await;
    assert!(!status.is_healthy(), "{status}");
    assert_eq!(
        status.access_node.cause(),
        Some(Cause::RejectedByHba),
        "{status}"
    );
    for dn in &status.data_nodes {
        assert!(matches!(dn.link, AccessNodeLink::NotChecked(_)), "{status}");
    }
    set_hba(local.access_node(), HBA_OPEN, false).await;
    let status = cluster.status().await;
    assert!(status.is_healthy(), "{status}");
    local.shutdown().await.unwrap();
}

mod kept_cluster_and_pg_hba {
    use super::*;

    #[tokio::test]
    async fn superuser() {
        let Some(_) = tier2() else { return };
        a_kept_cluster_notices_a_reloaded_pg_hba(AdminModel::Superuser).await;
    }

    #[tokio::test]
    async fn managed_service() {
        let Some(_) = tier2() else { return };
        a_kept_cluster_notices_a_reloaded_pg_hba(AdminModel::ManagedService).await;
    }
}

/// Status names the cause of each failure, directly and from the access node: an unknown
/// database, a `pg_hba.conf` rejection, a host name that does not resolve, a role that may
/// not log in, a database without the extension, and `max_prepared_transactions = 0`.
async fn status_tells_every_cause_apart(model: AdminModel) {
    let (mut local, _cluster, _an) = joined(LocalCluster::builder().admin(model)).await;
    let dn1 = local.data_nodes()[0].config();
    let dn2 = local.data_nodes()[1].config();
    let an_config = local.access_node_config();
    let cluster_with = |dn1: NodeConfig, dn2: NodeConfig| {
        Cluster::new(an_config.clone())
            .data_node(dn1)
            .data_node(dn2)
    };

    // dn1: an unknown database, for the crate and for the access node. dn2: pg_hba.conf
    // rejects every TCP login.
    on_access_node(
        &local,
        "SELECT * FROM alter_data_node('dn1', database => 'nodb')",
    )
    .await;
    set_hba(&local.data_nodes()[1], HBA_REJECT, true).await;
    let status = cluster_with(dn1.clone().database("nodb"), dn2.clone())
        .status()
        .await;
    assert!(!status.is_healthy());
    let (s1, s2) = (&status.data_nodes[0], &status.data_nodes[1]);
    assert_eq!(s1.direct.cause(), Some(Cause::UnknownDatabase), "{status}");
    assert!(
        matches!(s1.link, AccessNodeLink::UnknownDatabase(_)),
        "{status}"
    );
    assert_eq!(s2.direct.cause(), Some(Cause::RejectedByHba), "{status}");
    assert!(
        matches!(s2.link, AccessNodeLink::RejectedByHba(_)),
        "{status}"
    );
    let text = status.to_string();
    assert!(text.contains("dn1: unknown database"), "{text}");
    assert!(text.contains("dn2: refused by pg_hba.conf"), "{text}");
    on_access_node(
        &local,
        "SELECT * FROM alter_data_node('dn1', database => 'tsdb')",
    )
    .await;
    set_hba(&local.data_nodes()[1], HBA_OPEN, false).await;

    // dn1: a host name that does not resolve (RFC 6761 reserves `.invalid`). dn2: a role
    // that may not log in.
    on_access_node(
        &local,
        "SELECT * FROM alter_data_node('dn1', host => 'nowhere.invalid')",
    )
    .await;
    local.data_nodes()[1]
        .superuser_client("tsdb")
        .await
        .unwrap()
        .batch_execute("CREATE ROLE cannot_login NOLOGIN PASSWORD 'cannot-login-pw'")
        .await
        .unwrap();
    let unresolved = NodeConfig::new(
        "nowhere.invalid",
        dn1.get_user(),
        dn1.get_password().clone(),
    )
    .name("dn1")
    .port(dn1.get_port())
    .database(dn1.get_database());
    let nologin = NodeConfig::new(
        dn2.get_host(),
        "cannot_login",
        SecretString::from("cannot-login-pw"),
    )
    .name("dn2")
    .port(dn2.get_port())
    .database(dn2.get_database());
    let status = cluster_with(unresolved, nologin).status().await;
    let (s1, s2) = (&status.data_nodes[0], &status.data_nodes[1]);
    assert_eq!(s1.direct.cause(), Some(Cause::Dns), "{status}");
    assert!(matches!(s1.link, AccessNodeLink::Dns(_)), "{status}");
    assert_eq!(s2.direct.cause(), Some(Cause::UnknownRole), "{status}");
    assert!(matches!(s2.link, AccessNodeLink::Ok), "{status}");
    on_access_node(
        &local,
        "SELECT * FROM alter_data_node('dn1', host => '127.0.0.1')",
    )
    .await;

    // dn1: a database without the extension. dn2: max_prepared_transactions = 0.
    local.data_nodes()[0]
        .superuser_client("tsdb")
        .await
        .unwrap()
        .batch_execute("CREATE DATABASE noext OWNER tsdbadmin")
        .await
        .unwrap();
    on_access_node(
        &local,
        "SELECT * FROM alter_data_node('dn1', database => 'noext')",
    )
    .await;
    local.data_nodes()[1]
        .superuser_client("tsdb")
        .await
        .unwrap()
        .batch_execute("ALTER SYSTEM SET max_prepared_transactions = 0")
        .await
        .unwrap();
    local.data_nodes_mut()[1].stop().await.unwrap();
    local.data_nodes_mut()[1].start().await.unwrap();
    let status = cluster_with(dn1.clone().database("noext"), dn2.clone())
        .status()
        .await;
    assert!(!status.is_healthy());
    let (s1, s2) = (&status.data_nodes[0], &status.data_nodes[1]);
    assert!(s1.direct.is_up() && s1.extension_missing(), "{status}");
    assert!(
        matches!(s1.link, AccessNodeLink::ExtensionMissing(_)),
        "{status}"
    );
    assert_eq!(s2.max_prepared_transactions, Some(0), "{status}");
    assert!(
        s2.two_phase_commit_disabled() && !s2.is_healthy(),
        "{status}"
    );
    assert!(matches!(s2.link, AccessNodeLink::Ok), "{status}");
    let text = status.to_string();
    assert!(text.contains("max_prepared_transactions = 0"), "{text}");
    assert!(text.contains("TimescaleDB extension missing"), "{text}");

    // dn1: TLS required by the crate and by the access node, and the server has none.
    #[cfg(feature = "rustls")]
    {
        on_access_node(
            &local,
            "SELECT * FROM alter_data_node('dn1', database => 'tsdb')",
        )
        .await;
        on_access_node(&local, "ALTER SERVER dn1 OPTIONS (ADD sslmode 'require')").await;
        let status = cluster_with(
            dn1.clone().tls(timescaledb_multinode::TlsMode::Require),
            dn2.clone(),
        )
        .status()
        .await;
        let s1 = &status.data_nodes[0];
        assert_eq!(s1.direct.cause(), Some(Cause::Tls), "{status}");
        assert!(matches!(s1.link, AccessNodeLink::Tls(_)), "{status}");
    }
    local.shutdown().await.unwrap();
}

/// Data nodes left at 2.11.2 under an access node updated to 2.13.1 (the wrong order): the
/// version is flagged by TimescaleDB's rule, and the access node's refusal (TS174) is
/// named as such.
#[tokio::test]
async fn an_older_minor_on_the_data_nodes_is_named_incompatible() {
    let Some(sources) = matrix() else { return };
    let install = tokio::task::spawn_blocking(move || {
        PgInstall::discover_binaries()?.with_timescaledb(sources, ["2.9.3", "2.11.2", "2.13.1"])
    })
    .await
    .unwrap()
    .unwrap();
    let local = LocalCluster::builder()
        .install(install)
        .data_nodes(2)
        .start()
        .await
        .unwrap();
    let an_config = local.access_node_config();
    let dn_configs = local.data_node_configs();
    let older: Version = "2.11.2".parse().unwrap();
    UpdateExtension::new()
        .to(older)
        .run_cluster(&an_config, &dn_configs)
        .await
        .unwrap();
    let an = AccessNode::connect(an_config.clone()).await.unwrap();
    for dn in &dn_configs {
        DataNode::from_config(dn)
            .bootstrap(Bootstrap::ExistingDatabase)
            .run(&an)
            .await
            .unwrap();
    }
    drop(an);
    let cluster = dn_configs
        .iter()
        .fold(Cluster::new(an_config.clone()), |c, dn| {
            c.data_node(dn.clone())
        });
    assert!(cluster.status().await.is_healthy());
    // The cluster's kept access-node sessions load the extension.
    cluster.plan().await.unwrap();

    UpdateExtension::new()
        .to("2.13.1".parse::<Version>().unwrap())
        .run(&an_config)
        .await
        .unwrap();
    // A kept session that loaded 2.11.2 fails after the update (42710); plan drops it and
    // reads again over a new one.
    match cluster.plan().await {
        Err(e) => assert!(
            e.code().is_none_or(|c| c.code() != "42710"),
            "a stale kept session: {e}"
        ),
        Ok(plan) => drop(plan),
    }
    let status = cluster.status().await;
    assert!(!status.is_healthy());
    for dn in &status.data_nodes {
        assert_eq!(dn.version_ok, Some(false), "{status}");
        assert!(
            matches!(dn.link, AccessNodeLink::ExtensionIncompatible(_)),
            "{status}"
        );
    }
    let text = status.to_string();
    assert!(text.contains("TimescaleDB version incompatible"), "{text}");
    local.shutdown().await.unwrap();
}

mod every_cause {
    use super::*;

    #[tokio::test]
    async fn superuser() {
        let Some(_) = tier2() else { return };
        status_tells_every_cause_apart(AdminModel::Superuser).await;
    }

    #[tokio::test]
    async fn managed_service() {
        let Some(_) = tier2() else { return };
        status_tells_every_cause_apart(AdminModel::ManagedService).await;
    }
}

/// A data node that takes no more connections: status names it so, for the crate's own
/// login and for the access node's (every slot in use for a superuser admin; every slot
/// not reserved for superusers for the managed-service admin), and is healthy again once
/// connections are freed.
async fn a_data_node_without_free_connection_slots_is_named_so(model: AdminModel) {
    let (local, _cluster, _an) = joined(
        LocalCluster::builder()
            .admin(model)
            .setting("max_connections", "12"),
    )
    .await;
    let dn1 = local.data_nodes()[0].config();
    let fresh = || {
        Cluster::new(local.access_node_config())
            .data_node(dn1.clone())
            .data_node(local.data_nodes()[1].config())
    };
    // Every slot the admin may use, taken.
    let mut held = Vec::new();
    let refused = loop {
        match dn1.connect().await {
            Ok(client) => held.push(client),
            Err(e) => break e,
        }
        assert!(held.len() < 20, "dn1 kept taking connections");
    };
    assert_eq!(
        refused.code().map(|c| c.code()),
        Some("53300"),
        "{refused:?}"
    );

    // A new Cluster: no session kept from before, on either side.
    let status = fresh().status().await;
    assert!(!status.is_healthy(), "{status}");
    let (s1, s2) = (&status.data_nodes[0], &status.data_nodes[1]);
    assert_eq!(
        s1.direct.cause(),
        Some(Cause::TooManyConnections),
        "{status}"
    );
    assert!(
        matches!(s1.link, AccessNodeLink::TooManyConnections(_)),
        "{status}"
    );
    assert_eq!(s1.link.cause(), Some(Cause::TooManyConnections), "{status}");
    assert!(s2.direct.cause().is_none(), "{status}");
    assert!(matches!(s2.link, AccessNodeLink::Ok), "{status}");
    let text = status.to_string();
    assert!(text.contains("too many connections"), "{text}");

    // Freed: healthy again (the server frees a slot when the backend has exited).
    drop(held);
    let mut status = fresh().status().await;
    for _ in 0..100 {
        if status.is_healthy() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        status = fresh().status().await;
    }
    assert!(status.is_healthy(), "{status}");
    local.shutdown().await.unwrap();
}

mod no_free_connection_slot {
    use super::*;

    #[tokio::test]
    async fn superuser() {
        let Some(_) = tier2() else { return };
        a_data_node_without_free_connection_slots_is_named_so(AdminModel::Superuser).await;
    }

    #[tokio::test]
    async fn managed_service() {
        let Some(_) = tier2() else { return };
        a_data_node_without_free_connection_slots_is_named_so(AdminModel::ManagedService).await;
    }
}

/// A data node that takes no writes (here `default_transaction_read_only` on for the
/// admin in its database; a standby says "in recovery") answers and links as usual, so only
/// its read-only state tells that every distributed write will fail there: status names
/// it, and is healthy again once it takes writes.
async fn a_read_only_data_node_is_named_so(model: AdminModel) {
    let (local, before, an) = joined(LocalCluster::builder().admin(model)).await;
    let dn1 = local.data_nodes()[0].config();
    let fresh = || {
        Cluster::new(local.access_node_config())
            .data_node(dn1.clone())
            .data_node(local.data_nodes()[1].config())
    };
    // A cluster with something to do, whose sessions start while dn1 takes writes.
    let with_a_role = fresh().role(DistributedRole::new(
        "read_only_probe",
        SecretString::from("read_only_probe pw"),
    ));
    let plan = with_a_role.plan().await.unwrap();
    assert!(
        !plan.steps.is_empty() && plan.conflicts.is_empty(),
        "{plan}"
    );
    assert!(before.status().await.is_healthy());
    let dn1_admin = dn1.connect().await.unwrap();
    let database = dn1.get_database().to_owned();
    dn1_admin
        .batch_execute(&format!(
            "ALTER ROLE CURRENT_USER IN DATABASE \"{database}\" \
               SET default_transaction_read_only = on"
        ))
        .await
        .unwrap();

    // Kept for after: its sessions start while dn1 is read-only.
    let kept = fresh();
    let status = kept.status().await;
    assert!(!status.is_healthy(), "{status}");
    let s1 = &status.data_nodes[0];
    assert!(s1.direct.is_read_only(), "{status}");
    assert!(
        s1.direct.server.as_ref().unwrap().default_read_only,
        "{status}"
    );
    assert!(!s1.direct.server.as_ref().unwrap().in_recovery, "{status}");
    assert!(matches!(s1.link, AccessNodeLink::Ok), "{status}");
    assert!(status.data_nodes[1].is_healthy(), "{status}");
    let text = status.to_string();
    assert!(
        text.contains("read-only: default_transaction_read_only is on"),
        "{text}"
    );
    // What the flag warns of: a write the access node sends there fails.
    let write = DistributedExec::new(RawSql::vouched("CREATE TABLE read_only_probe()"))
        .data_nodes(["dn1"])
        .run(&an)
        .await;
    assert!(write.is_err(), "{write:?}");
    // Clusters whose sessions started before the setting tell it as new sessions would.
    let status = before.status().await;
    assert!(status.data_nodes[0].direct.is_read_only(), "{status}");
    assert!(status.data_nodes[1].is_healthy(), "{status}");
    // A plan with steps names the node instead of failing there halfway, and apply
    // refuses it before changing anything.
    let plan = with_a_role.plan().await.unwrap();
    assert_eq!(plan.conflicts.len(), 1, "{plan}");
    assert_eq!(plan.conflicts[0].node, "dn1", "{plan}");
    assert!(
        plan.conflicts[0]
            .reason
            .contains("the node takes no writes (read-only: default_transaction_read_only is on"),
        "{plan}"
    );
    let refused = with_a_role.apply().await.unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
    let roles = an
        .query(
            &RawSql::vouched("SELECT 1 FROM pg_roles WHERE rolname = 'read_only_probe'"),
            &[],
        )
        .await
        .unwrap();
    assert!(roles.is_empty(), "nothing was applied");
    // Nothing to do, nothing to refuse.
    assert!(fresh().plan().await.unwrap().is_converged());

    dn1_admin
        .batch_execute(&format!(
            "ALTER ROLE CURRENT_USER IN DATABASE \"{database}\" \
               RESET default_transaction_read_only"
        ))
        .await
        .unwrap();
    let status = fresh().status().await;
    assert!(status.is_healthy(), "{status}");
    // A session keeps the setting it started with: the kept cluster reads again over new
    // ones, and finds the node taking writes.
    let status = kept.status().await;
    assert!(status.is_healthy(), "{status}");
    let plan = with_a_role.plan().await.unwrap();
    assert!(plan.conflicts.is_empty(), "{plan}");
    local.shutdown().await.unwrap();
}

mod read_only_data_node {
    use super::*;

    #[tokio::test]
    async fn superuser() {
        let Some(_) = tier2() else { return };
        a_read_only_data_node_is_named_so(AdminModel::Superuser).await;
    }

    #[tokio::test]
    async fn managed_service() {
        let Some(_) = tier2() else { return };
        a_read_only_data_node_is_named_so(AdminModel::ManagedService).await;
    }
}

/// Servers that end idle sessions (`idle_session_timeout`, as managed services set it) end
/// the sessions a `Cluster` keeps between calls, and the access node's connections to the
/// data nodes: status and plan read again over new sessions and find every node up, linked
/// and converged, whenever they are called.
#[tokio::test]
async fn servers_that_end_idle_sessions_are_not_reported_down() {
    let Some(_) = tier2() else { return };
    let (local, cluster, an) =
        joined(LocalCluster::builder().setting("idle_session_timeout", "1s")).await;
    for round in 0..10u64 {
        let status = cluster.status().await;
        assert!(status.is_healthy(), "round {round}: {status}");
        let plan = cluster.plan().await.unwrap();
        assert!(plan.is_converged(), "round {round}: {plan}");
        // Around the timeout: before, at and after it.
        tokio::time::sleep(std::time::Duration::from_millis(900 + 25 * round)).await;
    }
    drop(an);
    local.shutdown().await.unwrap();
}

/// Ends every other session of the cluster's database on `node` (as a server restart or a
/// DBA's `pg_terminate_backend` would), without waiting for them to go.
async fn end_sessions(node: &LocalServer) {
    node.config()
        .connect()
        .await
        .unwrap()
        .batch_execute(
            "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a \
              WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
                AND a.backend_type = 'client backend'",
        )
        .await
        .unwrap();
}

/// The sessions a `Cluster` keeps may end under it (a restart, a DBA, a pooler). Their end
/// says nothing of the nodes now: status and plan read again over new sessions and find
/// every node up, linked and converged, not down and unknown.
#[tokio::test]
async fn sessions_ended_under_the_cluster_are_not_the_nodes_state() {
    let Some(_) = tier2() else { return };
    let (local, cluster, an) = joined(LocalCluster::builder()).await;
    assert!(cluster.status().await.is_healthy());
    assert!(cluster.plan().await.unwrap().is_converged());
    for round in 0..3 {
        for node in local.nodes() {
            end_sessions(node).await;
        }
        if round % 2 == 0 {
            let status = cluster.status().await;
            assert!(status.is_healthy(), "round {round}: {status:#?}");
            let plan = cluster.plan().await.unwrap();
            assert!(plan.is_converged(), "round {round}: {plan}");
        } else {
            let plan = cluster.plan().await.unwrap();
            assert!(plan.is_converged(), "round {round}: {plan}");
            let status = cluster.status().await;
            assert!(status.is_healthy(), "round {round}: {status:#?}");
        }
    }
    drop(an);
    local.shutdown().await.unwrap();
}
