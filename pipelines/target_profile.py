"""A target's profile: its trusted seeds, competitors, keywords, distrusted hosts and kept
domains, stored.

Scores must move only when the web or the site owner's choices move, never because the last
crawl happened to start from one seed. So the choices live in one document per target
(``targets``, ``_id`` the target's registered domain) that crawls add to (a seed given to a
crawl is a trusted seed of its target from then on) and ``scrapy target`` edits; scoring,
prospects, the report and scheduled crawls read it, and a crawl given no seeds crawls its seeds.

Additions are ``$addToSet`` and removals ``$pull``: two crawls adding at once, or a crawl
beside an edit, lose nothing of each other's. A store written before profiles existed gets each
target's profile once, from the arguments of all its stored crawls.

The profile also keeps the referring sites ``scrapy discover`` found in Common Crawl's web graph
(``discovered``): facts, not choices, so they are not seeds (scoring reads only their Common
Crawl ranks, as a floor of site trust), and an edit of them leaves ``updated_at`` alone. Each
graph's list is one field (``discovered.<graph>``) that a lookup of that graph replaces whole
with ``$set``: looking again is idempotent, other graphs' lists and concurrent ``$addToSet`` of
the choices are untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from backlink_spider.urls import UrlError, parse_seed, url_host
from backlink_spider.vocabulary import DISCOVERED

FIELDS = ("seeds", "competitors", "keywords", "distrust", "keep")
# What scoring reads of a profile: an edit of the others (``keep``) leaves every score as it is.
SCORING_FIELDS = ("seeds", "competitors", "keywords", "distrust")
# Discovered sources kept per graph, best ranked first: a crawl visits a few dozen, and the
# profile stays a small document (MongoDB caps one at 16 MiB) whatever the target's fame.
MAX_DISCOVERED = 1000


@dataclass(frozen=True)
class DiscoveredSource:
    """A site that links to the target or a competitor in a Common Crawl graph."""

    name: str  # the referring domain (a host, from a host-level graph), normal order
    graph: str  # where it was found: the graph's basename (cc-main-2024-25-nov-dec-jan-domain)
    links_to: tuple[str, ...]  # the watched domains it links to there
    level: str = "domain"  # domain or host
    harmonic_pos: int | None = None  # CC's rank positions, 1 = best; None without ranks
    pagerank_pos: int | None = None
    harmonic: float | None = None
    pagerank: float | None = None
    indegree: int = 0  # sites linking to it in the graph (the order without ranks)
    discovered_at: datetime | None = None

    def order(self) -> tuple[float, int, str]:
        """Best first: harmonic-centrality position, then the most linked."""
        pos = self.harmonic_pos if self.harmonic_pos is not None else float("inf")
        return (pos, -self.indegree, self.name)

    def doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "graph": self.graph,
            "level": self.level,
            "links_to": list(self.links_to),
            "harmonic_pos": self.harmonic_pos,
            "harmonic": self.harmonic,
            "pagerank_pos": self.pagerank_pos,
            "pagerank": self.pagerank,
            "indegree": self.indegree,
            "discovered_at": self.discovered_at,
        }

    @classmethod
    def from_doc(cls, doc: Any) -> DiscoveredSource | None:
        """None for an entry that is not one (a hand edit, another version)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
            return None

        def number(key: str, kind: type) -> Any:
            value = doc.get(key)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            return kind(value) if ok else None

        return cls(
            name=doc["name"],
            graph=str(doc.get("graph") or ""),
            links_to=tuple(str(d) for d in doc.get("links_to") or () if isinstance(d, str)),
            level=str(doc.get("level") or "domain"),
            harmonic_pos=number("harmonic_pos", int),
            pagerank_pos=number("pagerank_pos", int),
            harmonic=number("harmonic", float),
            pagerank=number("pagerank", float),
            indegree=number("indegree", int) or 0,
            discovered_at=doc.get("discovered_at"),
        )


