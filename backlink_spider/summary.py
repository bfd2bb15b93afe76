"""What ``crawl`` and ``score`` print when they are done: a compact table on standard output.

Logs go to standard error, so this is what a person reads (and ``--nolog`` keeps): the target's
links as the store holds them now, the figures of its latest crawl, the seeds that could not be
crawled and why, what the crawl spent its page budget on and the hosts it left unseen (its
``coverage``: the best of them as seeds for the next crawl), and the best links with the first
reasons of their scores. Every number comes
from the store through the vocabulary (``crawl_figures`` of the record, ``is_followed``), so it
agrees with ``crawls``, ``export`` and the report. Rich lays it out to the terminal's width,
wrapping at spaces rather than cutting words.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from backlink_spider.cli import program
from backlink_spider.vocabulary import (
    COVERAGE,
    COVERAGE_BUDGET,
    COVERAGE_COMPETITOR_ONLY,
    COVERAGE_SUGGESTED,
    COVERAGE_UNCRAWLED,
    DISCOVERED,
    DISCOVERED_OUTCOMES,
    FAILED_SEEDS,
    LINK_TRUST,
    MATCHED_DOMAIN,
    NOT_LOST,
    OFF_TOPIC,
    ON_TOPIC,
    QUALITY,
    REASONS,
    SCORES,
    SITE_TRUST,
    SOURCE_DOMAIN,
    UNKNOWN_TOPIC,
    UNSEEN_WORDS,
    UPGRADES_QUERY,
    is_followed,
    latest_crawl,
    record_figures,
    takes_away,
)

TOP_LINKS = 5  # the best links listed
TOP_REASONS = 2  # reasons shown of each
TOP_SEEDS = 3  # suggested seeds named (the export has them all)


@dataclass
class TargetSummary:
    """The figures of one target, as the store holds them now."""

    target: str
    data_dir: str
    crawl_id: str | None = None
    crawl_status: str | None = None
    figures: dict[str, int | None] = field(default_factory=dict)
    backlinks: int = 0  # not lost: live or unverified
    referring_domains: int = 0
    followed: int = 0
    upgrades: int = 0  # links from strong sites that pass little (UPGRADES_QUERY)
    discovered: dict[str, int] = field(default_factory=dict)  # outcome -> sites (DISCOVERED)
    failed_seeds: list[tuple[str, str]] = field(default_factory=list)  # (seed, why)
    # The latest crawl's coverage (empty: a record from before coverage): pages fetched per
    # host class, hosts left unseen per reason, the suggested seeds (best first), and how many
    # hosts link a competitor and not the target.
    budget: dict[str, int] = field(default_factory=dict)
    uncrawled: dict[str, int] = field(default_factory=dict)
    suggested_seeds: list[str] = field(default_factory=list)
    competitor_only: int = 0
    # source, anchor, quality, site and link trust, reasons
    top: list[dict[str, Any]] = field(default_factory=list)


def target_summary(db: Any, target: str, data_dir: str) -> TargetSummary:
    """Read the target's summary from the store: its links not lost, its latest crawl."""
    summary = TargetSummary(target=target, data_dir=data_dir)
    crawl = latest_crawl(db, target)
    if crawl is not None:
        summary.crawl_id = str(crawl["_id"])
        summary.crawl_status = str(crawl.get("status") or "")
        summary.figures = record_figures(crawl)
        outcomes = crawl.get(DISCOVERED)
        if outcomes:  # the crawl visited sites found in Common Crawl's graph
            summary.discovered = {n: int(outcomes.get(n) or 0) for n in DISCOVERED_OUTCOMES}
        summary.failed_seeds = [
            (str(f.get("seed")), str(f.get("reason"))) for f in crawl.get(FAILED_SEEDS) or []
        ]
        coverage = crawl.get(COVERAGE) or {}
        budget = coverage.get(COVERAGE_BUDGET) or {}
        summary.budget = {k: int(budget.get(k) or 0) for k in (ON_TOPIC, OFF_TOPIC, UNKNOWN_TOPIC)}
        if not any(summary.budget.values()):
            summary.budget = {}
        summary.uncrawled = {
            str(k): int(n or 0) for k, n in (coverage.get(COVERAGE_UNCRAWLED) or {}).items() if n
        }
        summary.suggested_seeds = [
            str(s.get("host")) for s in coverage.get(COVERAGE_SUGGESTED) or [] if s.get("host")
        ]
        summary.competitor_only = len(coverage.get(COVERAGE_COMPETITOR_ONLY) or [])
    ours = {MATCHED_DOMAIN: target, **NOT_LOST}
    domains: set[str] = set()
    for link in db.backlinks.find(ours, {"rel": 1, "nofollow": 1, SOURCE_DOMAIN: 1}):
        summary.backlinks += 1
        summary.followed += is_followed(link.get("rel") or (), bool(link.get("nofollow")))
        if link.get(SOURCE_DOMAIN):
            domains.add(str(link[SOURCE_DOMAIN]))
    summary.referring_domains = len(domains)
    summary.upgrades = db.backlinks.count_documents({**ours, **UPGRADES_QUERY})
    best = db.backlinks.find(
        {**ours, f"{SCORES}.{QUALITY}": {"$ne": None}},
        {"source_url": 1, "anchor_text": 1, SCORES: 1},
        sort=[(f"{SCORES}.{QUALITY}", -1), ("_id", 1)],
        limit=TOP_LINKS,
    )
    for link in best:
        scores = link.get(SCORES) or {}
        summary.top.append(
            {
                "source": str(link.get("source_url") or ""),
                "anchor": str(link.get("anchor_text") or ""),
                "quality": float(scores.get(QUALITY) or 0.0),
                "site": scores.get(SITE_TRUST),
                "link": float(scores.get(LINK_TRUST) or 0.0),
                "reasons": shown_reasons([str(r) for r in scores.get(REASONS) or []]),
            }
        )
    return summary


