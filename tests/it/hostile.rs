//! Property tests: hostile identifiers through real servers. Every name either works exactly
//! (stored and read back byte for byte, through the catalog and through the crate) or is
//! refused with [`Error::InvalidInput`] before anything is sent; no name ever changes what a
//! statement does (a sentinel table and a snapshot of the catalog prove nothing else was
//! created or dropped).
//!
//! Tier 1 runs on one plain PostgreSQL server for the whole property run; tier 2 on one
//! TimescaleDB cluster of 1 + 2 for the whole run. `TSMN_PROPTEST_CASES` sets the number of
//! generated tier 1 cases (default 1,000); tier 2 runs a thirty-second of that (default 32:
//! each case does distributed DDL, about a second). `PROPTEST_RNG_SEED` replays a run.
//!
//! Found by these tests, and pinned by `hypertable_names_with_a_double_quote_are_refused_or_work`:
//! TimescaleDB 2.13.1 does not escape a `"` in the table and column names of the
//! `CREATE TABLE` it sends to the data nodes (a name like `x"AS SELECT 1/0 AS y--` ran a
//! query there), so the crate refuses such names for distributed hypertables.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use timescaledb_multinode::lifecycle::MappingChange;
use timescaledb_multinode::testing::{LocalCluster, LocalServer};
use timescaledb_multinode::tokio_postgres::types::ToSql;
use timescaledb_multinode::tokio_postgres::Client;
use timescaledb_multinode::{
    AccessNode, DataNode, DistributedExec, DistributedHypertable, DistributedRole, DropUserMapping,
    Error, Ident, NodeConfig, Privilege, RawSql, RoleSpec, SecretString, TableName, UserMapping,
    MAX_IDENT_BYTES,
};

use crate::common::tier2;

// ---------------------------------------------------------------------------------------
// Names

/// The oracle, written independently of the crate: PostgreSQL keeps at most 63 bytes, the
/// protocol cannot carry NUL, and the empty name is no name.
fn is_valid(name: &str) -> bool {
    !name.is_empty() && !name.contains('\0') && name.len() <= 63
}

/// Pieces of hostile names. No piece is `_` or a digit on its own, so a generated name can
/// never equal a fixture's name (`canary_0`, `dn1`, `tsdbadmin`, `pg_...`, `public`, ...).
const FRAGMENTS: &[&str] = &[
    "'",
    "''",
    "\"",
    "\"\"",
    "\\",
    "\\'",
    " ",
    "  ",
    ";",
    "$$",
    "$x$",
    "$1",
    "--",
    "/*",
    "*/",
    "%I",
    "%L",
    "%",
    "\n",
    "\t",
    ".",
    ",",
    "(",
    ")",
    "=",
    "E'",
    "U&\"",
    "é",
    "ü",
    "ß",
    "日本",
    "語",
    "🦀",
    "👍🏽",
    "e\u{301}",
    "\u{200b}",
    "a",
    "B",
    "Zz",
    "SeLeCt",
    "Robert'); DROP TABLE canary_0;--",
];

/// Characters that fill a name up to the 63-byte limit: 1 to 4 bytes each, so multi-byte
/// characters straddle it.
const PADS: &[char] = &['a', 'Q', ' ', '"', '\'', '\\', ';', 'é', '日', '🦀'];

fn hostile_name() -> impl Strategy<Value = String> {
    let fragments = |n: std::ops::Range<usize>| {
        prop::collection::vec(prop::sample::select(FRAGMENTS), n).prop_map(|p| p.concat())
    };
    let near_limit = (fragments(0..4), prop::sample::select(PADS), 58usize..=67).prop_map(
        |(mut name, pad, target)| {
            while name.len() < target {
                name.push(pad);
            }
            name
        },
    );
    let with_nul = (fragments(0..6), any::<prop::sample::Index>()).prop_map(|(mut name, at)| {
        let bounds: Vec<usize> = name
            .char_indices()
            .map(|(i, _)| i)
            .chain([name.len()])
            .collect();
        name.insert(bounds[at.index(bounds.len())], '\0');
        name
    });
    prop_oneof![
        12 => fragments(1..10),
        6 => near_limit,
        1 => with_nul,
        1 => Just(String::new()),
    ]
}

/// Names at the edges, run before the generated ones.
fn edge_names() -> Vec<String> {
    vec![
        String::new(),
        "\0".into(),
        "a\0b".into(),
        "a".repeat(62),
        "a".repeat(63),
        "a".repeat(64),
        "\"".repeat(63),
        "'".repeat(63),
        "\\".repeat(64),
        "é".repeat(31) + "a",    // 63 bytes
        "é".repeat(32),          // 64
        "x".repeat(61) + "é",    // 63
        "x".repeat(62) + "é",    // 64: the last character straddles the limit
        "日".repeat(21),         // 63
        "日".repeat(21) + "a",   // 64
        "🦀".repeat(15) + "abc", // 63
        "🦀".repeat(16),         // 64
        "CANARY_0".into(),       // would collide with canary_0 if it lost its quotes
        "Canary_Srv".into(),
        "Robert'); DROP TABLE canary_0;--".into(),
        "\"; DROP TABLE canary_0; --".into(),
        "$$; DROP TABLE canary_0; $$".into(),
        "*/ DROP TABLE canary_0 /*".into(),
        " ".into(),
    ]
}

