"""One add-on wires what settings alone cannot: feeds default to backlinks only, and
``BACKLINKS_REDIS_URL`` switches the scheduler to a frontier shared by several workers."""

from __future__ import annotations

from typing import Any

BACKLINK_ITEM = "backlink_spider.items.Backlink"
# scrapy-redis' components, as the shared frontier uses them (backlink_spider/frontier.py).
REDIS_SETTINGS = {
    "SCHEDULER": "backlink_spider.frontier.SharedScheduler",
    "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    # Never cleared by the first worker to finish: the last one removes the crawl's keys.
    "SCHEDULER_PERSIST": True,
    "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",  # keeps breadth-first order
}


class BacklinksAddon:
    """``-O backlinks.jsonl`` should hold backlinks, not the page records kept for scoring; and
    with ``BACKLINKS_REDIS_URL`` the workers of a target share one frontier.

    A feed that names its own ``item_classes`` (for example PageRecord) keeps them.
    """

    def update_settings(self, settings: Any) -> None:
        self._shared_frontier(settings)
        self._feeds(settings)

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
