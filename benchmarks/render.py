"""What rendering costs: the same pages read raw and rendered, and ``auto`` where nothing needs it.

    python benchmarks/render.py [--rendered-pages 300] [--pages 2000] [--rounds 2]

Serves generated synthetic webs on loopback (every page carries the scripts ordinary sites
carry: analytics, JSON-LD, a tracking pixel in ``<noscript>``) and runs ``scrapy crawl niche``
on them without pipelines, so the figures are the crawler's own:

1. ``--rendered-pages`` pages crawled with ``render=never`` and with ``render=always`` (each
   page read raw, then in Chromium): pages/s of each and the ratio. The browser's start is
   inside the rendered crawl's time.
2. ``--pages`` pages, none built by script, crawled with ``render=never`` and ``render=auto``,
   alternating, best of ``--rounds``: the cost of ``auto`` (goal: under 10% slower). ``auto``
   installs scrapy-playwright's handler, whose instances (one per scheme) import Playwright and
   start its driver with the engine; no browser starts. ``never`` installs nothing.
3. What ``auto`` adds to every page in CPU, measured without a crawl (immune to a busy machine):
   its script-built check against the link extraction every page gets anyway.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backlink_spider.demoweb.model import Response, Web, walk  # noqa: E402
from backlink_spider.demoweb.server import WebServer  # noqa: E402
from backlink_spider.extract import extract_page  # noqa: E402
from backlink_spider.render import script_signals  # noqa: E402
from benchmarks._command import crawl_command  # noqa: E402
from benchmarks.web import (  # noqa: E402
    ORDINARY_BODY_PIXEL,
    ORDINARY_HEAD_SCRIPTS,
    generated_web,
)

STAT_RE = re.compile(
    r"'(backlinks/spider/pages|backlinks/spider/crawl_seconds|backlinks/render/pages"
    r"|playwright/browser_count)': ([\d.]+)"
)


def with_ordinary_scripts(web: Web) -> Web:
    """Every HTML page of ``web`` gets the scripts of an ordinary site."""

    def dress(body: str) -> str:
        body = body.replace("</head>", ORDINARY_HEAD_SCRIPTS + "\n</head>", 1)
        return body.replace("<body>", "<body>\n" + ORDINARY_BODY_PIXEL, 1)

    def wrap(fn):  # type: ignore[no-untyped-def]
        def handle(path: str) -> Response | str | None:
            result = fn(path)
            if isinstance(result, str):
                return dress(result)
            if isinstance(result, Response) and isinstance(result.body, str):
                result.body = dress(result.body)
            return result

        return handle

    for host in web:
        site = web[host]
        site.handlers = [(prefix, wrap(fn)) for prefix, fn in site.handlers]
        for response in site.pages.values():
            if isinstance(response.body, str) and response.content_type.startswith("text/html"):
                response.body = dress(response.body)
    return web


def crawl(web: Web, proxy: str, render: str, pages: int) -> dict[str, float]:
    argv, env = crawl_command(
        web,
        proxy,
        pages,
        "-a",
        f"render={render}",
        "-s",
        "ITEM_PIPELINES={}",
        "-s",
        "BACKLINKS_CHECK_TARGETS=False",
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"crawl failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stats = {k: float(v) for k, v in STAT_RE.findall(proc.stderr)}
    # scrapy-playwright's handler (one per scheme) starts Playwright's driver with the engine.
    stats["drivers"] = float(proc.stderr.count("[scrapy-playwright] INFO: Starting download"))
    stats["pages_per_s"] = stats["backlinks/spider/pages"] / stats["backlinks/spider/crawl_seconds"]
    # CPU of the crawl and everything it started (Playwright's driver, Chromium), start-up
    # included: on a busy machine this moves far less than the wall clock.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats["cpu_ms_per_page"] = 1000 * cpu / stats["backlinks/spider/pages"]
    return stats


def line(label: str, stats: dict[str, float]) -> str:
    return (
        f"{label:>26}: {stats['backlinks/spider/pages']:.0f} pages in "
        f"{stats['backlinks/spider/crawl_seconds']:.1f} s = {stats['pages_per_s']:.1f} pages/s, "
        f"CPU {stats['cpu_ms_per_page']:.1f} ms/page, "
        f"{stats.get('backlinks/render/pages', 0):.0f} rendered, "
        f"browser started: {'yes' if stats.get('playwright/browser_count') else 'no'}, "
        f"Playwright drivers: {stats.get('drivers', 0):.0f}"
    )


def check_cost(web: Web, limit: int = 500) -> tuple[float, float]:
    """Milliseconds per page: extract_page, and auto's check (script_signals) on the same HTML."""
    pages = []
    for url in walk(web, respect_robots=False).html_pages[:limit]:
        body = web.fetch(url).body
        pages.append((url, body if isinstance(body, str) else body.decode("utf-8")))
    parsed = [(html, extract_page(html, url)) for url, html in pages]
    started = time.perf_counter()
    for url, html in pages * 3:
        extract_page(html, url)
    extract_ms = (time.perf_counter() - started) * 1000 / (3 * len(pages))
    started = time.perf_counter()
    for html, page in parsed * 3:
        script_signals(html, len(page.links), len(page.text))
    check_ms = (time.perf_counter() - started) * 1000 / (3 * len(pages))
    return extract_ms, check_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rendered-pages", type=int, default=300)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    small = with_ordinary_scripts(generated_web(args.rendered_pages, n_hosts=12))
    with WebServer(small) as server:
        raw = crawl(small, server.proxy_url, "never", args.rendered_pages)
        print(line("raw (render=never)", raw), flush=True)
        rendered = crawl(small, server.proxy_url, "always", args.rendered_pages)
        print(line("rendered (render=always)", rendered), flush=True)

    big = with_ordinary_scripts(generated_web(args.pages))
    results: dict[str, list[dict[str, float]]] = {"never": [], "auto": []}
    with WebServer(big) as server:
        for round_ in range(args.rounds):
            for mode in ("never", "auto") if round_ % 2 == 0 else ("auto", "never"):
                stats = crawl(big, server.proxy_url, mode, args.pages)
                results[mode].append(stats)
                print(line(f"round {round_ + 1} render={mode}", stats), flush=True)
                time.sleep(0.5)

    print(
        f"\nraw HTML:  {raw['pages_per_s']:.1f} pages/s, CPU {raw['cpu_ms_per_page']:.1f} ms/page"
    )
    print(
        f"rendered:  {rendered['pages_per_s']:.1f} pages/s, "
        f"CPU {rendered['cpu_ms_per_page']:.1f} ms/page"
    )
    print(
        f"ratio rendered/raw: {rendered['pages_per_s'] / raw['pages_per_s']:.3f} pages/s "
        f"({raw['pages_per_s'] / rendered['pages_per_s']:.1f}x slower); CPU per page "
        f"{rendered['cpu_ms_per_page'] / raw['cpu_ms_per_page']:.1f}x"
    )
    never = max(r["pages_per_s"] for r in results["never"])
    auto = max(r["pages_per_s"] for r in results["auto"])
    cpu_never = statistics.median(r["cpu_ms_per_page"] for r in results["never"])
    cpu_auto = statistics.median(r["cpu_ms_per_page"] for r in results["auto"])
    print(f"\nno page needs script, {args.pages} pages ({args.rounds} rounds):")
    print(f"render=never:  {never:.0f} pages/s (best), CPU {cpu_never:.2f} ms/page (median)")
    print(f"render=auto:   {auto:.0f} pages/s (best), CPU {cpu_auto:.2f} ms/page (median)")
    print(
        f"ratio auto/never: {auto / never:.3f} pages/s; CPU per page "
        f"{cpu_auto / cpu_never:.3f} (goal: auto under 10% slower, <= 1.10)"
    )
    extract_ms, check_ms = check_cost(big)
    print(
        f"\nper page, CPU: extraction {extract_ms:.2f} ms, auto's check {check_ms:.3f} ms "
        f"(+{100 * check_ms / extract_ms:.1f}% of extraction)"
    )


if __name__ == "__main__":
    main()
