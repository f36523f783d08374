//! The library in-process, without the binary: parsing and rendering digests, the shipped
//! embedding model, and the write path and `Engine` on small indexes of real digests.

mod embed_model;
mod engine;
mod fuzz;
mod layers;
mod parse_data;
mod render_roundtrip;
mod vectors;
mod words_first;
