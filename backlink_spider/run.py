"""One crawl run: its id, its arguments, its JOBDIR job and its shared frontier, made once.

The niche spider parses its arguments into a ``CrawlConfig`` and opens the run
(``CrawlRun.open``) when Scrapy builds it, before any other component exists; every component
that needs the run (admission, the redirect middlewares, the shared scheduler, the item writer,
the end of the crawl) asks for it with ``CrawlRun.of(crawler)``, never through the spider's
attributes. A crawler whose spider is not the niche spider has no run: those components then
stay out of the way (``NotConfigured``, or Scrapy's own behaviour).

The id: a fresh one; with ``JOBDIR``, the one an earlier attempt of that job saved; with a Redis
frontier, the id of the target's crawl its workers share. A crawl stopped (SIGINT) or killed and
started again with the same JOBDIR stays one crawl, as do the workers of a shared crawl:
per-crawl bookkeeping in the store (``seen_count``, lost links) keys on this id.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from pymongo.errors import PyMongoError
from scrapy.exceptions import NotConfigured
from scrapy.utils.job import job_dir

from backlink_spider.config import ArgumentError, CrawlConfig, seed_list
from backlink_spider.jobdir import open_job

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from backlink_spider.admission import Admission
    from backlink_spider.focus import Focus
    from backlink_spider.frontier import SharedCrawl
    from backlink_spider.jobdir import Job
    from pipelines.target_profile import TargetProfile

logger = logging.getLogger(__name__)

_RUNS: WeakKeyDictionary[Crawler, CrawlRun] = WeakKeyDictionary()


def _read_profile(crawler: Crawler, args: dict[str, Any]) -> TargetProfile | None:
    """The target's stored profile (``pipelines.target_profile``), read through the store the
    crawl command holds (``commands/crawl.py`` opens it before the crawl starts, and checks the
    arguments against the profile there). A crawler built otherwise (a script, a test) has no
    open store and crawls with its own arguments only; its end still adds them to the profile."""
    from backlink_spider.config import target_domain_of
    from pipelines.store import open_store
    from pipelines.target_profile import load_profile

    domain = target_domain_of(args.get("target"))
    store = open_store(crawler.settings)
    if store is None:
        return None
    try:
        return load_profile(store.db, domain)
    except PyMongoError as exc:
        if not seed_list(args.get("seeds")):
            reason = str(exc).splitlines()[0][:200]
            message = f"cannot read the profile of {domain} for its seeds: {reason}"
            raise ArgumentError(message) from None
        logger.warning("Could not read the profile of %s: %s", domain, exc)
        return None


def fresh_crawl_id(target_domain: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{target_domain}-{stamp}-{secrets.token_hex(3)}"


@dataclass
class CrawlRun:
    crawl_id: str
    config: CrawlConfig
    job: Job | None = None  # with JOBDIR
    shared: SharedCrawl | None = None  # with BACKLINKS_REDIS_URL
    scrapyd_job: str | None = None  # the Scrapyd (or Scrapy Cloud) job running this crawl
    started: float = field(default_factory=time.monotonic)
    # Seed sites of which no page could be fetched yet, host -> why (the spider keeps it; the
    # end of the crawl says it and stores it in the crawl record, summaries show it).
    failed_seeds: dict[str, str] = field(default_factory=dict)
    # Made by the spider with the run: the page budget and guards, the online estimates.
    admission: Admission | None = None
    focus: Focus | None = None

    @classmethod
    def open(cls, crawler: Crawler, args: dict[str, Any]) -> CrawlRun:
        """Parse the spider's arguments and give the crawl its identity (see the module).

        Must run before the scheduler opens: a JOBDIR job prepares Scrapy's files first.
        """
        settings = crawler.settings
        profile = _read_profile(crawler, args)
        config = CrawlConfig.from_args(settings, args, profile)
        # Scrapyd 1.6 passes the job id as the spider argument _job (no SCRAPY_JOB).
        scrapyd_job = (
            args.get("_job") or os.environ.get("SCRAPY_JOB") or os.environ.get("SHUB_JOBKEY")
        )
        fresh = fresh_crawl_id(config.target_domain)
        if settings.get("BACKLINKS_REDIS_URL"):
            from backlink_spider.frontier import SharedCrawl  # scrapy-redis: the "redis" extra

            shared = SharedCrawl.join(settings, config.target_domain, fresh)
            run = cls(shared.crawl_id, config, shared=shared, scrapyd_job=scrapyd_job)
        elif jobdir := job_dir(settings):
            job = open_job(Path(jobdir), config.describe(), lambda: fresh)
            run = cls(job.crawl_id, config, job=job, scrapyd_job=scrapyd_job)
        else:
            run = cls(fresh, config, scrapyd_job=scrapyd_job)
        _RUNS[crawler] = run
        return run

    @classmethod
    def get(cls, crawler: Crawler) -> CrawlRun | None:
        return _RUNS.get(crawler)

    @classmethod
    def of(cls, crawler: Crawler) -> CrawlRun:
        """The crawler's run; ``NotConfigured`` for a crawl that is not a niche crawl."""
        run = _RUNS.get(crawler)
        if run is None:
            raise NotConfigured("not a niche crawl")
        return run

    @property
    def resumed(self) -> bool:
        """Another attempt of a crawl: an earlier process stored some of its pages."""
        return self.job is not None and self.job.attempt > 1

    @property
    def fetched_elsewhere(self) -> bool:
        """Other processes fetched part of this crawl (earlier attempts, other workers): what
        this process saw is not all of it, and the end of the crawl reads the store."""
        return self.shared is not None or self.resumed

    def elapsed(self) -> float:
        """Seconds since the crawl started fetching."""
        return round(time.monotonic() - self.started, 3)

    def describe(self) -> dict[str, Any]:
        """The arguments as stored with the crawl (and shown by ``scrapy crawls``)."""
        return {**self.config.describe(), "crawl_id": self.crawl_id}
