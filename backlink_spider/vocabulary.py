"""The project's words, defined once: rel values, link states, reciprocity, the latest crawl,
the figures shown of a crawl and of a target, and the names of stored fields. The writer (the
pipelines, the end of a crawl) and every reader (scoring, commands, the report) import them from
here, so a rule cannot drift between copies.

Pure and import-light (the crawl imports it): constants and small functions; the few that read
the store take a pymongo ``db`` and import nothing for it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

# -- stored field names shared by the writer and the readers ----------------------------------

# backlinks: one document per (source page, target URL)
MATCHED_DOMAIN = "matched_domain"  # the watched domain (target or competitor) it links into
SOURCE_HOST = "source_host"
SOURCE_DOMAIN = "source_domain"  # registered domain of the source host: the linking site
FIRST_CRAWL_ID = "first_crawl_id"
LAST_CRAWL_ID = "last_crawl_id"  # the latest crawl that saw the link
LOST_AT = "lost_at"
UNVERIFIED_AT = "unverified_at"
TARGET_STATUS = "target_status"
RECIPROCAL = "reciprocal"  # bool: see reciprocal_sites
SCORES = "scores"

# backlinks.scores: what one link is worth (0-100 each), why, and when it was scored
# SITE_TRUST (below): the linking site's trust, as its host's hosts.site_trust
LINK_TRUST = "link_trust"  # what the link passes of its site's trust
RELEVANCE = "relevance"
QUALITY = "quality"
REASONS = "reasons"
SCORED_AT = "scored_at"

# hosts: per target and host ("target|host"), what one site is worth to that target
SITE_TRUST = "site_trust"  # TrustRank lowered by distrust, 0-100
SCORE_FIELDS = (SITE_TRUST, LINK_TRUST, RELEVANCE, QUALITY, REASONS, SCORED_AT)
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
PAGE_CRAWL_ID = "crawl_id"  # the latest crawl that stored the page: fetched it new or changed
PAGE_DIGEST = "digest"  # a hash of what the page document holds, to see a page unchanged
# page_visits: a page fetched again and found unchanged is not rewritten (a rewrite of every
# page made a recrawl double the store: WiredTiger keeps the old copies until checkpoints free
# them); its visit, {_id: url, crawl_id, fetched_at, host, domain, status}, says which crawl
# fetched it last. The pages of a crawl are its pages' documents and its visits: crawl_pages.
PAGE_VISITS = "page_visits"
VISIT_FIELDS = ("host", "domain", "status")


def crawl_pages(
    db: Any, crawl_id: str, query: dict[str, Any] | None = None, fields: Iterable[str] = ()
) -> Iterator[dict[str, Any]]:
    """The pages ``crawl_id`` fetched that match ``query`` (on ``VISIT_FIELDS`` only): the
    ones it stored and the ones it found unchanged, ``fields`` of each (``_id`` always)."""
    wanted = {"_id": 1, **dict.fromkeys(fields, 1)}
    for collection in (db.pages, db[PAGE_VISITS]):
        yield from collection.find({**(query or {}), PAGE_CRAWL_ID: crawl_id}, wanted)


def crawl_distinct(
    db: Any, crawl_id: str, field: str, query: dict[str, Any] | None = None
) -> set[Any]:
    """The values of ``field`` (one of ``VISIT_FIELDS``) among ``crawl_pages``: the server's
    distinct over each collection, not every page read back."""
    where = {**(query or {}), PAGE_CRAWL_ID: crawl_id}
    return {v for c in (db.pages, db[PAGE_VISITS]) for v in c.distinct(field, where) if v}


def crawl_page_count(db: Any, crawl_id: str) -> int:
    """How many pages ``crawl_id`` fetched (``crawl_pages``), from two indexed counts."""
    query = {PAGE_CRAWL_ID: crawl_id}
    return db.pages.count_documents(query) + db[PAGE_VISITS].count_documents(query)


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
#: A strong site (site trust this high or more) ...
STRONG_SITE = 50.0
#: ... whose link passes less than this share of its trust (nofollow, sponsored, footer,
#: site-wide, repeated): worth asking for an editorial link instead.
PASSES_LITTLE = 0.5
UPGRADES_QUERY: dict[str, Any] = {
    LOST_AT: None,
    f"{SCORES}.{SITE_TRUST}": {"$gte": STRONG_SITE},
    "$expr": {
        "$lt": [
            f"${SCORES}.{LINK_TRUST}",
            {"$multiply": [f"${SCORES}.{SITE_TRUST}", PASSES_LITTLE]},
        ]
    },
}


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


# -- figures: every number shown of a crawl or a target ----------------------------------------

# What a crawl found, over all its attempts (JOBDIR) and workers (Redis): read from the store,
# never from one process's Scrapy stats. pages: pages it fetched (any answer); backlinks: links
# into the target it saw; referring_domains: the sites (registered domains) those come from;
# competitor_links: links into its competitors it saw.
CRAWL_FIGURES = ("pages", "backlinks", "referring_domains", "competitor_links")
# The target's stored backlinks per state (``status_counts``), as the crawl left them.
STATUS_FIGURES = ("live", "new", "lost", "unverified", "broken")
FIGURES = CRAWL_FIGURES + STATUS_FIGURES


def status_counts(db: Any, domain: str, latest_crawl_id: str | None) -> dict[str, int]:
    """The domain's stored backlinks per state: ``status_query`` for new, live, lost and
    unverified, ``BROKEN_QUERY`` for broken; the very filters ``scrapy export --status`` and
    ``--broken`` apply, so the numbers shown and the lines written agree."""
    ours = {MATCHED_DOMAIN: domain}
    counts = {
        status: db.backlinks.count_documents({**ours, **status_query(status, latest_crawl_id)})
        for status in STATUSES
    }
    counts["broken"] = db.backlinks.count_documents({**ours, **BROKEN_QUERY})
    return counts


def crawl_progress(
    db: Any, crawl_id: str, target_domain: str, *, pages: int | None = None
) -> dict[str, int]:
    """What a crawl has fetched and found so far (``CRAWL_FIGURES`` but referring domains):
    three indexed counts. ``pages``: the crawl's pages when the caller knows them (the one
    process that stored them all), so the largest count is not made."""
    return {
        "pages": crawl_page_count(db, crawl_id) if pages is None else pages,
        "backlinks": db.backlinks.count_documents(
            {MATCHED_DOMAIN: target_domain, LAST_CRAWL_ID: crawl_id}
        ),
        "competitor_links": db.backlinks.count_documents(
            {MATCHED_DOMAIN: {"$ne": target_domain}, LAST_CRAWL_ID: crawl_id}
        ),
    }


def crawl_figures(
    db: Any, crawl_id: str, target_domain: str, *, pages: int | None = None
) -> dict[str, int]:
    """A crawl's ``FIGURES``: what it found (``crawl_progress`` and its referring domains) and
    the target's link states as it leaves them (``status_counts``, this crawl the latest).

    Stored in the crawl record when it closes (``figures``): the summary line, ``scrapy
    crawls``, the demo and the report all show these numbers. A link stored by a crawl is one
    of the target's or, being watched, one of a competitor's: no competitor list is needed.
    """
    figures = crawl_progress(db, crawl_id, target_domain, pages=pages)
    seen = {MATCHED_DOMAIN: target_domain, LAST_CRAWL_ID: crawl_id}
    figures["referring_domains"] = len([d for d in db.backlinks.distinct(SOURCE_DOMAIN, seen) if d])
    figures.update(status_counts(db, target_domain, crawl_id))
    return {name: figures[name] for name in FIGURES}


# Why a fetch failed, as people say it: Twisted's and Scrapy's exception names, else the name.
FAILURE_WORDS = {
    "DNSLookupError": "host name not found",
    "CannotResolveHostError": "host name not found",
    "ConnectionRefusedError": "connection refused",
    "DownloadConnectionRefusedError": "connection refused",
    "DownloadTimeoutError": "timed out",
    "DownloadFailedError": "download failed",
    "ResponseDataLossError": "response cut short",
    "TCPTimedOutError": "timed out",
    "TimeoutError": "timed out",
    "ResponseNeverReceived": "no response",
    "ConnectionLost": "connection lost",
    "ConnectionDone": "connection closed",
    "SSLError": "TLS handshake failed",
    "TunnelError": "the proxy could not connect",
}
FAILED_SEEDS = "failed_seeds"  # the crawl record's [{seed, reason}]


def failure_words(name: str) -> str:
    """``FAILURE_WORDS`` of an exception name, or ``HTTP 404`` for a status (an int)."""
    return FAILURE_WORDS.get(name, name)


# -- the state of a crawl -----------------------------------------------------------------------

#: A crawl stopped before its end by a signal (Ctrl-C, SIGTERM: Scrapy's reason "shutdown"),
#: or whose process died without saying (SIGKILL, a second Ctrl-C, power loss).
INTERRUPTED = "interrupted"
#: Heartbeats a running crawl may miss before readers take it for interrupted.
HEARTBEATS_MISSED = 3


def record_status(reason: str) -> str:
    """The status a crawl record gets when the crawl closes for Scrapy's ``reason``."""
    if reason == "finished":
        return "finished"
    return INTERRUPTED if reason == "shutdown" else reason


