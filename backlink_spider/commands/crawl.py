"""``scrapy crawl``, with the niche spider's arguments and the store checked before it starts."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from backlink_spider.config import ArgumentError, CrawlConfig
from pipelines.store import StoreError, acquire_store, release_store


def fail(message: str, code: int = 2) -> None:
    """The one-line error a user sees instead of a traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError
        assert self.settings is not None
        store = None
        if args[0] == "niche":
            try:
                CrawlConfig.from_args(self.settings, opts.spargs)
            except ArgumentError as exc:
                fail(str(exc))
            if "pipelines.mongo.MongoPipeline" in self.settings.getdict("ITEM_PIPELINES"):
                try:
                    # Held for the whole crawl: the pipeline shares this connection and server.
                    store = acquire_store(self.settings)
                except StoreError as exc:
                    fail(str(exc), code=1)
        try:
            super().run(args, opts)
        finally:
            if store is not None:
                release_store(store)
