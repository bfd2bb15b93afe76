"""The niche crawl: seed sites, the sites they link to (within ``depth``), and the target itself.

The spider decides what a page means and what to follow, nothing else. Every page's links are
read once (``extract_page``) and sorted out by ``classify_links``: links into the target (or a
competitor) become ``Backlink`` items, the page becomes a ``PageRecord`` (terms and outlinks, for
scoring), and the links to follow are offered to admission (page budget, per-host caps, spider
traps: ``backlink_spider.admission``). Its helpers, each in a module of its own:

- ``CrawlRun`` (``backlink_spider.run``): the crawl's id, arguments, JOBDIR job, shared frontier;
- ``HopBook`` (``backlink_spider.hops``): who linked a URL that redirects into the target;
- ``TargetChecks`` (``backlink_spider.targets``): each backlink's target URL asked once;
- ``Renderer`` (``backlink_spider.render``): which pages to read again in a browser;
- ``Focus`` (``backlink_spider.focus``): what a host's pages are worth to the target, estimated
  as pages arrive; it orders the frontier and makes the coverage report.

Download guards (non-HTML, page size) are a downloader middleware (``backlink_spider.guards``);
the end of the crawl is an extension (``backlink_spider.finisher``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from twisted.python.failure import Failure

from backlink_spider.admission import (
    BUDGET,
    ROLE_DISCOVERED,
    ROLE_SEED,
    ROLE_SITE,
    ROLE_TARGET,
    SEEN_ELSEWHERE,
    SILENT,
    TRAP_UNPROVEN,
    Admission,
    BudgetSpent,
    make_admission,
    text_fingerprint,
)
from backlink_spider.classify import Follow, Found, classify_links, host_domain, merge_link
from backlink_spider.config import CrawlConfig
from backlink_spider.extract import extract_page
from backlink_spider.focus import DISCOVERED_LINK, SEED_LINK, TOP_PRIORITY, Focus, make_focus
from backlink_spider.guards import NotHtml
from backlink_spider.hops import HopBook, Landing, Ref
from backlink_spider.items import Backlink, FetchFailure, PageRecord
from backlink_spider.jobdir import Attempt, Stateful, warn_rewritten_feeds
from backlink_spider.redirects import LANDED
from backlink_spider.render import Renderer, is_rendered
from backlink_spider.run import CrawlRun
from backlink_spider.ssrf import ForbiddenAddress
from backlink_spider.targets import TargetChecks
from backlink_spider.urls import path_signature, try_canonical_url
from backlink_spider.vocabulary import FROM_COMMON_CRAWL, failure_words
from pipelines.scoring.relevance import format_terms, top_terms

logger = logging.getLogger(__name__)


def page_role(linked_as: str, domain: str, target_domain: str) -> str:
    """A redirect may have carried a request to another site: the final URL's site decides."""
    if domain == target_domain:
        return ROLE_TARGET
    return ROLE_SITE if linked_as == ROLE_TARGET else linked_as


