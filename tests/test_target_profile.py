"""The target profile: crawls add to it, ``scrapy target`` edits it, scores follow it.

Issue 12: the trust of a link changes only when the web or the profile changes, never because
the last crawl started from one seed; removing a seed changes the scores it should and no
others; a crawl given no seeds crawls the profile's.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backlink_spider.demoweb import Web, demo_web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.urls import get_resolver
from backlink_spider.vocabulary import edges_of
from pipelines.target_profile import add_to_profile, edit_profile, load_profile, scoring_profile
from tests.conftest import FAST, MongoServer, Run, run_scrapy, scrapy_env
from tests.figures import stored_pages
from tests.test_cli import assert_one_line_error


@dataclass
class Store:
    db: Any
    env: dict[str, str]
    web: Web

    def scrapy(self, *args: str) -> Run:
        return run_scrapy(list(args), self.env)

    def crawl(self, *args: str) -> Run:
        run = self.scrapy("crawl", "niche", "-a", f"target={self.web.target}", *args, *FAST)
        assert run.returncode == 0, run.stderr[-3000:]
        return run

    def latest_crawl(self) -> dict[str, Any]:
        return self.db.crawls.find_one(sort=[("started_at", -1)])

    def trust(self) -> dict[str, float]:
        """Each stored link's link trust."""
        return {d["_id"]: d["scores"]["link_trust"] for d in self.db.backlinks.find()}


