//! [`ClusterStatus`] and its parts.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::result_field;
use crate::cluster::{AccessNodeLink, ClusterStatus, DataNodeStatus, NodeStatus};

impl Serialize for ClusterStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("ClusterStatus", 6)?;
        out.serialize_field("healthy", &self.is_healthy())?;
        out.serialize_field("access_node_name", &self.access_node_name)?;
        out.serialize_field("access_node", &self.access_node)?;
        out.serialize_field("data_nodes", &self.data_nodes)?;
        result_field(
            &mut out,
            "under_replicated",
            "under_replicated_error",
            &self.under_replicated,
        )?;
        out.end()
    }
}

impl Serialize for NodeStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("NodeStatus", 4)?;
        out.serialize_field("up", &self.is_up())?;
        out.serialize_field("cause", &self.cause())?;
        result_field(&mut out, "server", "server_error", &self.server)?;
        out.end()
    }
}

impl Serialize for DataNodeStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("DataNodeStatus", 11)?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("healthy", &self.is_healthy())?;
        out.serialize_field("direct", &self.direct)?;
        out.serialize_field("link", &self.link)?;
        out.serialize_field("available", &self.available)?;
        out.serialize_field("version_ok", &self.version_ok)?;
        out.serialize_field("extension_missing", &self.extension_missing())?;
        out.serialize_field("max_prepared_transactions", &self.max_prepared_transactions)?;
        out.serialize_field(
            "two_phase_commit_disabled",
            &self.two_phase_commit_disabled(),
        )?;
        result_field(
            &mut out,
            "prepared_transactions",
            "prepared_transactions_error",
            &self.prepared_transactions,
        )?;
        out.end()
    }
}

impl Serialize for AccessNodeLink {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("AccessNodeLink", 4)?;
        out.serialize_field("state", state(self))?;
        out.serialize_field("cause", &self.cause())?;
        out.serialize_field("error", &self.error())?;
        let reason = match self {
            AccessNodeLink::NotChecked(why) => Some(why.as_str()),
            _ => None,
        };
        out.serialize_field("reason", &reason)?;
        out.end()
    }
}

