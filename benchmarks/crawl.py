"""What our pipelines and store cost a crawl: the same generated web crawled with and without them.

    python benchmarks/crawl.py [--pages 2000] [--rounds 2]

Serves a generated synthetic web (>= 2,000 pages on many hosts) on loopback, then runs
``scrapy crawl niche`` on it, alternating: with ``ITEM_PIPELINES`` empty (the baseline) and with
our normalize, dedupe and MongoDB pipelines writing to a fresh SecantusDB server. Prints pages/s
of each (best of the rounds) and the ratio; the goal is a ratio of at least 0.85.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backlink_spider.demoweb.server import WebServer  # noqa: E402
from benchmarks._command import crawl_command  # noqa: E402
from benchmarks.web import generated_web  # noqa: E402

STAT_RE = re.compile(
    r"'(elapsed_time_seconds|response_received_count|item_scraped_count"
    r"|backlinks/spider/crawl_seconds|backlinks/finish/seconds)': ([\d.]+)"
)


def crawl(web, proxy: str, data_dir: Path, *, pipelines: bool, pages: int) -> dict[str, float]:
    bare = [] if pipelines else ["-s", "ITEM_PIPELINES={}"]
    argv, env = crawl_command(web, proxy, pages, *bare)
    env["BACKLINKS_DATA_DIR"] = str(data_dir)
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"crawl failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stats = {k: float(v) for k, v in STAT_RE.findall(proc.stderr)}
    stats["wall"] = wall
    # Fetching ends when the spider is last idle; what follows (final flush, then the end of the
    # crawl: lost links, host edges, scoring, which runs after Scrapy's elapsed_time_seconds) is
    # reported apart as the close phase.
    stats["crawl"] = stats["backlinks/spider/crawl_seconds"]
    stats["close"] = (
        stats["elapsed_time_seconds"] - stats["crawl"] + stats.get("backlinks/finish/seconds", 0)
    )
    stats["pages_per_s"] = stats["response_received_count"] / stats["crawl"]
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    web = generated_web(args.pages)
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with WebServer(web) as server, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for pipelines in (False, True):
                data_dir = Path(tmp) / f"data-{round_}"
                stats = crawl(
                    web, server.proxy_url, data_dir, pipelines=pipelines, pages=args.pages
                )
                results[pipelines].append(stats)
                label = "pipelines+store" if pipelines else "no pipelines"
                print(
                    f"round {round_ + 1} {label:>16}:"
                    f" {stats['response_received_count']:.0f} responses in "
                    f"{stats['crawl']:.1f} s = {stats['pages_per_s']:.0f} pages/s,"
                    f" {stats.get('item_scraped_count', 0):.0f} items;"
                    f" close phase {stats['close']:.1f} s",
                    flush=True,
                )
    base = max(r["pages_per_s"] for r in results[False])
    ours = max(r["pages_per_s"] for r in results[True])
    print(f"\nbaseline (ITEM_PIPELINES empty): {base:.0f} pages/s")
    print(f"with our pipelines and store:    {ours:.0f} pages/s")
    print(f"ratio: {ours / base:.2f} (goal >= 0.85)")
    close = min(r["close"] for r in results[True]) - min(r["close"] for r in results[False])
    print(
        f"after the last page: {close:.1f} s more with the store (final flush, lost links, "
        "host edges, scoring)"
    )


if __name__ == "__main__":
    main()
