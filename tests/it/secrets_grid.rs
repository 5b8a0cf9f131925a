//! The secrets grid (tier 2): for both admin models and each logging setting below, every
//! operation that carries a secret runs on a real 1 + 2 cluster with sentinel passwords
//! (some failing on purpose), then every node's server log, `pg_stat_statements`,
//! `pg_stat_activity`, the captured traces and every returned error (Display, Debug and
//! sources) are searched for each sentinel, for the SCRAM verifiers the servers stored, and
//! for any SCRAM verifier at all (`SCRAM-SHA-256$4096:`). A cell passes with 0 hits, or with
//! a refusal naming the setting before anything was sent. A control in each cell proves the
//! search finds a secret where the setting records one: statements the test sends with a
//! secret in clear, and where an operation was refused, the same sent with
//! `SecretLogging::Accept`, must be found. The table is printed (run with
//! `--nocapture`) in the form the README's Security section shows.

use std::error::Error as _;
use std::fmt::Write as _;
use std::sync::Arc;

use timescaledb_multinode::lifecycle::MappingChange;
use timescaledb_multinode::testing::{
    skip_or_fail, AdminModel, LocalCluster, LocalServer, PgInstall,
};
use timescaledb_multinode::{
    AccessNode, Bootstrap, Cluster, DataNode, DistributedRole, Error, ExposeSecret, RoleSpec,
    SecretLogging, SecretString, UpdateExtension, UserMapping,
};
use tokio::sync::Semaphore;

use crate::common::tier2;
use crate::notices::capture;

/// Cells that run at once (each a cluster of three servers).
const CONCURRENT_CELLS: usize = 3;

/// Any SCRAM verifier (PostgreSQL's default iteration count).
const VERIFIER_PREFIX: &str = "SCRAM-SHA-256$4096:";

/// The logging settings of the grid, each on every node: a name for the table, and the
/// settings (a later one wins in `postgresql.conf`). Every cell preloads `passwordcheck`,
/// which refuses a password equal to the role's name even as a verifier: the way a role
/// statement is made to fail on the data nodes only.
const SETTINGS: &[(&str, &[(&str, &str)])] = &[
    ("defaults, statements that fail", &[]),
    ("`log_statement = ddl`", &[("log_statement", "ddl")]),
    ("`log_statement = all`", &[("log_statement", "all")]),
    (
        "`log_min_duration_statement = 0`",
        &[("log_min_duration_statement", "0")],
    ),
    (
        "`log_parameter_max_length_on_error = -1`",
        &[("log_parameter_max_length_on_error", "-1")],
    ),
    (
        "`log_min_messages = debug2`",
        &[("log_min_messages", "debug2")],
    ),
    (
        "`pg_stat_statements`, `track_utility = on`",
        &[
            (
                "shared_preload_libraries",
                "timescaledb,passwordcheck,pg_stat_statements",
            ),
            ("pg_stat_statements.track_utility", "on"),
        ],
    ),
    (
        "`log_min_duration_statement = 250ms`, `log_parameter_max_length = 64B`",
        &[
            ("log_min_duration_statement", "250ms"),
            ("log_parameter_max_length", "64B"),
        ],
    ),
    (
        "`auto_explain`",
        &[
            (
                "shared_preload_libraries",
                "timescaledb,passwordcheck,auto_explain",
            ),
            ("auto_explain.log_min_duration", "0"),
        ],
    ),
    (
        "`auto_explain`, verbose, nested",
        &[
            (
                "shared_preload_libraries",
                "timescaledb,passwordcheck,auto_explain",
            ),
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_verbose", "on"),
            ("auto_explain.log_nested_statements", "on"),
        ],
    ),
    (
        "`pgaudit`, every class, with parameters",
        &[
            (
                "shared_preload_libraries",
                "timescaledb,passwordcheck,pgaudit",
            ),
            ("pgaudit.log", "all"),
            ("pgaudit.log_parameter", "on"),
        ],
    ),
];

