"""hnswlib and faiss HNSW on the raw vectors examples/sweep_ann_scale.rs wrote (base.f32,
queries.f32: the same vectors and query vectors paperscope's curve was measured on), with the
same recall@10 by score and queries/s in the querying thread's CPU time; builds on 2 threads.

Usage (the virtualenv benches/peers/run.sh makes): python same_vectors.py DIR M:EFC EF,EF,...
PEERS=hnswlib (or faiss) runs only that one.
"""

import os

import sys
import time

import numpy as np

K = 10


def load(path, dims=256):
    return np.fromfile(path, dtype="<f4").reshape(-1, dims)


def main():
    out, config, efs = sys.argv[1], sys.argv[2], [int(e) for e in sys.argv[3].split(",")]
    m, efc = (int(x) for x in config.split(":"))
    base, queries = load(f"{out}/base.f32"), load(f"{out}/queries.f32")
    kth = np.array([-np.partition(-(base @ q), K - 1)[K - 1] for q in queries])

    def recall(ids):
        return np.mean([np.sum(base[i] @ q >= k - 1e-5) for i, q, k in zip(ids, queries, kth)]) / K

    def curve(name, build_s, build_cpu, set_ef, search):
        for ef in efs:
            set_ef(ef)
            started = time.thread_time()
            ids = [search(q) for q in queries]
            us = (time.thread_time() - started) * 1e6 / len(queries)
            print(f"| {name} | {m} | {efc} | {build_s:.1f} / {build_cpu:.1f} | {ef} | {recall(ids):.3f} | {us:.0f} |")

    peers = os.environ.get("PEERS", "hnswlib,faiss").split(",")
    if "hnswlib" in peers:
        run_hnswlib(base, m, efc, curve)
    if "faiss" in peers:
        run_faiss(base, m, efc, curve)


def run_hnswlib(base, m, efc, curve):
    import hnswlib

    wall, cpu = time.perf_counter(), time.process_time()
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=1)
    index.add_items(base, np.arange(len(base)), num_threads=2)
    built = (time.perf_counter() - wall, time.process_time() - cpu)
    curve("hnswlib", *built, index.set_ef, lambda q: index.knn_query(q, k=K, num_threads=1)[0][0])


def run_faiss(base, m, efc, curve):
    import faiss

    faiss.omp_set_num_threads(2)
    wall, cpu = time.perf_counter(), time.process_time()
    flat = faiss.IndexHNSWFlat(base.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    flat.hnsw.efConstruction = efc
    flat.add(base)
    built = (time.perf_counter() - wall, time.process_time() - cpu)
    faiss.omp_set_num_threads(1)

    def set_ef(ef):
        flat.hnsw.efSearch = ef

    curve("faiss", *built, set_ef, lambda q: flat.search(q[None, :], K)[1][0])


if __name__ == "__main__":
    main()
