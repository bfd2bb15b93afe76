"""``scrapy discover TARGET --webgraph BASENAME``: who links to the target, says Common Crawl.

Looks the target and its competitors up in a Common Crawl web graph (domain or host level, the
files as CC publishes them plus the ``.ef`` offsets: ``pipelines.commongraph``) and lists the
sites that link to each, best ranked first, and the gap: sites linking to a competitor and not
to the target. The sites found (not the watched ones) are stored in the target's profile with
the graph, their ranks and the domains they link to, so that ``scrapy crawl niche -a
target=… -a discovered=N`` visits the best N and tells, link by link, what is there today.

Competitors come from the profile unless ``--competitors`` names them. ``-O FILE`` writes one
JSON line per referring site (``-``: standard output) instead of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO

from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand, check_output, fail, program, reader_gone, row_limit
from backlink_spider.config import ArgumentError, parse_competitors, split_list
from pipelines.commongraph import CommonGraph, Discovery, GraphError, GraphFiles, Referrer
from pipelines.store import Store, StoreConfig
from pipelines.target_profile import DiscoveredSource, load_profile, store_discovered

SHOWN = 20  # rows per table unless --limit says
HEAD = "LINKS TO"


def source_of(referrer: Referrer, discovery: Discovery) -> DiscoveredSource:
    """A referring site as the profile keeps it."""
    rank = referrer.rank
    return DiscoveredSource(
        name=referrer.name,
        graph=discovery.graph,
        level=discovery.level,
        links_to=referrer.links_to,
        harmonic_pos=rank.harmonic_pos if rank else None,
        harmonic=rank.harmonic if rank else None,
        pagerank_pos=rank.pagerank_pos if rank else None,
        pagerank=rank.pagerank if rank else None,
        indegree=referrer.indegree,
    )


def referrer_record(referrer: Referrer, discovery: Discovery) -> dict[str, Any]:
    """One JSON line of ``-O``: the site, its ranks, what it links to, whether it is gap."""
    source = source_of(referrer, discovery).doc()
    source.pop("discovered_at")
    return {**source, "node": referrer.node, "gap": discovery.target not in referrer.links_to}


def _pos(value: int | None) -> str:
    return f"{value:,}" if value is not None else "-"


def table(discovery: Discovery, limit: int) -> list[str]:
    """The lookup as a person reads it: counts, then the best referring sites of the target,
    and the gap."""
    kind = "domains" if discovery.level == "domain" else "hosts"
    lines = []
    for domain in discovery.watched:
        label = "target" if domain == discovery.target else "competitor"
        if discovery.nodes.get(domain):
            said = f"{len(discovery.of(domain)):,} referring {kind}"
        else:
            said = "not in the graph"
        lines.append(f"  {label:<10}  {domain:<32}  {said}")
    if discovery.competitors:
        gap = f"{len(discovery.gap):,} linking to a competitor, not to {discovery.target}"
        lines.append(f"  {'gap':<10}  {'':<32}  {gap}")
    sections = [(f"referring {kind} of {discovery.target}", discovery.of(discovery.target))]
    if discovery.competitors:
        sections.append((f"gap: linking to a competitor, not to {discovery.target}", discovery.gap))
    for title, rows in sections:
        if not rows:
            continue
        shown = rows[:limit]
        lines += ["", f"{title} (best {len(shown):,} of {len(rows):,})"]
        lines.append(f"  {'HC RANK':>11}  {'PR RANK':>11}  {'LINKED BY':>9}  {'SITE':<32}  {HEAD}")
        for r in shown:
            rank = r.rank
            lines.append(
                f"  {_pos(rank.harmonic_pos if rank else None):>11}  "
                f"{_pos(rank.pagerank_pos if rank else None):>11}  {r.indegree:>9,}  "
                f"{r.name:<32}  {', '.join(r.links_to)}"
            )
    return lines


class Command(StoreCommand):
    def syntax(self) -> str:
        return "TARGET --webgraph BASENAME [--competitors DOMAINS] [--limit N] [-O FILE]"

    def short_desc(self) -> str:
        return "Find the sites linking to a target and its competitors in Common Crawl's graph"

    def long_desc(self) -> str:
        return (
            "Look the target and its competitors up in a Common Crawl web graph (BASENAME: "
            "e.g. ~/cc/cc-main-2024-25-nov-dec-jan-domain, with its -t.graph, -t.properties, "
            "-t.ef, -vertices.txt.gz and, for ranks, -ranks.txt.gz) and list the sites linking "
            "to each, best ranked first, and the gap. The sites found are stored in the "
            "target's profile: crawl the best with -a discovered=N."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--webgraph",
            metavar="BASENAME",
            help="the graph's basename: its files' common prefix (…/NAME-domain or …/NAME-host)",
        )
        parser.add_argument(
            "--competitors",
            metavar="DOMAINS",
            help="comma-separated; default: the target profile's competitors",
        )
        parser.add_argument(
            "--limit", metavar="N", help=f"rows per table (default {SHOWN}; -O writes all)"
        )
        parser.add_argument(
            "-O",
            "--overwrite-output",
            metavar="FILE",
            help="write JSON Lines, one referring site a line, to FILE ('-': standard output)",
        )
        parser.add_argument(
            "--no-store", action="store_true", help="do not keep the sites in the profile"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError(
                f"give one target, e.g. {program()} discover site.com --webgraph BASENAME",
                print_help=False,
            )
        domain = self.target_domain(args[0])
        if not opts.webgraph:
            fail(f"give the graph: {program()} discover {domain} --webgraph BASENAME")
        limit = row_limit(opts.limit, "rows") or SHOWN
        competitors = None
        if opts.competitors:
            try:
                competitors = parse_competitors(split_list(opts.competitors), domain)
            except ArgumentError as exc:
                fail(f"--competitors: {exc}")
        output = opts.overwrite_output
        if output and output != "-":
            check_output(output)
        try:
            files = GraphFiles.locate(opts.webgraph)
        except GraphError as exc:
            fail(str(exc))
        try:
            graph = CommonGraph.open(files.basename)
        except GraphError as exc:
            fail(str(exc), code=1)
        with self._store(domain, stores=not opts.no_store, needs=competitors is None) as store:
            if competitors is None:
                profile = load_profile(store.db, domain) if store else None
                competitors = list(profile.competitors if profile else ())
            try:
                discovery = graph.discover(domain, competitors)
            except GraphError as exc:
                fail(str(exc), code=1)
            stored: tuple[int, int] | None = None
            if store is not None and not opts.no_store:
                sources = [source_of(r, discovery) for r in discovery.candidates]
                profile = store_discovered(store.db, domain, discovery.graph, sources)
                stored = (sum(s.graph == discovery.graph for s in profile.discovered), len(sources))
        try:
            self._write(discovery, graph, output, limit, stored)
        except BrokenPipeError:
            reader_gone()
        except OSError as exc:
            fail(f"cannot write the output: {exc}", code=1)

    @contextmanager
    def _store(self, domain: str, *, stores: bool, needs: bool) -> Iterator[Store | None]:
        """The store when the sites are kept or the profile's competitors are read; none for
        ``--no-store`` with competitors given, or with nothing stored yet."""
        assert self.settings is not None
        config = StoreConfig.from_settings(self.settings)
        never_written = config.embedded and not (config.data_dir / "db").exists()
        if not stores and (not needs or never_written):
            yield None
            return
        with self.open_store(domain, create=stores) as store:
            yield store

    @staticmethod
    def _write(
        discovery: Discovery,
        graph: CommonGraph,
        destination: str | None,
        limit: int,
        stored: tuple[int, int] | None,
    ) -> None:
        target = discovery.target
        took = sum(discovery.seconds.values())
        where = (
            f"{target} in {discovery.graph} ({discovery.level} graph of "
            f"{graph.num_nodes:,} nodes, {graph.num_arcs:,} links; looked up in {took:.1f} s)"
        )
        with ExitStack() as stack:
            if destination:
                out: TextIO = sys.stdout
                if destination != "-":
                    out = stack.enter_context(Path(destination).open("w", encoding="utf-8"))
                for referrer in discovery.referrers:
                    record = referrer_record(referrer, discovery)
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
                print(f"{len(discovery.referrers):,} referring sites: {where}", file=sys.stderr)
            else:
                print(where)
                print("\n".join(table(discovery, limit)), flush=True)
        if stored is not None:
            kept, found = stored
            hint = (
                f"crawl the best: {program()} crawl niche -a target={target} -a discovered=20"
                if kept
                else "none to crawl"
            )
            what = f"{kept:,}" if kept == found else f"the best {kept:,} of {found:,}"
            said = f"stored {what} discovered sites in the profile of {target} ({hint})"
            print(said, file=sys.stderr if destination else sys.stdout)
