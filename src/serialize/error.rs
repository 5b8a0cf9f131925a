//! An [`Error`] as an object a program can read: kind, operation, node, message, SQLSTATE.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::error::Error;

/// `{"kind": "authentication_failed", "operation": "connect", "node": "dn1", "message":
/// "...", "sqlstate": "28P01"}`. The message is the error's `Display`, which never holds a
/// password or SQL text; the source chain is not included.
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Error", 5)?;
        out.serialize_field("kind", kind(self))?;
        out.serialize_field("operation", self.operation())?;
        out.serialize_field("node", &self.node())?;
        out.serialize_field("message", &self.to_string())?;
        out.serialize_field("sqlstate", &self.code().map(|c| c.code()))?;
        out.end()
    }
}

/// The variant's name in `snake_case`.
fn kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidInput { .. } => "invalid_input",
        Error::Unreachable { .. } => "unreachable",
        Error::Timeout { .. } => "timeout",
        Error::Deadline { .. } => "deadline",
        Error::PoolTimeout { .. } => "pool_timeout",
        Error::AuthenticationFailed { .. } => "authentication_failed",
        Error::ChannelBindingNotUsed { .. } => "channel_binding_not_used",
        Error::ConnectionLost { .. } => "connection_lost",
        Error::Tls { .. } => "tls",
        Error::UnsupportedServer { .. } => "unsupported_server",
        Error::MissingPrivilege { .. } => "missing_privilege",
        Error::Database { .. } => "database",
        Error::AlreadyExists { .. } => "already_exists",
        Error::NotFound { .. } => "not_found",
        Error::NoUserMapping { .. } => "no_user_mapping",
        Error::DataNodeDown { .. } => "data_node_down",
        Error::WouldLoseData { .. } => "would_lose_data",
        Error::SecretWouldBeLogged { .. } => "secret_would_be_logged",
        Error::Client { .. } => "client",
        Error::Fixture { .. } => "fixture",
        Error::VerificationFailed { .. } => "verification_failed",
        Error::Conflict { .. } => "conflict",
        Error::StalePlan { .. } => "stale_plan",
        Error::Several { .. } => "several",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_error_is_an_object_with_its_kind_operation_and_node() {
        let error = Error::Timeout {
            op: "cluster status",
            node: "dn1".into(),
            after: Duration::from_secs(10),
        };
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "timeout",
                "operation": "cluster status",
                "node": "dn1",
                "message": "cluster status on node dn1: timed out after 10s",
                "sqlstate": null,
            })
        );
        let error = Error::invalid("parse spec", None, "no access node");
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["kind"], "invalid_input");
        assert_eq!(json["node"], serde_json::Value::Null);
    }
}
