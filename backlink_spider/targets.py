"""Target checks: each distinct target URL a backlink points to is asked once per crawl.

A link into a dead page (404, 410, a failing host) is a link to reclaim. The check is a ``HEAD``
(a ``GET`` cut at the headers when the server refuses ``HEAD``) at low priority, never parsed,
outside ``max_pages`` and capped by ``BACKLINKS_MAX_TARGET_CHECKS``; a target page the crawl
fetched anyway answers its own check. Every answer becomes a ``TargetCheck`` item, and is kept:
a resumed JOBDIR attempt hands the earlier attempts' answers on again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from backlink_spider.items import TargetCheck
from backlink_spider.urls import try_canonical_url

if TYPE_CHECKING:
    from backlink_spider.run import CrawlRun

CHECK_PRIORITY = -10  # target checks wait behind the pages: they only need to happen
CHECK_META = "bl_check"


@dataclass
class TargetChecks:
    """Which target URLs were asked, what fetched target pages answered, and the answers."""

    crawl_id: str
    enabled: bool = True
    max_checks: int = 1000
    drop_params: tuple[str, ...] = ()
    stats: Any = None  # the crawler's stats collector, set once the crawl starts
    asked: set[str] = field(default_factory=set)
    statuses: dict[str, int] = field(default_factory=dict)  # from target pages fetched anyway
    answers: dict[str, tuple[int, str, str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any, run: CrawlRun) -> TargetChecks:
        return cls(
            run.crawl_id,
            enabled=settings.getbool("BACKLINKS_CHECK_TARGETS", True),
            max_checks=settings.getint("BACKLINKS_MAX_TARGET_CHECKS", 1000),
            drop_params=run.config.drop_params,
        )

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"backlinks/spider/{key}")

    def fetched(self, response: Response) -> None:
        """A fetched target page answers the check of its URL (and of the URLs that redirected
        to it)."""
        for url in (*response.meta.get("redirect_urls", ()), response.url):
            canonical = try_canonical_url(url, drop_params=self.drop_params)
            if canonical is not None:
                self.statuses.setdefault(canonical, response.status)

    def check(
        self, url: str, callback: Callable[..., Any], errback: Callable[..., Any], dont_filter: bool
    ) -> Iterator[Request | TargetCheck]:
        """Ask a backlink's target URL once per crawl, unless a fetched page answered it."""
        if not self.enabled or url in self.asked:
            return
        known = self.statuses.get(url)
        if known is not None:
            self.asked.add(url)
            if known >= 400:
                self._count("broken_targets")
            yield self.answer(url, known)
            return
        if len(self.asked) >= self.max_checks:
            self._count("skipped/target_checks")
            return
        self.asked.add(url)
        self._count("target_checks")
        yield Request(
            url,
            method="HEAD",
            callback=callback,
            errback=errback,
            priority=CHECK_PRIORITY,
            meta={CHECK_META: url},
            dont_filter=dont_filter,
        )

    def on_response(self, response: Response) -> Iterator[Request | TargetCheck]:
        request = response.request
        assert request is not None
        url = response.meta[CHECK_META]
        if request.method == "HEAD" and response.status in (405, 501):
            # Some servers refuse HEAD: ask with GET, whose body is cut at the headers.
            yield request.replace(url=url, method="GET", dont_filter=True)
            return
        if response.status >= 400:
            self._count("broken_targets")
        yield self.answer(url, response.status, response.url if response.url != url else "")

    def on_failure(self, failure: Failure) -> Iterator[TargetCheck]:
        if failure.check(IgnoreRequest):
            return  # robots.txt forbids asking: unknown, not broken
        reason = failure.type.__name__ if failure.type else "Error"
        self._count(f"target_check_failed/{reason}")
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        yield self.answer(request.meta[CHECK_META], 0, error=reason)

    def answer(self, url: str, status: int, final_url: str = "", error: str = "") -> TargetCheck:
        self.answers[url] = (status, final_url, error)
        return TargetCheck(
            url=url,
            status=status,
            final_url=final_url,
            error=error,
            checked_at=datetime.now(UTC),
            crawl_id=self.crawl_id,
        )

    def replay(self) -> Iterator[TargetCheck]:
        """The answers earlier attempts got: the end of the crawl applies them to every link."""
        for url, (status, final_url, error) in list(self.answers.items()):
            yield self.answer(url, status, final_url, error)

    # -- what a JOBDIR attempt saves ----------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"asked": sorted(self.asked), "statuses": self.statuses, "answers": self.answers}

    def reset(self) -> None:
        self.asked, self.statuses, self.answers = set(), {}, {}

    def restore(self, state: dict[str, Any]) -> None:
        self.asked.update(state["asked"])
        self.statuses.update({str(u): int(s) for u, s in state["statuses"].items()})
        self.answers.update(
            {str(u): (int(a[0]), str(a[1]), str(a[2])) for u, a in state["answers"].items()}
        )
