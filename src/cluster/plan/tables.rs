//! The plan's tables: each spec table's existence, distribution, placement on the spec's
//! data nodes, replication factor and partitioning, read on the access node alone, so
//! that the plan reads them while it checks the data nodes.

use futures_util::future::join_all;

use super::{HypertableSpec, Plan, Prune, StepKind, OP};
use crate::catalog::HypertableInfo;
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::node::lifecycle::dimension::interval_units;
use crate::sql::functions::Schemas;
use crate::sql::hypertable::{TableName, HYPERTABLE, RESOLVE_TABLE};
use crate::sql::lifecycle::HYPERTABLE_DIMENSIONS;
use crate::sql::plan as show;

/// What the plan found of the spec's tables.
pub(super) struct Tables {
    /// Steps and conflicts to create and distribute the tables and for their
    /// partitioning, with what was read, in the plan's order.
    pub(super) plan: Plan,
    /// Placement steps (attach, replication factor, detach). They run after the roles:
    /// `attach_data_node` copies the table's grants to the data node, where the roles
    /// must exist.
    pub(super) placement: Plan,
}

impl Cluster {
    /// The plan's tables and their distribution, over the plan's access-node `session`
    /// (`an_ready`: the extension is there).
    pub(super) async fn plan_tables(
        &self,
        session: &Session,
        an_ready: bool,
        an_schemas: Option<&Schemas>,
    ) -> Result<Tables> {
        let an_name = self.access_node.node_name();
        let spec_names: Vec<String> = self.data_nodes.iter().map(NodeConfig::node_name).collect();
        let mut plan = Plan::default();
        let mut placement = Plan::default();
        let names = self
            .hypertables
            .iter()
            .map(|spec| spec.hypertable.table_name())
            .collect::<Result<Vec<_>>>()?;
        // Every table read at once (two round trips for them all).
        let reads = join_all(
            names
                .iter()
                .map(|table| read_table(session, table, an_ready)),
        )
        .await;
        for ((spec, table), read) in self.hypertables.iter().zip(&names).zip(reads) {
            let TableReads {
                exists,
                info,
                dimensions,
            } = read?;
            let qualified = table.regclass_text();
            plan.observe(format!("table {qualified}: {exists:?} {info:?}"));
            if exists.is_none() {
                plan.add_step(
                    StepKind::CreateTable,
                    &an_name,
                    &qualified,
                    spec.create_table.as_str().to_owned(),
                    "the table does not exist",
                );
            }
            let Some(info) = info else {
                plan.add_step(
                    StepKind::DistributeTable,
                    &an_name,
                    &qualified,
                    show::distribute(
                        an_schemas,
                        &qualified,
                        spec.hypertable.time_column(),
                        &spec.hypertable.shown_args(),
                    ),
                    "the table is not a distributed hypertable",
                );
                continue;
            };
            if !info.is_distributed {
                plan.add_conflict(
                    &an_name,
                    &qualified,
                    "the table is a hypertable, but not a distributed one; TimescaleDB cannot \
                     distribute an existing hypertable (create_distributed_hypertable only \
                     notices that it is a hypertable already): copy its rows out, drop it, and \
                     apply again to create it distributed, or rename it"
                        .to_owned(),
                );
                continue;
            }
            let wanted: &[String] = spec.hypertable.data_node_names().unwrap_or(&spec_names);
            for dn in wanted {
                if info.data_nodes.contains(dn) {
                    continue;
                }
                let id = Ident::for_op(dn.clone(), "data node", OP, Some(&an_name))?;
                placement.add_step(
                    StepKind::AttachDataNode,
                    &an_name,
                    &qualified,
                    show::attach_data_node(an_schemas, &id, &qualified),
                    "the spec places the hypertable on this data node, which is not attached \
                     to it",
                );
                placement.last_step().data_node = Some(dn.clone());
            }
            if let Some(n) = spec.hypertable.get_replication_factor() {
                if info.replication_factor != Some(n) {
                    placement.add_step(
                        StepKind::SetReplicationFactor,
                        &an_name,
                        &qualified,
                        show::set_replication_factor(an_schemas, &qualified, n),
                        &format!(
                            "the replication factor is {:?}, the spec's {n} (existing chunks \
                             keep their replicas)",
                            info.replication_factor
                        ),
                    );
                }
            }
            self.plan_partitioning(spec, &dimensions, &mut plan, an_schemas)?;
            if self.prune != Prune::Off {
                for dn in &info.data_nodes {
                    // Data nodes outside the spec are deleted below, which detaches them.
                    if wanted.contains(dn) || !spec_names.contains(dn) {
                        continue;
                    }
                    let drop = self.prune == Prune::DropData;
                    placement.add_step(
                        StepKind::DetachDataNode,
                        &an_name,
                        &qualified,
                        show::detach_data_node(an_schemas, dn, &qualified, drop),
                        "prune: the spec does not place the hypertable on this data node",
                    );
                    let step = placement.last_step();
                    step.data_node = Some(dn.clone());
                    step.destructive = true;
                }
            }
        }

        Ok(Tables { plan, placement })
    }

