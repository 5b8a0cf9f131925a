//! Tier 2: leaving multi-node. A 1 + 2 cluster with three distributed hypertables (one
//! replicated twice, one with hostile names and integer time, one with many column types,
//! NULLs and space partitioning) migrated to a single-node TimescaleDB, to TimescaleDB
//! 2.14.2 and to plain PostgreSQL; and the faults: the target stopped, a data node
//! stopped, the migrating task dropped in the middle of a chunk; after each, the migration
//! resumes and every table's row count and checksum equal the source's.
//!
//! Faults are injected from the migration's own events (the event callback waits for the
//! test), never after a sleep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use timescaledb_multinode::migrate::{
    Creation, Migration, MigrationEvent, MigrationReport, TargetKind,
};
use timescaledb_multinode::testing::{AdminModel, LocalCluster, LocalServer};
use timescaledb_multinode::tokio_postgres::Client;
use timescaledb_multinode::{Cluster, Error, Ident, TableName};

use crate::common::{joined_cluster_from, matrix, plain_server, tier2};

const HOSTILE_SCHEMA: &str = "Schéma 'x' $$; --";
const HOSTILE_TABLE: &str = "Sensor Data 'ü' 🚀 MiXeD";

/// The three tables, as (schema, name).
fn tables() -> [(&'static str, &'static str); 3] {
    [
        ("public", "metrics_rf2"),
        (HOSTILE_SCHEMA, HOSTILE_TABLE),
        ("public", "Many Types"),
    ]
}

fn table_name((schema, name): (&str, &str)) -> TableName {
    TableName::qualified(Ident::new(schema).unwrap(), Ident::new(name).unwrap())
}

fn quoted((schema, name): (&str, &str)) -> String {
    format!(
        "\"{}\".\"{}\"",
        schema.replace('"', "\"\""),
        name.replace('"', "\"\"")
    )
}

/// The source: a joined 1 + 2 cluster with the three tables and their rows, and the
/// `Cluster` that knows every node.
async fn source() -> (LocalCluster, Cluster) {
    source_as(AdminModel::Superuser).await
}

