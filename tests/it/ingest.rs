//! Binary COPY ingest through the access node: plain tables (tier 1) and a distributed
//! hypertable (tier 2).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use timescaledb_multinode::tokio_postgres::types::ToSql;
use timescaledb_multinode::{AccessNode, DistributedHypertable, Error, Ident, RawSql, TableName};

use crate::common::{joined_cluster, plain_server, tier2};

fn table(name: &str) -> TableName {
    TableName::new(Ident::new(name).unwrap())
}

async fn count(an: &AccessNode, table: &str) -> i64 {
    an.query(
        &RawSql::vouched(format!("SELECT count(*) FROM {table}")),
        &[],
    )
    .await
    .unwrap()[0]
        .get(0)
}

#[tokio::test]
async fn copy_into_a_plain_table_with_progress() {
    let server = plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();
    an.execute(
        &RawSql::vouched("CREATE TABLE \"odd name\"(id int4, label text, v float8)"),
        &[],
    )
    .await
    .unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = seen.clone();
    let mut ingest = an
        .ingest(&table("odd name"), &["id", "v", "label"])
        .await
        .unwrap()
        .on_progress(1000, move |rows| seen2.store(rows, Ordering::SeqCst));
    for id in 0..5000i32 {
        let label = format!("row {id} with 'quotes' and \\ backslash");
        ingest
            .write(&[&id, &(f64::from(id) / 2.0), &label])
            .await
            .unwrap();
    }
    assert_eq!(ingest.rows(), 5000);
    assert_eq!(ingest.finish().await.unwrap(), 5000);
    assert_eq!(seen.load(Ordering::SeqCst), 5000);
    assert_eq!(count(&an, "\"odd name\"").await, 5000);
    assert_eq!(
        an.pool_state().idle_connections,
        an.pool_state().connections
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_rows_abort_the_copy_and_write_nothing() {
    let server = plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();
    an.execute(&RawSql::vouched("CREATE TABLE t(id int4, label text)"), &[])
        .await
        .unwrap();

    // A missing column: refused before the COPY starts, listing the real ones.
    let err = an.ingest(&table("t"), &["id", "nope"]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("\"label\""), "{err}");
    let err = an.ingest(&table("missing"), &["id"]).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");

    // A value of the wrong type: refused, and the rows before it are not written.
    let mut ingest = an.ingest(&table("t"), &["id", "label"]).await.unwrap();
    ingest.write(&[&1i32, &"one"]).await.unwrap();
    let err = ingest.write(&[&"two", &2i32]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("row 2"), "{err}");
    drop(ingest);
    // A row of the wrong length.
    let mut ingest = an.ingest(&table("t"), &["id", "label"]).await.unwrap();
    let err = ingest.write(&[&1i32]).await.unwrap_err();
    assert!(err.to_string().contains("1 values for 2 columns"), "{err}");
    drop(ingest);
    // Dropped before finish: nothing written either.
    let mut ingest = an.ingest(&table("t"), &["id", "label"]).await.unwrap();
    ingest.write(&[&3i32, &"three"]).await.unwrap();
    drop(ingest);
    assert_eq!(count(&an, "t").await, 0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn copy_into_a_distributed_hypertable() {
    let Some(_) = tier2() else { return };
    let (cluster, an) = joined_cluster(2).await;
    an.execute(
        &RawSql::vouched(
            "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int4 NOT NULL, \
             temperature float8)",
        ),
        &[],
    )
    .await
    .unwrap();
    DistributedHypertable::new("sensor_data", "time")
        .partitioning_column("sensor_id")
        .run(&an)
        .await
        .unwrap();
    let start = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_704_067_200);
    let mut ingest = an
        .ingest(&table("sensor_data"), &["time", "sensor_id", "temperature"])
        .await
        .unwrap();
    for i in 0..100_000i32 {
        let t = start + std::time::Duration::from_secs(30 * u64::from(i.unsigned_abs()));
        ingest
            .write(&[&t, &(i % 100), &f64::from(i % 40)])
            .await
            .unwrap();
    }
    assert_eq!(ingest.finish().await.unwrap(), 100_000);
    assert_eq!(count(&an, "sensor_data").await, 100_000);
    // The rows are on the data nodes, both of them.
    let sql = RawSql::vouched("SELECT count(*) FROM sensor_data");
    let mut total = 0;
    for entry in
        timescaledb_multinode::data::query_each(&cluster.data_node_configs(), &sql, &[]).await
    {
        let n: i64 = entry.result.unwrap()[0].get(0);
        assert!(n > 0, "{} holds no rows", entry.node);
        total += n;
    }
    assert_eq!(total, 100_000);
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn ingest_refuses_to_write_while_a_data_node_is_down() {
    let Some(_) = tier2() else { return };
    let (mut cluster, an) = joined_cluster(2).await;
    an.execute(
        &RawSql::vouched("CREATE TABLE m(time timestamptz NOT NULL, id int4 NOT NULL)"),
        &[],
    )
    .await
    .unwrap();
    DistributedHypertable::new("m", "time")
        .partitioning_column("id")
        .replication_factor(2)
        .run(&an)
        .await
        .unwrap();
    let now = std::time::SystemTime::now();
    let mut ingest = an.ingest(&table("m"), &["time", "id"]).await.unwrap();
    for id in 0..100i32 {
        ingest.write(&[&now, &id]).await.unwrap();
    }
    ingest.finish().await.unwrap();

    // dn2 goes down: writing to chunks replicated on it would crash the access node.
    cluster.data_nodes_mut()[1].stop().await.unwrap();
    let err = an.ingest(&table("m"), &["time", "id"]).await.unwrap_err();
    assert!(matches!(err, Error::DataNodeDown { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn2"));
    // The access node is still up.
    an.query(&RawSql::vouched("SELECT 1"), &[]).await.unwrap();

    // Back up: the pooled sessions' dead connections to dn2 are retried through, and
    // nothing was lost.
    cluster.data_nodes_mut()[1].start().await.unwrap();
    assert_eq!(count(&an, "m").await, 100);
    let mut ingest = an.ingest(&table("m"), &["time", "id"]).await.unwrap();
    ingest.write(&[&now, &100i32]).await.unwrap();
    ingest.finish().await.unwrap();
    assert_eq!(count(&an, "m").await, 101);
    cluster.shutdown().await.unwrap();
}

/// A batch whose COPY the server rolled back runs again, and its rows are written once.
#[tokio::test]
async fn a_batch_the_server_rolled_back_runs_again_and_is_written_once() {
    let Some(_) = tier2() else { return };
    let (cluster, an) = joined_cluster(2).await;
    an.execute(
        &RawSql::vouched("CREATE TABLE retry_me(time timestamptz NOT NULL, id int4 NOT NULL)"),
        &[],
    )
    .await
    .unwrap();
    DistributedHypertable::new("retry_me", "time")
        .partitioning_column("id")
        .run(&an)
        .await
        .unwrap();
    // Another session cancels the first attempt's COPY while it waits for its rows (the
    // lock below holds it at its start): the server rolls the statement back (57014).
    let holder = cluster.access_node_config().connect().await.unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE retry_me IN SHARE MODE")
        .await
        .unwrap();
    let canceller = {
        let an = an.clone();
        tokio::spawn(async move {
            loop {
                let cancelled = an
                    .query(
                        &RawSql::vouched(
                            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                              WHERE query LIKE 'COPY %retry_me%' AND wait_event_type = 'Lock'",
                        ),
                        &[],
                    )
                    .await
                    .unwrap();
                if !cancelled.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    let ingest = {
        let an = an.clone();
        tokio::spawn(async move {
            let now = std::time::SystemTime::now();
            let ids: Vec<i32> = (0..500).collect();
            let rows: Vec<[&(dyn ToSql + Sync); 2]> =
                ids.iter().map(|id| [&now as _, id as _]).collect();
            an.ingest_with_retry(&table("retry_me"), &["time", "id"], &rows)
                .await
        })
    };
    canceller.await.unwrap();
    holder.batch_execute("COMMIT").await.unwrap();
    let done = ingest.await.unwrap().unwrap();
    assert_eq!(done.attempts, 2, "{done:?}");
    assert_eq!(done.rows, 500);
    assert_eq!(count(&an, "retry_me").await, 500);
    cluster.shutdown().await.unwrap();
}

/// A batch the server refuses for good is not retried, and nothing is written.
#[tokio::test]
async fn a_batch_that_fails_for_good_is_not_retried() {
    let server = plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();
    an.execute(&RawSql::vouched("CREATE TABLE once(id int4 NOT NULL)"), &[])
        .await
        .unwrap();
    // A NULL in a NOT NULL column: refused every time.
    let rows: [[&(dyn ToSql + Sync); 1]; 2] = [[&1i32], [&None::<i32>]];
    let err = an
        .ingest_with_retry(&table("once"), &["id"], &rows)
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("23502"), "{err:?}");
    assert_eq!(count(&an, "once").await, 0);
    server.shutdown().await.unwrap();
}
