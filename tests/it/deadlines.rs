//! Deadlines on pooled operations: the server's statement and lock timeouts on every pooled
//! session, and the crate's own deadline when the server stops answering (tier 1).

use std::time::Duration;

use timescaledb_multinode::pool::{PoolConfig, CANCEL_GRACE};
use timescaledb_multinode::{AccessNode, Error, RawSql};

use crate::common::plain_server;

/// Sends `signal` (`STOP`, `CONT`) to a server backend.
fn signal(pid: i32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

async fn backend_pid(an: &AccessNode) -> i32 {
    an.query(&RawSql::vouched("SELECT pg_backend_pid()"), &[])
        .await
        .unwrap()[0]
        .get(0)
}

#[tokio::test]
async fn the_server_times_out_long_statements_and_lock_waits_on_pooled_sessions() {
    let server = plain_server("an").await;
    let settings = PoolConfig::default()
        .max_size(2)
        .statement_timeout(Some(Duration::from_secs(1)))
        .lock_timeout(Some(Duration::from_millis(200)));
    let an = AccessNode::connect_with_pool(server.config(), &settings)
        .await
        .unwrap();
    let shown = an
        .query(
            &RawSql::vouched(
                "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')",
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(shown[0].get::<_, String>(0), "1s");
    assert_eq!(shown[0].get::<_, String>(1), "200ms");

    let err = an
        .query(&RawSql::vouched("SELECT pg_sleep(60)"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err:?}");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.node(), Some("an"));

    // A lock held elsewhere: the wait ends at the lock timeout.
    an.execute(&RawSql::vouched("CREATE TABLE t(i int4)"), &[])
        .await
        .unwrap();
    let holder = server.config().connect().await.unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let err = an
        .execute(&RawSql::vouched("INSERT INTO t VALUES (1)"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("55P03"), "{err:?}");
    assert!(err.is_timeout(), "{err:?}");
    holder.batch_execute("ROLLBACK").await.unwrap();

    // The server cancelled those statements itself: the sessions are still good.
    an.execute(&RawSql::vouched("INSERT INTO t VALUES (1)"), &[])
        .await
        .unwrap();
    assert!(an.pool_state().connections >= 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_that_stops_answering_is_cancelled_and_its_session_closed() {
    let server = plain_server("an").await;
    let settings = PoolConfig::default()
        .max_size(1)
        .statement_timeout(Some(Duration::from_secs(1)));
    let an = AccessNode::connect_with_pool(server.config(), &settings)
        .await
        .unwrap();
    let pid = backend_pid(&an).await;
    // The backend stops answering (a hung host, say): the server's own timeout never fires.
    signal(pid, "STOP");
    let asked = std::time::Instant::now();
    let err = an
        .query(&RawSql::vouched("SELECT 1"), &[])
        .await
        .unwrap_err();
    let waited = asked.elapsed();
    signal(pid, "CONT");
    assert!(
        matches!(&err, Error::Deadline { node, after, .. }
            if node == "an" && *after == Duration::from_secs(1) + CANCEL_GRACE),
        "{err:?}"
    );
    assert!(err.is_timeout());
    // Not a timing assertion: the call returned, and not before its deadline.
    assert!(
        waited >= Duration::from_secs(1) + CANCEL_GRACE,
        "{waited:?}"
    );

    // The session was closed, not handed out again: the next statement gets a new backend.
    assert_eq!(an.pool_state().connections, 0, "{:?}", an.pool_state());
    let next = backend_pid(&an).await;
    assert_ne!(next, pid);
    server.shutdown().await.unwrap();
}
