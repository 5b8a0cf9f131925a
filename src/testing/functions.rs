//! The functions this crate calls, for tests that plant look-alikes of them.

pub use crate::sql::functions::{CalledFunction, FunctionHome, FunctionKind, LookAlike};

/// Every function the crate's SQL calls (PostgreSQL built-ins and TimescaleDB's API,
/// internal and experimental functions), each with look-alikes a role that may create
/// functions in `public` could plant to be run instead (CVE-2018-1058).
///
/// The crate qualifies each call with the function's schema and casts every argument to
/// the declared type, so none of them is ever chosen; a unit test checks this list against
/// every statement the crate can send. Tests (the crate's own `hijack` test, or yours) can
/// plant the look-alikes on a real cluster, run the crate, and check that none ran.
///
/// ```
/// use timescaledb_multinode::testing::{called_functions, FunctionHome};
///
/// let add = called_functions().iter().find(|f| f.name == "add_data_node").unwrap();
/// assert_eq!(add.home, FunctionHome::Api);
/// assert!(add.look_alikes[0].params.starts_with("node_name text, host text"));
/// ```
pub fn called_functions() -> &'static [CalledFunction] {
    crate::sql::functions::CALLED
}
