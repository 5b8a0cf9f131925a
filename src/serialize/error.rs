//! An [`Error`] as an object a program can read: kind, operation, node, message, SQLSTATE.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::error::Error;

/// `{"kind": "authentication_failed", "operation": "connect", "node": "dn1", "message":
/// "...", "sqlstate": "28P01"}`. The kind is [`crate::ErrorKind::as_str`]; the message is the
/// error's `Display`, which never holds a password or SQL text; the source chain is not
/// included.
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Error", 5)?;
        out.serialize_field("kind", self.kind().as_str())?;
        out.serialize_field("operation", self.operation())?;
        out.serialize_field("node", &self.node())?;
        out.serialize_field("message", &self.to_string())?;
        out.serialize_field("sqlstate", &self.code().map(|c| c.code()))?;
        out.end()
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