/// Whether the grid can run cell `setting` here: the `pgaudit` cell needs the library
/// (Debian's `postgresql-15-pgaudit`; `.ci/run` installs it), else it is skipped, or fails
/// where tier 2 is required.
fn cell_runs_here(setting: usize) -> bool {
    let (name, settings) = SETTINGS[setting];
    let wants_pgaudit = settings.iter().any(|(_, v)| v.contains("pgaudit"));
    if !wants_pgaudit {
        return true;
    }
    let install = PgInstall::discover().expect("the installation tier 2 runs on");
    if install.pkglibdir().join("pgaudit.so").exists() {
        return true;
    }
    skip_or_fail::<()>(
        &format!("the secrets grid's cell {name}"),
        format!(
            "pgaudit is not installed in {} (Debian: postgresql-{}-pgaudit)",
            install.pkglibdir().display(),
            install.major()
        ),
    );
    false
}

/// The operations, in the order they run, as the table's columns.
const OPERATIONS: &[&str] = &[
    "add data node",
    "user mapping create",
    "user mapping update",
    "distributed role",
    "rotation",
    "`Cluster::apply`",
];

/// What one operation did in one cell.
#[derive(Debug, Default)]
struct Outcome {
    /// The secrets it sent.
    secrets: Vec<String>,
    /// The setting it was refused for, if it was.
    refused: Option<String>,
    /// Errors it returned (intended failures included), as shown to a caller.
    shown: String,
    /// A failure that was not intended.
    unexpected: Vec<String>,
}

impl Outcome {
    /// Records `result`: intended failures (`expect_failure`) must fail, others succeed; a
    /// refusal is recorded either way.
    fn record<T>(&mut self, what: &str, result: Result<T, Error>, expect_failure: bool) {
        match result {
            Ok(_) if expect_failure => self.unexpected.push(format!("{what}: succeeded")),
            Ok(_) => {}
            Err(e) => {
                self.shown += &shown(&e);
                match &e {
                    Error::SecretWouldBeLogged { setting, .. } => {
                        self.refused.get_or_insert_with(|| setting.clone());
                    }
                    _ if expect_failure => {}
                    _ => self.unexpected.push(format!("{what}: {e}")),
                }
            }
        }
    }
}

/// Everything an error shows: Display, Debug, and every source's Display and Debug.
fn shown(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}\n");
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = writeln!(text, "{cause}\n{cause:?}");
        source = cause.source();
    }
    text
}

/// A sentinel password for `what` in cell `cell`: quotes, a backslash, dollar quotes, a
/// percent sign and a non-ASCII letter, all of which must survive quoting.
fn sentinel(cell: usize, what: &str) -> String {
    format!("Sent1nel-{cell}-{what}-\u{e9}'\"\\;$$%s-pw")
}

/// What is searched for a secret: its part before the first character that quoting could
/// change (a quote, a backslash), so that the secret is found however a server escaped it (a
/// statement's literal, a logged parameter). Sentinels have 20 and more plain characters
/// before one; passwords and verifiers have none.
fn needle(secret: &str) -> &str {
    let end = secret.find(['\'', '"', '\\']).unwrap_or(secret.len());
    &secret[..end]
}

/// One cell's result.
struct CellResult {
    model: AdminModel,
    setting: &'static str,
    /// Per operation: hits of its secrets, and the refusal.
    ops: Vec<(usize, Option<String>)>,
    /// Hits of any SCRAM verifier.
    verifier_hits: usize,
    /// Hits of the control secrets (must be found).
    control_hits: usize,
    unexpected: Vec<String>,
}

