"""The link profile over two crawls of a changing web: new, lost, unverified, broken, reciprocal.

The web and its two crawls are in ``tests/profile_web.py`` (the session fixture ``profile``); the
assertions read the store and the commands' output.
"""

from __future__ import annotations

import json

import pytest

from pipelines.profile import anchor_class, brand_names, link_mix
from tests.conftest import run_scrapy
from tests.profile_web import RIVAL, TARGET, Profile


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
    assert "reciprocal link: counted at 80%" in friend["scores"]["reasons"]
    fan = profile.link("https://fan.test/", f"https://{TARGET}/old-offer")
    assert fan["reciprocal"] is False
    assert "reciprocal link" not in fan["scores"]["reasons"]
    # The stored flag and the score follow one rule, on every link of the store.
    for doc in profile.db.backlinks.find({"scores": {"$exists": True}}):
        assert doc["reciprocal"] is (
            "reciprocal link: counted at 80%" in doc["scores"]["reasons"]
        ), doc


def test_prospects_are_the_sites_linking_only_to_the_competitor(profile: Profile) -> None:
    out = profile.tmp / "prospects.jsonl"
    run = run_scrapy(["prospects", TARGET, "-O", str(out)], profile.env)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["referring_domain"] for r in rows] == ["gap.test"]  # both.test links to us too
    (gap,) = rows
    assert gap["competitors"] == [RIVAL]
    assert [lk["target_url"] for lk in gap["links"]] == [f"https://{RIVAL}/pricing"]
    assert gap["site_trust"] > 0 and 0 <= gap["score"] <= 100
    assert "trust" not in gap  # site trust, never the ambiguous word
    assert "1 prospects" in run.stderr


def test_prospects_without_competitors_is_a_one_line_error(profile: Profile) -> None:
    run = run_scrapy(["prospects", "other.test"], profile.env)
    assert run.returncode == 1
    assert run.stderr.startswith("error: no competitors") and run.stderr.count("\n") == 1


def test_the_link_mix_counts_the_links_not_lost(profile: Profile) -> None:
    mix = link_mix(profile.db, TARGET)
    assert mix["backlinks"] == 6 and mix["referring_domains"] == 6
    assert mix["anchor_class"] == {
        "exact": 1,
        "partial": 1,
        "branded": 1,
        "url": 1,
        "generic": 1,
        "other": 1,
    }
    assert mix["rel"] == {"follow": 6} and mix["position"] == {"content": 6}
    assert ("Greenleaf", 1) in mix["top_anchors"]  # as written on the page


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
