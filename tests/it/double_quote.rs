//! Tier 2: the double-quote guard. TimescaleDB 2.13 copies a distributed hypertable's
//! definition to the data nodes (in `create_distributed_hypertable` and again in
//! `attach_data_node`) and writes some of its names there unescaped; the crate refuses a `"`
//! in any of them, read from the access node's catalog, before anything reaches a data node.
//!
//! Each test checks the data nodes afterwards: no table, and not one line about it in their
//! server logs (`log_statement = all`). Each then makes the same call without the crate (a
//! control) and shows what the name would have done there: a column the access node's table
//! does not have.

use timescaledb_multinode::lifecycle::AttachDataNode;
use timescaledb_multinode::testing::{LocalCluster, LocalServer};
use timescaledb_multinode::tokio_postgres::Client;
use timescaledb_multinode::{AccessNode, DistributedHypertable, Error, Ident, RawSql, TableName};

/// A joined 1 + 2 cluster whose servers log every statement.
async fn logged_cluster() -> (LocalCluster, AccessNode) {
    crate::common::joined_cluster_from(
        LocalCluster::builder()
            .data_nodes(2)
            .setting("log_statement", "all"),
    )
    .await
}

fn table(name: &str) -> TableName {
    TableName::new(Ident::new(name).unwrap())
}

