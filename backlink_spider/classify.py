"""What a page's links mean, as a pure function: backlinks, out-host counts, links to follow.

The spider extracts a page (``extract.extract_page``), then asks ``classify_links`` what its
links are, given the page's site, its role in the crawl and how far it is from the seeds:

- a link into a watched domain (the target or a competitor) from a page that is not the
  target's own is a backlink, merged per canonical target URL (``merge_link``);
- a link whose URL is a redirect hop already known to land in a watched site is a backlink of
  ``link_type`` redirect too (``hops``: link URL as written -> (landing URL, first URL));
- a link to another host is counted for the host graph (links, and links that pass trust);
- a link within the page's site is followed; one to another site while ``hop < depth``; one past
  the depth whose query names a watched domain (``/go?u=https://target/``) is probed once,
  since it is likely a click tracker that redirects there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote

from backlink_spider.admission import ROLE_SITE, ROLE_TARGET
from backlink_spider.extract import PROMINENCE, Link
from backlink_spider.items import OutHost
from backlink_spider.urls import get_resolver, try_canonical_url, url_host
from backlink_spider.vocabulary import is_followed

_AUTHORITY_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#\\]*)")
MAX_OUT_HOSTS = 1000  # per page record: a page linking 100k hosts must stay a small document


@dataclass(frozen=True)
class Found:
    """The most prominent link of a page to one target URL, how often it links there, and the
    href as written when it reaches the target through a redirect."""

    link: Link
    count: int = 1
    via: str | None = None


@dataclass(frozen=True)
class Follow:
    url: str  # as linked
    role: str
    hop: int
    probe: bool  # past the depth: fetched only to see whether it redirects to a watched site
    link: Link


@dataclass
class PageLinks:
    found: dict[str, Found] = field(default_factory=dict)  # canonical target URL -> Found
    out_hosts: list[OutHost] = field(default_factory=list)
    follow: list[Follow] = field(default_factory=list)
    unparseable: int = 0  # links to a watched domain whose URL cannot be made canonical


@lru_cache(maxsize=65536)
def _netloc_host(netloc: str) -> tuple[str, str]:
    host = url_host(f"http://{netloc}/")
    return host, get_resolver().registered_domain(host)


def host_domain(url: str) -> tuple[str, str]:
    """(host, registered domain) of an absolute URL; per link, so a regex on the authority
    rather than a full urlsplit, and the lookups cached per netloc."""
    match = _AUTHORITY_RE.match(url)
    if match is None:
        return "", ""
    return _netloc_host(match.group(1).rsplit("@", 1)[-1])


def names_watched(url: str, watched: Iterable[str]) -> bool:
    """True when a URL's query carries a watched domain (``/go?u=https://target/…``)."""
    query = url.partition("?")[2]
    if not query:
        return False
    text = unquote(unquote(query)).lower()
    return any(domain in text for domain in watched)


def merge_link(found: dict[str, Found], key: str, link: Link, via: str | None = None) -> None:
    """Merge repeats of one target URL on a page: keep the most prominent, count them all.

    A direct link wins over a redirect to the same URL at the same prominence.
    """
    kept = found.get(key)
    if kept is None:
        found[key] = Found(link, 1, via)
    elif (PROMINENCE[link.position], via is not None) < (
        PROMINENCE[kept.link.position],
        kept.via is not None,
    ):
        found[key] = Found(link, kept.count + 1, via)
    else:
        found[key] = Found(kept.link, kept.count + 1, kept.via)


def classify_links(
    links: Iterable[Link],
    *,
    domain: str,
    role: str,
    hop: int,
    depth: int,
    watched: frozenset[str],
    drop_params: tuple[str, ...] = (),
    hops: Mapping[str, tuple[str, str]] | None = None,
) -> PageLinks:
    """The page's links sorted out (see the module); ``domain`` is the page's own site."""
    result = PageLinks()
    counts: dict[str, list[int]] = {}
    records_backlinks = role != ROLE_TARGET
    hops = hops if hops and records_backlinks else None
    for link in links:
        link_host, link_domain = host_domain(link.url)
        if not link_host:
            continue
        if hops is not None:
            known = hops.get(link.url)
            if known is not None:  # a redirect into a watched site, seen before
                merge_link(result.found, known[0], link, via=known[1])
        if link_domain == domain:
            result.follow.append(Follow(link.url, role, hop, False, link))
            continue
        host_counts = counts.setdefault(link_host, [0, 0])
        host_counts[0] += 1
        if is_followed(link.rel, link.nofollow):
            host_counts[1] += 1
        if not records_backlinks:
            continue
        if link_domain in watched:
            key = try_canonical_url(link.url, drop_params=drop_params)
            if key is None:
                result.unparseable += 1
            else:
                merge_link(result.found, key, link)
        elif hop < depth:
            result.follow.append(Follow(link.url, ROLE_SITE, hop + 1, False, link))
        elif names_watched(link.url, watched):
            result.follow.append(Follow(link.url, ROLE_SITE, hop + 1, True, link))
    ranked = sorted(counts.items(), key=lambda kv: -kv[1][0])[:MAX_OUT_HOSTS]
    result.out_hosts = [OutHost(host=h, links=n, followed=f) for h, (n, f) in ranked]
    return result
