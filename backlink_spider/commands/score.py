"""``scrapy score TARGET``: rescore a target's stored backlinks (link trust, relevance, quality).

Also what brings a store written by an older version to today's field names (``site_trust`` in
``hosts``, ``link_trust`` in ``backlinks.scores``): every document it scores is rewritten.
"""

from __future__ import annotations

import argparse
from typing import Any

from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand, fail
from pipelines.scoring.run import ScoringError, score_target


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
            help="known-bad hosts, comma-separated, added to BACKLINKS_DISTRUST_SEEDS",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one target, e.g. scrapy score site.com", print_help=False)
        assert self.settings is not None
        domain = self.target_domain(args[0])
        if opts.distrust:
            extra = [h.strip() for h in opts.distrust.split(",") if h.strip()]
            seeds = [*self.settings.getlist("BACKLINKS_DISTRUST_SEEDS"), *extra]
            self.settings.set("BACKLINKS_DISTRUST_SEEDS", seeds, priority="cmdline")
        with self.open_store(domain) as store:
            try:
                summary = score_target(store.db, domain, settings=self.settings)
            except ScoringError as exc:
                fail(str(exc), code=1)
        print(summary_line(summary))
