"""Why ``backlink_spider.robots`` exists: Scrapy 2.19's robots.txt middleware lets the requests
that wait for a host's robots.txt through unchecked.

A seed page links eight pages of a new host at once, six of them disallowed by its robots.txt,
which the host answers slowly (every request of this web takes a moment, as on the real web).
With Scrapy's own middleware the requests that waited for robots.txt are fetched anyway; with
ours none is. When the first test fails, Scrapy has fixed its bug: drop our middleware (and the
add-on's entry for it) and this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from tests.conftest import FAST, MongoServer, run_scrapy, scrapy_env

SCRAPYS = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"
OURS = "backlink_spider.robots.RobotsTxtMiddleware"
PRIVATE = [f"/private/{i}" for i in range(6)]


def robots_web() -> Web:
    web = Web("robots")
    web.target = "site.test"
    web.seeds = ["https://seed.test/"]
    links = "".join(f'<a href="https://other.test{p}">p{p}</a>' for p in [*PRIVATE, "/a", "/b"])
    web.site("seed.test").page("/", f"<html><body>{links}</body></html>")
    other = web.site("other.test")
    other.robots("User-agent: *\nDisallow: /private/\n")
    for path in [*PRIVATE, "/a", "/b"]:
        other.page(path, "<html><body><p>a page</p></body></html>")
    web.site("site.test").page("/", "<html><body>the target</body></html>")
    return web


def fetched_private(middlewares: str, mongo_server: MongoServer, tmp_path: Path) -> list[str]:
    web = robots_web()
    with WebServer(web, latency=0.2) as server:
        env = scrapy_env(
            server.proxy_url,
            MONGO_URI=mongo_server.uri,
            MONGO_DATABASE=f"robots_{tmp_path.name}",
            BACKLINKS_DATA_DIR=str(tmp_path / "data"),
        )
        run = run_scrapy(
            [
                "crawl",
                "niche",
                *web.niche_args(),
                *FAST,
                "-s",
                "BACKLINKS_SCORE_ON_CLOSE=False",
                "-s",
                f"DOWNLOADER_MIDDLEWARES={middlewares}",
            ],
            env,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        return [u for u in server.fetched_urls() if "/private/" in u]


def test_scrapys_middleware_lets_waiting_requests_through(
    mongo_server: MongoServer, tmp_path: Path
) -> None:
    # Scrapy's middleware back at its place, ours off: the bug this project works around.
    fetched = fetched_private(f'{{"{SCRAPYS}": 100, "{OURS}": null}}', mongo_server, tmp_path)
    if not fetched:
        pytest.fail(
            "Scrapy's robots.txt middleware now makes waiting requests obey robots.txt: "
            "remove backlink_spider/robots.py and its add-on entry"
        )
    assert all(u.startswith("https://other.test/private/") for u in fetched)


def test_ours_keeps_every_waiting_request_to_robots_txt(
    mongo_server: MongoServer, tmp_path: Path
) -> None:
    assert fetched_private("{}", mongo_server, tmp_path) == []
