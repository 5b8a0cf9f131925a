//! What the plan reads on the access node alone, while the data nodes are checked: its
//! data nodes and the admin's mappings for them, the spec's tables, the spec's roles.

use super::roles::RoleReads;
use super::tables::Tables;
use super::OP;
use crate::catalog::DataNodeInfo;
use crate::cluster::mapping::{mapping_checks, MappingCheck};
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::connect::Session;
use crate::error::Result;
use crate::node::AccessNode;
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

impl Cluster {
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
