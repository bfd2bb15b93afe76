"""Admission: which new URLs the crawl may fetch, under one page budget and the spider-trap guards.

The rules are written once, in ``AdmissionRules.plan``: for a canonical URL it lists the checks
("this counter is below that limit", in order; a static refusal is a check that always fails)
and the counters an admitted URL adds to. Two implementations apply a plan:

- ``LocalAdmission`` counts in this process; its state is what a JOBDIR attempt saves;
- ``SharedAdmission`` counts in Redis for the workers of a shared crawl, applying the same plan
  atomically with one generic Lua script (check every counter, then count), so two workers
  spend one budget and the rules cannot drift between Python and Lua.

The page budget is spent on pages fetched, not on URLs admitted: ``spend`` counts a request
as it leaves for the downloader (``PageBudgetMiddleware``), and once the budget is spent no
new URL is admitted. What is admitted meanwhile waits in the frontier, where the focused order
(``backlink_spider.focus``) chooses among it; ``max_frontier`` bounds the URLs waiting (a URL
refused for that, ``frontier_full``, is asked again at its next link).

``admit`` answers ``None`` (admitted and counted) or why not: a skip reason (counted by the
caller as ``backlinks/spider/skipped/<reason>``), ``SEEN`` (this process had the URL), or
``SEEN_ELSEWHERE`` (another worker of a shared crawl had it first).

Spider traps are judged by evidence, not by how many pages share a URL shape (digits and query
values blanked: ``/post/1234/`` and ``/calendar/2024/05/`` alike). The spider reports each page
it fetched (``observe``: a fingerprint of its text with digit runs blanked). A fetched page whose
fingerprint was already seen in its shape is a *repeat*: a calendar's empty days, a search that
found nothing, the session-id variants of one page are one text. Per shape:

- the first ``trap_probation_pages`` pages are admitted on sight: no site is judged on less;
- after them, the shape's fetched pages decide. ``trap_repeats`` repeats close it
  (``trap_repeated_content``); once all but ``trap_repeats - 1`` of its first
  ``trap_probation_pages`` pages have been fetched without repeating (an ordinary site's posts
  and products), it is proven and admits the rest. Until one or the other, a URL of it is
  deferred (``trap_unproven``): not marked seen, so the next link to it asks again;
- so a trap costs exactly ``trap_probation_pages`` pages per shape, whatever the order pages
  were fetched in (workers of a shared crawl agree on it): an endless calendar's months are one
  year of texts, then the same again, and can never be proven;
- the query variants of one path (``?color=…&size=…``, ``?sessionid=…``) stay capped, counted
  with digits blanked so that ``?p=123`` and ``?p=124`` are one variant (numeric ids are
  judged by the evidence); the plain count per shape is only a high backstop.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import blake2b
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.httpobj import urlparse_cached

from backlink_spider.urls import has_repeated_segments, path_signature, query_variant

if TYPE_CHECKING:
    import redis
    from scrapy.crawler import Crawler
    from scrapy.http import Request

    from backlink_spider.config import CrawlConfig
    from backlink_spider.frontier import SharedCrawl

logger = logging.getLogger(__name__)

SEEN = "seen"  # this process had the URL already
SEEN_ELSEWHERE = "seen_elsewhere"  # another worker of the shared crawl had it first
SILENT = frozenset({SEEN, SEEN_ELSEWHERE})  # answers that are not skips worth counting
TRAP_UNPROVEN = "trap_unproven"  # deferred: its shape waits for a verdict (so does the URL)
FRONTIER_FULL = "frontier_full"  # deferred: too many URLs wait to be fetched already
BUDGET = "budget"  # the page budget is spent

ROLE_TARGET = "target"
ROLE_SEED = "seed"
ROLE_SITE = "site"
ROLE_DISCOVERED = "discovered"  # a site Common Crawl's graph named: a start site, not a seed

_SKIP_EXTENSIONS = tuple(f".{ext}" for ext in IGNORED_EXTENSIONS)
_PAGES = "pages"  # the counter of URLs admitted
_SPENT = "spent"  # the counter of the page budget: requests sent to be fetched
_PENDING = "pending"  # URLs admitted and not sent yet: the frontier
_ALWAYS = ""  # the counter of a static refusal: 0 >= 0 always refuses
_NO_LIMIT = 1 << 53  # the high end of a bound that has none (Lua numbers are doubles)
_DIGITS_RE = re.compile(r"[0-9]+")
# Counters of a URL shape: pages admitted, fetched pages whose text repeats another's of the
# shape, and fetched pages that did not (distinct, or without text: an error page).
_SHAPE, _REPEATS, _OTHERS = "s:", "r:", "d:"


def url_key(canonical: str) -> int:
    """A stable 64-bit key of a URL (``hash()`` changes between processes)."""
    return int.from_bytes(blake2b(canonical.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Check:
    """Refuse with ``reason`` when ``counter`` has reached ``limit`` and, besides, every
    ``when`` bound holds: (counter, low, high) for ``low <= counter < high``.

    ``soft``: the refusal is for now (a deferral): the URL is not marked seen.
    """

    reason: str
    counter: str
    limit: int
    when: tuple[tuple[str, int, int], ...] = ()
    soft: bool = False


@dataclass(frozen=True)
class Plan:
    checks: tuple[Check, ...]
    counts: tuple[str, ...]  # counters an admitted URL adds one to (besides the budget)
    # (counter, member): the counter counts distinct members: one more when the member's own
    # counter (one of ``counts``) is still 0
    distinct: tuple[tuple[str, str], ...] = ()


def text_fingerprint(text: str) -> int | None:
    """A page's text as a 64-bit key, digit runs blanked and spaces collapsed: a calendar's
    days, or a page and its session-id variants, give one key. None for a page without text
    (it proves nothing either way)."""
    words = _DIGITS_RE.sub("#", text).split()
    if not words:
        return None
    return url_key(" ".join(words))


def _shape_print(shape: str, fingerprint: int) -> str:
    """One member of a shape's fingerprints (what the shared crawl's ``prints`` set holds)."""
    return f"{shape}\n{fingerprint:016x}"


@dataclass(frozen=True)
class AdmissionRules:
    """The page budget and the guards, from the crawl's configuration."""

    max_pages: int
    max_pages_per_host: int
    target_pages: int
    trap_pattern_pages: int  # a backstop: pages of one URL shape, whatever the evidence
    trap_query_variants: int
    trap_segment_repeats: int
    trap_repeats: int = 5  # fetched pages of a shape repeating another's text: the shape closes
    trap_probation_pages: int = 20  # pages of a shape admitted before its pages must show
    max_frontier: int = 100_000  # URLs admitted and waiting to be fetched

    @classmethod
    def from_config(cls, config: CrawlConfig) -> AdmissionRules:
        return cls(
            max_pages=config.max_pages,
            max_pages_per_host=config.max_pages_per_host,
            target_pages=config.target_pages,
            trap_pattern_pages=config.trap_pattern_pages,
            trap_query_variants=config.trap_query_variants,
            trap_segment_repeats=config.trap_segment_repeats,
            trap_repeats=config.trap_repeats,
            trap_probation_pages=config.trap_probation_pages,
            max_frontier=config.max_frontier,
        )

    @property
    def proof(self) -> int:
        """Pages of a shape fetched without repeating that prove it: all but
        ``trap_repeats - 1`` of its probation."""
        return max(1, self.trap_probation_pages - self.trap_repeats + 1)

    def plan(self, canonical: str, role: str) -> Plan:
        """What a new URL is checked against, in order, and what it counts once admitted.

        The target's own pages have their own small budget instead of the per-host cap (they
        still count towards their host). A URL shape (digits and query values blanked) is
        judged by its fetched pages once past its probation, and the query variants of one
        path are capped (see the module). The deferral comes last: a URL that a rule refuses
        for good is refused for good at once.
        """
        parts = urlsplit(canonical)
        host = parts.hostname or ""
        checks: list[Check] = []
        counts: list[str] = []
        distinct: list[tuple[str, str]] = []
        if parts.path.lower().endswith(_SKIP_EXTENSIONS):
            checks.append(Check("not_html_extension", _ALWAYS, 0))
        if role == ROLE_TARGET:
            checks.append(Check("target_pages", "target", self.target_pages))
            counts.append("target")
        else:
            checks.append(Check("host_cap", f"h:{host}", self.max_pages_per_host))
        counts.append(f"h:{host}")
        if has_repeated_segments(canonical, self.trap_segment_repeats):
            checks.append(Check("trap_repeated_segments", _ALWAYS, 0))
        shape = path_signature(canonical)
        admitted, probation = _SHAPE + shape, self.trap_probation_pages
        past_probation = ((admitted, probation, _NO_LIMIT),)
        checks.append(Check("trap_url_pattern", admitted, self.trap_pattern_pages))
        checks.append(
            Check("trap_repeated_content", _REPEATS + shape, self.trap_repeats, past_probation)
        )
        counts.append(admitted)
        if parts.query:
            variants = f"q:{host}{parts.path}"
            variant = f"v:{host}{parts.path}?{query_variant(parts.query)}"
            new_variant = ((variant, 0, 1),)
            checks.append(
                Check("trap_query_variants", variants, self.trap_query_variants, new_variant)
            )
            counts.append(variant)
            distinct.append((variants, variant))
        checks.append(Check(FRONTIER_FULL, _PENDING, self.max_frontier, soft=True))
        counts.append(_PENDING)
        unproven = ((_OTHERS + shape, 0, self.proof),)
        checks.append(Check(TRAP_UNPROVEN, admitted, probation, unproven, soft=True))
        return Plan(tuple(checks), tuple(counts), tuple(distinct))