async fn run_cell(index: usize, model: AdminModel, setting: usize) -> CellResult {
    let (name, settings) = SETTINGS[setting];
    let mut builder = LocalCluster::builder()
        .admin(model)
        .setting("shared_preload_libraries", "timescaledb,passwordcheck");
    for (k, v) in settings.iter() {
        builder = builder.setting(*k, *v);
    }
    let local = builder.start().await.expect("cluster");
    let pgss = settings
        .iter()
        .any(|(_, v)| v.contains("pg_stat_statements"));
    if pgss {
        for node in local.nodes() {
            node.superuser_client("tsdb")
                .await
                .unwrap()
                .batch_execute("CREATE EXTENSION pg_stat_statements")
                .await
                .unwrap();
        }
    }
    let mut unexpected_controls = Vec::new();
    let mut outcomes: Vec<Outcome> = OPERATIONS.iter().map(|_| Outcome::default()).collect();
    UpdateExtension::new()
        .run_cluster(&local.access_node_config(), &local.data_node_configs())
        .await
        .unwrap();
    let an = AccessNode::connect(local.access_node_config())
        .await
        .unwrap();
    an.execute(
        &timescaledb_multinode::RawSql::vouched("CREATE ROLE grid_user"),
        &[],
    )
    .await
    .unwrap();

    // The control: statements the test itself sends with a secret in clear, which each
    // setting must record somewhere searched; proves the search would find a leak.
    let control = sentinel(index, "control");
    let mut control_shown = String::new();
    let admin = local.access_node_config().connect().await.unwrap();
    let clear = [
        format!(
            "ALTER ROLE grid_no_such_role PASSWORD {}",
            literal(&control)
        ),
        format!("COMMENT ON ROLE grid_user IS {}", literal(&control)),
    ];
    for sql in &clear {
        if let Err(e) = admin.batch_execute(sql).await {
            control_shown += &format!("{e}\n{e:?}\n");
        }
    }
    if let Err(e) = admin.query("SELECT $1::text::int", &[&control]).await {
        control_shown += &format!("{e}\n{e:?}\n");
    }

    // Add data node: both data nodes with their own passwords, and one with a wrong
    // password (a sentinel), which fails.
    let out = &mut outcomes[0];
    for dn in local.data_nodes() {
        out.secrets.push(dn.password().expose_secret().to_owned());
        let added = DataNode::from_config(&dn.config())
            .bootstrap(Bootstrap::ExistingDatabase)
            .run(&an)
            .await;
        out.record("add", added, false);
    }
    let wrong = sentinel(index, "add-wrong");
    out.secrets.push(wrong.clone());
    let failed = DataNode::new("dn_wrong", "127.0.0.1")
        .port(local.data_nodes()[0].port())
        .database("tsdb")
        .password(SecretString::from(wrong))
        .bootstrap(Bootstrap::ExistingDatabase)
        .run(&an)
        .await;
    out.record("add with a wrong password", failed, true);

    // User mapping create, and create again (fails: it exists).
    let out = &mut outcomes[1];
    let created = sentinel(index, "mapping-create");
    let again = sentinel(index, "mapping-again");
    out.secrets.extend([created.clone(), again.clone()]);
    // The PUBLIC mapping: one whose options the managed admin may read (it owns the
    // server), so it may alter it option by option.
    let mapping = |pw: &str| {
        UserMapping::new(RoleSpec::Public, "dn1")
            .remote_user("grid_user")
            .password(SecretString::from(pw.to_owned()))
    };
    out.record("create", mapping(&created).run(&an).await, false);
    out.record("create again", mapping(&again).run(&an).await, true);

    // An existing user mapping updated (`idempotent()`: option by option), and a mapping
    // on a server that does not exist (fails).
    let out = &mut outcomes[2];
    let altered = sentinel(index, "mapping-update");
    let missing = sentinel(index, "mapping-missing");
    out.secrets.extend([altered.clone(), missing.clone()]);
    let updated = mapping(&altered).idempotent().run(&an).await;
    if let Ok(change) = &updated {
        assert_eq!(
            *change,
            MappingChange::Updated,
            "an existing mapping is updated"
        );
    }
    out.record("update", updated, false);
    let on_missing = UserMapping::for_role("grid_user", "no_such_dn")
        .password(SecretString::from(missing))
        .idempotent()
        .run(&an)
        .await;
    out.record("update on a missing server", on_missing, true);

    // Distributed role, and one whose data-node password equals its name, which
    // passwordcheck refuses on the data nodes only.
    let out = &mut outcomes[3];
    let role_an = sentinel(index, "role-an");
    let role_dn = sentinel(index, "role-dn");
    let fail_an = sentinel(index, "role-fail-an");
    out.secrets
        .extend([role_an.clone(), role_dn.clone(), fail_an.clone()]);
    let role = DistributedRole::new("grid_role", SecretString::from(role_an))
        .data_node_password(SecretString::from(role_dn));
    out.record("apply", role.run(&an).await, false);
    let failing = DistributedRole::new("grid_pwfail", SecretString::from(fail_an))
        .data_node_password(SecretString::from("grid_pwfail"));
    out.record(
        "apply refused on the data nodes",
        failing.run(&an).await,
        true,
    );
    if out.refused.is_none() {
        // The role's verifiers as the servers stored them.
        for node in local.nodes() {
            out.secrets
                .extend(stored_verifiers(node, "grid_role").await);
        }
    }

    // Rotation of dn1's password, and of dn2's to its user name (passwordcheck refuses).
    let out = &mut outcomes[4];
    let rotated = sentinel(index, "rotate");
    out.secrets.push(rotated.clone());
    let cluster = local
        .data_nodes()
        .iter()
        .fold(Cluster::new(local.access_node_config()), |c, dn| {
            c.data_node(dn.config())
        });
    match cluster
        .rotate_password("dn1", SecretString::from(rotated.clone()))
        .await
    {
        Ok(rotation) => match rotation.failure {
            None if rotation.verified => {}
            None => out.unexpected.push("rotation: not verified".into()),
            Some((_, e)) => out.record("rotation", Err::<(), _>(e), false),
        },
        Err(e) => out.record("rotation", Err::<(), _>(e), false),
    }
    match cluster
        .rotate_password("dn2", SecretString::from("tsdbadmin"))
        .await
    {
        Ok(rotation) => match rotation.failure {
            Some((_, e)) => out.record("rotation refused", Err::<(), _>(e), true),
            None => out
                .unexpected
                .push("rotation to the user name: succeeded".into()),
        },
        Err(e) => out.record("rotation refused", Err::<(), _>(e), true),
    }
    let rotated_ok = out.refused.is_none();
    if rotated_ok {
        out.secrets
            .extend(stored_verifiers(&local.data_nodes()[0], "tsdbadmin").await);
    }

    // Cluster::apply: the data nodes (dn1 with its rotated password, when it was) and a
    // role.
    let out = &mut outcomes[5];
    let apply_role = sentinel(index, "apply-role");
    out.secrets.push(apply_role.clone());
    let dn1 = if rotated_ok {
        local.data_nodes()[0]
            .config()
            .password(SecretString::from(rotated))
    } else {
        local.data_nodes()[0].config()
    };
    let spec = Cluster::new(local.access_node_config())
        .data_node(dn1)
        .data_node(local.data_nodes()[1].config())
        .role(DistributedRole::new(
            "grid_apply",
            SecretString::from(apply_role),
        ));
    out.record("apply", spec.apply().await, false);

    // Where refused: the same with the risk accepted goes through.
    let accepted = sentinel(index, "control-accepted");
    if outcomes[1].refused.is_some() {
        // No data node was added here: a postgres_fdw server the admin may use instead.
        local
            .access_node()
            .superuser_client("tsdb")
            .await
            .unwrap()
            .batch_execute(
                "CREATE EXTENSION postgres_fdw; \
                 CREATE SERVER grid_srv FOREIGN DATA WRAPPER postgres_fdw; \
                 GRANT USAGE ON FOREIGN SERVER grid_srv TO tsdbadmin",
            )
            .await
            .unwrap();
        let accepting = an.clone().secret_logging(SecretLogging::Accept);
        let created = UserMapping::new(RoleSpec::CurrentUser, "grid_srv")
            .password(SecretString::from(accepted.clone()))
            .run(&accepting)
            .await;
        if let Err(e) = created {
            unexpected_controls.push(format!("accepted mapping: {e}"));
        }
    }

    // Where only the role was refused (data nodes reachable): the role accepted; its
    // verifiers, as stored, are the control.
    let mut accepted_verifiers = Vec::new();
    if outcomes[3].refused.is_some() && outcomes[0].refused.is_none() {
        let accepting = an.clone().secret_logging(SecretLogging::Accept);
        let applied = DistributedRole::new("grid_accepted", SecretString::from(accepted.clone()))
            .run(&accepting)
            .await;
        if let Err(e) = applied {
            unexpected_controls.push(format!("accepted role: {e}"));
        }
        // One statement, one verifier, for every data node.
        for node in local.data_nodes() {
            accepted_verifiers.extend(stored_verifiers(node, "grid_accepted").await);
        }
        accepted_verifiers.sort();
        accepted_verifiers.dedup();
    }

    // Where secrets must not be: every node's log, statistics views, and errors.
    let mut places = String::new();
    for node in local.nodes() {
        places += &node.log();
        let su = node.superuser_client("tsdb").await.unwrap();
        for row in su
            .query(
                "SELECT coalesce(query, '') FROM pg_catalog.pg_stat_activity",
                &[],
            )
            .await
            .unwrap()
        {
            places += &row.get::<_, String>(0);
            places.push('\n');
        }
        if pgss {
            let rows = su
                .query("SELECT query FROM pg_stat_statements", &[])
                .await
                .unwrap();
            assert!(!rows.is_empty(), "pg_stat_statements records statements");
            for row in rows {
                places += &row.get::<_, String>(0);
                places.push('\n');
            }
        }
    }
    let mut unexpected = unexpected_controls;
    let control_text = format!("{places}{control_shown}");
    let accepted_verifier_hits: usize = accepted_verifiers
        .iter()
        .map(|v| control_text.matches(v.as_str()).count())
        .sum();
    let control_hits = control_text.matches(needle(&control)).count()
        + control_text.matches(needle(&accepted)).count()
        + accepted_verifier_hits;
    let mut ops = Vec::new();
    for (op, out) in OPERATIONS.iter().zip(&outcomes) {
        let text = format!("{places}{}", out.shown);
        let hits = out
            .secrets
            .iter()
            .map(|s| text.matches(needle(s)).count())
            .sum();
        ops.push((hits, out.refused.clone()));
        unexpected.extend(out.unexpected.iter().map(|u| format!("{op}: {u}")));
    }
    let all_shown: String = outcomes.iter().map(|o| o.shown.as_str()).collect();
    // Verifiers other than the accepted control's.
    let verifier_hits = format!("{places}{all_shown}")
        .matches(VERIFIER_PREFIX)
        .count()
        - accepted_verifier_hits;
    local.shutdown().await.unwrap();
    CellResult {
        model,
        setting: name,
        ops,
        verifier_hits,
        control_hits,
        unexpected,
    }
}

