//! Tier 2: `Cluster::plan` refuses a node that cannot run multi-node (judged from what its
//! server runs or offers) before anything changes on any node, `apply` changes nothing when
//! refused, and `status` says why.

use timescaledb_multinode::cluster::AccessNodeLink;
use timescaledb_multinode::testing::LocalServer;
use timescaledb_multinode::{Cluster, DistributedHypertable, Error, RawSql};

use crate::common::{matrix, tier2};

const APACHE: &str = "timescaledb.license is 'apache'";

/// A 1 + 2 cluster spec over three servers, with a hypertable, so that a plan that went
/// ahead would have steps on every node.
fn spec(an: &LocalServer, data_nodes: &[&LocalServer]) -> Cluster {
    let mut cluster = Cluster::new(an.config());
    for dn in data_nodes {
        cluster = cluster.data_node(dn.config());
    }
    cluster.hypertable(
        RawSql::vouched("CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int)"),
        DistributedHypertable::new("sensor_data", "time"),
    )
}

/// A server whose `postgresql.conf` sets `timescaledb.license = 'apache'`.
async fn apache(name: &str) -> LocalServer {
    LocalServer::builder(name)
        .setting("timescaledb.license", "apache")
        .start()
        .await
        .unwrap()
}

async fn normal(name: &str) -> LocalServer {
    LocalServer::builder(name).start().await.unwrap()
}

async fn count(server: &LocalServer, sql: &str) -> i64 {
    let client = server.config().connect().await.unwrap();
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Nothing was created anywhere: no extension on any node, no data node (foreign server)
/// and no table on the access node.
async fn assert_untouched(an: &LocalServer, data_nodes: &[&LocalServer]) {
    for node in std::iter::once(an).chain(data_nodes.iter().copied()) {
        assert_eq!(
            count(
                node,
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            )
            .await,
            0,
            "extension created on {}",
            node.name()
        );
    }
    assert_eq!(
        count(an, "SELECT count(*) FROM pg_foreign_server").await,
        0,
        "the access node has data nodes"
    );
    assert_eq!(
        count(
            an,
            "SELECT count(*) FROM pg_class WHERE relname = 'sensor_data'"
        )
        .await,
        0
    );
}

fn assert_refused(err: &Error, op: &str, node: &str, says: &str) {
    assert!(matches!(err, Error::UnsupportedServer { .. }), "{err:?}");
    assert_eq!(err.operation(), op, "{err}");
    assert_eq!(err.node(), Some(node), "{err}");
    let text = err.to_string();
    assert!(text.contains(says), "{text}");
}

/// The line of `status`'s text that describes `node`.
fn line<'a>(text: &'a str, node: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("{node}: ")))
        .unwrap_or_else(|| panic!("no line for {node} in:\n{text}"))
}