class NicheSpider(scrapy.Spider):
    name = "niche"
    # 4xx/5xx pages are recorded (their status matters); redirects are still followed.
    handle_httpstatus_list = list(range(400, 600))

    run: CrawlRun
    waiting: dict[str, dict[str, tuple[str, int, int, Ref | None]]]
    seeds_ok: set[str]
    config: CrawlConfig
    crawl_id: str
    admission: Admission
    focus: Focus
    hops: HopBook
    targets: TargetChecks
    renderer: Renderer
    attempt: Attempt | None  # a JOBDIR job's attempt

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NicheSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.run = CrawlRun.open(crawler, kwargs)
        spider.config = cfg = spider.run.config
        spider.crawl_id = spider.run.crawl_id
        spider.hops = HopBook(shared=spider.run.shared)
        # URLs waiting for their shape's trap verdict: shape -> canonical URL -> (role, hop,
        # priority, ref)
        spider.waiting = {}
        spider.seeds_ok = set()  # seed hosts with a page fetched
        spider.targets = TargetChecks.from_settings(crawler.settings, spider.run)
        spider.renderer = Renderer.from_crawler(crawler, cfg.render, cfg.browser)
        spider.admission = spider.run.admission = make_admission(cfg, spider.run.shared)
        spider.focus = spider.run.focus = make_focus(cfg, crawler.settings)
        spider.attempt = None
        if spider.run.job is not None:  # JOBDIR: what an attempt saves, the next restores
            parts: dict[str, Stateful] = {
                "admission": spider.admission,
                "focus": spider.focus,
                "targets": spider.targets,
                "hops": spider.hops,
            }
            spider.attempt = Attempt(spider.run.job, parts)
            spider.attempt.restore()
            feeds = crawler.settings.getdict("FEEDS")
            warn_rewritten_feeds(spider.run.job, feeds, cfg.target_domain)
        crawler.signals.connect(spider._dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    @property
    def dont_filter(self) -> bool:
        """True after a resumed job lost Scrapy's queue: its dupefilter holds URLs never
        fetched, and admission's own seen keys are what keeps requests unique."""
        return self.attempt is not None and self.attempt.dont_filter

    def closed(self, reason: str) -> None:
        """After Scheduler.close wrote Scrapy's queue: the job is now resumable as it is."""
        if self.attempt is not None:
            self.attempt.save(reason, self.crawler.stats)

    # -- requests -------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        cfg = self.config
        self.targets.stats = self.focus.stats = self.crawler.stats
        self.run.started = time.monotonic()
        if self.attempt is not None:  # the scheduler is open now: is the queue there?
            scheduler = self.crawler.engine.scheduler if self.crawler.engine else None
            queued = len(scheduler) if isinstance(scheduler, Scheduler) else None
            self.attempt.check_queue(queued, self.crawler.stats, self.crawl_id)
        for answer in self.targets.replay():
            yield answer  # earlier attempts' answers: the end of the crawl applies them all
        logger.info(
            "Crawl %s: backlinks of %s from %d seed site(s), depth %d, budget %d pages",
            self.crawl_id,
            cfg.target_domain,
            len(cfg.seeds),
            cfg.depth,
            cfg.max_pages,
        )
        focused = self.focus.enabled
        if cfg.target_pages:
            request = self._request(cfg.target_url, ROLE_TARGET, 0, priority=10)
            if request is not None:
                yield request
        for seed in cfg.seeds:
            request = self._request(seed, ROLE_SEED, 0, priority=SEED_LINK if focused else 5)
            if request is not None:
                yield request
        if cfg.discovered:
            logger.info(
                "Crawl %s also visits %d site(s) found in Common Crawl's web graph",
                self.crawl_id,
                len(cfg.discovered),
            )
        for site in cfg.discovered:  # start sites like the seeds, never trusted as seeds
            priority = DISCOVERED_LINK if focused else 4
            request = self._request(site, ROLE_DISCOVERED, 0, priority=priority)
            if request is not None:
                yield request

    def _skip(self, reason: str, url: str | None = None) -> None:
        self.crawler.stats.inc_value(f"backlinks/spider/skipped/{reason}")
        if url is not None:
            self.focus.refused(host_domain(url)[0], reason)

    def _request(
        self, url: str, role: str, hop: int, priority: int = 0, ref: Ref | None = None
    ) -> Request | None:
        """A request for url if admission allows it, else None (counted).

        ``ref`` says which page linked it and how: if the URL turns out to be a redirect into the
        target, that page holds the backlink.
        """
        admission = self.admission
        if admission.exhausted:
            self._skip(BUDGET, url)
            return None
        canonical = try_canonical_url(url, drop_params=self.config.drop_params)
        if canonical is None:
            self._skip("bad_url")
            return None
        reason = admission.admit(canonical, role)
        if reason == SEEN_ELSEWHERE:
            self.hops.seen_elsewhere(canonical, ref)
        if reason == TRAP_UNPROVEN:
            self._wait(canonical, role, hop, priority, ref)
        if reason is not None:
            if reason not in SILENT:
                self._skip(reason, canonical)
            return None
        self.focus.admitted(host_domain(canonical)[0])
        if role == ROLE_TARGET and self.focus.enabled:
            priority = TOP_PRIORITY  # the profile every page is measured against
        meta: dict[str, Any] = {"bl_role": role, "bl_hop": hop}
        self.hops.admitted(canonical, ref, meta)
        return Request(
            canonical,
            callback=self.parse,
            errback=self.on_error,
            priority=priority,
            meta=meta,
            dont_filter=self.dont_filter,
        )

    def _wait(self, canonical: str, role: str, hop: int, priority: int, ref: Ref | None) -> None:
        """A URL whose shape admission has not judged yet waits for the verdict (at most a
        host's page cap per shape), so no URL is lost because it was met too early."""
        waiting = self.waiting.setdefault(path_signature(canonical), {})
        if canonical in waiting or len(waiting) < self.config.max_pages_per_host:
            waiting[canonical] = (role, hop, priority, ref)

    def _released(self, shapes: Iterable[str]) -> Iterator[Request]:
        """The waiting URLs of ``shapes``, asked again: admitted now (the shape was proven),
        refused for good (closed), or still waiting."""
        for shape in list(shapes):
            waiting = self.waiting.pop(shape, None)
            for canonical, (role, hop, priority, ref) in (waiting or {}).items():
                request = self._request(canonical, role, hop, priority=priority, ref=ref)
                if request is not None:
                    self.crawler.stats.inc_value("backlinks/spider/trap_released")
                    yield request

    def _follow(
        self, candidates: list[Follow], page: tuple[str, str, int], relevance: float | None
    ) -> Iterator[Any]:
        admission, focus = self.admission, self.focus
        for follow in candidates:
            ref: Ref = (*page, follow.link)
            if self.hops.waits(follow.url, ref) or not admission.first_sight(follow.url):
                continue
            hop = follow.hop
            if follow.role == ROLE_SITE and not follow.probe:
                hop = admission.site_hop(host_domain(follow.url)[1], hop)
            priority = 0
            if focus.enabled:
                link = follow.link
                priority = focus.link_priority(relevance, link.anchor_text, link.context)
            request = self._request(follow.url, follow.role, hop, priority=priority, ref=ref)
            if request is not None:
                if follow.probe:
                    request.meta["bl_probe"] = True
                    self.crawler.stats.inc_value("backlinks/spider/redirect_probes")
                yield request
        for landing, refs in self.hops.hand_over().items():
            yield from self._credit_hop(refs, landing, datetime.now(UTC))

    def on_error(self, failure: Failure) -> Iterator[FetchFailure | Request]:
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if "bl_render" in request.meta:
            yield from self.renderer.failed(failure)  # the page is read raw instead
            return
        self.hops.answered(request)
        if failure.check(NotHtml):
            return  # counted by the download guards when its headers arrived
        if failure.check(BudgetSpent):
            self._skip(BUDGET)  # the budget ran out while it waited (the host is told)
            return
        reason = failure.type.__name__ if failure.type else "Error"
        self.crawler.stats.inc_value(f"backlinks/spider/fetch_failed/{reason}")
        logger.debug("Fetch failed: %s (%s)", request.url, failure.getErrorMessage())
        host = host_domain(request.url)[0]
        if "bl_spent" not in request.meta:
            self.admission.release()  # refused before it could spend: out of the frontier
        if failure.check(IgnoreRequest):
            # robots.txt said no (or the address is a private one): nothing is known of the page
            self.focus.failed(host, None if failure.check(ForbiddenAddress) else "robots")
            return
        self.focus.failed(host)
        self._seed_answered(request, failure_words(reason))
        # The URL as requested (before redirects): the one its stored links carry.
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        yield FetchFailure(
            url=url, reason=reason, failed_at=datetime.now(UTC), crawl_id=self.crawl_id
        )

    def _seed_answered(self, request: Request | None, failed: str | int | None) -> None:
        """A seed site fails while none of its pages could be fetched (``CrawlRun.failed_seeds``,
        the last reason kept); one page fetched, and it is crawled."""
        if request is None or request.meta.get("bl_role") != ROLE_SEED:
            return
        asked = (request.meta.get("redirect_urls") or [request.url])[0]  # the seed's own host
        host = urlsplit(asked).netloc
        seeds = self.run.failed_seeds
        if failed is None:
            seeds.pop(host, None)
            self.seeds_ok.add(host)
        elif host not in self.seeds_ok:
            seeds[host] = f"HTTP {failed}" if isinstance(failed, int) else failed

    def on_target_check(self, response: Response) -> Iterator[Any]:
        yield from self.targets.on_response(response)

    def on_target_check_error(self, failure: Failure) -> Iterator[Any]:
        yield from self.targets.on_failure(failure)

    def _dropped(self, request: Request, spider: Any = None) -> None:
        """A request the scheduler refused (a redirect to a URL already fetched) is answered."""
        if "bl_role" in request.meta:
            self.hops.answered(request)
            if "bl_spent" not in request.meta:
                self.admission.release()

    def _idle(self, spider: Any = None) -> None:
        """The fetching is over when the spider is last idle: what follows is bookkeeping.

        Unless URLs still wait for their shape's verdict (another worker of a shared crawl may
        have given it): asked again, those admitted now keep the crawl going."""
        released = list(self._released(self.waiting)) if self.waiting else []
        if released:
            for request in released:
                self.crawler.engine.crawl(request)
            raise DontCloseSpider
        self.crawler.stats.set_value("backlinks/spider/crawl_seconds", self.run.elapsed())

    # -- parsing --------------------------------------------------------------------------------

    def parse(self, response: Response) -> Iterator[Any]:
        raw_again = self.renderer.unusable(response)
        if raw_again is not None:
            yield raw_again
            return
        if LANDED in response.meta:
            yield from self._landed(response)
            return
        self.hops.answered(response)  # not a hop
        if response.meta.get("bl_probe"):
            # Followed past the depth only because it looked like a redirect; it was not one.
            self.crawler.stats.inc_value("backlinks/spider/probe_not_redirect")
            return
        cfg = self.config
        domain = host_domain(response.url)[1]
        role = page_role(response.meta.get("bl_role", ROLE_SITE), domain, cfg.target_domain)
        hop = min(response.meta.get("bl_hop", 0), self.admission.site_hops.get(domain, 1 << 30))
        record = PageRecord(
            url=response.url,
            status=response.status,
            is_target=role == ROLE_TARGET,
            is_seed=domain in cfg.seed_domains,
            hop=hop,
            rendered=is_rendered(response),
            fetched_at=datetime.now(UTC),
            crawl_id=self.crawl_id,
        )
        if role == ROLE_TARGET:
            self.targets.fetched(response)
        elif response.status >= 400:
            self.focus.failed(host_domain(response.url)[0])
        self._seed_answered(response.request, None if response.status < 400 else response.status)
        if response.status >= 400:
            self.crawler.stats.inc_value("backlinks/spider/http_error")
            # Trap evidence: none (an error page proves nothing), its URL as admitted
            admitted = (response.meta.get("redirect_urls") or [response.url])[0]
            if self.admission.observe(admitted, None):
                yield from self._released([path_signature(admitted)])
            yield record
            return
        if isinstance(response, TextResponse):
            yield from self._page(response, record, role, domain)

    def _page(self, response: TextResponse, record: PageRecord, role: str, domain: str) -> Any:
        cfg = self.config
        robots = response.headers.get(b"X-Robots-Tag")
        page = extract_page(
            response.text,
            response.url,
            robots_header=robots.decode("latin-1") if robots else None,
            rules=cfg.position_rules,
            context_chars=cfg.context_chars,
            text_chars=cfg.text_chars,
        )
        watched = cfg.watched_domains if role != ROLE_TARGET else frozenset()
        render = self.renderer.review(response, page, watched)
        if render is not None:
            yield render  # read again in the browser; this raw read yields nothing
            return
        self.crawler.stats.inc_value("backlinks/spider/pages")
        admitted = (response.meta.get("redirect_urls") or [response.url])[0]
        if self.admission.observe(admitted, text_fingerprint(page.text)):  # before links ask
            yield from self._released([path_signature(admitted)])
        record.title, record.lang = page.title, page.lang
        terms = top_terms(f"{page.title}\n{page.text}", cfg.page_terms)
        record.terms = format_terms(terms)
        focus = self.focus
        relevance = None
        if role == ROLE_TARGET:
            focus.add_target_page(terms)
        else:
            relevance = focus.relevance(terms)
        record.nofollow, record.outlinks_total = page.nofollow, len(page.links)
        links = classify_links(
            page.links,
            domain=domain,
            role=role,
            hop=record.hop,
            depth=cfg.depth,
            watched=cfg.watched_domains,
            drop_params=cfg.drop_params,
            hops=self.hops.known,
        )
        if links.unparseable:
            self.crawler.stats.inc_value("backlinks/spider/unparseable_link", links.unparseable)
        record.out_hosts = links.out_hosts
        source = (response.url, page.title, response.status)
        now = datetime.now(UTC)
        to_target = 0
        for target_url, found in links.found.items():
            to_target += host_domain(target_url)[1] == cfg.target_domain
            yield from self._backlink(source, target_url, found, now)
        if role != ROLE_TARGET:
            focus.page(
                host_domain(response.url)[0],
                relevance,
                [(out.host, out.followed) for out in links.out_hosts],
                target_links=to_target,
                competitor_links=len(links.found) - to_target,
            )
        yield record
        yield from self._follow(links.follow, source, relevance)

    def _backlink(
        self, source: tuple[str, str, int], target_url: str, found: Found, now: datetime
    ) -> Iterator[Any]:
        cfg = self.config
        matched = host_domain(target_url)[1]
        link = found.link
        self.crawler.stats.inc_value("backlinks/spider/backlinks")
        if found.via is not None:
            self.crawler.stats.inc_value("backlinks/spider/redirect_backlinks")
        discovered = host_domain(source[0])[1] in cfg.discovered_domains
        led_by = FROM_COMMON_CRAWL if discovered else None
        yield Backlink(
            source_url=source[0],
            target_url=target_url,
            anchor_text=link.anchor_text,
            rel=list(link.rel),
            nofollow=link.nofollow,
            link_type="redirect" if found.via is not None else link.link_type,
            position=link.position,
            context=link.context,
            occurrences=found.count,
            source_title=source[1],
            source_status=source[2],
            discovered_at=now,
            crawl_id=self.crawl_id,
            is_competitor_link=matched != cfg.target_domain,
            matched_domain=matched,
            via_url=found.via,
            source=led_by,
        )
        if matched == cfg.target_domain:
            yield from self.targets.check(
                target_url, self.on_target_check, self.on_target_check_error, self.dont_filter
            )

    def _landed(self, response: Response) -> Iterator[Any]:
        """A followed link ended in a redirect into a watched site: backlinks of its linkers."""
        drop = self.config.drop_params
        landed = try_canonical_url(response.meta[LANDED], drop_params=drop)
        if landed is None or response.meta.get("bl_ref") is None:
            self.hops.answered(response)  # a seed that redirects into the target: no page links it
            return
        first = (response.meta.get("redirect_urls") or [response.url])[0]
        landing = (landed, try_canonical_url(first, drop_params=drop) or first)
        yield from self._credit_hop(self.hops.landed(response, landing), landing, datetime.now(UTC))

    def _credit_hop(self, refs: list[Ref], landing: Landing, now: datetime) -> Iterator[Any]:
        """Backlinks of the pages that link a hop, one per page (repeats counted)."""
        by_page: dict[tuple[str, str, int], dict[str, Found]] = {}
        for source, title, status, link in refs:
            merge_link(
                by_page.setdefault((source, title, status), {}), landing[0], link, via=landing[1]
            )
        for page, found in by_page.items():
            for target_url, kept in found.items():
                yield from self._backlink(page, target_url, kept, now)
