//! What the plan reads on the access node alone, while the data nodes are checked: its
//! data nodes and the admin's mappings for them, the spec's tables, the spec's roles.

use futures_util::future::BoxFuture;

use super::roles::RoleReads;
use super::tables::Tables;
use super::{held_or_own, OP};
use crate::catalog::DataNodeInfo;
use crate::cluster::mapping::{mapping_checks, MappingCheck};
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::connect::{Deadline, Session};
use crate::error::Result;
use crate::node::AccessNode;
use crate::pool::PooledClient;
use crate::server::ServerInfo;

/// What [`Cluster::read_access_node`] read, each part with its own outcome: the plan
/// reports a part's error where it would have read that part, after what comes before it
/// (a data node that cannot run multi-node, a spec the access node refuses).
pub(super) struct AccessNodeReads {
    /// The data nodes the access node has (none without the extension).
    pub(super) registered: Result<Vec<DataNodeInfo>>,
    /// The admin's mapping for each of the spec's data nodes, in their order (none
    /// without the extension).
    pub(super) mappings: Result<Vec<MappingCheck>>,
    /// The spec's tables.
    pub(super) tables: Result<Tables>,
    /// The spec's roles, in their order.
    pub(super) roles: Result<Vec<RoleReads>>,
}

/// What [`Cluster::read_access_node_first`] read: the plan's own access-node session (none
/// when the plan reads over a held one), what the node runs, and the rest of its reads
/// (not read on a node the plan refuses).
pub(super) type AccessNodeFirst<'a> = (
    Option<PooledClient<'a>>,
    ServerInfo,
    Result<AccessNodeReads>,
);

impl Cluster {
    /// Opens the plan's access-node session (unless `held` is given), reads what the node
    /// runs and then, where the plan does not refuse the node, everything the plan reads on
    /// it alone (see [`Cluster::read_access_node`]). Boxed: it runs beside the data nodes'
    /// checks, and its future is large in a debug build.
    pub(super) fn read_access_node_first<'a>(
        &'a self,
        held: Option<&'a Session>,
    ) -> BoxFuture<'a, Result<AccessNodeFirst<'a>>> {
        Box::pin(async move {
            let an_name = self.access_node.node_name();
            let deadline = Deadline::after(self.node_deadline);
            let client = match held {
                Some(_) => None,
                None => Some(
                    deadline
                        .run(OP, &an_name, self.access_node_client(OP))
                        .await?,
                ),
            };
            let session = held_or_own(held, client.as_ref());
            let info = session
                .bounded(OP, &an_name, deadline, ServerInfo::read_brief(session))
                .await?;
            // Not on a node the plan refuses (with this same error).
            let reads = match info.check_offered_for(OP) {
                Ok(()) => Ok(self.read_access_node(session, &info).await),
                Err(e) => Err(e),
            };
            Ok((client, info, reads))
        })
    }

    /// Reads what the plan needs of the access node `info` describes, over the plan's
    /// `session`.
    pub(super) async fn read_access_node(
        &self,
        session: &Session,
        info: &ServerInfo,
    ) -> AccessNodeReads {
        let ready = info.timescaledb.is_some();
        let schemas = info.schemas(OP).ok();
        let dns: Vec<&NodeConfig> = self.data_nodes.iter().collect();
        // All parts at once over the one session (their statements go out together): the
        // data nodes and mappings in one round trip, the tables and the roles in two each.
        let ((registered, mappings), tables, roles) = tokio::join!(
            async {
                if ready {
                    tokio::join!(
                        AccessNode::list_data_nodes(session, OP),
                        mapping_checks(session, OP, &dns),
                    )
                } else {
                    (Ok(Vec::new()), Ok(Vec::new()))
                }
            },
            self.plan_tables(session, ready, schemas.as_ref()),
            self.read_roles(session, info),
        );
        AccessNodeReads {
            registered,
            mappings,
            tables,
            roles,
        }
    }
}
