//! The write path: digests are parsed, merged with the indexed papers, and written as a new
//! generation (full text, vectors, topics) under one writer lock. Every change to an index goes
//! through here, so a second writer always meets the same clear "locked" error and a failure at
//! any step leaves the live generation as it was.

mod embedding;
mod finish;
mod options;
mod refit;
mod write;

pub use finish::finish_embedding;
pub use options::{IndexReport, Update, UpdateOptions, WORDS_FIRST_ABOVE};
pub use refit::{Refit, fit_topics, refit_topics};
pub use write::{index_files, index_files_with, update};
