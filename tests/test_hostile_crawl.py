"""Hostile pages crawled end to end: a 50 MB page is cut at BACKLINKS_MAX_PAGE_BYTES (served plain
or gzip-compressed), binary bodies served as text/html and wrong or unknown charsets are crawled
without an error, and the crawler's memory stays bounded.

Memory is the crawl process's own peak RSS (``os.wait4``), compared with a reference crawl of the
same web whose huge page is exactly at the cap: cutting must make the 50 MB page cost what a
page at the cap costs, far less than one copy of the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.urls import try_canonical_url
from settings import BACKLINKS_MAX_PAGE_BYTES
from tests.conftest import FAST, ROOT, Run, scrapy_env
from tests.webs.hostile import HUGE_PAGE_BYTES, hostile_web


@dataclass
class HostileCrawl:
    web: Web
    run: Run
    feed: list[dict[str, Any]]
    stats: dict[str, Any]
    pages: list[dict[str, Any]]
    peak_rss: int  # bytes


def _crawl(web: Web, mongo_server: Any, tmp: Path, name: str, *, gzip: bool) -> HostileCrawl:
    """``scrapy crawl niche`` as a user runs it, with the process's own peak RSS."""
    scrapy = shutil.which("scrapy")
    argv = [scrapy] if scrapy else [sys.executable, "-m", "scrapy"]
    out = tmp / f"{name}.jsonl"
    argv += [
        "crawl",
        "niche",
        *web.niche_args(),
        "-O",
        str(out),
        *FAST,
        "-s",
        "BACKLINKS_CHECK_TARGETS=False",
    ]
    database = f"hostile_{name}_{os.getpid()}"
    with WebServer(web, gzip=gzip) as server:
        env = scrapy_env(
            server.proxy_url,
            MONGO_URI=mongo_server.uri,
            MONGO_DATABASE=database,
            BACKLINKS_DATA_DIR=str(tmp / "data"),
        )
        with (tmp / f"{name}.out").open("wb") as stdout, (tmp / f"{name}.err").open("wb") as err:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout, stderr=err)
            # wait4 gives this child's own rusage: other crawls of the session do not count.
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(proc.returncode, (tmp / f"{name}.out").read_text(), (tmp / f"{name}.err").read_text())
    assert run.returncode == 0, run.stderr[-3000:]
    client = mongo_server.client()
    try:
        db = client[database]
        stats = db.crawls.find_one()["stats"]
        pages = list(db.pages.find({}, {"text": 0}))
    finally:
        client.drop_database(database)
        client.close()
    return HostileCrawl(web, run, run.feed(out), stats, pages, usage.ru_maxrss * 1024)


@pytest.fixture(scope="module")
def crawls(mongo_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("hostile")
    yield {
        "reference": _crawl(
            hostile_web(BACKLINKS_MAX_PAGE_BYTES), mongo_server, tmp, "reference", gzip=False
        ),
        "plain": _crawl(hostile_web(), mongo_server, tmp, "plain", gzip=False),
        "gzip": _crawl(hostile_web(), mongo_server, tmp, "gzip", gzip=True),
    }


def key(source: str, target: str) -> tuple[str | None, str | None]:
    return try_canonical_url(source), try_canonical_url(target)


@pytest.mark.parametrize("name", ["plain", "gzip"])
def test_hostile_pages_are_crawled_and_their_links_found(crawls: dict, name: str) -> None:
    crawl = crawls[name]
    found = {(r["source_url"], r["target_url"]): r for r in crawl.feed}
    missing = [e.note for e in crawl.web.expected if key(e.source_url, e.target_url) not in found]
    assert missing == []
    for e in crawl.web.expected:
        row = found[key(e.source_url, e.target_url)]
        assert (row["anchor_text"], row["position"]) == (e.anchor, e.position), e.note
    for absent in crawl.web.expected_absent:
        assert key(absent.source_url, absent.target_url) not in found, absent.note
    # Every hostile page is read and stored, binary noise included; nothing failed or raised.
    stored = {page["url"] for page in crawl.pages}
    home = crawl.web[crawl.web.seeds[0]]
    assert {try_canonical_url(f"https://{home.host}{path}") for path in home.pages} <= stored
    assert crawl.stats.get("log_count/ERROR", 0) == 0, crawl.run.stderr[-3000:]
    assert "Traceback" not in crawl.run.stderr


@pytest.mark.parametrize("name", ["plain", "gzip"])
def test_a_50_mb_page_is_cut_at_the_cap_and_memory_stays_bounded(crawls: dict, name: str) -> None:
    crawl, reference = crawls[name], crawls["reference"]
    assert crawl.stats["backlinks/spider/page_cut"] == 1
    assert reference.stats.get("backlinks/spider/page_cut", 0) == 0  # at the cap, not past it
    # The page costs what a page at the cap costs: far less than a single copy of its 50 MB.
    extra = crawl.peak_rss - reference.peak_rss
    assert extra < HUGE_PAGE_BYTES // 4, (name, crawl.peak_rss, reference.peak_rss)
