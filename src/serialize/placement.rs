//! [`NodeChunkRows`]: one data node's rows per chunk (the rest of a chunk placement
//! derives its form).

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::result_field;
use crate::cluster::NodeChunkRows;

impl Serialize for NodeChunkRows {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("NodeChunkRows", 3)?;
        out.serialize_field("node", &self.node)?;
        result_field(&mut out, "chunks", "chunks_error", &self.chunks)?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::catalog::ChunkInfo;
    use crate::cluster::{ChunkPlacement, ChunkRows, NodeChunkRows};
    use crate::error::Error;

    #[test]
    fn a_chunk_placement_has_its_documented_fields() {
        let placement = ChunkPlacement {
            schema: "public".into(),
            table: "sensor_data".into(),
            data_nodes: vec!["dn1".into(), "dn2".into()],
            chunks: vec![ChunkInfo {
                schema: "_timescaledb_internal".into(),
                name: "_dist_hyper_1_1_chunk".into(),
                range_start: Some("2026-11-26 00:00:00+00".into()),
                range_end: Some("2026-12-03 00:00:00+00".into()),
                range_start_integer: None,
                range_end_integer: None,
                data_nodes: vec!["dn1".into()],
            }],
            rows: vec![
                NodeChunkRows {
                    node: "dn1".into(),
                    chunks: Ok(vec![ChunkRows {
                        chunk_schema: "_timescaledb_internal".into(),
                        chunk_name: "_dist_hyper_1_1_chunk".into(),
                        rows: 42,
                    }]),
                },
                NodeChunkRows {
                    node: "dn2".into(),
                    chunks: Err(Error::DataNodeDown {
                        op: "chunk placement",
                        node: "dn2".into(),
                    }),
                },
            ],
        };
        assert_eq!(placement.rows("_dist_hyper_1_1_chunk", "dn1"), Some(42));
        assert_eq!(placement.rows("_dist_hyper_1_1_chunk", "dn2"), None);
        let json = serde_json::to_value(&placement).unwrap();
        assert_eq!(json["table"], "sensor_data");
        assert_eq!(json["data_nodes"], json!(["dn1", "dn2"]));
        assert_eq!(json["chunks"][0]["name"], "_dist_hyper_1_1_chunk");
        assert_eq!(json["chunks"][0]["range_start"], "2026-11-26 00:00:00+00");
        assert_eq!(json["chunks"][0]["data_nodes"], json!(["dn1"]));
        assert_eq!(
            json["rows"][0],
            json!({
                "node": "dn1",
                "chunks": [{
                    "chunk_schema": "_timescaledb_internal",
                    "chunk_name": "_dist_hyper_1_1_chunk",
                    "rows": 42,
                }],
                "chunks_error": null,
            })
        );
        assert_eq!(json["rows"][1]["chunks"], json!(null));
        assert_eq!(json["rows"][1]["chunks_error"]["kind"], "data_node_down");
    }
}
