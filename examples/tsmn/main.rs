//! `tsmn`: a command-line tool over a cluster spec file, built on the crate's public API.
//!
//! ```text
//! cargo run --example tsmn -- plan   cluster.toml [--json]
//! cargo run --example tsmn -- apply  cluster.toml [--json]
//! cargo run --example tsmn -- status cluster.toml [--json]
//! cargo run --example tsmn -- heal   cluster.toml [--json]
//! cargo run --example tsmn -- chunks cluster.toml [table] [--json]
//! TSMN_NEW_PASSWORD=... cargo run --example tsmn -- rotate cluster.toml dn1 [--json]
//! TSMN_TARGET_PASSWORD=... cargo run --example tsmn -- migrate cluster.toml <target-url> \
//!     [table ...] [--plan | --catch-up] [--concurrency=N] [--json]
//! ```
//!
//! The spec is TOML (or JSON, by the `.json` extension); passwords come from the
//! environment variables it names (see `Cluster::from_toml`). Output is for people by
//! default; `--json` prints one JSON document instead (the field names of the crate's
//! `Serialize` impls; a plan as `{"converged", "steps", "unknown", "conflicts",
//! "fingerprint"}`; a failure of the crate as `{"error": {"kind", "operation", "node",
//! "message", "sqlstate"}}`, exit status 1). Progress bars go to standard error, only when
//! standard output is a terminal and `--json` is not given.
//!
//! `migrate` moves distributed hypertables (every one when none is named) to the target, a
//! `postgresql://` URL or connection string without a password (see `migrate.rs`).
//!
//! Exit status: 0 when done and healthy / converged, 1 on an error, 2 when `plan` has steps,
//! `status` is unhealthy or `migrate --plan` is blocked.
//!
//! `apply`, `heal` and `rotate` wait for another apply of the cluster to finish (up to the
//! spec's `apply_lock_wait_secs`, 120 by default), and say on standard error who holds the
//! lock meanwhile: the crate's info-level events are printed there for these commands.

mod chunks;
mod human;
mod json;
mod migrate;
mod progress;

use std::process::ExitCode;

use timescaledb_multinode::{AccessNode, Cluster, Ident, SecretString, TableName};

use progress::Progress;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(code) => code,
        Err(e) => {
            // With --json, a reader of standard output gets the crate's error as an object
            // too: `{"error": {"kind", "operation", "node", "message", "sqlstate"}}`.
            if args.iter().any(|a| a == "--json") {
                if let Some(error) = e.downcast_ref::<timescaledb_multinode::Error>() {
                    let _ = json::print(&serde_json::json!({ "error": error }));
                }
            }
            // Each message says what its source adds; print the chain once, outermost first.
            eprintln!("tsmn: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn usage() -> BoxError {
    "usage: tsmn <plan|apply|status|heal|chunks|rotate> <spec.toml|spec.json> \
     [table | data node] [--json]\n\
     \x20      tsmn migrate <spec.toml|spec.json> <target-url> [table ...] [--plan] \
     [--catch-up] [--concurrency=N] [--json]"
        .into()
}

/// The command line: the command, the spec file, the other arguments (one at most, but
/// for `migrate`), and the flags.
struct Args<'a> {
    command: &'a str,
    spec: &'a str,
    extra: Option<&'a str>,
    rest: Vec<&'a str>,
    json: bool,
    plan: bool,
    catch_up: bool,
    concurrency: Option<usize>,
}

impl<'a> Args<'a> {
    fn parse(args: &'a [String]) -> Result<Self, BoxError> {
        let mut json = false;
        let mut plan = false;
        let mut catch_up = false;
        let mut concurrency = None;
        let mut positional = Vec::new();
        for arg in args {
            match arg.as_str() {
                "--json" => json = true,
                "--plan" => plan = true,
                "--catch-up" => catch_up = true,
                flag if flag.starts_with("--concurrency=") => {
                    let n = &flag["--concurrency=".len()..];
                    concurrency = Some(
                        n.parse()
                            .map_err(|_| format!("--concurrency takes a number, not '{n}'"))?,
                    );
                }
                flag if flag.starts_with("--") => return Err(usage()),
                _ => positional.push(arg.as_str()),
            }
        }
        let mut positional = positional.into_iter();
        let (Some(command), Some(spec)) = (positional.next(), positional.next()) else {
            return Err(usage());
        };
        let rest: Vec<&str> = positional.collect();
        let migrate = command == "migrate";
        if (!migrate && (rest.len() > 1 || plan || catch_up || concurrency.is_some()))
            || (migrate && (rest.is_empty() || (plan && catch_up)))
        {
            return Err(usage());
        }
        Ok(Args {
            command,
            spec,
            extra: rest.first().copied(),
            rest,
            json,
            plan,
            catch_up,
            concurrency,
        })
    }
}

