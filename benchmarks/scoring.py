"""TrustRank at scale, against the floor of the same number of plain sparse mat-vec products.

Run ``python benchmarks/scoring.py`` from anywhere. Two parts, both on real graphs read from
``../shared/data/graphs/`` (relative to the repository root; nothing is copied into the repo):

1. ``cnr-2000_csr.npz`` (325,557 pages, 3.2 M links) with a few hundred seed nodes: seconds to
   convergence and peak traced memory of ``seed_trust`` (the additive TrustRank scoring runs),
   printed as ratios to the floor measured in this run (k plain ``csr @ vector`` products, k =
   the iterations it took) and to the bytes of the CSR arrays. Goals: time <= 2x the floor,
   peak memory <= 3x the CSR arrays.
2. ``1996-uk-web-hosts.tsv.gz`` (UK host graph, 1996) with every ``.ac.uk`` and ``.gov.uk`` host
   as a seed: the top 20 hosts by trust, and the top 20 that are not seeds, for a person to read.
3. The 0-100 calibration on the same graph, for 5, 30, 300 and all 3,925 of those seeds: the
   histogram of the reached hosts' site trust, anchored at a lone seed (before) and at
   ``top_anchor`` (what scoring uses), with the share at 100, at 50 or more, the seeds' median,
   and the median by hops from the nearest seed.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "graphs"
sys.path.insert(0, str(ROOT))

from pipelines.scoring.graph import GraphBuilder  # noqa: E402
from pipelines.scoring.trust import log_scale, seed_hops, seed_trust, top_anchor  # noqa: E402


def best_of(rounds: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of ``rounds`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def traced_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak traced bytes while ``fn`` runs, counting what was already allocated (the matrix)."""
    gc.collect()
    tracemalloc.reset_peak()
    result = fn()
    return tracemalloc.get_traced_memory()[1], result


def load_cnr(path: Path) -> sp.csr_array:
    with np.load(path) as z:
        indptr, indices = z["indptr"], z["indices"]
    # int32 throughout when it fits, so scipy neither upcasts indices nor copies on products.
    if indices.size < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    n = indptr.size - 1
    return sp.csr_array((np.ones(indices.size), indices, indptr), shape=(n, n))


def bench_cnr(seeds_count: int, rounds: int) -> None:
    path = DATA / "cnr-2000_csr.npz"
    print(f"== TrustRank on {path.name}")
    tracemalloc.start()
    matrix = load_cnr(path)
    csr_bytes = matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    n = matrix.shape[0]
    rng = np.random.default_rng(2000)
    linking = np.flatnonzero(np.diff(matrix.indptr) > 0)
    seeds = np.sort(rng.choice(linking, size=seeds_count, replace=False))
    print(
        f"{n:,} nodes, {matrix.nnz:,} edges, {seeds.size} seeds; CSR arrays "
        f"{csr_bytes / 2**20:.1f} MiB (data float64, indices/indptr {matrix.indices.dtype})"
    )

    trust_mem, rank = traced_peak(lambda: seed_trust(matrix, seeds))
    k = rank.iterations
    x = np.full(n, 1.0 / n)

    def floor() -> np.ndarray:
        y = x
        for _ in range(k):
            y = matrix @ x
        return y

    floor_mem, _ = traced_peak(floor)
    tracemalloc.stop()

    # Timings without tracing; best of a few rounds each, alternated so load hits both alike.
    trust_s, floor_s = float("inf"), float("inf")
    for _ in range(rounds):
        trust_s = min(trust_s, best_of(1, lambda: seed_trust(matrix, seeds))[0])
        floor_s = min(floor_s, best_of(1, floor)[0])
    scaled = log_scale(rank.scores)
    print(
        f"converged: {rank.converged} in {k} iterations (L1 change {rank.delta:.2e}); "
        f"{int((rank.scores > 0).sum()):,} nodes reached, {int((scaled >= 50).sum()):,} "
        f"with trust >= 50"
    )
    print(
        f"time   : TrustRank {trust_s:.3f} s, floor ({k} x csr @ vector) {floor_s:.3f} s "
        f"-> ratio {trust_s / floor_s:.2f} (goal <= 2)"
    )
    print(
        f"memory : TrustRank peak {trust_mem / 2**20:.1f} MiB -> {trust_mem / csr_bytes:.2f} x "
        f"the CSR arrays (goal <= 3); floor peak {floor_mem / 2**20:.1f} MiB "
        f"({floor_mem / csr_bytes:.2f} x)"
    )
    extra = trust_mem - csr_bytes
    print(
        f"         beyond the matrix: TrustRank {extra / 2**20:.1f} MiB "
        f"({extra / (n * 8):.1f} float64 vectors of n)"
    )


