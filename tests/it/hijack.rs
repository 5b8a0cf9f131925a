//! No function hijacking (the CVE-2018-1058 pattern), tier 2, and the search path of the
//! sessions that run the caller's SQL, tier 1.
//!
//! A low-privilege role that may create objects in `public` on every node (the default on
//! PostgreSQL 13 and 14, and in databases upgraded from them) plants, before anything else
//! happens, a look-alike of every function the crate calls (`testing::called_functions`):
//! `text` parameters where TimescaleDB's functions take `name` or `regclass` (so they win
//! overload resolution for untyped arguments, and still take the crate's values), exact
//! copies of the built-ins, and better matches where the crate's calls allowed one. Each
//! records that it ran in a table and a sequence the role owns. The databases' search path lists `public`
//! before `pg_catalog`, so that even the exact copies would win an unqualified call. The
//! test first shows that each look-alike wins the call shape the crate used to send, then
//! runs the how-to, the `Cluster` operations, the data-node lifecycle and a migration off
//! multi-node (to a single node planted the same way) through the crate,
//! and shows that none of the look-alikes ran, that the crate really called each listed
//! function, and that no password is anywhere the role can read.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;

use timescaledb_multinode::data::query_each;
use timescaledb_multinode::lifecycle::{
    AllowNewChunks, AlterDataNode, AttachDataNode, BlockNewChunks, ChunkInterval,
    CreateRestorePoint, DeleteDataNode, DetachDataNode, SetChunkInterval, SetReplicationFactor,
};
use timescaledb_multinode::server::Capabilities;
use timescaledb_multinode::testing::{
    called_functions, FunctionHome, FunctionKind, LocalCluster, LocalClusterBuilder, LocalServer,
    LookAlike,
};
use timescaledb_multinode::tokio_postgres::Client;
use timescaledb_multinode::{
    AccessNode, Bootstrap, Cluster, DataNode, DistributedExec, DistributedHypertable,
    DistributedRole, Error, ExposeSecret, Ident, NodeConfig, Privilege, RawSql, SecretString,
    ServerInfo, TableName,
};

use crate::common::{hold_the_apply_lock, plain_server, tier2};

/// The role that plants the look-alikes.
const PLANTER: &str = "hijacker";
const PLANTER_PASSWORD: &str = "hijacker's own password";
/// `application_name` of the test's own sessions (the crate's are `timescaledb-multinode`).
const TEST_APP: &str = "hijack-test";
const CRATE_APP: &str = "timescaledb-multinode";
const ROLE_PASSWORD: &str = "mn_user1 hijack pw";
const ROTATED_PASSWORD: &str = "dn1 rotated hijack pw";

