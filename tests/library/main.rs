//! The library in-process, without the binary: parsing and rendering digests, and the
//! shipped embedding model.

mod embed_model;
mod parse_data;
mod render_roundtrip;
