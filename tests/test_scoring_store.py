"""Scoring against a real MongoDB wire server, on documents shaped as a crawl stores them."""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.settings import Settings

from backlink_spider.commands.score import Command
from backlink_spider.urls import get_resolver
from backlink_spider.vocabulary import UPGRADES_QUERY, encode_edges, latest_crawl
from pipelines.normalize import backlink_id
from pipelines.profile import mark_reciprocal
from pipelines.scoring.graph import load_host_graph
from pipelines.scoring.run import ScoringError, score_target
from pipelines.target_profile import DiscoveredSource, add_to_profile, store_discovered
from tests.conftest import run_scrapy, scrapy_env

TARGET = "petalpost.test"
COMPETITOR = "greenthumb-weekly.test"
CRAWL = "crawl-20250101T000000"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
# What every scored backlink holds under scores, as the export and the report read it.
SCORE_KEYS = {"site_trust", "link_trust", "relevance", "quality", "reasons", "scored_at"}

ROSES = (
    "Pruning roses in late winter: cut each stem to an outward-facing bud, remove dead wood and "
    "feed the roses with compost and a mulch of well-rotted manure. Climbing roses and rambling "
    "roses need different pruning. "
)
COMPOST = (
    "A compost heap needs a balance of green and brown material. Turn the compost every few "
    "weeks, keep it damp, and spread the finished compost as a mulch around roses and shrubs. "
)
FOOTBALL = (
    "Premier league football results, transfer rumours and match reports. The striker scored "
    "twice as the home side won the derby; the manager praised the defence. "
)
CASINO = (
    "Best online casino bonus, free spins, payday loans, cheap pills and crypto trading "
    "signals. Win big with our jackpot slots and poker tournaments today. "
)


Link = tuple[str, str, str, list[str]]  # href, anchor, position, rel


class Web:
    """Pages and backlinks as the spider yields them, stored as the MongoDB pipeline writes them."""

    def __init__(self) -> None:
        self.pages: dict[str, dict[str, Any]] = {}
        self.backlinks: list[dict[str, Any]] = []

    def page(
        self,
        url: str,
        text: str,
        links: Sequence[Link] = (),
        *,
        is_target: bool = False,
        is_seed: bool = False,
        hop: int = 0,
        title: str = "",
    ) -> None:
        """links: (href, anchor, position, rel)."""
        resolver = get_resolver()
        host = url.split("/")[2]
        domain = resolver.registered_domain(host)
        out: dict[str, list[int]] = {}
        for href, anchor, position, rel in links:
            link_host = href.split("/")[2]
            link_domain = resolver.registered_domain(link_host)
            if link_domain == domain:
                continue
            nofollow = bool({"nofollow", "ugc", "sponsored"} & set(rel))
            counts = out.setdefault(link_host, [0, 0])
            counts[0] += 1
            counts[1] += 0 if nofollow else 1
            if link_domain in (TARGET, COMPETITOR) and not is_target:
                self.backlinks.append(
                    {
                        "_id": backlink_id(url, href),
                        "source_url": url,
                        "target_url": href,
                        "anchor_text": anchor,
                        "rel": rel,
                        "nofollow": "nofollow" in rel,
                        "link_type": "text",
                        "position": position,
                        "context": anchor,
                        "occurrences": 1,
                        "source_title": title,
                        "source_status": 200,
                        "is_competitor_link": link_domain != TARGET,
                        "matched_domain": link_domain,
                        "via_url": None,
                        "source_host": host,
                        "source_domain": domain,
                        "target_host": link_host,
                        "target_domain": link_domain,
                        "first_seen": NOW,
                        "last_seen": NOW,
                        "seen_count": 1,
                        "first_crawl_id": CRAWL,
                        "last_crawl_id": CRAWL,
                        "lost_at": None,
                    }
                )
        self.pages[url] = {
            "_id": url,
            "url": url,
            "status": 200,
            "title": title,
            "lang": "en",
            "text": text,
            "outlinks_total": len(links) + 5,
            "nofollow": False,
            "rendered": False,
            "is_target": is_target,
            "is_seed": is_seed,
            "hop": hop,
            "host": host,
            "domain": domain,
            "crawl_id": CRAWL,
            "fetched_at": NOW,
            "out_hosts": [{"host": h, "links": n, "followed": f} for h, (n, f) in out.items()],
        }

    def host_edges(self) -> list[dict[str, Any]]:
        """As the end of a crawl writes them: one document per source host."""
        out: dict[str, list[tuple[str, tuple[int, int, int]]]] = defaultdict(list)
        for edge in self.pair_edges():
            counts = (edge["links"], edge["followed"], edge["pages"])
            out[edge["src"]].append((edge["dst"], counts))
        return [
            {"_id": src, "src": src, "out": encode_edges(edges), "edges": len(edges)}
            | {"last_seen": NOW}
            for src, edges in out.items()
        ]

    def pair_edges(self) -> list[dict[str, Any]]:
        """As an older version stored them (one document per host pair), recounted from the
        stored pages as the end of a crawl does."""
        edges: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for page in self.pages.values():
            for out in page["out_hosts"]:
                counts = edges[(page["host"], out["host"])]
                counts[0] += out["links"]
                counts[1] += out["followed"]
                counts[2] += 1
        return [
            {
                "_id": f"{s}>{d}",
                "src": s,
                "dst": d,
                "links": n,
                "followed": f,
                "pages": p,
                "first_seen": NOW,
                "last_seen": NOW,
            }
            for (s, d), (n, f, p) in edges.items()
        ]

    def store(self, db: Any, **crawl: Any) -> None:
        db.pages.insert_many(list(self.pages.values()))
        db.backlinks.insert_many(self.backlinks)
        db.host_edges.insert_many(self.host_edges())
        db.crawls.insert_one(
            {
                "_id": CRAWL,
                "target": TARGET,
                "target_url": f"https://{TARGET}/",
                "seeds": ["https://rosegrowers.test/", "gardenclub.test"],
                "keywords": ["roses", "compost"],
                "competitors": [COMPETITOR],
                "depth": 1,
                "max_pages": 500,
                "status": "finished",
                "started_at": NOW,
                "finished_at": NOW,
                "stats": {},
                **crawl,
            }
        )