class Admission:
    """One interface for both implementations (see the module)."""

    def __init__(self, rules: AdmissionRules, seed_domains: Iterable[str] = ()):
        self.rules = rules
        self.seed_domains = tuple(seed_domains)
        self.reset()

    def reset(self) -> None:
        """As at the start of a crawl (a JOBDIR attempt whose queue was lost starts again)."""
        self.scheduled = 0  # URLs admitted so far (all workers' for a shared crawl)
        self.spent = 0  # of the page budget: requests sent to be fetched (all workers')
        self.seen: set[int] = set()  # keys of canonical URLs this process considered
        self._linked: set[int] = set()  # hash() of URLs as linked: a cheap first filter
        self._sighted = 0  # hash() of the URL first_sight last let through
        self.site_hops: dict[str, int] = dict.fromkeys(self.seed_domains, 0)  # fewest site hops

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.rules.max_pages

    def spend(self) -> bool:
        """One page of the budget, for a request leaving for the downloader; False when the
        budget is spent (the request is not fetched)."""
        raise NotImplementedError

    def release(self) -> None:
        """An admitted URL left the frontier without spending the budget (robots.txt refused
        it, the scheduler dropped it): its place in the frontier is free again."""
        raise NotImplementedError

    def first_sight(self, url: str) -> bool:
        """True the first time this process meets a URL as linked (before canonicalizing)."""
        raw = hash(url)
        if raw in self._linked:
            return False
        self._linked.add(raw)
        self._sighted = raw
        return True

    def site_hop(self, domain: str, hop: int) -> int:
        """The site's distance from the seeds: the fewest hops any page of it was linked at."""
        known = self.site_hops.setdefault(domain, hop)
        return min(known, hop)

    def admit(self, canonical: str, role: str) -> str | None:
        if self.exhausted:
            return BUDGET
        key = url_key(canonical)
        if key in self.seen:
            return SEEN
        self.seen.add(key)
        plan = self.rules.plan(canonical, role)
        answer = self._apply(canonical, key, plan)
        if answer is not None and any(c.soft and c.reason == answer for c in plan.checks):
            # Deferred: the next link to it asks again (the link the spider just let through
            # is forgotten by first_sight too).
            self.seen.discard(key)
            self._linked.discard(self._sighted)
        return answer

    def observe(self, canonical: str, fingerprint: int | None) -> bool:
        """A page of an admitted URL was fetched (``canonical``: the URL as admitted, before
        redirects): the evidence of its shape. ``fingerprint``: ``text_fingerprint`` of its
        text, None when it has none (an error page, a page without text): it is no repeat.

        True when this page gave the shape its verdict (closed, or proven): the URLs of it
        that were deferred can be asked again now, and only now."""
        shape = path_signature(canonical)
        member = None if fingerprint is None else _shape_print(shape, fingerprint)
        count = self._observe(shape, member)
        if count < 0:  # the shape's repeats
            return -count == self.rules.trap_repeats
        return count == self.rules.proof

    def _apply(self, canonical: str, key: int, plan: Plan) -> str | None:
        raise NotImplementedError

    def _observe(self, shape: str, member: str | None) -> int:
        """Count the page: the shape's repeats so far, negated, or its other pages so far."""
        raise NotImplementedError

    # -- what a JOBDIR attempt saves ----------------------------------------------------------

    def state(self) -> dict[str, Any]:
        from backlink_spider.jobdir import pack_keys

        return {
            "scheduled": self.scheduled,
            "spent": self.spent,
            "seen": pack_keys(self.seen),
            "site_hops": self.site_hops,
        }

    def restore(self, state: dict[str, Any]) -> None:
        from backlink_spider.jobdir import unpack_keys

        self.scheduled = int(state["scheduled"])
        # A job saved before the budget was spent on fetches counted it on admission.
        self.spent = int(state.get("spent", self.scheduled))
        self.seen = unpack_keys(state["seen"])
        self.site_hops.update({str(k): int(v) for k, v in state["site_hops"].items()})


