//! Tables named as text (`metrics`, `public.metrics`, `"My Schema"."t"`) wherever a call
//! takes a table, on a real cluster; text that is not a table name refused before anything
//! is sent.

use std::time::Duration;
use timescaledb_multinode::testing::LocalCluster;

use timescaledb_multinode::lifecycle::{
    AllowNewChunks, AttachDataNode, BlockNewChunks, ChunkInterval, SetChunkInterval,
    SetReplicationFactor,
};
use timescaledb_multinode::{
    DistributedExec, DistributedHypertable, DistributedRole, Error, Privilege, SecretString,
    TableName,
};

use crate::common::{joined_cluster_from, tier2};

const TABLE: &str = r#""My Schema"."Sensor.Data""#;

#[tokio::test]
async fn tables_named_as_text_in_every_call_that_takes_one() {
    let Some(_) = tier2() else { return };
    let (cluster, an) = joined_cluster_from(LocalCluster::builder().data_nodes(2)).await;
    an.execute(r#"CREATE SCHEMA "My Schema""#, &[])
        .await
        .unwrap();
    DistributedExec::new(r#"CREATE SCHEMA "My Schema""#)
        .run(&an)
        .await
        .unwrap();
    an.execute(
        r#"CREATE TABLE "My Schema"."Sensor.Data"(time timestamptz NOT NULL, v int)"#,
        &[],
    )
    .await
    .unwrap();
    let table: TableName = TABLE.parse().unwrap();
    assert_eq!(table.to_string(), TABLE);
    DistributedHypertable::new(TABLE, "time")
        .run(&an)
        .await
        .unwrap();

    let info = an.hypertable(TABLE).await.unwrap().expect("a hypertable");
    assert_eq!(
        (info.schema.as_str(), info.name.as_str()),
        ("My Schema", "Sensor.Data")
    );
    assert!(info.is_distributed);
    assert_eq!(an.hypertable(&table).await.unwrap(), Some(info));
    assert_eq!(an.hypertable("no_such_table").await.unwrap(), None);

    let mut ingest = an.ingest(TABLE.to_owned(), &["time", "v"]).await.unwrap();
    let at: std::time::SystemTime = std::time::UNIX_EPOCH;
    ingest.write(&[&at, &1i32]).await.unwrap();
    assert_eq!(ingest.finish().await.unwrap(), 1);
    assert_eq!(an.chunks(TABLE).await.unwrap().len(), 1);
    SetReplicationFactor::new(TABLE, 2).run(&an).await.unwrap();
    let placement = an.chunks(&table).await.unwrap();
    assert_eq!(placement[0].data_nodes.len(), 1, "{placement:?}");

    assert_eq!(
        BlockNewChunks::new("dn2")
            .hypertable(TABLE)
            .force()
            .run(&an)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        AllowNewChunks::new("dn2")
            .hypertable(TABLE)
            .run(&an)
            .await
            .unwrap(),
        1
    );
    let attached = AttachDataNode::new("dn2", TABLE)
        .idempotent()
        .run(&an)
        .await
        .unwrap();
    assert_eq!(attached.node_name, "dn2");

    let day = ChunkInterval::Time(Duration::from_secs(86_400));
    SetChunkInterval::new(TABLE, day).run(&an).await.unwrap();
    let row = an
        .query(
            "SELECT EXTRACT(epoch FROM time_interval)::int8 AS secs \
               FROM timescaledb_information.dimensions \
              WHERE hypertable_schema = 'My Schema' AND hypertable_name = 'Sensor.Data'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row[0].get::<_, i64>("secs"), 86_400);

    // A grant on the table named as text, and on the same table as a `TableName`.
    DistributedRole::new("reader", SecretString::from("reader pw"))
        .grant([Privilege::Select], TABLE)
        .grant([Privilege::Insert], &table)
        .run(&an)
        .await
        .unwrap();
    let row = an
        .query(
            "SELECT has_table_privilege('reader', $1::text, 'SELECT') AS s, \
                    has_table_privilege('reader', $1::text, 'INSERT') AS i",
            &[&TABLE],
        )
        .await
        .unwrap();
    assert!(row[0].get::<_, bool>("s") && row[0].get::<_, bool>("i"));

    // Text that is not a table name: refused naming the call and the node, nothing sent.
    for bad in ["a.b.c", "\"open", "", "s.\"t\"x"] {
        let err = an.chunks(bad).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{bad:?}: {err:?}"
        );
        assert_eq!(err.node(), Some("an"), "{bad:?}");
        assert!(err.to_string().contains("list chunks"), "{err}");
        let err = AttachDataNode::new("dn2", bad).run(&an).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{bad:?}: {err:?}"
        );
        assert!(err.to_string().contains("table name"), "{err}");
        for (op, err) in [
            (
                "create distributed hypertable",
                DistributedHypertable::new(bad, "time").run(&an).await.err(),
            ),
            (
                "set chunk interval",
                SetChunkInterval::new(bad, day).run(&an).await.err(),
            ),
            (
                "set replication factor",
                SetReplicationFactor::new(bad, 1).run(&an).await.err(),
            ),
            (
                "apply distributed role",
                DistributedRole::new("reader", SecretString::from("reader pw"))
                    .grant([Privilege::Select], bad)
                    .run(&an)
                    .await
                    .err(),
            ),
        ] {
            let err = err.expect("refused");
            assert!(
                matches!(err, Error::InvalidInput { .. }),
                "{op}, {bad:?}: {err:?}"
            );
            assert_eq!(err.operation(), op, "{bad:?}");
            assert_eq!(err.node(), Some("an"), "{op}, {bad:?}");
            assert!(err.to_string().contains("table name"), "{err}");
        }
    }
    cluster.shutdown().await.unwrap();
}