def gardening_web() -> Web:
    """A gardening niche around petalpost.test, an off-topic news site and a link farm."""
    web = Web()
    t = f"https://{TARGET}"
    web.page(
        f"{t}/",
        ROSES + COMPOST,
        [("https://blog.compostlove.test/", "friends", "sidebar", [])],
        is_target=True,
        title="Petal Post",
    )
    web.page(f"{t}/roses", ROSES * 2, is_target=True, title="Pruning roses")
    web.page(f"{t}/compost", COMPOST * 2, is_target=True, title="Making compost")

    web.page(
        "https://rosegrowers.test/",
        ROSES,
        [
            ("https://rosegrowers.test/articles/pruning", "pruning", "navigation", []),
            ("https://blog.compostlove.test/", "Compost Love", "content", []),
            ("https://news.test/", "local news", "sidebar", []),
        ],
        is_seed=True,
        title="Rose Growers",
    )
    web.page(
        "https://rosegrowers.test/articles/pruning",
        ROSES * 2,
        [
            ("https://petalpost.test/roses", "rose pruning guide", "content", []),
            ("https://greenthumb-weekly.test/", "Green Thumb Weekly", "content", []),
        ],
        is_seed=True,
        title="Pruning roses, step by step",
    )
    for i in range(4):  # a club whose footer links the target from every page
        web.page(
            f"https://gardenclub.test/p{i}",
            COMPOST + ROSES,
            [
                ("https://petalpost.test/", "Petal Post", "footer", []),
                ("https://rosegrowers.test/", "Rose Growers", "content", []),
            ],
            is_seed=True,
            title=f"Garden club news {i}",
        )
    web.page(
        "https://blog.compostlove.test/2024/heap",
        COMPOST * 3,
        [
            ("https://petalpost.test/compost", "compost tips", "content", []),
            ("https://rosegrowers.test/", "Rose Growers", "content", []),
        ],
        hop=1,
        title="Building a compost heap",
    )
    web.page(
        "https://news.test/sport/derby",
        FOOTBALL * 3,
        [
            ("https://petalpost.test/", "Petal Post", "content", []),
        ],
        hop=1,
        title="Derby day",
    )

    farm = [f"https://farm{i}.test/" for i in range(4)]
    for url in farm:
        links: list[Link] = [(o, "best deals", "content", []) for o in farm if o != url]
        links.append(("https://petalpost.test/", "best garden site", "footer", ["nofollow"]))
        web.page(url, CASINO * 3, links, hop=2, title="Casino bonus")
    return web


