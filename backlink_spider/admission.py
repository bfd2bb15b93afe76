"""Admission: which new URLs the crawl may fetch, under one page budget and the spider-trap guards.

The rules are written once, in ``AdmissionRules.plan``: for a canonical URL it lists the checks
("this counter is below that limit", in order; a static refusal is a check that always fails)
and the counters an admitted URL adds to. Two implementations apply a plan:

- ``LocalAdmission`` counts in this process; its state is what a JOBDIR attempt saves;
- ``SharedAdmission`` counts in Redis for the workers of a shared crawl, applying the same plan
  atomically with one generic Lua script (check every counter, then count), so two workers
  spend one budget and the rules cannot drift between Python and Lua.

``admit`` answers ``None`` (admitted and counted) or why not: a skip reason (counted by the
caller as ``backlinks/spider/skipped/<reason>``), ``SEEN`` (this process had the URL), or
``SEEN_ELSEWHERE`` (another worker of a shared crawl had it first).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import blake2b
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.linkextractors import IGNORED_EXTENSIONS

from backlink_spider.urls import has_repeated_segments, path_signature

if TYPE_CHECKING:
    import redis

    from backlink_spider.config import CrawlConfig
    from backlink_spider.frontier import SharedCrawl

SEEN = "seen"  # this process had the URL already
SEEN_ELSEWHERE = "seen_elsewhere"  # another worker of the shared crawl had it first
SILENT = frozenset({SEEN, SEEN_ELSEWHERE})  # answers that are not skips worth counting

ROLE_TARGET = "target"
ROLE_SEED = "seed"
ROLE_SITE = "site"

_SKIP_EXTENSIONS = tuple(f".{ext}" for ext in IGNORED_EXTENSIONS)
_PAGES = "pages"  # the counter of the page budget
_ALWAYS = ""  # the counter of a static refusal: 0 >= 0 always refuses


def url_key(canonical: str) -> int:
    """A stable 64-bit key of a URL (``hash()`` changes between processes)."""
    return int.from_bytes(blake2b(canonical.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Check:
    """Refuse with ``reason`` when ``counter`` has reached ``limit``."""

    reason: str
    counter: str
    limit: int


@dataclass(frozen=True)
class Plan:
    checks: tuple[Check, ...]
    counts: tuple[str, ...]  # counters an admitted URL adds one to (besides the budget)


@dataclass(frozen=True)
class AdmissionRules:
    """The page budget and the guards, from the crawl's configuration."""

    max_pages: int
    max_pages_per_host: int
    target_pages: int
    trap_pattern_pages: int
    trap_query_variants: int
    trap_segment_repeats: int

    @classmethod
    def from_config(cls, config: CrawlConfig) -> AdmissionRules:
        return cls(
            max_pages=config.max_pages,
            max_pages_per_host=config.max_pages_per_host,
            target_pages=config.target_pages,
            trap_pattern_pages=config.trap_pattern_pages,
            trap_query_variants=config.trap_query_variants,
            trap_segment_repeats=config.trap_segment_repeats,
        )

    def plan(self, canonical: str, role: str) -> Plan:
        """What a new URL is checked against, in order, and what it counts once admitted.

        The target's own pages have their own small budget instead of the per-host cap (they
        still count towards their host). A URL shape (digits and query values blanked) and
        the query variants of one path are capped: calendars and faceted search are endless.
        """
        parts = urlsplit(canonical)
        host = parts.hostname or ""
        checks: list[Check] = []
        counts: list[str] = []
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
        shape = f"s:{path_signature(canonical)}"
        checks.append(Check("trap_url_pattern", shape, self.trap_pattern_pages))
        counts.append(shape)
        if parts.query:
            variants = f"q:{host}{parts.path}"
            checks.append(Check("trap_query_variants", variants, self.trap_query_variants))
            counts.append(variants)
        return Plan(tuple(checks), tuple(counts))


