//! The access node's pool: queries, exhaustion, server restarts, many tasks at once.

use std::time::Duration;

use timescaledb_multinode::pool::PoolConfig;
use timescaledb_multinode::{AccessNode, DistributedExec, Error, RawSql};

use timescaledb_multinode::testing::LocalServer;

use crate::common::plain_server;

#[tokio::test]
async fn queries_run_on_pooled_connections() {
    let server = plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();
    let rows = an
        .query(&RawSql::vouched("SELECT $1::int4 + 1"), &[&41i32])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 42);
    let affected = an
        .execute(
            &RawSql::vouched("CREATE TABLE t AS SELECT generate_series(1, 3) i"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(affected, 3);
    let client = an.client().await.unwrap();
    assert_eq!(an.pool_state().connections, 1);
    assert_eq!(an.pool_state().idle_connections, 0);
    drop(client);
    assert_eq!(an.pool_state().idle_connections, 1);

    // A server error names the node and keeps the SQLSTATE.
    let err = an
        .query(&RawSql::vouched("SELECT 1/0"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));
    assert_eq!(err.node(), Some("an"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_exhausted_pool_times_out() {
    let server = plain_server("an").await;
    let settings = PoolConfig::default()
        .max_size(1)
        .checkout_timeout(Duration::from_secs(2));
    let an = AccessNode::connect_with_pool(server.config(), &settings)
        .await
        .unwrap();
    let held = an.client().await.unwrap();
    let err = an
        .query(&RawSql::vouched("SELECT 1"), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PoolTimeout { .. }), "{err:?}");
    assert!(err.is_timeout());
    assert_eq!(err.node(), Some("an"));
    drop(held);
    an.query(&RawSql::vouched("SELECT 1"), &[]).await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_recovers_from_a_server_restart() {
    let mut server = plain_server("an").await;
    let settings = PoolConfig::default().max_size(4);
    let an = AccessNode::connect_with_pool(server.config(), &settings)
        .await
        .unwrap();
    for _ in 0..4 {
        an.query(&RawSql::vouched("SELECT 1"), &[]).await.unwrap();
    }
    server.stop().await.unwrap();
    server.start().await.unwrap();
    // Give the drivers of the dead connections a moment to notice.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..8 {
        an.query(&RawSql::vouched("SELECT 1"), &[]).await.unwrap();
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_access_node() {
    let server = plain_server("an").await;
    let settings = PoolConfig::default().max_size(8);
    let an = AccessNode::connect_with_pool(server.config(), &settings)
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..32i32 {
        let an = an.clone();
        tasks.spawn(async move {
            for call in 0..100i32 {
                let rows = an
                    .query(
                        &RawSql::vouched("SELECT $1::int4 * 1000 + $2::int4"),
                        &[&task, &call],
                    )
                    .await?;
                assert_eq!(rows[0].get::<_, i32>(0), task * 1000 + call);
            }
            Ok::<_, Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let state = an.pool_state();
    assert!(state.connections <= 8, "{state:?}");
    assert_eq!(state.idle_connections, state.connections, "{state:?}");
    let rows = an
        .query(
            &RawSql::vouched(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
            ),
            &[],
        )
        .await
        .unwrap();
    assert!(rows[0].get::<_, i64>(0) <= 8);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn distributed_exec_refuses_bad_statements_before_sending() {
    let server = plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();
    let cases = [
        ("", "empty"),
        ("  ; -- nothing\n", "empty"),
        (
            "CREATE TABLE a(i int); CREATE TABLE b(i int)",
            "exactly one statement",
        ),
        ("SELECT 'unclosed", "not closed"),
    ];
    for (sql, needle) in cases {
        let err = DistributedExec::new(RawSql::vouched(sql))
            .run(&an)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{sql:?}: {err:?}"
        );
        assert!(err.to_string().contains(needle), "{sql:?}: {err}");
        assert_eq!(err.node(), Some("an"));
    }
    let err = DistributedExec::new(RawSql::vouched("SELECT 1"))
        .data_nodes(["dn1", "dn1"])
        .run(&an)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
    let err = DistributedExec::new(RawSql::vouched("SELECT 1"))
        .data_nodes(Vec::<String>::new())
        .run(&an)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("list is empty"), "{err}");
    // A well-formed statement on a server without multi-node: a clear refusal, not a SQL
    // error.
    let err = DistributedExec::new(RawSql::vouched("SELECT 1"))
        .run(&an)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedServer { .. }), "{err:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pool_reports_the_real_connect_error_at_once() {
    let mut server = plain_server("an").await;
    let wrong = server
        .config()
        .password(timescaledb_multinode::SecretString::from("wrong"));
    let started = std::time::Instant::now();
    let err = AccessNode::connect(wrong).await.unwrap_err();
    assert!(err.is_authentication_failure(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A node that goes down under a pool: the query fails with the node's own error.
    let an = AccessNode::connect(server.config()).await.unwrap();
    server.stop().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let err = an
        .query(&RawSql::vouched("SELECT 1"), &[])
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn callers_are_served_in_the_order_they_asked() {
    use std::future::{poll_fn, Future};
    use std::sync::{Arc, Mutex};
    use std::task::Poll;
    use timescaledb_multinode::pool::NodePool;

    let server = plain_server("fifo").await;
    let pool = NodePool::new(server.config(), &PoolConfig::default().max_size(1)).unwrap();
    let held = pool.client().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..6 {
        let (pool, order) = (pool.clone(), order.clone());
        let mut waiter = Box::pin(async move {
            let client = pool.client().await.unwrap();
            client.simple_query("SELECT 1").await.unwrap();
            order.lock().unwrap().push(i);
        });
        // Polled once: it is now waiting in line, after the ones before it.
        poll_fn(|cx| {
            assert!(waiter.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        waiters.push(waiter);
    }
    // A caller that comes later and asks again and again, polled before the others each
    // time: it must not get in ahead of the six in line.
    let barger = {
        let (pool, order) = (pool.clone(), order.clone());
        Box::pin(async move {
            for _ in 0..20 {
                let client = pool.client().await.unwrap();
                client.simple_query("SELECT 1").await.unwrap();
                order.lock().unwrap().push(99);
            }
        })
    };
    drop(held);
    let mut all: Vec<std::pin::Pin<Box<dyn Future<Output = ()>>>> = vec![barger];
    all.extend(
        waiters
            .into_iter()
            .map(|w| w as std::pin::Pin<Box<dyn Future<Output = ()>>>),
    );
    futures_util::future::join_all(all).await;
    let order = order.lock().unwrap().clone();
    assert_eq!(order[..6], [0, 1, 2, 3, 4, 5], "{order:?}");
    assert_eq!(order.len(), 26);
    server.shutdown().await.unwrap();
}

/// A server that ends idle sessions (`idle_session_timeout`, as managed services set it)
/// ends pooled ones between queries: a held session that the server ended says so (57P05,
/// no SQLSTATE of a statement's own), it does not go back to the pool, and the next query
/// runs on a new session. (That a statement is not sent just as the server ends the
/// session: `statements_after_idling_about_the_servers_timeout_all_run`.)
#[tokio::test]
async fn sessions_the_server_ends_as_idle_say_so_and_leave_the_pool() {
    let server = LocalServer::builder("an")
        .timescaledb(false)
        .setting("idle_session_timeout", "500ms")
        .start()
        .await
        .unwrap();
    let an = AccessNode::connect(server.config()).await.unwrap();
    let client = an.client().await.unwrap();
    client.query("SELECT 1", &[]).await.unwrap();
    // Until the server has ended it and the driver has read why.
    for _ in 0..200 {
        if client.is_closed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = client.query("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err, Error::ConnectionLost { .. }), "{err:?}");
    assert_eq!(err.code(), None, "{err:?}");
    assert!(err.to_string().ends_with("(SQLSTATE 57P05)"), "{err}");
    drop(client);
    assert_eq!(an.pool_state().connections, 0);
    let rows = an
        .query(&RawSql::vouched("SELECT $1::int8"), &[&7i64])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 7);
    server.shutdown().await.unwrap();
}

/// A session the server ended says why, not only that the connection was lost: here a
/// DBA's `pg_terminate_backend` (57P01). What it says is not the statement's outcome: no
/// SQLSTATE, and the session goes out of the pool.
#[tokio::test]
async fn a_session_the_server_ended_says_why() {
    let server = plain_server("an").await;
    let an = AccessNode::connect(server.config()).await.unwrap();
    let client = an.client().await.unwrap();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let admin = server.config().connect().await.unwrap();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    // Until the driver has read the server's last words and closed.
    for _ in 0..100 {
        if client.is_closed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = client.query("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err, Error::ConnectionLost { .. }), "{err:?}");
    assert_eq!(err.code(), None, "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("query on node an: connection lost: the server ended it: ")
            && text.ends_with("(SQLSTATE 57P01)"),
        "{text}"
    );
    drop(client);
    assert_eq!(an.pool_state().connections, 0);
    let rows = an.query(&RawSql::vouched("SELECT 1"), &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    server.shutdown().await.unwrap();
}

/// What `pg_stat_activity` shows as the last statement of backend `pid`, read over a
/// session of its own.
async fn last_statement(server: &LocalServer, pid: i32) -> Option<String> {
    let observer = server.config().connect().await.unwrap();
    observer
        .query_opt("SELECT query FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .await
        .unwrap()
        .map(|row| row.get(0))
}

/// A pooled session that waited for half the server's `idle_session_timeout` or more is
/// pinged (an empty statement) before it is handed out, which restarts the server's clock;
/// one in steady use is not. (A statement sent just as the server ends a session is lost
/// with it, and cannot always be told from one lost while it ran.)
#[tokio::test]
async fn a_session_idle_near_the_servers_timeout_is_pinged_before_it_is_handed_out() {
    let server = LocalServer::builder("an")
        .timescaledb(false)
        .setting("idle_session_timeout", "6s")
        .start()
        .await
        .unwrap();
    let an = AccessNode::connect_with_pool(server.config(), &PoolConfig::default().max_size(1))
        .await
        .unwrap();
    let client = an.client().await.unwrap();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid() /* used */", &[])
        .await
        .unwrap()
        .get(0);
    drop(client);
    let client = an.client().await.unwrap();
    assert_eq!(
        last_statement(&server, pid).await.as_deref(),
        Some("SELECT pg_backend_pid() /* used */"),
        "a session just handed back is not pinged"
    );
    drop(client);
    tokio::time::sleep(Duration::from_millis(3_300)).await;
    let client = an.client().await.unwrap();
    assert_eq!(
        last_statement(&server, pid).await.as_deref(),
        Some(""),
        "a session idle for half the server's timeout is pinged"
    );
    let again: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(again, pid, "the pinged session is the one handed out");
    drop(client);
    server.shutdown().await.unwrap();
}

/// Statements on a pooled session after idling about as long as the server's
/// `idle_session_timeout` all run, on the driver's own methods too (which never send a
/// statement twice): the session is pinged first, or replaced when the ping finds it gone.
#[tokio::test]
async fn statements_after_idling_about_the_servers_timeout_all_run() {
    let server = LocalServer::builder("an")
        .timescaledb(false)
        .setting("idle_session_timeout", "1s")
        .start()
        .await
        .unwrap();
    let an = AccessNode::connect_with_pool(server.config(), &PoolConfig::default().max_size(1))
        .await
        .unwrap();
    an.query(&RawSql::vouched("SELECT 1"), &[]).await.unwrap();
    for i in 0..10u64 {
        tokio::time::sleep(Duration::from_millis(900 + 25 * i)).await;
        let client = an.client().await.unwrap();
        let row = client
            .query_one("SELECT $1::int8", &[&(i as i64)])
            .await
            .unwrap_or_else(|e| panic!("after idling {} ms: {e}", 900 + 25 * i));
        assert_eq!(row.get::<_, i64>(0), i as i64);
    }
    server.shutdown().await.unwrap();
}