/// Tier 1: sessions that run the caller's SQL (the access node's pool, `NodeConfig::connect`,
/// `query_each`) keep the search path the server gives them, `public` first here, so the
/// caller's names resolve and an unqualified `CREATE TABLE` lands where it always did.
#[tokio::test]
async fn the_callers_sessions_keep_the_servers_search_path() {
    let server = plain_server("an").await;
    server
        .config()
        .connect()
        .await
        .unwrap()
        .batch_execute("ALTER DATABASE tsdb SET search_path = public, pg_catalog")
        .await
        .unwrap();
    let show = RawSql::vouched("SHOW search_path");
    let an = AccessNode::connect(server.config()).await.unwrap();
    let path: String = an.query(&show, &[]).await.unwrap()[0].get(0);
    assert_eq!(path, "public, pg_catalog");
    an.execute(&RawSql::vouched("CREATE TABLE made_here(i int)"), &[])
        .await
        .unwrap();
    let schema: String = an
        .query(
            &RawSql::vouched(
                "SELECT n.nspname::text FROM pg_catalog.pg_class c \
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                  WHERE c.relname = 'made_here'",
            ),
            &[],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(schema, "public");
    let client = server.config().connect().await.unwrap();
    let path: String = client
        .query_one("SHOW search_path", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(path, "public, pg_catalog");
    let each = query_each(&[server.config()], &show, &[]).await;
    let path: String = each[0].result.as_ref().unwrap()[0].get(0);
    assert_eq!(path, "public, pg_catalog");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn no_planted_look_alike_ever_runs() {
    let Some(_) = tier2() else { return };
    no_planted_function_runs(LocalCluster::builder()).await;
}

/// The whole scenario on a 1 + 3 cluster started from `builder` (also run on every release
/// of the version matrix).
pub async fn no_planted_function_runs(builder: LocalClusterBuilder) {
    let local = builder
        .data_nodes(3)
        .setting("log_statement", "all")
        .setting("log_line_prefix", "%m [%p] [%a] ")
        .start()
        .await
        .unwrap();
    let version = local.multinode().unwrap();
    for node in local.nodes() {
        hostile_database(node).await;
        plant(node).await;
    }

    // The how-to as code: extension on every node, data nodes, table, distribution, role.
    let cluster = spec(&local);
    let plan = cluster.plan().await.unwrap();
    assert_eq!(plan.steps.len(), 8, "{plan:#?}");
    // A look-alike that ran is the failure to report, whatever else went wrong after it.
    let applied = cluster.apply().await;
    assert_no_look_alike_ran(&local).await;
    applied.unwrap();
    let plan = cluster.plan().await.unwrap();
    assert!(plan.is_converged(), "{plan:#?}");
    assert!(cluster.status().await.is_healthy());
    assert_no_look_alike_ran(&local).await;

    // Now that TimescaleDB's functions exist too: each look-alike would have won.
    armed(local.access_node()).await;

    let steps = AssertUnwindSafe(async {
        let api_schema = typed_api(&local).await;
        (api_schema, operate(&local, cluster).await)
    })
    .catch_unwind()
    .await;
    let (api_schema, cluster) = match steps {
        Ok(done) => done,
        // A look-alike that ran (and returned nothing useful) is what to report.
        Err(panic) => {
            assert_no_look_alike_ran(&local).await;
            std::panic::resume_unwind(panic)
        }
    };
    assert!(cluster.status().await.is_healthy());
    let target = migrate_off(&local, &cluster).await;

    assert_no_look_alike_ran(&local).await;
    assert_no_look_alike_ran_on(&target).await;
    assert_each_function_was_called(&local, &target, &api_schema, &Capabilities::of(version));
    assert_data_nodes_got_catalog_first(&local);
    assert_no_password_readable(&local).await;
    target.shutdown().await.unwrap();
    local.shutdown().await.unwrap();
}

/// Leaving multi-node: `sensor_data` migrated to a single TimescaleDB node of the same
/// installation, whose database is as hostile as the cluster's (the look-alikes planted
/// once the extension is there). Returns the target.
async fn migrate_off(local: &LocalCluster, cluster: &Cluster) -> LocalServer {
    let target = LocalServer::builder("target")
        .install(local.access_node().install().clone())
        .setting("log_statement", "all")
        .setting("log_line_prefix", "%m [%p] [%a] ")
        .start()
        .await
        .unwrap();
    admin(&target)
        .await
        .batch_execute("SET client_min_messages = error; CREATE EXTENSION timescaledb")
        .await
        .unwrap();
    hostile_database(&target).await;
    plant(&target).await;
    let report = cluster
        .migration(target.config())
        .hypertable(table("sensor_data"))
        .run()
        .await;
    assert_no_look_alike_ran_on(&target).await;
    let report = report.unwrap();
    assert!(report.rows() > 0, "{report:#?}");
    target
}

fn spec(local: &LocalCluster) -> Cluster {
    Cluster::new(local.access_node_config())
        .data_node(local.data_nodes()[0].config())
        .data_node(local.data_nodes()[1].config())
        .hypertable(
            RawSql::vouched(
                "CREATE TABLE sensor_data(time timestamptz NOT NULL, sensor_id int NOT NULL, \
                 temperature float8)",
            ),
            DistributedHypertable::new("sensor_data", "time").partitioning_column("sensor_id"),
        )
        .role(
            DistributedRole::new("mn_user1", SecretString::from(ROLE_PASSWORD))
                .grant([Privilege::Select], "sensor_data")
                .grant_on_all_tables_in_schema([Privilege::Select], "public"),
        )
}

/// The node's admin, in a session of the test's own.
async fn admin(node: &LocalServer) -> Client {
    node.config()
        .application_name(TEST_APP)
        .connect()
        .await
        .unwrap()
}

/// The planting role on `node`.
async fn planter(node: &LocalServer) -> Client {
    NodeConfig::new("127.0.0.1", PLANTER, SecretString::from(PLANTER_PASSWORD))
        .name(node.name())
        .port(node.port())
        .database("tsdb")
        .application_name(TEST_APP)
        .connect()
        .await
        .unwrap()
}

/// The hostile role, allowed to create in `public`, and a search path that lists `public`
/// before `pg_catalog` for every session that does not set its own.
async fn hostile_database(node: &LocalServer) {
    admin(node)
        .await
        .batch_execute(&format!(
            "ALTER DATABASE tsdb SET search_path = public, pg_catalog; \
             CREATE ROLE {PLANTER} LOGIN PASSWORD '{}'; \
             GRANT CREATE ON SCHEMA public TO {PLANTER};",
            PLANTER_PASSWORD.replace('\'', "''")
        ))
        .await
        .unwrap();
}

/// What each look-alike's body does: record the call in a table everyone may insert into
/// (as a thief would keep the arguments) and, unless the planter itself runs it, in a
/// sequence, which no rollback undoes.
const RECORD: &str = "INSERT INTO public.hijack_log (function, query) \
                          VALUES ($name$NAME$name$, pg_catalog.current_query()); \
                      IF current_user OPERATOR(pg_catalog.<>) 'hijacker' THEN \
                        PERFORM pg_catalog.nextval('public.hijack_calls'::pg_catalog.regclass); \
                      END IF;";

/// Plants a look-alike of every function the crate calls, as the planter.
async fn plant(node: &LocalServer) {
    let client = planter(node).await;
    client
        .batch_execute(
            "CREATE TABLE public.hijack_log (function text NOT NULL, \
                 caller name NOT NULL DEFAULT current_user, query text); \
             GRANT INSERT ON public.hijack_log TO PUBLIC; \
             CREATE SEQUENCE public.hijack_calls; \
             GRANT USAGE ON SEQUENCE public.hijack_calls TO PUBLIC;",
        )
        .await
        .unwrap();
    let mut planted = 0;
    for function in called_functions() {
        for (i, look_alike) in function.look_alikes.iter().enumerate() {
            for statement in plant_statements(function.name, function.kind, i, look_alike) {
                client
                    .batch_execute(&statement)
                    .await
                    .unwrap_or_else(|e| panic!("planting {}: {e:?}\n{statement}", function.name));
            }
            planted += 1;
        }
    }
    assert!(planted >= called_functions().len());
}

/// The statements that plant look-alike `i` of `name`.
fn plant_statements(name: &str, kind: FunctionKind, i: usize, look: &LookAlike) -> Vec<String> {
    let record = RECORD.replace("NAME", name);
    // The body's own names resolve in pg_catalog whatever the caller's search path.
    let options = "LANGUAGE plpgsql SET search_path = pg_catalog";
    match kind {
        FunctionKind::Procedure => vec![format!(
            "CREATE PROCEDURE public.{name}({}) {options} AS $body$ BEGIN {record} END $body$",
            look.params
        )],
        FunctionKind::Aggregate => {
            // Over rows (`count(*)`) or over one column (`sum(bigint)`).
            let step = format!("hijack_{name}_step");
            let (input, step_params) = match look.params {
                "*" => ("*".to_owned(), "state int8".to_owned()),
                column => (column.to_owned(), format!("state int8, v {column}")),
            };
            vec![
                format!(
                    "CREATE FUNCTION public.{step}({step_params}) RETURNS int8 {options} \
                     AS $body$ BEGIN {record} RETURN state OPERATOR(pg_catalog.+) 1; END $body$"
                ),
                format!(
                    "CREATE AGGREGATE public.{name}({input}) (SFUNC = public.{step}, \
                     STYPE = int8, INITCOND = '0')"
                ),
            ]
        }
        FunctionKind::Function => {
            let mut statements = Vec::new();
            // TABLE(...) results become a row type of their own: PL/pgSQL refuses output
            // columns named like input parameters (add_data_node has both `node_name`s).
            let (returns, value) = match look.returns.strip_prefix("TABLE(") {
                Some(columns) => {
                    let row = format!("public.hijack_{name}_{i}");
                    statements.push(format!(
                        "CREATE TYPE {row} AS ({}",
                        columns // keeps the closing parenthesis
                    ));
                    (format!("SETOF {row}"), "")
                }
                None if look.returns.starts_with("SETOF") || look.returns == "void" => {
                    (look.returns.to_owned(), "")
                }
                None => (look.returns.to_owned(), " NULL"),
            };
            statements.push(format!(
                "CREATE FUNCTION public.{name}({}) RETURNS {returns} {options} AS $body$ \
                 BEGIN {record} RETURN{value}; END $body$",
                look.params
            ));
            statements
        }
        other => panic!("unknown kind {other:?}"),
    }
}

/// Each look-alike wins the call shape the crate sent before its calls were qualified and
/// typed: run as the planter, in a transaction that is rolled back, the look-alike runs.
async fn armed(node: &LocalServer) {
    let client = planter(node).await;
    let mut checked = 0;
    for function in called_functions() {
        for look_alike in function.look_alikes {
            let Some(args) = look_alike.wins else {
                continue;
            };
            let name = function.name;
            let probe = match function.kind {
                FunctionKind::Procedure => format!("CALL {name}({args})"),
                FunctionKind::Aggregate => format!("SELECT {name}({args}) FROM (VALUES (1)) v"),
                _ => format!("SELECT * FROM {name}({args})"),
            };
            client.batch_execute("BEGIN").await.unwrap();
            let ran = match client.batch_execute(&probe).await {
                Ok(()) => {
                    client
                        .query_one(
                            "SELECT pg_catalog.count(*) FROM public.hijack_log \
                              WHERE function OPERATOR(pg_catalog.=) $1::pg_catalog.text",
                            &[&name],
                        )
                        .await
                        .unwrap()
                        .get::<_, i64>(0)
                        > 0
                }
                Err(_) => false,
            };
            client.batch_execute("ROLLBACK").await.unwrap();
            assert!(ran, "the look-alike of {name} does not win `{probe}`");
            checked += 1;
        }
    }
    assert!(checked >= called_functions().len() - 1, "{checked}");
}

fn table(name: &str) -> TableName {
    TableName::new(Ident::new(name).unwrap())
}

/// The typed API on the access node: data nodes, hypertables, chunks, ingest,
/// distributed_exec, another data node added with bootstrapping and deleted, the lifecycle
/// calls. Returns the extension's schema.
async fn typed_api(local: &LocalCluster) -> String {
    // Fresh handles whose first call runs on a pooled session, whose search path is the
    // database's (public first): the server checks then run there too.
    let pooled = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    DistributedExec::new(RawSql::vouched("SELECT 1"))
        .data_nodes(["dn1", "dn2"])
        .run(&pooled)
        .await
        .unwrap();
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    for node in local.nodes() {
        ServerInfo::detect(&node.config()).await.unwrap();
    }
    let info = ServerInfo::detect(an.config()).await.unwrap();
    let api_schema = info.timescaledb_schema.clone().unwrap();
    assert_eq!(api_schema, "public");

    // Rows in by binary COPY (the data nodes are pinged first), the handle's first call.
    let sensor = table("sensor_data");
    let mut ingest = an
        .ingest(&sensor, &["time", "sensor_id", "temperature"])
        .await
        .unwrap();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    for day in 0..10u64 {
        for sensor_id in 1..=4i32 {
            let time = start + Duration::from_secs(day * 86_400);
            ingest.write(&[&time, &sensor_id, &20.5f64]).await.unwrap();
        }
    }
    assert_eq!(ingest.finish().await.unwrap(), 40);
    assert_eq!(an.data_nodes().await.unwrap().len(), 2);
    assert!(
        an.hypertable(&sensor)
            .await
            .unwrap()
            .unwrap()
            .is_distributed
    );
    let holders: BTreeSet<String> = an
        .chunks(&sensor)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|c| c.data_nodes)
        .collect();
    assert_eq!(holders.len(), 2);
    let rows: i64 = admin(local.access_node())
        .await
        .query_one("SELECT pg_catalog.count(*) FROM public.sensor_data", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 40);
    // The lifecycle.
    AlterDataNode::new("dn1").run(&an).await.unwrap();
    assert_eq!(
        BlockNewChunks::new("dn1")
            .hypertable(sensor.clone())
            .run(&an)
            .await
            .unwrap(),
        1
    );
    AllowNewChunks::new("dn1")
        .hypertable(sensor.clone())
        .run(&an)
        .await
        .unwrap();
    SetReplicationFactor::new(&sensor, 1)
        .run(&an)
        .await
        .unwrap();
    SetChunkInterval::new(&sensor, ChunkInterval::Time(Duration::from_secs(86_400)))
        .run(&an)
        .await
        .unwrap();
    assert_eq!(
        CreateRestorePoint::new("hijack")
            .run(&an)
            .await
            .unwrap()
            .len(),
        3
    );
    admin(local.access_node())
        .await
        .batch_execute("CREATE TABLE public.spare(time timestamptz NOT NULL, v int)")
        .await
        .unwrap();
    DistributedHypertable::new("spare", "time")
        .run(&an)
        .await
        .unwrap();
    assert_eq!(
        DetachDataNode::new("dn2")
            .hypertable(table("spare"))
            .drop_remote_data()
            .run(&an)
            .await
            .unwrap(),
        1
    );
    AttachDataNode::new("dn2", table("spare"))
        .run(&an)
        .await
        .unwrap();

    // A third data node, bootstrapped by the access node, then deleted again.
    let dn3 = &local.data_nodes()[2];
    let added = DataNode::from_config(&dn3.config())
        .bootstrap(Bootstrap::CreateDatabase)
        .run(&an)
        .await
        .unwrap();
    assert!(added.node_created && added.extension_created);
    let deleted = DeleteDataNode::new("dn3").run(&an).await.unwrap();
    assert!(deleted.deleted);
    api_schema
}

/// Password rotation (there and back) and healing (with an in-doubt transaction the
/// access node still counts as in progress, so that healing consumes a transaction id and
/// tries again).
async fn operate(local: &LocalCluster, mut cluster: Cluster) -> Cluster {
    let rotation = cluster
        .rotate_password("dn1", SecretString::from(ROTATED_PASSWORD))
        .await
        .unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    let rotated = local.data_nodes()[0]
        .config()
        .password(SecretString::from(ROTATED_PASSWORD));
    cluster.set_data_node_config(rotated.clone()).unwrap();

    let row = admin(local.access_node())
        .await
        .query_one(
            "SELECT (pg_catalog.txid_current() OPERATOR(pg_catalog.%) 4294967296 \
                     OPERATOR(pg_catalog.+) 1000000)::pg_catalog.text, \
                    (SELECT s.oid FROM pg_catalog.pg_foreign_server s \
                      WHERE s.srvname OPERATOR(pg_catalog.=) 'dn1')::pg_catalog.int8, \
                    (SELECT r.oid FROM pg_catalog.pg_roles r \
                      WHERE r.rolname OPERATOR(pg_catalog.=) current_user)::pg_catalog.int8",
            &[],
        )
        .await
        .unwrap();
    let gid = format!(
        "ts-1-{}-{}-{}",
        row.get::<_, String>(0),
        row.get::<_, i64>(1),
        row.get::<_, i64>(2)
    );
    let dn1 = rotated.application_name(TEST_APP).connect().await.unwrap();
    dn1.batch_execute(&format!("BEGIN; PREPARE TRANSACTION '{gid}'"))
        .await
        .unwrap();
    let report = cluster.heal().await.unwrap();
    assert!(report.advanced_xid, "{report:#?}");
    dn1.batch_execute(&format!("ROLLBACK PREPARED '{gid}'"))
        .await
        .unwrap();

    // An apply lock held by someone else: the wait for it reads who holds it.
    let (holder, _) =
        hold_the_apply_lock(local.access_node_config().application_name(TEST_APP)).await;
    let err = cluster
        .clone()
        .apply_lock_wait(Duration::from_millis(300))
        .heal()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ApplyLockHeld { .. }), "{err:?}");
    drop(holder);

    // And back, so the fixture's password opens dn1 again.
    let original = local.data_nodes()[0].password().clone();
    let rotation = cluster.rotate_password("dn1", original).await.unwrap();
    assert!(rotation.is_complete(), "{rotation:?}");
    cluster
        .set_data_node_config(local.data_nodes()[0].config())
        .unwrap();
    cluster
}

