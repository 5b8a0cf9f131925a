//! Tier 2: cluster status that tells the failures apart, and password rotation that
//! repairs a password changed behind the crate's back.

use timescaledb_multinode::testing::{LocalCluster, LocalClusterBuilder};
use timescaledb_multinode::{
    AccessNode, AccessNodeLink, Cluster, MappingChange, RoleSpec, RotationStep, SecretString,
    UserMapping,
};

use crate::common::tier2;

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
    UserMapping::new(RoleSpec::CurrentUser, "dn2")
        .drop(&an)
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
    local.shutdown().await.unwrap();
}
