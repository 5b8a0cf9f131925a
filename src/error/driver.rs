//! [`DriverError`]: the driver's error under an [`Error`](super::Error) variant, and the
//! cause that variant's `source()` gives.

use std::error::Error as StdError;
use std::fmt;
use std::ops::Deref;

/// The driver's error under an [`Error`](super::Error) variant: its `driver` field.
///
/// [`get_ref`](Self::get_ref) and [`into_inner`](Self::into_inner) give the
/// [`tokio_postgres::Error`]. The value dereferences to the error's cause, which is what a
/// classified variant's [`source()`](std::error::Error::source) gives: the server's
/// [`DbError`](tokio_postgres::error::DbError) itself when the server reported the error
/// (the driver's wrapper around it says only "db error"), otherwise the driver's error
/// (its message names what failed, its source the I/O or TLS error underneath).
///
/// ```
/// use timescaledb_multinode::Error;
///
/// /// The SQLSTATE of a refused login, if the server gave one.
/// fn refused_with(error: &Error) -> Option<String> {
///     match error {
///         Error::AuthenticationFailed { driver, .. } => driver
///             .get_ref()
///             .as_db_error()
///             .map(|db| db.code().code().to_owned()),
///         _ => None,
///     }
/// }
/// # let _ = refused_with;
/// ```
pub struct DriverError(tokio_postgres::Error);

impl DriverError {
    /// Wraps the driver's error.
    pub(super) fn new(error: tokio_postgres::Error) -> Self {
        DriverError(error)
    }

    /// The driver's error.
    pub fn get_ref(&self) -> &tokio_postgres::Error {
        &self.0
    }

    /// The driver's error, by value.
    pub fn into_inner(self) -> tokio_postgres::Error {
        self.0
    }
}

/// The cause: the server's `DbError` when the server reported the error, otherwise the
/// driver's error. The derive of `Error` takes a classified variant's `source()` from here
/// (thiserror accepts a source that dereferences to `dyn Error`). `DriverError` must not
/// implement `std::error::Error` itself: the derive would then return it, not the cause,
/// and the chain would change (the unit tests check the source's type).
impl Deref for DriverError {
    type Target = dyn StdError + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        match self.0.as_db_error() {
            Some(db) => db,
            None => &self.0,
        }
    }
}

/// The driver's error's `Debug`, as if it were the field itself.
impl fmt::Debug for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
