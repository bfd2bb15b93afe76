"""The niche crawl: seed sites, the sites they link to (within ``depth``), and the target itself.

Every page's links are read once; links into the target (or a competitor) become ``Backlink``
items, the page becomes a ``PageRecord`` (text and outlinks, for scoring), and the rest are
candidates to follow under the page budget and the spider-trap guards.

A link whose URL redirects (3xx or meta refresh) into the target is a backlink too, of
``link_type`` ``redirect`` with the href kept as ``via_url``: the redirect middlewares
(``backlink_spider.redirects``) stop at such a hop and hand it back here, where the page that
linked the first URL is still known (``bl_ref`` in the request's meta; later pages linking the same
hop URL are remembered while it is in flight, and answered at once after).

Each distinct target URL a backlink points to is asked once (``HEAD``, at low priority, never
parsed) so a link into a dead page can be reclaimed: a ``TargetCheck`` item. These checks are
not pages: they are outside ``max_pages`` and capped by ``BACKLINKS_MAX_TARGET_CHECKS``; a target
page the crawl fetched anyway is not asked again.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import scrapy
from scrapy import signals
from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request, Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.job import job_dir
from twisted.python.failure import Failure

from backlink_spider.config import CrawlConfig
from backlink_spider.extract import PROMINENCE, Link, extract_page
from backlink_spider.items import Backlink, FetchFailure, OutHost, PageRecord, TargetCheck
from backlink_spider.jobdir import (
    RESUME_QUEUE,
    RESUME_SEEDS,
    Job,
    open_job,
    pack_keys,
    restart_from_seeds,
    unpack_keys,
)
from backlink_spider.redirects import LANDED
from backlink_spider.render import Renderer, is_rendered
from backlink_spider.urls import (
    get_resolver,
    has_repeated_segments,
    path_signature,
    try_canonical_url,
    url_host,
)

if TYPE_CHECKING:
    from backlink_spider.frontier import SharedCrawl

logger = logging.getLogger(__name__)

_SKIP_EXTENSIONS = tuple(f".{ext}" for ext in IGNORED_EXTENSIONS)
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
_AUTHORITY_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#\\]*)")
_NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})
MAX_OUT_HOSTS = 1000  # per page record: a page linking 100k hosts must stay a small document
CHECK_PRIORITY = -10  # target checks wait behind the pages: they only need to happen
MAX_HOP_REFERRERS = 100  # pages remembered per redirect hop URL while it is in flight
MAX_KNOWN_HOPS = 100_000  # hop URLs remembered with where they land

# (source URL, source title, source status, the link): who linked a followed URL.
Ref = tuple[str, str, int, Link]

ROLE_TARGET = "target"
ROLE_SEED = "seed"
ROLE_SITE = "site"


@lru_cache(maxsize=65536)
def _netloc_host(netloc: str) -> tuple[str, str]:
    """(host, registered domain) of a netloc; links repeat hosts, so this is cached."""
    host = url_host(f"http://{netloc}/")
    return host, get_resolver().registered_domain(host)


def url_key(canonical: str) -> int:
    """A stable 64-bit key of a URL (``hash()`` changes between processes)."""
    return int.from_bytes(blake2b(canonical.encode(), digest_size=8).digest(), "big")


def _dump_ref(ref: Ref) -> str:
    """A ref as one line of JSON, for the other workers of a shared crawl."""
    source, title, status, link = ref
    fields = (link.url, link.anchor_text, list(link.rel), link.nofollow, link.link_type,
              link.position, link.context, link.tag)  # fmt: skip
    return json.dumps([source, title, status, *fields])


def _load_ref(line: str) -> Ref:
    source, title, status, url, anchor, rel, nofollow, link_type, position, context, tag = (
        json.loads(line)
    )
    link = Link(url, anchor, tuple(rel), nofollow, link_type, position, context, tag)
    return source, title, status, link


def _host_domain(url: str) -> tuple[str, str]:
    """Per link, so a regex on the authority rather than a full urlsplit."""
    match = _AUTHORITY_RE.match(url)
    if match is None:
        return "", ""
    return _netloc_host(match.group(1).rsplit("@", 1)[-1])


class NicheSpider(scrapy.Spider):
    name = "niche"
    # 4xx/5xx pages are recorded (their status matters); redirects are still followed.
    handle_httpstatus_list = list(range(400, 600))

    config: CrawlConfig

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NicheSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = CrawlConfig.from_args(crawler.settings, kwargs)
        spider._prepare(crawler)
        return spider

    def _prepare(self, crawler: Crawler) -> None:
        self.crawl_id = self._crawl_identity(crawler)
        self.resolver = get_resolver()
        self._init_frontier()
        # Set when a resumed job's queue turns out empty: the dupefilter then holds URLs that
        # were never fetched, and the spider's own seen set is what keeps requests unique.
        self.dont_filter = False
        self.queued_at_start: int | None = None
        if self.job is not None and self.job.resume == RESUME_QUEUE:
            try:
                self._restore(self.job.state)
            except (KeyError, TypeError, ValueError) as exc:
                restart_from_seeds(self.job, f"Unreadable saved state ({exc!r})")
                self._init_frontier()
        # Target URLs whose status is asked (once each), and statuses already known from pages.
        self.check_targets = crawler.settings.getbool("BACKLINKS_CHECK_TARGETS", True)
        self.max_target_checks = crawler.settings.getint("BACKLINKS_MAX_TARGET_CHECKS", 1000)
        # Redirect hops, by link URL as written: the pages linking a URL still in flight, and
        # hop URLs known to land in a watched site -> (landing URL, first URL). Kept across
        # the attempts of a JOBDIR crawl (_snapshot).
        self.inflight: dict[str, list[Ref]] = {}
        self.hops: dict[str, tuple[str, str]] = {}
        # A shared crawl: links (as written -> canonical URL) admitted to the shared queue, not
        # yet known to be a hop or not; and this page's refs to them, asked in one call.
        self.remote: dict[str, str] = {}
        self.remote_refs: list[tuple[str, Ref]] = []
        if self.job is not None and self.job.resume == RESUME_QUEUE:
            self._restore_hops(self.job.state)
        crawler.signals.connect(self._dropped, signal=signals.request_dropped)
        # Pages built by script: which to read again in the browser (backlink_spider/render.py).
        self.renderer = Renderer.from_crawler(crawler, self.config.render, self.config.browser)
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)
        crawler.signals.connect(self._idle, signal=signals.spider_idle)
        self.started = time.monotonic()

    def _crawl_identity(self, crawler: Crawler) -> str:
        """A fresh crawl id; with ``JOBDIR``, the one an earlier attempt of that job saved;
        with a Redis frontier, the id of the target's crawl its workers share.

        A crawl stopped (SIGINT) or killed and started again with the same JOBDIR stays one
        crawl, as do the workers of a shared crawl: per-crawl bookkeeping in the store
        (``seen_count``, lost links) keys on this id.
        """
        cfg = self.config

        def fresh() -> str:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            return f"{cfg.target_domain}-{stamp}-{secrets.token_hex(3)}"

        self.job: Job | None = None
        self.shared: SharedCrawl | None = None
        if crawler.settings.get("BACKLINKS_REDIS_URL"):
            from backlink_spider.frontier import SharedCrawl  # scrapy-redis: the "redis" extra

            self.shared = SharedCrawl.join(crawler.settings, cfg.target_domain, fresh())
            return self.shared.crawl_id
        jobdir = job_dir(crawler.settings)
        if not jobdir:
            return fresh()
        self.job = open_job(Path(jobdir), cfg.describe(), fresh)
        return self.job.crawl_id

    @property
    def resumed(self) -> bool:
        """Another attempt of a crawl: an earlier process stored some of its pages."""
        return self.job is not None and self.job.attempt > 1

    def _init_frontier(self) -> None:
        """What the spider knows of its frontier: budget spent, guards' counts, URLs seen."""
        cfg = self.config
        self.scheduled = 0
        self.target_scheduled = 0
        self.per_host: Counter[str] = Counter()
        self.per_pattern: Counter[str] = Counter()
        self.per_path_queries: Counter[str] = Counter()
        # URLs already considered: hash() as linked (a cheap first check, this process only),
        # and a stable 64-bit key of the canonical URL (kept across attempts of a job).
        self.raw_seen: set[int] = set()
        self.seen: set[int] = set()
        self.domain_hop: dict[str, int] = dict.fromkeys(cfg.seed_domains, 0)
        self.referring_domains: set[str] = set()
        self.targets_checked: set[str] = set()
        self.target_statuses: dict[str, int] = {}
        self.target_answers: dict[str, tuple[int, str, str]] = {}

    def _snapshot(self) -> dict[str, Any]:
        """The frontier bookkeeping a resumed attempt needs (Scrapy keeps the queue itself)."""
        stats = self.stats
        pending = None
        if self.queued_at_start is not None:
            pending = (
                self.queued_at_start
                + stats.get_value("scheduler/enqueued/disk", 0)
                - stats.get_value("scheduler/dequeued/disk", 0)
            )
        return {
            "pending": pending,
            "dont_filter": self.dont_filter,
            "scheduled": self.scheduled,
            "target_scheduled": self.target_scheduled,
            "per_host": dict(self.per_host),
            "per_pattern": dict(self.per_pattern),
            "per_path_queries": dict(self.per_path_queries),
            "seen": pack_keys(self.seen),
            "domain_hop": self.domain_hop,
            "referring_domains": sorted(self.referring_domains),
            "targets_checked": sorted(self.targets_checked),
            "target_statuses": self.target_statuses,
            "target_answers": self.target_answers,
            "hops": self.hops,
            "inflight": {url: [_dump_ref(r) for r in refs] for url, refs in self.inflight.items()},
        }

    def _restore_hops(self, state: dict[str, Any]) -> None:
        """Redirect hops an earlier attempt learned, and the pages waiting on queued ones."""
        try:
            self.hops = {url: (hop[0], hop[1]) for url, hop in state.get("hops", {}).items()}
            self.inflight = {
                url: [_load_ref(r) for r in refs] for url, refs in state.get("inflight", {}).items()
            }
        except (TypeError, ValueError, IndexError) as exc:
            logger.warning("Saved redirect hops are unreadable (%r): starting without them", exc)
            self.hops, self.inflight = {}, {}

    def _restore(self, state: dict[str, Any]) -> None:
        self.dont_filter = bool(state.get("dont_filter"))
        self.scheduled = int(state["scheduled"])
        self.target_scheduled = int(state["target_scheduled"])
        self.per_host.update(state["per_host"])
        self.per_pattern.update(state["per_pattern"])
        self.per_path_queries.update(state["per_path_queries"])
        self.seen = unpack_keys(state["seen"])
        self.domain_hop.update(state["domain_hop"])
        self.referring_domains.update(state["referring_domains"])
        self.targets_checked.update(state["targets_checked"])
        self.target_statuses.update(state["target_statuses"])
        self.target_answers.update({u: tuple(a) for u, a in state["target_answers"].items()})

    @property
    def stats(self) -> Any:
        return self.crawler.stats

    def describe(self) -> dict[str, Any]:
        return {**self.config.describe(), "crawl_id": self.crawl_id}

    # -- requests -------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        cfg = self.config
        self.started = time.monotonic()
        self._check_resume()
        # The pipeline applies target checks to every link of the crawl when it ends: it
        # needs the answers earlier attempts got too.
        for url, (status, final_url, error) in list(self.target_answers.items()):
            yield self._answer(url, status, final_url, error)
        logger.info(
            "Crawl %s: backlinks of %s from %d seed site(s), depth %d, budget %d pages",
            self.crawl_id,
            cfg.target_domain,
            len(cfg.seeds),
            cfg.depth,
            cfg.max_pages,
        )
        if cfg.target_pages:
            request = self._request(cfg.target_url, ROLE_TARGET, 0, priority=10)
            if request is not None:
                yield request
        for seed in cfg.seeds:
            request = self._request(seed, ROLE_SEED, 0, priority=5)
            if request is not None:
                yield request

    def _check_resume(self) -> None:
        """A resumed job must find the queue it left; if not, its frontier starts again.

        Runs once the scheduler is open (it opens after the spider is built, before start()).
        """
        job = self.job
        if job is None:
            return
        scheduler = self.crawler.engine.scheduler if self.crawler.engine else None
        if isinstance(scheduler, Scheduler):  # another scheduler keeps its own queue
            self.queued_at_start = len(scheduler)
        self.stats.set_value("backlinks/jobdir/attempt", job.attempt)
        if job.resume == RESUME_SEEDS:
            self.stats.set_value("backlinks/jobdir/restarted_from_seeds", 1)
        if job.resume != RESUME_QUEUE or self.queued_at_start is None:
            return
        if self.queued_at_start == 0 and job.pending:
            logger.warning(
                "Crawl %s stopped with %d requests queued, but Scrapy's queue in JOBDIR is "
                "empty: attempt %d starts again from the seeds under the same crawl id",
                self.crawl_id,
                job.pending,
                job.attempt,
            )
            self.stats.set_value("backlinks/jobdir/restarted_from_seeds", 1)
            self._init_frontier()
            self.dont_filter = True  # the dupefilter remembers the lost requests
        else:
            logger.info(
                "Crawl %s: attempt %d continues with %d queued requests, %d of %d pages "
                "of the budget already scheduled",
                self.crawl_id,
                job.attempt,
                self.queued_at_start,
                self.scheduled,
                self.config.max_pages,
            )

    def _skip(self, reason: str) -> None:
        self.stats.inc_value(f"backlinks/spider/skipped/{reason}")

    def _request(
        self, url: str, role: str, hop: int, priority: int = 0, ref: Ref | None = None
    ) -> Request | None:
        """A request for url if the budget and the trap guards allow it, else None (counted).

        ``ref`` says which page linked it and how: if the URL turns out to be a redirect into the
        target, that page holds the backlink.
        """
        cfg = self.config
        if self.scheduled >= cfg.max_pages:
            self._skip("budget")
            return None
        canonical = try_canonical_url(url, drop_params=cfg.drop_params)
        if canonical is None:
            self._skip("bad_url")
            return None
        key = url_key(canonical)
        if key in self.seen:
            return None
        self.seen.add(key)
        reason = self._admit(canonical, role)
        if reason is not None:
            if reason != "seen":
                self._skip(reason)
            elif self.shared is not None and ref is not None and len(self.remote) < MAX_KNOWN_HOPS:
                # Another worker fetches it: if it is a hop, that worker credits this page.
                self.remote[ref[3].url] = canonical
                self.remote_refs.append((canonical, ref))
            return None
        if self.scheduled == cfg.max_pages:
            logger.info("Page budget of %d reached; finishing what is queued", cfg.max_pages)
        meta: dict[str, Any] = {"bl_role": role, "bl_hop": hop}
        if ref is not None:
            meta["bl_ref"], meta["bl_key"] = ref, ref[3].url
            if self.shared is None:
                self.inflight[ref[3].url] = []
            elif len(self.remote) < MAX_KNOWN_HOPS:
                # Any worker may fetch it: later links to it are handed over through Redis.
                self.remote[ref[3].url] = canonical
        if self.shared is not None:
            meta["bl_url"] = canonical  # answered to the other workers when fetched
        return Request(
            canonical,
            callback=self.parse,
            errback=self.on_error,
            priority=priority,
            meta=meta,
            dont_filter=self.dont_filter,
        )

    def _admit(self, canonical: str, role: str) -> str | None:
        """None if a new URL may be fetched (and counted), else why not.

        With a Redis frontier the same guards are counted in Redis, so the workers of a crawl
        spend one budget; "seen" then means another worker had the URL first.
        """
        cfg = self.config
        parts = urlsplit(canonical)
        host = parts.hostname or ""
        if self.shared is not None:
            answer = self.shared.admit(
                canonical, host, path_signature(canonical),
                f"{host}{parts.path}" if parts.query else "",
                is_target=role == ROLE_TARGET,
                skipped_extension=parts.path.lower().endswith(_SKIP_EXTENSIONS),
                repeated_segments=has_repeated_segments(canonical, cfg.trap_segment_repeats),
                limits=(cfg.max_pages, cfg.max_pages_per_host, cfg.target_pages,
                        cfg.trap_pattern_pages, cfg.trap_query_variants),
            )  # fmt: skip
            if answer.isdigit():
                self.scheduled = int(answer)
                return None
            if answer == "budget":
                self.scheduled = cfg.max_pages
            return answer
        if parts.path.lower().endswith(_SKIP_EXTENSIONS):
            return "not_html_extension"
        if role == ROLE_TARGET:
            if self.target_scheduled >= cfg.target_pages:
                return "target_pages"
        elif self.per_host[host] >= cfg.max_pages_per_host:
            return "host_cap"
        if has_repeated_segments(canonical, cfg.trap_segment_repeats):
            return "trap_repeated_segments"
        signature = path_signature(canonical)
        if self.per_pattern[signature] >= cfg.trap_pattern_pages:
            return "trap_url_pattern"
        if parts.query:
            path_key = f"{host}{parts.path}"
            if self.per_path_queries[path_key] >= cfg.trap_query_variants:
                return "trap_query_variants"
            self.per_path_queries[path_key] += 1
        self.per_pattern[signature] += 1
        self.per_host[host] += 1
        self.scheduled += 1
        if role == ROLE_TARGET:
            self.target_scheduled += 1
        return None

    # -- download guards ------------------------------------------------------------------------

    def _headers_received(
        self, headers: Any, body_length: int, request: Request, spider: Any = None
    ) -> None:
        """Skip non-HTML before its body is downloaded (a 200 MB video costs one header)."""
        if "bl_check" in request.meta and request.method == "GET":
            raise StopDownload(fail=False)  # a target check needs the status, not the body
        if "bl_role" not in request.meta:
            return  # robots.txt and other framework requests
        content_type = (headers.get(b"Content-Type") or b"").lower()
        if content_type and not any(t in content_type for t in _HTML_TYPES):
            self.stats.inc_value("backlinks/spider/not_html")
            raise StopDownload(fail=False)

    def _bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        """Cut a page at BACKLINKS_MAX_PAGE_BYTES: its head is still worth reading."""
        if "bl_role" not in request.meta:
            return
        received = request.meta.get("bl_bytes", 0) + len(data)
        request.meta["bl_bytes"] = received
        if received > self.config.max_page_bytes:
            request.meta["bl_cut"] = True
            self.stats.inc_value("backlinks/spider/page_cut")
            raise StopDownload(fail=False)

    def on_error(self, failure: Failure) -> Iterator[FetchFailure | Request]:
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if "bl_render" in request.meta:
            yield from self.renderer.failed(failure)  # the page is read raw instead
            return
        reason = failure.type.__name__ if failure.type else "Error"
        self.stats.inc_value(f"backlinks/spider/fetch_failed/{reason}")
        self._forget(request)
        logger.debug("Fetch failed: %s (%s)", request.url, failure.getErrorMessage())
        if failure.check(IgnoreRequest):
            return  # robots.txt said no: nothing is known about the page
        # The URL as requested (before redirects): the one its stored links carry.
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        yield FetchFailure(
            url=url, reason=reason, failed_at=datetime.now(UTC), crawl_id=self.crawl_id
        )

    # -- target checks --------------------------------------------------------------------------

    def _check_target(self, url: str) -> Iterator[Any]:
        """Ask a backlink's target URL once per crawl; a page already fetched answers itself."""
        if not self.check_targets or url in self.targets_checked:
            return
        known = self.target_statuses.get(url)
        if known is not None:
            self.targets_checked.add(url)
            if known >= 400:
                self.stats.inc_value("backlinks/spider/broken_targets")
            yield self._answer(url, known)
            return
        if len(self.targets_checked) >= self.max_target_checks:
            self._skip("target_checks")
            return
        self.targets_checked.add(url)
        self.stats.inc_value("backlinks/spider/target_checks")
        yield Request(
            url,
            method="HEAD",
            callback=self.on_target_check,
            errback=self.on_target_check_error,
            priority=CHECK_PRIORITY,
            meta={"bl_check": url},
            dont_filter=self.dont_filter,
        )

    def on_target_check(self, response: Response) -> Iterator[Any]:
        request = response.request
        assert request is not None
        url = response.meta["bl_check"]
        if request.method == "HEAD" and response.status in (405, 501):
            # Some servers refuse HEAD: ask with GET, whose body is cut at the headers.
            yield request.replace(url=url, method="GET", dont_filter=True)
            return
        if response.status >= 400:
            self.stats.inc_value("backlinks/spider/broken_targets")
        yield self._answer(url, response.status, response.url if response.url != url else "")

    def on_target_check_error(self, failure: Failure) -> Iterator[TargetCheck]:
        if failure.check(IgnoreRequest):
            return  # robots.txt forbids asking: unknown, not broken
        reason = failure.type.__name__ if failure.type else "Error"
        self.stats.inc_value(f"backlinks/spider/target_check_failed/{reason}")
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        yield self._answer(request.meta["bl_check"], 0, error=reason)

    def _answer(self, url: str, status: int, final_url: str = "", error: str = "") -> TargetCheck:
        """A target URL's answer, kept: a resumed attempt hands the earlier ones on again."""
        self.target_answers[url] = (status, final_url, error)
        return TargetCheck(
            url=url,
            status=status,
            final_url=final_url,
            error=error,
            checked_at=datetime.now(UTC),
            crawl_id=self.crawl_id,
        )

    # -- parsing --------------------------------------------------------------------------------

    def parse(self, response: Response) -> Iterator[Any]:
        cfg = self.config
        raw_again = self.renderer.unusable(response)
        if raw_again is not None:
            yield raw_again
            return
        now = datetime.now(UTC)
        if LANDED in response.meta:
            yield from self._hop_backlinks(response, now)
            return
        self._forget(response)  # not a hop
        if response.meta.get("bl_probe"):
            # Followed past the depth only because it looked like a redirect; it was not one.
            self.stats.inc_value("backlinks/spider/probe_not_redirect")
            return
        _, domain = _host_domain(response.url)
        # A redirect may have carried the request to another site: the final URL decides.
        role = response.meta.get("bl_role", ROLE_SITE)
        if domain == cfg.target_domain:
            role = ROLE_TARGET
        elif role == ROLE_TARGET:
            role = ROLE_SITE
        hop = min(response.meta.get("bl_hop", 0), self.domain_hop.get(domain, 1 << 30))
        record = PageRecord(
            url=response.url,
            status=response.status,
            is_target=role == ROLE_TARGET,
            is_seed=domain in cfg.seed_domains,
            hop=hop,
            rendered=is_rendered(response),
            fetched_at=now,
            crawl_id=self.crawl_id,
        )
        if role == ROLE_TARGET:
            self._remember_target_status(response)
        if response.status >= 400:
            self.stats.inc_value("backlinks/spider/http_error")
            yield record
            return
        content_type = (response.headers.get(b"Content-Type") or b"").lower()
        if not isinstance(response, TextResponse) or (
            content_type and not any(t in content_type for t in _HTML_TYPES)
        ):
            return  # counted when its headers arrived
        if len(response.body) > cfg.max_page_bytes:
            # What a br/zstd body inflated to (gzip is cut by PageSizeCapMiddleware), or the
            # last chunk past a cut download: only the capped head is parsed.
            if not response.meta.get("bl_cut"):
                response.meta["bl_cut"] = True
                self.stats.inc_value("backlinks/spider/page_cut")
            response = response.replace(body=response.body[: cfg.max_page_bytes])
        robots = response.headers.get(b"X-Robots-Tag")
        page = extract_page(
            response.text, response.url,
            robots_header=robots.decode("latin-1") if robots else None,
            rules=cfg.position_rules, context_chars=cfg.context_chars, text_chars=cfg.text_chars,
        )  # fmt: skip
        render = self.renderer.review(
            response, page, cfg.watched_domains if role != ROLE_TARGET else frozenset()
        )
        if render is not None:
            yield render  # read again in the browser; this raw read yields nothing
            return
        self.stats.inc_value("backlinks/spider/pages")
        record.title, record.lang, record.text = page.title, page.lang, page.text
        record.nofollow, record.outlinks_total = page.nofollow, len(page.links)

        # Canonical target URL -> (most prominent link, count, via URL when through a redirect).
        found: dict[str, tuple[Link, int, str | None]] = {}
        out_hosts: dict[str, list[int]] = {}
        follow: list[tuple[str, str, int, bool, Link]] = []
        watched = cfg.watched_domains
        hops = self.hops
        for link in page.links:
            link_host, link_domain = _host_domain(link.url)
            if not link_host:
                continue
            if hops and role != ROLE_TARGET:
                known = hops.get(link.url)
                if known is not None:  # a redirect into a watched site, seen before
                    self._collect(found, link, landed=known[0], via=known[1])
            if link_domain == domain:
                follow.append((link.url, role, hop, False, link))
                continue
            counts = out_hosts.setdefault(link_host, [0, 0])
            counts[0] += 1
            if not link.nofollow and not _NOFOLLOW_RELS.intersection(link.rel):
                counts[1] += 1
            if link_domain in watched:
                if role != ROLE_TARGET:
                    self._collect(found, link)
            elif role != ROLE_TARGET:
                if hop < cfg.depth:
                    follow.append((link.url, ROLE_SITE, hop + 1, False, link))
                elif self._names_watched(link.url):
                    # Past the depth, but it names the target: likely a tracking redirect to it.
                    follow.append((link.url, ROLE_SITE, hop + 1, True, link))

        record.out_hosts = [
            OutHost(host=h, links=n, followed=f)
            for h, (n, f) in sorted(out_hosts.items(), key=lambda kv: -kv[1][0])[:MAX_OUT_HOSTS]
        ]
        for target_url, (link, count, via) in found.items():
            yield from self._backlink(
                response.url, page.title, response.status, target_url, link, count, via, now
            )
        yield record
        yield from self._follow(follow, (response.url, page.title, response.status))

    def _backlink(
        self, source: str, title: str, status: int, target_url: str, link: Link, count: int,
        via: str | None, now: datetime,
    ) -> Iterator[Any]:  # fmt: skip
        cfg = self.config
        _, matched = _host_domain(target_url)
        self.referring_domains.add(_host_domain(source)[1])
        self.stats.inc_value("backlinks/spider/backlinks")
        if via is not None:
            self.stats.inc_value("backlinks/spider/redirect_backlinks")
        yield Backlink(
            source_url=source, target_url=target_url, anchor_text=link.anchor_text,
            rel=list(link.rel), nofollow=link.nofollow,
            link_type="redirect" if via is not None else link.link_type,
            position=link.position, context=link.context, occurrences=count,
            source_title=title, source_status=status, discovered_at=now,
            crawl_id=self.crawl_id, is_competitor_link=matched != cfg.target_domain,
            matched_domain=matched, via_url=via,
        )  # fmt: skip
        if matched == cfg.target_domain:
            yield from self._check_target(target_url)

    def _forget(self, request: Request | Response) -> list[Ref]:
        """A followed URL is answered (and not a hop): its waiting referrers, here and in the
        other workers' pages, are let go."""
        referrers = self.inflight.pop(request.meta.get("bl_key", ""), None) or []
        if self.shared is not None and "bl_url" in request.meta:
            self.shared.resolve(request.meta["bl_url"])
        return referrers

    def _dropped(self, request: Request, spider: Any = None) -> None:
        """A request the scheduler refused (a redirect to a URL already fetched) is answered."""
        if "bl_role" in request.meta:
            self._forget(request)

    def _hop_backlinks(self, response: Response, now: datetime) -> Iterator[Any]:
        """A followed link ended in a redirect into a watched site: backlinks of its linkers."""
        drop = self.config.drop_params
        landed = try_canonical_url(response.meta[LANDED], drop_params=drop)
        first = (response.meta.get("redirect_urls") or [response.url])[0]
        ref: Ref | None = response.meta.get("bl_ref")
        if landed is None or ref is None:
            self._forget(response)  # a seed that redirects into the target: no page links it
            return
        via = try_canonical_url(first, drop_params=drop) or first
        if len(self.hops) < MAX_KNOWN_HOPS:
            self.hops[ref[3].url] = (landed, via)
        refs = [ref, *(self.inflight.pop(ref[3].url, None) or ())]
        if self.shared is not None and "bl_url" in response.meta:
            # Pages (of this worker and the others) that linked it while it was in flight.
            queued = self.shared.resolve(response.meta["bl_url"], f"{landed}\t{via}")
            refs += [_load_ref(line) for line in queued]
        yield from self._credit_hop(refs, landed, via, now)

    def _credit_hop(self, refs: list[Ref], landed: str, via: str, now: datetime) -> Iterator[Any]:
        """Backlinks of the pages that link a hop, one per page (repeats counted)."""
        by_page: dict[str, tuple[str, int, dict[str, tuple[Link, int, str | None]]]] = {}
        for source, title, status, link in refs:
            _, _, found = by_page.setdefault(source, (title, status, {}))
            self._collect(found, link, landed=landed, via=via)
        for source, (title, status, found) in by_page.items():
            for target_url, (link, count, hop_via) in found.items():
                yield from self._backlink(
                    source, title, status, target_url, link, count, hop_via, now
                )

    def _names_watched(self, url: str) -> bool:
        """True when a URL's query carries a watched domain (``/go?u=https://target/…``)."""
        query = url.partition("?")[2]
        if not query:
            return False
        text = unquote(unquote(query)).lower()
        return any(domain in text for domain in self.config.watched_domains)

    def _remember_target_status(self, response: Response) -> None:
        """A fetched target page answers the check of its URL (and of the URL that redirected)."""
        drop = self.config.drop_params
        for url in (*response.meta.get("redirect_urls", ()), response.url):
            canonical = try_canonical_url(url, drop_params=drop)
            if canonical is not None:
                self.target_statuses.setdefault(canonical, response.status)

    def _collect(
        self,
        found: dict[str, tuple[Link, int, str | None]],
        link: Link,
        landed: str | None = None,
        via: str | None = None,
    ) -> None:
        """Merge repeats of one target URL on a page: keep the most prominent, count them.

        ``landed`` is where a redirect hop (``via``) leads; a direct link wins over a redirect
        to the same URL at the same prominence.
        """
        key = landed or try_canonical_url(link.url, drop_params=self.config.drop_params)
        if key is None:
            self.stats.inc_value("backlinks/spider/unparseable_link")
            return
        kept = found.get(key)
        if kept is None:
            found[key] = (link, 1, via)
        elif (PROMINENCE[link.position], via is not None) < (
            PROMINENCE[kept[0].position],
            kept[2] is not None,
        ):
            found[key] = (link, kept[1] + 1, via)
        else:
            found[key] = (kept[0], kept[1] + 1, kept[2])

    def _follow(
        self, candidates: list[tuple[str, str, int, bool, Link]], page: tuple[str, str, int]
    ) -> Iterator[Any]:
        for url, role, hop, probe, link in candidates:
            waiting = self.inflight.get(url)
            if waiting is not None:
                if len(waiting) < MAX_HOP_REFERRERS:
                    waiting.append((*page, link))  # answered if it turns out to be a hop
                continue
            if self.remote and url in self.remote:
                self.remote_refs.append((self.remote[url], (*page, link)))
                continue
            raw = hash(url)
            if raw in self.raw_seen:
                continue
            self.raw_seen.add(raw)
            if role == ROLE_SITE and not probe:
                _, domain = _host_domain(url)
                if self.domain_hop.get(domain, hop) < hop:
                    hop = self.domain_hop[domain]
                self.domain_hop.setdefault(domain, hop)
            request = self._request(url, role, hop, ref=(*page, link))
            if request is not None:
                if probe:
                    request.meta["bl_probe"] = True
                    self.stats.inc_value("backlinks/spider/redirect_probes")
                yield request
        if self.remote_refs:
            yield from self._refer_remote()

    def _refer_remote(self) -> Iterator[Any]:
        """A shared crawl: this page's links to URLs other workers fetch, in one Redis call."""
        assert self.shared is not None
        pending, self.remote_refs = self.remote_refs, []
        answers = self.shared.refer([(url, _dump_ref(ref)) for url, ref in pending])
        landed_refs: dict[str, list[Ref]] = {}
        for (_, ref), answer in zip(pending, answers, strict=True):
            if answer == "wait":
                continue  # queued for the worker fetching it
            self.remote.pop(ref[3].url, None)
            if answer:  # a known hop: this worker remembers it and credits the page now
                landed_refs.setdefault(answer, []).append(ref)
                if len(self.hops) < MAX_KNOWN_HOPS:
                    landed, _, via = answer.partition("\t")
                    self.hops[ref[3].url] = (landed, via)
        now = datetime.now(UTC)
        for answer, refs in landed_refs.items():
            landed, _, via = answer.partition("\t")
            yield from self._credit_hop(refs, landed, via, now)

    def _idle(self, spider: Any = None) -> None:
        """The fetching is over when the spider is last idle: what follows is bookkeeping."""
        self.stats.set_value(
            "backlinks/spider/crawl_seconds", round(time.monotonic() - self.started, 3)
        )

    def _closed(self, spider: Any, reason: str) -> None:
        if self.job is not None:
            # After Scheduler.close wrote Scrapy's queue: the job is now resumable as it is.
            self.job.close(reason, self._snapshot())
        logger.info(
            "Crawl %s %s: %d pages read, %d backlinks to %s from %d referring domains",
            self.crawl_id,
            reason,
            self.stats.get_value("backlinks/spider/pages", 0),
            self.stats.get_value("backlinks/spider/backlinks", 0),
            self.config.target_domain,
            len(self.referring_domains),
        )
