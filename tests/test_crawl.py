"""The niche crawl end to end: ``scrapy crawl niche`` over the synthetic web, into a real store.

The web declares what a correct crawl finds (``web.expected``) next to the HTML that causes it;
these tests crawl it as a user would and compare the feed, the store and the server's request log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.urls import canonical_url, try_canonical_url, url_host
from backlink_spider.vocabulary import edges_of
from pipelines.normalize import backlink_id
from tests.conftest import FAST, Run, run_scrapy, scrapy_env
from tests.webs import test_web as build_test_web


@dataclass
class Crawl:
    web: Web
    server: WebServer
    run: Run
    feed: list[dict[str, Any]]
    db: Any
    env: dict[str, str]
    tmp: Path
    fetched: list[str]


def crawl(web: Web, server: WebServer, env: dict[str, str], out: Path, *extra: str) -> Run:
    return run_scrapy(
        [
            "crawl",
            "niche",
            *web.niche_args(competitors=True),
            "-O",
            str(out),
            *FAST,
            *extra,
        ],
        env,
    )


@pytest.fixture(scope="module")
def first_crawl(mongo_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    web = build_test_web()
    tmp = tmp_path_factory.mktemp("crawl")
    name = f"crawl_{os.getpid()}"
    client = mongo_server.client()
    with WebServer(web) as server:
        env = scrapy_env(
            server.proxy_url,
            MONGO_URI=mongo_server.uri,
            MONGO_DATABASE=name,
            BACKLINKS_DATA_DIR=str(tmp / "data"),
        )
        run = crawl(web, server, env, tmp / "first.jsonl")
        assert run.returncode == 0, run.stderr[-3000:]
        yield Crawl(
            web,
            server,
            run,
            run.feed(tmp / "first.jsonl"),
            client[name],
            env,
            tmp,
            server.fetched_urls(),
        )
    client.drop_database(name)
    client.close()


def key(source: str, target: str) -> tuple[str | None, str | None]:
    return try_canonical_url(source), try_canonical_url(target)


def by_pair(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["source_url"], r["target_url"]): r for r in rows}


def test_every_declared_backlink_is_found_with_its_attributes(first_crawl: Crawl) -> None:
    found = by_pair(first_crawl.feed)
    expected = [e for e in first_crawl.web.expected if e.min_depth <= 1]
    assert len(expected) >= 30
    assert sum(e.link_type == "redirect" for e in expected) >= 4
    missing, wrong = [], []
    for e in expected:
        row = found.get(key(e.source_url, e.target_url))
        if row is None:
            missing.append(f"{e.source_url} -> {e.target_url} ({e.note})")
            continue
        got = (
            row["anchor_text"],
            tuple(row["rel"]),
            row["position"],
            row["link_type"],
            row["nofollow"],
            row["occurrences"],
            row["via_url"],
        )
        want = (
            e.anchor,
            e.rel,
            e.position,
            e.link_type,
            e.nofollow,
            e.occurrences,
            e.via_url and canonical_url(e.via_url),
        )
        if got != want:
            wrong.append(f"{e.source_url} -> {e.target_url}: got {got}, want {want} ({e.note})")
    assert not missing, "\n".join(missing)
    assert not wrong, "\n".join(wrong)


def test_nothing_is_reported_that_must_not_be(first_crawl: Crawl) -> None:
    found = by_pair(first_crawl.feed)
    for absent in first_crawl.web.expected_absent:
        assert key(absent.source_url, absent.target_url) not in found, absent.note
    deeper = [e for e in first_crawl.web.expected if e.min_depth > 1]
    assert deeper, "the web should have a site beyond depth 1"
    for e in deeper:
        assert key(e.source_url, e.target_url) not in found, "crawled past depth 1"
    declared = {key(e.source_url, e.target_url) for e in first_crawl.web.expected}
    extra = [pair for pair in found if pair not in declared]
    assert not extra, f"backlinks the web does not declare: {extra}"


def test_urls_are_canonical_and_domains_resolved(first_crawl: Crawl) -> None:
    for row in first_crawl.feed:
        for field in ("source_url", "target_url"):
            url = row[field]
            assert url == canonical_url(url)
            assert "utm_" not in url and "#" not in url and ":443/" not in url
        assert row["matched_domain"] in {first_crawl.web.target, *first_crawl.web.competitors}
        assert row["target_domain"] == row["matched_domain"]
        assert row["is_competitor_link"] == (row["matched_domain"] != first_crawl.web.target)
        assert row["source_domain"] != row["matched_domain"]
        assert row["crawl_id"] and row["discovered_at"]


def test_the_store_holds_exactly_the_feed(first_crawl: Crawl) -> None:
    db = first_crawl.db
    assert db.backlinks.count_documents({}) == len(first_crawl.feed)
    for row in first_crawl.feed:
        doc = db.backlinks.find_one({"_id": backlink_id(row["source_url"], row["target_url"])})
        assert doc is not None
        for field in ("anchor_text", "rel", "position", "nofollow", "context", "source_domain"):
            assert doc[field] == row[field]
        assert doc["seen_count"] == 1 and doc["lost_at"] is None
        assert doc["first_seen"] == doc["last_seen"]
    crawl_doc = db.crawls.find_one()
    assert crawl_doc["status"] == "finished" and crawl_doc["target"] == first_crawl.web.target
    assert crawl_doc["stats"]["backlinks/spider/backlinks"] >= len(first_crawl.feed)
    assert db.pages.count_documents({"is_target": True}) >= 1  # the target's own pages
    linkers = {
        src
        for doc in db.host_edges.find()
        for src, dst, *_ in edges_of(doc)
        if dst == first_crawl.web.target
    }
    assert len(linkers) >= 3


def test_every_stored_backlink_is_scored_and_the_niche_ranks_above_the_farm(
    first_crawl: Crawl,
) -> None:
    db = first_crawl.db
    docs = list(db.backlinks.find())
    assert docs and all(
        {"link_trust", "relevance", "quality", "reasons", "scored_at"} <= set(d.get("scores", {}))
        for d in docs
    )
    seeds = set(first_crawl.web.seed_hosts())
    editorial = [
        d["scores"]["quality"]
        for d in docs
        if d["source_host"] in seeds and d["position"] == "content" and not d["rel"]
    ]
    farm = [d["scores"]["quality"] for d in docs if "spin-palace" in d["source_host"]]
    assert editorial and farm
    assert min(editorial) > max(farm)
    assert db.crawls.find_one()["stats"]["backlinks/score/scored"] == len(docs)


def test_robots_disallowed_pages_are_never_fetched(first_crawl: Crawl) -> None:
    disallowed = [a for a in first_crawl.web.expected_absent if "robots" in a.note.lower()]
    assert disallowed
    for absent in disallowed:
        assert canonical_url(absent.source_url) not in map(canonical_url, first_crawl.fetched)


def test_spider_traps_do_not_eat_the_budget(first_crawl: Crawl) -> None:
    assert first_crawl.web.traps
    for prefix in first_crawl.web.traps:
        hits = [u for u in first_crawl.fetched if u.startswith(prefix)]
        # An endless calendar stops on evidence: its empty days repeat each other's text (digits
        # blanked), and so do its months after a year, so neither shape is ever proven and each
        # costs its BACKLINKS_TRAP_PROBATION_PAGES (20); the search stops at its query variants.
        assert 0 < len(hits) <= 50, (prefix, len(hits))
    stats = first_crawl.db.crawls.find_one()["stats"]
    assert any(k.startswith("backlinks/spider/skipped/trap") for k in stats)
    assert stats["backlinks/spider/skipped/trap_repeated_content"] > 0


NUMERIC_CAP = 36  # pages per host: fewer than the sites have, more than 25 of one URL shape


def test_sites_with_numeric_urls_are_crawled_whole(first_crawl: Crawl) -> None:
    """/post/3117/, ?p=215 and /product/4034.html are ordinary sites: every page is fetched
    (the per-host cap, 200, is above their size), and so every backlink on them is found."""
    fetched = {canonical_url(u) for u in first_crawl.fetched}
    sites = first_crawl.web.notes["numeric_sites"]
    assert len(sites) == 3
    for host, urls in sites.items():
        assert len(urls) > NUMERIC_CAP
        missing = [u for u in urls if canonical_url(u) not in fetched]
        assert not missing, (host, missing)
    found = {r["source_url"] for r in first_crawl.feed}
    deep = [e.source_url for e in first_crawl.web.expected if url_host(e.source_url) in sites]
    assert len(deep) >= 3 * 7 and set(map(canonical_url, deep)) <= found


def test_sites_with_numeric_urls_are_crawled_to_the_per_host_cap(first_crawl: Crawl) -> None:
    web = first_crawl.web
    sites = web.notes["numeric_sites"]
    name = f"numeric_{os.getpid()}"
    with WebServer(web) as server:
        env = {
            **first_crawl.env,
            "http_proxy": server.proxy_url,
            "https_proxy": server.proxy_url,
            "MONGO_DATABASE": name,
        }
        args = ["-a", f"target={web.target}", "-a", f"seeds={','.join(sites)}", "-a", "depth=0"]
        cap = ["-s", f"BACKLINKS_MAX_PAGES_PER_HOST={NUMERIC_CAP}"]
        run = run_scrapy(["crawl", "niche", *args, *cap, *FAST], env)
        fetched = [u for u in server.fetched_urls() if not u.endswith("/robots.txt")]
    db = first_crawl.db.client[name]
    try:
        assert run.returncode == 0, run.stderr[-3000:]
        assert {host: sum(url_host(u) == host for u in fetched) for host in sites} == dict.fromkeys(
            sites, NUMERIC_CAP
        )
        stats = db.crawls.find_one()["stats"]
        assert stats["backlinks/spider/skipped/host_cap"] > 0
        for guard in ("url_pattern", "repeated_content", "query_variants"):
            assert f"backlinks/spider/skipped/trap_{guard}" not in stats, guard
    finally:
        first_crawl.db.client.drop_database(name)


def test_non_html_is_skipped_before_its_body(first_crawl: Crawl) -> None:
    stats = first_crawl.db.crawls.find_one()["stats"]
    assert stats.get("backlinks/spider/skipped/not_html_extension", 0) >= 1  # .pdf, .jpg
    assert stats.get("backlinks/spider/not_html", 0) >= 1  # /download?file=…: by its header
    # The 3 MB binaries were never downloaded: the whole crawl received less than one.
    assert stats["downloader/response_bytes"] < 2_000_000


def test_a_second_crawl_updates_instead_of_duplicating(first_crawl: Crawl) -> None:
    db = first_crawl.db
    before = {d["_id"]: d for d in db.backlinks.find()}
    out = first_crawl.tmp / "second.jsonl"
    with WebServer(first_crawl.web) as server:
        env = {**first_crawl.env, "http_proxy": server.proxy_url, "https_proxy": server.proxy_url}
        run = crawl(first_crawl.web, server, env, out)
    assert run.returncode == 0, run.stderr[-3000:]
    after = {d["_id"]: d for d in db.backlinks.find()}
    assert after.keys() == before.keys()
    for _id, doc in after.items():
        assert doc["last_seen"] > before[_id]["last_seen"]
        assert doc["first_seen"] == before[_id]["first_seen"]
        assert doc["seen_count"] == 2
        assert doc["lost_at"] is None
    assert db.crawls.count_documents({}) == 2
    first, second = db.crawls.find().sort("started_at", 1)
    assert first["stats"]["backlinks/mongo/new"] == len(after)
    assert second["stats"]["backlinks/mongo/new"] == 0
    assert second["stats"]["backlinks/mongo/lost"] == 0


def test_export_gives_the_stored_links_with_the_feed_field_names(first_crawl: Crawl) -> None:
    out = first_crawl.tmp / "stored.jsonl"
    run = run_scrapy(["export", first_crawl.web.target, "-O", str(out)], first_crawl.env)
    assert run.returncode == 0, run.stderr
    rows = run.feed(out)
    ours = [r for r in first_crawl.feed if not r["is_competitor_link"]]
    assert {(r["source_url"], r["target_url"]) for r in rows} == {
        (r["source_url"], r["target_url"]) for r in ours
    }
    assert set(first_crawl.feed[0]) <= set(rows[0])
    assert {"first_seen", "last_seen", "seen_count"} <= set(rows[0])


def test_links_through_redirects_are_backlinks_of_the_page_with_the_href(
    first_crawl: Crawl,
) -> None:
    rows = [r for r in first_crawl.feed if r["link_type"] == "redirect"]
    hops = {r["via_url"] for r in rows}
    # A same-host /out?to= 302, a meta-refresh interstitial, a short link on another host and a
    # click tracker past the depth; each once per page that carries it.
    assert any("/out?to=" in hop for hop in hops) and any("/leaving?" in hop for hop in hops)
    assert len(rows) == len({(r["source_url"], r["via_url"]) for r in rows})
    sources = {r["source_url"] for r in rows}
    assert not sources & hops, "a hop is not a page that links the target"
    for row in rows:
        assert row["target_domain"] == first_crawl.web.target
        assert canonical_url(row["via_url"]) == row["via_url"] != row["target_url"]
    stats = first_crawl.db.crawls.find_one()["stats"]
    assert stats["backlinks/spider/redirect_backlinks"] == len(rows)
    doc = first_crawl.db.backlinks.find_one({"link_type": "redirect"})
    assert doc["via_url"] and doc["scores"]["reasons"]
