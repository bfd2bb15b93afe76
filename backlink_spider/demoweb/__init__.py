"""The demo web served through a loopback HTTP(S) proxy: what ``scrapy demo`` crawls.

    from backlink_spider.demoweb import WebServer, demo_web

    with WebServer(demo_web()) as server:
        # http_proxy=https_proxy=server.proxy_url, then crawl web.seeds for web.target
        ...

Nothing here ever contacts a real host: unknown host names get a 502 from the proxy. The demo
web's pages are data (``demo_web.toml``); the webs of the test suite are in ``tests/webs`` and
the benchmarks' generated web in ``benchmarks/web.py``, written with the same model and kit.
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
from backlink_spider.demoweb.server import WebServer
from backlink_spider.demoweb.sites import demo_web

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
    "page_links",
    "walk",
]

WEBS = ("demo", "demo-changed")


def build_web(name: str) -> Web:
    """A web by name (as ``python -m backlink_spider.demoweb --web`` takes it)."""
    if name in WEBS:
        return demo_web(changed=name == "demo-changed")
    raise ValueError(f"unknown web {name!r}; choose from {', '.join(WEBS)}")
