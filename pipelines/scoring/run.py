"""Score a target's stored backlinks: the thin layer between MongoDB and the math.

Reads the target's profile (``pipelines.target_profile``: seeds, keywords, competitors), the
host graph, the backlinks and the pages it needs, in batches with projections; computes site
trust (TrustRank of each host, ``hosts.site_trust``) and topic relevance; writes ``scores``
{site_trust, link_trust, relevance, quality, reasons, scored_at} and ``reciprocal`` on every
backlink and per-target host figures in ``hosts`` with unordered bulk updates. Nothing here is
scored twice: a rerun overwrites.

Two trust figures, because they answer two questions: ``site_trust`` is how trustworthy the
linking site is (its host's TrustRank minus distrust, 0-100), ``link_trust`` how much of that
this link passes. A nofollow link on a seed site is a strong site passing nothing: an outreach
opportunity, not spam. Link trust is site trust times:

- rel: nofollow / ugc / sponsored pass ``BACKLINKS_SCORE_NOFOLLOW_WEIGHT`` (default 0);
- position: content 1, related 0.5, unknown 0.7, header/navigation/sidebar 0.5,
  footer/comment 0.3;
- type: image 0.85, through a redirect 0.9;
- the page's external links: √(20 / links) when it gives away more than 20;
- a target page that is gone (404, 410): 0, until it is back or redirected;
- site-wide: footer, sidebar, navigation or header links from m ≥ 3 pages of one site, at least
  half of its stored pages, are boilerplate: each gets 1/m;
- repetition: a site's links rank by what they pass and its k-th link passes 1/k, so a site
  linking from many pages counts about once;
- a reciprocal link (the target's site links back to the source's site,
  ``vocabulary.reciprocal_sites``, the rule the stored ``reciprocal`` flag follows): 0.8.

A host the seeds do not reach, or reach only faintly, has its Common Crawl harmonic-centrality
rank as a floor when ``scrapy discover`` found it (``trust.rank_prior``: at most
``BACKLINKS_SCORE_RANK_WEIGHT`` of 100), never a farm's host; its reasons say "Common Crawl rank
#12,345".

Each factor below 1 is named in the reasons with what it leaves ("footer link: counted at
30%", "the 4th link from this site: counted at 25%").

quality = 100 · (√((0.1 + 0.9·t)(0.1 + 0.9·r)) - 0.1) / 0.9, t = link trust/100, r = relevance/100.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from pymongo import UpdateOne
from scrapy.settings import BaseSettings, Settings

from backlink_spider.urls import UrlError, get_resolver, parse_seed, url_host
from backlink_spider.vocabulary import (
    EXTERNAL_LINKS,
    FARM_REASON,
    GONE_STATUSES,
    LINK_TRUST,
    MATCHED_DOMAIN,
    OLD_HOST_FIELDS,
    QUALITY,
    REASONS,
    RECIPROCAL,
    RECIPROCAL_REASON,
    RELEVANCE,
    SCORED_AT,
    SCORES,
    SITE_DISTRUST,
    SITE_DISTRUST_RAW,
    SITE_TRUST,
    SITE_TRUST_RAW,
    SOURCE_DOMAIN,
    SOURCE_HOST,
    TARGET_STATUS,
    counted,
    is_reciprocal,
    nofollow_flags,
    out_hosts_of,
    reciprocal_sites,
)
from pipelines.scoring.graph import EdgeScale, HostGraph, load_host_graph
from pipelines.scoring.relevance import (
    Relevance,
    Rows,
    SummedRows,
    TermSpace,
    TopicProfile,
    score_links,
    tfidf,
    tokenize,
    topic_profile,
)
from pipelines.scoring.trust import (
    DAMPING,
    MAX_ITERATIONS,
    RANK_WEIGHT,
    TOLERANCE,
    TRUST_DECADES,
    combine_trust,
    farm_suspects,
    log_scale,
    rank_prior,
    seed_hops,
    seed_trust,
    top_anchor,
)
from pipelines.store import in_groups
from pipelines.target_profile import DiscoveredSource, scoring_profile

logger = logging.getLogger(__name__)

__all__ = [
    "ScoringConfig",
    "ScoringError",
    "link_factor",
    "quality",
    "score_target",
]

POSITION_FACTORS = {
    "content": 1.0,
    "related": 0.5,
    "unknown": 0.7,
    "header": 0.5,
    "navigation": 0.5,
    "sidebar": 0.5,
    "footer": 0.3,
    "comment": 0.3,
}
# How a link's position is named in its reasons (any other: "<position> link").
POSITION_REASONS = {"unknown": "position unknown", "related": "story card or related-links block"}
TYPE_FACTORS = {"image": 0.85, "redirect": 0.9}
TYPE_REASONS = {"image": "image link", "redirect": "via redirect"}
OUTLINK_ALLOWANCE = 20  # external links a page can give before each one is worth less
RECIPROCAL_FACTOR = 0.8
SITE_WIDE_MIN_LINKS = 3
BOILERPLATE = frozenset({"footer", "sidebar", "navigation", "header", "related"})
SITE_WIDE_SHARE = 0.5  # of the source site's stored pages
FARM_DISTRUST = 50.0  # distrust (0-100) from which a host is in a link-farm neighbourhood
NEAR_DISTRUST = 20.0
QUALITY_FLOOR = 0.1
# ``terms`` (see relevance.page_terms); ``title`` and ``text`` of pages an older version stored.
PAGE_FIELDS = {"_id": 0, "url": 1, "host": 1, "domain": 1, "terms": 1, "title": 1, "text": 1}
LINK_FIELDS = {
    "_id": 1,
    "source_url": 1,
    "source_host": 1,
    "source_domain": 1,
    "matched_domain": 1,
    "anchor_text": 1,
    "rel": 1,
    "nofollow": 1,
    "link_type": 1,
    "position": 1,
    "context": 1,
    "source_title": 1,
    "is_competitor_link": 1,
    "target_url": 1,
    TARGET_STATUS: 1,
}


class ScoringError(Exception):
    """Scoring cannot run; the message is one line a user can act on."""


@dataclass(frozen=True)
class ScoringConfig:
    """Scoring options from ``BACKLINKS_*`` settings, checked once."""

    nofollow_weight: float = 0.0
    damping: float = DAMPING
    tolerance: float = TOLERANCE
    max_iterations: int = MAX_ITERATIONS
    trust_decades: float = TRUST_DECADES
    distrust_seeds: tuple[str, ...] = ()
    distrust_strength: float = 1.0
    rank_weight: float = RANK_WEIGHT
    edge_scale: EdgeScale = "log"
    batch_size: int = 500

    @classmethod
    def from_settings(cls, settings: Any = None) -> ScoringConfig:
        if settings is None:
            return cls()
        if not isinstance(settings, BaseSettings):
            settings = Settings(dict(settings) if isinstance(settings, Mapping) else None)
        try:
            config = cls(
                nofollow_weight=settings.getfloat("BACKLINKS_SCORE_NOFOLLOW_WEIGHT", 0.0),
                damping=settings.getfloat("BACKLINKS_SCORE_DAMPING", DAMPING),
                tolerance=settings.getfloat("BACKLINKS_SCORE_TOLERANCE", TOLERANCE),
                max_iterations=settings.getint("BACKLINKS_SCORE_MAX_ITERATIONS", MAX_ITERATIONS),
                trust_decades=settings.getfloat("BACKLINKS_SCORE_TRUST_DECADES", TRUST_DECADES),
                distrust_seeds=tuple(
                    s.strip() for s in settings.getlist("BACKLINKS_DISTRUST_SEEDS") if s.strip()
                ),
                distrust_strength=settings.getfloat("BACKLINKS_SCORE_DISTRUST_STRENGTH", 1.0),
                rank_weight=settings.getfloat("BACKLINKS_SCORE_RANK_WEIGHT", RANK_WEIGHT),
                edge_scale=cast(EdgeScale, settings.get("BACKLINKS_SCORE_EDGE_SCALE") or "log"),
                batch_size=max(1, settings.getint("BACKLINKS_MONGO_BATCH_SIZE", 500)),
            )
        except (TypeError, ValueError) as exc:
            raise ScoringError(f"bad scoring setting: {exc}") from None
        config.check()
        return config

    def check(self) -> None:
        if not 0.0 <= self.nofollow_weight <= 1.0:
            raise ScoringError("BACKLINKS_SCORE_NOFOLLOW_WEIGHT must be between 0 and 1")
        if not 0.0 < self.damping < 1.0:
            raise ScoringError("BACKLINKS_SCORE_DAMPING must be between 0 and 1 (exclusive)")
        if self.tolerance <= 0 or self.max_iterations < 1:
            raise ScoringError("BACKLINKS_SCORE_TOLERANCE and _MAX_ITERATIONS must be positive")
        if self.trust_decades <= 0:
            raise ScoringError("BACKLINKS_SCORE_TRUST_DECADES must be positive")
        if self.distrust_strength < 0:
            raise ScoringError("BACKLINKS_SCORE_DISTRUST_STRENGTH must not be negative")
        if not 0.0 <= self.rank_weight <= 1.0:
            raise ScoringError("BACKLINKS_SCORE_RANK_WEIGHT must be between 0 and 1")
        if self.edge_scale not in {"log", "count", "binary"}:
            raise ScoringError("BACKLINKS_SCORE_EDGE_SCALE must be log, count or binary")


def quality(trust: float, relevance: float) -> float:
    """Both needed: a floored geometric mean of trust and relevance, 0-100.

    100 · (√((f + (1-f)·t)(f + (1-f)·r)) - f) / (1 - f), f = 0.1, t and r in 0-1: 0 when both
    are 0, 100 when both are 100; a trusted off-topic link or an on-topic nofollow link still
    ranks above a link with neither.
    """
    f = QUALITY_FLOOR
    t, r = min(max(trust / 100.0, 0.0), 1.0), min(max(relevance / 100.0, 0.0), 1.0)
    return 100.0 * (math.sqrt((f + (1 - f) * t) * (f + (1 - f) * r)) - f) / (1 - f)


# -- reading --------------------------------------------------------------------------------------


def _hosts_of(values: Iterable[Any]) -> list[str]:
    hosts = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            hosts.append(url_host(parse_seed(value)))
        except UrlError:
            logger.warning("Ignoring seed %r: not a host or URL", value)
    return list(dict.fromkeys(hosts))


def _under(graph: HostGraph, domains: Iterable[str]) -> dict[str, list[int]]:
    """Graph hosts under each domain (the host itself or a subdomain), one pass over the hosts."""
    wanted: dict[str, list[int]] = {d: [] for d in domains if d}
    if not wanted:
        return {}
    for host, i in graph.index.items():
        name = host
        while True:
            members = wanted.get(name)
            if members is not None:
                members.append(i)
            dot = name.find(".")
            if dot < 0:
                break
            name = name[dot + 1 :]
    return wanted


def _domain_members(graph: HostGraph, hosts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Graph hosts under each given host's registered domain, with teleport shares: every
    domain gets an equal share, split among its hosts, so a site with many hosts is no louder."""
    resolver = get_resolver()
    domains = dict.fromkeys(resolver.registered_domain(h) or h for h in hosts)
    ids: list[int] = []
    shares: list[float] = []
    for members in _under(graph, domains).values():
        for i in members:
            ids.append(i)
            shares.append(1.0 / len(members))
    return np.asarray(ids, dtype=np.int64), np.asarray(shares)