/// The second hostile name of a case (a column): the first one reversed, or a fixed name
/// when that is the same.
fn second_name(name: &str, fallback: &str) -> String {
    let reversed: String = name.chars().rev().collect();
    if reversed == name {
        fallback.to_owned()
    } else {
        reversed
    }
}

/// The test's own quoting, independent of the crate's: a double-quoted identifier...
fn qi(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// ... and a standard string literal (`standard_conforming_strings` is on).
fn ql(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

const MAPPING_PASSWORD: &str = "map pw 'x' \"y\" \\z $$ é";
const ROLE_PASSWORD: &str = "role pw 'x' \"y\" \\z $$ 日本";

// ---------------------------------------------------------------------------------------
// Helpers

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Refused,
    /// Tier 2: the data nodes refused the hypertable (see `timescaledb_mangles`).
    TimescaleDbBug,
}

trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, TestCaseError>;
}

impl<T, E: Debug> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, TestCaseError> {
        self.map_err(|e| TestCaseError::fail(format!("{what}: {e:?}")))
    }
}

fn refused<T: Debug>(
    what: &str,
    result: timescaledb_multinode::Result<T>,
) -> Result<(), TestCaseError> {
    match result {
        Err(Error::InvalidInput { .. }) => Ok(()),
        other => Err(TestCaseError::fail(format!(
            "{what}: expected Error::InvalidInput, got {other:?}"
        ))),
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        // No regression files in the repository; PROPTEST_RNG_SEED replays a run.
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::with_cases(cases)
    }
}

