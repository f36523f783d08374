"""paperscope beside the libraries a user would pick instead, on the same vectors and texts, in
the same run (benches/peers/run.sh prepares everything and calls this).

Usage: peers.py EXPORT_DIR PAPERSCOPE_JSON BM25_QUERIES_TSV EFS

  EXPORT_DIR       `paperscope export --format jsonl --queries ...`: papers.jsonl (fields, BM25
                   text, vectors) and queries.jsonl (paperscope's query vectors)
  PAPERSCOPE_JSON  what examples/peers.rs printed for the same export: build time, exact and
                   per-ef top-10s and queries/s, BM25 latency
HNSW: M and ef_construction as paperscope's index, the same ef sweep; builds on both cores,
queries one at a time on one thread (as a search runs), queries/s counted in that thread's CPU time. Recall@10 of every engine is scored
against one ground truth, numpy's exact inner product (the vectors are unit length).
"""

import json
import os
import statistics
import sys
import time

import numpy as np

K = 10
THREADS = 2
BASE = QUERIES = None  # the paper and query vectors, set once loaded (recall scores by them)
BM25_ROUNDS = 20


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def recall(found, truth):
    """Recall@10 by score, as ann-benchmarks counts it: a result counts when its inner product
    is at least the exact 10th best (less a float tolerance). By id it would be arbitrary where
    papers tie (a generated corpus recombining the same sentences has identical vectors).
    `found` and `truth` hold rows of BASE; QUERIES are the query vectors."""
    hit = 0
    for q, f, t in zip(QUERIES, found, truth):
        kth = float(BASE[t[K - 1]] @ q)
        hit += int(np.sum(BASE[list(f[:K])] @ q >= kth - 1e-5)) if len(f) else 0
    return hit / (K * len(truth))


def best_qps(curve, target):
    """Queries/s of the fastest ef whose recall@10 reaches `target` (None: none does)."""
    ok = [p["qps"] for p in curve if p["recall"] >= target]
    return max(ok) if ok else None


def timed_queries(search, queries):
    """Top-10s and queries per second of this thread's CPU time: the machine is shared, and
    wall time would count the time another process held the core (paperscope's side counts
    the same way)."""
    started = time.thread_time()
    ids = [search(q) for q in queries]
    return ids, len(queries) / (time.thread_time() - started)


def numpy_exact(base, queries):
    def search(q):
        scores = base @ q
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top], kind="stable")].tolist()

    return timed_queries(search, queries)


def hnswlib_curve(base, queries, m, efc, efs, truth):
    import hnswlib

    started = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=1)
    index.add_items(base, np.arange(len(base)), num_threads=THREADS)
    build = time.perf_counter() - started
    curve = []
    for ef in efs:
        index.set_ef(ef)
        ids, qps = timed_queries(
            lambda q: index.knn_query(q, k=K, num_threads=1)[0][0].tolist(), queries
        )
        curve.append({"ef": ef, "qps": qps, "recall": recall(ids, truth)})
    return build, curve


