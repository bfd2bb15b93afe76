"""``scrapy crawl``, with the niche spider's arguments and the store checked before it starts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from backlink_spider.addon import stores_items
from backlink_spider.cli import fail
from backlink_spider.config import ArgumentError, CrawlConfig
from backlink_spider.jobdir import JobMismatch, check_job
from pipelines.store import Store, StoreError, acquire_store, release_store


def check_redis(settings: Any) -> None:
    """A shared frontier that cannot be reached, or is not installed, is one line and exit 1."""
    try:
        from backlink_spider.frontier import redis_client
    except ImportError as exc:
        fail(f"BACKLINKS_REDIS_URL needs scrapy-redis: pip install 'backlinks[redis]' ({exc})", 1)
    try:
        redis_client(settings).ping()
    except Exception as exc:  # any redis error (bad URL, refused, auth): say it in one line
        url = urlsplit(settings.get("BACKLINKS_REDIS_URL"))
        shown = url._replace(netloc=url.netloc.rpartition("@")[2]).geturl()  # no password
        fail(f"cannot reach Redis at {shown}: {exc}", code=1)


class Command(ScrapyCrawlCommand):
    store: Store | None = None

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Runs before Scrapy starts logging: a bad argument shows as one line, alone."""
        super().process_options(args, opts)
        assert self.settings is not None
        if args[:1] != ["niche"]:
            return
        try:
            config = CrawlConfig.from_args(self.settings, opts.spargs)
        except ArgumentError as exc:
            fail(str(exc))
        if self.settings.get("JOBDIR") and self.settings.get("BACKLINKS_REDIS_URL"):
            fail(
                "JOBDIR and BACKLINKS_REDIS_URL exclude each other: a shared crawl keeps its "
                "frontier in Redis, not in a job directory"
            )
        if self.settings.get("JOBDIR"):
            try:
                check_job(Path(self.settings["JOBDIR"]), config.describe())
            except JobMismatch as exc:
                fail(str(exc))
        if self.settings.get("BACKLINKS_REDIS_URL"):
            check_redis(self.settings)
        if stores_items(self.settings):
            try:
                # Held for the whole crawl: the pipeline shares this connection and server.
                self.store = acquire_store(self.settings)
            except StoreError as exc:
                fail(str(exc), code=1)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            super().run(args, opts)
        finally:
            if self.store is not None:
                release_store(self.store)
                self.store = None
