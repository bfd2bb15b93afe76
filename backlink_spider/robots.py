"""Scrapy's robots.txt middleware, with every request that waits for a robots.txt obeying it.

Scrapy 2.19 lets each request to a host whose robots.txt is still downloading await one shared
Deferred through ``maybe_deferred_to_future``; under the asyncio reactor the first waiter's
callback returns None, so every later waiter gets None, which means "no robots.txt: allow all".
Two or more pages of a new host asked at once (frequent when several workers share a frontier,
possible with one) were then fetched even where robots.txt disallows them. Here each waiter
gets a Deferred of its own, fired with the parser and leaving it in the chain.

A host that cannot be reached is also said once, in one line: Scrapy logs its robots.txt
failure as an ERROR with two chained tracebacks, after a "Gave up retrying" ERROR, and then the
same for its pages. ``DeadHostLog`` makes that one WARNING per host, counted in the stats
(``backlinks/robots/unreachable_hosts``); the crawl's summary names the seeds among them.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxt
from scrapy.http import Request
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"
RETRY_LOGGER = "scrapy.downloadermiddlewares.retry"


class DeadHostLog(logging.Filter):
    """One WARNING line per unreachable host instead of Scrapy's tracebacks (see the module)."""

    def __init__(self, stats: Any) -> None:
        super().__init__()
        self.stats = stats
        self.dead: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, dict) else {}
        request = args.get("request")
        if not isinstance(request, Request) or record.levelno < logging.ERROR:
            return True
        url = urlsplit(request.url)
        if record.name == RETRY_LOGGER:
            # robots.txt: its own line follows; a page of a host already said to be dead
            return not (url.path == "/robots.txt" or url.netloc in self.dead)
        error = args.get("f_exception")
        if record.name != ROBOTS_LOGGER or error is None:
            return True
        self.dead.add(url.netloc)
        self.stats.inc_value("backlinks/robots/unreachable_hosts")
        record.msg = "Cannot reach %(host)s: %(error)s"
        record.args = {"host": url.netloc, "error": str(error).splitlines()[0][:200]}
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


class RobotsTxtMiddleware(ScrapyRobotsTxt):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.dead_hosts = DeadHostLog(crawler.stats)
        for name in (ROBOTS_LOGGER, RETRY_LOGGER):
            logging.getLogger(name).addFilter(self.dead_hosts)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    def _closed(self, spider: Any = None) -> None:
        for name in (ROBOTS_LOGGER, RETRY_LOGGER):
            logging.getLogger(name).removeFilter(self.dead_hosts)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        mine: Deferred[RobotParser | None] = Deferred()

        def relay(parser: RobotParser | None) -> RobotParser | None:
            mine.callback(parser)
            return parser  # for the next waiter

        pending.addCallback(relay)
        return await maybe_deferred_to_future(mine)