def faiss_curve(base, queries, m, efc, efs, truth):
    import faiss

    faiss.omp_set_num_threads(THREADS)
    started = time.perf_counter()
    index = faiss.IndexHNSWFlat(base.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = efc
    index.add(base)
    build = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    curve = []
    for ef in efs:
        index.hnsw.efSearch = ef
        ids, qps = timed_queries(lambda q: index.search(q[None, :], K)[1][0].tolist(), queries)
        curve.append({"ef": ef, "qps": qps, "recall": recall(ids, truth)})
    return build, curve


def bm25s_side(texts, queries):
    """bm25s over the same texts as paperscope's BM25 (the export's `text`: titles twice,
    summary, both abstracts), Chinese and English through jieba, lower-cased."""
    import bm25s
    import jieba

    jieba.setLogLevel(60)

    def tokens(text):
        return [t for t in (w.strip().lower() for w in jieba.cut_for_search(text)) if t and any(c.isalnum() for c in t)]

    started = time.perf_counter()
    corpus = [tokens(t) for t in texts]
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    build = time.perf_counter() - started
    times = []
    tops = []
    for _ in range(BM25_ROUNDS):
        for q in queries:
            t0 = time.perf_counter()
            q_tokens = tokens(q)
            docs, _ = retriever.retrieve([q_tokens], k=K, show_progress=False, n_threads=1)
            times.append((time.perf_counter() - t0) * 1e3)
    for q in queries:
        docs, _ = retriever.retrieve([tokens(q)], k=K, show_progress=False, n_threads=1)
        tops.append(docs[0].tolist())
    return build, statistics.median(times), tops


def plot(path, results, exact, title):
    """Recall@10 against queries/s, one curve per engine, exact search as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, (_, curve) in results.items():
        ax.plot([p["recall"] for p in curve], [p["qps"] for p in curve], marker="o", label=name)
        for p in curve:
            ax.annotate(str(p["ef"]), (p["recall"], p["qps"]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
    for name, qps in exact.items():
        ax.scatter([1.0], [qps], marker="x", label=f"{name} exact")
    ax.set_xlabel("recall@10 (labels: ef)")
    ax.set_ylabel("queries/s, one thread (log)")
    ax.set_yscale("log")
    ax.axvline(0.95, color="grey", lw=0.5, ls="--")
    ax.axvline(0.98, color="grey", lw=0.5, ls="--")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def ratio(ours, theirs, higher_is_better):
    if ours is None or theirs is None:
        return "-"
    r = ours / theirs if higher_is_better else theirs / ours
    return f"{r:.2f}x"


def main():
    export, ours_path, bm25_tsv, efs = sys.argv[1:5]
    efs = [int(e) for e in efs.split(",")]
    ours = json.loads(open(ours_path, encoding="utf-8").read())
    papers = list(lines(os.path.join(export, "papers.jsonl")))
    base = np.asarray([p["vector"] for p in papers], dtype=np.float32)
    queries = np.asarray([q["vector"] for q in lines(os.path.join(export, "queries.jsonl"))], dtype=np.float32)
    number_of_row = [p["number"] for p in papers]
    texts = [p["text"] for p in papers] if os.environ.get("PEERS_BM25", "1") != "0" else None
    arxiv_of_row = [p["arxiv_id"] for p in papers]
    del papers

    truth_rows, exact_qps = numpy_exact(base, queries)
    global BASE, QUERIES
    BASE, QUERIES = base, queries
    row_of_number = {n: r for r, n in enumerate(number_of_row)}

    def rows(ids):
        return [[row_of_number[n] for n in top] for top in ids]

    m, efc = ours["m"], ours["ef_construction"]

    results = {}
    ours_curve = [{"ef": p["ef"], "qps": p["qps"], "recall": recall(rows(p["ids"]), truth_rows)} for p in ours["sweep"]]
    results["paperscope (graph)"] = (ours["build_s"], ours_curve)
    build, curve = hnswlib_curve(base, queries, m, efc, efs, truth_rows)
    results["hnswlib"] = (build, [{**p} for p in curve])
    build, curve = faiss_curve(base, queries, m, efc, efs, truth_rows)
    results["faiss HNSWFlat"] = (build, curve)

    bm25_queries = [l.split("\t")[1] for l in open(bm25_tsv, encoding="utf-8") if l.strip() and not l.startswith("#")]
    bm25 = None
    if texts is not None:
        bm25_build, bm25_p50, bm25_tops = bm25s_side(texts, bm25_queries)
        bm25_agree = statistics.mean(
            len({arxiv_of_row[r] for r in top} & set(ref)) / max(len(ref), 1)
            for top, ref in zip(bm25_tops, ours["bm25_top"])
        )
        bm25 = (bm25_build, bm25_p50, bm25_agree)

    print(f"Peers on {len(base):,} papers x {base.shape[1]} dims, {len(queries):,} query vectors "
          f"(paperscope's), HNSW M={m} ef_construction={efc}, build on {THREADS} threads, queries on 1.")
    print(f"Exact search: numpy {exact_qps:,.0f} q/s; paperscope {ours['exact_qps']:,.0f} q/s "
          f"(paperscope exact vs numpy, recall@10 by score: {recall(rows(ours['exact_ids']), truth_rows):.4f}).")
    print()
    print("Recall@10 / queries per second by ef:")
    header = "engine".ljust(22) + "".join(f"ef={ef:<14}" for ef in efs)
    print(header)
    for name, (_, curve) in results.items():
        print(name.ljust(22) + "".join(f"{p['recall']:.3f} {p['qps']:>8,.0f}   " for p in curve))
    print()
    ps_build, ps_curve = results["paperscope (graph)"]
    head = f"{'engine':22}{'build s':>9}{'q/s @0.95':>11}{'q/s @0.98':>11}   paperscope/peer: build, @0.95, @0.98"
    print(head)
    summary = {}
    for name, (build, curve) in results.items():
        q95, q98 = best_qps(curve, 0.95), best_qps(curve, 0.98)
        summary[name] = {"build_s": build, "qps_at_0.95": q95, "qps_at_0.98": q98, "curve": curve}
        ratios = "" if name.startswith("paperscope") else (
            f"   {ratio(ps_build, build, False)}, {ratio(best_qps(ps_curve, 0.95), q95, True)}, "
            f"{ratio(best_qps(ps_curve, 0.98), q98, True)}")
        print(f"{name:22}{build:>9.2f}{fmt(q95):>11}{fmt(q98):>11}{ratios}")
    print(f"{'numpy exact':22}{'-':>9}{exact_qps:>11,.0f}{exact_qps:>11,.0f}   "
          f"paperscope exact/numpy: {ratio(ours['exact_qps'], exact_qps, True)}")
    print()
    print(f"BM25 over the same texts ({len(bm25_queries)} queries of {os.path.basename(bm25_tsv)} x {BM25_ROUNDS}, one thread):")
    print(f"  paperscope (tantivy, stemmed English + jieba): p50 {ours['bm25_p50_ms']:.3f} ms/query "
          f"(mean {ours['bm25_mean_ms']:.3f})")
    if bm25:
        bm25_build, bm25_p50, bm25_agree = bm25
        print(f"  bm25s + jieba (index {bm25_build:.1f} s):            p50 {bm25_p50:.3f} ms/query"
              f"   paperscope/peer speed: {ratio(ours['bm25_p50_ms'], bm25_p50, False)}")
        print(f"  top-10 agreement bm25s vs paperscope: {bm25_agree:.2f} (analysis differs: no stemming, no title weighting in bm25s)")
    else:
        print("  bm25s skipped (PEERS_BM25=0)")
    summary["numpy_exact_qps"] = exact_qps
    summary["paperscope_exact_qps"] = ours["exact_qps"]
    summary["bm25"] = {"paperscope_p50_ms": ours["bm25_p50_ms"]}
    if bm25:
        summary["bm25"].update(bm25s_index_s=bm25[0], bm25s_p50_ms=bm25[1], top10_agreement=bm25[2])
    if os.environ.get("PEERS_PLOT"):
        plot(os.environ["PEERS_PLOT"], results,
             {"paperscope": ours["exact_qps"], "numpy": exact_qps},
             f"HNSW M={m} ef_construction={efc}, {len(base):,} papers x {base.shape[1]} dims")
    out = os.environ.get("PEERS_JSON")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
