//! Quickstart: the whole "TimescaleDB multi-node" how-to through the typed API.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! By default it starts a local cluster (one access node, two data nodes, each its own
//! PostgreSQL server; `TSMN_PG_BINDIR` chooses the installation) and runs the how-to there.
//! Where that PostgreSQL has no TimescaleDB multi-node, `TSMN_TIMESCALEDB_SOURCES=<dir>`
//! (a directory of TimescaleDB source archives with their `SHA256SUMS`) builds TimescaleDB
//! 2.13.1 from there first (once, about a minute; cached). The how-to covers
//! the extension on every node, two data nodes (dn1 bootstrapped by the access node, dn2
//! prepared beforehand), their user mappings, the distributed hypertable `sensor_data` on
//! `time` and `sensor_id`, rows in and out, where the chunks live, and a second user
//! `mn_user1` that queries it. Every step is idempotent: running it again against the same
//! cluster changes nothing and succeeds.
//!
//! To run it against your own cluster instead, set:
//!
//! | variable | example |
//! |---|---|
//! | `TSMN_ACCESS_NODE` | `10.0.0.10:5432/tsdb` |
//! | `TSMN_DATA_NODES` | `dn1=10.0.0.11:5432/tsdb,dn2=10.0.0.12:5432/tsdb` |
//! | `TSMN_USER` | `tsdbadmin` (default; a superuser, or a managed service's admin: `CREATEROLE`, owner of the database, `USAGE` on `timescaledb_fdw`, the extension created) |
//! | `TSMN_PASSWORD_AN`, `TSMN_PASSWORD_DN1`, ... | each node's password (`TSMN_PASSWORD_<NODE NAME IN CAPITALS>`) |
//! | `TSMN_MN_USER1_PASSWORD` | the password to give `mn_user1` (default: a fixed demo value) |
//!
//! Without TimescaleDB 2.0–2.13 (TSL build) it prints the steps it would run, says what is
//! missing, and exits with status 2.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use timescaledb_multinode::testing::LocalCluster;
use timescaledb_multinode::{
    AccessNode, Bootstrap, DataNode, DistributedHypertable, DistributedRole, Ident, NodeConfig,
    Privilege, SecretString, ServerInfo, TableName, UpdateExtension,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The nodes to work on.
struct Nodes {
    access_node: NodeConfig,
    data_nodes: Vec<NodeConfig>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode, BoxError> {
    if let Some(nodes) = nodes_from_env()? {
        println!("using the cluster given in TSMN_ACCESS_NODE / TSMN_DATA_NODES");
        return how_to(&nodes, false).await;
    }
    let started = Instant::now();
    let cluster = LocalCluster::start(2).await?;
    println!(
        "started a local cluster (1 access node + {} data nodes) in {:.2?}",
        cluster.data_nodes().len(),
        started.elapsed()
    );
    let nodes = Nodes {
        access_node: cluster.access_node_config(),
        data_nodes: cluster.data_node_configs(),
    };
    let result = match cluster.multinode() {
        Ok(_) => how_to(&nodes, true).await,
        Err(reason) => {
            print_plan(&nodes);
            println!(
                "missing: {reason}. Install TimescaleDB 2.13 (with its TSL part) for PostgreSQL {}, \
                 set TSMN_PG_BINDIR to a PostgreSQL that has it, or set TSMN_TIMESCALEDB_SOURCES \
                 to a directory of TimescaleDB source archives to build it from.",
                cluster.access_node().install().major()
            );
            Ok(ExitCode::from(2))
        }
    };
    cluster.shutdown().await?;
    result
}

/// The steps, as the how-to lists them. Passwords are never printed.
fn print_plan(nodes: &Nodes) {
    let an = nodes.access_node.node_name();
    println!("the steps (passwords redacted):");
    for (i, dn) in nodes.data_nodes.iter().enumerate() {
        if i > 0 {
            println!(
                "  - on {}: ALTER EXTENSION timescaledb UPDATE (CREATE EXTENSION when missing)",
                dn.node_name()
            );
        }
    }
    println!("  - on {an}: ALTER EXTENSION timescaledb UPDATE (CREATE EXTENSION when missing)");
    for (i, dn) in nodes.data_nodes.iter().enumerate() {
        println!(
            "  - on {an}: add_data_node({:?}, host => {:?}, port => {}, database => {:?}, \
             bootstrap => {}, password => [REDACTED], if_not_exists => true)",
            dn.node_name(),
            dn.get_host(),
            dn.get_port(),
            dn.get_database(),
            i == 0
        );
        println!(
            "  - on {an}: CREATE USER MAPPING FOR CURRENT_USER SERVER {:?} OPTIONS (user {:?}, password [REDACTED])",
            dn.node_name(),
            dn.get_user()
        );
    }
    println!("  - on {an}: CREATE TABLE IF NOT EXISTS sensor_data (...)");
    println!(
        "  - on {an}: create_distributed_hypertable('sensor_data', 'time', 'sensor_id', if_not_exists => true)"
    );
    println!("  - on {an}: INSERT ... ON CONFLICT DO NOTHING; SELECT ...; chunk placement");
    println!(
        "  - on {an} and every data node: role mn_user1 (SCRAM verifier), GRANT SELECT, user mappings"
    );
}

async fn how_to(nodes: &Nodes, local: bool) -> Result<ExitCode, BoxError> {
    let an_config = &nodes.access_node;
    // Check every node before changing anything.
    for config in std::iter::once(an_config).chain(&nodes.data_nodes) {
        let info = ServerInfo::detect(config).await?;
        let missing = if info.timescaledb_default.is_none() {
            Some("the server has no TimescaleDB extension")
        } else if !info.preloaded {
            Some("timescaledb is not in shared_preload_libraries")
        } else {
            None
        };
        if let Some(missing) = missing {
            print_plan(nodes);
            println!(
                "missing on {}: {missing}. Install TimescaleDB 2.13 (with its TSL part) there and \
                 add it to shared_preload_libraries.",
                info.node
            );
            return Ok(ExitCode::from(2));
        }
    }

    // 1. The extension: the data nodes first (their version must be at least the access
    //    node's); dn1 gets it through add_data_node's bootstrap instead.
    for config in nodes.data_nodes.iter().skip(1).chain([an_config]) {
        let update = UpdateExtension::new().run(config).await?;
        println!(
            "extension on {}: {:?} ({} -> {})",
            update.node,
            update.change,
            update
                .from
                .map(|v| v.to_string())
                .unwrap_or_else(|| "none".into()),
            update.to
        );
    }
    ServerInfo::detect(an_config).await?.check_multinode()?;
    let an = AccessNode::connect(an_config.clone()).await?;

    // 2. Data nodes, with user mappings; dn1 bootstrapped, the others prepared already.
    for (i, dn) in nodes.data_nodes.iter().enumerate() {
        let bootstrap = if i == 0 {
            Bootstrap::CreateDatabase
        } else {
            Bootstrap::ExistingDatabase
        };
        let added = DataNode::from_config(dn)
            .bootstrap(bootstrap)
            .idempotent()
            .run(&an)
            .await?;
        println!(
            "data node {}: added now: {}, database created: {}, extension created: {}, user mapping: {:?}",
            added.name,
            added.node_created,
            added.database_created,
            added.extension_created,
            added.user_mapping
        );
    }
    for node in an.data_nodes().await? {
        println!(
            "  {:<4} owner {:<10} {}:{} database {} available {}",
            node.name,
            node.owner,
            node.host.unwrap_or_default(),
            node.port.unwrap_or_default(),
            node.database.unwrap_or_default(),
            node.available
        );
    }

    // 3. The distributed hypertable.
    let client = an_config.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS sensor_data (\
               time timestamptz NOT NULL, sensor_id int NOT NULL, \
               temperature double precision, cpu double precision, \
               PRIMARY KEY (time, sensor_id))",
        )
        .await?;
    let created = DistributedHypertable::new("sensor_data", "time")
        .partitioning_column("sensor_id")
        .idempotent()
        .run(&an)
        .await?;
    println!(
        "distributed hypertable {}.{} (id {}), created now: {}",
        created.schema, created.name, created.id, created.created
    );

    // 4. Rows in, rows out. (The access node's row count for a distributed INSERT ... ON
    //    CONFLICT counts the rows it sent, so count before and after instead.)
    let count = "SELECT count(*) FROM sensor_data";
    let before: i64 = client.query_one(count, &[]).await?.get(0);
    client
        .execute(
            "INSERT INTO sensor_data \
             SELECT t, s, 20 + s + random(), random() \
               FROM generate_series('2024-01-01'::timestamptz, '2024-01-14', '6 hours') t, \
                    generate_series(1, 4) s \
             ON CONFLICT DO NOTHING",
            &[],
        )
        .await?;
    let after: i64 = client.query_one(count, &[]).await?.get(0);
    println!("sensor_data has {after} rows ({} new)", after - before);
    for row in client
        .query(
            "SELECT sensor_id, count(*), round(avg(temperature)::numeric, 2)::float8 \
               FROM sensor_data GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await?
    {
        println!(
            "  sensor {}: {} rows, average temperature {}",
            row.get::<_, i32>(0),
            row.get::<_, i64>(1),
            row.get::<_, f64>(2)
        );
    }

    // 5. Where the chunks live.
    let table = TableName::new(Ident::new("sensor_data")?);
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for chunk in an.chunks(&table).await? {
        println!(
            "  chunk {:<24} {} .. {}  on {:?}",
            chunk.name,
            chunk.range_start.unwrap_or_default(),
            chunk.range_end.unwrap_or_default(),
            chunk.data_nodes
        );
        for node in chunk.data_nodes {
            *per_node.entry(node).or_default() += 1;
        }
    }
    println!("chunks per data node: {per_node:?}");
    if per_node.len() < nodes.data_nodes.len() {
        return Err("not every data node holds chunks".into());
    }

    // 6. Another user.
    let mn_password = SecretString::from(
        std::env::var("TSMN_MN_USER1_PASSWORD").unwrap_or_else(|_| "mn_user1 demo password".into()),
    );
    DistributedRole::new("mn_user1", mn_password.clone())
        .grant([Privilege::Select], "sensor_data")
        .run(&an)
        .await?;
    let as_user = NodeConfig::new(an_config.get_host(), "mn_user1", mn_password)
        .name(format!("{} as mn_user1", an.name()))
        .port(an_config.get_port())
        .database(an_config.get_database());
    let count: i64 = as_user
        .connect()
        .await?
        .query_one("SELECT count(*) FROM sensor_data", &[])
        .await?
        .get(0);
    println!("mn_user1 sees {count} rows");
    if local {
        println!("done; the local cluster is removed now");
    }
    Ok(ExitCode::SUCCESS)
}

/// The cluster described by the environment, if `TSMN_ACCESS_NODE` is set.
fn nodes_from_env() -> Result<Option<Nodes>, BoxError> {
    let Ok(access_node) = std::env::var("TSMN_ACCESS_NODE") else {
        return Ok(None);
    };
    let user = std::env::var("TSMN_USER").unwrap_or_else(|_| "tsdbadmin".into());
    let node = |name: &str, spec: &str| -> Result<NodeConfig, BoxError> {
        let (address, database) = spec.split_once('/').unwrap_or((spec, "tsdb"));
        let (host, port) = address.rsplit_once(':').unwrap_or((address, "5432"));
        let var = format!("TSMN_PASSWORD_{}", name.to_uppercase());
        let password = std::env::var(&var).map_err(|_| format!("{var} is not set"))?;
        Ok(
            NodeConfig::new(host, user.as_str(), SecretString::from(password))
                .name(name)
                .port(port.parse()?)
                .database(database),
        )
    };
    let data_nodes = std::env::var("TSMN_DATA_NODES")
        .map_err(|_| "TSMN_DATA_NODES is not set")?
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|entry| {
            let (name, spec) = entry
                .trim()
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not name=host:port/database"))?;
            node(name, spec)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Nodes {
        access_node: node("an", &access_node)?,
        data_nodes,
    }))
}
