"""The focused frontier: fetch first the pages most likely to hold the links that matter.

A breadth-first crawl hands every discovered host the same share of the budget, whether it
writes about the target's niche or about football. ``Focus`` estimates, online and from what
the crawl has seen so far, what a host's pages are worth to this target:

- **relevance**: each fetched page's terms against the target's profile (the niche keywords
  and the target's own pages, weighted by a general-English IDF, wordfreq's): a cosine, as a
  0-100 figure. A host's relevance is the mean of its fetched pages', shrunk towards that of
  the pages linking it; a host not fetched yet has only that prior;
- **trust**: OPIC-style cash. The seeds hold it; every fetched page hands its host's trust
  (0.85 of it) to the hosts it links, shared out between them; a host's trust is
  ``1 - e^-cash``: linked by trusted pages, or by many, it earns more;
- **what it links**: a host already seen linking the target (or a competitor) is worth more
  of its pages.

A request's priority (``link_priority``) carries what the link says (the linking page's
relevance, its anchor and context); the host's part (``host_priority``) is added when the
request leaves the queue, from the host's estimate *at that moment*, so a host found off topic
after its links were queued sinks at once. ``FocusedPriorityQueue`` (Scrapy's
``SCHEDULER_PRIORITY_QUEUE``) does that per download slot, preferring slots with room; one pop
in ``1/explore`` goes to the host the crawl knows least instead (the fewest pages read), so
hosts the estimate ranks low or has not looked at still get a small share and it can correct
itself. With the shared Redis frontier (one queue of all the workers), its queue
(``backlink_spider.frontier.FocusedRedisQueue``) adds the host's part when the request is
pushed (``shared_priority``).

``BACKLINKS_FOCUS = False`` keeps breadth-first order; the estimates are still made, for the
coverage report (``coverage``): the budget spent on on-topic, off-topic and unknown hosts, the
hosts left unseen, ranked by their estimated value as suggested seeds, and the hosts that link
a competitor but not the target.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy.pqueues import DownloaderAwarePriorityQueue
from scrapy.utils.httpobj import urlparse_cached

from backlink_spider.vocabulary import (
    COVERAGE_BUDGET,
    COVERAGE_COMPETITOR_ONLY,
    COVERAGE_SUGGESTED,
    COVERAGE_UNCRAWLED,
    OFF_TOPIC,
    ON_TOPIC,
    UNKNOWN_TOPIC,
)
from pipelines.scoring.relevance import prior_rates, tokenize

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

    from backlink_spider.config import CrawlConfig

logger = logging.getLogger(__name__)

TOP_PRIORITY = 1000  # the target's own pages: its profile is what relevance is measured against
LINK_SPAN = 40  # the link's part of a priority: 0..LINK_SPAN
HOST_SPAN = 60  # the host's part: 0..HOST_SPAN
SEED_LINK = LINK_SPAN  # a seed's start page: as good as a link can be
DISCOVERED_LINK = 30  # a site Common Crawl's graph named
DAMPING = 0.85  # the share of a page's trust it hands on (PageRank's)
# The cosine with the profile at which a page's relevance is 50 (r / (r + HALF)), and the
# relevance from which a host is on topic: on the focus benchmark's web, pages of on-topic hosts
# are at cosines of 0.2-0.35, those of off-topic hosts sharing the sites' template at 0.05-0.09.
HALF = 0.12
ON_TOPIC_FROM = 50.0
PRIOR_PAGES = 0.5  # its linkers' relevance weighs against a host's own pages as this many pages
PROFILE_TERMS = 200  # terms of the profile kept (the target's pages' commonest, keywords first)
ANCHOR_TERMS = 40  # profile terms an anchor or context is matched against
MAX_HOSTS = 200_000  # hosts tracked; past that, new hosts are left to breadth-first order
SHOWN = 25  # hosts per list of the coverage report
_IDF_CACHE = 200_000

# Why a host was left (partly) unseen, most telling first.
WHY_ROBOTS, WHY_BUDGET, WHY_CAP, WHY_DEPTH, WHY_FAILED = (
    "robots",
    "budget",
    "cap",
    "depth",
    "unreachable",
)
_BUDGET_REASONS = frozenset({"budget", "frontier_full"})


@dataclass(slots=True)
class HostView:
    """What the crawl knows of one host so far (all counts; merged by summing)."""

    fetched: int = 0  # pages fetched with text
    relevance: float = 0.0  # the sum of their relevance (0-1 each)
    linked: int = 0  # pages of other hosts that link it
    linked_relevance: float = 0.0  # the sum of those pages' relevance
    cash: float = 0.0  # trust handed to it (OPIC)
    target_links: int = 0  # its pages' links to the target
    competitor_links: int = 0  # ... and to competitors
    admitted: int = 0  # URLs of it admitted to the frontier
    sent: int = 0  # of them, sent to be fetched
    refused: dict[str, int] = field(default_factory=dict)  # skip reason -> URLs
    failed: int = 0  # fetches that failed (network, robots.txt: see refused)
    seed: bool = False

    def as_list(self) -> list[Any]:
        return [
            self.fetched,
            round(self.relevance, 4),
            self.linked,
            round(self.linked_relevance, 4),
            round(self.cash, 4),
            self.target_links,
            self.competitor_links,
            self.admitted,
            self.sent,
            self.refused,
            self.failed,
            self.seed,
        ]

    @classmethod
    def from_list(cls, data: Sequence[Any]) -> HostView:
        view = cls(*data)
        view.refused = {str(k): int(v) for k, v in dict(view.refused).items()}
        return view

    def add(self, other: HostView) -> None:
        self.fetched += other.fetched
        self.relevance += other.relevance
        self.linked += other.linked
        self.linked_relevance += other.linked_relevance
        self.cash += other.cash
        self.target_links += other.target_links
        self.competitor_links += other.competitor_links
        self.admitted += other.admitted
        self.sent += other.sent
        for reason, n in other.refused.items():
            self.refused[reason] = self.refused.get(reason, 0) + n
        self.failed += other.failed
        self.seed = self.seed or other.seed


def _squash(cosine: float) -> float:
    return cosine / (cosine + HALF) if cosine > 0 else 0.0


class Focus:
    """The crawl's online estimates, per host (see the module); what a JOBDIR attempt saves."""

    def __init__(
        self,
        config: CrawlConfig,
        *,
        enabled: bool = True,
        explore: float = 0.1,
        stats: Any = None,
    ):
        self.enabled = enabled
        self.explore = min(1.0, max(0.0, explore))
        self.stats = stats
        self.seed_hosts = frozenset(_host_of(url) for url in config.seeds)
        self.target_domain = config.target_domain
        self.keywords = tuple(config.keywords)
        self._idf: dict[str, float] = {}
        # host -> its priority part, until what it is computed from moves (the queue asks for
        # every host with queued pages at every pop)
        self._cache: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        self.hosts: dict[str, HostView] = {}
        self.profile_counts: Counter[str] = Counter()
        self._profile: dict[str, float] = {}
        self._anchor_terms: frozenset[str] = frozenset()
        self._cache.clear()
        for host in self.seed_hosts:
            self._view(host).seed = True
        self._rebuild_profile()

    # -- the profile ----------------------------------------------------------------------------

    def idf(self, terms: Iterable[str]) -> list[float]:
        """General-English IDF of terms (wordfreq), cached: rare terms say what a page is about."""
        cache = self._idf
        terms = list(terms)
        if len(cache) > _IDF_CACHE:
            cache.clear()
        new = [t for t in dict.fromkeys(terms) if t not in cache]
        if new:
            for term, rate in zip(new, prior_rates(new), strict=True):
                cache[term] = 1.0 if math.isnan(rate) else -math.log(max(rate, 1e-12))
        return [cache.get(t, 1.0) for t in terms]

    def add_target_page(self, terms: Sequence[tuple[str, int]]) -> None:
        """A page of the target's own site: its terms join the profile."""
        self.profile_counts.update(dict(terms))
        self._rebuild_profile()

    def _rebuild_profile(self) -> None:
        counts = Counter(self.profile_counts)
        keyword_terms = [t for k in self.keywords for t in tokenize(k)]
        top = max(counts.values(), default=1)
        for term in keyword_terms:  # a keyword counts as much as the pages' commonest term
            counts[term] += top
        kept = counts.most_common(PROFILE_TERMS)
        weights = self.idf([t for t, _ in kept])
        vector = {t: (1 + math.log(c)) * w for (t, c), w in zip(kept, weights, strict=True)}
        norm = math.sqrt(sum(v * v for v in vector.values()))
        self._profile = {t: v / norm for t, v in vector.items()} if norm else {}
        ranked = sorted(self._profile, key=lambda t: -self._profile[t])
        self._anchor_terms = frozenset(ranked[:ANCHOR_TERMS])
        self._cache.clear()  # every host's relevance may read differently now

    def relevance(self, terms: Sequence[tuple[str, int]]) -> float | None:
        """A page's relevance to the target, 0-1 (a squashed cosine); None without a profile
        or without terms."""
        if not self._profile or not terms:
            return None
        idf = self._idf
        if any(t not in idf for t, _ in terms):
            self.idf([t for t, _ in terms])  # (which may start the cache afresh: all of them)
        dot = norm = 0.0
        profile, log = self._profile, math.log
        for term, count in terms:  # per page: a few hundred terms, every one a cache hit
            v = (1 + log(count)) * idf.get(term, 1.0)
            norm += v * v
            p = profile.get(term)
            if p is not None:
                dot += v * p
        return _squash(dot / math.sqrt(norm)) if norm else None

    def text_match(self, text: str) -> float:
        """How much of an anchor (or context) is profile terms: 0-1."""
        terms = tokenize(text) if text else []
        if not terms or not self._anchor_terms:
            return 0.0
        hits = sum(t in self._anchor_terms for t in terms)
        return min(1.0, 2.0 * hits / len(terms))

    # -- what the crawl saw ---------------------------------------------------------------------

    def _view(self, host: str) -> HostView:
        view = self.hosts.get(host)
        if view is None:
            view = HostView()
            if len(self.hosts) < MAX_HOSTS:
                self.hosts[host] = view
        return view

    def page(
        self,
        host: str,
        relevance: float | None,
        out_hosts: Iterable[tuple[str, int]],
        *,
        target_links: int = 0,
        competitor_links: int = 0,
    ) -> None:
        """A page of ``host`` was fetched: its relevance, the hosts it links (host, followed
        links) and the links into the watched domains it holds."""
        view = self._view(host)
        if relevance is not None:
            view.fetched += 1
            view.relevance += relevance
        view.target_links += target_links
        view.competitor_links += competitor_links
        self._cache.pop(host, None)
        trust = self.trust(host)
        linked = [(h, n) for h, n in out_hosts if h != host]
        followed = sum(n > 0 for _, n in linked)
        share = DAMPING * trust / followed if followed else 0.0
        for other, n in linked:
            peer = self._view(other)
            peer.linked += 1
            peer.linked_relevance += relevance if relevance is not None else 0.5
            if n > 0:
                peer.cash += share
            self._cache.pop(other, None)

    def admitted(self, host: str) -> None:
        self._view(host).admitted += 1

    def refused(self, host: str, reason: str) -> None:
        refused = self._view(host).refused
        refused[reason] = refused.get(reason, 0) + 1

    def sent(self, host: str) -> None:
        self._view(host).sent += 1

    def failed(self, host: str, reason: str | None = None) -> None:
        self._view(host).failed += 1
        if reason:
            self.refused(host, reason)

    # -- estimates ------------------------------------------------------------------------------

    def trust(self, host: str) -> float:
        view = self.hosts.get(host)
        if view is None:
            return 0.0
        return 1.0 if view.seed else 1.0 - math.exp(-view.cash)

    def host_relevance(self, host: str) -> float | None:
        """0-1: the host's fetched pages' mean, shrunk towards its linkers'; None: nothing
        known (no profile yet, nothing linked it with text)."""
        view = self.hosts.get(host)
        if view is None or not self._profile:
            return None
        prior = view.linked_relevance / view.linked if view.linked else None
        if not view.fetched:
            return prior
        if prior is None:
            return view.relevance / view.fetched
        return (view.relevance + PRIOR_PAGES * prior) / (view.fetched + PRIOR_PAGES)

    def host_value(self, host: str) -> float:
        """0-1: what a further page of the host is expected to be worth to the target."""
        view = self.hosts.get(host)
        if view is None:
            return 0.0
        relevance = self.host_relevance(host)
        links = 1.0 if view.target_links else 0.6 if view.competitor_links else 0.0
        return (
            0.45 * (0.5 if relevance is None else relevance)
            + 0.25 * self.trust(host)
            + (0.30 * links)
        )

    def host_priority(self, host: str) -> int:
        """The host's part of a priority, 0..HOST_SPAN (cached until the estimates move)."""
        value = self._cache.get(host)
        if value is None:
            value = round(HOST_SPAN * self.host_value(host))
            if len(self._cache) > MAX_HOSTS:
                self._cache.clear()
            self._cache[host] = value
        return value

    def link_priority(self, page_relevance: float | None, anchor: str, context: str) -> int:
        """The link's part of a priority, 0..LINK_SPAN: the linking page's relevance and what
        its anchor (or else its context) says."""
        page = 0.5 if page_relevance is None else page_relevance
        words = self.text_match(anchor)
        if words < 0.5:  # the context is read only when the anchor says little
            words = max(words, 0.5 * self.text_match(context))
        return round(LINK_SPAN * (0.7 * page + 0.3 * words))

    def topic(self, host: str) -> str:
        """on_topic, off_topic or unknown, from the host's own fetched pages."""
        view = self.hosts.get(host)
        if view is None or not view.fetched or not self._profile:
            return UNKNOWN_TOPIC
        return ON_TOPIC if 100 * view.relevance / view.fetched >= ON_TOPIC_FROM else OFF_TOPIC

    # -- the coverage report --------------------------------------------------------------------

    def coverage(self, watched: Iterable[str] = (), limit: int = SHOWN) -> dict[str, Any]:
        """What the crawl left unseen (see the module); the crawl record's ``coverage``."""
        watched = frozenset(watched)
        budget = dict.fromkeys((ON_TOPIC, OFF_TOPIC, UNKNOWN_TOPIC), 0)
        hosts = dict.fromkeys((ON_TOPIC, OFF_TOPIC, UNKNOWN_TOPIC), 0)
        uncrawled: Counter[str] = Counter()
        suggested: list[tuple[float, str, dict[str, Any]]] = []
        competitor_only: list[dict[str, Any]] = []
        for host, view in self.hosts.items():
            if _in(host, watched):
                continue
            topic = self.topic(host)
            budget[topic] += view.sent
            if view.sent:
                hosts[topic] += 1
            why = _why(view)
            if why is not None and not view.seed:
                uncrawled[why] += 1
                value = self.host_value(host)
                relevance = self.host_relevance(host)
                suggested.append(
                    (
                        -value,
                        host,
                        {
                            "host": host,
                            "value": round(100 * value),
                            "relevance": None if relevance is None else round(100 * relevance),
                            "trust": round(100 * self.trust(host)),
                            "linked_from": view.linked,
                            "pages": view.fetched,
                            "left": max(0, view.admitted - view.sent),
                            "why": why,
                            "links": _links(view),
                        },
                    )
                )
            if view.competitor_links and not view.target_links:
                competitor_only.append(
                    {
                        "host": host,
                        "pages": view.fetched,
                        "competitor_links": view.competitor_links,
                        "left": max(0, view.admitted - view.sent),
                        "why": why,
                    }
                )
        suggested.sort(key=lambda item: (item[0], item[1]))
        competitor_only.sort(key=lambda d: (d["why"] is None, -d["competitor_links"], d["host"]))
        return {
            COVERAGE_BUDGET: budget,
            "hosts": hosts,
            COVERAGE_UNCRAWLED: dict(sorted(uncrawled.items())),
            COVERAGE_SUGGESTED: [doc for _, _, doc in suggested[:limit]],
            COVERAGE_COMPETITOR_ONLY: competitor_only[:limit],
        }

    # -- what a JOBDIR attempt saves (and a shared crawl's workers hand to the last) ------------

    def state(self) -> dict[str, Any]:
        return {
            "hosts": {host: view.as_list() for host, view in self.hosts.items()},
            "profile": dict(self.profile_counts),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.merge(state)

    def merge(self, state: dict[str, Any]) -> None:
        for host, data in (state.get("hosts") or {}).items():
            self._view(str(host)).add(HostView.from_list(data))
        profile = state.get("profile") or {}
        if profile:
            self.profile_counts.update({str(k): int(v) for k, v in profile.items()})
            self._rebuild_profile()
        self._cache.clear()


def _host_of(url: str) -> str:
    from backlink_spider.classify import host_domain

    return host_domain(url if "://" in url else f"http://{url}/")[0]


def _in(host: str, domains: frozenset[str]) -> bool:
    return any(host == d or host.endswith(f".{d}") for d in domains)


def _links(view: HostView) -> str | None:
    if view.target_links:
        return "target"
    if view.competitor_links:
        return "competitor"
    return None


def _why(view: HostView) -> str | None:
    """Why a host's pages were (partly) left unseen, or None: crawled as far as it goes."""
    refused = view.refused
    left = view.admitted - view.sent
    if refused.get(WHY_ROBOTS) and not view.fetched:
        return WHY_ROBOTS
    if left > 0 or any(refused.get(r) for r in _BUDGET_REASONS):
        return WHY_BUDGET
    if refused.get("host_cap"):
        return WHY_CAP
    if not view.admitted and not view.fetched and view.linked:
        return WHY_DEPTH
    if view.failed and not view.fetched:
        return WHY_FAILED
    return None


# -- the queues ----------------------------------------------------------------------------------


def focus_of(crawler: Crawler) -> Focus | None:
    """The crawl's focus when the focused order is on (None: breadth-first, or not a niche
    crawl)."""
    from backlink_spider.run import CrawlRun

    run = CrawlRun.get(crawler)
    focus = run.focus if run is not None else None
    return focus if focus is not None and focus.enabled else None


class FocusedPriorityQueue(DownloaderAwarePriorityQueue):
    """Scrapy's per-slot queue (each host its own priority queue, on disk with JOBDIR) that
    pops from the slot whose best request, plus its host's current estimate, is worth most,
    among the slots with room for another download; one pop in ``1/explore`` goes to the host
    with the fewest pages read (the best of those). Once the page budget is spent it is
    empty to the engine, so the crawl ends and a JOBDIR keeps what was left."""

    def __init__(self, crawler: Crawler, *args: Any, **kwargs: Any):
        from backlink_spider.run import CrawlRun

        super().__init__(crawler, *args, **kwargs)
        self._per_slot = max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8))
        self._pops = 0
        # The spider (built before the scheduler) made them; none for another spider.
        run = CrawlRun.get(crawler)
        self._admission = run.admission if run is not None else None
        self._focus = focus_of(crawler)

    def _spent(self) -> bool:
        return self._admission is not None and self._admission.exhausted

    def _next_slot(self, stats: list[tuple[int, str]], *, update_state: bool) -> str:
        focus = self._focus
        if focus is None:
            return super()._next_slot(stats, update_state=update_state)
        if update_state:
            self._pops += 1
        stride = round(1 / focus.explore) if focus.explore else 0
        explore = bool(stride) and self._pops % stride == 0
        best: tuple[bool, int, int, int, str] | None = None
        hosts, per_slot = focus.hosts, self._per_slot
        for active, slot in stats:
            queue = self.pqueues[slot]
            if queue.curprio is None:
                continue
            score = -queue.curprio + focus.host_priority(slot)
            # Exploring: the host the crawl knows least (fewest pages read), the best of those.
            view = hosts.get(slot) if explore else None
            known = view.fetched if view is not None else 0
            key = (active >= per_slot, known, -score, active, slot)
            if best is None or key < best:
                best = key
        if best is None:
            return super()._next_slot(stats, update_state=update_state)
        if update_state and focus.stats is not None:
            focus.stats.inc_value(f"backlinks/focus/{'explored' if explore else 'chosen'}")
        return best[4]

    def pop(self) -> Request | None:
        if self._spent():
            return None
        return super().pop()

    def __len__(self) -> int:
        return 0 if self._spent() else super().__len__()


def shared_priority(focus: Focus | None, request: Request) -> int:
    """A request's priority in the shared frontier's one queue: the host's estimate added when
    it is pushed (the pushing worker's own), or in ``1/explore`` of the pushes an explorer's
    priority instead, so that low-ranked hosts keep a share."""
    priority = request.priority
    if focus is None or priority >= TOP_PRIORITY or "bl_role" not in request.meta:
        return priority
    explore = bool(focus.explore) and random.random() < focus.explore
    if focus.stats is not None:
        focus.stats.inc_value(f"backlinks/focus/{'explored' if explore else 'chosen'}")
    if explore:
        return max(priority, LINK_SPAN + HOST_SPAN // 2)
    return priority + focus.host_priority(urlparse_cached(request).hostname or "")


def make_focus(config: CrawlConfig, settings: Any) -> Focus:
    """The crawl's focus, from its settings (its stats are given once the crawl starts)."""
    return Focus(
        config,
        enabled=settings.getbool("BACKLINKS_FOCUS", True),
        explore=settings.getfloat("BACKLINKS_FOCUS_EXPLORE", 0.1),
    )
