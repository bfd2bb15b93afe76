"""How far a crawl is, while it runs: one live line on a terminal, periodic log lines elsewhere.

On a terminal (standard error is a TTY) Rich draws one line: pages fetched of the budget, the
target's backlinks and referring domains found so far, pages per second and the time left at
that pace (an upper bound: a web smaller than the budget ends sooner). The log lines go on above
it. Anywhere else (Scrapyd, CI, a pipe) the same figures are one INFO line every
``BACKLINKS_PROGRESS_LOG_SECONDS``. ``BACKLINKS_PROGRESS``: ``auto`` (the default), ``live``,
``log`` or ``off``.

The figures are this process's, counted from the items as they leave the pipelines (a page
record per page fetched, backlinks into the target with their source domains): no store read.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from backlink_spider.items import Backlink, PageRecord
from backlink_spider.run import CrawlRun

logger = logging.getLogger(__name__)

MODES = ("auto", "live", "log", "off")
LIVE_SECONDS = 0.5  # how often the live line is redrawn
PACE_SECONDS = 30.0  # pages per second over about this long


class CrawlProgress:
    """The extension (``EXTENSIONS``, wired by the add-on); see the module."""

    def __init__(self, crawler: Crawler, run: CrawlRun, live: bool, interval: float):
        self.crawler = crawler
        self.target = run.config.target_domain
        self.budget = run.config.max_pages
        self.live = live
        self.interval = LIVE_SECONDS if live else interval
        self.pages = 0
        self.backlinks = 0
        self.domains: set[str] = set()
        self.started = 0.0
        self.pace: list[tuple[float, int]] = []  # (when, pages): the recent pace
        self.timer: task.LoopingCall | None = None
        self.progress: Any = None  # rich.progress.Progress while the live line is up
        self.bar: Any = None
        self.streams: list[tuple[logging.StreamHandler[Any], Any]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        settings = crawler.settings
        try:
            mode = progress_mode(settings)
        except ValueError as exc:
            raise NotConfigured(str(exc)) from exc
        interval = settings.getfloat("BACKLINKS_PROGRESS_LOG_SECONDS", 60.0)
        run = CrawlRun.get(crawler)
        live = mode == "live" or (mode == "auto" and sys.stderr.isatty())
        if mode == "off" or run is None or (not live and interval <= 0):
            raise NotConfigured
        ext = cls(crawler, run, live, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # -- counting -------------------------------------------------------------------------------

    def item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        if isinstance(item, PageRecord):
            self.pages += 1
        elif isinstance(item, Backlink) and item.matched_domain == self.target:
            self.backlinks += 1
            if item.source_domain:
                self.domains.add(item.source_domain)

    def figures(self, now: float | None = None) -> dict[str, float | int | None]:
        """pages, budget, backlinks, referring domains, pages/s and seconds left (None: not
        known yet)."""
        now = time.monotonic() if now is None else now
        self.pace.append((now, self.pages))
        while len(self.pace) > 2 and now - self.pace[1][0] >= PACE_SECONDS:
            self.pace.pop(0)
        then, pages_then = self.pace[0]
        rate = (self.pages - pages_then) / (now - then) if now - then >= 1.0 else None
        left = max(self.budget - self.pages, 0)
        return {
            "pages": self.pages,
            "budget": self.budget,
            "backlinks": self.backlinks,
            "referring_domains": len(self.domains),
            "rate": rate,
            "seconds_left": left / rate if rate else None,
        }

    def line(self, figures: dict[str, Any]) -> str:
        """The figures after the page count, as the log line says them."""
        left = figures["seconds_left"]
        eta = f"at most {_duration(left)} left" if left is not None else "time left: -"
        return (
            f"{figures['backlinks']:,} backlinks from {figures['referring_domains']:,} "
            f"referring domains; {_pace(figures)}, {eta}"
        )

    @staticmethod
    def short(figures: dict[str, Any]) -> str:
        """The same, for the live line: short enough for an 80-column terminal."""
        left = figures["seconds_left"]
        eta = f" · ≤{_duration(left, coarse=True)} left" if left is not None else ""
        return (
            f"{figures['backlinks']:,} backlinks · {figures['referring_domains']:,} domains"
            f" · {_pace(figures)}{eta}"
        )

    # -- showing --------------------------------------------------------------------------------

    def spider_opened(self, spider: Any = None) -> None:
        self.started = time.monotonic()
        if self.live:
            self._start_live()
        self.timer = task.LoopingCall(self.tick)
        self.timer.start(self.interval, now=False)

    def tick(self) -> None:
        figures = self.figures()
        if self.bar is not None:
            self.progress.update(self.bar, completed=figures["pages"], found=self.short(figures))
            return
        logger.info(
            "Progress: %s of %s pages; %s",
            f"{figures['pages']:,}",
            f"{figures['budget']:,}",
            self.line(figures),
        )

    def spider_closed(self, spider: Any = None) -> None:
        self._stop()

    def _start_live(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = Console(file=sys.stderr)
        self.progress = Progress(
            TextColumn("pages"),
            BarColumn(bar_width=8),
            MofNCompleteColumn(),
            TextColumn("{task.fields[found]}"),
            console=console,
            redirect_stderr=True,
            redirect_stdout=False,
        )
        self.progress.start()
        self.bar = self.progress.add_task("crawl", total=self.budget, found="")
        # Log lines go through Rich's stderr proxy, printed above the live line.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
                self.streams.append((handler, handler.stream))
                handler.setStream(sys.stderr)

    def _stop(self) -> None:
        if self.timer is not None and self.timer.running:
            self.timer.stop()
            self.tick()  # the final figures
        if self.progress is not None:
            self.progress.stop()
            self.progress = self.bar = None
            for handler, stream in self.streams:
                handler.setStream(stream)
            self.streams = []


def _pace(figures: dict[str, Any]) -> str:
    rate = figures["rate"]
    return f"{rate:,.0f} pages/s" if rate is not None else "- pages/s"


def progress_mode(settings: Any) -> str:
    """``BACKLINKS_PROGRESS``, checked: ValueError names the modes."""
    mode = str(settings.get("BACKLINKS_PROGRESS") or "auto").lower()
    if mode not in MODES:
        raise ValueError(f"BACKLINKS_PROGRESS={mode!r}: use one of {', '.join(MODES)}")
    return mode


def _duration(seconds: float, *, coarse: bool = False) -> str:
    """12 s, 3 min 05 s, 1 h 02 min; ``coarse``: whole minutes (rounded up) past a minute."""
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if coarse:
        minutes = -(-seconds // 60)
        return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


SLOW_SECONDS = 3.0  # work that runs past this says its steps off a terminal too


class Steps:
    """The step a long command is at (scoring, a report): a Rich spinner on a terminal; off
    one, an INFO line per step once the work has run past ``SLOW_SECONDS`` (quick work says
    nothing). Use it as a context manager and call it with each step's name."""

    def __init__(self, what: str, *, live: bool | None = None) -> None:
        self.what = what
        self.live = sys.stderr.isatty() if live is None else live
        self.started = time.monotonic()
        self.status: Any = None
        self.current = ""

    def __enter__(self) -> Steps:
        self.started = time.monotonic()
        if self.live:
            from rich.console import Console

            self.status = Console(file=sys.stderr).status(f"{self.what} …")
            self.status.start()
        return self

    def __call__(self, step: str) -> None:
        elapsed = time.monotonic() - self.started
        if self.status is not None:
            self.status.update(f"{self.what}: {step} … ({elapsed:.0f} s)")
        elif elapsed >= SLOW_SECONDS:
            logger.info("%s: %s (%.0f s so far)", self.what, step, elapsed)
        self.current = step

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