@pytest.fixture(scope="module")
def store(mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo web crawled once in full (seeds and competitors given), on a store of its own;
    the tests below crawl it again and edit its profile, in file order."""
    web = demo_web()
    name = f"target_profile_{os.getpid()}"
    client = mongo_server.client()
    with WebServer(web) as server:
        env = scrapy_env(
            server.proxy_url,
            MONGO_URI=mongo_server.uri,
            MONGO_DATABASE=name,
            BACKLINKS_DATA_DIR=str(tmp_path_factory.mktemp("profile-data")),
        )
        store = Store(client[name], env, web)
        store.crawl(*web.niche_args(competitors=True)[2:])
        yield store
    client.drop_database(name)
    client.close()


def _reachable(db: Any, hosts: set[str]) -> set[str]:
    """Hosts a trust path reaches from ``hosts``: host edges that carry a followed link."""
    edges: dict[str, list[str]] = {}
    for doc in db.host_edges.find():
        for src, dst, _links, followed, _pages in edges_of(doc):
            if followed:
                edges.setdefault(src, []).append(dst)
    seen, queue = set(hosts), deque(hosts)
    while queue:
        for dst in edges.get(queue.popleft(), ()):
            if dst not in seen:
                seen.add(dst)
                queue.append(dst)
    return seen


def test_a_crawl_adds_what_it_was_given_to_the_profile(store: Store) -> None:
    profile = load_profile(store.db, store.web.target)
    assert profile is not None
    assert set(profile.seed_hosts) == set(store.web.seed_hosts())
    assert profile.competitors == tuple(store.web.competitors)
    shown = store.scrapy("target", store.web.target, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == profile.describe()
    text = store.scrapy("target", store.web.target)
    assert f"trusted seeds ({len(profile.seeds)})" in text.stdout
    assert store.web.competitors[0] in text.stdout


def test_a_one_seed_three_page_crawl_moves_no_trust_it_did_not_see(store: Store) -> None:
    web = store.web
    before = store.trust()
    hosts_before = {h["host"]: h["site_trust"] for h in store.db.hosts.find({"target": web.target})}
    seed_host = web.seed_hosts()[0]
    page = next(u for u in web[seed_host].urls() if u.rstrip("/") != f"https://{seed_host}")
    store.crawl("-a", f"seeds={page}", "-a", "depth=0", "-a", "max_pages=3")
    crawl = store.latest_crawl()
    assert crawl["seeds"] == [page]
    fetched = set(stored_pages(store.db, crawl["_id"]))
    assert 0 < len(fetched) <= 3 + 10  # its pages, and a few of the target's own
    after = store.trust()
    unfetched = [
        d["_id"]
        for d in store.db.backlinks.find({"source_url": {"$nin": sorted(fetched)}}, {"_id": 1})
    ]
    assert len(unfetched) >= 10
    assert {i: after[i] for i in unfetched} == {i: before[i] for i in unfetched}
    hosts_after = {h["host"]: h["site_trust"] for h in store.db.hosts.find({"target": web.target})}
    assert hosts_after == hosts_before
    # The profile kept every seed (and gained the page as a start page of a known seed site),
    # and its competitor: prospects and the report still have one.
    profile = load_profile(store.db, web.target)
    assert profile is not None and set(profile.seed_hosts) == set(web.seed_hosts())
    assert page in profile.seeds and profile.competitors == tuple(web.competitors)
    prospects = store.scrapy("prospects", web.target)
    assert prospects.returncode == 0, prospects.stderr
    report = Path(store.env["BACKLINKS_DATA_DIR"]) / "report.html"
    assert store.scrapy("report", web.target, "-o", str(report)).returncode == 0
    text = report.read_text(encoding="utf-8")
    assert "No competitors" not in text and web.competitors[0] in text


def test_removing_a_seed_changes_the_scores_it_should_and_no_others(store: Store) -> None:
    web, db = store.web, store.db
    before = store.trust()
    reasons = {d["_id"]: d["scores"]["reasons"] for d in db.backlinks.find()}
    removed = next(h for h in web.seed_hosts() if db.backlinks.find_one({"source_host": h}))
    site = get_resolver().registered_domain(removed)
    members = {h for h in db.pages.distinct("host") if h == site or h.endswith(f".{site}")}
    reached = _reachable(db, members)
    # Hosts that other seeds reach keep some trust; the check below needs hosts it does not.
    assert reached != set(db.pages.distinct("host"))

    edited = store.scrapy("target", web.target, "--remove-seeds", removed)
    assert edited.returncode == 0, edited.stderr
    assert "scored" in edited.stdout
    profile = load_profile(db, web.target)
    assert profile is not None and removed not in profile.seed_hosts
    after = store.trust()

    changed = {i for i in before if after[i] != before[i]}
    sources = {d["_id"]: d["source_host"] for d in db.backlinks.find({}, {"source_host": 1})}
    assert changed, "removing a seed with backlinks must change some scores"
    assert {sources[i] for i in changed} <= reached  # only what the seed reaches ...
    assert all(after[i] < before[i] for i in changed)  # ... and only down
    own = [i for i, host in sources.items() if host in members]
    assert own and all("seed site" in reasons[i] for i in own if before[i] > 0)
    now = {d["_id"]: d["scores"]["reasons"] for d in db.backlinks.find({"_id": {"$in": own}})}
    assert not any("seed site" in r for r in now.values())

    # The next crawl given no seeds crawls the profile's: the removed seed is not among them.
    store.crawl("-a", "max_pages=40")
    crawl = store.latest_crawl()
    assert crawl["seeds"] == list(profile.seeds)
    crawled_hosts = set(stored_pages(db, crawl["_id"], "host"))
    assert set(profile.seed_hosts) & crawled_hosts
    assert load_profile(db, web.target) == profile  # a crawl given nothing adds nothing


def test_profile_edits_are_checked_like_crawl_arguments(tmp_path: Path) -> None:
    env = scrapy_env(BACKLINKS_DATA_DIR=str(tmp_path / "data"))
    cases = [
        (["--add-seeds", "not a host!!"], "--add-seeds: bad seed"),
        (["--add-competitors", "site.test"], "is the target's own site"),
        (["--distrust", "not_a_host!!"], "--distrust: bad distrust host"),
        (["--add-seeds", ","], "needs at least one value"),
        (["--add-seeds", "a.test", "--remove-seeds", "b.test"], "two commands"),
    ]
    for args, message in cases:
        assert_one_line_error(run_scrapy(["target", "site.test", *args], env), 2, message)
    score = run_scrapy(["score", "site.test", "--distrust", "not_a_host!!"], env)
    assert_one_line_error(score, 2, "--distrust: bad distrust host")
    assert not (tmp_path / "data").exists()
    # An edit before any crawl makes the profile (and the store); showing it needs no crawl.
    added = run_scrapy(["target", "site.test", "--add-seeds", "a.test,https://b.test/blog/"], env)
    assert added.returncode == 0, added.stderr
    shown = run_scrapy(["target", "site.test", "--json"], env)
    assert json.loads(shown.stdout)["seeds"] == ["https://a.test/", "https://b.test/blog/"]


def test_profile_updates_are_sets_and_concurrent_ones_keep_each_other(
    mongo_db: tuple[str, Any],
) -> None:
    _, db = mongo_db
    add_to_profile(db, "site.test", seeds=["https://a.test/", "https://a.test/x/"])
    add_to_profile(db, "site.test", seeds=["https://a.test/"], keywords=["roses"])
    threads = [
        threading.Thread(
            target=add_to_profile, args=(db, "site.test"), kwargs={"seeds": [f"https://s{n}.test/"]}
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    profile = load_profile(db, "site.test")
    assert profile is not None and len(profile.seeds) == 2 + 8
    assert profile.keywords == ("roses",)
    # Removing a seed site removes every start page on its host.
    after = edit_profile(db, "site.test", remove={"seeds": ["a.test"]})
    assert "a.test" not in after.seed_hosts and len(after.seeds) == 8


def test_an_older_store_gets_its_profile_from_all_its_crawls(mongo_db: tuple[str, Any]) -> None:
    _, db = mongo_db
    db.crawls.insert_many(
        [
            {"_id": "c1", "target": "site.test", "started_at": 1, "seeds": ["https://a.test/"]},
            {
                "_id": "c2",
                "target": "site.test",
                "started_at": 2,
                "seeds": ["https://b.test/"],
                "competitors": ["rival.test"],
                "distrust": ["farm.test"],
            },
        ]
    )
    profile = load_profile(db, "site.test")
    assert profile is not None
    assert profile.seeds == ("https://a.test/", "https://b.test/")
    assert profile.competitors == ("rival.test",) and profile.distrust == ("farm.test",)
    assert db.targets.count_documents({}) == 1  # made once, then read
    # A domain only ever watched as a competitor is scored from its watcher's trusted seeds.
    rival = scoring_profile(db, "rival.test")
    assert rival.seeds == profile.seeds and rival.competitors == ()
    assert load_profile(db, "unknown.test") is None
