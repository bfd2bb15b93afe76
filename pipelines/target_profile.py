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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from backlink_spider.urls import UrlError, parse_seed, url_host

FIELDS = ("seeds", "competitors", "keywords", "distrust", "keep")
# What scoring reads of a profile: an edit of the others (``keep``) leaves every score as it is.
SCORING_FIELDS = ("seeds", "competitors", "keywords", "distrust")


@dataclass(frozen=True)
class TargetProfile:
    target: str
    seeds: tuple[str, ...] = ()  # start URLs of trusted seed sites (``urls.parse_seed``)
    competitors: tuple[str, ...] = ()  # registered domains
    keywords: tuple[str, ...] = ()
    distrust: tuple[str, ...] = ()  # known-bad hosts (Anti-TrustRank seeds)
    keep: tuple[str, ...] = ()  # registered domains never put in a disavow file
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
            created_at=doc.get("created_at"),
            updated_at=doc.get("updated_at"),
        )

    @property
    def seed_hosts(self) -> tuple[str, ...]:
        """The trusted seed sites' hosts, in order, once each."""
        return tuple(dict.fromkeys(_host(s) for s in self.seeds if _host(s)))

    def describe(self) -> dict[str, Any]:
        return {"target": self.target, **{name: list(getattr(self, name)) for name in FIELDS}}


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
