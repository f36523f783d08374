//! What every model loader returns, and its error.

use std::path::Path;

use crate::error::Error;

/// What loading a model gives besides the model: its id and the fingerprint of its weights.
pub(super) struct Loaded<M> {
    pub(super) model: M,
    pub(super) model_id: String,
    pub(super) checksum: String,
}

pub(super) fn model_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}
