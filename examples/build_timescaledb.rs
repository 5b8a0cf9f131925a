//! Builds TimescaleDB from its published source archives into private installations of the
//! machine's PostgreSQL, the ones `testing::LocalCluster` uses (cached; later runs reuse
//! them).
//!
//! ```text
//! cargo run --example build_timescaledb -- <archives-dir> [release ...]
//! ```
//!
//! `<archives-dir>` holds `timescaledb-<release>.tar.gz` files and a `SHA256SUMS` file
//! (`sha256sum` format) listing them; each archive is checked before it is built. Each
//! release named (default: 2.13.1) gets an installation of its own with its own loader;
//! the last line printed for each is the `TSMN_PG_BINDIR=...` that starts servers on it.
//! Builds need the Debian packages `postgresql-server-dev-15 cmake gcc make libssl-dev
//! libkrb5-dev` (or the same for your PostgreSQL major). `TSMN_PG_BINDIR` chooses the
//! PostgreSQL to build for; `TSMN_CACHE_DIR` where the builds are kept.
//!
//! Tests and the quickstart need no separate step: with `TSMN_TIMESCALEDB_SOURCES=<dir>`
//! set, the fixture builds what it needs on first use.

use std::process::ExitCode;
use std::time::Instant;

use timescaledb_multinode::testing::{PgInstall, DEFAULT_TIMESCALEDB_RELEASE};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(sources) = args.next() else {
        eprintln!("usage: build_timescaledb <archives-dir> [release ...]");
        return ExitCode::from(2);
    };
    let mut releases: Vec<String> = args.collect();
    if releases.is_empty() {
        releases.push(DEFAULT_TIMESCALEDB_RELEASE.to_string());
    }
    let base = match PgInstall::discover_binaries() {
        Ok(base) => base,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for release in &releases {
        let started = Instant::now();
        match base.with_timescaledb(&sources, [release]) {
            Ok(install) => {
                println!(
                    "TimescaleDB {release} for PostgreSQL {} ready in {:.1} s: multi-node {}",
                    install.version(),
                    started.elapsed().as_secs_f64(),
                    match install.multinode_support() {
                        Ok(_) => "yes".to_owned(),
                        Err(why) => format!("no ({why})"),
                    }
                );
                println!("TSMN_PG_BINDIR={}", install.bindir().display());
            }
            Err(e) => {
                eprintln!("TimescaleDB {release}: {e}");
                if let Some(log) = e.server_log_tail() {
                    eprintln!("{log}");
                }
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