@pytest.fixture
def stored(mongo_db: tuple[str, Any]) -> tuple[str, Any]:
    gardening_web().store(mongo_db[1])
    return mongo_db


def scores_by_source(db: Any, domain: str = TARGET) -> dict[str, dict[str, Any]]:
    return {d["source_url"]: d["scores"] for d in db.backlinks.find({"matched_domain": domain})}


def test_every_backlink_scored_and_ranked_sensibly(stored: tuple[str, Any]) -> None:
    _, db = stored
    summary = score_target(db, TARGET)
    assert summary["backlinks"] == 11 and summary["competitor_backlinks"] == 1
    assert summary["converged"] and summary["seeds"] == 2

    for doc in db.backlinks.find({}):
        scores = doc["scores"]
        assert set(scores) == SCORE_KEYS
        assert all(
            0 <= scores[k] <= 100 for k in ("site_trust", "link_trust", "relevance", "quality")
        )
        assert scores["link_trust"] <= scores["site_trust"]
        assert scores["reasons"] and all(isinstance(r, str) for r in scores["reasons"])

    s = scores_by_source(db)
    editorial = s["https://rosegrowers.test/articles/pruning"]
    niche = s["https://blog.compostlove.test/2024/heap"]
    news = s["https://news.test/sport/derby"]
    farm = [s[f"https://farm{i}.test/"] for i in range(4)]
    club = [s[f"https://gardenclub.test/p{i}"] for i in range(4)]

    # Trusted niche links above the link farm, on trust and on quality.
    assert min(editorial["link_trust"], niche["link_trust"]) > 50
    assert all(f["link_trust"] == 0 for f in farm)
    assert min(editorial["quality"], niche["quality"]) > max(f["quality"] for f in farm)
    # On-topic above off-topic.
    assert min(editorial["relevance"], niche["relevance"]) > 50 > 15 > news["relevance"]
    assert niche["quality"] > news["quality"]
    # Best first: the editorial links of the niche lead.
    ranked = sorted(s.items(), key=lambda kv: -kv[1]["quality"])
    assert {url for url, _ in ranked[:2]} == {
        "https://rosegrowers.test/articles/pruning",
        "https://blog.compostlove.test/2024/heap",
    }

    assert "seed site" in editorial["reasons"] and "in-content link" in editorial["reasons"]
    assert any(r.startswith("shares terms: ") and "rose" in r for r in editorial["reasons"])
    assert "anchor on topic: rose, pruning" in editorial["reasons"]
    assert "1 hop from seed rosegrowers.test" in niche["reasons"]
    assert "reciprocal link: counted at 80%" in niche["reasons"]  # petalpost.test links back
    assert "off-topic" in news["reasons"]
    for f in farm:
        assert f["site_trust"] == 0
        assert {
            "nofollow: passes nothing",
            "footer link: counted at 30%",
            "link farm neighbourhood",
            "off-topic",
        } <= set(f["reasons"])
    # The club is a seed: a strong site whose site-wide footer links pass little.
    for c in club:
        assert c["site_trust"] == 100
        assert {"site-wide, on 4 pages: counted at 25%", "footer link: counted at 30%"} <= set(
            c["reasons"]
        )
    assert max(c["link_trust"] for c in club) < editorial["link_trust"] / 4
    # A site counts about once: its k-th link passes 1/k, and says so.
    ranked_club = sorted(club, key=lambda c: -c["link_trust"])
    assert not any("link from this site" in r for r in ranked_club[0]["reasons"])
    for k, c in enumerate(ranked_club[1:], start=2):
        suffix = {2: "nd", 3: "rd"}.get(k, "th")
        assert f"the {k}{suffix} link from this site: counted at {100 // k}%" in c["reasons"]
        assert c["link_trust"] == pytest.approx(ranked_club[0]["link_trust"] / k, abs=0.01)

    competitor = scores_by_source(db, COMPETITOR)["https://rosegrowers.test/articles/pruning"]
    assert competitor["link_trust"] > 50 and competitor["reasons"]


