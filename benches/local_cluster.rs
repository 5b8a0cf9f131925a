//! `LocalCluster` start-up: 1 access node + 2 data nodes, against the baseline of three
//! sequential `initdb` + `pg_ctl start` (what a hand-written fixture does), in the same run.
//!
//! ```text
//! cargo bench --bench local_cluster
//! ```
//!
//! Both sides include stopping the servers and removing their files. The ratio
//! (baseline / `LocalCluster`) is printed at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use timescaledb_multinode::testing::{LocalCluster, PgInstall};

const SAMPLES: usize = 10;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `program args` as the `postgres` OS user when this process is root.
fn as_server_user(program: &Path, args: &[&str], cwd: &Path) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false);
    let status = if root {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .current_dir(cwd)
            .output()
    } else {
        Command::new(program).args(args).current_dir(cwd).output()
    }
    .expect("run a PostgreSQL program");
    assert!(
        status.status.success(),
        "{} {:?} failed: {}",
        program.display(),
        args,
        String::from_utf8_lossy(&status.stderr)
    );
}

/// Three plain servers, one after the other: initdb, start, then stop and delete.
fn three_initdbs(install: &PgInstall, base: &Path, port: &mut u16) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for i in 0..3 {
        let dir = base.join(format!("node{i}-{port}"));
        as_server_user(
            Path::new("mkdir"),
            &["-m", "700", dir.to_str().unwrap()],
            base,
        );
        let data = dir.join("data");
        let data_s = data.to_str().unwrap();
        as_server_user(
            &install.bindir().join("initdb"),
            &[
                "-D",
                data_s,
                "-U",
                "postgres",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--no-sync",
            ],
            &dir,
        );
        *port += 1;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            dir.display()
        );
        let log = dir.join("log");
        as_server_user(
            &install.bindir().join("pg_ctl"),
            &[
                "-D",
                data_s,
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-s",
                "start",
            ],
            &dir,
        );
        dirs.push(dir);
    }
    for dir in dirs {
        let data = dir.join("data");
        as_server_user(
            &install.bindir().join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "-s",
                "stop",
            ],
            &dir,
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let install = PgInstall::discover().expect("PostgreSQL server binaries");
    let rt = runtime();
    // Warm the initdb template once, as every test run after the first finds it.
    rt.block_on(async {
        LocalCluster::start(2)
            .await
            .unwrap()
            .shutdown()
            .await
            .unwrap()
    });

    let base = std::env::temp_dir().join(format!("tsmn-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    if Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        .starts_with(b"0\n")
    {
        Command::new("chown")
            .arg("postgres")
            .arg(&base)
            .status()
            .unwrap();
    }
    let mut port = 41_000u16 + (std::process::id() % 1000) as u16 * 8;

    let mut group = c.benchmark_group("start 1 + 2 nodes");
    group
        .sample_size(SAMPLES)
        .measurement_time(Duration::from_secs(30));
    let mut fixture = Duration::ZERO;
    let mut baseline = Duration::ZERO;
    group.bench_function("LocalCluster::start(2)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(async {
                    LocalCluster::start(2)
                        .await
                        .unwrap()
                        .shutdown()
                        .await
                        .unwrap()
                });
            }
            let spent = start.elapsed();
            fixture += spent / iters as u32;
            spent
        })
    });
    group.bench_function("3 x (initdb + pg_ctl start)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                three_initdbs(&install, &base, &mut port);
            }
            let spent = start.elapsed();
            baseline += spent / iters as u32;
            spent
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&base);
    println!(
        "\nLocalCluster::start(2) is {:.1}x faster than three sequential initdb + start",
        baseline.as_secs_f64() / fixture.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