async fn run(args: &[String]) -> Result<ExitCode, BoxError> {
    let args = Args::parse(args)?;
    if args.command == "migrate" {
        // Checked before the spec is read: a password typed into the target is refused first.
        migrate::target(args.rest[0])?;
    }
    let text = std::fs::read_to_string(args.spec).map_err(|e| format!("{}: {e}", args.spec))?;
    let cluster = if args.spec.ends_with(".json") {
        Cluster::from_json(&text)?
    } else {
        Cluster::from_toml(&text)?
    };
    let progress = Progress::new(!args.json);
    if matches!(args.command, "apply" | "heal" | "rotate") {
        say_what_the_crate_says();
    }
    match args.command {
        "plan" => {
            let spinner = progress.spinner("planning");
            let plan = cluster.plan().await?;
            spinner.finish_and_clear();
            if args.json {
                json::print(&json::plan(&plan))?;
            } else {
                print!("{}", human::plan(&plan));
            }
            Ok(exit(plan.is_converged()))
        }
        "apply" => {
            let spinner = progress.spinner("planning");
            let steps = cluster.plan().await?.steps.len();
            spinner.finish_and_clear();
            let bar = progress.steps(steps as u64);
            let json = args.json;
            let report = cluster
                .apply_with_progress(|step| {
                    let line = human::step_line(step);
                    bar.set_message(line.clone());
                    bar.inc(1);
                    if !json {
                        bar.println(format!("applying {line}"));
                    }
                })
                .await;
            bar.finish_and_clear();
            let report = report?;
            if args.json {
                json::print(&json::applied(&report))?;
            } else {
                println!("applied {} steps", report.applied.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
            let spinner = progress.spinner("reading every node");
            let status = cluster.status().await;
            spinner.finish_and_clear();
            if args.json {
                json::print(&status)?;
            } else {
                print!("{}", human::status(&status));
            }
            Ok(exit(status.is_healthy()))
        }
        "heal" => {
            let spinner = progress.spinner("reading in-doubt transactions");
            let report = cluster.heal().await?;
            spinner.finish_and_clear();
            if args.json {
                json::print(&report)?;
            } else {
                print!("{}", human::heal(&report));
            }
            Ok(ExitCode::SUCCESS)
        }
        "chunks" => chunks::run(&cluster, args.extra, args.json, &progress).await,
        "migrate" => {
            let request = migrate::Request {
                target: args.rest[0],
                tables: &args.rest[1..],
                plan_only: args.plan,
                catch_up: args.catch_up,
                concurrency: args.concurrency,
                json: args.json,
            };
            migrate::run(&cluster, request, &progress).await
        }
        "rotate" => {
            let node = args.extra.ok_or_else(usage)?;
            let password = std::env::var("TSMN_NEW_PASSWORD")
                .map_err(|_| "set TSMN_NEW_PASSWORD to the new password")?;
            let spinner = progress.spinner("rotating");
            let rotation = cluster
                .rotate_password(node, SecretString::from(password))
                .await?;
            spinner.finish_and_clear();
            if args.json {
                json::print(&rotation)?;
            } else {
                print!("{}", human::rotation(&rotation));
            }
            Ok(if rotation.is_complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        _ => Err(usage()),
    }
}

/// Prints the crate's info-level events (who holds the apply lock while a command waits for
/// it) on standard error, one line each.
fn say_what_the_crate_says() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_level(false)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target().starts_with("timescaledb_multinode")
                && *meta.level() <= tracing::Level::INFO
        }));
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(lines));
}

/// 0 when `ok`, else 2 (something to do, or unhealthy).
fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// `schema.table` or `table`, as a [`TableName`].
fn table_name(text: &str) -> Result<TableName, BoxError> {
    Ok(match text.split_once('.') {
        Some((schema, name)) => TableName::qualified(Ident::new(schema)?, Ident::new(name)?),
        None => TableName::new(Ident::new(text)?),
    })
}

/// The access node of `cluster`, pooled (for the catalog reads of `chunks`).
async fn access_node(cluster: &Cluster) -> Result<AccessNode, BoxError> {
    Ok(AccessNode::connect(cluster.access_node_config().clone()).await?)
}
