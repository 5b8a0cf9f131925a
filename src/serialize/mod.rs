//! How the crate's reports serialize (feature `serde`): the `Serialize` impls of the
//! reports, by the conventions and field names documented in the crate docs
//! ("Serialization"), which are part of the crate's interface.

mod error;
mod heal;
mod placement;
mod scalar;
mod status;

use serde::ser::SerializeStruct;

use crate::error::Error;

/// Writes a `Result` field as `name` (the value or `null`) and `name_error` (the error or
/// `null`).
fn result_field<S, T>(
    out: &mut S,
    name: &'static str,
    error_name: &'static str,
    value: &Result<T, Error>,
) -> Result<(), S::Error>
where
    S: SerializeStruct,
    T: serde::Serialize,
{
    out.serialize_field(name, &value.as_ref().ok())?;
    out.serialize_field(error_name, &value.as_ref().err())
}
