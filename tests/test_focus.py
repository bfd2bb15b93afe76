"""The focused frontier and the coverage report (``backlink_spider.focus``), on a web whose
niche is a minority: a third of its hosts write about the target's topic, the rest about
cooking, travel and DIY, and the seeds' blogrolls list the off-topic sites first
(``benchmarks.focus.focus_web``, the benchmark's web at a third of its size).

Three crawls, shared by the tests: focused and breadth-first at depth 2 with 30% of the web's
pages as budget, and a focused crawl at depth 1 with no budget to speak of (what it leaves
unseen is the hosts two hops out). Each also names a seed the web does not have, and one
on-topic site as a competitor.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from backlink_spider.demoweb.server import WebServer
from backlink_spider.focus import Focus, HostView
from backlink_spider.vocabulary import (
    COVERAGE,
    COVERAGE_BUDGET,
    COVERAGE_COMPETITOR_ONLY,
    COVERAGE_SUGGESTED,
    FAILED_SEEDS,
    ON_TOPIC,
)
from benchmarks.focus import FocusWeb, focus_web
from tests.conftest import FAST, MongoServer, run_scrapy, scrapy_env

DEAD_SEED = "long-gone-garden.test"  # a seed the web does not have
BUDGET_SHARE = 0.3


@dataclass
class Crawl:
    record: dict[str, Any]
    pages: list[str]  # URLs of the pages stored (the target's apart)
    stored: int  # pages stored, the target's and the failed ones included
    backlinks: set[str]  # source URLs of the backlinks to the target
    stderr: str


@dataclass
class Crawls:
    fweb: FocusWeb
    competitor: str
    focused: Crawl
    breadth: Crawl
    shallow: Crawl  # focused, depth 1, unlimited

    @property
    def budget(self) -> int:
        return round(self.fweb.pages * BUDGET_SHARE)

    def on_topic_share(self, crawl: Crawl) -> float:
        on = self.fweb.on_topic_hosts()
        return sum(urlsplit(u).hostname in on for u in crawl.pages) / max(1, len(crawl.pages))

    def links_of(self, host: str) -> tuple[bool, bool]:
        """Whether any page of ``host`` links the target, and the competitor (the web's own
        link tables)."""
        hosts = self.fweb.hosts
        index = next(i for i, h in enumerate(hosts) if h.gen.host == host)
        competitor = next(i for i, h in enumerate(hosts) if h.gen.host == self.competitor)
        links = [link for page in hosts[index].gen.pages for link in page.links]
        return any(h == -1 for _, h, *_ in links), any(h == competitor for _, h, *_ in links)


def _crawl(
    fweb: FocusWeb, server: WebServer, mongo: MongoServer, competitor: str, *extra: str
) -> Crawl:
    web = fweb.web
    database = f"focus_{uuid.uuid4().hex[:8]}"
    seeds = ",".join([*web.seeds, DEAD_SEED])
    args = [
        "crawl",
        "niche",
        "-a",
        f"target={web.target}",
        "-a",
        f"seeds={seeds}",
        "-a",
        f"competitors={competitor}",
        "-a",
        f"keywords={','.join(web.keywords)}",
        *FAST,
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "BACKLINKS_RENDER=never",
        "-s",
        f"BACKLINKS_MAX_PAGES_PER_HOST={fweb.pages}",
        *extra,
    ]
    env = scrapy_env(server.proxy_url, MONGO_URI=mongo.uri, MONGO_DATABASE=database)
    run = run_scrapy(args, env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    client = mongo.client()
    try:
        db = client[database]
        record = db.crawls.find_one({}) or {}
        pages = [str(d["url"]) for d in db.pages.find({"is_target": {"$ne": True}}, {"url": 1})]
        stored = db.pages.count_documents({})
        links = {
            str(d["source_url"])
            for d in db.backlinks.find({"matched_domain": web.target}, {"source_url": 1})
        }
        client.drop_database(database)
    finally:
        client.close()
    return Crawl(record, pages, stored, links, run.stderr)


@pytest.fixture(scope="module")
def crawls(mongo_server: MongoServer) -> Iterator[Crawls]:
    fweb = focus_web(30)
    # An on-topic site two hops out plays the competitor (a watched site is not crawled, and
    # its links lead nowhere the crawl would go): the sites that link it and not the target are
    # the competitor-only hosts.
    competitor = next(h.gen.host for h in fweb.hosts if h.hop == 2 and h.on_topic)
    budget = round(fweb.pages * BUDGET_SHARE)
    with WebServer(fweb.web) as server:
        limited = ["-a", "depth=2", "-a", f"max_pages={budget}"]
        focused = _crawl(fweb, server, mongo_server, competitor, *limited)
        breadth = _crawl(
            fweb, server, mongo_server, competitor, *limited, "-s", "BACKLINKS_FOCUS=False"
        )
        shallow = _crawl(
            fweb, server, mongo_server, competitor, "-a", "depth=1", "-a", "max_pages=5000"
        )
        yield Crawls(fweb, competitor, focused, breadth, shallow)


def test_the_budget_buys_pages_fetched(crawls: Crawls) -> None:
    """The budget is spent on pages fetched, in the order the frontier chose, not handed out
    to the first URLs discovered: both orders fetch the whole budget and not a page more."""
    for crawl in (crawls.focused, crawls.breadth):
        stats = crawl.record["stats"]
        assert stats["backlinks/spider/budget_spent"] == crawls.budget
        assert crawls.budget - 5 <= crawl.stored <= crawls.budget
        assert crawl.record[COVERAGE]["uncrawled"]["budget"] > 0  # left in the frontier
        assert f"Page budget of {crawls.budget} reached" in crawl.stderr


def test_the_focused_crawl_fetches_mostly_on_topic_pages(crawls: Crawls) -> None:
    focused, breadth = crawls.on_topic_share(crawls.focused), crawls.on_topic_share(crawls.breadth)
    assert focused >= 0.6, focused
    assert focused >= breadth + 0.25, (focused, breadth)
    stats = crawls.focused.record["stats"]
    assert stats["backlinks/focus/chosen"] > stats["backlinks/focus/explored"] > 0
    assert "backlinks/focus/chosen" not in crawls.breadth.record["stats"]


def test_the_focused_crawl_finds_the_backlinks_breadth_first_misses(crawls: Crawls) -> None:
    declared = {
        item.source_url
        for item in crawls.fweb.web.expected
        if urlsplit(item.source_url).hostname != crawls.competitor
    }
    focused = crawls.focused.backlinks & declared
    breadth = crawls.breadth.backlinks & declared
    assert len(focused) >= 0.85 * len(declared), (len(focused), len(declared))
    assert len(focused) >= 1.5 * len(breadth), (len(focused), len(breadth))
    missed = focused - breadth
    assert len(missed) >= len(declared) // 3
    # ... and they are the on-topic sites' links, two hops out among them
    hop = {h.gen.host: h.hop for h in crawls.fweb.hosts}
    assert any(hop[urlsplit(u).hostname or ""] == 2 for u in missed)


def test_the_coverage_report_says_where_the_budget_went(crawls: Crawls) -> None:
    """The record's budget split follows the hosts' real topics (the web's own labels)."""
    on = crawls.fweb.on_topic_hosts()
    for crawl in (crawls.focused, crawls.breadth):
        budget = crawl.record[COVERAGE][COVERAGE_BUDGET]
        on_topic_pages = sum(urlsplit(u).hostname in on for u in crawl.pages)
        assert abs(budget[ON_TOPIC] - on_topic_pages) <= 3, (budget, on_topic_pages)
        assert abs(budget["off_topic"] - (len(crawl.pages) - on_topic_pages)) <= 3, budget
        assert [f["seed"] for f in crawl.record[FAILED_SEEDS]] == [DEAD_SEED]
    said = [line for line in crawls.focused.stderr.splitlines() if "spent its page budget" in line]
    assert said and "on topic" in said[0]


def test_suggested_seeds_put_the_unseen_on_topic_hosts_first(crawls: Crawls) -> None:
    """At depth 1 the hosts two hops out are left unseen; the ones their linkers' topic says
    are on topic are suggested first."""
    coverage = crawls.shallow.record[COVERAGE]
    suggested = coverage[COVERAGE_SUGGESTED]
    two_hops = {h.gen.host for h in crawls.fweb.hosts if h.hop == 2} - {crawls.competitor}
    on = crawls.fweb.on_topic_hosts()
    assert {s["host"] for s in suggested} == two_hops
    assert {s["why"] for s in suggested} == {"depth"}
    assert coverage["uncrawled"] == {"depth": len(two_hops)}
    hosts = [s["host"] for s in suggested]
    n_on = len(two_hops & on)
    assert set(hosts[:n_on]) == two_hops & on, hosts
    assert [s["value"] for s in suggested] == sorted((s["value"] for s in suggested), reverse=True)


def test_the_coverage_report_names_the_competitor_only_hosts(crawls: Crawls) -> None:
    listed = crawls.shallow.record[COVERAGE][COVERAGE_COMPETITOR_ONLY]
    assert listed
    crawled = {urlsplit(u).hostname or "" for u in crawls.shallow.pages}
    for entry in listed:
        assert entry["host"] in crawled
        assert crawls.links_of(entry["host"]) == (False, True), entry
        assert entry["competitor_links"] >= 1
    ours = {h.gen.host for h in crawls.fweb.hosts} - {crawls.competitor}
    expected = {h for h in crawled & ours if crawls.links_of(h) == (False, True)}
    assert {e["host"] for e in listed} == expected


# -- the estimates, without a crawl ------------------------------------------------------------


class _Config:
    seeds = ("https://seed.test/",)
    target_domain = "target.test"
    keywords = ("compost", "pruning roses")


def test_relevance_ranks_a_garden_page_over_a_cooking_page() -> None:
    focus = Focus(_Config())  # type: ignore[arg-type]
    focus.add_target_page([("compost", 9), ("mulch", 4), ("roses", 3), ("garden", 5)])
    garden = focus.relevance([("compost", 3), ("heap", 2), ("garden", 4), ("worms", 1)])
    cooking = focus.relevance([("stock", 3), ("soup", 2), ("simmer", 2), ("garden", 1)])
    assert garden is not None and cooking is not None
    assert garden > 0.5 > cooking


def test_a_host_found_off_topic_sinks_below_an_unknown_one_linked_from_on_topic_pages() -> None:
    focus = Focus(_Config())  # type: ignore[arg-type]
    focus.add_target_page([("compost", 9), ("mulch", 4)])
    focus.page("seed.test", 0.9, [("fresh.test", 1), ("soup.test", 1)])
    before = focus.host_priority("soup.test")
    for _ in range(3):
        focus.page("soup.test", 0.05, [])
    assert focus.host_priority("soup.test") < before
    assert focus.host_priority("soup.test") < focus.host_priority("fresh.test")
    assert focus.topic("soup.test") == "off_topic"
    focus.page("fresh.test", 0.8, [], target_links=1)
    assert focus.host_priority("fresh.test") > before


def test_the_focus_state_round_trips_and_merges() -> None:
    """What a JOBDIR attempt saves, the next restores; a shared crawl's last worker adds the
    others' counts to its own."""
    focus = Focus(_Config())  # type: ignore[arg-type]
    focus.add_target_page([("compost", 9)])
    focus.page("a.test", 0.7, [("b.test", 2)], competitor_links=1)
    focus.admitted("b.test")
    again = Focus(_Config())  # type: ignore[arg-type]
    again.restore(focus.state())
    assert again.state() == focus.state()
    again.merge(focus.state())
    assert again.hosts["b.test"].admitted == 2
    assert again.hosts["a.test"] == HostView(
        fetched=2, relevance=1.4, competitor_links=2, refused={}, seed=False
    )