/// Generated tier 1 cases: `TSMN_PROPTEST_CASES`, default 1,000.
fn tier1_cases() -> u32 {
    std::env::var("TSMN_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Generated tier 2 cases: a thirty-second of tier 1's when the variable is set, default 32.
fn tier2_cases() -> u32 {
    match std::env::var("TSMN_PROPTEST_CASES") {
        Ok(v) => v.parse::<u32>().map(|n| (n / 32).max(1)).unwrap_or(32),
        Err(_) => 32,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// What the server logged since byte `from`.
fn log_since(path: &Path, from: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.seek(SeekFrom::Start(from));
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// With `log_statement = all`, every statement a client sends is logged before it runs.
fn nothing_sent(log: &str) -> bool {
    !log.contains("statement: ") && !log.contains("execute ")
}

/// The named objects of one database: every role, foreign server and user mapping (with
/// their options), every schema, and every non-index relation outside the system and
/// TimescaleDB schemas (with its columns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Catalog {
    roles: BTreeSet<String>,
    schemas: BTreeSet<String>,
    servers: BTreeSet<(String, Vec<String>)>,
    mappings: BTreeSet<(String, String, Vec<String>)>,
    relations: BTreeSet<(String, String, String, Vec<String>)>,
}

const USER_SCHEMAS: &str = "n.nspname !~ '^(pg_|information_schema$|_timescaledb|timescaledb_)'";

async fn snapshot(client: &Client) -> Result<Catalog, TestCaseError> {
    let mut catalog = Catalog::default();
    for row in client
        .query("SELECT rolname::text FROM pg_catalog.pg_roles", &[])
        .await
        .ctx("list roles")?
    {
        catalog.roles.insert(row.get(0));
    }
    for row in client
        .query(
            &format!("SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMAS}"),
            &[],
        )
        .await
        .ctx("list schemas")?
    {
        catalog.schemas.insert(row.get(0));
    }
    for row in client
        .query(
            "SELECT srvname::text, coalesce(srvoptions, '{}')::text[] \
               FROM pg_catalog.pg_foreign_server",
            &[],
        )
        .await
        .ctx("list foreign servers")?
    {
        catalog.servers.insert((row.get(0), row.get(1)));
    }
    for row in client
        .query(
            "SELECT srvname::text, usename::text, coalesce(umoptions, '{}')::text[] \
               FROM pg_catalog.pg_user_mappings",
            &[],
        )
        .await
        .ctx("list user mappings")?
    {
        catalog
            .mappings
            .insert((row.get(0), row.get(1), row.get(2)));
    }
    for row in client
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, c.relkind::text, \
                        ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a \
                               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                               ORDER BY a.attnum) \
                   FROM pg_catalog.pg_class c \
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                  WHERE c.relkind NOT IN ('i', 'I') AND {USER_SCHEMAS}"
            ),
            &[],
        )
        .await
        .ctx("list relations")?
    {
        catalog
            .relations
            .insert((row.get(0), row.get(1), row.get(2), row.get(3)));
    }
    Ok(catalog)
}

/// Drops whatever a failed case left behind (objects not in `baseline`), so that shrinking
/// starts from a clean catalog. Errors are ignored; the next check of the catalog decides.
async fn reset(client: &Client, baseline: &Catalog) {
    let Ok(now) = snapshot(client).await else {
        return;
    };
    let mut statements = Vec::new();
    for (schema, name, _, _) in now.relations.difference(&baseline.relations) {
        statements.push(format!(
            "DROP TABLE IF EXISTS {}.{} CASCADE",
            qi(schema),
            qi(name)
        ));
    }
    for (server, user, _) in now.mappings.difference(&baseline.mappings) {
        statements.push(format!(
            "DROP USER MAPPING IF EXISTS FOR {} SERVER {}",
            qi(user),
            qi(server)
        ));
    }
    for (server, _) in now.servers.difference(&baseline.servers) {
        statements.push(format!("DROP SERVER IF EXISTS {} CASCADE", qi(server)));
    }
    for role in now.roles.difference(&baseline.roles) {
        statements.push(format!("DROP OWNED BY {}", qi(role)));
        statements.push(format!("DROP ROLE IF EXISTS {}", qi(role)));
    }
    for statement in statements {
        let _ = client.batch_execute(&statement).await;
    }
}

/// The calls that must refuse an invalid `name` before sending anything, on any server.
async fn refusals(an: &AccessNode, name: &str) -> Result<(), TestCaseError> {
    let pw = || SecretString::from("pw");
    refused("Ident::new", Ident::new(name))?;
    refused(
        "UserMapping role",
        UserMapping::for_role(name, "canary_srv")
            .password(pw())
            .idempotent()
            .run(an)
            .await,
    )?;
    refused(
        "UserMapping server",
        UserMapping::new(RoleSpec::CurrentUser, name)
            .password(pw())
            .idempotent()
            .run(an)
            .await,
    )?;
    refused(
        "UserMapping remote user",
        UserMapping::new(RoleSpec::CurrentUser, "canary_srv")
            .remote_user(name)
            .run(an)
            .await,
    )?;
    refused(
        "UserMapping drop",
        DropUserMapping::for_role(name, "canary_srv")
            .idempotent()
            .run(an)
            .await,
    )?;
    let canary = TableName::new(Ident::new("canary_0").ctx("canary name")?);
    refused("ingest column", an.ingest(&canary, &[name]).await)?;
    refused(
        "ingest second column",
        an.ingest(&canary, &["id", name]).await,
    )?;
    // A table is text read as SQL writes it: the name quoted is exactly that one part.
    refused(
        "hypertable table",
        DistributedHypertable::new(qi(name), "t_0").run(an).await,
    )?;
    refused(
        "hypertable schema",
        DistributedHypertable::new(format!("{}.canary_0", qi(name)), "t_0")
            .run(an)
            .await,
    )?;
    refused(
        "hypertable time column",
        DistributedHypertable::new("canary_0", name).run(an).await,
    )?;
    refused(
        "hypertable partitioning column",
        DistributedHypertable::new("canary_0", "t_0")
            .partitioning_column(name)
            .run(an)
            .await,
    )?;
    refused(
        "hypertable data node",
        DistributedHypertable::new("canary_0", "t_0")
            .data_nodes([name])
            .run(an)
            .await,
    )?;
    refused(
        "distributed exec data node",
        DistributedExec::new(RawSql::vouched("CREATE TABLE never_0(i int)"))
            .data_nodes([name])
            .run(an)
            .await,
    )?;
    refused(
        "distributed role name",
        DistributedRole::new(name, pw()).run(an).await,
    )?;
    refused(
        "distributed role grant",
        DistributedRole::new("role_0", pw())
            .grant([Privilege::Select], qi(name))
            .run(an)
            .await,
    )?;
    refused(
        "data node name",
        DataNode::new(name, "127.0.0.1")
            .password(pw())
            .run(an)
            .await,
    )?;
    refused(
        "data node database",
        DataNode::new("dn_0", "127.0.0.1")
            .database(name)
            .password(pw())
            .run(an)
            .await,
    )?;
    let config = an.config().clone();
    refused(
        "connect as user",
        NodeConfig::new("127.0.0.1", name, pw())
            .port(config.get_port())
            .connect()
            .await,
    )?;
    refused(
        "connect to database",
        config.clone().database(name).connect().await,
    )?;
    refused(
        "pool for user",
        AccessNode::connect(NodeConfig::new("127.0.0.1", name, pw()).port(config.get_port())).await,
    )?;
    Ok(())
}

/// How many cases ended which way.
#[derive(Default)]
struct Tally {
    accepted: Cell<u32>,
    refused: Cell<u32>,
    timescaledb_bug: Cell<u32>,
    with_mapping: Cell<u32>,
}

impl Tally {
    fn count(&self, outcome: Outcome, with_mapping: bool) {
        let cell = match outcome {
            Outcome::Accepted => &self.accepted,
            Outcome::Refused => &self.refused,
            Outcome::TimescaleDbBug => &self.timescaledb_bug,
        };
        cell.set(cell.get() + 1);
        if with_mapping && outcome == Outcome::Accepted {
            self.with_mapping.set(self.with_mapping.get() + 1);
        }
    }
}

/// Runs `case` on the edge names (each with the optional steps), then on `cases` generated
/// (name, with the optional steps) pairs; prints the summary line.
fn run_property(
    tier: &str,
    cases: u32,
    strategy: impl Strategy<Value = (String, bool)>,
    edges: &[String],
    case: impl Fn(&str, bool) -> Result<Outcome, TestCaseError>,
) {
    let started = Instant::now();
    let tally = Tally::default();
    for name in edges {
        match case(name, true) {
            Ok(outcome) => tally.count(outcome, true),
            Err(e) => panic!("hostile identifiers ({tier}): edge name {name:?} failed: {e}"),
        }
    }
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |(name, full)| {
        case(&name, full).map(|outcome| tally.count(outcome, full))
    });
    if let Err(e) = result {
        panic!("hostile identifiers ({tier}): {e}");
    }
    let bug = match tally.timescaledb_bug.get() {
        0 => String::new(),
        n => format!(
            ", {n} refused by the data nodes (TimescaleDB deparse bug with '\"', see \
             hypertable_names_with_a_double_quote_are_refused_or_work)"
        ),
    };
    let _ = writeln!(
        std::io::stderr(),
        "hostile identifiers ({tier}): {} cases ({} edge names + {cases} generated), \
         {} accepted exactly ({} with a user mapping made by the crate), \
         {} refused as invalid input{bug}, {:.1} s",
        tally.accepted.get() + tally.refused.get() + tally.timescaledb_bug.get(),
        edges.len(),
        tally.accepted.get(),
        tally.with_mapping.get(),
        tally.refused.get(),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// Tier 1: one plain PostgreSQL server

struct Tier1 {
    server: LocalServer,
    an: AccessNode,
    baseline: Catalog,
    dirty: Cell<bool>,
}

async fn tier1_setup() -> Tier1 {
    let server = LocalServer::builder("an")
        .timescaledb(false)
        .setting("log_statement", "all")
        .start()
        .await
        .expect("start a plain PostgreSQL server");
    let an = AccessNode::connect(server.config()).await.unwrap();
    let client = an.client().await.unwrap();
    client
        .batch_execute(
            "CREATE EXTENSION postgres_fdw; \
             CREATE SERVER canary_srv FOREIGN DATA WRAPPER postgres_fdw; \
             CREATE TABLE canary_0(id int4, label text); \
             INSERT INTO canary_0 VALUES (1, 'still here')",
        )
        .await
        .unwrap();
    let baseline = snapshot(&client).await.unwrap();
    drop(client);
    Tier1 {
        server,
        an,
        baseline,
        dirty: Cell::new(false),
    }
}

async fn canary_intact(an: &AccessNode) -> Result<(), TestCaseError> {
    let rows = an
        .query(&RawSql::vouched("SELECT id, label FROM canary_0"), &[])
        .await
        .ctx("read canary_0")?;
    let rows: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    prop_assert_eq!(rows, vec![(1, "still here".to_owned())]);
    Ok(())
}

/// Calls that must refuse `name`, with proof from the server log that nothing was sent.
async fn refused_silently(
    an: &AccessNode,
    log_path: &Path,
    name: &str,
) -> Result<Outcome, TestCaseError> {
    let before = log_len(log_path);
    refusals(an, name).await?;
    let log = log_since(log_path, before);
    prop_assert!(nothing_sent(&log), "a refused call sent SQL: {}", log);
    Ok(Outcome::Refused)
}

async fn tier1_case(env: &Tier1, name: &str, with_mapping: bool) -> Result<Outcome, TestCaseError> {
    if env.dirty.replace(true) {
        let client = env.an.client().await.ctx("check out")?;
        reset(&client, &env.baseline).await;
    }
    let outcome = if is_valid(name) {
        tier1_accept(env, name, with_mapping).await?
    } else {
        refused_silently(&env.an, env.server.log_path(), name).await?
    };
    // Back to the baseline: nothing else was created, nothing was dropped.
    let client = env.an.client().await.ctx("check out")?;
    prop_assert_eq!(snapshot(&client).await?, env.baseline.clone());
    drop(client);
    canary_intact(&env.an).await?;
    env.dirty.set(false);
    Ok(outcome)
}

async fn tier1_accept(
    env: &Tier1,
    name: &str,
    with_mapping: bool,
) -> Result<Outcome, TestCaseError> {
    let an = &env.an;
    let ident = Ident::new(name).ctx("Ident::new of a valid name")?;
    prop_assert_eq!(ident.as_str(), name);
    let column = second_name(name, "v_0");
    let q = qi(name);

    // A role, a foreign server and a table with hostile names, quoted by the test.
    for sql in [
        format!("CREATE ROLE {q} LOGIN"),
        format!(
            "CREATE SERVER {q} FOREIGN DATA WRAPPER postgres_fdw \
             OPTIONS (host '127.0.0.1', dbname {})",
            ql(name)
        ),
        format!("CREATE TABLE {q} ({q} int4, {} text)", qi(&column)),
    ] {
        an.execute(&RawSql::vouched(sql), &[])
            .await
            .ctx("create with the test's quoting")?;
    }

    // The crate (in some cases: each call opens a session, and SCRAM in a debug build costs
    // tens of milliseconds): a user mapping of the hostile role on the hostile server,
    // logging in as the hostile user.
    let mapping = || {
        UserMapping::for_role(name, name)
            .remote_user(name)
            .password(SecretString::from(MAPPING_PASSWORD))
    };
    if with_mapping {
        prop_assert_eq!(
            mapping()
                .idempotent()
                .run(an)
                .await
                .ctx("ensure user mapping")?,
            MappingChange::Created
        );
    }

    // The crate: binary COPY into the hostile table's hostile columns.
    let table = TableName::new(ident);
    let mut ingest = an
        .ingest(&table, &[name, column.as_str()])
        .await
        .ctx("start ingest")?;
    ingest.write(&[&42i32, &name]).await.ctx("ingest a row")?;
    prop_assert_eq!(ingest.finish().await.ctx("finish ingest")?, 1);

    // The names, looked up with the name as a bind parameter.
    let rows = an
        .query(
            &RawSql::vouched(
                "SELECT ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = $1), \
                        ARRAY(SELECT srvname::text FROM pg_catalog.pg_foreign_server \
                               WHERE srvname = $1), \
                        ARRAY(SELECT relname::text FROM pg_catalog.pg_class \
                               WHERE relname = $1 AND relnamespace = 'public'::regnamespace), \
                        ARRAY(SELECT usename::text FROM pg_catalog.pg_user_mappings \
                               WHERE srvname = $1 AND usename = $1)",
            ),
            &[&name],
        )
        .await
        .ctx("look the name up")?;
    let one = vec![name.to_owned()];
    for i in 0..3 {
        prop_assert_eq!(
            rows[0].get::<_, Vec<String>>(i),
            one.clone(),
            "column {}",
            i
        );
    }
    let mappings = if with_mapping { one.clone() } else { vec![] };
    prop_assert_eq!(rows[0].get::<_, Vec<String>>(3), mappings);

    // The row, read back with the test's quoting.
    let rows = an
        .query(
            &RawSql::vouched(format!("SELECT {q}, {} FROM {q}", qi(&column))),
            &[],
        )
        .await
        .ctx("read the row back")?;
    prop_assert_eq!(rows.len(), 1);
    prop_assert_eq!(rows[0].get::<_, i32>(0), 42);
    prop_assert_eq!(rows[0].get::<_, String>(1), name);

    // The whole catalog: exactly the baseline plus these objects.
    let mut expected = env.baseline.clone();
    expected.roles.insert(name.to_owned());
    expected.servers.insert((
        name.to_owned(),
        vec!["host=127.0.0.1".to_owned(), format!("dbname={name}")],
    ));
    if with_mapping {
        expected.mappings.insert((
            name.to_owned(),
            name.to_owned(),
            vec![
                format!("user={name}"),
                format!("password={MAPPING_PASSWORD}"),
            ],
        ));
    }
    expected.relations.insert((
        "public".to_owned(),
        name.to_owned(),
        "r".to_owned(),
        vec![name.to_owned(), column.clone()],
    ));
    let client = an.client().await.ctx("check out")?;
    prop_assert_eq!(snapshot(&client).await?, expected);
    drop(client);
    canary_intact(an).await?;

    // Clean up: the mapping through the crate, the rest with the test's quoting.
    if with_mapping {
        let dropped = DropUserMapping::for_role(name, name)
            .run(an)
            .await
            .ctx("drop user mapping")?;
        prop_assert!(dropped);
    }
    for sql in [
        format!("DROP TABLE {q}"),
        format!("DROP SERVER {q}"),
        format!("DROP ROLE {q}"),
    ] {
        an.execute(&RawSql::vouched(sql), &[])
            .await
            .ctx("drop with the test's quoting")?;
    }
    Ok(Outcome::Accepted)
}

#[test]
fn hostile_identifiers_round_trip_through_postgres() {
    assert_eq!(MAX_IDENT_BYTES, 63);
    let rt = runtime();
    let env = rt.block_on(tier1_setup());
    // The user mapping (two sessions, each a SCRAM handshake: tens of milliseconds in a
    // debug build) in 4% of the generated cases and every edge case.
    let strategy = (hostile_name(), prop::bool::weighted(0.04));
    run_property(
        "tier 1",
        tier1_cases(),
        strategy,
        &edge_names(),
        |name, full| rt.block_on(tier1_case(&env, name, full)),
    );
    // The mapping password never reached the log (the crate turns statement logging off).
    assert!(!env.server.log().contains(MAPPING_PASSWORD));
    let Tier1 { server, an, .. } = env;
    drop(an);
    rt.block_on(server.shutdown()).unwrap();
}

// ---------------------------------------------------------------------------------------
// Tier 2: one TimescaleDB multi-node cluster of 1 + 2

struct Tier2 {
    cluster: LocalCluster,
    an: AccessNode,
    an_client: Client,
    dn_clients: Vec<Client>,
    an_baseline: Catalog,
    dn_baselines: Vec<Catalog>,
    dirty: Cell<bool>,
}

/// A cluster of 1 + 2 with TimescaleDB everywhere and both data nodes added.
async fn joined_cluster(log_statements: bool) -> (LocalCluster, AccessNode) {
    let mut builder = LocalCluster::builder().data_nodes(2);
    if log_statements {
        builder = builder.setting("log_statement", "all");
    }
    let cluster = builder.start().await.expect("start a local cluster");
    let an =
        crate::common::join(&cluster, timescaledb_multinode::pool::PoolConfig::default()).await;
    (cluster, an)
}

async fn tier2_setup() -> Tier2 {
    let (cluster, an) = joined_cluster(true).await;
    DistributedExec::new(RawSql::vouched("CREATE SCHEMA exec_0"))
        .run(&an)
        .await
        .unwrap();
    let an_client = cluster.access_node_config().connect().await.unwrap();
    an_client
        .batch_execute(
            "CREATE TABLE canary_0(id int4, label text); \
             INSERT INTO canary_0 VALUES (1, 'still here'); \
             CREATE TABLE ht_0(t_0 timestamptz NOT NULL, p_0 int4 NOT NULL)",
        )
        .await
        .unwrap();
    DistributedHypertable::new("ht_0", "t_0")
        .partitioning_column("p_0")
        .run(&an)
        .await
        .unwrap();
    an_client
        .batch_execute("INSERT INTO ht_0 VALUES ('2024-01-01', 1), ('2024-01-01', 2)")
        .await
        .unwrap();
    let mut dn_clients = Vec::new();
    for config in cluster.data_node_configs() {
        dn_clients.push(config.connect().await.unwrap());
    }
    let an_baseline = snapshot(&an_client).await.unwrap();
    let mut dn_baselines = Vec::new();
    for client in &dn_clients {
        dn_baselines.push(snapshot(client).await.unwrap());
    }
    Tier2 {
        cluster,
        an,
        an_client,
        dn_clients,
        an_baseline,
        dn_baselines,
        dirty: Cell::new(false),
    }
}

async fn tier2_case(env: &Tier2, name: &str) -> Result<Outcome, TestCaseError> {
    if env.dirty.replace(true) {
        reset(&env.an_client, &env.an_baseline).await;
        for (client, baseline) in env.dn_clients.iter().zip(&env.dn_baselines) {
            reset(client, baseline).await;
        }
    }
    let outcome = if is_valid(name) {
        tier2_accept(env, name).await?
    } else {
        let outcome = refused_silently(&env.an, env.cluster.access_node().log_path(), name).await?;
        // Refused too, though only after reading what the access node runs.
        refused(
            "distributed role data node",
            DistributedRole::new("role_0", SecretString::from("pw"))
                .data_nodes([name])
                .run(&env.an)
                .await,
        )?;
        outcome
    };
    prop_assert_eq!(snapshot(&env.an_client).await?, env.an_baseline.clone());
    for (client, baseline) in env.dn_clients.iter().zip(&env.dn_baselines) {
        prop_assert_eq!(snapshot(client).await?, baseline.clone());
    }
    canary_intact(&env.an).await?;
    env.dirty.set(false);
    Ok(outcome)
}

/// TimescaleDB 2.13.1 (`tsl/src/deparse.c`) writes the schema, table and column names of
/// the `CREATE TABLE` it sends to the data nodes as `"%s"`, without doubling a `"` inside:
/// such a name breaks, or rewrites, the data nodes' statement.
fn timescaledb_mangles(name: &str) -> bool {
    name.contains('"')
}

async fn tier2_accept(env: &Tier2, name: &str) -> Result<Outcome, TestCaseError> {
    let an = &env.an;
    let ident = Ident::new(name).ctx("Ident::new of a valid name")?;
    let time_column = second_name(name, "t_0");
    let q = qi(name);
    let qt = qi(&time_column);
    let columns = vec![time_column.clone(), name.to_owned(), "v_0".to_owned()];
    let mut outcome = Outcome::Accepted;

    // A table with a hostile name and hostile columns, quoted by the test, distributed by
    // the crate on the hostile time column and hostile partitioning column.
    an.execute(
        &RawSql::vouched(format!(
            "CREATE TABLE {q} ({qt} timestamptz NOT NULL, {q} int4 NOT NULL, v_0 float8)"
        )),
        &[],
    )
    .await
    .ctx("create table")?;
    // The table as SQL text (quoted, so exactly the hostile name); the grant below names it
    // as a `TableName`.
    let table = TableName::new(ident);
    let created = DistributedHypertable::new(q.as_str(), time_column.as_str())
        .partitioning_column(name)
        .run(an)
        .await;
    let distributed = match created {
        Ok(created) => {
            prop_assert!(created.created);
            prop_assert_eq!(created.schema.as_str(), "public");
            prop_assert_eq!(created.name.as_str(), name);
            true
        }
        // Known: see `timescaledb_mangles`; the strict test below fails on it. Here the
        // property goes on with the table left local.
        Err(Error::InvalidInput { .. }) if timescaledb_mangles(name) => false,
        Err(e @ Error::Database { .. }) if timescaledb_mangles(name) => {
            let node = e.node().unwrap_or_default();
            prop_assert!(node == "dn1" || node == "dn2", "{:?}", e);
            outcome = Outcome::TimescaleDbBug;
            false
        }
        Err(e) => return Err(TestCaseError::fail(format!("create hypertable: {e:?}"))),
    };

    // Two rows through binary COPY into the hostile columns.
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    let mut ingest = an
        .ingest(&table, &[time_column.as_str(), name, "v_0"])
        .await
        .ctx("start ingest")?;
    for (part, v) in [(1i32, 0.5f64), (2, 1.5)] {
        ingest.write(&[&t0, &part, &v]).await.ctx("ingest a row")?;
    }
    prop_assert_eq!(ingest.finish().await.ctx("finish ingest")?, 2);

    // A table made on dn1 only by distributed_exec, quoted by the test.
    DistributedExec::new(RawSql::vouched(format!(
        "CREATE TABLE exec_0.{q} ({qt} int4)"
    )))
    .data_nodes(["dn1"])
    .run(an)
    .await
    .ctx("distributed exec")?;

    // A role with the hostile name everywhere, with SELECT on the hostile table and on the
    // distributed hypertable ht_0 (that GRANT goes to the data nodes too).
    DistributedRole::new(name, SecretString::from(ROLE_PASSWORD))
        .grant([Privilege::Select], &table)
        .grant([Privilege::Select], "ht_0")
        .run(an)
        .await
        .ctx("apply distributed role")?;

    // Read back, all at once (each read is independent of the others): the hypertable as
    // the crate describes it; its dimensions; both tables' rows as the role, which logs in
    // to the access node (ht_0's rows, and the hostile table's when it is distributed,
    // come from the data nodes through the role's user mappings with the hostile remote
    // user); and on each data node, with the name as a bind parameter, the role, the
    // tables and the grants.
    let dimensions = RawSql::vouched(
        "SELECT column_name::text, dimension_type::text \
           FROM timescaledb_information.dimensions \
          WHERE hypertable_schema = 'public' AND hypertable_name = $1 \
          ORDER BY dimension_number",
    );
    let as_role = async {
        let client = NodeConfig::new("127.0.0.1", name, SecretString::from(ROLE_PASSWORD))
            .name("an")
            .port(env.cluster.access_node().port())
            .database("tsdb")
            .connect()
            .await
            .map_err(|e| format!("log in: {e:?}"))?;
        client
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM {q}), (SELECT sum({q})::int8 FROM {q}), \
                            (SELECT count(*) FROM ht_0)"
                ),
                &[],
            )
            .await
            .map_err(|e| format!("read: {e:?}"))
    };
    let lookup = RawSql::vouched(
        "SELECT ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = $1), \
                ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_class c \
                        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                       WHERE c.relname = $1 AND c.relkind = 'r' ORDER BY 1), \
                ARRAY(SELECT c.relname::text FROM pg_catalog.pg_class c \
                        JOIN pg_catalog.pg_roles r ON r.rolname = $1 \
                       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' \
                         AND has_table_privilege(r.oid, c.oid, 'SELECT') ORDER BY 1)",
    );
    let data_nodes = env.cluster.data_node_configs();
    let params: [&(dyn ToSql + Sync); 1] = [&name];
    let (info, dimensions, as_role, entries) = tokio::join!(
        an.hypertable(&table),
        an.query(&dimensions, &params),
        as_role,
        timescaledb_multinode::data::query_each(&data_nodes, &lookup, &params),
    );

    let info = info.ctx("describe hypertable")?;
    if distributed {
        let info = info.ok_or_else(|| TestCaseError::fail("not a hypertable"))?;
        prop_assert_eq!(info.schema.as_str(), "public");
        prop_assert_eq!(info.name.as_str(), name);
        prop_assert!(info.is_distributed);
        prop_assert_eq!(
            info.data_nodes.clone(),
            vec!["dn1".to_owned(), "dn2".to_owned()]
        );
    } else {
        prop_assert!(info.is_none(), "{:?}", info);
    }
    let dims: Vec<(String, String)> = dimensions
        .ctx("read dimensions")?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if distributed {
        prop_assert_eq!(
            dims,
            vec![
                (time_column.clone(), "Time".to_owned()),
                (name.to_owned(), "Space".to_owned())
            ]
        );
    } else {
        prop_assert!(dims.is_empty());
    }
    let row = as_role.ctx("log in and read as the role")?;
    prop_assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (2, 3, 2)
    );
    for (i, entry) in entries.iter().enumerate() {
        let rows = entry.result.as_ref().ctx(&entry.node)?;
        let mut schemas = Vec::new();
        if i == 0 {
            schemas.push("exec_0");
        }
        let mut granted = vec!["ht_0".to_owned()];
        if distributed {
            schemas.push("public");
            granted.push(name.to_owned());
            granted.sort();
        }
        prop_assert_eq!(rows[0].get::<_, Vec<String>>(0), vec![name.to_owned()]);
        prop_assert_eq!(rows[0].get::<_, Vec<String>>(1), schemas);
        prop_assert_eq!(rows[0].get::<_, Vec<String>>(2), granted);
    }

    // The whole catalog of every node: the baseline plus exactly these objects.
    let mut expected = env.an_baseline.clone();
    expected.roles.insert(name.to_owned());
    for dn in ["dn1", "dn2"] {
        expected.mappings.insert((
            dn.to_owned(),
            name.to_owned(),
            vec![format!("user={name}"), format!("password={ROLE_PASSWORD}")],
        ));
    }
    expected.relations.insert((
        "public".to_owned(),
        name.to_owned(),
        "r".to_owned(),
        columns.clone(),
    ));
    prop_assert_eq!(snapshot(&env.an_client).await?, expected);
    for (i, (client, baseline)) in env.dn_clients.iter().zip(&env.dn_baselines).enumerate() {
        let mut expected = baseline.clone();
        expected.roles.insert(name.to_owned());
        if distributed {
            expected.relations.insert((
                "public".to_owned(),
                name.to_owned(),
                "r".to_owned(),
                columns.clone(),
            ));
        }
        if i == 0 {
            expected.relations.insert((
                "exec_0".to_owned(),
                name.to_owned(),
                "r".to_owned(),
                vec![time_column.clone()],
            ));
        }
        prop_assert_eq!(snapshot(client).await?, expected, "data node {}", i + 1);
    }

    // Clean up with the test's quoting: on the access node the table (a hypertable: on
    // every node), the role's grants and mappings, the role; on the data nodes the exec
    // table, the role's grants, the role.
    // (One statement at a time: TimescaleDB forwards a distributed DROP TABLE to the data
    // nodes as the whole query string, which must then be a single statement.)
    for sql in [
        format!("DROP TABLE {q}"),
        format!("DROP OWNED BY {q}"),
        format!("DROP ROLE {q}"),
    ] {
        an.execute(&RawSql::vouched(sql), &[])
            .await
            .ctx("drop on the access node")?;
    }
    DistributedExec::new(RawSql::vouched(format!(
        "DO {}",
        ql(&format!(
            "BEGIN DROP TABLE IF EXISTS exec_0.{q}; DROP OWNED BY {q}; DROP ROLE {q}; END"
        ))
    )))
    .run(an)
    .await
    .ctx("drop on the data nodes")?;
    Ok(outcome)
}

