"""Pause and resume (``-s JOBDIR=``): a crawl stopped with SIGINT, or killed with SIGKILL, and
started again with the same JOBDIR stores what an uninterrupted crawl of the same web stores.

The reference is an uninterrupted crawl of the same generated web into another database; the
interrupted crawl is signalled once a third of the reference's pages have been asked for. What
the crawl reports (its summary line, ``scrapy crawls``, the report) covers every attempt.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.vocabulary import INTERRUPTED, crawl_status, edges_of
from benchmarks.web import generated_web
from pipelines.mongo import BACKLINK_FIELDS, PAGE_FIELDS
from tests.conftest import FAST, ROOT, MongoServer, Run, run_scrapy, scrapy_env
from tests.figures import crawls_row, shown_everywhere, stored_pages, summary_line

# Small batches written often: a signal finds pages already stored, as in a long crawl.
QUICK_WRITES = ["-s", "BACKLINKS_MONGO_BATCH_SIZE=20", "-s", "BACKLINKS_MONGO_FLUSH_INTERVAL=0.2"]


@dataclass
class Site:
    web: Web
    server: WebServer
    mongo: MongoServer
    tmp: Path
    reference: Any  # the uninterrupted crawl's database
    reference_gets: Counter[str]


def crawl_args(web: Web, *extra: str) -> list[str]:
    return [
        "crawl",
        "niche",
        *web.niche_args(competitors=True),
        *FAST,
        *QUICK_WRITES,
        *extra,
    ]


def env_for(site: Site, database: str) -> dict[str, str]:
    return scrapy_env(
        site.server.proxy_url,
        MONGO_URI=site.mongo.uri,
        MONGO_DATABASE=database,
        BACKLINKS_DATA_DIR=str(site.tmp / "data"),
    )


def page_gets(server: WebServer, since: int) -> Counter[str]:
    """GETs of pages (robots.txt is asked again by every process) after request number since."""
    return Counter(
        url
        for method, url, _ in server.requests[since:]
        if method == "GET" and not url.endswith("/robots.txt")
    )


@pytest.fixture(scope="module")
def site(mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    web = generated_web(200, n_hosts=12, seed=7)
    tmp = tmp_path_factory.mktemp("resume")
    client = mongo_server.client()
    name = f"ref_{uuid.uuid4().hex[:8]}"
    with WebServer(web) as server:
        site = Site(web, server, mongo_server, tmp, client[name], Counter())
        run = run_scrapy(crawl_args(web), env_for(site, name))
        assert run.returncode == 0, run.stderr[-3000:]
        site.reference_gets = page_gets(server, 0)
        yield site
    client.drop_database(name)
    client.close()


@pytest.fixture
def db(site: Site) -> Iterator[tuple[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    client = site.mongo.client()
    yield name, client[name]
    client.drop_database(name)
    client.close()


def interrupted(
    site: Site, database: str, jobdir: Path, sig: signal.Signals, *extra: str, after: int = 0
) -> Run:
    """Start a crawl, send sig once ``after`` pages (default: a third of the reference's) have
    been asked for, and wait for its end."""
    scrapy = shutil.which("scrapy")
    argv = [scrapy] if scrapy else [sys.executable, "-m", "scrapy"]
    argv += crawl_args(site.web, "-s", f"JOBDIR={jobdir}", *extra)
    since = len(site.server.requests)
    third = after or sum(site.reference_gets.values()) // 3
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env_for(site, database),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while proc.poll() is None and sum(page_gets(site.server, since).values()) < third:
            time.sleep(0.02)
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Run(proc.returncode, stdout, stderr)


def _by_id(collection: Any) -> dict[str, dict[str, Any]]:
    return {doc["_id"]: doc for doc in collection.find()}


def assert_same_store(site: Site, db: Any, *, scored: bool = True) -> str:
    """The resumed crawl stored what the uninterrupted one did, as one crawl; its crawl id."""
    ref = site.reference
    [crawl] = list(db.crawls.find())
    crawl_id = crawl["_id"]
    got, want = _by_id(db.backlinks), _by_id(ref.backlinks)
    assert want, "the reference crawl found no backlinks"
    pairs = {(d["source_url"], d["target_url"]) for d in got.values()}
    assert pairs == {(d["source_url"], d["target_url"]) for d in want.values()}
    for key, doc in got.items():
        expected = want[key]
        for field in (*BACKLINK_FIELDS, "target_status", "reciprocal", "lost_at", "unverified_at"):
            assert doc.get(field) == expected.get(field), (field, doc["source_url"])
        assert doc["seen_count"] == 1, doc["source_url"]  # a crawl, however many attempts
        assert doc["first_crawl_id"] == doc["last_crawl_id"] == crawl_id
        for score in ("link_trust", "relevance", "quality") if scored else ():
            assert doc["scores"][score] == pytest.approx(expected["scores"][score], abs=1e-6)
    pages, ref_pages = _by_id(db.pages), _by_id(ref.pages)
    assert pages.keys() == ref_pages.keys()
    for url, page in pages.items():
        assert page["crawl_id"] == crawl_id
        for field in (*PAGE_FIELDS, "out_hosts"):
            assert page.get(field) == ref_pages[url].get(field), (field, url)

    def edges(database: Any) -> set[tuple[Any, ...]]:
        return {edge for doc in database.host_edges.find() for edge in edges_of(doc)}

    assert edges(db) == edges(ref) != set()
    assert crawl["status"] == "finished" and crawl["attempts"] == 2
    assert crawl["started_at"] < crawl["resumed_at"] <= crawl["finished_at"]
    return crawl_id


def assert_whole_crawl_reported(
    site: Site, name: str, db: Any, last: Run, last_gets: int, tmp: Path
) -> dict[str, Any]:
    """The summary line of the last attempt, ``scrapy crawls`` and the report count every
    attempt: what the store holds for the crawl id, what the uninterrupted crawl reported,
    more than the last attempt fetched; the record's figures."""
    [crawl] = list(db.crawls.find())
    figures = crawl["figures"]
    assert figures == site.reference.crawls.find_one()["figures"]
    assert figures["pages"] == len(stored_pages(db, crawl["_id"]))
    target = {"matched_domain": site.web.target, "last_crawl_id": crawl["_id"]}
    assert figures["backlinks"] == db.backlinks.count_documents(target) > 0
    assert figures["pages"] > last_gets > 0  # the earlier attempt's pages are in
    summary = summary_line(last.stderr)
    assert summary.crawl_id == crawl["_id"] and summary.status == "finished after 2 attempts"
    report = tmp / "report.html"
    row, cards = shown_everywhere(env_for(site, name), site.web.target, crawl["_id"], report)
    assert summary.figures == row.figures == cards == figures
    assert row.status == "finished"
    return crawl


def test_a_crawl_stopped_with_sigint_resumes_where_it_stopped(
    site: Site, db: tuple[str, Any], tmp_path: Path
) -> None:
    name, database = db
    jobdir = tmp_path / "job"
    since = len(site.server.requests)
    first = interrupted(site, name, jobdir, signal.SIGINT)
    assert first.returncode == 0, first.stderr[-3000:]
    [crawl] = list(database.crawls.find())
    assert crawl["status"] == INTERRUPTED and crawl["reason"] == "shutdown"
    assert crawl["attempts"] == 1
    stored = database.pages.count_documents({})
    assert 0 < stored < site.reference.pages.count_documents({})
    # Recorded with what it had done, and said so.
    assert crawl["figures"]["pages"] == stored
    assert summary_line(first.stderr).status == "interrupted (shutdown)"
    assert summary_line(first.stderr).figures == crawl["figures"]

    other = run_scrapy(
        crawl_args(site.web, "-a", "depth=0", "-s", f"JOBDIR={jobdir}"), env_for(site, name)
    )
    assert other.returncode == 2
    assert other.stderr.strip().count("\n") == 0 and "other arguments" in other.stderr

    feed = tmp_path / "feed.jsonl"
    since_second = len(site.server.requests)
    second = run_scrapy(
        crawl_args(site.web, "-s", f"JOBDIR={jobdir}", "-O", str(feed)), env_for(site, name)
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "continues with" in second.stderr
    crawl_id = assert_same_store(site, database)
    assert crawl_id == crawl["_id"]
    assert database.crawls.find_one()["resumed_from"] == "queue"
    # Nothing fetched twice, nothing left out: the two attempts asked for what one crawl did.
    assert page_gets(site.server, since) == site.reference_gets

    last_gets = sum(page_gets(site.server, since_second).values())
    record = assert_whole_crawl_reported(site, name, database, second, last_gets, tmp_path)
    # Scrapy's stats of both attempts, as one: the pages parsed add up to the reference's.
    ref_stats = site.reference.crawls.find_one()["stats"]
    assert record["stats"]["backlinks/spider/pages"] == ref_stats["backlinks/spider/pages"]
    assert record["stats"]["backlinks/jobdir/attempt"] == 2
    # -O rewrote the feed with this attempt's links only, and the log said so, once.
    [warning] = [line for line in second.stderr.splitlines() if "-O rewrites" in line]
    assert "WARNING" in warning and "-o " in warning and "scrapy export" in warning
    assert 0 < len(second.feed(feed)) < database.backlinks.count_documents({})


def test_a_killed_crawl_starts_again_from_its_seeds_as_the_same_crawl(
    site: Site, db: tuple[str, Any], tmp_path: Path
) -> None:
    name, database = db
    jobdir = tmp_path / "job"
    # Scores were compared after SIGINT; here they would only cost time.
    no_scoring = ("-s", "BACKLINKS_SCORE_ON_CLOSE=False")
    beat = ("-s", "BACKLINKS_HEARTBEAT_SECONDS=0.2")
    first = interrupted(site, name, jobdir, signal.SIGKILL, *no_scoring, *beat)
    assert first.returncode == -signal.SIGKILL
    [crawl] = list(database.crawls.find())
    assert crawl["status"] == "running"  # nobody could say otherwise
    stored = len(stored_pages(database, crawl["_id"]))
    assert stored > 0
    assert crawl["progress"]["pages"] <= stored and crawl["heartbeat_seconds"] == 0.2
    # Readers see it interrupted (its pid is gone, its heartbeat stopped), with what it had done.
    assert crawl_status(crawl) == INTERRUPTED
    row = crawls_row(env_for(site, name), site.web.target, crawl["_id"])
    assert row.status == INTERRUPTED
    assert row.figures["pages"] == stored
    assert row.figures["live"] is None  # its end never worked out the link states

    second = run_scrapy(
        crawl_args(site.web, "-s", f"JOBDIR={jobdir}", *no_scoring), env_for(site, name)
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "did not stop cleanly" in second.stderr
    assert "-O rewrites" not in second.stderr  # no -O; and from the seeds, all is written again
    crawl_id = assert_same_store(site, database, scored=False)
    assert crawl_id == crawl["_id"]
    assert database.crawls.find_one()["resumed_from"] == "seeds"
    # From the seeds, the last attempt fetched every page again; the figures count each once.
    [record] = list(database.crawls.find())
    assert record["figures"] == site.reference.crawls.find_one()["figures"]
    assert summary_line(second.stderr).figures == record["figures"]


def test_a_resumed_crawl_spends_its_page_budget_once(
    site: Site, db: tuple[str, Any], tmp_path: Path
) -> None:
    name, database = db
    budget = ("-a", "max_pages=60", "-s", "BACKLINKS_SCORE_ON_CLOSE=False")
    assert sum(site.reference_gets.values()) > 60, "the web must be larger than the budget"
    since = len(site.server.requests)
    first = interrupted(site, name, tmp_path / "job", signal.SIGINT, *budget, after=20)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_scrapy(
        crawl_args(site.web, "-s", f"JOBDIR={tmp_path / 'job'}", *budget), env_for(site, name)
    )
    assert second.returncode == 0, second.stderr[-3000:]
    gets = page_gets(site.server, since)
    assert sum(gets.values()) == len(gets) == 60  # the whole budget, each page once
    assert database.pages.count_documents({}) == 60


def test_redirect_hops_and_their_waiting_pages_survive_a_pause(tmp_path: Path) -> None:
    """What an attempt learned about redirect hops is in its saved state, so pages of the next
    attempt linking a known hop (or one still queued) are credited."""
    import json

    from scrapy.utils.test import get_crawler

    from backlink_spider.extract import Link
    from backlink_spider.spiders.niche import NicheSpider

    def spider() -> NicheSpider:
        crawler = get_crawler(NicheSpider, {"JOBDIR": str(tmp_path / "job")})
        return NicheSpider.from_crawler(crawler, target="t.test", seeds="s.test")

    first = spider()
    hop, queued = "https://s.test/out?to=t", "https://s.test/go/t"
    link = Link(queued, "T", ("ugc",), True, "text", "comment", "see T", "a")
    first.hops.known[hop] = ("https://t.test/", hop)
    first.hops.inflight[queued] = [("https://s.test/a", "A", 200, link)]
    first.closed("shutdown")  # the attempt saves its state, as at a SIGINT
    saved = json.loads((tmp_path / "job" / "backlinks-state.json").read_text())
    assert saved["hops"]["hops"] == {hop: ["https://t.test/", hop]}
    second = spider()  # the next attempt of the same job restores it
    assert second.run.crawl_id == first.run.crawl_id
    assert second.hops.known == first.hops.known
    assert second.hops.inflight == first.hops.inflight


def test_a_running_record_nobody_keeps_alive_reads_as_interrupted() -> None:
    """A killed crawl never closes its record: a dead pid on this host, or a heartbeat three
    beats late, says it was interrupted; a live one, or a record of another host or of a
    shared crawl (no host) still beating, is running."""
    now = datetime.now(UTC)
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()  # reaped: its pid names no process
    here = socket.gethostname()
    alive = {"status": "running", "pid": os.getpid(), "host": here, "heartbeat_seconds": 30}
    assert crawl_status({**alive, "heartbeat_at": now}, now) == "running"
    assert crawl_status({**alive, "pid": dead.pid, "heartbeat_at": now}, now) == INTERRUPTED
    other_host = {**alive, "pid": dead.pid, "host": "elsewhere.example"}
    assert crawl_status({**other_host, "heartbeat_at": now - timedelta(seconds=80)}, now) == (
        "running"
    )
    late = now - timedelta(seconds=91)
    assert crawl_status({**other_host, "heartbeat_at": late}, now) == INTERRUPTED
    shared = {"status": "running", "pid": dead.pid, "host": None, "heartbeat_seconds": 30}
    assert crawl_status({**shared, "heartbeat_at": now}, now) == "running"
    naive = late.replace(tzinfo=None)  # as a store without tz_aware gives it back
    assert crawl_status({**shared, "heartbeat_at": naive}, now) == INTERRUPTED
    assert crawl_status({"status": "finished", "pid": dead.pid, "host": here}) == "finished"
    assert crawl_status({"status": INTERRUPTED, "reason": "shutdown"}) == INTERRUPTED
