"""The crawler refuses to be turned against its own network, unless told it is an intranet crawl."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backlink_spider.ssrf import is_forbidden, parse_ip
from tests.conftest import FAST, run_scrapy, scrapy_env

FORBIDDEN = [
    "127.0.0.1",
    "127.1.2.3",
    "localhost.",
    "10.0.0.8",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "100.64.0.1",
    "::1",
    "[::1]",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "[::ffff:169.254.169.254]",
    "2002:7f00:1::",
    "::",
    "ff02::1",
    "2130706433",
    "0177.0.0.1",
    "0x7f.1",
    "0x7f000001",
    "017700000001",
    "127.1",
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "[2001:4860:4860::8888]"]


@pytest.mark.parametrize("host", FORBIDDEN)
def test_private_and_local_addresses_in_every_spelling_are_forbidden(host: str) -> None:
    if host == "localhost.":
        assert parse_ip(host) is None  # a name: resolved, then checked (see the crawl test)
        return
    address = parse_ip(host)
    assert address is not None, host
    assert is_forbidden(address), host


@pytest.mark.parametrize("host", ALLOWED)
def test_public_addresses_are_allowed(host: str) -> None:
    address = parse_ip(host)
    assert address is not None and not is_forbidden(address)


def test_names_are_not_mistaken_for_addresses() -> None:
    for name in ("example.com", "1.example", "0x7f.example", "a.b.c.d"):
        assert parse_ip(name) is None


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (
            b"<html><body><a href='http://localhost:%d/secret'>a link to the target site"
            b"</a></body></html>" % self.server.server_port
        )  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    server.hits = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_crawl_refuses_loopback_unless_allowed(
    local_site, mongo_server, mongo_db, tmp_path: Path
) -> None:
    name, db = mongo_db
    port = local_site.server_port
    env = scrapy_env(
        MONGO_URI=mongo_server.uri, MONGO_DATABASE=name, BACKLINKS_DATA_DIR=str(tmp_path / "data")
    )
    args = [
        "crawl",
        "niche",
        "-a",
        f"target=localhost:{port}",
        "-a",
        f"seeds=http://127.0.0.1:{port}/,http://2130706433:{port}/",
        *FAST,
        "-s",
        "ROBOTSTXT_OBEY=False",
        "-s",
        "BACKLINKS_SCORE_ON_CLOSE=False",
    ]
    run = run_scrapy(args, env)
    assert run.returncode == 0, run.stderr[-2000:]
    stats = db.crawls.find_one()["stats"]
    assert stats["backlinks/ssrf/refused"] >= 2
    assert stats.get("downloader/response_count", 0) == 0
    assert run.stderr.count("Refusing 127.0.0.1") == 1  # logged once per host
    assert db.pages.count_documents({}) == 0

    run = run_scrapy([*args, "-s", "BACKLINKS_ALLOW_PRIVATE_NETWORKS=True"], env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert db.pages.count_documents({}) >= 1


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/admin",
        "http://0177.0.0.1/",
    ],
)
def test_a_redirect_into_the_private_network_is_refused(location: str) -> None:
    """A public page that 302s to the cloud metadata address: the redirected request is a new
    request through the downloader middlewares, and the guard refuses it."""
    import asyncio

    from scrapy.http import HtmlResponse, Request
    from scrapy.utils.test import get_crawler

    from backlink_spider.addon import DOWNLOADER_MIDDLEWARES
    from backlink_spider.redirects import HopRedirectMiddleware
    from backlink_spider.spiders.niche import NicheSpider
    from backlink_spider.ssrf import ForbiddenAddress, SsrfGuardMiddleware

    wired = {name: priority for name, (_, priority) in DOWNLOADER_MIDDLEWARES.items()}
    assert wired["backlink_spider.ssrf.SsrfGuardMiddleware"] > 600  # after it
    assert wired["backlink_spider.redirects.HopRedirectMiddleware"] == 600
    crawler = get_crawler(NicheSpider)
    crawler.spider = NicheSpider.from_crawler(crawler, target="t.example", seeds="s.example")
    redirects, guard = HopRedirectMiddleware.from_crawler(crawler), SsrfGuardMiddleware(crawler)
    page = Request("http://93.184.216.34/go", meta={"bl_role": "site", "bl_hop": 1})
    hop = HtmlResponse(page.url, status=302, headers={"Location": location}, request=page)
    redirected = redirects.process_response(page, hop)
    assert isinstance(redirected, Request) and redirected.url.startswith(location[:12])
    with pytest.raises(ForbiddenAddress):
        asyncio.run(guard.process_request(redirected))
