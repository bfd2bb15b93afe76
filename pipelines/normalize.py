"""Canonical URLs, hosts and registered domains on every item, before dedupe and storage."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from backlink_spider.items import Backlink, PageRecord
from backlink_spider.urls import get_resolver, tracking_params, try_canonical_url, url_host

logger = logging.getLogger(__name__)

# Bounds on what page content may put in a document (MongoDB caps documents at 16 MB).
MAX_ANCHOR_CHARS = 500
MAX_TITLE_CHARS = 500
MAX_URL_CHARS = 4096


class UnparseableUrl(DropItem):
    """A link whose URL cannot be made canonical (bad host, port, scheme…)."""

    def __init__(self, message: str):
        super().__init__(message, log_level="DEBUG")


def backlink_id(source_url: str, target_url: str) -> str:
    """Stable id of a (normalized source, normalized target) pair: the store's ``_id``."""
    digest = hashlib.blake2b(f"{source_url}\n{target_url}".encode(), digest_size=16)
    return digest.hexdigest()


class NormalizePipeline:
    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.drop_params = tracking_params(crawler.settings)
        self.resolver = get_resolver()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler)

    def _canonical(self, url: str | None) -> str | None:
        if not url or len(url) > MAX_URL_CHARS:
            return None
        return try_canonical_url(url, drop_params=self.drop_params)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if isinstance(item, Backlink):
            source = self._canonical(adapter["source_url"])
            target = self._canonical(adapter["target_url"])
            if source is None or target is None:
                assert self.stats is not None
                self.stats.inc_value("backlinks/normalize/unparseable")
                raise UnparseableUrl(
                    f"unparseable link {adapter['source_url']!r} -> {adapter['target_url']!r}"
                )
            adapter["source_url"], adapter["target_url"] = source, target
            if adapter["via_url"]:
                adapter["via_url"] = self._canonical(adapter["via_url"]) or adapter["via_url"]
            for side, url in (("source", source), ("target", target)):
                host = url_host(url)
                adapter[f"{side}_host"] = host
                adapter[f"{side}_domain"] = self.resolver.registered_domain(host)
            adapter["anchor_text"] = adapter["anchor_text"][:MAX_ANCHOR_CHARS]
            adapter["source_title"] = adapter["source_title"][:MAX_TITLE_CHARS]
        elif isinstance(item, PageRecord):
            page_url = self._canonical(adapter["url"])
            if page_url is None:
                assert self.stats is not None
                self.stats.inc_value("backlinks/normalize/unparseable")
                raise UnparseableUrl(f"unparseable page URL {adapter['url']!r}")
            adapter["url"] = page_url
            adapter["host"] = url_host(page_url)
            adapter["domain"] = self.resolver.registered_domain(adapter["host"])
            adapter["title"] = adapter["title"][:MAX_TITLE_CHARS]
        return item
