//! multilingual-e5-small: the model file's loader and the text-level work (`weights`), the
//! encoder's forward pass (`encoder`), its tokenizer (`tokenizer`) and the Q4_0 block format the
//! file stores matrices in (`q4`), which the loader and the encoder both read.

mod encoder;
mod q4;
mod tokenizer;
mod weights;

pub use weights::MAX_PASSAGE_TOKENS;
pub(super) use weights::{E5Model, Side};
