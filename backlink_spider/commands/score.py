"""``scrapy score TARGET``: rescore a target's stored backlinks (link trust, relevance, quality).

Scores follow the target's profile (``scrapy target``): its trusted seeds, distrusted hosts,
keywords and competitors, never the arguments of whichever crawl ran last.

Also what brings a store written by an older version to today's field names (``site_trust`` in
``hosts``, ``link_trust`` in ``backlinks.scores``): every document it scores is rewritten.
"""

from __future__ import annotations

import argparse
from typing import Any

from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand, fail
from backlink_spider.config import ArgumentError, parse_distrust, split_list
from backlink_spider.progress import Steps
from backlink_spider.summary import print_summary
from pipelines.target_profile import add_to_profile


def summary_line(summary: dict[str, Any]) -> str:
    """The one line a user reads after scoring."""
    competitors = summary["competitor_backlinks"]
    extra = f" and {competitors} competitor links" if competitors else ""
    converged = "" if summary["converged"] else ", NOT converged"
    return (
        f"scored {summary['backlinks']} backlinks of {summary['target']}{extra}: "
        f"{summary['hosts']} hosts, {summary['edges']} host links, {summary['seeds']} seed "
        f"hosts, site trust in {summary['iterations']} iterations{converged}, "
        f"{summary['seconds']['total']:.2f} s"
    )


class Command(StoreCommand):
    def syntax(self) -> str:
        return "TARGET [--distrust HOSTS]"

    def short_desc(self) -> str:
        return "Score a target's stored backlinks: link trust, relevance, quality and reasons"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--distrust",
            metavar="HOSTS",
            help="add known-bad hosts (comma-separated) to the target's profile, then score "
            "(as scrapy target TARGET --distrust HOSTS does)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one target, e.g. scrapy score site.com", print_help=False)
        assert self.settings is not None
        domain = self.target_domain(args[0])
        distrust: list[str] = []
        if opts.distrust is not None:
            try:
                distrust = parse_distrust(split_list(opts.distrust))
            except ArgumentError as exc:
                fail(f"--distrust: {exc}")
            if not distrust:
                fail("--distrust needs at least one host")
        # numpy and scipy load here, not with every command that imports this module
        from pipelines.scoring.run import ScoringError, score_target

        with self.open_store(domain) as store:
            if distrust:  # the profile holds it: later scores keep it
                add_to_profile(store.db, domain, distrust=distrust)
            try:
                with Steps(f"Scoring the backlinks of {domain}") as steps:
                    summary = score_target(store.db, domain, settings=self.settings, on_step=steps)
            except ScoringError as exc:
                fail(str(exc), code=1)
            print(summary_line(summary), flush=True)
            print_summary(store.db, domain, store.location)