    /// Steps or conflicts for how the existing hypertable `schema.name` is partitioned,
    /// against what `spec` states (only what it states): the time column, the space
    /// partitioning column (neither can change once the table has them), the number of
    /// partitions and the chunk interval (both can, for new chunks).
    fn plan_partitioning(
        &self,
        spec: &HypertableSpec,
        dimensions: &[Dimension],
        plan: &mut Plan,
        schemas: Option<&Schemas>,
    ) -> Result<()> {
        let an_name = self.access_node.node_name();
        let hypertable = &spec.hypertable;
        let qualified = hypertable.table_name()?.regclass_text();
        let mut time = None;
        let mut space = None;
        for dimension in dimensions {
            let column = dimension.column.clone();
            match (dimension.slices, dimension.interval) {
                (Some(n), _) if space.is_none() => space = Some((column, n)),
                (None, Some(units)) if time.is_none() => time = Some((column, units)),
                _ => {}
            }
        }
        plan.observe(format!("table {qualified}: time {time:?} space {space:?}"));
        if let Some((column, _)) = &time {
            if column != hypertable.time_column() {
                plan.add_conflict(
                    &an_name,
                    &qualified,
                    format!(
                        "the table is partitioned by time on {column:?}, the spec's time \
                        column is {:?}; a hypertable's time column cannot change: copy \
                        the rows out, drop the table, and apply again",
                        hypertable.time_column()
                    ),
                );
            }
        }
        if let Some(wanted) = hypertable.partitioning() {
            match &space {
                None => plan.add_conflict(
                    &an_name,
                    &qualified,
                    format!(
                        "the spec partitions the table on {wanted:?} too, but it has no space \
                        partitioning; TimescaleDB adds a space dimension only to an empty \
                        hypertable (add_dimension): copy the rows out, drop the table, and \
                        apply again"
                    ),
                ),
                Some((column, _)) if column != wanted => plan.add_conflict(
                    &an_name,
                    &qualified,
                    format!(
                        "the table's space partitioning is on {column:?}, the spec's on \
                        {wanted:?}; a space dimension's column cannot change: copy the rows \
                        out, drop the table, and apply again"
                    ),
                ),
                Some((column, slices)) => {
                    if let Some(n) = hypertable.get_number_partitions() {
                        if *slices != n {
                            plan.add_conflict(
                                &an_name,
                                &qualified,
                                format!(
                                    "the table has {slices} partitions on {column:?}, the spec \
                                     {n}; the crate does not change it: TimescaleDB passes \
                                     set_number_partitions on to the data nodes with untyped \
                                     arguments, which a look-alike function in the \
                                     extension's schema there would take over. Run \
                                     set_number_partitions({qualified:?}, {n}, {column:?}) \
                                     yourself where no other role may create functions in \
                                     that schema"
                                ),
                            );
                        }
                    }
                }
            }
        }
        if let (Some(wanted), Some((_, units))) = (hypertable.get_chunk_interval(), &time) {
            let wanted_units = interval_units(wanted).ok_or_else(|| {
                Error::invalid(
                    OP,
                    Some(&an_name),
                    format!("{qualified}: the chunk interval must be positive, not {wanted:?}"),
                )
            })?;
            if wanted_units != *units {
                plan.add_step(
                    StepKind::SetChunkInterval,
                    &an_name,
                    &qualified,
                    show::set_chunk_time_interval(schemas, &qualified, wanted_units),
                    &format!(
                        "the chunk interval is {units}, the spec's {wanted_units} (in the time \
                        column's units, microseconds for time types; existing chunks keep \
                        theirs)"
                    ),
                );
            }
        }
        Ok(())
    }
}

pub(super) async fn resolve(
    session: &Session,
    table: &TableName,
) -> Result<Option<(String, String)>> {
    let row = session
        .query_opt(OP, &RESOLVE_TABLE, &[&table.regclass_text()])
        .await?;
    row.map(|row| {
        Ok((
            session.get(OP, &row, "schema")?,
            session.get(OP, &row, "name")?,
        ))
    })
    .transpose()
}

/// What the plan reads of one spec table on the access node.
struct TableReads {
    /// Its schema and name, where it exists.
    exists: Option<(String, String)>,
    /// The hypertable it is, if any.
    info: Option<HypertableInfo>,
    /// Its dimensions, in order (none for a table that is no hypertable).
    dimensions: Vec<Dimension>,
}

/// One dimension of a hypertable.
struct Dimension {
    column: String,
    /// The number of partitions of a space dimension.
    slices: Option<i32>,
    /// The interval of a time dimension, in the column's units.
    interval: Option<i64>,
}

/// What `table` is on the access node (`an_ready`: the extension is there): resolved first,
/// then the hypertable and its dimensions together (one round trip).
async fn read_table(session: &Session, table: &TableName, an_ready: bool) -> Result<TableReads> {
    let exists = resolve(session, table).await?;
    let (info, dimensions) = match (&exists, an_ready) {
        (Some((schema, name)), true) => {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [schema, name];
            let (hypertable, dimensions) = (&HYPERTABLE, &HYPERTABLE_DIMENSIONS);
            let (info, rows) = tokio::join!(
                session.query_opt(OP, hypertable, &params),
                session.query(OP, dimensions, &params),
            );
            let info = info?
                .map(|row| HypertableInfo::from_row(session, OP, &row))
                .transpose()?;
            let dimensions = rows?
                .iter()
                .map(|row| {
                    Ok(Dimension {
                        column: session.get(OP, row, "column_name")?,
                        slices: session.get(OP, row, "num_slices")?,
                        interval: session.get(OP, row, "interval_length")?,
                    })
                })
                .collect::<Result<_>>()?;
            (info, dimensions)
        }
        _ => (None, Vec::new()),
    };
    Ok(TableReads {
        exists,
        info,
        dimensions,
    })
}