def test_site_trust_and_link_trust_answer_two_questions(mongo_db: tuple[str, Any]) -> None:
    """A sponsored link on a seed site is a strong site passing nothing (an upgrade to ask
    for), not a farm link; a link into a missing page passes nothing either, and says why."""
    _, db = mongo_db
    web = gardening_web()
    sponsored_page = "https://rosegrowers.test/sponsors"
    web.page(
        sponsored_page,
        ROSES,
        [(f"https://{TARGET}/shop", "our sponsor Petal Post", "content", ["sponsored"])],
        is_seed=True,
        title="Our sponsors",
    )
    web.store(db)
    editorial_id = backlink_id(
        "https://rosegrowers.test/articles/pruning", f"https://{TARGET}/roses"
    )
    db.backlinks.update_one({"_id": editorial_id}, {"$set": {"target_status": 404}})
    score_target(db, TARGET)
    s = scores_by_source(db)

    sponsored = s[sponsored_page]
    assert sponsored["site_trust"] == 100 and sponsored["link_trust"] == 0
    assert "sponsored: passes nothing" in sponsored["reasons"]
    assert "seed site" in sponsored["reasons"]
    farm = s["https://farm0.test/"]
    assert farm["site_trust"] == 0 and farm["link_trust"] == 0
    missing = s["https://rosegrowers.test/articles/pruning"]
    assert missing["site_trust"] == 100 and missing["link_trust"] == 0
    assert "links to a missing page (404): passes nothing" in missing["reasons"]

    # Strong sites whose links pass little: one filter away, and only those.
    upgrades = {
        d["source_url"] for d in db.backlinks.find({"matched_domain": TARGET, **UPGRADES_QUERY})
    }
    assert {sponsored_page, "https://rosegrowers.test/articles/pruning"} <= upgrades
    assert {f"https://gardenclub.test/p{i}" for i in range(4)} <= upgrades
    assert not any("farm" in url for url in upgrades)
    assert "https://blog.compostlove.test/2024/heap" not in upgrades  # passes most of its trust
    for url in upgrades:
        assert s[url]["site_trust"] >= 50 and s[url]["link_trust"] < s[url]["site_trust"] / 2


def test_a_common_crawl_rank_is_a_floor_for_hosts_the_seeds_do_not_reach(
    mongo_db: tuple[str, Any],
) -> None:
    _, db = mongo_db
    web = gardening_web()
    web.page(
        "https://bigmag.test/garden/roses",
        ROSES,
        [(f"https://{TARGET}/roses", "rose pruning", "content", [])],
        title="Roses",
    )
    web.store(db)
    graph = "cc-main-2025-domain"
    ranked = [
        DiscoveredSource("bigmag.test", graph, (TARGET,), harmonic_pos=1000, indegree=9),
        DiscoveredSource("farm0.test", graph, (TARGET,), harmonic_pos=10, indegree=2),
    ]
    store_discovered(db, TARGET, graph, ranked)
    score_target(db, TARGET)
    s = scores_by_source(db)
    mag = s["https://bigmag.test/garden/roses"]
    # 50 · (1 - log10(1000) / 8): known to the web, never more than half a seed.
    assert mag["site_trust"] == pytest.approx(31.25)
    assert {"no trust path from seeds", "Common Crawl rank #1,000"} <= set(mag["reasons"])
    assert mag["link_trust"] == pytest.approx(31.25)
    host = db.hosts.find_one({"_id": f"{TARGET}|bigmag.test"})
    assert host["site_trust"] == pytest.approx(31.25) and host["cc_rank"] == 1000
    farm = s["https://farm0.test/"]  # a farm's rank lifts nothing
    assert farm["site_trust"] == 0 and not any("Common Crawl" in r for r in farm["reasons"])
    # Seeds and the hosts they reach keep their own trust when it is higher.
    assert s["https://rosegrowers.test/articles/pruning"]["site_trust"] == 100

    score_target(db, TARGET, settings={"BACKLINKS_SCORE_RANK_WEIGHT": 0})
    assert scores_by_source(db)["https://bigmag.test/garden/roses"]["site_trust"] == 0