def _moment(when: datetime | None) -> float:
    """A stored time as seconds, naive ones taken as UTC (as the store gives them back)."""
    if when is None:
        return float("-inf")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _discovered(doc: dict[str, Any]) -> tuple[DiscoveredSource, ...]:
    """Every graph's discovered sources as one list, best first: a site found in several
    graphs once, as the latest lookup found it."""
    by_graph = doc.get(DISCOVERED)
    latest: dict[str, DiscoveredSource] = {}
    for entries in by_graph.values() if isinstance(by_graph, dict) else ():
        for entry in entries if isinstance(entries, list) else ():
            source = DiscoveredSource.from_doc(entry)
            if source is None:
                continue
            kept = latest.get(source.name)
            if kept is None or _moment(source.discovered_at) > _moment(kept.discovered_at):
                latest[source.name] = source
    return tuple(sorted(latest.values(), key=DiscoveredSource.order))


@dataclass(frozen=True)
class TargetProfile:
    target: str
    seeds: tuple[str, ...] = ()  # start URLs of trusted seed sites (``urls.parse_seed``)
    competitors: tuple[str, ...] = ()  # registered domains
    keywords: tuple[str, ...] = ()
    distrust: tuple[str, ...] = ()  # known-bad hosts (Anti-TrustRank seeds)
    keep: tuple[str, ...] = ()  # registered domains never put in a disavow file
    # found in Common Crawl's graphs (``store_discovered``), best first; not a choice
    discovered: tuple[DiscoveredSource, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TargetProfile:
        def strings(name: str) -> tuple[str, ...]:
            return tuple(str(v) for v in doc.get(name) or () if isinstance(v, str) and v)

        return cls(
            target=str(doc["_id"]),
            seeds=strings("seeds"),
            competitors=strings("competitors"),
            keywords=strings("keywords"),
            distrust=strings("distrust"),
            keep=strings("keep"),
            discovered=_discovered(doc),
            created_at=doc.get("created_at"),
            updated_at=doc.get("updated_at"),
        )

    @property
    def seed_hosts(self) -> tuple[str, ...]:
        """The trusted seed sites' hosts, in order, once each."""
        return tuple(dict.fromkeys(_host(s) for s in self.seeds if _host(s)))

    def describe(self) -> dict[str, Any]:
        return {"target": self.target, **{name: list(getattr(self, name)) for name in FIELDS}}

    def top_discovered(self, count: int, skip: Iterable[str] = ()) -> list[DiscoveredSource]:
        """The ``count`` best-ranked discovered sources, leaving out the sites in ``skip``
        (registered domains: the watched ones, the seeds') and any site under them."""
        skipped = {d for d in skip if d}
        chosen = []
        for source in self.discovered:
            if any(source.name == d or source.name.endswith(f".{d}") for d in skipped):
                continue
            chosen.append(source)
            if len(chosen) == count:
                break
        return chosen


def _host(seed: str) -> str:
    try:
        return url_host(parse_seed(seed))
    except UrlError:
        return ""


def _from_crawls(db: Any, domain: str) -> dict[str, list[str]]:
    """What the stored crawls of ``domain`` were given, oldest first, once each."""
    merged: dict[str, dict[str, None]] = {name: {} for name in FIELDS}
    for crawl in db.crawls.find({"target": domain}, dict.fromkeys(FIELDS, 1)).sort("started_at", 1):
        for name in FIELDS:
            for value in crawl.get(name) or ():
                if isinstance(value, str) and value:
                    merged[name][value] = None
    return {name: list(values) for name, values in merged.items()}


def load_profile(db: Any, domain: str) -> TargetProfile | None:
    """The stored profile of ``domain``; None when it was never crawled or edited.

    A store from before profiles: made once from the stored crawls' arguments (an upsert that
    a concurrent first write cannot duplicate)."""
    doc = db.targets.find_one({"_id": domain})
    if doc is None:
        fields = _from_crawls(db, domain)
        if not any(fields.values()) and db.crawls.count_documents({"target": domain}) == 0:
            return None
        now = datetime.now(UTC)
        db.targets.update_one(
            {"_id": domain},
            {"$setOnInsert": {**fields, "created_at": now, "updated_at": now}},
            upsert=True,
        )
        doc = db.targets.find_one({"_id": domain})
    return TargetProfile.from_doc(doc) if doc else None


def scoring_profile(db: Any, domain: str) -> TargetProfile:
    """The profile scoring reads for ``domain``: its own; for a domain only ever watched as a
    competitor, the seeds and distrust of the latest profile that lists it (its competitors
    are not its own), else an empty one."""
    own = load_profile(db, domain)
    if own is not None:
        return own
    doc = db.targets.find_one({"competitors": domain}, sort=[("updated_at", -1)])
    watcher = TargetProfile.from_doc(doc) if doc else None
    if watcher is None:  # an older store: the profile of the latest crawl that watched it
        crawl = db.crawls.find_one(
            {"competitors": domain}, {"target": 1}, sort=[("started_at", -1)]
        )
        watcher = load_profile(db, crawl["target"]) if crawl and crawl.get("target") else None
    if watcher is None:
        return TargetProfile(domain)
    return TargetProfile(domain, seeds=watcher.seeds, distrust=watcher.distrust)


def add_to_profile(db: Any, domain: str, **values: Iterable[str]) -> TargetProfile:
    """Add seeds, competitors, keywords or distrust hosts (already checked) to the profile."""
    return edit_profile(db, domain, add=values)


def edit_profile(
    db: Any,
    domain: str,
    add: Mapping[str, Iterable[str]] | None = None,
    remove: Mapping[str, Iterable[str]] | None = None,
) -> TargetProfile:
    """Add and remove values of the profile's fields in one atomic update; the profile after.

    A seed is removed with every start page on its host: ``remove={"seeds": ["a.com"]}`` stops
    trusting the site a.com, whichever pages its crawls started from."""
    before = load_profile(db, domain)  # an older store's profile exists before it is added to
    now = datetime.now(UTC)
    update: dict[str, Any] = {"$setOnInsert": {"created_at": now, "updated_at": now}}
    additions = {
        name: list(dict.fromkeys(v for v in values if v))
        for name, values in (add or {}).items()
        if name in FIELDS
    }
    if additions := {name: values for name, values in additions.items() if values}:
        update["$addToSet"] = {name: {"$each": values} for name, values in additions.items()}
    removals = {name: list(values) for name, values in (remove or {}).items() if name in FIELDS}
    if removals.get("seeds"):
        current = before or TargetProfile(domain)
        hosts = {_host(s) or s for s in removals["seeds"]}
        removals["seeds"] = [s for s in current.seeds if _host(s) in hosts or s in hosts]
    if removals := {name: values for name, values in removals.items() if values}:
        clash = set(removals) & set(additions)
        if clash:  # one update cannot $addToSet and $pull one field
            raise ValueError(f"cannot add and remove {sorted(clash)[0]} at once")
        update["$pull"] = {name: {"$in": values} for name, values in removals.items()}
    doc = db.targets.find_one_and_update(
        {"_id": domain}, update, upsert=True, return_document=ReturnDocument.AFTER
    )
    after = TargetProfile.from_doc(doc)
    if before is not None and after.describe() != before.describe():
        # When the choices last changed, not when a crawl last ran.
        db.targets.update_one({"_id": domain}, {"$max": {"updated_at": now}})
        after = replace(after, updated_at=now)
    return after


def graph_key(graph: str) -> str:
    """A graph's name as one field name of ``discovered`` (no dots, no leading ``$``)."""
    return graph.replace(".", "_").replace("$", "_") or "_"


def store_discovered(
    db: Any, domain: str, graph: str, sources: Iterable[DiscoveredSource]
) -> TargetProfile:
    """The sources a lookup of ``graph`` found, in place of that graph's earlier ones (the
    ``MAX_DISCOVERED`` best); the profile after. One atomic update: see the module."""
    load_profile(db, domain)  # an older store's profile exists before it is added to
    now = datetime.now(UTC)
    best = sorted(sources, key=DiscoveredSource.order)[:MAX_DISCOVERED]
    docs = [replace(s, discovered_at=s.discovered_at or now).doc() for s in best]
    doc = db.targets.find_one_and_update(
        {"_id": domain},
        {
            "$set": {f"{DISCOVERED}.{graph_key(graph)}": docs},
            "$setOnInsert": {"created_at": now, "updated_at": now},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return TargetProfile.from_doc(doc)