/// The link's variant in `snake_case`.
fn state(link: &AccessNodeLink) -> &'static str {
    match link {
        AccessNodeLink::Ok => "ok",
        AccessNodeLink::Down(_) => "down",
        AccessNodeLink::WrongPassword(_) => "wrong_password",
        AccessNodeLink::NoUserMapping(_) => "no_user_mapping",
        AccessNodeLink::RejectedByHba(_) => "rejected_by_hba",
        AccessNodeLink::UnknownRole(_) => "unknown_role",
        AccessNodeLink::UnknownDatabase(_) => "unknown_database",
        AccessNodeLink::TooManyConnections(_) => "too_many_connections",
        AccessNodeLink::Tls(_) => "tls",
        AccessNodeLink::Dns(_) => "dns",
        AccessNodeLink::ExtensionMissing(_) => "extension_missing",
        AccessNodeLink::ExtensionIncompatible(_) => "extension_incompatible",
        AccessNodeLink::NotAdded => "not_added",
        AccessNodeLink::NotChecked(_) => "not_checked",
        AccessNodeLink::Failed(_) => "failed",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::cluster::{
        AccessNodeLink, ClusterStatus, DataNodeStatus, NodeStatus, PreparedTransaction,
    };
    use crate::error::Error;
    use crate::server::{License, NodeRole, ServerInfo};
    use crate::version::PgVersion;

    fn server(node: &str) -> ServerInfo {
        ServerInfo {
            node: node.into(),
            postgres: PgVersion {
                major: 15,
                minor: 20,
            },
            postgres_version_string: "15.20".into(),
            database: "tsdb".into(),
            user: "tsdbadmin".into(),
            is_superuser: true,
            timescaledb: Some("2.13.1".parse().unwrap()),
            timescaledb_schema: Some("public".into()),
            timescaledb_default: Some("2.13.1".parse().unwrap()),
            timescaledb_available: vec!["2.13.1".parse().unwrap()],
            license: Some(License::Timescale),
            preloaded: true,
            max_prepared_transactions: 150,
            in_recovery: false,
            config_loaded: std::time::SystemTime::UNIX_EPOCH,
            default_read_only: false,
            data_node_count: 0,
            role: NodeRole::DataNode,
        }
    }

    fn status() -> ClusterStatus {
        let timeout = || Error::Timeout {
            op: "cluster status",
            node: "dn2".into(),
            after: std::time::Duration::from_secs(10),
        };
        ClusterStatus {
            access_node_name: "an".into(),
            access_node: NodeStatus {
                server: Ok(server("an")),
            },
            data_nodes: vec![
                DataNodeStatus {
                    name: "dn1".into(),
                    direct: NodeStatus {
                        server: Ok(server("dn1")),
                    },
                    link: AccessNodeLink::Ok,
                    available: Some(true),
                    version_ok: Some(true),
                    max_prepared_transactions: Some(150),
                    prepared_transactions: Ok(vec![PreparedTransaction {
                        gid: "ts-1-740-16386-10".into(),
                        prepared: "2026-11-29 11:00:00+00".into(),
                        owner: "tsdbadmin".into(),
                        database: "tsdb".into(),
                    }]),
                },
                DataNodeStatus {
                    name: "dn2".into(),
                    direct: NodeStatus {
                        server: Err(timeout()),
                    },
                    link: AccessNodeLink::Down(timeout()),
                    available: None,
                    version_ok: None,
                    max_prepared_transactions: None,
                    prepared_transactions: Err(timeout()),
                },
            ],
            under_replicated: Ok(Vec::new()),
        }
    }

    #[test]
    fn a_cluster_status_has_its_documented_fields() {
        let json = serde_json::to_value(status()).unwrap();
        assert_eq!(json["healthy"], false);
        assert_eq!(json["access_node_name"], "an");
        assert_eq!(json["access_node"]["up"], true);
        assert_eq!(json["access_node"]["cause"], Value::Null);
        assert_eq!(json["access_node"]["server_error"], Value::Null);
        let an = &json["access_node"]["server"];
        assert_eq!(an["postgres"], "15.20");
        assert_eq!(an["timescaledb"], "2.13.1");
        assert_eq!(an["license"], "timescale");
        assert_eq!(an["role"], "data_node");
        assert_eq!(json["under_replicated"], json!([]));
        assert_eq!(json["under_replicated_error"], Value::Null);

        let dn1 = &json["data_nodes"][0];
        let mut keys: Vec<&str> = dn1
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented = [
            "name",
            "healthy",
            "direct",
            "link",
            "available",
            "version_ok",
            "extension_missing",
            "max_prepared_transactions",
            "two_phase_commit_disabled",
            "prepared_transactions",
            "prepared_transactions_error",
        ];
        keys.sort_unstable();
        documented.sort_unstable();
        assert_eq!(keys, documented);
        assert_eq!(dn1["name"], "dn1");
        assert_eq!(dn1["healthy"], false, "one transaction is in doubt");
        assert_eq!(
            dn1["link"],
            json!({"state": "ok", "cause": null, "error": null, "reason": null})
        );
        assert_eq!(dn1["available"], true);
        assert_eq!(dn1["prepared_transactions"][0]["owner"], "tsdbadmin");

        let dn2 = &json["data_nodes"][1];
        assert_eq!(dn2["direct"]["up"], false);
        assert_eq!(dn2["direct"]["cause"], "timed_out");
        assert_eq!(dn2["direct"]["server"], Value::Null);
        assert_eq!(dn2["direct"]["server_error"]["kind"], "timeout");
        assert_eq!(dn2["direct"]["server_error"]["node"], "dn2");
        assert_eq!(dn2["link"]["state"], "down");
        assert_eq!(dn2["link"]["cause"], "timed_out");
        assert_eq!(dn2["link"]["error"]["operation"], "cluster status");
        assert_eq!(dn2["available"], Value::Null);
        assert_eq!(dn2["prepared_transactions"], Value::Null);
        assert_eq!(dn2["prepared_transactions_error"]["kind"], "timeout");
    }

    #[test]
    fn a_link_not_checked_says_why() {
        let link = AccessNodeLink::NotChecked("the access node could not be read".into());
        assert_eq!(
            serde_json::to_value(&link).unwrap(),
            json!({
                "state": "not_checked",
                "cause": null,
                "error": null,
                "reason": "the access node could not be read",
            })
        );
    }
}