class Admission:
    """One interface for both implementations (see the module)."""

    def __init__(self, rules: AdmissionRules, seed_domains: Iterable[str] = ()):
        self.rules = rules
        self.seed_domains = tuple(seed_domains)
        self.reset()

    def reset(self) -> None:
        """As at the start of a crawl (a JOBDIR attempt whose queue was lost starts again)."""
        self.scheduled = 0  # pages admitted so far (all workers' for a shared crawl)
        self.seen: set[int] = set()  # keys of canonical URLs this process considered
        self._linked: set[int] = set()  # hash() of URLs as linked: a cheap first filter
        self.site_hops: dict[str, int] = dict.fromkeys(self.seed_domains, 0)  # fewest site hops

    @property
    def exhausted(self) -> bool:
        return self.scheduled >= self.rules.max_pages

    def first_sight(self, url: str) -> bool:
        """True the first time this process meets a URL as linked (before canonicalizing)."""
        raw = hash(url)
        if raw in self._linked:
            return False
        self._linked.add(raw)
        return True

    def site_hop(self, domain: str, hop: int) -> int:
        """The site's distance from the seeds: the fewest hops any page of it was linked at."""
        known = self.site_hops.setdefault(domain, hop)
        return min(known, hop)

    def admit(self, canonical: str, role: str) -> str | None:
        if self.exhausted:
            return "budget"
        key = url_key(canonical)
        if key in self.seen:
            return SEEN
        self.seen.add(key)
        return self._apply(canonical, key, self.rules.plan(canonical, role))

    def _apply(self, canonical: str, key: int, plan: Plan) -> str | None:
        raise NotImplementedError

    # -- what a JOBDIR attempt saves ----------------------------------------------------------

    def state(self) -> dict[str, Any]:
        from backlink_spider.jobdir import pack_keys

        return {
            "scheduled": self.scheduled,
            "seen": pack_keys(self.seen),
            "site_hops": self.site_hops,
        }

    def restore(self, state: dict[str, Any]) -> None:
        from backlink_spider.jobdir import unpack_keys

        self.scheduled = int(state["scheduled"])
        self.seen = unpack_keys(state["seen"])
        self.site_hops.update({str(k): int(v) for k, v in state["site_hops"].items()})


class LocalAdmission(Admission):
    """Counters in this process."""

    def reset(self) -> None:
        super().reset()
        self.counts: Counter[str] = Counter()

    def _apply(self, canonical: str, key: int, plan: Plan) -> str | None:
        counts = self.counts
        for check in plan.checks:
            if counts[check.counter] >= check.limit:
                return check.reason
        for name in plan.counts:
            counts[name] += 1
        self.scheduled += 1
        return None

    def state(self) -> dict[str, Any]:
        return {**super().state(), "counts": dict(self.counts)}

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        self.counts.update({str(k): int(v) for k, v in state["counts"].items()})


# KEYS: seen, counts, inflight. ARGV: URL key, max pages, number of checks, then the checks as
# (reason, counter, limit) triples, then the counters to add to.
# -> "budget", SEEN_ELSEWHERE, a check's reason, or the pages admitted so far.
_APPLY_PLAN = f"""
local counts = KEYS[2]
local function count(field)
  if field == '' then return 0 end
  return tonumber(redis.call('HGET', counts, field) or '0')
end
if count('{_PAGES}') >= tonumber(ARGV[2]) then return 'budget' end
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return '{SEEN_ELSEWHERE}' end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local b = 4 + 3 * i
  if count(ARGV[b + 1]) >= tonumber(ARGV[b + 2]) then return ARGV[b] end
end
for i = 4 + 3 * n, #ARGV do redis.call('HINCRBY', counts, ARGV[i], 1) end
redis.call('SADD', KEYS[3], ARGV[1])
return tostring(redis.call('HINCRBY', counts, '{_PAGES}', 1))
"""


def shared_key(url: str) -> str:
    """A URL's key in the shared crawl's Redis sets."""
    return hashlib.blake2b(url.encode(), digest_size=12).hexdigest()


class SharedAdmission(Admission):
    """Counters in Redis, shared by every worker of the crawl (``backlink_spider.frontier``).

    An admitted URL is also put in flight (the ``inflight`` set), so pages of other workers
    that link it while it is fetched can be credited if it turns out to be a redirect hop.
    """

    def __init__(
        self,
        rules: AdmissionRules,
        server: redis.Redis,
        keys: Iterable[str],
        seed_domains: Iterable[str] = (),
    ):
        super().__init__(rules, seed_domains)
        self.keys = list(keys)  # seen, counts, inflight
        self._script = server.register_script(_APPLY_PLAN)

    def _apply(self, canonical: str, key: int, plan: Plan) -> str | None:
        args: list[Any] = [shared_key(canonical), self.rules.max_pages, len(plan.checks)]
        for check in plan.checks:
            args += [check.reason, check.counter, check.limit]
        args += plan.counts
        answer = self._script(keys=self.keys, args=args)
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if text.isdigit():
            self.scheduled = int(text)
            return None
        if text == "budget":
            self.scheduled = self.rules.max_pages
        return text


def make_admission(config: CrawlConfig, shared: SharedCrawl | None = None) -> Admission:
    """Local admission, or the shared crawl's when there is one."""
    rules = AdmissionRules.from_config(config)
    if shared is None:
        return LocalAdmission(rules, config.seed_domains)
    return shared.admission(rules, config.seed_domains)