def read_uk_hosts(path: Path) -> GraphBuilder:
    builder = GraphBuilder()
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            key, _, count = line.rstrip("\n").partition("\t")
            parts = key.split("|")
            if len(parts) != 3 or not count.strip().isdigit():
                continue
            n = int(count)
            builder.add_edge(parts[1].lower(), parts[2].lower(), n, n)
    return builder


def bench_uk(top: int) -> None:
    path = DATA / "1996-uk-web-hosts.tsv.gz"
    print(f"\n== TrustRank on {path.name}, seeds: every .ac.uk and .gov.uk host")
    start = time.perf_counter()
    graph = read_uk_hosts(path).build()
    built = time.perf_counter() - start
    seeds = np.asarray(
        [i for h, i in graph.index.items() if h.endswith((".ac.uk", ".gov.uk"))], dtype=np.int64
    )
    start = time.perf_counter()
    weights = graph.weights()
    rank = seed_trust(weights, seeds)
    trust = log_scale(rank.scores / top_anchor(rank.scores))
    ranked = time.perf_counter() - start
    print(
        f"{graph.n:,} hosts, {graph.edges:,} edges, {seeds.size:,} seeds; read and built in "
        f"{built:.2f} s, TrustRank {ranked:.3f} s, {rank.iterations} iterations, "
        f"converged: {rank.converged}"
    )
    is_seed = np.zeros(graph.n, dtype=bool)
    is_seed[seeds] = True
    print(
        f"reached: {int((rank.scores > 0).sum()):,} hosts; trust >= 50: "
        f"{int((trust >= 50).sum()):,}; unreached (0): {int((rank.scores == 0).sum()):,}"
    )
    order = np.lexsort((-rank.scores, -trust))
    for title, pick in (
        (f"top {top} hosts by trust", order),
        (f"top {top} hosts that are not seeds", order[~is_seed[order]]),
    ):
        print(f"\n{title}:")
        print(f"{'trust':>6} {'TrustRank':>10} {'in':>5}  host")
        in_degree = graph.in_degree()
        for i in pick[:top]:
            mark = " (seed)" if is_seed[i] else ""
            print(
                f"{trust[i]:6.1f} {rank.scores[i]:10.3e} {in_degree[i]:5d}  {graph.hosts[i]}{mark}"
            )


def bench_calibration(sizes: tuple[int, ...] = (5, 30, 300, 0)) -> None:
    """Site trust histograms (10 bands of the 0-100 scale) for small and large seed sets; a
    size of 0 means every .ac.uk and .gov.uk host."""
    path = DATA / "1996-uk-web-hosts.tsv.gz"
    print(f"\n== Calibration of site trust on {path.name}: reached hosts per band of 10")
    graph = read_uk_hosts(path).build()
    weights = graph.weights()
    every = np.asarray(
        [i for h, i in graph.index.items() if h.endswith((".ac.uk", ".gov.uk"))], dtype=np.int64
    )
    rng = np.random.default_rng(1)
    bands = np.linspace(0, 100, 11)
    print(
        f"{'seeds':>6} {'scale':<14} {'anchor':>7} {'at 100':>7} {'>= 50':>7} {'seeds':>6}  "
        + " ".join(f"{int(b):>5}" for b in bands[:-1])
    )
    for size in sizes:
        seeds = every if size == 0 else np.sort(rng.choice(every, size=size, replace=False))
        raw = seed_trust(weights, seeds).scores
        reached = raw > 0
        for label, anchor in (("lone seed", 1.0), ("top_anchor", top_anchor(raw))):
            trust = log_scale(raw / anchor)
            shown = trust[reached]
            counts, _ = np.histogram(shown, bins=bands)
            shares = " ".join(f"{c / shown.size:5.1%}" for c in counts)
            print(
                f"{seeds.size:6,} {label:<14} {anchor:7.2f} {(shown >= 100).mean():7.2%} "
                f"{(shown >= 50).mean():7.1%} {np.median(trust[seeds]):6.0f}  {shares}"
            )
        hops, _ = seed_hops(weights, seeds)
        trust = log_scale(raw / top_anchor(raw))
        by_hop = ", ".join(
            f"{h} hop{'s' if h != 1 else ''}: {np.median(trust[hops == h]):.0f} "
            f"({int((hops == h).sum()):,} hosts)"
            for h in range(4)
            if (hops == h).any()
        )
        print(
            f"{'':6} reached: {int(reached.sum()):,} of {graph.n:,} hosts; median by hop: {by_hop}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=300, help="seed nodes on cnr-2000")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (best is kept)")
    parser.add_argument("--top", type=int, default=20, help="hosts listed for the UK graph")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"error: the graphs are not in {DATA}")
    bench_cnr(args.seeds, args.rounds)
    bench_uk(args.top)
    bench_calibration()


if __name__ == "__main__":
    main()
