"""``scrapy crawl``, with the niche spider's arguments and the store checked before it starts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymongo.errors import PyMongoError
from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from backlink_spider.addon import stores_items
from backlink_spider.cli import fail
from backlink_spider.config import ArgumentError, CrawlConfig, seed_list, target_domain_of
from backlink_spider.jobdir import JobMismatch, check_job
from pipelines.store import Store, StoreConfig, StoreError, acquire_store, release_store
from pipelines.target_profile import TargetProfile, load_profile


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
        try:  # every argument but the seeds, which may come from the stored profile
            CrawlConfig.from_args(self.settings, opts.spargs, require_seeds=False)
        except ArgumentError as exc:
            fail(str(exc))
        if self.settings.get("JOBDIR") and self.settings.get("BACKLINKS_REDIS_URL"):
            fail(
                "JOBDIR and BACKLINKS_REDIS_URL exclude each other: a shared crawl keeps its "
                "frontier in Redis, not in a job directory"
            )
        if self.settings.get("BACKLINKS_REDIS_URL"):
            check_redis(self.settings)
        profile = self._open_store(opts.spargs) if stores_items(self.settings) else None
        try:
            config = CrawlConfig.from_args(self.settings, opts.spargs, profile)
        except ArgumentError as exc:
            fail(str(exc))
        if self.settings.get("JOBDIR"):
            try:
                check_job(Path(self.settings["JOBDIR"]), config.describe())
            except JobMismatch as exc:
                fail(str(exc))

    def _open_store(self, spargs: dict[str, Any]) -> TargetProfile | None:
        """The store, held for the whole crawl (the pipeline shares this connection and
        server), and the target's profile in it. Without seeds given, a store that cannot be
        read (or an embedded one never written) leaves the crawl with no seeds at all."""
        assert self.settings is not None
        given = bool(seed_list(spargs.get("seeds")) or self.settings.getlist("BACKLINKS_SEEDS"))
        config = StoreConfig.from_settings(self.settings)
        if not given and config.embedded and not (config.data_dir / "db").exists():
            return None  # nothing stored, no profile: the seeds check says what to do
        try:
            self.store = acquire_store(self.settings)
            return load_profile(self.store.db, target_domain_of(spargs["target"]))
        except (StoreError, PyMongoError) as exc:
            reason = str(exc).splitlines()[0][:200]
        if given:
            fail(reason if reason.startswith("cannot") else f"MongoDB failed: {reason}", code=1)
        fail(
            "no seed sites given, and the target's profile cannot be read for its seeds "
            f"({reason}): give -a seeds=a.com,b.org"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            super().run(args, opts)
        finally:
            if self.store is not None:
                release_store(self.store)
                self.store = None