def _aware(moment: datetime) -> datetime:
    """The store may give back naive UTC datetimes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def crawl_status(doc: dict[str, Any], now: datetime | None = None) -> str:
    """The status a crawl record stands for: the stored one, except that a ``running`` record
    nobody keeps alive is ``interrupted``: its heartbeat (``heartbeat_at``, every
    ``heartbeat_seconds``) is ``HEARTBEATS_MISSED`` beats old, or its process (``host``,
    ``pid``) is gone from this machine. A killed crawl never closes its record itself."""
    status = str(doc.get("status") or "?")
    if status != "running":
        return status
    pid, host = doc.get("pid"), doc.get("host")
    from pipelines.store import pid_alive  # import-light: only when a record is read

    if isinstance(pid, int) and host and host == socket.gethostname() and not pid_alive(pid):
        return INTERRUPTED
    beat, every = doc.get("heartbeat_at"), doc.get("heartbeat_seconds")
    if isinstance(beat, datetime) and isinstance(every, (int, float)) and every > 0:
        late = (now or datetime.now(UTC)) - _aware(beat)
        if late > timedelta(seconds=HEARTBEATS_MISSED * every):
            return INTERRUPTED
    return "running"


def record_figures(doc: dict[str, Any]) -> dict[str, int | None]:
    """The figures of a crawl record, ``FIGURES`` each (None: not known): those stored when it
    closed, else what its last heartbeat said (``progress``) of a crawl still running or
    killed."""
    stored = doc.get("figures") or doc.get("progress") or {}
    return {name: stored.get(name) for name in FIGURES}


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

# A factor's reason says what the link keeps: "footer link: counted at 30%", "nofollow: passes
# nothing" (``counted``); readers find them by these words (``takes_away``).
COUNTED_AT = "counted at"
PASSES_NOTHING = "passes nothing"


def counted(what: str, factor: float) -> str:
    """A factor's reason in a site owner's words: "footer link: counted at 30%"."""
    if factor <= 0:
        return f"{what}: {PASSES_NOTHING}"
    percent = 100.0 * factor
    return f"{what}: {COUNTED_AT} {percent:.0f}%" if percent >= 1 else f"{what}: {COUNTED_AT} <1%"


def takes_away(reason: str) -> bool:
    """True for a reason naming a factor that lowered what a link passes (``counted``)."""
    return reason.endswith(f": {PASSES_NOTHING}") or f": {COUNTED_AT} " in reason


RECIPROCAL_REASON = "reciprocal link"  # the score's reason for a reciprocal link
FARM_REASON = "link farm neighbourhood"  # the score's reason for a link from a farm host


# -- a page's out-links -------------------------------------------------------------------------

# ``pages.out_hosts``: the hosts a page links to with its link and followed-link counts, as one
# string "a.test 3 2 b.test 1 0" (host names hold no spaces). Read back for every host a crawl
# fetched, it costs the store a fraction of what as many subdocuments did; an older version's
# list of {host, links, followed} documents is read too. ``external_links`` is their sum.
EXTERNAL_LINKS = "external_links"


def encode_out_hosts(out: Iterable[Any]) -> str:
    """``out_hosts`` as stored, from the spider's ``OutHost`` values."""
    return " ".join(f"{o.host} {int(o.links)} {int(o.followed)}" for o in out)


