"""``scrapy disavow TARGET -o disavow.txt``: the referring domains to disavow, in Google's format.

A domain is chosen when scoring found it bad for the target: one of its hosts is distrusted in
the target profile (``scrapy target --distrust``), sits in a link-farm neighbourhood (the
``farm`` flag of ``hosts`` and the "link farm neighbourhood" reason of its links: unreached from
the seeds and linked by a cluster trading links, or distrust of ``FARM_DISTRUST`` and more), or
has a site distrust of at least ``--min-distrust``. A trusted seed's domain, the target's own
and the profile's kept domains (``scrapy target --keep``) are never chosen. Links already lost
are not counted.

The file is what Google's disavow tool reads: ``domain:`` lines, each after a ``#`` comment
giving that domain's reasons. The command prints the same choices, and the flagged domains it
held back, for a person to review before uploading.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand, check_output, fail, program
from backlink_spider.urls import get_resolver
from backlink_spider.vocabulary import (
    FARM_REASON,
    MATCHED_DOMAIN,
    NOT_LOST,
    REASONS,
    SCORES,
    SITE_DISTRUST,
    SITE_TRUST,
    SOURCE_DOMAIN,
    SOURCE_HOST,
    is_followed,
)
from pipelines.target_profile import TargetProfile, load_profile

BATCH = 1000  # hosts asked for at once


@dataclass
class Site:
    """A referring domain of the target, what scoring stored of its hosts, and the verdict."""

    domain: str
    hosts: set[str] = field(default_factory=set)
    links: int = 0
    followed: int = 0
    site_trust: float = 0.0
    site_distrust: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why it is to be disavowed
    held: str = ""  # why it is never listed, flagged or not

    @property
    def chosen(self) -> bool:
        return bool(self.reasons) and not self.held

    def facts(self) -> str:
        followed = f", {self.followed} followed" if self.followed != self.links else ""
        return (
            f"{self.links} link{'s' if self.links != 1 else ''}{followed}; site trust "
            f"{self.site_trust:.0f}, distrust {self.site_distrust:.0f}"
        )


def _reasons(
    site: Site,
    docs: dict[str, dict[str, Any]],
    farm_links: set[str],
    profile: TargetProfile,
    min_distrust: float,
) -> list[str]:
    """Why ``site`` is to be disavowed (``docs``: its hosts' ``hosts`` documents by host)."""
    distrusted = set(profile.distrust)
    reasons = []
    for host in sorted(site.hosts):
        doc = docs.get(host, {})
        where = f" ({host})" if host != site.domain else ""
        if host in distrusted or site.domain in distrusted or doc.get("distrust_seed"):
            reasons.append(f"distrusted in the target profile{where}")
        if doc.get("farm") or host in farm_links:
            reasons.append(f"{FARM_REASON}{where}")
    if site.site_distrust >= min_distrust and not reasons:  # --min-distrust below the farm's
        reasons.append(f"site distrust {site.site_distrust:.0f}")
    return list(dict.fromkeys(reasons))


def farm_distrust() -> float:
    """The distrust from which scoring puts a host in a link-farm neighbourhood (imported when
    needed: scoring brings numpy and scipy, which every other command would load too)."""
    from pipelines.scoring.run import FARM_DISTRUST

    return FARM_DISTRUST


def review(db: Any, target_domain: str, min_distrust: float | None = None) -> list[Site]:
    """Every referring domain of the target's links not lost, with its verdict: chosen ones
    first (most distrusted, then most links), then the rest by name. ``min_distrust``: the
    site distrust that chooses a domain by itself (default: ``farm_distrust()``)."""
    if min_distrust is None:
        min_distrust = farm_distrust()
    profile = load_profile(db, target_domain) or TargetProfile(target_domain)
    resolver = get_resolver()
    sites: dict[str, Site] = {}
    farm_links: set[str] = set()
    query = {MATCHED_DOMAIN: target_domain, **NOT_LOST}
    fields = {SOURCE_HOST: 1, SOURCE_DOMAIN: 1, "rel": 1, "nofollow": 1, f"{SCORES}.{REASONS}": 1}
    for link in db.backlinks.find(query, fields):
        host = str(link.get(SOURCE_HOST) or "")
        domain = str(link.get(SOURCE_DOMAIN) or resolver.registered_domain(host) or host)
        site = sites.setdefault(domain, Site(domain))
        site.hosts.add(host)
        site.links += 1
        site.followed += is_followed(link.get("rel") or [], bool(link.get("nofollow")))
        if FARM_REASON in ((link.get(SCORES) or {}).get(REASONS) or []):
            farm_links.add(host)
    ids = [f"{target_domain}|{h}" for s in sites.values() for h in s.hosts]
    docs = {
        str(doc.get("host")): doc
        for start in range(0, len(ids), BATCH)
        for doc in db.hosts.find({"_id": {"$in": ids[start : start + BATCH]}})
    }
    seed_domains = {resolver.registered_domain(h) for h in profile.seed_hosts}
    seed_domains |= {str(d.get("domain") or "") for d in docs.values() if d.get("seed")}
    for site in sites.values():
        mine = {h: docs[h] for h in site.hosts if h in docs}
        site.site_trust = max((float(d.get(SITE_TRUST) or 0) for d in mine.values()), default=0)
        site.site_distrust = max(
            (float(d.get(SITE_DISTRUST) or 0) for d in mine.values()), default=0
        )
        site.reasons = _reasons(site, mine, farm_links, profile, min_distrust)
        if site.domain in seed_domains:
            site.held = "a trusted seed of the target profile"
        elif site.domain in profile.keep:
            site.held = "kept in the target profile"
        elif site.domain == target_domain:
            site.held = "the target's own site"
    return sorted(
        sites.values(),
        key=lambda s: (not s.chosen, -s.site_distrust if s.chosen else 0, -s.links, s.domain),
    )


def disavow_text(target_domain: str, chosen: list[Site], now: datetime) -> str:
    """The file Google's disavow tool reads: ``#`` comments and ``domain:`` lines, UTF-8."""
    lines = [
        f"# Disavow file for {target_domain}, written by backlinks on {now:%Y-%m-%d %H:%M} UTC.",
        f"# {len(chosen)} domains its scoring found distrusted or in a link-farm neighbourhood.",
        "# Review it before uploading (Google Search Console: Disavow links).",
    ]
    for site in chosen:
        lines += [f"# {site.domain}: {'; '.join(site.reasons)}; {site.facts()}"]
        lines += [f"domain:{site.domain}"]
    return "\n".join(lines) + "\n"


class Command(StoreCommand):
    def syntax(self) -> str:
        return "TARGET [-o FILE] [--min-distrust N]"

    def short_desc(self) -> str:
        return (
            "Write a disavow file (Google's format) of a target's distrusted and link-farm domains"
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="write the disavow file to FILE (none or '-': standard output, and the review "
            "to standard error)",
        )
        parser.add_argument(
            "--min-distrust",
            type=float,
            default=farm_distrust(),
            metavar="N",
            help=f"also choose domains with a site distrust of N or more, 0-100 (default "
            f"{farm_distrust():.0f})",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError(
                f"give one target, e.g. {program()} disavow site.com -o disavow.txt",
                print_help=False,
            )
        if not 0 < opts.min_distrust <= 100:
            fail(f"--min-distrust must be above 0 and at most 100, not {opts.min_distrust:g}")
        domain = self.target_domain(args[0])
        destination = opts.output or "-"
        if destination != "-":
            check_output(destination)
        with self.open_store(domain) as store:
            if store.db.backlinks.count_documents({MATCHED_DOMAIN: domain}, limit=1) == 0:
                fail(
                    f"no stored backlinks for {domain} (crawl it first: "
                    f"{program()} crawl niche -a target={domain} -a seeds=...)",
                    code=1,
                )
            if store.db.hosts.count_documents({"target": domain}, limit=1) == 0:
                fail(f"the links of {domain} are not scored yet: {program()} score {domain}", 1)
            sites = review(store.db, domain, opts.min_distrust)
        chosen = [s for s in sites if s.chosen]
        out = sys.stderr if destination == "-" else sys.stdout
        self._print_review(domain, sites, chosen, out)
        if not chosen:
            print(f"nothing to disavow for {domain}: no file written", file=out)
            return
        text = disavow_text(domain, chosen, datetime.now(UTC))
        if destination == "-":
            sys.stdout.write(text)
            return
        try:
            Path(destination).expanduser().write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {destination}: {exc.strerror or exc}", code=1)
        print(
            f"\n{len(chosen)} domains written to {destination}: review them, then upload the "
            "file in Google Search Console (Disavow links)",
            file=out,
        )

    @staticmethod
    def _print_review(domain: str, sites: list[Site], chosen: list[Site], out: TextIO) -> None:
        print(
            f"{len(chosen)} of the {len(sites)} referring domains of {domain} to disavow:",
            file=out,
        )
        width = max((len(s.domain) for s in chosen), default=0) + len("domain:")
        for site in chosen:
            line = f"  {'domain:' + site.domain:<{width}}  {'; '.join(site.reasons)}"
            print(f"{line} ({site.facts()})", file=out)
        held = [s for s in sites if s.reasons and s.held]
        if held:
            print("Flagged but never listed:", file=out)
            for site in held:
                print(f"  {site.domain}: {site.held} ({'; '.join(site.reasons)})", file=out)
