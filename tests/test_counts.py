"""One definition of each count: on one store, the crawl's summary line, ``scrapy crawls``,
``scrapy export`` (lines per ``--status``) and the report say the same numbers.

The store is the ``profile`` session fixture's (``tests/profile_web.py``): two crawls of a
changing web, so the second crawl finds links to the competitor, one link lost, two unverified
(a 500 and a timeout), one into a dead page (broken) and one new.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from backlink_spider.demoweb import demo_web
from backlink_spider.vocabulary import FIGURES, edges_of, out_hosts_of
from tests.conftest import MongoServer, run_scrapy, scrapy_env
from tests.figures import Shown, crawls_row, report_cards, stored_pages, summary_line
from tests.profile_web import RIVAL, TARGET, Profile

# What the second crawl of the changing web finds and leaves (see tests/profile_web.py).
EXPECTED = {
    "backlinks": 4,  # friend, blog (its new link), fan, both: seen in the second crawl
    "referring_domains": 4,
    "competitor_links": 2,  # gap and both link to the rival
    "live": 4,
    "new": 1,  # blog's link to the pruning guide
    "lost": 1,  # blog's link to the compost guide
    "unverified": 2,  # down (500) and slow (timeout): neither live nor lost
    "broken": 1,  # fan's link into the 404 offer page
}


DEMO_RE = re.compile(
    r"(?P<backlinks>\d+) backlinks to petalpost\.test from (?P<referring_domains>\d+) "
    r"referring domains and (?P<competitor_links>\d+) links to competitors in "
    r"(?P<pages>\d+) pages \((?P<new>\d+) new and (?P<lost>\d+) lost in the crawl a month on\)"
)
EXPORTS = {
    **{status: (TARGET, "--status", status) for status in ("live", "new", "lost", "unverified")},
    "broken": (TARGET, "--broken"),
    "all": (TARGET,),
    "rival": (RIVAL,),  # the competitor's links are exported by its name
}


def export(profile: Profile, name: str, args: tuple[str, ...]) -> list[dict[str, Any]]:
    out = profile.tmp / f"counts-{name}.jsonl"
    run = run_scrapy(["export", args[0], "-O", str(out), *args[1:]], profile.env)
    assert run.returncode == 0, run.stderr
    return run.feed(out)


@pytest.fixture(scope="module")
def shown(profile: Profile) -> dict[str, Any]:
    """Every place's figures of the second crawl, read as a user reads them; the commands run
    side by side (each is mostly Scrapy's start-up)."""
    summary = summary_line(profile.second.stderr)
    record = profile.db.crawls.find_one({"_id": summary.crawl_id})
    assert record is not None
    with ThreadPoolExecutor(4) as pool:
        crawls = pool.submit(crawls_row, profile.env, TARGET, summary.crawl_id)
        report = pool.submit(report_cards, profile.env, TARGET, profile.tmp / "counts.html")
        exports = {name: pool.submit(export, profile, name, a) for name, a in EXPORTS.items()}
        return {
            "summary": summary,
            "record": record,
            "crawls": crawls.result(),
            "report": report.result(),
            "exports": {name: future.result() for name, future in exports.items()},
        }


def test_the_summary_line_says_what_the_crawl_record_keeps(shown: dict[str, Any]) -> None:
    summary: Shown = shown["summary"]
    assert summary.status == "finished"
    assert summary.figures == shown["record"]["figures"]
    assert {k: summary.figures[k] for k in EXPECTED} == EXPECTED


def test_scrapy_crawls_shows_the_summary_line(shown: dict[str, Any]) -> None:
    row: Shown = shown["crawls"]
    assert row.status == "finished"
    assert row.figures == shown["summary"].figures


def test_the_report_shows_the_summary_line(shown: dict[str, Any]) -> None:
    # The card "live" counts live links only: the two unverified ones are a card of their own.
    assert shown["report"] == shown["summary"].figures


def test_export_writes_as_many_lines_as_the_figures_say(shown: dict[str, Any]) -> None:
    figures = shown["summary"].figures
    crawl_id = shown["summary"].crawl_id
    exports = shown["exports"]
    for status in ("live", "new", "lost", "unverified"):
        rows = exports[status]
        assert len(rows) == figures[status], status
        states = {r["status"] for r in rows}  # a new link is live too
        assert states <= ({"live", "new"} if status == "live" else {status}), status
    assert len(exports["broken"]) == figures["broken"]
    # The crawl's own: the stored links it saw (export's crawl_id is the latest crawl to see one).
    seen = [r for r in exports["all"] if r["crawl_id"] == crawl_id]
    assert len(seen) == figures["backlinks"]
    assert len({r["source_domain"] for r in seen}) == figures["referring_domains"]
    rival = [r for r in exports["rival"] if r["crawl_id"] == crawl_id]
    assert len(rival) == figures["competitor_links"]


def test_a_recrawl_counts_each_stored_page_once_in_the_host_graph(
    profile: Profile, shown: dict[str, Any]
) -> None:
    """The second crawl found most pages as they were: it left their documents alone (a visit
    says it fetched them), and every host's edges still count each of its pages once."""
    db, crawl_id = profile.db, shown["summary"].crawl_id
    unchanged = {visit["_id"] for visit in db.page_visits.find({"crawl_id": crawl_id})}
    assert unchanged and db.pages.count_documents({"_id": {"$in": sorted(unchanged)}}) == len(
        unchanged
    )
    assert not db.pages.find_one({"_id": {"$in": sorted(unchanged)}, "crawl_id": crawl_id})
    assert shown["record"]["stats"]["backlinks/mongo/pages/unchanged"] == len(unchanged)
    expected: Counter[tuple[str, str, str]] = Counter()
    for page in db.pages.find({}, {"host": 1, "out_hosts": 1}):
        for dst, links, followed in out_hosts_of(page):
            expected.update({(page["host"], dst, "links"): links, (page["host"], dst, "pages"): 1})
            expected[page["host"], dst, "followed"] += followed
    stored: Counter[tuple[str, str, str]] = Counter()
    for doc in db.host_edges.find():
        for src, dst, links, followed, pages in edges_of(doc):
            stored.update({(src, dst, "links"): links, (src, dst, "followed"): followed})
            stored[src, dst, "pages"] += pages
    assert +stored == +expected


def test_the_figures_are_what_the_store_holds(profile: Profile, shown: dict[str, Any]) -> None:
    db, crawl_id = profile.db, shown["summary"].crawl_id
    figures = shown["summary"].figures
    assert set(figures) == set(FIGURES)
    assert figures["pages"] == len(stored_pages(db, crawl_id)) > 0
    mine = {"matched_domain": TARGET, "last_crawl_id": crawl_id}
    assert figures["backlinks"] == db.backlinks.count_documents(mine)
    theirs = {"matched_domain": RIVAL, "last_crawl_id": crawl_id}
    assert figures["competitor_links"] == db.backlinks.count_documents(theirs)


def demo_links(*, changed: bool) -> set[tuple[str, str]]:
    """The demo web's links into its target, as declared (``changed``: a month on)."""
    web = demo_web(changed=changed)
    return {
        (e.source_url, e.target_url)
        for e in web.expected
        if (urlsplit(e.target_url).hostname or "").endswith(web.target)
    }


def test_the_demo_says_what_scrapy_crawls_shows(mongo_server: MongoServer, tmp_path: Path) -> None:
    """The demo counts the target's backlinks as the crawl's figures do: its links to the
    competitor are a number of their own, not folded into the backlinks (the feed holds both)."""
    name = f"demo_{uuid.uuid4().hex[:8]}"
    env = scrapy_env(
        MONGO_URI=mongo_server.uri, MONGO_DATABASE=name, BACKLINKS_DATA_DIR=str(tmp_path / "data")
    )
    feed = tmp_path / "demo.jsonl"
    try:
        run = run_scrapy(["demo", "-O", str(feed)], env)
        assert run.returncode == 0, run.stderr[-3000:]
        said = DEMO_RE.search(run.stdout)
        assert said is not None, run.stdout
        row = crawls_row(env, "petalpost.test", "")
    finally:
        client = mongo_server.client()
        client.drop_database(name)
        client.close()
    figures = row.figures
    assert row.status == "finished"
    assert {k: int(v) for k, v in said.groupdict().items()} == {
        k: figures[k]
        for k in ("backlinks", "referring_domains", "competitor_links", "pages", "new", "lost")
    }
    # The figures are the second crawl's, over the web a month on: its links gone and new.
    before, after = demo_links(changed=False), demo_links(changed=True)
    assert (figures["new"], figures["lost"]) == (len(after - before), len(before - after)) > (0, 0)
    assert figures["backlinks"] and figures["competitor_links"]
    assert len(run.feed(feed)) == figures["backlinks"] + figures["competitor_links"]
