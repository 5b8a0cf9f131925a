//! Tier 2: a cluster whose servers speak German (`lc_messages = 'de_DE.UTF-8'`). The access
//! node relays a data node's failed login in the servers' words; the failures the crate
//! tells apart in English are told apart all the same, and the plan repairs them.
//!
//! Needs the operating system's `de_DE.UTF-8` locale (`localedef -i de_DE -f UTF-8
//! de_DE.UTF-8`; `.ci/run` generates it) and PostgreSQL's German translations (Debian's
//! PostgreSQL packages ship them). Without either the test says why and skips, or fails
//! under `TSMN_REQUIRE_TIMESCALEDB=1`.

use timescaledb_multinode::cluster::{AccessNodeLink, Cause, StepKind};
use timescaledb_multinode::lifecycle::DeleteDataNode;
use timescaledb_multinode::testing::{skip_or_fail, AdminModel, JoinedCluster, LocalCluster};
use timescaledb_multinode::{DropUserMapping, ErrorKind, RoleSpec, SecretString, UserMapping};

use crate::common::as_both_admins;

const LOCALE: &str = "de_DE.UTF-8";
const WHAT: &str = "translated server messages";

/// Whether the operating system has the locale (`locale -a` spells it `de_DE.utf8`).
fn locale_generated() -> bool {
    std::process::Command::new("locale")
        .arg("-a")
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.eq_ignore_ascii_case("de_DE.utf8") || l == LOCALE)
        })
        .unwrap_or(false)
}

/// A joined 1 + `data_nodes` cluster whose servers speak German, or `None` (after the skip
/// line) when this machine cannot make one.
async fn german_cluster(admin: AdminModel, data_nodes: usize) -> Option<JoinedCluster> {
    if !locale_generated() {
        return skip_or_fail(
            WHAT,
            format!("the locale {LOCALE} is not generated (localedef -i de_DE -f UTF-8 {LOCALE})"),
        );
    }
    let joined = LocalCluster::builder()
        .data_nodes(data_nodes)
        .admin(admin)
        .setting("lc_messages", LOCALE)
        .start_joined()
        .await
        .unwrap();
    // The servers speak German, or there is nothing to test.
    let refused = joined.local.data_nodes()[0]
        .config()
        .password(SecretString::from("not the password"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(refused.code().map(|c| c.code()), Some("28P01"), "{refused}");
    let words = refused.as_db_error().unwrap().message().to_owned();
    if words.contains("password authentication failed") {
        joined.shutdown().await.unwrap();
        return skip_or_fail(
            WHAT,
            format!("the server has no German translations (it said {words:?})"),
        );
    }
    Some(joined)
}

async fn a_wrong_mapping_password_is_named_in_german(admin: AdminModel) {
    let Some(joined) = german_cluster(admin, 2).await else {
        return;
    };
    let (mut local, cluster, an) = (joined.local, joined.cluster, joined.access_node);
    assert!(cluster.plan().await.unwrap().is_converged());
    assert!(cluster.status().await.is_healthy());

    // dn1: the access node's user mapping holds a wrong password.
    UserMapping::new(RoleSpec::CurrentUser, "dn1")
        .password(SecretString::from("a wrong password"))
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    // dn2: no user mapping at all.
    DropUserMapping::new(RoleSpec::CurrentUser, "dn2")
        .run(&an)
        .await
        .unwrap();

    let status = cluster.status().await;
    assert!(!status.is_healthy());
    let (dn1, dn2) = (&status.data_nodes[0], &status.data_nodes[1]);
    assert!(dn1.direct.is_up() && dn2.direct.is_up(), "{status:#?}");
    assert!(
        matches!(dn1.link, AccessNodeLink::WrongPassword(_)),
        "{status:#?}"
    );
    assert_eq!(dn1.link.cause(), Some(Cause::WrongPassword));
    // The relayed words are German; the error keeps them, once.
    let relayed = dn1.link.error().unwrap();
    let detail = relayed.as_db_error().unwrap().detail().unwrap_or_default();
    assert!(
        !detail.contains("password authentication failed"),
        "{detail}"
    );
    assert!(
        matches!(dn2.link, AccessNodeLink::NoUserMapping(_)),
        "{status:#?}"
    );
    assert!(status.to_string().contains("wrong password"), "{status}");

    // The plan repairs both mappings, and then all is well.
    let plan = cluster.plan().await.unwrap();
    let mappings: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::UserMapping)
        .map(|s| s.target.as_str())
        .collect();
    assert_eq!(mappings, ["dn1", "dn2"], "{plan}");
    assert!(plan.unknown.is_empty(), "{plan}");
    cluster.apply().await.unwrap();
    assert!(cluster.plan().await.unwrap().is_converged());
    assert!(cluster.status().await.is_healthy());

    // A data node that is down is down.
    local.data_nodes_mut()[0].stop().await.unwrap();
    let status = cluster.status().await;
    let dn1 = &status.data_nodes[0];
    assert!(matches!(dn1.link, AccessNodeLink::Down(_)), "{status:#?}");
    assert_eq!(
        dn1.direct.server.as_ref().unwrap_err().kind(),
        ErrorKind::Unreachable
    );

    drop(an);
    local.shutdown().await.unwrap();
}

/// The access node refuses to drop the foreign server while a user mapping holds it (2BP01,
/// in German here); the crate reads that by its SQLSTATE, drops the mapping and finishes.
async fn a_data_node_is_deleted_with_its_database_in_german(admin: AdminModel) {
    let Some(joined) = german_cluster(admin, 1).await else {
        return;
    };
    let deleted = DeleteDataNode::new("dn1")
        .drop_database()
        .run(&joined.access_node)
        .await
        .unwrap();
    assert!(deleted.deleted && deleted.database_dropped, "{deleted:?}");
    assert_eq!(deleted.user_mappings_dropped.len(), 1, "{deleted:?}");
    joined.shutdown().await.unwrap();
}

as_both_admins!(
    a_wrong_mapping_password_is_named_in_german,
    a_data_node_is_deleted_with_its_database_in_german,
);
