//! The error every storage port returns. Domain services translate it into
//! their own errors; adapters MUST map their driver errors onto it.

/// A storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (a second tenant with the same name, say).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row the operation needed is not there (any more).
    #[error("not found")]
    NotFound,
    /// The store could not be reached or failed; the operation did not happen.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}