#[test]
fn hostile_identifiers_round_trip_through_a_multinode_cluster() {
    let Some(_) = tier2() else { return };
    let rt = runtime();
    let env = rt.block_on(tier2_setup());
    // A few edge names; the generated ones cover the rest.
    let edges: Vec<String> = vec![
        String::new(),
        "a\0b".into(),
        "a".repeat(64),
        "'".repeat(63),
        "x".repeat(62) + "é",
        "🦀".repeat(15) + "abc",
        "CANARY_0".into(),
        "Robert'); DROP TABLE canary_0;--".into(),
        "$$; DROP TABLE canary_0; $$".into(),
        "\"; DROP TABLE canary_0; --".into(),
    ];
    // Three names in four have their '"' turned into '\'', so that most cases get past the
    // known TimescaleDB bug (see `timescaledb_mangles`) to the distributed steps.
    let strategy = (hostile_name(), prop::bool::weighted(0.25)).prop_map(|(name, keep)| {
        let name = if keep { name } else { name.replace('"', "'") };
        (name, true)
    });
    run_property("tier 2", tier2_cases(), strategy, &edges, |name, _| {
        rt.block_on(tier2_case(&env, name))
    });
    let Tier2 {
        cluster,
        an,
        an_client,
        dn_clients,
        ..
    } = env;
    drop((an, an_client, dn_clients));
    rt.block_on(cluster.shutdown()).unwrap();
}