def _read_links(db: Any, domains: list[str], batch: int) -> list[dict[str, Any]]:
    """In ``_id`` order: ties between a site's links go the same way whatever order (or how many
    workers) stored them."""
    cursor = db.backlinks.find({MATCHED_DOMAIN: {"$in": domains}}, LINK_FIELDS, batch_size=batch)
    return list(cursor.sort("_id", 1))


def _target_checks(
    links: list[dict[str, Any]], checks: Mapping[str, tuple[int, str]], now: datetime
) -> dict[int, dict[str, Any]]:
    """The target check fields of each link whose target URL was checked (by link index),
    its status set on the link too, so that it is scored by what the target answers now."""
    checked: dict[int, dict[str, Any]] = {}
    for i, link in enumerate(links):
        answer = checks.get(str(link.get("target_url") or ""))
        if answer is not None:
            status, final_url = answer
            link[TARGET_STATUS] = status
            checked[i] = {
                TARGET_STATUS: status,
                "target_final_url": final_url or None,
                "target_checked_at": now,
            }
    return checked


def _page_text(doc: Mapping[str, Any]) -> str:
    """The text of a page stored before pages kept their terms."""
    return f"{doc.get('title') or ''}\n{doc.get('text') or ''}"


# -- link factors ---------------------------------------------------------------------------------


