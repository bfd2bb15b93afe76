"""The project's words, defined once: rel values, link states, reciprocity, the latest crawl,
and the names of stored fields. The writer (the pipelines, the end of a crawl) and every reader
(scoring, commands, the report) import them from here, so a rule cannot drift between copies.

Pure and import-light (the crawl imports it): constants and small functions; the few that read
the store take a pymongo ``db`` and import nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# -- stored field names shared by the writer and the readers ----------------------------------

# backlinks: one document per (source page, target URL)
MATCHED_DOMAIN = "matched_domain"  # the watched domain (target or competitor) it links into
SOURCE_HOST = "source_host"
SOURCE_DOMAIN = "source_domain"  # registered domain of the source host: the linking site
FIRST_CRAWL_ID = "first_crawl_id"
LOST_AT = "lost_at"
UNVERIFIED_AT = "unverified_at"
TARGET_STATUS = "target_status"
RECIPROCAL = "reciprocal"  # bool: see reciprocal_sites
SCORES = "scores"

# backlinks.scores: what one link is worth (0-100 each), why, and when it was scored
LINK_TRUST = "link_trust"  # the source site's trust times what the link itself passes
RELEVANCE = "relevance"
QUALITY = "quality"
REASONS = "reasons"
SCORED_AT = "scored_at"
SCORE_FIELDS = (LINK_TRUST, RELEVANCE, QUALITY, REASONS, SCORED_AT)

# hosts: per target and host ("target|host"), what one site is worth to that target
SITE_TRUST = "site_trust"  # TrustRank lowered by distrust, 0-100
SITE_TRUST_RAW = "site_trust_raw"  # the TrustRank probability
SITE_DISTRUST = "site_distrust"  # Anti-TrustRank, 0-100
SITE_DISTRUST_RAW = "site_distrust_raw"
# What hosts documents were called before site_ and link_ trust were told apart: the scorer
# removes them when it rewrites a host, so a store of an older version gets the new names.
OLD_HOST_FIELDS = ("trust", "trust_raw", "distrust", "distrust_raw")

# pages: one document per fetched URL
# A page that answers 404 or 410 is gone; once, its links are unverified (a broken deploy, a
# moved page), in this many consecutive crawls, lost.
GONE_STATUSES = (404, 410)
GONE_CRAWLS = "gone_crawls"  # consecutive crawls in which the page answered a gone status
LOST_AFTER_GONE = 2

# -- rel values ---------------------------------------------------------------------------------

# rel values that say "this link is not an endorsement": such a link passes no trust.
NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})


def is_followed(rel: Iterable[str], nofollow: bool = False) -> bool:
    """A link that passes trust: no nofollow/ugc/sponsored rel and no page-level nofollow."""
    return not nofollow and NOFOLLOW_RELS.isdisjoint(rel)


_NOFOLLOW_ORDER = ("nofollow", "ugc", "sponsored")  # the order reasons name them in


def nofollow_flags(rel: Iterable[str], nofollow: bool = False) -> list[str]:
    """Why a link passes no trust: its nofollow/ugc/sponsored rel values (any case) in that
    order, "nofollow" first when the link or its page said nofollow otherwise; [] when it is
    followed (``is_followed``)."""
    rels = {str(r).lower() for r in rel}
    flags = [r for r in _NOFOLLOW_ORDER if r in rels]
    if nofollow and "nofollow" not in flags:
        flags.insert(0, "nofollow")
    return flags


# -- link states --------------------------------------------------------------------------------

STATUSES = ("new", "live", "lost", "unverified")

#: Links not lost: live or unverified (what the link mix and the prospects count).
NOT_LOST: dict[str, Any] = {LOST_AT: None}
#: Links not lost whose target URL answered 4xx/5xx: reclaim them by redirecting the dead URL.
BROKEN_QUERY: dict[str, Any] = {LOST_AT: None, TARGET_STATUS: {"$gte": 400}}


def status_query(status: str, latest_crawl_id: str | None) -> dict[str, Any]:
    """The backlinks filter of a state; lost wins over unverified, both over live.

    new: first seen in the latest crawl (``latest_crawl``) and not lost; live: not lost, not
    unverified (new links are live too); lost: its source page was fetched without it;
    unverified: its source page failed (4xx/5xx, network) since it was last seen.
    """
    if status == "lost":
        return {LOST_AT: {"$ne": None}}
    if status == "unverified":
        return {LOST_AT: None, UNVERIFIED_AT: {"$ne": None}}
    if status == "live":
        return {LOST_AT: None, UNVERIFIED_AT: None}
    if status == "new":
        return {LOST_AT: None, FIRST_CRAWL_ID: latest_crawl_id or "\0none"}
    raise ValueError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")


def link_status(doc: dict[str, Any], latest_crawl_id: str | None) -> str:
    """The state of one stored backlink, as ``status_query`` defines them."""
    if doc.get(LOST_AT) is not None:
        return "lost"
    if doc.get(UNVERIFIED_AT) is not None:
        return "unverified"
    if latest_crawl_id and doc.get(FIRST_CRAWL_ID) == latest_crawl_id:
        return "new"
    return "live"


# -- the latest crawl ---------------------------------------------------------------------------


def latest_crawl(db: Any, domain: str) -> dict[str, Any] | None:
    """The crawl that speaks for a domain now: its latest crawl as the target, else (a domain
    only ever watched as a competitor) the latest crawl that watched it; None when neither.

    Its seeds, keywords and competitors are what scoring and the profile use, and a link of
    the domain is "new" when this crawl first saw it.
    """
    for query in ({"target": domain}, {"competitors": domain}):
        doc: dict[str, Any] | None = db.crawls.find_one(query, sort=[("started_at", -1)])
        if doc is not None:
            return doc
    return None


# -- reciprocity --------------------------------------------------------------------------------

RECIPROCAL_REASON = "reciprocal link"  # the score's reason for a reciprocal link


def reciprocal_sites(db: Any, domain: str) -> frozenset[str]:
    """The sites (registered domains) that ``domain``'s site links back to.

    The one reciprocity rule: a backlink into ``domain`` is reciprocal when its source site
    (``source_domain``) is in this set, that is, when a stored page on any host of the
    domain links to any host of the source's site. From ``host_edges`` (the outlinks of every
    stored page), compared by registered domain; the domain itself is never in the set.
    """
    from backlink_spider.urls import get_resolver  # tldextract: only when the rule is used

    resolver = get_resolver()
    own_hosts = sorted(h for h in db.pages.distinct("host", {"domain": domain}) if h)
    linked: set[str] = set()
    for start in range(0, len(own_hosts), 500):
        batch = own_hosts[start : start + 500]
        for dst in db.host_edges.distinct("dst", {"src": {"$in": batch}}):
            linked.add(resolver.registered_domain(dst) or dst)
    linked.discard(domain)
    return frozenset(linked)


def is_reciprocal(link: dict[str, Any], linked_back: frozenset[str] | set[str]) -> bool:
    """Whether one backlink is reciprocal, given ``reciprocal_sites`` of its matched domain."""
    return str(link.get(SOURCE_DOMAIN) or "") in linked_back
