"""A synthetic web served through a loopback HTTP(S) proxy, for tests, benchmarks and the demo.

    from backlink_spider.demoweb import WebServer, demo_web

    with WebServer(demo_web()) as server:
        # http_proxy=https_proxy=server.proxy_url, then crawl web.seeds for web.target
        ...

Nothing here ever contacts a real host: unknown host names get a 502 from the proxy.
"""

from __future__ import annotations

from backlink_spider.demoweb.model import (
    ExpectedBacklink,
    ExpectedNoBacklink,
    Response,
    Site,
    WalkResult,
    Web,
    page_links,
    walk,
)
from backlink_spider.demoweb.scripted import script_web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.demoweb.sites import demo_web, generated_web, test_web

__all__ = [
    "WEBS",
    "ExpectedBacklink",
    "ExpectedNoBacklink",
    "Response",
    "Site",
    "WalkResult",
    "Web",
    "WebServer",
    "build_web",
    "demo_web",
    "generated_web",
    "page_links",
    "script_web",
    "test_web",
    "walk",
]

WEBS = ("demo", "test", "generated", "script")


def build_web(name: str, *, pages: int = 2000, hosts: int = 60, seed: int = 1) -> Web:
    """A web by name (as the CLI and `scrapy demo` take it)."""
    if name == "demo":
        return demo_web()
    if name == "test":
        return test_web()
    if name == "script":
        return script_web()
    if name == "generated":
        return generated_web(pages, n_hosts=hosts, seed=seed)
    raise ValueError(f"unknown web {name!r}; choose from {', '.join(WEBS)}")
