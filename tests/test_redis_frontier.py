"""Several workers, one crawl: ``BACKLINKS_REDIS_URL`` shares the frontier through Redis.

Two ``scrapy crawl niche`` processes crawl the synthetic test web for one target, sharing a real
``redis-server`` and one MongoDB database; a one-worker crawl of the same web is the reference.
The web answers every request after a short delay, as a real origin does, so that both workers
have work to take.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.vocabulary import edges_of
from tests.conftest import FAST, ROOT, MongoServer, free_port, run_scrapy, scrapy_env
from tests.webs import test_web as build_test_web

LATENCY = 0.05  # seconds the synthetic web takes to answer each request: long enough that
# the crawl outlasts the second worker's start-up (the Playwright driver starts with the engine)
# Fields that say when, or in which crawl, a link was seen: they differ between two runs.
RUN_FIELDS = {
    "first_seen",
    "last_seen",
    "discovered_at",
    "first_crawl_id",
    "last_crawl_id",
    "crawl_id",
}


@dataclass
class Crawls:
    web: Web
    server: WebServer
    reference: Any  # database of the one-worker crawl
    shared: Any  # database of the two-worker crawl
    reference_log: list[tuple[str, str, int]]
    shared_log: list[tuple[str, str, int]]
    env: dict[str, str]
    redis: redis.Redis


def crawl_argv(web: Web) -> list[str]:
    return [
        "crawl",
        "niche",
        *web.niche_args(competitors=True),
        *FAST,
    ]


def two_workers(web: Web, env: dict[str, str], logs: Path) -> None:
    """Both at once; their logs go to files (a full pipe would stall one, and with it both)."""
    argv = ["scrapy", *crawl_argv(web)]
    workers = []
    for n in range(2):
        with (logs / f"worker-{n}.log").open("w") as log:
            workers.append(
                subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
            )
    for n, proc in enumerate(workers):
        proc.wait(timeout=180)
        assert proc.returncode == 0, (logs / f"worker-{n}.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def crawls(
    mongo_server: MongoServer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crawls]:
    web = build_test_web()
    tmp = tmp_path_factory.mktemp("redis")
    names = {"reference": f"ref_{os.getpid()}", "shared": f"shared_{os.getpid()}"}
    client = mongo_server.client()
    with WebServer(web, latency=LATENCY) as server:
        base = scrapy_env(
            server.proxy_url, MONGO_URI=mongo_server.uri, BACKLINKS_DATA_DIR=str(tmp / "data")
        )
        run = run_scrapy(crawl_argv(web), {**base, "MONGO_DATABASE": names["reference"]})
        assert run.returncode == 0, run.stderr[-3000:]
        reference_log = server.requests
        server.reset_log()
        env = {**base, "MONGO_DATABASE": names["shared"], "BACKLINKS_REDIS_URL": redis_url}
        two_workers(web, env, tmp)
        databases = client[names["reference"]], client[names["shared"]]
        yield Crawls(
            web,
            server,
            *databases,
            reference_log,
            server.requests,
            env,
            redis.Redis.from_url(redis_url),
        )
    for name in names.values():
        client.drop_database(name)
    client.close()


def page_requests(log: list[tuple[str, str, int]]) -> Counter[tuple[str, str]]:
    """(method, URL) of each request but robots.txt, which every worker reads for itself."""
    return Counter((m, u) for m, u, _ in log if m in {"GET", "HEAD"} and "/robots.txt" not in u)


def assert_same_pages(
    web: Web, got: Counter[tuple[str, str]], want: Counter[tuple[str, str]]
) -> None:
    """The same pages; in an endless calendar, as many (which ones fill the quota depends on
    timing, how many does not: the trap counters are shared)."""
    traps = tuple(web.traps)
    fetched = {u for m, u in got if m == "GET"}
    alone = {u for m, u in want if m == "GET"}
    assert {u for u in fetched if not u.startswith(traps)} == {
        u for u in alone if not u.startswith(traps)
    }
    for prefix in traps:
        assert sum(u.startswith(prefix) for u in fetched) == sum(
            u.startswith(prefix) for u in alone
        ), prefix


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """What the crawl found about a link. Scores and target checks are left out: they follow
    from which calendar pages and which redirected checks came first, which timing decides."""
    left_out = {*RUN_FIELDS, "scores", "target_status", "target_final_url", "target_checked_at"}
    return {k: v for k, v in doc.items() if k not in left_out}


def test_each_page_is_fetched_once_by_one_of_the_workers(crawls: Crawls) -> None:
    requests = page_requests(crawls.shared_log)
    again = {key: n for key, n in requests.items() if n > 1}
    assert not again, f"fetched more than once: {again}"
    assert_same_pages(crawls.web, requests, page_requests(crawls.reference_log))
    crawl = crawls.shared.crawls.find_one()
    per_worker = [w["stats"].get("backlinks/spider/pages", 0) for w in crawl["workers"].values()]
    assert len(per_worker) == 2 and all(per_worker), per_worker  # the work was really shared
    assert crawl["stats"]["backlinks/spider/pages"] == sum(per_worker)


def test_the_stored_backlinks_are_those_of_a_one_worker_crawl(crawls: Crawls) -> None:
    reference = {d["_id"]: comparable(d) for d in crawls.reference.backlinks.find()}
    shared = {d["_id"]: comparable(d) for d in crawls.shared.backlinks.find()}
    assert reference and shared.keys() == reference.keys()
    for _id, doc in shared.items():
        differ = {
            k: (doc.get(k), reference[_id].get(k))
            for k in doc.keys() | reference[_id].keys()
            if doc.get(k) != reference[_id].get(k)
        }
        assert not differ, (doc["source_url"], doc["target_url"], differ)
        assert doc["seen_count"] == 1
    ids = {d["last_crawl_id"] for d in crawls.shared.backlinks.find()}
    assert ids == {d["_id"] for d in crawls.shared.crawls.find()} and len(ids) == 1

    def edges(db: Any) -> set[tuple[str, str, int, int, int]]:
        return {edge for doc in db.host_edges.find() for edge in edges_of(doc)}

    assert edges(crawls.shared) == edges(crawls.reference) != set()


def test_one_crawl_record_finished_by_the_last_worker(crawls: Crawls) -> None:
    (crawl,) = list(crawls.shared.crawls.find())
    assert crawl["status"] == "finished" and crawl["worker_count"] == 2
    assert crawl["target"] == crawls.web.target
    assert all(w["status"] == "finished" for w in crawl["workers"].values())
    assert crawl["stats"]["backlinks/score/scored"] == crawls.shared.backlinks.count_documents({})


def test_the_focus_orders_both_workers_and_the_coverage_counts_them_all(crawls: Crawls) -> None:
    """The focused order is on in a shared crawl (the host's estimate is added as requests are
    pushed), and the last worker's coverage report adds the other's counts to its own: the
    budget it splits by topic is every page both workers fetched."""
    (crawl,) = list(crawls.shared.crawls.find())
    stats = crawl["stats"]
    assert stats["backlinks/focus/chosen"] > 0
    (alone,) = list(crawls.reference.crawls.find())
    assert stats["backlinks/spider/budget_spent"] == alone["stats"]["backlinks/spider/budget_spent"]
    # (the budget's split leaves the target's own pages out, in both)
    assert sum(crawl["coverage"]["budget"].values()) == sum(alone["coverage"]["budget"].values())
    crawled = sum(crawl["coverage"]["hosts"].values())
    assert crawled == sum(alone["coverage"]["hosts"].values()) > 0


def test_the_crawl_leaves_nothing_in_redis(crawls: Crawls) -> None:
    assert crawls.redis.keys("*") == []


def test_a_second_crawl_of_the_target_is_not_filtered_by_the_first(crawls: Crawls) -> None:
    crawls.server.reset_log()
    run = run_scrapy(crawl_argv(crawls.web), crawls.env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert_same_pages(
        crawls.web, page_requests(crawls.server.requests), page_requests(crawls.shared_log)
    )
    docs = list(crawls.shared.backlinks.find())
    assert docs and all(d["seen_count"] == 2 and d["lost_at"] is None for d in docs)
    assert crawls.shared.crawls.count_documents({}) == 2
    assert crawls.redis.keys("*") == []


def test_an_unreachable_redis_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    env = scrapy_env(BACKLINKS_REDIS_URL=url, BACKLINKS_DATA_DIR=str(tmp_path))
    run = run_scrapy(["crawl", "niche", "-a", "target=site.test", "-a", "seeds=a.test"], env)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]
    assert run.stderr.startswith("error: cannot reach Redis at redis://127.0.0.1:")


def test_a_hop_fetched_by_one_worker_credits_the_pages_of_another(redis_url: str) -> None:
    """Worker A fetches /out?to=…; worker B's pages that link it while it is in flight are
    handed to A, and B learns where it landed when it meets the link again."""
    from scrapy.settings import Settings

    from backlink_spider.admission import ROLE_SITE, AdmissionRules
    from backlink_spider.frontier import SharedCrawl

    settings = Settings({"BACKLINKS_REDIS_URL": redis_url})
    a = SharedCrawl.join(settings, "hops.test", "hops-crawl-1")
    b = SharedCrawl.join(settings, "hops.test", "another-id")
    assert a.crawl_id == b.crawl_id == "hops-crawl-1"
    hop, page = "https://blog.test/out?to=x", "https://blog.test/about"
    admission = a.admission(AdmissionRules(100, 100, 10, 100, 100, 2))
    for url in (hop, page):
        assert admission.admit(url, ROLE_SITE) is None  # admitted: now in flight
    assert b.refer([(hop, '["b1"]'), (page, '["b2"]')]) == ["wait", "wait"]
    landed = "https://hops.test/\thttps://blog.test/out?to=x"
    assert a.resolve(hop, landed) == ['["b1"]']  # A credits B's page
    assert a.resolve(page) == ['["b2"]']  # not a hop: nothing to credit
    assert b.refer([(hop, '["b3"]'), (page, '["b4"]')]) == [landed, ""]
    assert not a.leave()
    assert b.leave()
    b.cleanup()
    assert not redis.Redis.from_url(redis_url).keys("backlinks:{hops.test}*")
