"""Loads a paperscope export into Milvus Lite and Qdrant's local mode (the engines' own APIs,
in process) and checks that they answer paperscope's queries as paperscope does.

Usage: roundtrip.py PAPERSCOPE_BIN INDEX_DIR EXPORTS_DIR
  EXPORTS_DIR/milvus and EXPORTS_DIR/qdrant: `paperscope export --format milvus|qdrant --queries`
  of INDEX_DIR; the expected answers come from `paperscope search --json` on INDEX_DIR.

Prints one JSON document (overlaps per engine and mode) and exits 1 when the vector overlap of
either engine is below 0.9.
"""

import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

K = 10
QUERIES = 20
VECTOR_FLOOR = 0.9
BATCH = 500


def lines(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def batches(items, size=BATCH):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def overlap(got, expected):
    """Top-K overlap: shared ids over the number paperscope returned (at most K)."""
    expected = expected[:K]
    if not expected:
        return 1.0
    return len(set(got[:K]) & set(expected)) / len(expected)


def mean(values):
    return sum(values) / len(values) if values else float("nan")


# ---------------------------------------------------------------- Qdrant (local mode)

def qdrant(export, queries, expected):
    from qdrant_client import QdrantClient, models

    config = json.loads((export / "collection.json").read_text())
    create = config["create"]
    client = QdrantClient(location=":memory:")
    name = config["name"]
    started = time.perf_counter()
    def params(spec):
        return models.VectorParams(size=spec["size"], distance=models.Distance[spec["distance"].upper()])

    vectors = create["vectors"]
    # One unnamed vector, or named ones: the paper's and its views per query script.
    named = "size" not in vectors
    vectors_config = {n: params(spec) for n, spec in vectors.items()} if named else params(vectors)
    client.create_collection(
        name,
        vectors_config=vectors_config,
        hnsw_config=models.HnswConfigDiff(**create["hnsw_config"]),
    )
    for index in config["payload_indexes"]:
        schema = index["field_schema"]
        if isinstance(schema, dict):
            schema = models.TextIndexParams(**schema)
        with warnings.catch_warnings():
            # Local mode says payload indexes have no effect there; a server uses them.
            warnings.simplefilter("ignore")
            client.create_payload_index(name, index["field_name"], field_schema=schema)
    loaded = 0
    for batch in batches(lines(export / "points.jsonl")):
        client.upsert(name, points=[models.PointStruct(**p) for p in batch], wait=True)
        loaded += len(batch)
    load_s = time.perf_counter() - started
    per_query = {}
    for q in queries:
        using = q.get("field", "vector") if named else None
        hits = client.query_points(name, query=q["vector"], using=using, limit=K,
                                   with_payload=["arxiv_id"])
        got = [h.payload["arxiv_id"] for h in hits.points]
        per_query[q["qid"]] = overlap(got, expected[q["qid"]]["vector"])
    return {
        "points": loaded,
        "load_s": round(load_s, 2),
        "query_s": round(time.perf_counter() - started - load_s, 2),
        "vector_overlap": round(mean(list(per_query.values())), 4),
        "vector_min": round(min(per_query.values()), 2),
    }


# ---------------------------------------------------------------- Milvus Lite

def milvus_collection(client, schema_doc):
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    for field in schema_doc["fields"]:
        kwargs = {k: v for k, v in field.items() if k not in ("name", "data_type")}
        schema.add_field(field["name"], DataType[field["data_type"]], **kwargs)
    for function in schema_doc["functions"]:
        schema.add_function(
            Function(
                name=function["name"],
                function_type=FunctionType[function["type"]],
                input_field_names=function["input_field_names"],
                output_field_names=function["output_field_names"],
            )
        )
    index_params = client.prepare_index_params()
    for index in schema_doc["indexes"]:
        index_type = index["index_type"]
        params = index.get("params", {})
        # Milvus Lite builds FLAT (exact) vector indexes only; a cluster takes the HNSW as given.
        if index_type == "HNSW":
            index_type, params = "FLAT", {}
        index_params.add_index(
            index["field_name"], index_type=index_type, metric_type=index["metric_type"], params=params
        )
    name = schema_doc["collection_name"]
    if client.has_collection(name):
        client.drop_collection(name)
    client.create_collection(name, schema=schema, index_params=index_params)
    return name


def paperscope_fusion(bm25, vectors, cosine_of, fusion):
    """paperscope's convex fusion (src/hybrid.rs), applied to the engine's two candidate lists:
    BM25 score / best BM25 score, cosine min-max normalised over all candidates, the vector
    weight set by the best cosine (adaptive)."""
    candidates = {pid for pid, _ in bm25} | {pid for pid, _ in vectors}
    best_bm25 = max((s for _, s in bm25), default=0.0) or 1.0
    bm25_score = dict(bm25)
    cosine = {pid: cosine_of(pid) for pid in candidates}
    top = max((c for _, c in vectors), default=0.0)
    method = fusion["method"]
    if method["method"] == "adaptive":
        t = min(max((top - method["low"]) / max(method["high"] - method["low"], 1e-9), 0.0), 1.0)
        alpha = method["max_alpha"] * t
    else:
        alpha = method.get("alpha", 0.5)
    lo, hi = min(cosine.values()), max(cosine.values())
    span = hi - lo if hi > lo else 1.0
    fused = {
        pid: (1 - alpha) * bm25_score.get(pid, 0.0) / best_bm25 + alpha * (cosine[pid] - lo) / span
        for pid in candidates
    }
    ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    return [pid for pid, score in ranked if score > 0]


def milvus(export, queries, expected, db_dir):
    from pymilvus import AnnSearchRequest, MilvusClient, RRFRanker, WeightedRanker

    schema_doc = json.loads((export / "schema.json").read_text())
    described = json.loads((export / "export.json").read_text())
    depth = described["fusion"]["depth"]
    client = MilvusClient(str(Path(db_dir) / "paperscope.db"))
    started = time.perf_counter()
    name = milvus_collection(client, schema_doc)
    loaded = 0
    vectors = {}
    arxiv = {}
    for batch in batches(lines(export / "rows.jsonl")):
        client.insert(name, batch)
        loaded += len(batch)
        for row in batch:
            # Each field a query may search: the paper vector and the views per script.
            vectors[row["number"]] = {f: v for f, v in row.items() if f.startswith("vector")}
            arxiv[row["number"]] = row["arxiv_id"]
    client.flush(name)
    client.load_collection(name)
    load_s = time.perf_counter() - started
    vector_params = schema_doc["search_params"]["vector"]
    results = {"vector": {}, "bm25_in_bm25": {}, "hybrid_paperscope_fusion": {},
               "hybrid_weighted_ranker": {}, "hybrid_rrf": {}}
    weights = described["fusion"]["opensearch_weights"]
    for q in queries:
        qid, want = q["qid"], expected[q["qid"]]
        field = q.get("field", "vector")
        hits = client.search(name, data=[q["vector"]], anns_field=field, limit=depth,
                             search_params={"metric_type": vector_params["metric_type"]},
                             output_fields=["arxiv_id"])[0]
        vector_list = [(h.id, h.distance) for h in hits]
        results["vector"][qid] = overlap([arxiv[p] for p, _ in vector_list], want["vector"])
        text_hits = client.search(name, data=[q["query"]], anns_field="sparse", limit=depth,
                                  search_params={"metric_type": "BM25"},
                                  output_fields=["arxiv_id"])[0]
        # Milvus Lite reports BM25 as a negated distance; the order is best first either way.
        bm25_list = [(h.id, abs(h.distance)) for h in text_hits]
        results["bm25_in_bm25"][qid] = overlap([arxiv[p] for p, _ in bm25_list], want["bm25"])
        fused = paperscope_fusion(
            bm25_list, vector_list,
            lambda pid: sum(a * b for a, b in zip(q["vector"], vectors[pid][field])),
            described["fusion"],
        )
        results["hybrid_paperscope_fusion"][qid] = overlap([arxiv[p] for p in fused], want["hybrid"])
        requests = [
            AnnSearchRequest([q["query"]], "sparse", {"metric_type": "BM25"}, depth),
            AnnSearchRequest([q["vector"]], field, {"metric_type": "IP"}, depth),
        ]
        for key, ranker in (("hybrid_weighted_ranker", WeightedRanker(*weights)),
                            ("hybrid_rrf", RRFRanker(60))):
            try:
                got = client.hybrid_search(name, requests, ranker=ranker, limit=K,
                                           output_fields=["arxiv_id"])[0]
                results[key][qid] = overlap([h["entity"]["arxiv_id"] for h in got], want["hybrid"])
            except Exception as error:  # an engine without hybrid search: reported, not fatal
                results[key]["error"] = str(error).splitlines()[0]
    report = {"rows": loaded, "load_s": round(load_s, 2),
              "query_s": round(time.perf_counter() - started - load_s, 2)}
    for key, per_query in results.items():
        values = [v for k, v in per_query.items() if k != "error"]
        report[key + "_overlap"] = round(mean(values), 4) if values else per_query.get("error")
    report["vector_min"] = round(min(results["vector"].values()), 2)
    return report


def paperscope_answers(binary, index, queries):
    """Top-K arXiv ids of `paperscope search` per query and mode, each a new process."""
    from concurrent.futures import ThreadPoolExecutor

    def top(job):
        qid, query, mode = job
        out = subprocess.run(
            [binary, "--index", index, "--json", "search", "--mode", mode, "-n", str(K), "--", query],
            check=True, capture_output=True, text=True,
        ).stdout
        return qid, mode, [r["arxiv_id"] for r in json.loads(out)["results"]]

    jobs = [(q["qid"], q["query"], m) for q in queries for m in ("vector", "bm25", "hybrid")]
    expected = {q["qid"]: {} for q in queries}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for qid, mode, ids in pool.map(top, jobs):
            expected[qid][mode] = ids
    return expected


def main():
    binary, index, exports = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    queries = list(lines(exports / "milvus" / "queries.jsonl"))[:QUERIES]
    started = time.perf_counter()
    expected = paperscope_answers(binary, index, queries)
    answers_s = time.perf_counter() - started
    report = {"queries": len(queries), "k": K, "paperscope_answers_s": round(answers_s, 1)}
    report["qdrant_local"] = qdrant(exports / "qdrant", queries, expected)
    with tempfile.TemporaryDirectory() as db_dir:
        report["milvus_lite"] = milvus(exports / "milvus", queries, expected, db_dir)
    print(json.dumps(report, indent=2))
    worst = min(report["qdrant_local"]["vector_overlap"], report["milvus_lite"]["vector_overlap"])
    if worst < VECTOR_FLOOR:
        print(f"FAIL: vector top-{K} overlap {worst:.3f} < {VECTOR_FLOOR}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
