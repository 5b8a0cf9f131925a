//! [`HealReport`], [`NodeHeal`] and [`Rotation`]: what the repairing operations did.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::result_field;
use crate::cluster::{HealReport, NodeHeal, Rotation};

impl Serialize for HealReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("HealReport", 4)?;
        out.serialize_field("clean", &self.is_clean())?;
        out.serialize_field("healed", &self.healed())?;
        out.serialize_field("advanced_xid", &self.advanced_xid)?;
        out.serialize_field("nodes", &self.nodes)?;
        out.end()
    }
}

impl Serialize for NodeHeal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let records = |n: i64| (n >= 0).then_some(n);
        let mut out = serializer.serialize_struct("NodeHeal", 10)?;
        out.serialize_field("name", &self.name)?;
        result_field(
            &mut out,
            "in_doubt_before",
            "in_doubt_before_error",
            &self.in_doubt_before,
        )?;
        result_field(&mut out, "healed", "healed_error", &self.healed)?;
        out.serialize_field(
            "remote_txn_records_before",
            &records(self.remote_txn_records.0),
        )?;
        out.serialize_field(
            "remote_txn_records_after",
            &records(self.remote_txn_records.1),
        )?;
        result_field(
            &mut out,
            "in_doubt_after",
            "in_doubt_after_error",
            &self.in_doubt_after,
        )?;
        out.serialize_field("other_owners", &self.other_owners)?;
        out.end()
    }
}

impl Serialize for Rotation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Failure<'a> {
            step: crate::cluster::RotationStep,
            error: &'a crate::error::Error,
        }
        let mut out = serializer.serialize_struct("Rotation", 7)?;
        out.serialize_field("data_node", &self.data_node)?;
        out.serialize_field("complete", &self.is_complete())?;
        out.serialize_field("role_changed", &self.role_changed)?;
        out.serialize_field("mapping", &self.mapping)?;
        out.serialize_field("siblings", &self.siblings)?;
        out.serialize_field("verified", &self.verified)?;
        let failure = self
            .failure
            .as_ref()
            .map(|(step, error)| Failure { step: *step, error });
        out.serialize_field("failure", &failure)?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::cluster::{HealReport, NodeHeal, PreparedTransaction, Rotation, RotationStep};
    use crate::error::Error;
    use crate::node::MappingChange;

    fn txn(owner: &str) -> PreparedTransaction {
        PreparedTransaction {
            gid: "ts-1-740-16386-10".into(),
            prepared: "2026-11-29 11:00:00+00".into(),
            owner: owner.into(),
            database: "tsdb".into(),
        }
    }

    #[test]
    fn a_heal_report_has_its_documented_fields() {
        let down = Error::DataNodeDown {
            op: "heal two-phase commits",
            node: "dn2".into(),
        };
        let report = HealReport {
            nodes: vec![
                NodeHeal {
                    name: "dn1".into(),
                    in_doubt_before: Ok(vec![txn("tsdbadmin"), txn("other")]),
                    healed: Ok(1),
                    remote_txn_records: (3, 0),
                    in_doubt_after: Ok(vec![txn("other")]),
                    other_owners: vec![txn("other")],
                },
                NodeHeal {
                    name: "dn2".into(),
                    in_doubt_before: Err(down),
                    healed: Ok(0),
                    remote_txn_records: (-1, -1),
                    in_doubt_after: Ok(Vec::new()),
                    other_owners: Vec::new(),
                },
            ],
            advanced_xid: false,
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["clean"], false);
        assert_eq!(json["healed"], 1);
        assert_eq!(json["advanced_xid"], false);
        let dn1 = &json["nodes"][0];
        let mut keys: Vec<&str> = dn1
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented = [
            "name",
            "in_doubt_before",
            "in_doubt_before_error",
            "healed",
            "healed_error",
            "remote_txn_records_before",
            "remote_txn_records_after",
            "in_doubt_after",
            "in_doubt_after_error",
            "other_owners",
        ];
        keys.sort_unstable();
        documented.sort_unstable();
        assert_eq!(keys, documented);
        assert_eq!(dn1["in_doubt_before"].as_array().unwrap().len(), 2);
        assert_eq!(dn1["remote_txn_records_before"], 3);
        assert_eq!(dn1["other_owners"][0]["owner"], "other");
        let dn2 = &json["nodes"][1];
        assert_eq!(dn2["in_doubt_before"], Value::Null);
        assert_eq!(dn2["in_doubt_before_error"]["kind"], "data_node_down");
        assert_eq!(dn2["remote_txn_records_before"], Value::Null);
    }

    #[test]
    fn a_rotation_names_the_step_that_failed() {
        let rotation = Rotation {
            data_node: "dn1".into(),
            role_changed: true,
            mapping: Some(MappingChange::Updated),
            siblings: vec!["dn2".into()],
            verified: false,
            failure: Some((
                RotationStep::RoundTrip,
                Error::invalid("rotate password", Some("an"), "no round trip"),
            )),
        };
        let json = serde_json::to_value(&rotation).unwrap();
        assert_eq!(json["complete"], false);
        assert_eq!(json["mapping"], "updated");
        assert_eq!(json["siblings"], json!(["dn2"]));
        assert_eq!(json["failure"]["step"], "round_trip");
        assert_eq!(json["failure"]["error"]["kind"], "invalid_input");
        assert_eq!(
            serde_json::to_value(Rotation {
                failure: None,
                verified: true,
                ..rotation
            })
            .unwrap()["failure"],
            json!(null)
        );
    }
}