/// The columns of table `name` on the server behind `client`, in order (empty when there is
/// no such table).
async fn columns(client: &Client, name: &str) -> Vec<String> {
    client
        .query(
            "SELECT attname::text FROM pg_catalog.pg_attribute \
              WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped \
              ORDER BY attnum",
            &[&name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Asserts that data node `dn` has no table `name` and never saw a statement naming it.
async fn untouched(dn: &LocalServer, name: &str) {
    // The log first: the look-up below names the table too.
    let log = dn.log();
    assert!(log.contains("LOG:  statement:"), "statements are logged");
    assert!(
        !log.contains(name),
        "{} received a statement naming {name}:\n{log}",
        dn.name()
    );
    let client = dn.config().connect().await.unwrap();
    assert!(
        columns(&client, name).await.is_empty(),
        "{name} exists on {}",
        dn.name()
    );
}

fn invalid_input_reason(err: &Error) -> &str {
    match err {
        Error::InvalidInput { reason, .. } => reason,
        other => panic!("expected Error::InvalidInput, got {other:?}"),
    }
}

/// A collation whose name ends the column list of TimescaleDB's `CREATE TABLE` for the data
/// nodes and adds a column of its own (the rest of that statement becomes a comment).
const HOSTILE_COLLATION: &str = "C\", planted int) --";

#[tokio::test]
async fn a_collation_with_a_double_quote_is_refused_before_the_data_nodes_see_anything() {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = logged_cluster().await;
    let client = an.config().connect().await.unwrap();
    client
        .batch_execute(
            r#"CREATE COLLATION "x""y" FROM "C";
               CREATE COLLATION "C"", planted int) --" FROM "C";
               CREATE TABLE coll_t(time timestamptz NOT NULL, a text COLLATE "x""y",
                                   s text COLLATE "C"", planted int) --");
               CREATE TABLE coll_ctl(time timestamptz NOT NULL,
                                     s text COLLATE "C"", planted int) --");"#,
        )
        .await
        .unwrap();

    let err = DistributedHypertable::new("coll_t", "time")
        .run(&an)
        .await
        .unwrap_err();
    let reason = invalid_input_reason(&err);
    assert_eq!(err.node(), Some("an"));
    assert_eq!(err.operation(), "create distributed hypertable");
    assert!(
        reason.starts_with(&format!(
            "collation \"x\\\"y\" of column \"a\", collation {HOSTILE_COLLATION:?} of column \
             \"s\" each contain a double quote; TimescaleDB copies the table's names to the \
             data nodes"
        )),
        "{reason}"
    );
    assert!(an.hypertable(&table("coll_t")).await.unwrap().is_none());
    for dn in cluster.data_nodes() {
        untouched(dn, "coll_t").await;
    }

    // The control: the same call without the crate runs the collation's SQL on the data
    // nodes, whose table gets a column the access node's does not have.
    an.execute(
        &RawSql::vouched("SELECT create_distributed_hypertable('coll_ctl', 'time')"),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(columns(&client, "coll_ctl").await, ["time", "s"]);
    let dn1 = cluster.data_nodes()[0].config().connect().await.unwrap();
    assert_eq!(columns(&dn1, "coll_ctl").await, ["time", "s", "planted"]);
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_column_renamed_after_distribution_is_refused_before_attach() {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = logged_cluster().await;
    let client = an.config().connect().await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE ren_t(time timestamptz NOT NULL, v int); \
             CREATE TABLE ren_ctl(time timestamptz NOT NULL, v int);",
        )
        .await
        .unwrap();
    for name in ["ren_t", "ren_ctl"] {
        DistributedHypertable::new(name, "time")
            .data_nodes(["dn1"])
            .run(&an)
            .await
            .unwrap();
    }
    // TimescaleDB forwards the rename to dn1 as it was written, quoted; the access node's
    // catalog now holds a name it would copy unescaped to a node attached later.
    let hostile = "v\" int, planted int) --";
    for name in ["ren_t", "ren_ctl"] {
        client
            .batch_execute(&format!(
                "ALTER TABLE {name} RENAME COLUMN v TO \"v\"\" int, planted int) --\""
            ))
            .await
            .unwrap();
        assert_eq!(columns(&client, name).await, ["time", hostile]);
    }

    let err = AttachDataNode::new("dn2", table("ren_t"))
        .run(&an)
        .await
        .unwrap_err();
    let reason = invalid_input_reason(&err);
    assert_eq!(err.node(), Some("an"));
    assert_eq!(err.operation(), "attach data node");
    assert!(
        reason.starts_with(&format!(
            "column {hostile:?} contains a double quote; TimescaleDB copies the table's names \
             to data node \"dn2\""
        )),
        "{reason}"
    );
    let info = an.hypertable(&table("ren_t")).await.unwrap().unwrap();
    assert_eq!(info.data_nodes, ["dn1"]);
    untouched(&cluster.data_nodes()[1], "ren_t").await;

    // The control: attaching without the crate runs the column name's SQL on dn2.
    an.execute(
        &RawSql::vouched("SELECT attach_data_node('dn2', 'ren_ctl')"),
        &[],
    )
    .await
    .unwrap();
    let dn2 = cluster.data_nodes()[1].config().connect().await.unwrap();
    assert_eq!(columns(&dn2, "ren_ctl").await, ["time", "v", "planted"]);
    cluster.shutdown().await.unwrap();
}

/// Every other kind of name the guard reads from the catalog: a `"` in any of them is
/// refused, naming the object.
#[tokio::test]
async fn every_kind_of_copied_name_is_checked() {
    let Some(_) = crate::common::tier2() else {
        return;
    };
    let (cluster, an) = logged_cluster().await;
    let client = an.config().connect().await.unwrap();
    client
        .batch_execute(
            r#"CREATE SCHEMA "s""x";
               CREATE TABLE "s""x".k_schema(time timestamptz NOT NULL);
               CREATE ACCESS METHOD "heap""x" TYPE TABLE HANDLER heap_tableam_handler;
               CREATE TABLE k_am(time timestamptz NOT NULL) USING "heap""x";
               CREATE TYPE "ty""x" AS (a int);
               CREATE TABLE k_type(time timestamptz NOT NULL, v "ty""x"[]);
               CREATE TABLE k_type_schema(time timestamptz NOT NULL, v "s""x".k_schema);
               CREATE TABLE k_constraint(time timestamptz NOT NULL,
                                         v int CONSTRAINT "c""x" CHECK (v > 0));
               CREATE TABLE k_index(time timestamptz NOT NULL, v int);
               CREATE INDEX "i""x" ON k_index(v);
               CREATE COLLATION "ic""x" FROM "C";
               CREATE TABLE k_index_coll(time timestamptz NOT NULL, v text);
               CREATE INDEX k_index_coll_v ON k_index_coll(v COLLATE "ic""x");
               CREATE ACCESS METHOD "hash""x" TYPE INDEX HANDLER hashhandler;
               CREATE OPERATOR CLASS int4_hash_x FOR TYPE int4 USING "hash""x" AS
                   OPERATOR 1 =, FUNCTION 1 hashint4(int4);
               CREATE TABLE k_index_am(time timestamptz NOT NULL, v int);
               CREATE INDEX k_index_am_v ON k_index_am USING "hash""x" (v int4_hash_x);"#,
        )
        .await
        .unwrap();
    let cases = [
        ("k_schema", Some("s\"x"), "schema \"s\\\"x\""),
        ("k_am", None, "table access method \"heap\\\"x\""),
        ("k_type", None, "type \"ty\\\"x\" of column \"v\""),
        (
            "k_type_schema",
            None,
            "schema \"s\\\"x\" of the type of column \"v\"",
        ),
        ("k_constraint", None, "constraint \"c\\\"x\""),
        ("k_index", None, "index \"i\\\"x\""),
        (
            "k_index_coll",
            None,
            "collation \"ic\\\"x\" of index \"k_index_coll_v\"",
        ),
        (
            "k_index_am",
            None,
            "access method \"hash\\\"x\" of index \"k_index_am_v\"",
        ),
    ];
    for (name, schema, object) in cases {
        let table = match schema {
            Some(schema) => {
                TableName::qualified(Ident::new(schema).unwrap(), Ident::new(name).unwrap())
            }
            None => TableName::new(Ident::new(name).unwrap()),
        };
        let err = DistributedHypertable::new(table, "time")
            .run(&an)
            .await
            .unwrap_err();
        let reason = invalid_input_reason(&err);
        assert!(
            reason.starts_with(&format!("{object} contains a double quote")),
            "{name}: {reason}"
        );
        assert_eq!(err.node(), Some("an"));
    }
    for dn in cluster.data_nodes() {
        let log = dn.log();
        for (name, _, _) in cases {
            assert!(!log.contains(name), "{} saw {name}", dn.name());
        }
    }
    cluster.shutdown().await.unwrap();
}