/// [`source`] with `tsdbadmin` of the given kind on every node.
async fn source_as(admin: AdminModel) -> (LocalCluster, Cluster) {
    let (local, _an) =
        joined_cluster_from(LocalCluster::builder().data_nodes(2).admin(admin)).await;
    // Roles and the hostile schema on every node (grants on a distributed table reach the
    // data nodes; its schema must exist there).
    for node in local.nodes() {
        let client = node.config().connect().await.unwrap();
        client
            .batch_execute(&format!(
                "CREATE ROLE reader; CREATE ROLE \"only on the source\"; \
                 CREATE SCHEMA \"{}\"",
                HOSTILE_SCHEMA.replace('"', "\"\"")
            ))
            .await
            .unwrap();
    }
    let an = local.access_node_config().connect().await.unwrap();
    let hostile = quoted(tables()[1]);
    let setup = format!(
        "SET client_min_messages = error;
         CREATE TABLE metrics_rf2 (
             time timestamptz NOT NULL,
             device int4 NOT NULL,
             value float8 NOT NULL DEFAULT 0 CHECK (value >= 0),
             note text,
             PRIMARY KEY (time, device));
         CREATE INDEX metrics_by_device ON metrics_rf2 (device, time DESC);
         SELECT create_distributed_hypertable('metrics_rf2', 'time', 'device',
                chunk_time_interval => interval '1 day', replication_factor => 2);
         GRANT SELECT ON metrics_rf2 TO reader;
         GRANT SELECT, INSERT ON metrics_rf2 TO \"only on the source\";
         INSERT INTO metrics_rf2
         SELECT t, d, (d * 1.25 + extract(epoch FROM t) / 100000)::float8,
                CASE WHEN d = 2 THEN NULL ELSE 'n ' || d END
           FROM generate_series('2024-01-01'::timestamptz, '2024-01-03 23:50', '10 min') t,
                generate_series(1, 4) d;

         CREATE TABLE {hostile} (
             \"Time Stamp\" int8 NOT NULL,
             \"Wert 'in €'\" numeric(10,2),
             \"MiXeD Case; --\" text DEFAULT 'n/a' COLLATE \"C\",
             UNIQUE (\"Time Stamp\", \"MiXeD Case; --\"));
         CREATE INDEX \"Index 'ü'\" ON {hostile} (\"Wert 'in €'\");
         SELECT create_distributed_hypertable('{hostile_lit}', 'Time Stamp',
                chunk_time_interval => 250::int8);
         INSERT INTO {hostile}
         SELECT i, CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7.0 END,
                CASE WHEN i % 3 = 0 THEN NULL ELSE 'v ''' || i || ' €' END
           FROM generate_series(0, 1199) i;

         CREATE TABLE \"Many Types\" (
             ts timestamp NOT NULL, device int4 NOT NULL,
             i2 int2, i8 int8, n numeric, f4 float4, f8 float8, b bool, t text,
             vc varchar(20), c char(3), by bytea, d date, tm time, tz timestamptz,
             iv interval, u uuid, j json, jb jsonb, arr int4[], tarr text[],
             ip inet, cidr cidr, mac macaddr, pt point, rng int4range,
             big numeric(30,10));
         SELECT create_distributed_hypertable('\"Many Types\"', 'ts', 'device',
                number_partitions => 2, chunk_time_interval => interval '12 hours');
         INSERT INTO \"Many Types\" (ts, device, i2, i8, n, f4, f8, b, t, vc, c, by, d, tm,
                tz, iv, u, j, jb, arr, tarr, ip, cidr, mac, pt, rng, big)
         SELECT '2024-02-01'::timestamp + i * interval '3 minutes', i % 5,
                CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 30000)::int2 END,
                CASE WHEN i % 7 = 1 THEN NULL ELSE i::int8 * 1000003 END,
                CASE WHEN i % 7 = 2 THEN NULL ELSE i / 3.0 END,
                CASE WHEN i % 7 = 3 THEN NULL ELSE (i / 7.0)::float4 END,
                CASE WHEN i % 7 = 4 THEN NULL ELSE pi() * i END,
                CASE WHEN i % 7 = 5 THEN NULL ELSE i % 2 = 0 END,
                CASE WHEN i % 7 = 6 THEN NULL ELSE 'text ''' || i || E' \\\\ \"q\" é' END,
                CASE WHEN i % 11 = 0 THEN NULL ELSE 'vc' || i END,
                CASE WHEN i % 11 = 1 THEN NULL ELSE 'c' || (i % 10) END,
                CASE WHEN i % 11 = 2 THEN NULL ELSE decode(md5(i::text), 'hex') END,
                CASE WHEN i % 11 = 3 THEN NULL ELSE '2020-01-01'::date + i END,
                CASE WHEN i % 11 = 4 THEN NULL ELSE '00:00'::time + i * interval '1 second' END,
                CASE WHEN i % 11 = 5 THEN NULL ELSE '2024-01-01 12:00+05'::timestamptz + i * interval '1 hour' END,
                CASE WHEN i % 11 = 6 THEN NULL ELSE i * interval '1 minute 3 seconds' END,
                CASE WHEN i % 11 = 7 THEN NULL ELSE md5(i::text)::uuid END,
                CASE WHEN i % 11 = 8 THEN NULL ELSE json_build_object('i', i, 's', 'x y') END,
                CASE WHEN i % 11 = 9 THEN NULL ELSE jsonb_build_object('i', i, 'a', ARRAY[1, 2]) END,
                CASE WHEN i % 13 = 0 THEN NULL ELSE ARRAY[i, NULL, -i] END,
                CASE WHEN i % 13 = 1 THEN NULL ELSE ARRAY['a', NULL, 'b ''' || i] END,
                CASE WHEN i % 13 = 2 THEN NULL ELSE ('10.0.' || (i % 250) || '.1')::inet END,
                CASE WHEN i % 13 = 3 THEN NULL ELSE '192.168.0.0/16'::cidr END,
                CASE WHEN i % 13 = 4 THEN NULL ELSE '08:00:2b:01:02:03'::macaddr END,
                CASE WHEN i % 13 = 5 THEN NULL ELSE point(i, -i / 3.0) END,
                CASE WHEN i % 13 = 6 THEN NULL ELSE int4range(i, i + 10) END,
                CASE WHEN i % 13 = 7 THEN NULL ELSE 12345678901234567890.0123456789 + i END
           FROM generate_series(1, 1500) i;",
        hostile_lit = hostile.replace('\'', "''"),
    );
    // One statement at a time: TimescaleDB refuses DDL on a distributed hypertable in a
    // string of several commands.
    for statement in setup.split(";\n") {
        an.batch_execute(statement).await.unwrap();
    }
    let mut cluster = Cluster::new(local.access_node_config());
    for config in local.data_node_configs() {
        cluster = cluster.data_node(config);
    }
    (local, cluster)
}