/// No look-alike ran on any node: the record table is empty and the sequence untouched.
async fn assert_no_look_alike_ran(local: &LocalCluster) {
    for node in local.nodes() {
        assert_no_look_alike_ran_on(node).await;
    }
}

/// No look-alike ran on `node`.
async fn assert_no_look_alike_ran_on(node: &LocalServer) {
    {
        let client = admin(node).await;
        let rows = client
            .query(
                "SELECT l.function, l.caller::pg_catalog.text, l.query FROM public.hijack_log l",
                &[],
            )
            .await
            .unwrap();
        let runs: Vec<(String, String, Option<String>)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert!(
            runs.is_empty(),
            "{}: look-alikes ran: {runs:#?}",
            node.name()
        );
        let called: bool = client
            .query_one("SELECT s.is_called FROM public.hijack_calls s", &[])
            .await
            .unwrap()
            .get(0);
        assert!(
            !called,
            "{}: a look-alike ran in a rolled-back transaction",
            node.name()
        );
    }
}

/// The crate called every listed function, qualified as listed: its statements are in the
/// servers' logs (`log_statement = all`), under its own application name.
/// `add_data_node` is the exception: the crate turns statement logging off while it binds
/// the password; the data nodes it added show that it ran. So is `substr`, called only in
/// the block that ends a quieted secret.
fn assert_each_function_was_called(
    local: &LocalCluster,
    target: &LocalServer,
    api_schema: &str,
    caps: &Capabilities,
) {
    let quoted = format!("\"{}\"", api_schema.replace('"', "\"\""));
    let crate_lines: Vec<String> = local
        .nodes()
        .chain(std::iter::once(target))
        .flat_map(|n| {
            n.log()
                .lines()
                .filter(|l| l.contains(&format!("[{CRATE_APP}]")))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut missing = Vec::new();
    for function in called_functions() {
        if function.name == "add_data_node" {
            assert_eq!(function.home, FunctionHome::Api);
            continue;
        }
        // Called only in the block that ends a quieted secret (it reads back a data node's
        // kept error), which the server does not log.
        if function.name == "substr" {
            assert_eq!(function.home, FunctionHome::PgCatalog);
            continue;
        }
        let call = format!("{}(", function.qualified(&quoted, caps.internal_schema()));
        if !crate_lines.iter().any(|l| l.contains(&call)) {
            missing.push(call);
        }
    }
    assert!(missing.is_empty(), "never called by the crate: {missing:?}");
}

/// TimescaleDB runs `distributed_exec`'s statement on a data node with `SET search_path =
/// <the access node's path>, pg_catalog`. For the statements the crate sends from its own
/// sessions (the role's DO block among them), that path starts with `pg_catalog`.
fn assert_data_nodes_got_catalog_first(local: &LocalCluster) {
    for node in &local.data_nodes()[..2] {
        assert!(
            node.log()
                .lines()
                .any(|l| l.contains("SET search_path = pg_catalog, public, pg_catalog")),
            "{}: no distributed_exec with pg_catalog first",
            node.name()
        );
    }
}

/// No password of the cluster is in anything the planter can read on any node (every
/// table and view it may select from), nor in any server log.
async fn assert_no_password_readable(local: &LocalCluster) {
    let mut secrets: Vec<String> = local
        .nodes()
        .map(|n| n.password().expose_secret().to_owned())
        .collect();
    secrets.push(ROLE_PASSWORD.to_owned());
    secrets.push(ROTATED_PASSWORD.to_owned());
    for node in local.nodes() {
        let client = planter(node).await;
        let relations: Vec<String> = client
            .query(
                "SELECT pg_catalog.format('%I.%I'::pg_catalog.text, n.nspname, c.relname) \
                   FROM pg_catalog.pg_class c \
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
                  WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,v,m,p}'::pg_catalog.\"char\"[]) \
                    AND pg_catalog.has_table_privilege(c.oid, 'SELECT'::pg_catalog.text)",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut scanned = BTreeSet::new();
        for relation in &relations {
            let Ok(rows) = client
                .query(&format!("SELECT t::pg_catalog.text FROM {relation} t"), &[])
                .await
            else {
                continue;
            };
            for row in &rows {
                let text: Option<String> = row.get(0);
                let text = text.unwrap_or_default();
                for secret in &secrets {
                    assert!(
                        !text.contains(secret.as_str()),
                        "{}: the planter reads a password in {relation}",
                        node.name()
                    );
                }
            }
            scanned.insert(relation.clone());
        }
        for must in ["pg_catalog.pg_user_mappings", "public.hijack_log"] {
            assert!(
                scanned.contains(must),
                "{}: {must} not scanned",
                node.name()
            );
        }
        assert!(scanned.len() > 100, "{}: {scanned:?}", node.name());
        for secret in &secrets {
            assert!(
                !node.log().contains(secret.as_str()),
                "{} logged a password",
                node.name()
            );
        }
    }
}

/// Tier 2: TimescaleDB created `WITH SCHEMA` a schema whose name needs quoting: the crate
/// reads the schema from the catalog and calls the API there.
#[tokio::test]
async fn the_api_is_called_in_the_extensions_own_schema() {
    let Some(_) = tier2() else { return };
    let local = LocalCluster::start(2).await.unwrap();
    for node in local.nodes() {
        admin(node)
            .await
            .batch_execute(
                "CREATE SCHEMA \"ts api\"; CREATE EXTENSION timescaledb WITH SCHEMA \"ts api\"",
            )
            .await
            .unwrap();
    }
    let info = ServerInfo::detect(&local.access_node_config())
        .await
        .unwrap();
    assert_eq!(info.timescaledb_schema.as_deref(), Some("ts api"));
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    for dn in local.data_nodes() {
        DataNode::from_config(&dn.config())
            .bootstrap(Bootstrap::ExistingDatabase)
            .run(&an)
            .await
            .unwrap();
    }
    admin(local.access_node())
        .await
        .batch_execute("CREATE TABLE public.t(time timestamptz NOT NULL, id int NOT NULL)")
        .await
        .unwrap();
    let created = DistributedHypertable::new("t", "time")
        .partitioning_column("id")
        .run(&an)
        .await
        .unwrap();
    assert!(created.created);
    DistributedExec::new(RawSql::vouched("SELECT 1"))
        .run(&an)
        .await
        .unwrap();
    let names: Vec<String> = an
        .data_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["dn1", "dn2"]);
    local.shutdown().await.unwrap();
}
