//! `tsmn chunks`: where a distributed hypertable's chunks live, as a grid of time ranges
//! (earliest first) × data nodes, each cell the chunks and rows of that range on that node.
//!
//! ```text
//! public.sensor_data: 4 chunks, 10,000 rows on 2 data nodes
//!
//!                                                 dn1             dn2
//! time range                                 chunks   rows   chunks   rows
//! 2026-11-19 00:00+00 .. 2026-11-26 00:00+00      1  2,500        1  2,500
//! 2026-11-26 00:00+00 .. 2026-12-03 00:00+00      1  2,500        1  2,500
//! total                                           2  5,000        2  5,000
//! ```
//!
//! A range's chunks (one per space partition) share its row; a replicated chunk counts on
//! every node that holds a replica. `·` marks a node without chunks in that range, `?` rows
//! that could not be read (the node is named below the grid).

use std::process::ExitCode;

use timescaledb_multinode::catalog::ChunkInfo;
use timescaledb_multinode::cluster::ChunkPlacement;
use timescaledb_multinode::Cluster;

use crate::human::count;
use crate::progress::Progress;
use crate::{access_node, json, table_name, BoxError};

pub async fn run(
    cluster: &Cluster,
    table: Option<&str>,
    as_json: bool,
    progress: &Progress,
) -> Result<ExitCode, BoxError> {
    let tables = match table {
        Some(table) => vec![table.to_owned()],
        None => {
            let an = access_node(cluster).await?;
            let mut tables = Vec::new();
            for h in an.hypertables().await? {
                if h.is_distributed {
                    tables.push(format!("{}.{}", h.schema, h.name));
                }
            }
            tables
        }
    };
    let mut placements = Vec::new();
    for table in &tables {
        let spinner = progress.spinner(&format!("counting the rows of {table}"));
        let placement = cluster.chunk_placement(&table_name(table)?).await;
        spinner.finish_and_clear();
        placements.push(placement?);
    }
    if as_json {
        json::print(&placements)?;
        return Ok(ExitCode::SUCCESS);
    }
    if placements.is_empty() {
        println!("no distributed hypertables");
    }
    for (i, placement) in placements.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", grid(placement));
    }
    Ok(ExitCode::SUCCESS)
}

/// One row of the grid: a time range and, per data node, its chunks and rows there
/// (`None` rows: the node could not be read).
struct Line {
    range: String,
    cells: Vec<(usize, Option<i64>)>,
}

/// The grid of one hypertable, as text.
pub fn grid(p: &ChunkPlacement) -> String {
    let mut lines: Vec<Line> = Vec::new();
    let mut last: Option<String> = None;
    for chunk in &p.chunks {
        let range = range(chunk);
        if last.as_deref() != Some(range.as_str()) {
            lines.push(Line {
                range: range.clone(),
                cells: vec![(0, Some(0)); p.data_nodes.len()],
            });
            last = Some(range);
        }
        let line = lines.last_mut().expect("pushed above");
        for (i, node) in p.data_nodes.iter().enumerate() {
            if chunk.data_nodes.contains(node) {
                let cell = &mut line.cells[i];
                cell.0 += 1;
                cell.1 = cell.1.zip(p.rows(&chunk.name, node)).map(|(a, b)| a + b);
            }
        }
    }
    let mut total = Line {
        range: "total".to_owned(),
        cells: vec![(0, Some(0)); p.data_nodes.len()],
    };
    for line in &lines {
        for (t, c) in total.cells.iter_mut().zip(&line.cells) {
            t.0 += c.0;
            t.1 = t.1.zip(c.1).map(|(a, b)| a + b);
        }
    }
    let stored: Option<i64> = total.cells.iter().map(|c| c.1).sum();

    let mut out = format!(
        "{}.{}: {}, {} rows on {}\n",
        p.schema,
        p.table,
        count(p.chunks.len(), "chunk"),
        stored.map_or_else(|| "?".to_owned(), thousands),
        count(p.data_nodes.len(), "data node"),
    );
    if p.chunks.is_empty() {
        return out;
    }
    out.push('\n');
    let range_width = lines
        .iter()
        .map(|l| l.range.chars().count())
        .max()
        .unwrap_or(0)
        .max("time range".len());
    // Per node: the widths of its chunks and rows columns.
    let widths: Vec<(usize, usize)> = (0..p.data_nodes.len())
        .map(|i| {
            let cells = lines.iter().chain([&total]).map(|l| cell(l.cells[i]));
            let (c, r) = cells.fold((6, 4), |(c, r), (a, b)| {
                (c.max(a.chars().count()), r.max(b.chars().count()))
            });
            // Wide enough for the node's name over both columns.
            (
                c,
                r.max(p.data_nodes[i].chars().count().saturating_sub(c + 2)),
            )
        })
        .collect();
    let mut names = format!("{:range_width$}", "");
    let mut labels = format!("{:range_width$}", "time range");
    for (node, (c, r)) in p.data_nodes.iter().zip(&widths) {
        names += &format!("   {node:>w$}", w = c + 2 + r);
        labels += &format!("   {:>c$}  {:>r$}", "chunks", "rows");
    }
    out += names.trim_end();
    out.push('\n');
    out += &labels;
    out.push('\n');
    for line in lines.iter().chain([&total]) {
        let mut text = format!("{:range_width$}", line.range);
        for (value, (c, r)) in line.cells.iter().zip(&widths) {
            let (chunks, rows) = cell(*value);
            text += &format!("   {chunks:>c$}  {rows:>r$}");
        }
        out += text.trim_end();
        out.push('\n');
    }
    for entry in &p.rows {
        if let Err(e) = &entry.chunks {
            out += &format!("{}: rows not read: {e}\n", entry.node);
        }
    }
    out
}

/// A cell's two columns: `·` and nothing for a node without chunks in the range.
fn cell((chunks, rows): (usize, Option<i64>)) -> (String, String) {
    if chunks == 0 {
        return ("·".to_owned(), String::new());
    }
    let rows = rows.map_or_else(|| "?".to_owned(), thousands);
    (chunks.to_string(), rows)
}

/// `start .. end`, seconds left out when they are zero; integer ranges as numbers.
fn range(chunk: &ChunkInfo) -> String {
    let bound = |text: &Option<String>, integer: Option<i64>, open: &str| match (text, integer) {
        (Some(t), _) => short(t),
        (None, Some(i)) => i.to_string(),
        (None, None) => open.to_owned(),
    };
    format!(
        "{} .. {}",
        bound(&chunk.range_start, chunk.range_start_integer, "-inf"),
        bound(&chunk.range_end, chunk.range_end_integer, "inf")
    )
}

/// `2026-11-19 00:00:00+00` as `2026-11-19 00:00+00`.
fn short(timestamp: &str) -> String {
    match timestamp.get(16..19) {
        Some(":00") if timestamp.get(19..20).is_none_or(|c| c == "+" || c == "-") => {
            format!("{}{}", &timestamp[..16], &timestamp[19..])
        }
        _ => timestamp.to_owned(),
    }
}

/// `12,345`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}
