//! The error every aggregate's `restore` returns when stored state is wrong.

use std::fmt;

/// Stored state that breaks an aggregate invariant.
///
/// This is not a business rejection: it means the database (or a migration,
/// or a bug in an earlier version) wrote something the domain could never
/// have produced, so loading must stop rather than act on it. The message
/// names the broken invariant for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptState(pub String);

impl CorruptState {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorruptState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt stored state: {}", self.0)
    }
}

impl std::error::Error for CorruptState {}

/// Returns `Err(CorruptState)` with `message` unless `condition` holds.
///
/// Restore functions are a list of such checks; the helper keeps each one a
/// single line so the list reads like the invariants it enforces.
pub(crate) fn ensure(condition: bool, message: &str) -> Result<(), CorruptState> {
    if condition {
        Ok(())
    } else {
        Err(CorruptState::new(message))
    }
}
