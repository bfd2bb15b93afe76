"""What our ``scrapy`` commands share: one-line errors, the target argument, the store.

Kept outside ``backlink_spider/commands/``: Scrapy registers every ``ScrapyCommand`` subclass
defined in that package as a command of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from pymongo.errors import PyMongoError
from scrapy.commands import ScrapyCommand

from backlink_spider.urls import UrlError, get_resolver, parse_target
from pipelines.store import Store, StoreConfig, StoreError, acquire_store, release_store


def fail(message: str, code: int = 2) -> NoReturn:
    """The one-line error a user sees instead of a traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


class StoreCommand(ScrapyCommand):
    """A command that reads (or rescores) what the crawls of one target stored."""

    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "WARNING"}

    def target_domain(self, value: str) -> str:
        """The registered domain of a target as the user wrote it; a bad one ends the command."""
        try:
            return parse_target(value, get_resolver())[1]
        except UrlError as exc:
            fail(f"bad target {value!r}: {exc}")

    @contextmanager
    def open_store(
        self, domain: str, crawl_args: str = "-a seeds=...", *, create: bool = False
    ) -> Iterator[Store]:
        """The store, released on the way out; every way it can fail is one line and exit 1.

        An embedded store that was never written is not started (that would create it empty),
        unless the command writes (``create``): the user is told to crawl first.
        """
        assert self.settings is not None
        config = StoreConfig.from_settings(self.settings)
        if config.embedded and not create and not (config.data_dir / "db").exists():
            fail(
                f"nothing stored yet in {config.data_dir}: crawl first "
                f"(scrapy crawl niche -a target={domain} {crawl_args})",
                code=1,
            )
        try:
            store = acquire_store(self.settings)
        except StoreError as exc:
            fail(str(exc), code=1)
        try:
            yield store
        except PyMongoError as exc:
            fail(f"MongoDB failed: {str(exc).splitlines()[0][:200]}", code=1)
        finally:
            release_store(store)
