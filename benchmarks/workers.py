"""One worker against two sharing a Redis frontier, on the same generated web, in one run.

    python benchmarks/workers.py [--pages 2000] [--latency 0.0]

Serves a generated synthetic web (>= 2,000 pages) on loopback and starts a throwaway
``redis-server``; crawls it with one ``scrapy crawl niche`` worker, then with two workers started
together with ``BACKLINKS_REDIS_URL`` (each into a fresh store). Prints pages/s of each, the
ratio, and how many pages the two fetched more than once (from the web server's request log;
robots.txt, which each worker reads for itself, is not a page). ``--latency`` adds seconds to
every answer, as a distant origin does: without it a worker is bound by CPU, with it by waiting.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backlink_spider.demoweb.server import WebServer  # noqa: E402
from benchmarks._command import crawl_command  # noqa: E402
from benchmarks.web import generated_web  # noqa: E402

STAT_RE = re.compile(r"'(response_received_count|backlinks/spider/crawl_seconds)': ([\d.]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    proc.kill()
    sys.exit("redis-server did not start")


def crawl(web, proxy: str, tmp: Path, *, workers: int, redis_url: str, pages: int) -> dict:
    argv, env = crawl_command(web, proxy, pages)
    env["BACKLINKS_DATA_DIR"] = str(tmp / "data")
    if workers > 1:
        env["BACKLINKS_REDIS_URL"] = redis_url
    started = time.monotonic()
    procs, logs = [], []
    for n in range(workers):
        log = tmp / f"worker-{n}.log"
        logs.append(log)
        with log.open("w") as fh:
            procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=fh, stderr=fh))
    for proc, log in zip(procs, logs, strict=True):
        if proc.wait() != 0:
            sys.exit(f"crawl failed ({proc.returncode}):\n{log.read_text()[-3000:]}")
    wall = time.monotonic() - started
    per_worker = [{k: float(v) for k, v in STAT_RE.findall(log.read_text())} for log in logs]
    responses = sum(s["response_received_count"] for s in per_worker)
    seconds = max(s["backlinks/spider/crawl_seconds"] for s in per_worker)
    return {
        "responses": responses,
        "per_worker": [int(s["response_received_count"]) for s in per_worker],
        "crawl": seconds,
        "wall": wall,
        "pages_per_s": responses / seconds,
    }


def repeated(log: list[tuple[str, str, int]]) -> int:
    counts = Counter((m, u) for m, u, _ in log if m in {"GET", "HEAD"} and "/robots.txt" not in u)
    return sum(1 for n in counts.values() if n > 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    args = parser.parse_args()
    web = generated_web(args.pages)
    redis_proc, redis_url = start_redis()
    results = {}
    try:
        with WebServer(web, latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
            for workers in (1, 2):
                server.reset_log()
                run_dir = Path(tmp) / f"w{workers}"
                run_dir.mkdir()
                stats = crawl(
                    web,
                    server.proxy_url,
                    run_dir,
                    workers=workers,
                    redis_url=redis_url,
                    pages=args.pages,
                )
                stats["repeated"] = repeated(server.requests)
                stats["fetched"] = len(server.fetched_urls())
                results[workers] = stats
                print(
                    f"{workers} worker(s): {stats['responses']:.0f} responses "
                    f"({' + '.join(map(str, stats['per_worker']))}) in {stats['crawl']:.1f} s "
                    f"= {stats['pages_per_s']:.0f} pages/s; wall {stats['wall']:.1f} s; "
                    f"{stats['fetched']} distinct URLs, {stats['repeated']} asked more than "
                    "once",
                    flush=True,
                )
    finally:
        redis_proc.terminate()
        redis_proc.wait()
    one, two = results[1], results[2]
    print(f"\nlatency per answer: {args.latency * 1000:.0f} ms, {os.cpu_count()} CPU cores")
    print(f"one worker:  {one['pages_per_s']:.0f} pages/s")
    print(f"two workers: {two['pages_per_s']:.0f} pages/s")
    print(f"ratio: {two['pages_per_s'] / one['pages_per_s']:.2f}")
    print(f"pages fetched more than once by the two workers: {two['repeated']} (goal: 0)")


if __name__ == "__main__":
    main()
