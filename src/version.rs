//! Version numbers of PostgreSQL and TimescaleDB.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A `major.minor.patch` version such as TimescaleDB's `2.13.1`.
///
/// Pre-release suffixes (`2.14.0-dev`) are accepted and ignored for ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version (0 when absent).
    pub patch: u32,
}

impl Version {
    /// Builds a version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("parse version", None, format!("{s:?} is not a version"));
        let core = s.trim().split(['-', ' ', '+']).next().unwrap_or_default();
        let mut parts = core.split('.');
        let mut next = |required: bool| -> Result<u32, Error> {
            match parts.next() {
                Some(p) => p.parse().map_err(|_| bad()),
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        let v = Version::new(next(true)?, next(true)?, next(false)?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(v)
    }
}

/// An optional [`Version`] as text (`"2.13.1"`) in serialized forms.
#[cfg(feature = "serde")]
pub(crate) mod serde_option_text {
    use super::Version;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<Version>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Version>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| {
                t.parse::<Version>()
                    .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a version")))
            })
            .transpose()
    }
}

/// A PostgreSQL server version, from `server_version_num` (`150020` is 15.20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgVersion {
    /// Major version (13, 14, 15, ...).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl PgVersion {
    /// Decodes `server_version_num` (PostgreSQL 10 and later).
    pub const fn from_num(num: u32) -> Self {
        PgVersion {
            major: num / 10_000,
            minor: num % 10_000,
        }
    }
}

impl fmt::Display for PgVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_and_dev_versions() {
        assert_eq!("2.13.1".parse::<Version>().unwrap(), Version::new(2, 13, 1));
        assert_eq!(
            "2.14.0-dev".parse::<Version>().unwrap(),
            Version::new(2, 14, 0)
        );
        assert_eq!("2.9".parse::<Version>().unwrap(), Version::new(2, 9, 0));
        assert!("two".parse::<Version>().is_err());
        assert!("2".parse::<Version>().is_err());
        assert!("1.2.3.4".parse::<Version>().is_err());
    }

    #[test]
    fn orders_numerically() {
        assert!(Version::new(2, 9, 0) < Version::new(2, 13, 0));
        assert!(Version::new(2, 10, 2) > Version::new(2, 10, 1));
    }

    #[test]
    fn decodes_server_version_num() {
        let v = PgVersion::from_num(150_020);
        assert_eq!((v.major, v.minor), (15, 20));
        assert_eq!(v.to_string(), "15.20");
    }
}