/// A string literal, for the control statements the test sends in clear.
fn literal(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The SCRAM verifiers `role` has on `node`, read as the superuser.
async fn stored_verifiers(node: &LocalServer, role: &str) -> Vec<String> {
    let su = node.superuser_client("tsdb").await.unwrap();
    su.query(
        "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1 \
         AND rolpassword IS NOT NULL",
        &[&role],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_statistics_or_errors_for_either_admin_model() {
    let Some(_) = tier2() else { return };
    let (captured, _guard) = capture();
    let slots = Arc::new(Semaphore::new(CONCURRENT_CELLS));
    let mut cells = tokio::task::JoinSet::new();
    let mut index = 0;
    for model in [AdminModel::Superuser, AdminModel::ManagedService] {
        for setting in (0..SETTINGS.len()).filter(|s| cell_runs_here(*s)) {
            let slots = slots.clone();
            index += 1;
            let cell = index;
            cells.spawn(async move {
                let _slot = slots.acquire_owned().await.unwrap();
                (cell, run_cell(cell, model, setting).await)
            });
        }
    }
    let mut results = Vec::new();
    while let Some(joined) = cells.join_next().await {
        results.push(joined.expect("cell task"));
    }
    results.sort_by_key(|(cell, _)| *cell);

    // Traces (every cell's sentinels) count too.
    let traces = captured.text();
    let trace_hits: usize = (1..=index)
        .flat_map(|cell| {
            [
                "control-accepted",
                "add-wrong",
                "mapping-create",
                "mapping-again",
                "mapping-update",
                "mapping-missing",
                "role-an",
                "role-dn",
                "role-fail-an",
                "rotate",
                "apply-role",
            ]
            .map(move |what| sentinel(cell, what))
        })
        .map(|s| traces.matches(needle(&s)).count())
        .sum::<usize>()
        + traces.matches(VERIFIER_PREFIX).count();

    let mut table = String::from("| admin | setting |");
    for op in OPERATIONS {
        let _ = write!(table, " {op} |");
    }
    table += " any verifier | control |\n|---|---|";
    table += &"---|".repeat(OPERATIONS.len() + 2);
    table.push('\n');
    let mut failures = Vec::new();
    for (_, cell) in &results {
        let model = match cell.model {
            AdminModel::Superuser => "superuser",
            _ => "managed",
        };
        let _ = write!(table, "| {model} | {} |", cell.setting);
        for ((hits, refused), op) in cell.ops.iter().zip(OPERATIONS) {
            match refused {
                Some(setting) => {
                    let _ = write!(table, " refused (`{setting}`), {hits} |");
                }
                None => {
                    let _ = write!(table, " {hits} |");
                }
            }
            if *hits > 0 {
                failures.push(format!("{model} / {}: {op}: {hits} hits", cell.setting));
            }
            let may_refuse = cell.model == AdminModel::ManagedService
                && (cell.setting.contains("log_statement = all")
                    || cell.setting.contains("log_min_duration_statement")
                    // TimescaleDB reports a distributed_exec statement at DEBUG2: the
                    // operations that send a role's verifier to the data nodes.
                    || (cell.setting.contains("debug2")
                        && ["distributed role", "`Cluster::apply`"].contains(op))
                    // auto_explain logs a statement's text (the verifier a data node
                    // gets as a literal), and verbose, the values bound into its plan.
                    || cell.setting.contains("verbose")
                    // pgaudit logs every statement with its parameters.
                    || cell.setting.contains("pgaudit")
                    || (cell.setting.contains("auto_explain")
                        && ["distributed role", "`Cluster::apply`"].contains(op)));
            if refused.is_some() != may_refuse {
                failures.push(format!(
                    "{model} / {}: {op}: refused {refused:?}, expected {}",
                    cell.setting,
                    if may_refuse { "a refusal" } else { "none" }
                ));
            }
        }
        let _ = writeln!(table, " {} | {} |", cell.verifier_hits, cell.control_hits);
        if cell.control_hits == 0 {
            failures.push(format!(
                "{model} / {}: the control was not found: the search would miss a leak",
                cell.setting
            ));
        }
        if cell.verifier_hits > 0 {
            failures.push(format!(
                "{model} / {}: {} SCRAM verifiers",
                cell.setting, cell.verifier_hits
            ));
        }
        for u in &cell.unexpected {
            failures.push(format!("{model} / {}: {u}", cell.setting));
        }
    }
    let _ = writeln!(table, "\ntraces: {trace_hits} hits");
    eprintln!("{table}");
    assert_eq!(trace_hits, 0, "secrets in traces");
    assert!(failures.is_empty(), "{failures:#?}\n{table}");
}

/// A setting only a data node has is checked there, through the access node: the role is
/// refused naming that data node and the setting, before its verifier is sent, and nothing
/// of it reaches the data node.
#[tokio::test]
async fn a_data_node_setting_refuses_naming_the_data_node() {
    let Some(_) = tier2() else { return };
    let (local, an) = crate::common::joined_cluster_from(
        LocalCluster::builder()
            .admin(AdminModel::ManagedService)
            .data_nodes(1),
    )
    .await;
    let dn1 = &local.data_nodes()[0];
    let su = dn1.superuser_client("tsdb").await.unwrap();
    su.batch_execute("ALTER SYSTEM SET log_statement = 'all'")
        .await
        .unwrap();
    su.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    // New sessions see the reloaded file once the postmaster has read it.
    let mut waited = 0;
    loop {
        let fresh = dn1.superuser_client("tsdb").await.unwrap();
        let now: String = fresh
            .query_one("SHOW log_statement", &[])
            .await
            .unwrap()
            .get(0);
        if now == "all" {
            break;
        }
        waited += 1;
        assert!(waited < 100, "dn1 did not reload its configuration");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let pw = sentinel(0, "data-node-only");
    let refused = DistributedRole::new("grid_dn_only", SecretString::from(pw.clone()))
        .run(&an)
        .await
        .unwrap_err();
    match &refused {
        Error::SecretWouldBeLogged { node, setting, .. } => {
            assert_eq!((node.as_str(), setting.as_str()), ("dn1", "log_statement"));
        }
        other => panic!("expected a refusal on dn1, got {other:?}"),
    }
    let exists: bool = su
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grid_dn_only')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "nothing was sent to dn1");
    let text = format!(
        "{}{}{}",
        dn1.log(),
        local.access_node().log(),
        shown(&refused)
    );
    assert!(!text.contains(needle(&pw)), "{text}");
    assert!(!text.contains(VERIFIER_PREFIX), "{text}");

    // Accepted, the role is made there too.
    DistributedRole::new("grid_dn_only", SecretString::from(pw))
        .run(&an.clone().secret_logging(SecretLogging::Accept))
        .await
        .unwrap();
    local.shutdown().await.unwrap();
}
