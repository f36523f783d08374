//! ggml's Q4_0 block format, which the model file stores the encoder's matrices and the token
//! table in: the loader reads it, the encoder dequantizes token rows with it.

/// Q4_0: 32 weights in 18 bytes (an f16 scale, then 16 bytes: low nibble = weight j, high = j + 16).
pub(super) const BLOCK: usize = 32;
pub(super) const BLOCK_BYTES: usize = 18;

/// One Q4_0 block (18 bytes) into 32 weights: `(q - 8) * scale`.
pub(super) fn dequantize_block(block: &[u8], out: &mut [f32]) {
    let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
    for (j, &b) in block[2..BLOCK_BYTES].iter().enumerate() {
        out[j] = (f32::from(b & 0x0f) - 8.0) * scale;
        out[j + 16] = (f32::from(b >> 4) - 8.0) * scale;
    }
}
