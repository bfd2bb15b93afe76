"""A Common Crawl lookup (``scrapy discover``): time and memory on the shared graph, and what
they become on CC's full domain graph.

Run ``python benchmarks/discover.py`` from anywhere. On ``../shared/data/webgraph/`` (relative
to the repository root; nothing is copied into the repo: a 325,557-node graph in CC's domain
layout), for a few targets of different fame:

- the lookup's wall time (best of ``--rounds``, files in the page cache) and each step's, as a
  ratio to the floor measured in this run: reading (gunzip, no parsing) the bytes the lookup
  reads of the vertex and rank files;
- its peak traced memory (Python heap) and the process's peak resident set, against what the
  vertex names alone take when loaded into a dict (the obvious way, which the lookup avoids).

Then the estimate for the full graph (``--nodes``, default CC's Nov/Dec 2024-Jan 2025 domain
graph: 100.8 M nodes, 1.9 B edges), derived and printed step by step: a lookup streams the rank
file whole (its rows are in rank order, a site's row can be anywhere), the vertex file up to
the largest referring id (about all of it) and, to find the target, up to its name (half on
average); so its time is those bytes over the throughputs measured here, and its memory is the
constant part measured here plus the referring sites held (the slope between the targets).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT.parent / "shared" / "data" / "webgraph" / "test-cnr-2000-domain"
sys.path.insert(0, str(ROOT))

from benchmarks.scoring import best_of  # noqa: E402
from pipelines.commongraph import CHUNK_BYTES, CommonGraph, Discovery, reverse_name  # noqa: E402

# 219: 291 referring domains; 156: 35; 60599: the most linked node (18,234); 325556: the last id.
TARGETS = ("example-site-000219.test", "example-site-000156.test", "example-site-060599.test")
FULL_NODES = 100.8e6  # CC cc-main-2024-25-nov-dec-jan domain graph (its announcement)
FULL_ARCS = 1.9e9


def gunzip(path: Path) -> tuple[float, int, int, bytes]:
    """Seconds to decompress ``path`` in the lookup's chunks, its bytes, its lines and its
    last line: the floor of any pass over it."""
    start = time.perf_counter()
    size = lines = 0
    block = tail = b""
    with gzip.open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            size += len(block)
            lines += block.count(b"\n")
            tail = (tail + block[-4096:])[-4096:]
    return time.perf_counter() - start, size, lines, tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webgraph", default=str(BASE), help="the graph's basename")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated domains")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (best is kept)")
    parser.add_argument("--nodes", type=float, default=FULL_NODES, help="nodes of the full graph")
    args = parser.parse_args()
    base = Path(args.webgraph)
    if not base.with_name(f"{base.name}-t.graph").is_file():
        sys.exit(f"error: no graph at {base}")
    start_rss = rss_mib()
    graph = CommonGraph.open(base)
    files = graph.files
    assert files.ranks is not None, "the benchmark needs a ranks file"
    n = graph.num_nodes
    print(f"== {files.name}: {n:,} nodes, {graph.num_arcs:,} arcs ({files.level} level)")

    floors = {}
    tail = b""
    for label, paths in (("vertices", files.vertices), ("ranks", (files.ranks,))):
        seconds, size, lines = 0.0, 0, 0
        for path in paths:
            s, b, li, tail = best_of(args.rounds, lambda p=path: gunzip(p))[1]
            seconds, size, lines = seconds + s, size + b, lines + li
        floors[label] = (seconds, size, lines)
        print(
            f"floor  : gunzip {label} {size / 2**20:.1f} MiB ({lines:,} lines) in {seconds:.3f} s"
            f" = {size / 2**20 / seconds:.0f} MiB/s"
        )

    rows: list[tuple[str, int, float, int, Discovery]] = []
    read = floors["vertices"][0] * 1.5 + floors["ranks"][0]  # find ~half, names ~all, ranks
    for target in args.targets.split(","):
        seconds, found = best_of(args.rounds, lambda t=target: graph.discover(t))
        gc.collect()
        tracemalloc.start()
        graph.discover(target)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append((target, len(found.referrers), seconds, peak, found))
        steps = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in found.seconds.items())
        print(
            f"lookup : {target}: {len(found.referrers):,} referring {files.level}s in "
            f"{seconds:.3f} s ({steps}) -> {seconds / read:.2f} x the floor; peak traced "
            f"{peak / 2**20:.1f} MiB"
        )
    print(f"rss    : process peak {rss_mib():.0f} MiB after the lookups ({start_rss:.0f} at start)")
    tracemalloc.start()
    with gzip.open(files.vertices[0], "rt") as fh:
        loaded = {line.split("\t")[1]: int(line.split("\t")[0]) for line in fh}
    dict_bytes = tracemalloc.get_traced_memory()[1]
    del loaded
    tracemalloc.stop()
    worst = max(peak for *_, peak, _ in rows)
    print(
        f"dict   : the names alone loaded into a dict take {dict_bytes / 2**20:.1f} MiB; the "
        f"largest lookup peak is {worst / dict_bytes:.2f} x that"
    )

    # -- whole passes, the parts of a lookup that grow with the graph ------------------------
    last = graph.names_of([n - 1])[n - 1]
    worst_ranked = reverse_name(tail.split(b"\t")[4].decode())  # the ranks file's last row
    spread = range(0, n, 20)  # referring ids all over the file: every chunk is split
    wide = [r.name for r in max(rows, key=lambda r: r[1])[4].referrers]
    passes = {
        "find a name (whole file)": best_of(args.rounds, lambda: graph.node_ids([last]))[0],
        "names of 1 id (whole file)": best_of(args.rounds, lambda: graph.names_of([n - 1]))[0],
        "names of ids all over": best_of(args.rounds, lambda: graph.names_of(spread))[0],
        "ranks of 1 name (whole file)": best_of(args.rounds, lambda: graph.ranks([worst_ranked]))[
            0
        ],
        f"ranks of {len(wide):,} names": best_of(args.rounds, lambda: graph.ranks(wide))[0],
    }
    for label, seconds in passes.items():
        kind = "ranks" if label.startswith("ranks") else "vertices"
        size = floors[kind][1]
        print(
            f"pass   : {label}: {seconds:.3f} s = {size / 2**20 / seconds:.0f} MiB/s, "
            f"{seconds / floors[kind][0]:.2f} x its gunzip floor"
        )

    # -- the estimate ------------------------------------------------------------------------
    scale = args.nodes / n
    print(f"\n== estimate for {args.nodes / 1e6:.1f} M nodes ({scale:.0f} x this graph)")
    for label in ("vertices", "ranks"):
        seconds, size, lines = floors[label]
        print(
            f"{label:8}: {size / lines:.0f} bytes a line here -> {size * scale / 2**30:.1f} GiB "
            "decompressed (real names are shorter than example-site-NNNNNN: an upper bound)"
        )
    find_s = passes["find a name (whole file)"] * scale / 2  # sorted: half on average
    names_s = passes["names of ids all over"] * scale  # to the largest referring id: ~all
    ranks_s = passes[f"ranks of {len(wide):,} names"] * scale  # rows in rank order: all
    total = find_s + names_s + ranks_s
    print(
        f"time    : find ~{find_s:.0f} s (half the vertices, sorted) + names ~{names_s:.0f} s "
        f"(the vertices to the largest referring id) + ranks ~{ranks_s:.0f} s (every row) = "
        f"~{total:.0f} s on one core (~{find_s + names_s:.0f} s without a ranks file); "
        "in-links and degrees stay milliseconds (random access to the mapped transpose)"
    )
    few_row, many_row = min(rows, key=lambda r: r[1]), max(rows, key=lambda r: r[1])
    per_site = (many_row[3] - few_row[3]) / max(many_row[1] - few_row[1], 1)
    fixed = few_row[3] - per_site * few_row[1]
    print(
        f"memory  : ~{fixed / 2**20:.1f} MiB whatever the graph's size (chunks of "
        f"{CHUNK_BYTES / 2**20:.0f} MiB and their lines) + ~{per_site:.0f} bytes per referring "
        f"site held: 10,000 referring domains ~{(fixed + 1e4 * per_site) / 2**20:.0f} MiB, a "
        f"million ~{(fixed + 1e6 * per_site) / 2**30:.1f} GiB; the names in a dict would take "
        f"~{dict_bytes * scale / 2**30:.0f} GiB"
    )
    print(
        "mapped  : the transpose (.graph, .ef) is memory-mapped: a lookup touches the pages "
        f"of the nodes it reads, not the ~{FULL_ARCS * 12 / 8 / 2**30:.0f} GiB of a "
        f"{FULL_ARCS / 1e9:.1f} B-arc graph at ~12 bits an arc"
    )


if __name__ == "__main__":
    main()