#[tokio::test]
async fn apache_licence_on_one_data_node_refuses_before_anything_changes() {
    let Some(_) = tier2() else { return };
    let (an, dn1, dn2) = tokio::join!(normal("an"), apache("dn1"), normal("dn2"));
    let cluster = spec(&an, &[&dn1, &dn2]);

    let err = cluster.plan().await.unwrap_err();
    assert_refused(&err, "plan cluster", "dn1", APACHE);
    assert!(
        err.to_string()
            .contains("set timescaledb.license = 'timescale' in postgresql.conf"),
        "{err}"
    );
    let err = cluster.apply().await.unwrap_err();
    assert_refused(&err, "plan cluster", "dn1", APACHE);
    assert_untouched(&an, &[&dn1, &dn2]).await;

    let status = cluster.status().await;
    assert!(!status.is_healthy());
    let text = status.to_string();
    let dn1_line = line(&text, "dn1");
    assert!(
        dn1_line.contains(&format!("cannot run multi-node: {APACHE}")),
        "{text}"
    );
    // The links were not checked, and the text says why: the access node has no extension.
    assert!(
        dn1_line.contains(
            "from the access node: not checked: the access node cannot run \
             multi-node: extension timescaledb is not installed"
        ),
        "{text}"
    );
    assert!(
        !line(&text, "dn2").contains("; cannot run multi-node"),
        "{text}"
    );
    assert!(
        !line(&text, "an").contains("; cannot run multi-node"),
        "{text}"
    );
    for dn in &status.data_nodes {
        assert!(matches!(dn.link, AccessNodeLink::NotChecked(_)), "{dn:?}");
    }

    // Created by hand under the Apache licence, the extension is refused the same way.
    let client = dn1.config().connect().await.unwrap();
    client
        .batch_execute("CREATE EXTENSION timescaledb")
        .await
        .unwrap();
    let err = cluster.plan().await.unwrap_err();
    assert_refused(&err, "plan cluster", "dn1", APACHE);
    let status = cluster.status().await;
    let text = status.to_string();
    assert!(
        line(&text, "dn1").contains(&format!("cannot run multi-node: {APACHE}")),
        "{text}"
    );
    for server in [an, dn1, dn2] {
        server.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn apache_licence_on_the_access_node_refuses_before_anything_changes() {
    let Some(_) = tier2() else { return };
    let (an, dn1, dn2) = tokio::join!(apache("an"), normal("dn1"), normal("dn2"));
    let cluster = spec(&an, &[&dn1, &dn2]);

    let err = cluster.plan().await.unwrap_err();
    assert_refused(&err, "plan cluster", "an", APACHE);
    let err = cluster.apply().await.unwrap_err();
    assert_refused(&err, "plan cluster", "an", APACHE);
    assert_untouched(&an, &[&dn1, &dn2]).await;

    let status = cluster.status().await;
    assert!(!status.is_healthy());
    let text = status.to_string();
    assert!(
        line(&text, "an").contains(&format!("cannot run multi-node: {APACHE}")),
        "{text}"
    );
    for dn in ["dn1", "dn2"] {
        let dn_line = line(&text, dn);
        assert!(
            dn_line.contains(&format!(
                "from the access node: not checked: the access node cannot run multi-node: \
                 {APACHE}"
            )),
            "{text}"
        );
        assert!(!dn_line.contains("; cannot run multi-node"), "{text}");
    }
    for server in [an, dn1, dn2] {
        server.shutdown().await.unwrap();
    }
}

/// A server on TimescaleDB 2.14.2 (built from the source archives), its own loader
/// preloaded (the fixture preloads only multi-node releases by itself).
async fn on_2_14(name: &str) -> LocalServer {
    LocalServer::builder(name)
        .timescaledb_release("2.14.2")
        .setting("shared_preload_libraries", "timescaledb")
        .setting("timescaledb.telemetry_level", "off")
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn timescaledb_2_14_is_refused_before_anything_changes() {
    let Some(_) = matrix() else { return };
    let removed = "has no multi-node (removed in 2.14)";

    // A data node whose server would create 2.14: refused, nothing created anywhere.
    let (an, dn1, dn2) = tokio::join!(normal("an"), on_2_14("dn1"), normal("dn2"));
    let cluster = spec(&an, &[&dn1, &dn2]);
    let err = cluster.plan().await.unwrap_err();
    assert_refused(&err, "plan cluster", "dn1", removed);
    assert!(
        err.to_string()
            .contains("it is the version CREATE EXTENSION timescaledb installs"),
        "{err}"
    );
    let err = cluster.apply().await.unwrap_err();
    assert_refused(&err, "plan cluster", "dn1", removed);
    assert_untouched(&an, &[&dn1, &dn2]).await;
    let text = cluster.status().await.to_string();
    assert!(line(&text, "dn1").contains(removed), "{text}");

    // An access node whose server would create 2.14, then one that has it created.
    let cluster = spec(&dn1, &[&dn2]);
    let err = cluster.plan().await.unwrap_err();
    assert_refused(&err, "plan cluster", "dn1", removed);
    let err = cluster.apply().await.unwrap_err();
    assert_refused(&err, "plan cluster", "dn1", removed);
    assert_untouched(&dn1, &[&dn2]).await;
    let client = dn1.config().connect().await.unwrap();
    client
        .batch_execute("CREATE EXTENSION timescaledb")
        .await
        .unwrap();
    let version: String = client
        .query_one(
            "SELECT extversion::text FROM pg_extension WHERE extname = 'timescaledb'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(version.starts_with("2.14."), "{version}");
    let err = cluster.plan().await.unwrap_err();
    assert_refused(
        &err,
        "plan cluster",
        "dn1",
        &format!("TimescaleDB {version} has no multi-node (removed in 2.14); use 2.0–2.13"),
    );
    let status = cluster.status().await;
    let text = status.to_string();
    assert!(line(&text, "dn1").contains(removed), "{text}");
    assert!(
        line(&text, "dn2").contains("not checked: the access node cannot run multi-node"),
        "{text}"
    );
    // Nothing was planned past the refusal: dn2 is still untouched.
    assert_eq!(
        count(
            &dn2,
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        )
        .await,
        0
    );
    for server in [an, dn1, dn2] {
        server.shutdown().await.unwrap();
    }
}