/// A session whose text forms match on both sides.
async fn stable(client: &Client) {
    client
        .batch_execute(
            "SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; \
             SET extra_float_digits = 1; SET bytea_output = 'hex'",
        )
        .await
        .unwrap();
}

/// Row count and checksum of every table, computed by the test itself (all columns, in
/// the table's order).
async fn fingerprints(client: &Client) -> Vec<(i64, String)> {
    stable(client).await;
    let mut out = Vec::new();
    for table in tables() {
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text \
                       FROM {} t",
                    quoted(table)
                ),
                &[],
            )
            .await
            .unwrap();
        out.push((row.get(0), row.get(1)));
    }
    out
}

async fn assert_same_rows(local: &LocalCluster, target: &LocalServer) {
    let an = local.access_node_config().connect().await.unwrap();
    let expected = fingerprints(&an).await;
    assert_eq!(expected[0].0, 432 * 4);
    assert_eq!(expected[1].0, 1200);
    assert_eq!(expected[2].0, 1500);
    let target = target.config().connect().await.unwrap();
    assert_eq!(fingerprints(&target).await, expected);
}

fn migration(cluster: &Cluster, target: &LocalServer) -> Migration {
    let mut m = cluster.migration(target.config()).concurrency(3);
    for table in tables() {
        m = m.hypertable(table_name(table));
    }
    m
}

fn assert_complete(report: &MigrationReport) {
    assert_eq!(report.rows(), 432 * 4 + 1200 + 1500, "{report:#?}");
    for table in &report.tables {
        let chunk_rows: u64 = table.chunks.iter().map(|c| c.rows).sum();
        assert_eq!(chunk_rows, table.rows, "{table:#?}");
        let verified: usize = table.ranges.iter().map(|r| r.chunks.len()).sum();
        assert_eq!(verified, table.chunks.len(), "{table:#?}");
    }
}

/// What the target has besides rows: constraints, defaults, indexes, grants.
async fn assert_schema(target: &LocalServer) {
    let client = target.config().connect().await.unwrap();
    let count = |sql: String| {
        let client = &client;
        async move { client.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    // metrics_rf2: primary key, check, index, default, grant to the role that exists.
    assert_eq!(
        count(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'metrics_rf2'::regclass \
             AND contype IN ('p', 'c')"
                .into()
        )
        .await,
        2
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_indexes WHERE indexname = 'metrics_by_device'".into()).await,
        1
    );
    let err = client
        .batch_execute("INSERT INTO metrics_rf2 (time, device, value) VALUES ('2030-01-01', 1, -1)")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "23514", "{err}");
    let err = client
        .batch_execute("INSERT INTO metrics_rf2 (time, device) VALUES ('2024-01-01', 1)")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "23505", "{err}");
    let granted: bool = client
        .query_one(
            "SELECT has_table_privilege('reader', 'metrics_rf2', 'SELECT')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(granted);
    // The hostile table: its unique constraint, index and collated default.
    let hostile = quoted(tables()[1]);
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = '{}'::regclass \
             AND contype = 'u'",
            hostile.replace('\'', "''")
        ))
        .await,
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_indexes WHERE indexname = 'Index ''ü'''".into()).await,
        1
    );
    client
        .batch_execute(&format!(
            "BEGIN; INSERT INTO {hostile} (\"Time Stamp\") VALUES (999999); \
             DO $body$ BEGIN IF (SELECT \"MiXeD Case; --\" FROM {hostile} \
                              WHERE \"Time Stamp\" = 999999) <> 'n/a' \
                        THEN RAISE 'default lost'; END IF; END $body$; ROLLBACK"
        ))
        .await
        .unwrap();
}

