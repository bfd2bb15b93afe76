"""The link profile over two crawls of a changing web: new, lost, unverified, broken, reciprocal.

A small web is crawled, then served changed (``WebServer.swap``) and crawled again, as a site
owner's weekly crawl would see it; the assertions read the store and the commands' output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backlink_spider.demoweb.model import Response, Web
from backlink_spider.demoweb.server import WebServer
from pipelines.profile import anchor_class, brand_names, link_mix
from tests.conftest import FAST, Run, run_scrapy, scrapy_env

TARGET = "greenleaf.test"
RIVAL = "rival.test"


def _page(title: str, *links: tuple[str, str], text: str = "") -> str:
    body = "".join(
        f'<p>Read about it: <a href="{href}">{anchor}</a>.</p>' for href, anchor in links
    )
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><main>"
        f"<h1>{title}</h1><p>{text or 'Compost, pruning and roses for the allotment.'}</p>"
        f"{body}</main></body></html>"
    )


def build_web(changed: bool) -> Web:
    """Version 1, or version 2 (changed): a link removed, one added, a page down, a 404."""
    web = Web("profile-v2" if changed else "profile-v1")
    web.target, web.competitors, web.seeds = TARGET, [RIVAL], ["hub.test"]
    web.keywords = ["compost", "pruning"]
    target = web.site(TARGET)
    target.page("/", _page("Greenleaf", ("https://friend.test/", "our friends"),
                           ("/guides/compost", "Compost guide")))  # fmt: skip
    target.page("/guides/compost", _page("Compost guide"))
    target.page("/guides/pruning", _page("Pruning guide"))
    if changed:  # the orphan page is gone: the link to it is broken
        target.page("/old-offer", Response(status=404, body="<html><body>gone</body></html>"))
    else:
        target.page("/old-offer", _page("Spring offer"))
    web.site(RIVAL).page("/", _page("Rival"))
    web.site(RIVAL).page("/pricing", _page("Rival pricing"))
    web.site("hub.test").page("/", _page(
        "Garden hub",
        *((f"https://{h}/", h) for h in ("friend.test", "blog.test", "down.test", "fan.test",
                                         "gap.test", "both.test", "slow.test")),
    ))  # fmt: skip
    web.site("friend.test").page("/", _page("Friends", (f"https://{TARGET}/", "Greenleaf")))
    post = (
        [(f"https://{TARGET}/guides/pruning", "pruning")]
        if changed
        else [(f"https://{TARGET}/guides/compost", "compost")]
    )
    web.site("blog.test").page("/", _page("Blog", *post))
    if changed:
        web.site("down.test").page("/", Response(status=500, body="<html>oops</html>"))
    else:
        web.site("down.test").page("/", _page("Down", (f"https://{TARGET}/", "click here")))
    slow = _page("Slow", (f"https://{TARGET}/guides/compost", "compost guide"))
    # Version 2 answers after the second crawl's download timeout: a network failure.
    web.site("slow.test").page("/", Response(body=slow, delay=3) if changed else slow)
    web.site("fan.test").page("/", _page("Fan", (f"https://{TARGET}/old-offer", "the offer")))
    web.site("gap.test").page("/", _page("Gap", (f"https://{RIVAL}/pricing", "rival prices")))
    web.site("both.test").page("/", _page(
        "Both", (f"https://{RIVAL}/", "rival"), (f"https://{TARGET}/", "greenleaf.test"),
    ))  # fmt: skip
    return web


@dataclass
class Profile:
    db: Any
    env: dict[str, str]
    tmp: Path
    server: WebServer
    second: Run

    def export(self, *args: str) -> list[dict[str, Any]]:
        out = self.tmp / "export.jsonl"
        run = run_scrapy(["export", TARGET, "-O", str(out), *args], self.env)
        assert run.returncode == 0, run.stderr
        return run.feed(out)

    def link(self, source: str, target: str) -> dict[str, Any]:
        doc = self.db.backlinks.find_one({"source_url": source, "target_url": target})
        assert doc is not None, (source, target)
        return doc


def crawl(web: Web, env: dict[str, str], out: Path, *extra: str) -> Run:
    run = run_scrapy(
        ["crawl", "niche", "-a", f"target={TARGET}", "-a", "seeds=hub.test",
         "-a", f"competitors={RIVAL}", "-a", "keywords=compost,pruning", "-O", str(out), *FAST,
         *extra],
        env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def profile(mongo_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profile]:
    tmp = tmp_path_factory.mktemp("profile")
    name = "profile_test"
    client = mongo_server.client()
    client.drop_database(name)
    with WebServer(build_web(changed=False)) as server:
        env = scrapy_env(server.proxy_url, MONGO_URI=mongo_server.uri, MONGO_DATABASE=name,
                         BACKLINKS_DATA_DIR=str(tmp / "data"))  # fmt: skip
        crawl(server.web, env, tmp / "first.jsonl")
        server.swap(build_web(changed=True))
        server.reset_log()
        second = crawl(server.web, env, tmp / "second.jsonl", "-s", "DOWNLOAD_TIMEOUT=1")
        yield Profile(client[name], env, tmp, server, second)
    client.drop_database(name)
    client.close()


def test_a_removed_link_is_lost_and_an_added_one_new(profile: Profile) -> None:
    removed = profile.link("https://blog.test/", f"https://{TARGET}/guides/compost")
    added = profile.link("https://blog.test/", f"https://{TARGET}/guides/pruning")
    assert removed["lost_at"] is not None
    assert added["lost_at"] is None and added["seen_count"] == 1
    lost = {(r["source_url"], r["target_url"]) for r in profile.export("--status", "lost")}
    assert lost == {("https://blog.test/", f"https://{TARGET}/guides/compost")}
    new = {(r["source_url"], r["target_url"]) for r in profile.export("--status", "new")}
    assert new == {("https://blog.test/", f"https://{TARGET}/guides/pruning")}
    live = {r["source_url"] for r in profile.export("--status", "live")}
    assert {"https://friend.test/", "https://blog.test/", "https://fan.test/"} <= live
    assert "https://down.test/" not in live


def test_a_link_on_a_page_that_failed_is_unverified_not_lost(profile: Profile) -> None:
    for source, target in [
        ("https://down.test/", f"https://{TARGET}/"),  # HTTP 500
        ("https://slow.test/", f"https://{TARGET}/guides/compost"),
    ]:  # timeout
        doc = profile.link(source, target)
        assert doc["lost_at"] is None and doc["unverified_at"] is not None
    rows = profile.export("--status", "unverified")
    assert sorted((r["source_url"], r["status"]) for r in rows) == [
        ("https://down.test/", "unverified"),
        ("https://slow.test/", "unverified"),
    ]
    stats = profile.db.crawls.find_one(sort=[("started_at", -1)])["stats"]
    assert stats["backlinks/mongo/unverified"] == 2 and stats["backlinks/mongo/lost"] == 1


def test_a_link_into_a_dead_page_is_flagged_broken(profile: Profile) -> None:
    doc = profile.link("https://fan.test/", f"https://{TARGET}/old-offer")
    assert doc["target_status"] == 404
    rows = profile.export("--broken")
    assert [(r["source_url"], r["target_status"]) for r in rows] == [("https://fan.test/", 404)]
    # Asked once, with HEAD, although two pages' links and a crawl's worth of requests passed.
    assert profile.server.count(f"https://{TARGET}/old-offer", method="HEAD") == 1
    assert profile.server.count(f"https://{TARGET}/old-offer", method="GET") == 0
    live = profile.link("https://friend.test/", f"https://{TARGET}/")
    assert live["target_status"] == 200


def test_reciprocal_is_true_where_the_target_links_back(profile: Profile) -> None:
    friend = profile.link("https://friend.test/", f"https://{TARGET}/")
    assert friend["reciprocal"] is True
    assert "reciprocal link" in friend["scores"]["reasons"]
    fan = profile.link("https://fan.test/", f"https://{TARGET}/old-offer")
    assert fan["reciprocal"] is False


def test_prospects_are_the_sites_linking_only_to_the_competitor(profile: Profile) -> None:
    out = profile.tmp / "prospects.jsonl"
    run = run_scrapy(["prospects", TARGET, "-O", str(out)], profile.env)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["referring_domain"] for r in rows] == ["gap.test"]  # both.test links to us too
    (gap,) = rows
    assert gap["competitors"] == [RIVAL]
    assert [lk["target_url"] for lk in gap["links"]] == [f"https://{RIVAL}/pricing"]
    assert gap["trust"] > 0 and 0 <= gap["score"] <= 100
    assert "1 prospects" in run.stderr


def test_prospects_without_competitors_is_a_one_line_error(profile: Profile) -> None:
    run = run_scrapy(["prospects", "other.test"], profile.env)
    assert run.returncode == 1
    assert run.stderr.startswith("error: no competitors") and run.stderr.count("\n") == 1


def test_the_link_mix_counts_the_links_not_lost(profile: Profile) -> None:
    mix = link_mix(profile.db, TARGET)
    assert mix["backlinks"] == 6 and mix["referring_domains"] == 6
    assert mix["anchor_class"] == {
        "exact": 1, "partial": 1, "branded": 1, "url": 1, "generic": 1, "other": 1,
    }  # fmt: skip
    assert mix["rel"] == {"follow": 6} and mix["position"] == {"content": 6}
    assert ("greenleaf", 1) in mix["top_anchors"]


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        ("compost", "exact"),
        ("  Compost ", "exact"),
        ("the best compost tips", "partial"),
        ("Greenleaf", "branded"),
        ("Green Leaf gardens", "branded"),
        ("greenleaf.test", "url"),
        ("https://www.greenleaf.test/x", "url"),
        ("www.greenleaf.test", "url"),
        ("click here", "generic"),
        ("Read more.", "generic"),
        ("", "empty"),
        ("a lovely shop", "other"),
    ],
)
def test_anchor_classes(anchor: str, expected: str) -> None:
    assert anchor_class(anchor, TARGET, ["compost", "pruning"]) == expected


def test_brand_names() -> None:
    assert brand_names("green-leaf.co.uk") == ["greenleaf"]
    assert brand_names("ab.com") == []