def _hop_reason(graph: HostGraph, hops: np.ndarray, origin: np.ndarray, i: int) -> str:
    h = int(hops[i])
    if h < 0:
        return "no trust path from seeds"
    if h == 0:
        return "seed site"
    seed = graph.hosts[int(origin[i])]
    return f"{h} hop{'s' if h > 1 else ''} from seed {seed}"


def ordinal(n: int) -> str:
    """2 → "2nd", 11 → "11th", 23 → "23rd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def link_factors(
    link: Mapping[str, Any], page: Mapping[str, Any] | None = None, nofollow_weight: float = 0.0
) -> tuple[list[tuple[float, str]], list[str]]:
    """What the link itself passes before repetition: the factors below 1, each with its
    reason (rel, position, type, the page's external links, a target page that is gone), and
    the reasons of what keeps it whole ("in-content link")."""
    cuts: list[tuple[float, str]] = []
    kept: list[str] = []

    def cut(what: str, value: float) -> None:
        cuts.append((value, counted(what, value)))

    page_nofollow = bool(page and page.get("nofollow"))
    flags = nofollow_flags(link.get("rel") or (), bool(link.get("nofollow")) or page_nofollow)
    if flags:
        cut(", ".join(flags), nofollow_weight)
    position = link.get("position") or "unknown"
    if position not in POSITION_FACTORS:
        position = "unknown"
    if position == "content":
        kept.append("in-content link")
    else:
        cut(POSITION_REASONS.get(position, f"{position} link"), POSITION_FACTORS[position])
    link_type = link.get("link_type") or "text"
    if link_type in TYPE_FACTORS:
        cut(TYPE_REASONS[link_type], TYPE_FACTORS[link_type])
    external = int(page.get("external_links", 0)) if page else 0
    if external > OUTLINK_ALLOWANCE:
        cut(f"page gives away {external} external links", math.sqrt(OUTLINK_ALLOWANCE / external))
    status = link.get(TARGET_STATUS)
    if status in GONE_STATUSES:
        cut(f"links to a missing page ({status})", 0.0)
    return cuts, kept


def cut_reasons(cuts: list[tuple[float, str]]) -> list[str]:
    """The factors' reasons, the one that takes the most first (ties in the order found)."""
    return [reason for _, reason in sorted(cuts, key=lambda cut: cut[0])]


def link_factor(
    link: Mapping[str, Any], page: Mapping[str, Any] | None = None, nofollow_weight: float = 0.0
) -> tuple[float, list[str]]:
    """What the link itself passes (0-1) before repetition, and its reasons: the factors that
    take the most first, then what keeps it whole (``link_factors``)."""
    cuts, kept = link_factors(link, page, nofollow_weight)
    return math.prod(value for value, _ in cuts), [*cut_reasons(cuts), *kept]


# -- the run --------------------------------------------------------------------------------------


def score_target(
    db: Any,
    target_domain: str,
    *,
    settings: Any = None,
    on_step: Callable[[str], None] | None = None,
    target_checks: Mapping[str, tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """Score every stored backlink of ``target_domain`` (and of its competitors) in ``db``.

    Writes ``scores`` = {site_trust, link_trust, relevance, quality, reasons, scored_at} and
    ``reciprocal`` on each backlink and a ``hosts`` document per graph host (``_id``
    "target|host", with ``site_trust`` and ``site_distrust``); returns a summary of the run.
    Raises ScoringError when nothing is stored for the target, or a setting is bad.
    ``on_step`` is told each step as it begins (``backlink_spider.progress.Steps``).
    ``target_checks``: a crawl's answers of the target URLs it checked, (status, final URL)
    by URL, scored with and written in the same update of each link (the summary's
    ``domains`` and ``broken``: the links' matched domains, and how many answered 400+).
    """
    step = on_step or (lambda name: None)
    config = ScoringConfig.from_settings(settings)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    now = datetime.now(UTC)

    profile = scoring_profile(db, target_domain)
    competitors = [c for c in profile.competitors if c != target_domain]
    domains = [target_domain, *competitors]
    links = _read_links(db, domains, config.batch_size)
    checked = _target_checks(links, target_checks or {}, now)
    if not links and not profile.seeds and not db.crawls.find_one({"target": target_domain}):
        raise ScoringError(
            f"no crawl or backlinks of {target_domain} stored (crawl it first: "
            f"scrapy crawl niche -a target={target_domain} -a seeds=...)"
        )
    seed_hosts = _hosts_of(profile.seeds)
    distrust_hosts = _hosts_of([*config.distrust_seeds, *profile.distrust])
    keywords = list(profile.keywords)
    if not seed_hosts:
        logger.warning(
            "No trusted seeds in the profile of %s: every host's trust will be 0 "
            "(add some: scrapy target %s --add-seeds ...)",
            target_domain,
            target_domain,
        )

    # -- graph and trust
    step(f"the link graph of {len(links):,} backlinks")
    t0 = time.perf_counter()
    source_hosts = list(dict.fromkeys(str(lk.get(SOURCE_HOST) or "") for lk in links))
    source_hosts = [h for h in source_hosts if h]
    graph = load_host_graph(db, extra_hosts=[*seed_hosts, *distrust_hosts, *source_hosts])
    timings["graph"] = time.perf_counter() - t0

    step(f"site trust over {len(graph.hosts):,} hosts")
    t0 = time.perf_counter()
    weights = graph.weights(config.nofollow_weight, config.edge_scale)
    seed_ids, seed_shares = _domain_members(graph, seed_hosts)
    iteration: dict[str, Any] = {
        "damping": config.damping,
        "tol": config.tolerance,
        "max_iter": config.max_iterations,
    }
    trust_rank = seed_trust(weights, seed_ids, seed_shares if seed_ids.size else None, **iteration)
    trust_rel = trust_rank.scores
    distrust_ids, distrust_shares = _domain_members(graph, distrust_hosts)
    if distrust_ids.size:
        distrust_raw = seed_trust(
            weights, distrust_ids, distrust_shares, reverse=True, **iteration
        ).scores
    else:
        distrust_raw = np.zeros(graph.n)
    distrust_rel = distrust_raw
    combined = combine_trust(trust_rel, distrust_rel, strength=config.distrust_strength)
    anchor = top_anchor(combined)
    host_trust = log_scale(combined / anchor, decades=config.trust_decades)
    distrust = log_scale(distrust_rel, decades=config.trust_decades)
    hops, origin = seed_hops(weights, seed_ids)
    farm = farm_suspects(graph.links, host_trust >= 1.0) | (distrust >= FARM_DISTRUST)
    # A host the web at large ranks high is not 0 because the seeds do not reach it: its
    # Common Crawl rank (found by ``scrapy discover``) is a floor, never for a farm's host.
    cc_rank = _cc_ranks(graph, profile.discovered)
    prior = rank_prior(cc_rank, weight=config.rank_weight)
    by_rank = (prior > host_trust) & ~farm
    host_trust = np.where(by_rank, prior, host_trust)
    timings["trust"] = time.perf_counter() - t0

    # -- relevance
    step("relevance: reading the linking sites' pages")
    t0 = time.perf_counter()
    relevances, pages_meta, domain_pages = _relevance(
        db, links, domains, keywords, config.batch_size
    )
    timings["relevance"] = time.perf_counter() - t0

    # -- link scores
    step("writing the scores")
    t0 = time.perf_counter()
    linked_back = {domain: reciprocal_sites(db, domain) for domain in domains}
    updates = _link_scores(
        links,
        graph,
        host_trust,
        hops,
        origin,
        farm,
        distrust,
        np.where(by_rank, cc_rank, 0),
        relevances,
        pages_meta,
        domain_pages,
        linked_back,
        config,
        now,
        checked,
    )
    for batch in _batches(updates, config.batch_size):
        db.backlinks.bulk_write(batch, ordered=False)
    backlinks_per_host = Counter(
        str(lk.get(SOURCE_HOST)) for lk in links if lk.get(MATCHED_DOMAIN) == target_domain
    )
    host_ops = _host_ops(
        target_domain,
        graph,
        trust_rank.scores,
        host_trust,
        distrust_raw,
        distrust,
        hops,
        farm,
        seed_ids,
        distrust_ids,
        backlinks_per_host,
        cc_rank,
        now,
    )
    for batch in _batches(host_ops, config.batch_size):
        db.hosts.bulk_write(batch, ordered=False)
    db.hosts.delete_many({"target": target_domain, SCORED_AT: {"$lt": now}})
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    own = sum(1 for lk in links if lk.get(MATCHED_DOMAIN) == target_domain)
    summary = {
        "target": target_domain,
        "profile": profile.describe(),
        "backlinks": own,
        "competitor_backlinks": len(links) - own,
        "hosts": graph.n,
        "edges": graph.edges,
        "seeds": int(seed_ids.size),
        "distrust_seeds": int(distrust_ids.size),
        "iterations": trust_rank.iterations,
        "converged": trust_rank.converged,
        "trust_top": anchor,
        "domains": domains,
        "broken": sum(1 for check in checked.values() if check[TARGET_STATUS] >= 400),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "scored_at": now,
    }
    logger.info(
        "Scored %d backlinks of %s (%d competitor links) over %d hosts in %.2f s",
        own,
        target_domain,
        len(links) - own,
        graph.n,
        timings["total"],
    )
    return summary


def _cc_ranks(graph: HostGraph, discovered: Iterable[DiscoveredSource]) -> np.ndarray:
    """Each graph host's Common Crawl harmonic-centrality position (0: none known): its own,
    from a host-level lookup, else its registered domain's."""
    positions: dict[tuple[str, str], int] = {}
    for source in discovered:
        if source.harmonic_pos:
            positions[(source.level, source.name)] = source.harmonic_pos
    ranks = np.zeros(graph.n, dtype=np.int64)
    if not positions:
        return ranks
    resolver = get_resolver()
    for host, i in graph.index.items():
        pos = positions.get(("host", host)) or positions.get(
            ("domain", resolver.registered_domain(host) or host)
        )
        if pos:
            ranks[i] = pos
    return ranks


def _batches(ops: list[UpdateOne], size: int) -> Iterable[list[UpdateOne]]:
    for start in range(0, len(ops), size):
        yield ops[start : start + size]


class _Corpus:
    """The texts relevance compares, over one term space. Every stored page read counts in
    the document frequencies and in its site's summed row (``SummedRows``); only the pages a
    link is on and the matched domains' own pages keep a row of their own, so memory follows
    the links, not the pages. A link whose page is not stored gets a row of its title, context
    and anchor."""

    def __init__(self, source_hosts: list[str], link_pages: set[str]) -> None:
        self.space = TermSpace()
        self.rows = Rows()
        self.sites = SummedRows(source_hosts)
        self.link_pages = link_pages
        self.row_of_url: dict[str, int] = {}
        self.read: set[str] = set()  # URLs of the pages read
        self.domain_pages: Counter[str] = Counter()  # stored pages per registered domain

    def add_page(self, doc: Mapping[str, Any], *, keep: bool = False) -> int | None:
        """Read a stored page once; its row when it keeps one (``keep``, or a link's page)."""
        url = str(doc.get("url") or "")
        if url in self.read:
            return self.row_of_url.get(url)
        stored = doc.get("terms")
        if isinstance(stored, str):
            encoded = self.space.encode_stored(stored, document=True)
        else:
            encoded = self.space.encode(_page_text(doc), document=True)
        self.sites.add(str(doc.get("host") or ""), *encoded)
        if url:
            self.read.add(url)
            self.domain_pages[str(doc.get("domain") or "")] += 1
        if not (keep or url in self.link_pages):
            return None
        row = self.rows.append(*encoded)
        if url:
            self.row_of_url[url] = row
        return row

    def link_row(self, link: Mapping[str, Any]) -> int:
        """The row of the link's source page; a link whose page is not stored is judged on its
        title, context and anchor."""
        url = str(link.get("source_url") or "")
        row = self.row_of_url.get(url)
        if row is None:
            fields = ("source_title", "context", "anchor_text")
            text = " ".join(str(link.get(f) or "") for f in fields)
            row = self.rows.append(*self.space.encode(text, document=True))
            self.row_of_url[url] = row
        return row

    def anchor(self, link: Mapping[str, Any]) -> tuple[np.ndarray, int]:
        """The anchor's known term ids and how many distinct terms it has."""
        anchor = str(link.get("anchor_text") or "")
        return self.space.encode(anchor, add=False)[0], len(set(tokenize(anchor)))


def _read_pages(
    db: Any, corpus: _Corpus, domains: list[str], source_hosts: list[str], batch: int
) -> dict[str, list[int]]:
    """Stored pages of the matched domains (rows per domain: their profiles) and of the source
    hosts, into the corpus."""
    profile_rows: dict[str, list[int]] = defaultdict(list)
    for doc in db.pages.find({"domain": {"$in": domains}}, PAGE_FIELDS, batch_size=batch):
        row = corpus.add_page(doc, keep=True)
        if row is not None:
            profile_rows[str(doc.get("domain"))].append(row)
    for host in source_hosts:  # one host a query: half the embedded server's work of a $in
        for doc in db.pages.find({"host": host}, PAGE_FIELDS, batch_size=batch):
            corpus.add_page(doc)
    return profile_rows


def _pages_meta(db: Any, links: list[dict[str, Any]], batch: int) -> dict[str, dict[str, Any]]:
    """What the link factors need from each source page, without the texts again."""
    pages_meta: dict[str, dict[str, Any]] = {}
    source_urls = sorted({str(lk.get("source_url") or "") for lk in links} - {""})
    fields = {"_id": 1, EXTERNAL_LINKS: 1, "out_hosts": 1, "nofollow": 1}
    for urls in in_groups(source_urls):
        for doc in db.pages.find({"_id": {"$in": urls}}, fields, batch_size=batch):
            external = doc.get(EXTERNAL_LINKS)
            if not isinstance(external, int):  # a page an older version stored
                external = sum(links for _, links, _ in out_hosts_of(doc))
            pages_meta[str(doc["_id"])] = {
                "external_links": external,
                "nofollow": bool(doc.get("nofollow")),
            }
    return pages_meta


def _site_rows(
    corpus: _Corpus, idf: np.ndarray, links: list[dict[str, Any]]
) -> tuple[sp.csr_array, list[int]]:
    """Site rows (the summed counts of each source host's stored pages, tf-idf weighted) and
    each link's site row (-1 when its host has no stored page)."""
    sites = corpus.sites
    matrix = tfidf(sites.build(len(corpus.space)), idf)
    site_of_link = []
    for lk in links:
        i = sites.index.get(str(lk.get(SOURCE_HOST) or ""), -1)
        site_of_link.append(i if i >= 0 and sites.added[i] else -1)
    return matrix, site_of_link


def _profiles(
    domains: list[str],
    profile_rows: Mapping[str, list[int]],
    counts: sp.csr_array,
    idf: np.ndarray,
    space: TermSpace,
    keyword_ids: list[int],
) -> dict[str, TopicProfile]:
    """The topic profile of each matched domain: its stored pages plus the keywords."""
    profiles: dict[str, TopicProfile] = {}
    for domain in domains:
        own_rows = profile_rows.get(domain, [])
        summed = np.asarray(counts[own_rows].sum(axis=0)).ravel() if own_rows else None
        if summed is None:
            summed = np.zeros(len(space))
        profiles[domain] = topic_profile(summed, idf, space.terms, keyword_ids=keyword_ids)
    return profiles


def _relevance(
    db: Any, links: list[dict[str, Any]], domains: list[str], keywords: list[str], batch: int
) -> tuple[list[Relevance], dict[str, dict[str, Any]], dict[str, int]]:
    """Relevance of every link; per source page what the link factors need; stored pages per
    registered domain (for site-wide links)."""
    source_hosts = sorted({str(lk.get(SOURCE_HOST) or "") for lk in links} - {""})
    corpus = _Corpus(source_hosts, {str(lk.get("source_url") or "") for lk in links} - {""})
    profile_rows = _read_pages(db, corpus, domains, source_hosts, batch)
    pages_meta = _pages_meta(db, links, batch)
    page_of_link = [corpus.link_row(lk) for lk in links]
    space = corpus.space
    keyword_ids = [int(i) for k in keywords for i in space.encode(k)[0]]
    anchors = [corpus.anchor(lk) for lk in links]

    counts = corpus.rows.build(len(space))
    idf = space.idf()
    weighted = tfidf(counts, idf)
    sites, site_of_link = _site_rows(corpus, idf, links)
    profiles = _profiles(domains, profile_rows, counts, idf, space, keyword_ids)
    target_profile = profiles[domains[0]]
    if target_profile.empty:
        logger.warning("No topic profile for %s: no stored pages of it and no keywords", domains[0])

    # Score each matched domain's links against its own profile (a competitor without stored
    # pages is judged against the target's: the same niche).
    results: list[Relevance | None] = [None] * len(links)
    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, lk in enumerate(links):
        by_domain[str(lk.get(MATCHED_DOMAIN))].append(i)
    for domain, idx in by_domain.items():
        profile = profiles.get(domain, target_profile)
        if profile.empty:
            profile = target_profile
        scored = score_links(
            profile,
            weighted,
            [page_of_link[i] for i in idx],
            sites,
            [site_of_link[i] for i in idx],
            [anchors[i] for i in idx],
        )
        for i, rel in zip(idx, scored, strict=True):
            results[i] = rel
    return [r for r in results if r is not None], pages_meta, dict(corpus.domain_pages)


def _link_scores(
    links: list[dict[str, Any]],
    graph: HostGraph,
    host_trust: np.ndarray,
    hops: np.ndarray,
    origin: np.ndarray,
    farm: np.ndarray,
    distrust: np.ndarray,
    cc_floor: np.ndarray,
    relevances: list[Relevance],
    pages_meta: Mapping[str, Mapping[str, Any]],
    domain_pages: Mapping[str, int],
    linked_back: Mapping[str, frozenset[str]],
    config: ScoringConfig,
    now: datetime,
    checked: Mapping[int, dict[str, Any]],
) -> list[UpdateOne]:
    """The ``scores`` and ``reciprocal`` update of every link: the site's trust, what the link
    passes of it, and a reason for each factor. The flag and the factor come from one rule
    (``linked_back``: ``reciprocal_sites`` of each matched domain). With it, the link's
    target check (``checked``, by link index): one write a link."""
    reciprocal = [
        is_reciprocal(lk, linked_back.get(str(lk.get(MATCHED_DOMAIN)), frozenset())) for lk in links
    ]
    site_trust: list[float] = []
    values: list[float] = []
    site_why: list[list[str]] = []  # the site's reasons, then the link's
    cuts: list[list[tuple[float, str]]] = []  # the factors below 1, with their reasons
    kept: list[list[str]] = []
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, lk in enumerate(links):
        host = str(lk.get(SOURCE_HOST) or "")
        gi = graph.index.get(host)
        why: list[str] = []
        if gi is None:
            base = 0.0
            why.append("host not in link graph")
        else:
            base = float(host_trust[gi])
            why.append(_hop_reason(graph, hops, origin, gi))
            if cc_floor[gi] > 0:  # its trust is its Common Crawl rank's
                why.append(f"Common Crawl rank #{int(cc_floor[gi]):,}")
            if farm[gi]:
                why.append(FARM_REASON)
            elif distrust[gi] >= NEAR_DISTRUST:
                why.append("close to distrusted sites")
        page = pages_meta.get(str(lk.get("source_url") or ""))
        link_cuts, link_kept = link_factors(lk, page, config.nofollow_weight)
        if reciprocal[i]:
            link_cuts.append((RECIPROCAL_FACTOR, counted(RECIPROCAL_REASON, RECIPROCAL_FACTOR)))
        site_trust.append(base)
        values.append(base * math.prod(value for value, _ in link_cuts))
        site_why.append(why)
        cuts.append(link_cuts)
        kept.append(link_kept)
        source_domain = str(lk.get(SOURCE_DOMAIN) or host)
        groups[(source_domain, str(lk.get(MATCHED_DOMAIN)))].append(i)

    # A site linking from many of its pages counts about once. Boilerplate links (footer,
    # sidebar, navigation, header, related) on many of its pages are site-wide: each is worth
    # 1/m of one.
    for (source_domain, _), idx in groups.items():
        if len(idx) < 2:
            continue
        boiler = [i for i in idx if links[i].get("position") in BOILERPLATE]
        stored = domain_pages.get(source_domain, 0)
        if len(boiler) >= SITE_WIDE_MIN_LINKS and len(boiler) >= SITE_WIDE_SHARE * stored:
            share = 1.0 / len(boiler)
            for i in boiler:
                values[i] *= share
                cuts[i].append((share, counted(f"site-wide, on {len(boiler)} pages", share)))
        # Then the k-th strongest link of the site passes 1/k of its worth. Ties go to the
        # smallest _id, not to the order links were stored in: the same links score the same
        # however a crawl (or its resumed attempts) happened to store them.
        ranked = sorted(idx, key=lambda i: (-values[i], str(links[i]["_id"])))
        for k, i in enumerate(ranked[1:], start=2):
            values[i] /= k
            cuts[i].append((1.0 / k, counted(f"the {ordinal(k)} link from this site", 1.0 / k)))
    # Site first, then what took the most of its trust away, then what kept it.
    reasons = [[*site_why[i], *cut_reasons(cuts[i]), *kept[i]] for i in range(len(links))]

    updates = []
    for i, lk in enumerate(links):
        rel = relevances[i]
        trust = round(values[i], 2)
        scores = {
            SITE_TRUST: round(site_trust[i], 2),
            LINK_TRUST: trust,
            RELEVANCE: rel.score,
            QUALITY: round(quality(trust, rel.score), 2),
            REASONS: [*reasons[i], *rel.reasons],
            SCORED_AT: now,
        }
        update = {SCORES: scores, RECIPROCAL: reciprocal[i], **checked.get(i, {})}
        updates.append(UpdateOne({"_id": lk["_id"]}, {"$set": update}))
    return updates


def _host_ops(
    target_domain: str,
    graph: HostGraph,
    trust_raw: np.ndarray,
    trust: np.ndarray,
    distrust_raw: np.ndarray,
    distrust: np.ndarray,
    hops: np.ndarray,
    farm: np.ndarray,
    seed_ids: np.ndarray,
    distrust_ids: np.ndarray,
    backlinks: Mapping[str, int],
    cc_rank: np.ndarray,
    now: datetime,
) -> list[UpdateOne]:
    """Per-target figures of every graph host, keyed "target|host"; a host written by an older
    version loses its old field names (``OLD_HOST_FIELDS``)."""
    old = dict.fromkeys(OLD_HOST_FIELDS, "")
    resolver = get_resolver()
    in_degree, out_degree = graph.in_degree(), graph.out_degree()
    seeds, bad = set(seed_ids.tolist()), set(distrust_ids.tolist())
    ops = []
    for i, host in enumerate(graph.hosts):
        doc = {
            "target": target_domain,
            "host": host,
            "domain": resolver.registered_domain(host),
            SITE_TRUST: round(float(trust[i]), 2),
            SITE_TRUST_RAW: float(trust_raw[i]),
            SITE_DISTRUST: round(float(distrust[i]), 2),
            SITE_DISTRUST_RAW: float(distrust_raw[i]),
            "in_degree": int(in_degree[i]),
            "out_degree": int(out_degree[i]),
            "seed": i in seeds,
            "distrust_seed": i in bad,
            "hops": int(hops[i]) if hops[i] >= 0 else None,
            "farm": bool(farm[i]),
            "backlinks": int(backlinks.get(host, 0)),
            "cc_rank": int(cc_rank[i]) or None,  # Common Crawl harmonic-centrality position
            SCORED_AT: now,
        }
        ops.append(
            UpdateOne({"_id": f"{target_domain}|{host}"}, {"$set": doc, "$unset": old}, upsert=True)
        )
    return ops