def shown_reasons(reasons: list[str]) -> list[str]:
    """The reasons a row has room for (``TOP_REASONS``): the site's (the first), then those
    naming a factor that took trust away, then the others in their order."""
    if not reasons:
        return []
    rest = reasons[1:]
    ranked = [r for r in rest if takes_away(r)] + [r for r in rest if not takes_away(r)]
    return [reasons[0], *ranked][:TOP_REASONS]


def coverage_lines(summary: TargetSummary) -> list[str]:
    """The coverage of the latest crawl in a few lines: where its page budget went, the best
    hosts it left unseen (and why, per reason), the hosts linking only a competitor; none for
    a record from before coverage."""
    lines: list[str] = []
    total = sum(summary.budget.values())
    if total:
        on, off, unknown = (
            summary.budget.get(k, 0) / total for k in (ON_TOPIC, OFF_TOPIC, UNKNOWN_TOPIC)
        )
        lines.append(
            f"budget: {on:.0%} on on-topic hosts, {off:.0%} off topic, {unknown:.0%} unknown"
        )
    hint = f"{program()} export {summary.target} --coverage"
    if summary.suggested_seeds:
        unseen = sum(summary.uncrawled.values())
        reasons = sorted(summary.uncrawled.items(), key=lambda kv: (-kv[1], kv[0]))
        why = ", ".join(f"{n} {UNSEEN_WORDS.get(k, k)}" for k, n in reasons)
        left = (
            f" ({unseen:,} host{'s' if unseen != 1 else ''} left unseen: {why})" if unseen else ""
        )
        lines.append(
            f"suggested seeds: {', '.join(summary.suggested_seeds[:TOP_SEEDS])}{left}: {hint}"
        )
    if summary.competitor_only:
        n = summary.competitor_only
        line = f"{n} host{'s link' if n != 1 else ' links'} a competitor and not {summary.target}"
        lines.append(line if summary.suggested_seeds else f"{line}: {hint}")
    return lines


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render(summary: TargetSummary) -> Group:
    """The summary as Rich renderables: a heading, the figures, failed seeds, the coverage,
    the top links."""
    heading = Text()
    heading.append(summary.target, style="bold")
    if summary.crawl_id:
        heading.append(f"  crawl {summary.crawl_id}")
        if summary.crawl_status:
            heading.append(f" ({summary.crawl_status})")
    figures = Table.grid(padding=(0, 3))
    for _ in range(3):
        figures.add_column()
        figures.add_column(justify="right")
    crawl = summary.figures
    share = f"{summary.followed / summary.backlinks:.0%}" if summary.backlinks else "-"
    figures.add_row(
        "backlinks",
        f"{summary.backlinks:,}",
        "referring domains",
        f"{summary.referring_domains:,}",
        "followed",
        share,
    )
    figures.add_row(
        "new this crawl",
        _count(crawl.get("new")),
        "lost",
        _count(crawl.get("lost")),
        "pages crawled",
        _count(crawl.get("pages")),
    )
    parts: list[Any] = [heading, figures]
    if summary.failed_seeds:
        failed = Text("seeds not crawled: ", style="bold")
        failed.append("; ".join(f"{seed} ({why})" for seed, why in summary.failed_seeds))
        parts.append(failed)
    parts.extend(Text(line) for line in coverage_lines(summary))
    if summary.discovered:
        said = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in summary.discovered.items())
        parts.append(Text(f"sites from Common Crawl: {said}"))
    if summary.top:
        top = Table(title="best links", title_justify="left", box=None)
        top.add_column("quality", justify="right", no_wrap=True)
        top.add_column("site", justify="right", no_wrap=True)
        top.add_column("link", justify="right", no_wrap=True)
        top.add_column("linking page, anchor", ratio=1, overflow="fold")
        top.add_column("why", ratio=1)
        for link in summary.top:
            page = Text(link["source"])
            page.append(f"\n“{link['anchor']}”" if link["anchor"] else "\n(no anchor text)")
            top.add_row(
                f"{link['quality']:.0f}",
                "-" if link["site"] is None else f"{float(link['site']):.0f}",
                f"{link['link']:.0f}",
                page,
                "; ".join(link["reasons"]),
            )
        parts.append(top)
    elif summary.backlinks:
        parts.append(Text(f"not scored yet: {program()} score {summary.target}"))
    if summary.upgrades:
        parts.append(
            Text(
                f"{summary.upgrades:,} link{'s' if summary.upgrades > 1 else ''} from strong "
                f"sites pass little of their trust: {program()} export {summary.target} "
                "--upgrades"
            )
        )
    parts.append(Text(f"data: {summary.data_dir}", style="dim"))
    return Group(*parts)


def console(file: IO[str] | None = None) -> Console:
    """A console on standard output at the terminal's width (``COLUMNS`` when piped)."""
    out = file or sys.stdout
    width = shutil.get_terminal_size((100, 24)).columns
    return Console(file=out, width=max(width, 40), soft_wrap=False, highlight=False)


def print_summary(db: Any, target: str, data_dir: str, file: IO[str] | None = None) -> None:
    console(file).print(render(target_summary(db, target, data_dir)))