/// The promise for names with a `"`: a distributed hypertable whose table or columns have
/// one is created exactly, or refused with `Error::InvalidInput` before anything is sent.
///
/// Why the crate must refuse them: TimescaleDB 2.13.1's `CREATE TABLE` for the data nodes
/// quotes names as `"%s"` without doubling a `"` (`tsl/src/deparse.c`), so without the
/// guard `a"b` is a syntax error on the data nodes, and `x"AS SELECT 1/0 AS y--` runs its
/// SELECT there (22012: division by zero).
#[test]
fn hypertable_names_with_a_double_quote_are_refused_or_work() {
    let Some(_) = tier2() else { return };
    let rt = runtime();
    rt.block_on(async {
        let (cluster, an) = joined_cluster(false).await;
        let mut failures = Vec::new();
        for (table, time, partitioning) in [
            ("a\"b", "t", None),
            ("c", "t\"x", None),
            ("d", "t", Some("p\"x")),
            ("x\"AS SELECT 1/0 AS y--", "t", None),
        ] {
            let part = partitioning.unwrap_or("p");
            an.execute(
                &RawSql::vouched(format!(
                    "CREATE TABLE {}({} timestamptz NOT NULL, {} int4 NOT NULL)",
                    qi(table),
                    qi(time),
                    qi(part)
                )),
                &[],
            )
            .await
            .unwrap();
            // The table's name quoted, so the text reads back as exactly that name.
            let mut builder = DistributedHypertable::new(qi(table), time);
            if let Some(column) = partitioning {
                builder = builder.partitioning_column(column);
            }
            match builder.run(&an).await {
                Ok(created) if created.name == table => {}
                Err(Error::InvalidInput { .. }) => {}
                other => failures.push(format!(
                    "table {table:?}, time column {time:?}, partitioning column \
                     {partitioning:?}: {other:?}"
                )),
            }
        }
        cluster.shutdown().await.unwrap();
        assert!(
            failures.is_empty(),
            "distributed hypertables with '\"' in a name neither work nor are refused:\n{}",
            failures.join("\n")
        );
    });
}
