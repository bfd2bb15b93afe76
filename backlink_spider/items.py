"""The two things a crawl yields: a link to the target, and a record of a fetched page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Backlink:
    """One link from a page on another site to the target (or a competitor).

    The spider fills what the page says; NormalizePipeline fills the canonical URLs, hosts and
    registered domains. Field names are the feed's and the store's, so exports line up.
    """

    source_url: str
    target_url: str
    anchor_text: str = ""
    rel: list[str] = field(default_factory=list)
    nofollow: bool = False
    link_type: str = "text"  # text, image, redirect
    position: str = "unknown"  # one of extract.POSITIONS: content, related, navigation, footer…
    context: str = ""
    occurrences: int = 1  # times the page links to this target URL; the most prominent is kept
    source_title: str = ""
    source_status: int = 200
    discovered_at: datetime | None = None
    crawl_id: str = ""
    is_competitor_link: bool = False
    matched_domain: str = ""  # the target or competitor domain this link points into
    via_url: str | None = None  # the href as written when it reached the target through a redirect
    source: str | None = None  # what led the crawl to its site (vocabulary.SOURCE); None: seeds
    source_host: str = ""
    source_domain: str = ""
    target_host: str = ""
    target_domain: str = ""


@dataclass
class OutHost:
    """Links from one page to one external host, kept for the host graph (trust)."""

    host: str
    links: int = 0
    followed: int = 0  # links without nofollow/ugc/sponsored


@dataclass
class PageRecord:
    """A fetched page: what scoring needs (its terms for relevance, outlinks for the host
    graph), not the page: its text is read for its terms and left behind."""

    url: str
    status: int = 200
    title: str = ""
    lang: str = ""
    terms: str = ""  # its commonest terms with counts (scoring.relevance.page_terms)
    out_hosts: list[OutHost] = field(default_factory=list)
    outlinks_total: int = 0
    nofollow: bool = False  # page-level meta robots / X-Robots-Tag nofollow
    rendered: bool = False
    is_target: bool = False  # a page of the target's own site
    is_seed: bool = False  # a page of a seed site
    hop: int = 0  # site hops from the seeds
    fetched_at: datetime | None = None
    crawl_id: str = ""
    host: str = ""
    domain: str = ""


@dataclass
class TargetCheck:
    """The answer of one backlink target URL, asked once per crawl: a 404 is a link to reclaim.

    ``status`` is the final HTTP status after redirects, or 0 when the request failed (DNS,
    connection, timeout); ``error`` then names the failure.
    """

    url: str
    status: int = 0
    final_url: str = ""  # where redirects ended ("" when none)
    error: str = ""
    checked_at: datetime | None = None
    crawl_id: str = ""


@dataclass
class FetchFailure:
    """A page that could not be fetched at all (DNS, connection, timeout).

    Its stored links are marked unverified, not lost: the page may still carry them.
    """

    url: str
    reason: str = ""
    failed_at: datetime | None = None
    crawl_id: str = ""
