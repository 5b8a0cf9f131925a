//! Versions and the licence, as the strings a reader expects (`"2.13.1"`, `"timescale"`).

use serde::{Serialize, Serializer};

use crate::server::License;
use crate::version::{PgVersion, Version};

/// `"2.13.1"`.
impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `"15.20"`.
impl Serialize for PgVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `"timescale"`, `"apache"`, or the setting's value.
impl Serialize for License {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            License::Timescale => "timescale",
            License::Apache => "apache",
            License::Other(value) => value,
        })
    }
}