def test_host_figures_per_target_and_rerun_is_idempotent(stored: tuple[str, Any]) -> None:
    _, db = stored
    score_target(db, TARGET)
    hosts = {d["host"]: d for d in db.hosts.find({"target": TARGET})}
    seed = hosts["rosegrowers.test"]
    assert seed["_id"] == f"{TARGET}|rosegrowers.test"
    assert seed["seed"] and seed["site_trust"] == 100 and seed["hops"] == 0
    assert hosts["blog.compostlove.test"]["hops"] == 1
    assert hosts["farm0.test"]["site_trust"] == 0 and hosts["farm0.test"]["farm"]
    assert hosts["farm0.test"]["in_degree"] == 3 and hosts["farm0.test"]["out_degree"] == 4
    assert hosts["farm0.test"]["hops"] is None and hosts["farm0.test"]["backlinks"] == 1
    assert hosts["gardenclub.test"]["seed"] and hosts["gardenclub.test"]["site_trust"] > 95
    by_trust = [d["host"] for d in db.hosts.find({"target": TARGET}).sort("site_trust", -1)]
    assert by_trust[0] in {"rosegrowers.test", "gardenclub.test", "blog.compostlove.test"}
    assert set(by_trust[-4:]) == {f"farm{i}.test" for i in range(4)}

    count = db.hosts.count_documents({})
    first = scores_by_source(db)
    score_target(db, TARGET)
    assert db.hosts.count_documents({}) == count
    again = scores_by_source(db)
    for url, scores in first.items():
        assert again[url]["quality"] == scores["quality"]
        assert again[url]["scored_at"] > scores["scored_at"]


def test_distrust_seeds_from_settings_and_profile(mongo_db: tuple[str, Any]) -> None:
    _, db = mongo_db
    web = gardening_web()
    # The news site also links into the farm: distrust flows back to it.
    web.page("https://news.test/ads", CASINO, [("https://farm0.test/", "casino", "sidebar", [])])
    web.store(db)
    score_target(db, TARGET)
    plain = {d["host"]: d for d in db.hosts.find({"target": TARGET})}
    add_to_profile(db, TARGET, distrust=["farm1.test"])
    score_target(db, TARGET, settings={"BACKLINKS_DISTRUST_SEEDS": ["farm0.test"]})
    hosts = {d["host"]: d for d in db.hosts.find({"target": TARGET})}
    assert hosts["farm0.test"]["distrust_seed"] and hosts["farm1.test"]["distrust_seed"]
    assert not hosts["farm2.test"]["distrust_seed"]
    assert hosts["farm2.test"]["site_distrust"] > 50 and hosts["farm2.test"]["farm"]
    assert hosts["news.test"]["site_distrust"] > 0 == plain["news.test"]["site_distrust"]
    assert hosts["news.test"]["site_trust"] < plain["news.test"]["site_trust"]
    assert (
        hosts["rosegrowers.test"]["site_trust"] > 95
        and hosts["blog.compostlove.test"]["site_trust"]
        == (plain["blog.compostlove.test"]["site_trust"])
    )
    news = scores_by_source(db)["https://news.test/sport/derby"]
    assert "close to distrusted sites" in news["reasons"] or (
        "link farm neighbourhood" in news["reasons"]
    )


def test_unknown_target_and_bad_settings_are_one_line_errors(stored: tuple[str, Any]) -> None:
    _, db = stored
    with pytest.raises(ScoringError, match=r"^no crawl or backlinks of other\.test stored"):
        score_target(db, "other.test")
    with pytest.raises(ScoringError, match="BACKLINKS_SCORE_DAMPING"):
        score_target(db, TARGET, settings={"BACKLINKS_SCORE_DAMPING": 1.5})
    # A competitor is scored through the crawl that watched it.
    summary = score_target(db, COMPETITOR)
    assert summary["backlinks"] == 1 and summary["seeds"] == 2


