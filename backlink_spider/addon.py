"""One add-on wires what settings alone cannot: feeds default to backlinks only."""

from __future__ import annotations

from typing import Any

BACKLINK_ITEM = "backlink_spider.items.Backlink"


class BacklinksAddon:
    """``-O backlinks.jsonl`` should hold backlinks, not the page records kept for scoring.

    A feed that names its own ``item_classes`` (for example PageRecord) keeps them.
    """

    def update_settings(self, settings: Any) -> None:
        feeds = settings.getdict("FEEDS")
        if not feeds:
            return
        for options in feeds.values():
            if isinstance(options, dict):
                options.setdefault("item_classes", [BACKLINK_ITEM])
        settings.set("FEEDS", feeds, priority=settings.getpriority("FEEDS") or "addon")