class LocalAdmission(Admission):
    """Counters in this process."""

    def reset(self) -> None:
        super().reset()
        self.counts: Counter[str] = Counter()
        self.prints: set[int] = set()  # keys of (shape, text fingerprint) of fetched pages

    def _apply(self, canonical: str, key: int, plan: Plan) -> str | None:
        counts = self.counts
        for check in plan.checks:
            if counts[check.counter] >= check.limit and all(
                low <= counts[name] < high for name, low, high in check.when
            ):
                return check.reason
        for name, member in plan.distinct:
            if counts[member] == 0:
                counts[name] += 1
        for name in plan.counts:
            counts[name] += 1
        self.scheduled += 1
        return None

    def spend(self) -> bool:
        if self.spent >= self.rules.max_pages:
            return False
        self.spent += 1
        self.counts[_PENDING] -= 1
        return True

    def release(self) -> None:
        self.counts[_PENDING] -= 1

    def _observe(self, shape: str, member: str | None) -> int:
        if member is not None:
            key = url_key(member)
            if key in self.prints:
                self.counts[_REPEATS + shape] += 1
                return -self.counts[_REPEATS + shape]
            self.prints.add(key)
        self.counts[_OTHERS + shape] += 1
        return self.counts[_OTHERS + shape]

    def state(self) -> dict[str, Any]:
        from backlink_spider.jobdir import pack_keys

        return {**super().state(), "counts": dict(self.counts), "prints": pack_keys(self.prints)}

    def restore(self, state: dict[str, Any]) -> None:
        from backlink_spider.jobdir import unpack_keys

        super().restore(state)
        self.counts.update({str(k): int(v) for k, v in state["counts"].items()})
        if "prints" in state:  # a job saved before the evidence rules has none
            self.prints |= unpack_keys(state["prints"])


