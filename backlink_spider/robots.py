"""Scrapy's robots.txt middleware, with every request that waits for a robots.txt obeying it.

Scrapy 2.19 lets each request to a host whose robots.txt is still downloading await one shared
Deferred through ``maybe_deferred_to_future``; under the asyncio reactor the first waiter's
callback returns None, so every later waiter gets None, which means "no robots.txt: allow all".
Two or more pages of a new host asked at once (frequent when several workers share a frontier,
possible with one) were then fetched even where robots.txt disallows them. Here each waiter
gets a Deferred of its own, fired with the parser and leaving it in the chain.
"""

from __future__ import annotations

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxt
from scrapy.http import Request
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxt):
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
