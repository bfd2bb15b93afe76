"""The one add-on that wires our components into Scrapy, at documented priorities.

``ADDONS = {"backlink_spider.addon.BacklinksAddon": 100}`` (the project's settings say so) puts:

====================================================  =======  ==================================
component                                             where    why there
====================================================  =======  ==================================
``backlink_spider.robots.RobotsTxtMiddleware``        DM 100   replaces Scrapy's (its 2.19 bug)
``backlink_spider.admission.PageBudgetMiddleware``    DM 105   spends the page budget on pages
                                                               robots.txt let through
``backlink_spider.redirects.HopMetaRefreshMiddleware`` DM 580  replaces Scrapy's, same place
``backlink_spider.guards.DownloadGuardMiddleware``    DM 595   before HttpCompression (590) on
                                                               the response path: caps inflation
``backlink_spider.redirects.HopRedirectMiddleware``   DM 600   replaces Scrapy's, same place
``backlink_spider.ssrf.SsrfGuardMiddleware``          DM 760   after HttpProxyMiddleware (750):
                                                               through a proxy, the proxy decides
``pipelines.normalize.NormalizePipeline``             IP 100   canonical URLs, domains
``pipelines.dedupe.DedupePipeline``                   IP 200   one link per pair, per crawl
``pipelines.mongo.MongoPipeline``                     IP 300   writes items, nothing else
``backlink_spider.finisher.CrawlFinisher``            EXT 500  the end of the crawl
``backlink_spider.progress.CrawlProgress``            EXT 510  progress: a live line, log lines
====================================================  =======  ==================================

(DM: ``DOWNLOADER_MIDDLEWARES``, IP: ``ITEM_PIPELINES``, EXT: ``EXTENSIONS``.) A project that
wants one of them elsewhere, or off (``None``), says so in its own settings: what it sets at a
higher priority than the add-on's wins. The add-on also derives what settings alone cannot:
feeds hold backlinks only, ``BACKLINKS_REDIS_URL`` switches the scheduler to the shared
frontier, and rendering configures scrapy-playwright.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.misc import load_object

BACKLINK_ITEM = "backlink_spider.items.Backlink"
# scrapy-redis' components, as the shared frontier uses them (backlink_spider/frontier.py).
REDIS_SETTINGS = {
    "SCHEDULER": "backlink_spider.frontier.SharedScheduler",
    "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    # Never cleared by the first worker to finish: the last one removes the crawl's keys.
    "SCHEDULER_PERSIST": True,
    # scrapy-redis' priority queue, the focus's estimate added on push (backlink_spider/focus.py)
    "SCHEDULER_QUEUE_CLASS": "backlink_spider.frontier.FocusedRedisQueue",
}
_DM = "scrapy.downloadermiddlewares"
# Scrapy's component -> ours, at the same priority (None: Scrapy's is not replaced).
DOWNLOADER_MIDDLEWARES: dict[str, tuple[str | None, int]] = {
    "backlink_spider.robots.RobotsTxtMiddleware": (f"{_DM}.robotstxt.RobotsTxtMiddleware", 100),
    "backlink_spider.admission.PageBudgetMiddleware": (None, 105),
    "backlink_spider.redirects.HopMetaRefreshMiddleware": (
        f"{_DM}.redirect.MetaRefreshMiddleware",
        580,
    ),
    "backlink_spider.guards.DownloadGuardMiddleware": (None, 595),
    "backlink_spider.redirects.HopRedirectMiddleware": (f"{_DM}.redirect.RedirectMiddleware", 600),
    "backlink_spider.ssrf.SsrfGuardMiddleware": (None, 760),
}
MONGO_PIPELINE = "pipelines.mongo.MongoPipeline"
ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.dedupe.DedupePipeline": 200,
    "pipelines.mongo.MongoPipeline": 300,
}
EXTENSIONS = {
    "backlink_spider.finisher.CrawlFinisher": 500,
    "backlink_spider.progress.CrawlProgress": 510,
}


class BacklinksAddon:
    """Wires the components above; ``-O backlinks.jsonl`` holds backlinks, not the page records
    kept for scoring (a feed that names its own ``item_classes`` keeps them); with
    ``BACKLINKS_REDIS_URL`` the workers of a target share one frontier."""

    def update_settings(self, settings: Any) -> None:
        self._components(settings)
        self._shared_frontier(settings)
        self._feeds(settings)
        from backlink_spider import render

        render.update_settings(settings)  # scrapy-playwright, unless rendering is off

    @staticmethod
    def _components(settings: Any) -> None:
        """Ours at their places (Scrapy's that they replace switched off), unless the project
        placed or removed them itself (``{"backlink_spider.robots.RobotsTxtMiddleware": None}``
        keeps Scrapy's). Pipelines and extensions given whole on the command line
        (``-s ITEM_PIPELINES={}``) are taken as they are: that is how a run goes without them."""
        middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
        placed = {load_object(k) for k in middlewares}
        for ours, (scrapys, priority) in DOWNLOADER_MIDDLEWARES.items():
            if load_object(ours) in placed:
                continue
            if scrapys is not None:
                middlewares.setdefault(scrapys, None)  # off, under the name it has in _BASE
            middlewares[ours] = priority
        settings.set(
            "DOWNLOADER_MIDDLEWARES",
            middlewares,
            priority=settings.getpriority("DOWNLOADER_MIDDLEWARES") or "addon",
        )
        for name, components in (("ITEM_PIPELINES", ITEM_PIPELINES), ("EXTENSIONS", EXTENSIONS)):
            if given_whole(settings, name):
                continue
            for ours, priority in components.items():
                settings.setdefault_in_component_priority_dict(name, load_object(ours), priority)

    @staticmethod
    def _shared_frontier(settings: Any) -> None:
        """Settings a user could write by hand, derived from the one that matters."""
        url = settings.get("BACKLINKS_REDIS_URL")
        if not url:
            return
        for name, value in {**REDIS_SETTINGS, "REDIS_URL": url}.items():
            settings.set(name, value, priority="addon")

    @staticmethod
    def _feeds(settings: Any) -> None:
        feeds = settings.getdict("FEEDS")
        if not feeds:
            return
        for options in feeds.values():
            if isinstance(options, dict):
                options.setdefault("item_classes", [BACKLINK_ITEM])
        settings.set("FEEDS", feeds, priority=settings.getpriority("FEEDS") or "addon")


def given_whole(settings: Any, name: str) -> bool:
    """True when a component setting was given whole on the command line (or above)."""
    return bool(settings.getpriority(name) or 0) and (
        settings.getpriority(name) >= SETTINGS_PRIORITIES["cmdline"]
    )


def stores_items(settings: Any) -> bool:
    """Whether a crawl with these (not yet add-on-applied) settings writes to MongoDB."""
    pipelines = settings.getdict("ITEM_PIPELINES")
    if given_whole(settings, "ITEM_PIPELINES"):
        return pipelines.get(MONGO_PIPELINE) is not None
    return pipelines.get(MONGO_PIPELINE, ITEM_PIPELINES[MONGO_PIPELINE]) is not None