# KEYS: seen, counts, inflight. ARGV: URL key, max pages, number of checks, number of distinct
# pairs, then each check as reason, counter, limit, soft (0/1), number of bounds, then its
# bounds as (counter, low, high) triples; then the distinct (counter, member) pairs, then the
# counters to add to. -> "budget", SEEN_ELSEWHERE, a check's reason, or the pages admitted so far.
_APPLY_PLAN = f"""
local counts = KEYS[2]
local function count(field)
  if field == '' then return 0 end
  return tonumber(redis.call('HGET', counts, field) or '0')
end
if count('{_SPENT}') >= tonumber(ARGV[2]) then return '{BUDGET}' end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return '{SEEN_ELSEWHERE}' end
local at = 5
for _ = 1, tonumber(ARGV[3]) do
  local refuse = count(ARGV[at + 1]) >= tonumber(ARGV[at + 2])
  local bounds = tonumber(ARGV[at + 4])
  for j = at + 5, at + 3 + 3 * bounds, 3 do
    local value = count(ARGV[j])
    refuse = refuse and value >= tonumber(ARGV[j + 1]) and value < tonumber(ARGV[j + 2])
  end
  if refuse then
    if ARGV[at + 3] ~= '1' then redis.call('SADD', KEYS[1], ARGV[1]) end
    return ARGV[at]
  end
  at = at + 5 + 3 * bounds
end
redis.call('SADD', KEYS[1], ARGV[1])
for i = at, at + 2 * tonumber(ARGV[4]) - 1, 2 do
  if count(ARGV[i + 1]) == 0 then redis.call('HINCRBY', counts, ARGV[i], 1) end
end
for i = at + 2 * tonumber(ARGV[4]), #ARGV do redis.call('HINCRBY', counts, ARGV[i], 1) end
redis.call('SADD', KEYS[3], ARGV[1])
return tostring(redis.call('HINCRBY', counts, '{_PAGES}', 1))
"""

# KEYS: counts. ARGV: max pages -> the pages spent, or -1 when the budget is spent already.
_SPEND = f"""
local spent = tonumber(redis.call('HGET', KEYS[1], '{_SPENT}') or '0')
if spent >= tonumber(ARGV[1]) then return -1 end
redis.call('HINCRBY', KEYS[1], '{_PENDING}', -1)
return redis.call('HINCRBY', KEYS[1], '{_SPENT}', 1)
"""

