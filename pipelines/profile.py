"""A target's link profile from the store: link states, reciprocity, link mix and prospects.

What a site owner does with a backlink list: watch it change (new, lost, unverified), reclaim
links into dead pages, see the mix of anchors, rel values and positions, and find the sites that
link to competitors but not to them. Pure reads of ``backlinks``, ``hosts``, ``host_edges``,
``pages`` and ``crawls``, except ``mark_reciprocal``, which the crawl calls at its close.
The words (link states, the latest crawl, reciprocity, field names) are defined once, in
``backlink_spider.vocabulary``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from backlink_spider.vocabulary import (
    MATCHED_DOMAIN,
    NOT_LOST,
    QUALITY,
    RECIPROCAL,
    RELEVANCE,
    SCORES,
    SITE_TRUST,
    SOURCE_DOMAIN,
    SOURCE_HOST,
    nofollow_flags,
    reciprocal_sites,
)
from pipelines.scoring.run import quality
from pipelines.target_profile import TargetProfile, load_profile

logger = logging.getLogger(__name__)

ANCHOR_CLASSES = ("exact", "partial", "branded", "url", "generic", "empty", "other")

# Anchors that say nothing about the page they point to (lower case, spaces collapsed).
GENERIC_ANCHORS = frozenset(
    {
        "click here",
        "here",
        "this",
        "link",
        "this link",
        "read more",
        "more",
        "learn more",
        "find out more",
        "more info",
        "more information",
        "website",
        "this website",
        "site",
        "this site",
        "web site",
        "homepage",
        "home page",
        "home",
        "visit",
        "visit site",
        "visit website",
        "go",
        "source",
        "via",
        "article",
        "this article",
        "this page",
        "page",
        "details",
        "see more",
        "continue reading",
        "check it out",
        "official site",
        "online",
    }
)
_SPACES_RE = re.compile(r"\s+")
_ALNUM_RE = re.compile(r"[^0-9a-z]+")
_URLISH_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|^[\w-]+(?:\.[\w-]+)+(?:/\S*)?$")


# -- reciprocal links ---------------------------------------------------------------------------


def mark_reciprocal(db: Any, domains: Iterable[str]) -> dict[str, int]:
    """Set ``reciprocal`` on every backlink into each domain, by ``vocabulary.reciprocal_sites``
    (the rule scoring applies too): true when the domain's site links back to the source's site.
    Returns the reciprocal counts per domain.
    """
    counts: dict[str, int] = {}
    for domain in domains:
        mutual = sorted(reciprocal_sites(db, domain))
        result = db.backlinks.update_many(
            {MATCHED_DOMAIN: domain, SOURCE_DOMAIN: {"$in": mutual}},
            {"$set": {RECIPROCAL: True}},
        )
        db.backlinks.update_many(
            {MATCHED_DOMAIN: domain, SOURCE_DOMAIN: {"$nin": mutual}},
            {"$set": {RECIPROCAL: False}},
        )
        counts[domain] = result.matched_count
    return counts


# -- anchor text and link mix -------------------------------------------------------------------


def _norm(text: str) -> str:
    return _SPACES_RE.sub(" ", text.strip().lower())


def brand_names(target_domain: str) -> list[str]:
    """Ways a brand is written, from its domain: "green-leaf.co.uk" -> ["greenleaf"]."""
    label = target_domain.split(".", 1)[0].lower()
    squashed = _ALNUM_RE.sub("", label)
    return [squashed] if len(squashed) >= 3 else []


def anchor_class(anchor: str, target_domain: str, keywords: Iterable[str] = ()) -> str:
    """Classify an anchor: exact / partial keyword, branded, url, generic, empty or other.

    The URL test comes first ("site.com" names the brand, but it is a naked URL); keywords are
    the niche keywords of the crawl, matched case- and space-insensitively.
    """
    text = _norm(anchor)
    if not text:
        return "empty"
    if _URLISH_RE.search(text):
        return "url"
    words = [_norm(k) for k in keywords if k and k.strip()]
    if text in words:
        return "exact"
    squashed = _ALNUM_RE.sub("", text)
    if any(brand in squashed for brand in brand_names(target_domain)):
        return "branded"
    if text.strip(" .!:") in GENERIC_ANCHORS:
        return "generic"
    padded = f" {_ALNUM_RE.sub(' ', text)} "
    if any(f" {_ALNUM_RE.sub(' ', w).strip()} " in padded for w in words):
        return "partial"
    return "other"


def rel_kinds(doc: dict[str, Any]) -> list[str]:
    """The rel values that matter, "follow" when none of nofollow/ugc/sponsored applies."""
    return nofollow_flags(doc.get("rel") or (), bool(doc.get("nofollow"))) or ["follow"]


def _not_lost(target_domain: str) -> dict[str, Any]:
    return {MATCHED_DOMAIN: target_domain, **NOT_LOST}


def link_mix(db: Any, target_domain: str, keywords: Iterable[str] | None = None) -> dict[str, Any]:
    """Counts of the backlinks not lost (live or unverified) by anchor class, rel, position,
    type and referring domain."""
    if keywords is None:
        keywords = (load_profile(db, target_domain) or TargetProfile(target_domain)).keywords
    words = [str(k) for k in keywords]
    anchors: Counter[str] = Counter()
    anchor_texts: Counter[str] = Counter()  # by anchor, whatever its case and spacing
    written: dict[str, Counter[str]] = {}  # how each is written: shown as most often written
    rels: Counter[str] = Counter()
    positions: Counter[str] = Counter()
    types: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    total = 0
    projection = {
        "anchor_text": 1,
        "rel": 1,
        "nofollow": 1,
        "position": 1,
        "link_type": 1,
        "source_domain": 1,
    }
    for doc in db.backlinks.find(_not_lost(target_domain), projection):
        total += 1
        anchor = str(doc.get("anchor_text") or "")
        anchors[anchor_class(anchor, target_domain, words)] += 1
        if anchor.strip():
            key = _norm(anchor)
            anchor_texts[key] += 1
            written.setdefault(key, Counter())[" ".join(anchor.split())] += 1
        rels.update(rel_kinds(doc))
        positions[str(doc.get("position") or "unknown")] += 1
        types[str(doc.get("link_type") or "text")] += 1
        domains[str(doc.get("source_domain") or "")] += 1
    return {
        "target": target_domain,
        "backlinks": total,
        "referring_domains": len(domains),
        "anchor_class": {c: anchors[c] for c in ANCHOR_CLASSES if anchors[c]},
        "rel": dict(rels.most_common()),
        "position": dict(positions.most_common()),
        "link_type": dict(types.most_common()),
        "top_anchors": [
            (written[key].most_common(1)[0][0], n) for key, n in anchor_texts.most_common(20)
        ],
        "by_domain": domains.most_common(),
    }


# -- competitor gap -----------------------------------------------------------------------------


def _site_trust(db: Any, target_domain: str, hosts: Iterable[str]) -> dict[str, float]:
    ids = [f"{target_domain}|{h}" for h in hosts]
    return {
        doc["host"]: float(doc.get(SITE_TRUST) or 0.0)
        for doc in db.hosts.find({"_id": {"$in": ids}}, {"host": 1, SITE_TRUST: 1})
    }


def _score(doc: dict[str, Any], name: str) -> float:
    return float((doc.get(SCORES) or {}).get(name) or 0.0)


def prospects(
    db: Any,
    target_domain: str,
    competitors: Iterable[str] | None = None,
    *,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Referring domains that link to a competitor and not to the target, best first.

    A prospect's rank is the quality of its site trust (``hosts.site_trust`` of its best host,
    from the last scoring of the target) and relevance (best competitor link); each comes with
    the competitor pages it links to, so the outreach message can name them. Competitors default
    to the target profile's.
    """
    if competitors is None:
        competitors = (load_profile(db, target_domain) or TargetProfile(target_domain)).competitors
    rivals = [c for c in dict.fromkeys(competitors) if c and c != target_domain]
    if not rivals:
        return []
    ours = set(db.backlinks.distinct(SOURCE_DOMAIN, _not_lost(target_domain)))
    ours.add(target_domain)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    query = {MATCHED_DOMAIN: {"$in": rivals}, **NOT_LOST}
    for doc in db.backlinks.find(query):
        domain = str(doc.get(SOURCE_DOMAIN) or "")
        if domain and domain not in ours and domain not in rivals:
            groups[domain].append(doc)
    hosts = {str(d.get(SOURCE_HOST)) for docs in groups.values() for d in docs}
    trust_of = _site_trust(db, target_domain, hosts)
    found: list[dict[str, Any]] = []
    for domain, docs in groups.items():
        trust = max((trust_of.get(str(d.get(SOURCE_HOST)), 0.0) for d in docs), default=0.0)
        relevance = max(_score(d, RELEVANCE) for d in docs)
        docs.sort(key=lambda d: (-_score(d, QUALITY), str(d.get("source_url"))))
        found.append(
            {
                "referring_domain": domain,
                "score": round(quality(trust, relevance), 2),
                SITE_TRUST: round(trust, 2),
                "relevance": round(relevance, 2),
                "competitors": sorted({str(d.get("matched_domain")) for d in docs}),
                "followed": any(rel_kinds(d) == ["follow"] for d in docs),
                "links": [
                    {
                        "source_url": d.get("source_url"),
                        "target_url": d.get("target_url"),
                        "competitor": d.get("matched_domain"),
                        "anchor_text": d.get("anchor_text"),
                        "rel": d.get("rel") or [],
                        "position": d.get("position"),
                        QUALITY: (d.get(SCORES) or {}).get(QUALITY),
                    }
                    for d in docs
                ],
            }
        )
    found.sort(
        key=lambda p: (-p["score"], -p[SITE_TRUST], -len(p["competitors"]), p["referring_domain"])
    )
    return found[:limit] if limit else found


