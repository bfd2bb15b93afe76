"""Redirect hops into a watched site are backlinks: stop there and tell the spider.

A link to ``/out?to=https://target/`` or a short link that 302s (or meta-refreshes) to the
target is a backlink of the page carrying the href. Scrapy's redirect middlewares would fetch the
target page instead, or drop the hop as a duplicate when that page was already fetched, and the
linking page would be forgotten. These subclasses keep all of Scrapy's redirect handling
(Location parsing, the hop limit, proxy and header hygiene, the meta-refresh delay and ignored
tags) and change one thing: a hop that leaves the crawled web for the target or a competitor is
not followed. The response is handed to the spider with ``bl_landed`` (the URL it leads to) in
its meta, and the spider records the backlink from the page that linked the first URL.
"""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.http import Request, Response

from backlink_spider.run import CrawlRun
from backlink_spider.urls import url_domain

LANDED = "bl_landed"


class _HopMixin:
    crawler: Any

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        if LANDED in request.meta:
            return response  # a 3xx hop whose body also refreshes: already handed over
        result = super().process_response(request, response)  # type: ignore[misc]
        if not isinstance(result, Request) or "bl_role" not in request.meta:
            return result  # not redirected, or not a page request (robots.txt, target checks)
        run = CrawlRun.get(self.crawler)
        if run is None:
            return result  # not a niche crawl: Scrapy's redirect handling as it is
        watched = run.config.watched_domains
        if url_domain(result.url) not in watched or url_domain(request.url) in watched:
            return result
        # The hop ends in a watched site: hand the response (3xx or refresh page) to the spider.
        request.meta[LANDED] = result.url
        if 300 <= response.status < 400:
            request.meta["handle_httpstatus_list"] = [response.status]
        self.crawler.stats.inc_value("backlinks/spider/redirect_hops")
        return response


class HopRedirectMiddleware(_HopMixin, RedirectMiddleware):
    """Scrapy's 3xx handling, stopping at hops into the target or a competitor."""


class HopMetaRefreshMiddleware(_HopMixin, MetaRefreshMiddleware):
    """Scrapy's ``<meta http-equiv=refresh>`` handling, stopping likewise."""