# KEYS: counts, prints. ARGV: the shape, its page's fingerprint member ('' for none). A repeat
# adds to the shape's repeats, any other page to its others.
_OBSERVE = f"""
if ARGV[2] ~= '' and redis.call('SADD', KEYS[2], ARGV[2]) == 0 then
  return -redis.call('HINCRBY', KEYS[1], '{_REPEATS}' .. ARGV[1], 1)
end
return redis.call('HINCRBY', KEYS[1], '{_OTHERS}' .. ARGV[1], 1)
"""


def shared_key(url: str) -> str:
    """A URL's key in the shared crawl's Redis sets."""
    return hashlib.blake2b(url.encode(), digest_size=12).hexdigest()


class SharedAdmission(Admission):
    """Counters in Redis, shared by every worker of the crawl (``backlink_spider.frontier``).

    An admitted URL is also put in flight (the ``inflight`` set), so pages of other workers
    that link it while it is fetched can be credited if it turns out to be a redirect hop. The
    fingerprints of fetched pages, per shape, are the ``prints`` set.
    """

    def __init__(
        self,
        rules: AdmissionRules,
        server: redis.Redis,
        keys: Iterable[str],
        seed_domains: Iterable[str] = (),
    ):
        super().__init__(rules, seed_domains)
        self.keys = list(keys)  # seen, counts, inflight, prints
        self._script = server.register_script(_APPLY_PLAN)
        self._observe_script = server.register_script(_OBSERVE)
        self._spend_script = server.register_script(_SPEND)
        self._server = server

    def _apply(self, canonical: str, key: int, plan: Plan) -> str | None:
        args: list[Any] = [
            shared_key(canonical),
            self.rules.max_pages,
            len(plan.checks),
            len(plan.distinct),
        ]
        for check in plan.checks:
            args += [check.reason, check.counter, check.limit, int(check.soft), len(check.when)]
            for bound in check.when:
                args += bound
        for pair in plan.distinct:
            args += pair
        args += plan.counts
        answer = self._script(keys=self.keys, args=args)
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if text.isdigit():
            self.scheduled = int(text)
            return None
        if text == BUDGET:
            self.spent = max(self.spent, self.rules.max_pages)
        return text

    def spend(self) -> bool:
        spent = int(self._spend_script(keys=[self.keys[1]], args=[self.rules.max_pages]))
        if spent < 0:
            self.spent = max(self.spent, self.rules.max_pages)
            return False
        self.spent = spent
        return True

    def release(self) -> None:
        self._server.hincrby(self.keys[1], _PENDING, -1)

    def _observe(self, shape: str, member: str | None) -> int:
        return int(
            self._observe_script(
                keys=[self.keys[1], self.keys[3]], args=[shape, "" if member is None else member]
            )
        )


def make_admission(config: CrawlConfig, shared: SharedCrawl | None = None) -> Admission:
    """Local admission, or the shared crawl's when there is one. The crawl's start sites (its
    seeds, and the discovered sites it visits) are 0 site hops away."""
    rules = AdmissionRules.from_config(config)
    starts = (*config.seed_domains, *sorted(config.discovered_domains - config.seed_domains))
    if shared is None:
        return LocalAdmission(rules, starts)
    return shared.admission(rules, starts)


class BudgetSpent(IgnoreRequest):
    """The page budget was spent before this request could be fetched."""


class PageBudgetMiddleware:
    """Spends the page budget as page requests leave for the downloader (after robots.txt said
    yes): the budget buys pages fetched, in the order the frontier chose, not the first URLs
    discovered. A page read again (in the browser, after a retry or a redirect) is the same
    page: its request carries ``bl_spent``. Requests that are not pages (robots.txt, target
    checks) pass."""

    def __init__(self, crawler: Crawler):
        from backlink_spider.run import CrawlRun

        self.run = CrawlRun.of(crawler)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageBudgetMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        meta = request.meta
        if "bl_role" not in meta or "bl_spent" in meta:
            return
        admission = self.run.admission
        if admission is None:
            return
        host = urlparse_cached(request).hostname or ""
        focus = self.run.focus
        if not admission.spend():
            if focus is not None:
                focus.refused(host, BUDGET)
            raise BudgetSpent("page budget spent")
        meta["bl_spent"] = True
        self.stats.inc_value("backlinks/spider/budget_spent")
        if focus is not None:
            focus.sent(host)
        if admission.spent == admission.rules.max_pages:
            logger.info("Page budget of %d reached; finishing what is downloading", admission.spent)
