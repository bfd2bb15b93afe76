"""Redirect hops into a watched site: who linked a URL that turned out to redirect there.

A followed link may 302 (or meta-refresh) into the target; the redirect middlewares
(``backlink_spider.redirects``) then hand the response back instead of following it, and the
page that carried the href holds a backlink of ``link_type`` redirect. That page travels in the
request's meta (``bl_ref``). Pages that link the same URL while it is in flight are remembered
here and credited when it lands; hop URLs already known to land are credited at once (the
spider passes ``known`` to ``classify_links``).

With a shared frontier any worker may fetch a URL: the pages of this worker that link a URL
another worker admitted are handed over through Redis (``SharedCrawl.refer``), and the worker
that fetches it answers them (``SharedCrawl.resolve``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy.http import Request, Response

from backlink_spider.extract import Link

if TYPE_CHECKING:
    from backlink_spider.frontier import SharedCrawl

logger = logging.getLogger(__name__)

MAX_HOP_REFERRERS = 100  # pages remembered per hop URL while it is in flight
MAX_KNOWN_HOPS = 100_000  # hop URLs remembered with where they land

# (source URL, source title, source status, the link): a page that linked a followed URL.
Ref = tuple[str, str, int, Link]
# Where a hop lands, and the first URL of its chain (the backlink's via_url).
Landing = tuple[str, str]


def dump_ref(ref: Ref) -> str:
    """A ref as one line of JSON, for the other workers of a shared crawl and for JOBDIR."""
    source, title, status, link = ref
    fields = (
        link.url,
        link.anchor_text,
        list(link.rel),
        link.nofollow,
        link.link_type,
        link.position,
        link.context,
        link.tag,
    )
    return json.dumps([source, title, status, *fields])


def load_ref(line: str) -> Ref:
    source, title, status, url, anchor, rel, nofollow, link_type, position, context, tag = (
        json.loads(line)
    )
    link = Link(url, anchor, tuple(rel), nofollow, link_type, position, context, tag)
    return source, title, status, link


@dataclass
class HopBook:
    """Redirect-hop bookkeeping of one crawl, keyed by link URL as written."""

    shared: SharedCrawl | None = None
    known: dict[str, Landing] = field(default_factory=dict)  # hop URL -> where it lands
    inflight: dict[str, list[Ref]] = field(default_factory=dict)  # queued here: who links it
    # A shared crawl: URLs (as written -> canonical) admitted to the shared queue, not yet known
    # to be a hop or not; and this page's refs to them, handed over in one call.
    remote: dict[str, str] = field(default_factory=dict)
    remote_refs: list[tuple[str, Ref]] = field(default_factory=list)

    def waits(self, url: str, ref: Ref) -> bool:
        """True when ``url`` is already in flight: ``ref`` is credited if it is a hop."""
        waiting = self.inflight.get(url)
        if waiting is not None:
            if len(waiting) < MAX_HOP_REFERRERS:
                waiting.append(ref)
            return True
        canonical = self.remote.get(url) if self.remote else None
        if canonical is not None:
            self.remote_refs.append((canonical, ref))
            return True
        return False

    def admitted(self, canonical: str, ref: Ref | None, meta: dict[str, Any]) -> None:
        """A request for a newly admitted URL: its meta carries who linked it."""
        if ref is not None:
            meta["bl_ref"], meta["bl_key"] = ref, ref[3].url
            if self.shared is None:
                self.inflight[ref[3].url] = []
            elif len(self.remote) < MAX_KNOWN_HOPS:
                self.remote[ref[3].url] = canonical  # later links are handed over in Redis
        if self.shared is not None:
            meta["bl_url"] = canonical  # answered to the other workers when fetched

    def seen_elsewhere(self, canonical: str, ref: Ref | None) -> None:
        """Another worker fetches it: if it is a hop, that worker credits this page."""
        if ref is not None and len(self.remote) < MAX_KNOWN_HOPS:
            self.remote[ref[3].url] = canonical
            self.remote_refs.append((canonical, ref))

    def answered(self, request: Request | Response) -> None:
        """A followed URL was fetched (and is not a hop), or failed: its waiting refs go."""
        self.inflight.pop(request.meta.get("bl_key", ""), None)
        if self.shared is not None and "bl_url" in request.meta:
            self.shared.resolve(request.meta["bl_url"])

    def landed(self, response: Response, landing: Landing) -> list[Ref]:
        """A followed URL redirected into a watched site: every page that linked it."""
        ref: Ref = response.meta["bl_ref"]
        if len(self.known) < MAX_KNOWN_HOPS:
            self.known[ref[3].url] = landing
        refs = [ref, *(self.inflight.pop(ref[3].url, None) or ())]
        if self.shared is not None and "bl_url" in response.meta:
            # Pages (of this worker and the others) that linked it while it was in flight.
            queued = self.shared.resolve(response.meta["bl_url"], "\t".join(landing))
            refs += [load_ref(line) for line in queued]
        return refs

    def hand_over(self) -> dict[Landing, list[Ref]]:
        """A shared crawl: this page's refs to URLs other workers fetch, in one Redis call;
        the ones already known to be hops come back, by landing, to be credited now."""
        if not self.remote_refs or self.shared is None:
            return {}
        pending, self.remote_refs = self.remote_refs, []
        answers = self.shared.refer([(url, dump_ref(ref)) for url, ref in pending])
        landed: dict[Landing, list[Ref]] = {}
        for (_, ref), answer in zip(pending, answers, strict=True):
            if answer == "wait":
                continue  # queued for the worker fetching it
            self.remote.pop(ref[3].url, None)
            if answer:  # a known hop: this worker remembers it and credits the page now
                where, _, via = answer.partition("\t")
                landed.setdefault((where, via), []).append(ref)
                if len(self.known) < MAX_KNOWN_HOPS:
                    self.known[ref[3].url] = (where, via)
        return landed

    # -- what a JOBDIR attempt saves ----------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "hops": self.known,
            "inflight": {url: [dump_ref(r) for r in refs] for url, refs in self.inflight.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Hops an earlier attempt learned, and the pages waiting on queued ones (a crawl goes
        on without them when they are unreadable)."""
        try:
            known = {url: (str(hop[0]), str(hop[1])) for url, hop in state["hops"].items()}
            inflight = {url: [load_ref(r) for r in refs] for url, refs in state["inflight"].items()}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            logger.warning("Saved redirect hops are unreadable (%r): starting without them", exc)
            return
        self.known, self.inflight = known, inflight

    def reset(self) -> None:
        self.known, self.inflight = {}, {}
        self.remote, self.remote_refs = {}, []