async fn hypertables_on(target: &LocalServer) -> Vec<(String, String)> {
    let client = target.config().connect().await.unwrap();
    client
        .query(
            "SELECT d.hypertable_name::text, d.column_name::text \
               FROM timescaledb_information.dimensions d ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn timescaledb_target(name: &str) -> LocalServer {
    timescaledb_target_as(name, AdminModel::Superuser).await
}

/// A single-node TimescaleDB target whose `tsdbadmin` is of the given kind (the managed
/// service's admin finds the extension created by a superuser).
pub(crate) async fn timescaledb_target_as(name: &str, admin: AdminModel) -> LocalServer {
    let server = LocalServer::builder(name)
        .admin(admin)
        .start()
        .await
        .unwrap();
    let client = server.config().connect().await.unwrap();
    client
        .batch_execute(
            "SET client_min_messages = error; CREATE EXTENSION IF NOT EXISTS timescaledb; \
             CREATE ROLE reader",
        )
        .await
        .unwrap();
    server
}

#[tokio::test]
async fn to_single_node_timescaledb_with_plan_and_report() {
    let Some(version) = tier2() else { return };
    let (local, cluster) = source().await;
    let target = timescaledb_target("target").await;

    let m = migration(&cluster, &target);
    let plan = m.plan().await.unwrap();
    assert_eq!(plan.target_kind, TargetKind::TimescaleDb(version));
    assert!(plan.blockers().is_empty(), "{plan}");
    let [rf2, hostile, types] = &plan.tables[..] else {
        panic!("{plan:#?}")
    };
    assert_eq!(
        rf2.creation,
        Creation::Hypertable {
            time_column: "time".into(),
            chunk_interval: "1 day".into()
        }
    );
    assert!(rf2.chunks.iter().all(|c| c.data_nodes.len() == 2));
    assert!(rf2.chunks.iter().all(|c| c.bytes.is_some_and(|b| b > 0)));
    assert_eq!(
        hostile.creation,
        Creation::Hypertable {
            time_column: "Time Stamp".into(),
            chunk_interval: "250".into()
        }
    );
    assert_eq!(hostile.chunks.len(), 5);
    assert!(
        rf2.not_carried
            .iter()
            .any(|n| n.contains("\"only on the source\"")),
        "{plan}"
    );
    assert!(types
        .not_carried
        .iter()
        .any(|n| n.contains("space partitioning")));
    let shown = plan.to_string();
    assert!(shown.contains(HOSTILE_TABLE), "{shown}");
    // A plan writes nothing.
    let client = target.config().connect().await.unwrap();
    let state: bool = client
        .query_one("SELECT to_regnamespace('_tsmn_migration') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!state);

    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let report = m
        .clone()
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .run()
        .await
        .unwrap();
    assert_complete(&report);
    assert_eq!(report.chunks_resumed(), 0);
    assert!(report.tables.iter().all(|t| t.created));
    let events = events.lock().unwrap().clone();
    let copied = events
        .iter()
        .filter(|e| matches!(e, MigrationEvent::ChunkCopied { .. }))
        .count();
    assert_eq!(copied, report.chunks_copied());
    assert!(matches!(
        events.iter().rev().find(|e| matches!(e, MigrationEvent::ChunkCopied { .. })),
        Some(MigrationEvent::ChunkCopied { chunks_done, chunks_total, .. }) if chunks_done == chunks_total
    ));
    // Replicated chunks were each read once, and from both nodes.
    let rf2_nodes: std::collections::BTreeSet<&str> = report.tables[0]
        .chunks
        .iter()
        .map(|c| c.source_node.as_str())
        .collect();
    assert_eq!(rf2_nodes.len(), 2, "{report:#?}");
    // Space partitions of one range are verified together.
    assert!(report.tables[2].ranges.iter().any(|r| r.chunks.len() == 2));

    assert_same_rows(&local, &target).await;
    assert_schema(&target).await;
    let mut hypertables = hypertables_on(&target).await;
    hypertables.sort();
    assert_eq!(
        hypertables,
        [
            ("Many Types".to_owned(), "ts".to_owned()),
            (HOSTILE_TABLE.to_owned(), "Time Stamp".to_owned()),
            ("metrics_rf2".to_owned(), "time".to_owned()),
        ]
    );

    // Again: nothing to copy, everything verified again.
    let again = m.run().await.unwrap();
    assert_eq!(again.chunks_copied(), 0);
    assert_eq!(again.chunks_resumed(), report.chunks_copied());
    assert_complete(&again);

    // A row changed behind the migration's back: the chunk is named.
    client
        .batch_execute(
            "UPDATE metrics_rf2 SET value = value + 1 WHERE device = 3 AND time = '2024-01-02'",
        )
        .await
        .unwrap();
    let err = m.run().await.unwrap_err();
    let Error::VerificationFailed { mismatch, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(mismatch.table, "\"public\".\"metrics_rf2\"");
    assert_eq!(mismatch.source_rows, mismatch.target_rows);
    assert_ne!(mismatch.source_checksum, mismatch.target_checksum);
    let chunks = &mismatch.chunks;
    assert_eq!(chunks.len(), 2, "{err}");
    assert!(
        chunks.iter().all(|c| c.starts_with("_dist_hyper_")),
        "{err}"
    );
    assert!(err.to_string().contains(&chunks[0]), "{err}");
    assert_eq!(err.node(), Some("target"));

    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

/// The managed service's admin (not a superuser) on every node and on the target.
#[tokio::test]
async fn as_the_managed_service_admin() {
    let Some(_) = tier2() else { return };
    let (local, cluster) = source_as(AdminModel::ManagedService).await;
    let target = timescaledb_target_as("target", AdminModel::ManagedService).await;
    let m = migration(&cluster, &target);
    let plan = m.plan().await.unwrap();
    assert!(plan.blockers().is_empty(), "{plan}");
    let report = m.run().await.unwrap();
    assert_complete(&report);
    assert_same_rows(&local, &target).await;
    assert_schema(&target).await;
    assert_eq!(hypertables_on(&target).await.len(), 3);
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn to_plain_postgresql() {
    let Some(_) = tier2() else { return };
    let (local, cluster) = source().await;
    let target = plain_server("target").await;
    target
        .config()
        .connect()
        .await
        .unwrap()
        .batch_execute("CREATE ROLE reader")
        .await
        .unwrap();
    let m = migration(&cluster, &target);
    let plan = m.plan().await.unwrap();
    assert_eq!(plan.target_kind, TargetKind::PostgreSql);
    assert!(plan
        .tables
        .iter()
        .all(|t| t.creation == Creation::PlainTable));
    let report = m.run().await.unwrap();
    assert_complete(&report);
    assert_same_rows(&local, &target).await;
    assert_schema(&target).await;
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn to_timescaledb_2_14() {
    let Some(_) = tier2() else { return };
    let Some(_) = matrix() else { return };
    let (local, cluster) = source().await;
    let target = LocalServer::builder("target")
        .timescaledb_release("2.14.2")
        .setting("shared_preload_libraries", "timescaledb")
        .setting("timescaledb.telemetry_level", "off")
        .start()
        .await
        .unwrap();
    target
        .config()
        .connect()
        .await
        .unwrap()
        .batch_execute(
            "SET client_min_messages = error; CREATE EXTENSION timescaledb; CREATE ROLE reader",
        )
        .await
        .unwrap();
    let m = migration(&cluster, &target);
    let plan = m.plan().await.unwrap();
    assert_eq!(
        plan.target_kind,
        TargetKind::TimescaleDb("2.14.2".parse().unwrap())
    );
    let report = m.run().await.unwrap();
    assert_complete(&report);
    assert_same_rows(&local, &target).await;
    assert_schema(&target).await;
    assert_eq!(hypertables_on(&target).await.len(), 3);
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

/// An event callback that, the first time `pause_on` matches, tells the test and waits for
/// it: the test injects its fault while the migration stands still.
struct Pause {
    events: tokio::sync::mpsc::UnboundedReceiver<MigrationEvent>,
    go: mpsc::Sender<()>,
}

fn pausing(
    m: Migration,
    pause_on: impl Fn(&MigrationEvent) -> bool + Send + Sync + 'static,
) -> (Migration, Pause) {
    let (tx, events) = tokio::sync::mpsc::unbounded_channel();
    let (go, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let paused = AtomicBool::new(false);
    let m = m.on_event(move |e| {
        let _ = tx.send(e.clone());
        if pause_on(e) && !paused.swap(true, Ordering::SeqCst) {
            // The migrating task stands still here: its worker thread's other tasks (the
            // connections' drivers among them) move to other threads meanwhile.
            tokio::task::block_in_place(|| {
                let _ = wait.lock().unwrap().recv();
            });
        }
    });
    (m, Pause { events, go })
}

impl Pause {
    /// Waits until the migration pauses; returns the event it paused on.
    async fn paused(&mut self, pause_on: impl Fn(&MigrationEvent) -> bool) -> MigrationEvent {
        loop {
            let e = self.events.recv().await.expect("the migration ended first");
            if pause_on(&e) {
                return e;
            }
        }
    }

    fn resume(&self) {
        self.go.send(()).unwrap();
    }
}

fn chunk_copied(e: &MigrationEvent) -> bool {
    matches!(e, MigrationEvent::ChunkCopied { .. })
}

fn chunk_started(e: &MigrationEvent) -> bool {
    matches!(e, MigrationEvent::ChunkStarted { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn target_stopped_mid_migration_then_resumed() {
    let Some(_) = tier2() else { return };
    let (local, cluster) = source().await;
    let mut target = timescaledb_target("target").await;

    let (m, mut pause) = pausing(migration(&cluster, &target), chunk_copied);
    let run = tokio::spawn(async move { m.run().await });
    pause.paused(chunk_copied).await;
    target.stop().await.unwrap();
    pause.resume();
    let err = run.await.unwrap().unwrap_err();
    assert_eq!(err.node(), Some("target"), "{err:?}");

    target.start().await.unwrap();
    let report = migration(&cluster, &target).run().await.unwrap();
    assert!(report.chunks_resumed() >= 1, "{report:#?}");
    assert!(report.chunks_copied() >= 1, "{report:#?}");
    assert_complete(&report);
    assert_same_rows(&local, &target).await;
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_node_stopped_mid_migration() {
    let Some(_) = tier2() else { return };
    let (mut local, cluster) = source().await;
    let target = timescaledb_target("target").await;

    // The replicated table alone: chunks are read from dn1 once dn2 is gone.
    let rf2 = cluster
        .migration(target.config())
        .concurrency(1)
        .hypertable(table_name(tables()[0]));
    let (m, mut pause) = pausing(rf2, chunk_copied);
    let run = tokio::spawn(async move { m.run().await });
    pause.paused(chunk_copied).await;
    local.data_nodes_mut()[1].stop().await.unwrap();
    pause.resume();
    let mut unavailable = Vec::new();
    let report = run.await.unwrap().unwrap();
    while let Ok(e) = pause.events.try_recv() {
        if let MigrationEvent::ReplicaUnavailable { node, .. } = e {
            unavailable.push(node);
        }
    }
    assert!(unavailable.iter().all(|n| n == "dn2"), "{unavailable:?}");
    assert!(!unavailable.is_empty());
    assert!(report.tables[0].chunks[1..]
        .iter()
        .any(|c| c.source_node == "dn1"));
    assert_eq!(report.rows(), 432 * 4);

    // All three: the chunks only dn2 holds cannot be read; after its restart, resumed.
    let err = migration(&cluster, &target).run().await.unwrap_err();
    assert_eq!(err.node(), Some("dn2"), "{err:?}");
    local.data_nodes_mut()[1].start().await.unwrap();
    let report = migration(&cluster, &target).run().await.unwrap();
    assert!(report.chunks_resumed() >= 1);
    assert_complete(&report);
    assert_same_rows(&local, &target).await;
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_dropped_mid_chunk_then_resumed() {
    let Some(_) = tier2() else { return };
    let (local, cluster) = source().await;
    let target = plain_server("target").await;

    let (m, mut pause) = pausing(migration(&cluster, &target), chunk_started);
    let run = tokio::spawn(async move { m.run().await });
    let MigrationEvent::ChunkStarted { table, .. } = pause.paused(chunk_started).await else {
        unreachable!()
    };
    // The chunk's first rows are on the target, uncommitted: abort the task there.
    run.abort();
    pause.resume();
    assert!(run.await.unwrap_err().is_cancelled());

    // What the target shows is exactly what it recorded.
    let client = target.config().connect().await.unwrap();
    let recorded: i64 = client
        .query_one(
            "SELECT coalesce(sum(rows), 0)::int8 FROM _tsmn_migration.chunks \
              WHERE '\"' || replace(table_schema, '\"', '\"\"') || '\".\"' \
                    || replace(table_name, '\"', '\"\"') || '\"' = $1",
            &[&table],
        )
        .await
        .unwrap()
        .get(0);
    let present: i64 = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(present, recorded);

    let report = migration(&cluster, &target).run().await.unwrap();
    assert_complete(&report);
    assert_same_rows(&local, &target).await;
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

/// What forbids a migration is in the plan, and a run refuses it before writing anything:
/// a column of a type that is not built in, a table of the same name already on the target.
#[tokio::test]
async fn blockers_stop_the_run_before_anything_is_written() {
    let Some(_) = tier2() else { return };
    let (local, _an) = joined_cluster_from(LocalCluster::builder().data_nodes(2)).await;
    for node in local.nodes() {
        node.config()
            .connect()
            .await
            .unwrap()
            .batch_execute("CREATE TYPE mood AS ENUM ('ok', 'meh')")
            .await
            .unwrap();
    }
    let an = local.access_node_config().connect().await.unwrap();
    for statement in [
        "SET client_min_messages = error",
        "CREATE TABLE moods (time timestamptz NOT NULL, m mood)",
        "SELECT create_distributed_hypertable('moods', 'time')",
        "INSERT INTO moods VALUES ('2024-01-01', 'ok')",
        "CREATE TABLE taken (time timestamptz NOT NULL, v int4)",
        "SELECT create_distributed_hypertable('taken', 'time')",
        "CREATE TABLE not_distributed (time timestamptz NOT NULL)",
    ] {
        an.batch_execute(statement).await.unwrap();
    }
    let mut cluster = Cluster::new(local.access_node_config());
    for config in local.data_node_configs() {
        cluster = cluster.data_node(config);
    }
    let target = plain_server("target").await;
    let target_client = target.config().connect().await.unwrap();
    target_client
        .batch_execute("CREATE TABLE taken (x int)")
        .await
        .unwrap();
    let table = |name: &str| TableName::new(Ident::new(name).unwrap());

    let m = cluster
        .migration(target.config())
        .hypertable(table("moods"))
        .hypertable(table("taken"));
    let plan = m.plan().await.unwrap();
    let blockers = plan.blockers();
    assert_eq!(blockers.len(), 2, "{plan}");
    assert!(
        blockers[0].contains("\"m\"") && blockers[0].contains("mood"),
        "{blockers:?}"
    );
    assert!(blockers[1].contains("already has a table"), "{blockers:?}");
    let err = m.run().await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("not built in"), "{err}");
    let nothing: bool = target_client
        .query_one(
            "SELECT to_regnamespace('_tsmn_migration') IS NULL AND to_regclass('moods') IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(nothing);

    // Not distributed, missing, chosen twice, none at all: refused clearly.
    for (m, expected) in [
        (
            cluster
                .migration(target.config())
                .hypertable(table("not_distributed")),
            "is not a distributed hypertable",
        ),
        (
            cluster
                .migration(target.config())
                .hypertable(table("missing")),
            "does not exist",
        ),
        (
            cluster
                .migration(target.config())
                .hypertable(table("taken"))
                .hypertable(table("taken")),
            "chosen twice",
        ),
        (cluster.migration(target.config()), "no hypertable chosen"),
    ] {
        let err = m.plan().await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    // A data node as the target is refused.
    let err = cluster
        .migration(local.data_node_configs()[0].clone())
        .hypertable(table("taken"))
        .plan()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("single node"), "{err}");
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

/// The cut-over pass: rows written to the source after a first run (into ranges already
/// copied, into new chunks, and an update) make `run` fail its verification, naming the
/// range; `catch_up` copies those ranges again and the new chunks, and then every table's
/// row count and checksum equal the source's; a second `catch_up` copies nothing. Then
/// changed rows again and a `catch_up` dropped in the middle of a range: the target keeps
/// the range as it was (one transaction), and the next `catch_up` finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catch_up_copies_rows_written_after_the_first_run() {
    let Some(_) = tier2() else { return };
    let (local, cluster) = source().await;
    let target = timescaledb_target("target").await;
    let m = migration(&cluster, &target);
    let first = m.run().await.unwrap();
    assert_complete(&first);
    assert_eq!(
        first.tables[0].newest.as_deref(),
        Some("2024-01-03 23:50:00+00"),
        "{first:#?}"
    );
    assert_eq!(
        first.tables[1].newest.as_deref(),
        Some("1199"),
        "{first:#?}"
    );

    let an = local.access_node_config().connect().await.unwrap();
    let hostile = quoted(tables()[1]);
    for statement in [
        // Into a range already copied, into a new chunk, and a changed row.
        "INSERT INTO metrics_rf2 VALUES ('2024-01-02 05:05', 1, 1.5, 'late'), \
                                        ('2024-01-10 00:00', 2, 2.5, 'new')"
            .to_owned(),
        "UPDATE metrics_rf2 SET note = 'changed' \
          WHERE device = 3 AND time = '2024-01-01 00:00'"
            .to_owned(),
        format!(
            "INSERT INTO {hostile} SELECT i, i / 7.0, 'late ''' || i FROM generate_series(1200, 1299) i"
        ),
    ] {
        an.batch_execute(&statement).await.unwrap();
    }
    let expected = fingerprints(&an).await;
    assert_eq!(expected[0].0, 432 * 4 + 2);
    assert_eq!(expected[1].0, 1300);

    match m.run().await {
        Err(Error::VerificationFailed { mismatch, .. }) => {
            assert!(
                [quoted(tables()[0]), quoted(tables()[1])].contains(&mismatch.table),
                "{mismatch:?}"
            );
        }
        other => panic!("expected a verification failure, got {other:?}"),
    }

    let report = m.catch_up().await.unwrap();
    assert_eq!(report.rows(), 432 * 4 + 2 + 1300 + 1500, "{report:#?}");
    assert!(report.chunks_copied() > 0, "{report:#?}");
    assert_eq!(
        report.tables[0].newest.as_deref(),
        Some("2024-01-10 00:00:00+00"),
        "{report:#?}"
    );
    assert_eq!(
        report.tables[1].newest.as_deref(),
        Some("1299"),
        "{report:#?}"
    );
    for table in &report.tables {
        let chunk_rows: u64 = table.chunks.iter().map(|c| c.rows).sum();
        assert_eq!(chunk_rows, table.rows, "{table:#?}");
    }
    let on_target = target.config().connect().await.unwrap();
    assert_eq!(fingerprints(&on_target).await, expected);

    // Nothing changed since: nothing is copied again.
    let again = m.catch_up().await.unwrap();
    assert_eq!(again.chunks_copied(), 0, "{again:#?}");
    assert_eq!(fingerprints(&on_target).await, expected);

    // Changed rows in ranges already copied; the pass dropped while it copies a range.
    for statement in [
        "UPDATE metrics_rf2 SET value = 99 WHERE time = '2024-01-03 00:00'",
        "UPDATE \"Many Types\" SET t = 'changed' WHERE device = 1",
    ] {
        an.batch_execute(statement).await.unwrap();
    }
    let changed = fingerprints(&an).await;
    let (paused, mut pause) = pausing(migration(&cluster, &target), chunk_started);
    let pass = tokio::spawn(async move { paused.catch_up().await });
    pause.paused(chunk_started).await;
    pass.abort();
    pause.resume();
    assert!(pass.await.unwrap_err().is_cancelled());
    assert_eq!(fingerprints(&on_target).await, expected);
    let report = m.catch_up().await.unwrap();
    assert!(report.chunks_copied() >= 2, "{report:#?}");
    assert_eq!(fingerprints(&on_target).await, changed);
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}