# -- over time ----------------------------------------------------------------------------------


def crawl_history(db: Any, target_domain: str) -> list[dict[str, Any]]:
    """Per crawl of the target: when, backlinks first seen in it, and backlinks lost at its end.

    A link lost at time t was lost by the latest crawl that started before t.
    """
    crawls = list(
        db.crawls.find({"target": target_domain}, {"started_at": 1}).sort("started_at", 1)
    )
    rows = [
        {"crawl_id": c["_id"], "started_at": c.get("started_at"), "new": 0, "lost": 0}
        for c in crawls
    ]
    index = {row["crawl_id"]: row for row in rows}
    starts = [(row["started_at"], row) for row in rows if row["started_at"] is not None]
    projection = {"first_crawl_id": 1, "lost_at": 1}
    for doc in db.backlinks.find({"matched_domain": target_domain}, projection):
        row = index.get(doc.get("first_crawl_id"))
        if row is not None:
            row["new"] += 1
        lost_at: datetime | None = doc.get("lost_at")
        if lost_at is not None:
            before = [r for started, r in starts if _naive(started) <= _naive(lost_at)]
            if before:
                before[-1]["lost"] += 1
    return rows


def _naive(moment: datetime) -> datetime:
    """The store may give back naive UTC datetimes: compare without the zone."""
    return moment.replace(tzinfo=None)


def referring_domains_over_time(db: Any, target_domain: str) -> list[tuple[datetime, int]]:
    """Cumulative count of referring domains by the day each was first seen."""
    first: dict[str, datetime] = {}
    for doc in db.backlinks.find(
        {"matched_domain": target_domain}, {"source_domain": 1, "first_seen": 1}
    ):
        domain, seen = doc.get("source_domain"), doc.get("first_seen")
        if domain and seen is not None and (domain not in first or _naive(seen) < first[domain]):
            first[domain] = _naive(seen)
    per_day = Counter(
        moment.replace(hour=0, minute=0, second=0, microsecond=0) for moment in first.values()
    )
    total = 0
    series = []
    for day in sorted(per_day):
        total += per_day[day]
        series.append((day, total))
    return series