def test_score_on_close(stored: tuple[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    from backlink_spider.finisher import ScoreOnClose

    _, db = stored
    store = SimpleNamespace(db=db)  # what the end of the crawl holds: a Store with .db
    with pytest.raises(NotConfigured):
        ScoreOnClose.from_crawler(get_crawler(settings_dict={"BACKLINKS_SCORE_ON_CLOSE": False}))
    assert db.backlinks.count_documents({"scores": {"$exists": True}}) == 0
    crawler = get_crawler()
    step = ScoreOnClose.from_crawler(crawler)
    summary = step(store, TARGET)  # type: ignore[arg-type]
    assert summary is not None and summary["backlinks"] == 11
    assert db.backlinks.count_documents({"scores": {"$exists": True}}) == 12
    assert crawler.stats.get_value("backlinks/score/scored") == 12
    # Never raises at the end of a crawl: logged instead.
    assert step(store, "unknown.test") is None  # type: ignore[arg-type]
    assert "Scoring unknown.test skipped: no crawl or backlinks" in caplog.text


def assert_one_line_error(run: Any, code: int, needle: str) -> None:
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], run.stderr


def test_score_command(tmp_path: Path, mongo_server: Any, stored: tuple[str, Any]) -> None:
    name, db = stored
    env = scrapy_env(MONGO_URI=mongo_server.uri, MONGO_DATABASE=name)
    run = run_scrapy(["score", "https://www.petalpost.test/"], env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"scored 11 backlinks of {TARGET} and 1 competitor links: ")
    heading, *table = run.stdout.strip().splitlines()[1:]
    assert heading.split()[:2] == [TARGET, "crawl"]  # then the target's summary table
    words = " ".join(" ".join(table).split())
    live = db.backlinks.count_documents({"matched_domain": TARGET, "lost_at": None})
    assert f"backlinks {live:,} referring domains" in words and "best links" in words
    assert db.backlinks.count_documents({"scores.quality": {"$gte": 0}}) == 12

    run = run_scrapy(["score", "unknown.test"], env)
    assert_one_line_error(run, 1, "no crawl or backlinks of unknown.test stored")
    run = run_scrapy(["score", "site.test"], scrapy_env(BACKLINKS_DATA_DIR=str(tmp_path / "e")))
    assert_one_line_error(run, 1, "nothing stored yet")
    assert not (tmp_path / "e").exists()


def test_score_command_bad_target(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Checked before anything else; in-process, as a third Scrapy start would cost seconds.
    command = Command()
    command.settings = Settings({"BACKLINKS_DATA_DIR": str(tmp_path / "data")})
    with pytest.raises(SystemExit) as exit_info:
        command.run(["not a url!!"], argparse.Namespace(distrust=None))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad target 'not a url!!'") and err.count("\n") == 1
    assert not (tmp_path / "data").exists()


def test_stored_reciprocal_flag_and_score_agree_per_site(mongo_db: tuple[str, Any]) -> None:
    # Where the two rules used to disagree: the target links back to another host of the
    # source's site (www.news.test, while the backlink comes from news.test), and from another
    # host of its own site (shop.petalpost.test links www.farm1.test; farm1.test links in).
    # Host by host neither is reciprocal; site by site (registered domain) both are.
    _, db = mongo_db
    web = gardening_web()
    web.page(
        f"https://{TARGET}/press",
        ROSES,
        [("https://www.news.test/", "news", "content", [])],
        is_target=True,
        title="Press",
    )
    web.page(
        f"https://shop.{TARGET}/",
        COMPOST,
        [("https://www.farm1.test/", "x", "footer", [])],
        is_target=True,
        title="Shop",
    )
    web.store(db)
    derby, farm1 = "https://news.test/sport/derby", "https://farm1.test/"

    def flags() -> dict[str, bool]:
        return {
            d["source_url"]: d["reciprocal"]
            for d in db.backlinks.find({}, {"source_url": 1, "reciprocal": 1})
        }

    # The end of a crawl marks the links first, then scores them: the score keeps the flags.
    mark_reciprocal(db, [TARGET, COMPETITOR])
    marked = flags()
    assert marked[derby] is True and marked[farm1] is True
    assert marked["https://blog.compostlove.test/2024/heap"] is True  # links back, same host
    assert marked["https://farm0.test/"] is False and marked["https://gardenclub.test/p0"] is False
    score_target(db, TARGET)
    assert flags() == marked
    for doc in db.backlinks.find({}):
        reasons = doc["scores"]["reasons"]
        assert doc["reciprocal"] is ("reciprocal link: counted at 80%" in reasons), doc
    # The factor is applied: an in-content link, the only one of its site, keeps 0.8 of its
    # site's trust.
    news = db.hosts.find_one({"_id": f"{TARGET}|news.test"})
    s = scores_by_source(db)
    assert news["site_trust"] > 0
    assert s[derby]["link_trust"] == pytest.approx(news["site_trust"] * 0.8, abs=0.01)

    # Scoring alone (a store never marked) writes the same flags.
    db.backlinks.update_many({}, {"$unset": {"reciprocal": ""}})
    score_target(db, TARGET)
    assert flags() == marked


def test_an_old_store_gets_the_new_field_names_at_the_next_score(stored: tuple[str, Any]) -> None:
    _, db = stored
    old_scores = {"trust": 12.0, "relevance": 1.0, "quality": 3.0, "reasons": [], "scored_at": NOW}
    db.backlinks.update_many({}, {"$set": {"scores": old_scores}})
    db.hosts.insert_one(
        {
            "_id": f"{TARGET}|rosegrowers.test",
            "target": TARGET,
            "host": "rosegrowers.test",
            "trust": 7.0,
            "trust_raw": 0.1,
            "distrust": 0.0,
            "distrust_raw": 0.0,
            "scored_at": NOW,
        }
    )
    score_target(db, TARGET)
    for doc in db.backlinks.find({}):
        assert set(doc["scores"]) == SCORE_KEYS
    hosts = list(db.hosts.find({"target": TARGET}))
    assert hosts and all("site_trust" in h and "site_distrust" in h for h in hosts)
    assert not any({"trust", "trust_raw", "distrust", "distrust_raw"} & set(h) for h in hosts)
    assert next(h for h in hosts if h["host"] == "rosegrowers.test")["site_trust"] == 100


def test_the_latest_crawl_is_the_targets_and_scoring_reads_the_profile(
    stored: tuple[str, Any],
) -> None:
    _, db = stored
    later = datetime(2025, 2, 1, tzinfo=UTC)
    db.crawls.insert_one(
        {
            "_id": "crawl-other",
            "target": "other.test",
            "started_at": later,
            "competitors": [TARGET, COMPETITOR],
        }
    )
    # The target's own crawl wins over a newer crawl that only watched it...
    assert latest_crawl(db, TARGET)["_id"] == CRAWL
    # ... a domain only ever watched gets the newest crawl that watched it ...
    assert latest_crawl(db, COMPETITOR)["_id"] == "crawl-other"
    assert latest_crawl(db, "other.test")["_id"] == "crawl-other"
    assert latest_crawl(db, "unknown.test") is None
    # ... while the scorer reads the target's profile: made once from all its stored crawls,
    # added to by later ones, never narrowed by a newer crawl given fewer seeds.
    before = score_target(db, TARGET)["profile"]
    assert before["seeds"] and before["competitors"] == [COMPETITOR]
    trust = {h["host"]: h["site_trust"] for h in db.hosts.find({"target": TARGET})}
    db.crawls.insert_one(
        {
            "_id": "crawl-newer",
            "target": TARGET,
            "started_at": later,
            "competitors": [],
            "seeds": ["rosegrowers.test"],
        }
    )
    assert latest_crawl(db, TARGET)["_id"] == "crawl-newer"
    assert score_target(db, TARGET)["profile"] == before
    assert {h["host"]: h["site_trust"] for h in db.hosts.find({"target": TARGET})} == trust
    # A domain only ever watched as a competitor: the watching target's trusted seeds.
    assert score_target(db, COMPETITOR)["profile"]["seeds"] == before["seeds"]


def test_an_older_stores_per_pair_host_edges_give_the_same_graph(mongo_db: tuple[str, Any]) -> None:
    _, db = mongo_db
    web = gardening_web()
    db.host_edges.insert_many(web.host_edges())
    db.old_edges.insert_many(web.pair_edges())

    class Old:  # the same database, its host_edges in the older shape
        host_edges = db.old_edges

    new, old = load_host_graph(db), load_host_graph(Old())
    assert new.hosts == old.hosts and new.edges == old.edges > 10
    assert (new.links != old.links).nnz == 0 and (new.followed != old.followed).nnz == 0
