"""One backlink per (source, target) pair and one record per page, per crawl, in bounded memory."""

from __future__ import annotations

import hashlib
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from backlink_spider.items import Backlink, PageRecord


class DuplicateBacklink(DropItem):
    """The same source page linked to the same target URL earlier in this crawl."""

    def __init__(self, message: str):
        super().__init__(message, log_level="DEBUG")


class DuplicatePage(DropItem):
    """Two fetched URLs that normalize to the same page (tracking parameters, redirects)."""

    def __init__(self, message: str):
        super().__init__(message, log_level="DEBUG")


def _key(*parts: str) -> int:
    """A 64-bit fingerprint: fixed size per entry, whatever the URLs' length.

    At 64 bits, a false duplicate needs ~4 billion pairs in one crawl to become likely.
    """
    digest = hashlib.blake2b("\n".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class DedupePipeline:
    """Runs after NormalizePipeline, so keys are canonical URLs.

    Repeats inside one page are merged by the spider (which sees the whole page and keeps the
    most prominent occurrence); what reaches here twice comes from two fetches that normalize to
    one page, such as ``/post`` and ``/post?utm_source=feed``.
    """

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("BACKLINKS_DEDUPE_ENABLED", True):
            raise NotConfigured
        self.stats = crawler.stats
        self.seen: set[int] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if isinstance(item, Backlink):
            key = _key("L", adapter["source_url"], adapter["target_url"])
            error: type[DropItem] = DuplicateBacklink
        elif isinstance(item, PageRecord):
            key = _key("P", adapter["url"])
            error = DuplicatePage
        else:
            return item
        if key in self.seen:
            raise error(f"duplicate {type(item).__name__}: {next(iter(adapter.values()))}")
        self.seen.add(key)
        return item