def out_hosts_of(page: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host, links, followed) of each host a stored page links to."""
    stored = page.get("out_hosts")
    if isinstance(stored, str):
        parts = stored.split()
        return [
            (host, int(links), int(followed))
            for host, links, followed in zip(parts[0::3], parts[1::3], parts[2::3], strict=False)
            if links.isdigit() and followed.isdigit()
        ]
    out = []
    for item in stored or ():
        if isinstance(item, dict) and isinstance(item.get("host"), str):
            out.append((item["host"], int(item.get("links") or 0), int(item.get("followed") or 0)))
    return out


# -- host edges ---------------------------------------------------------------------------------

# ``host_edges`` holds one document per source host: {_id: src, src, out: "dst links followed
# pages dst …", edges, last_seen}, written whole at the end of a crawl (a few hundred documents
# where one per host pair made hundreds of thousands of upserts). ``out`` is one string, as a
# page's ``out_hosts`` is: a host with 500 others costs the store a third of what as many
# subdocuments did to write, a tenth to read. Older versions' stores may hold ``out`` as a list
# of {dst, links, followed, pages}, or one document per pair ({src, dst, links, followed,
# pages}) for hosts no crawl has fetched since; readers take all three.
EDGE_OUT = "out"
EDGE_FIELDS = {"_id": 0, "src": 1, "dst": 1, "links": 1, "followed": 1, "pages": 1, EDGE_OUT: 1}


def encode_edges(edges: Iterable[tuple[str, Iterable[int]]]) -> str:
    """``host_edges.out`` as stored, from (dst, (links, followed, pages)) pairs."""
    return " ".join(f"{dst} {' '.join(str(int(n)) for n in counts)}" for dst, counts in edges)


def edges_of(doc: dict[str, Any]) -> Iterator[tuple[str, str, int, int, int]]:
    """(src, dst, links, followed, pages) of each edge in a ``host_edges`` document."""
    src = doc.get("src")
    if not isinstance(src, str):
        return
    stored = doc.get(EDGE_OUT)
    if isinstance(stored, str):
        parts = stored.split()
        for dst, links, followed, pages in zip(*(parts[i::4] for i in range(4)), strict=False):
            if links.isdigit() and followed.isdigit() and pages.isdigit():
                yield src, dst, int(links), int(followed), int(pages)
        return
    if "dst" in doc:  # one document per pair: an older store
        out: Iterable[dict[str, Any]] = [doc]
    else:
        out = stored or ()
    for edge in out:
        dst = edge.get("dst")
        if isinstance(dst, str):
            links = int(edge.get("links") or 0)
            followed = edge.get("followed")
            yield (
                src,
                dst,
                links,
                int(links if followed is None else followed or 0),
                int(edge.get("pages") or 0),
            )


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
        for doc in db.host_edges.find({"src": {"$in": batch}}, EDGE_FIELDS):
            for _, dst, *_counts in edges_of(doc):
                linked.add(resolver.registered_domain(dst) or dst)
    linked.discard(domain)
    return frozenset(linked)


def is_reciprocal(link: dict[str, Any], linked_back: frozenset[str] | set[str]) -> bool:
    """Whether one backlink is reciprocal, given ``reciprocal_sites`` of its matched domain."""
    return str(link.get(SOURCE_DOMAIN) or "") in linked_back


# -- discovery: referring sites found in Common Crawl's web graph --------------------------------

# backlinks: what led the crawl to the linking site, None when the seeds' neighbourhood did; a
# link keeps it when a later crawl meets it otherwise (``pipelines.mongo.backlink_op``).
SOURCE = "source"
FROM_COMMON_CRAWL = "common crawl"  # a site discovered in Common Crawl's web graph
# targets: the referring sites ``scrapy discover`` found, per graph (``target_profile``);
# crawls: how the discovered sites a crawl visited (``-a discovered=N``) did, each one of
# ``DISCOVERED_OUTCOMES``: a backlink into a watched domain found on it; a page of it fetched
# but no such link (gone, or deeper than the budget); no page of it fetched at all.
DISCOVERED = "discovered"
DISCOVERED_OUTCOMES = ("confirmed", "not_found", "unreachable")

# The coverage report (backlink_spider/focus.py): the crawl record's ``coverage``.
COVERAGE = "coverage"
COVERAGE_BUDGET = "budget"  # pages fetched on on-topic, off-topic and unknown hosts
COVERAGE_UNCRAWLED = "uncrawled"  # hosts left (partly) unseen, per reason
COVERAGE_SUGGESTED = "suggested_seeds"  # those hosts, best estimated value first
COVERAGE_COMPETITOR_ONLY = "competitor_only"  # hosts linking a competitor and not the target
ON_TOPIC, OFF_TOPIC, UNKNOWN_TOPIC = "on_topic", "off_topic", "unknown"
# Why a host was left unseen, as the report says it.
UNSEEN_WORDS = {
    "robots": "robots.txt refused it",
    "budget": "the page budget ran out",
    "cap": "cut at the per-host page cap",
    "depth": "beyond the crawl's depth",
    "unreachable": "could not be fetched",
}
