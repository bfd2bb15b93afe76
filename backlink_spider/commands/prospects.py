"""``scrapy prospects TARGET``: sites linking to competitors but not to the target, best first.

The competitor gap ("link intersect"): each line is a referring domain with its site trust,
relevance, the competitors it links to and the competitor pages it links from, as JSON Lines.
Competitors come from the target's profile (``scrapy target``) unless ``--competitors`` names them.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand, check_output, fail, program, reader_gone, row_limit
from backlink_spider.config import ArgumentError, parse_competitors, split_list
from pipelines.target_profile import load_profile


class Command(StoreCommand):
    def syntax(self) -> str:
        return "TARGET [--competitors DOMAINS] [--limit N] [-O FILE]"

    def short_desc(self) -> str:
        return "List sites that link to competitors but not to the target (outreach list)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-O",
            "--overwrite-output",
            metavar="FILE",
            help="write JSON Lines to FILE ('-' or none: standard output)",
        )
        parser.add_argument(
            "--competitors",
            metavar="DOMAINS",
            help="comma-separated; default: the target profile's competitors",
        )
        parser.add_argument("--limit", metavar="N", help="at most N prospects (default: all)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError(
                f"give one target, e.g. {program()} prospects site.com", print_help=False
            )
        domain = self.target_domain(args[0])
        limit = row_limit(opts.limit, "prospects")
        competitors = None
        if opts.competitors:
            try:
                competitors = parse_competitors(split_list(opts.competitors), domain)
            except ArgumentError as exc:
                fail(str(exc))
        if opts.overwrite_output and opts.overwrite_output != "-":
            check_output(opts.overwrite_output)
        with self.open_store(domain, "-a competitors=...") as store:
            if competitors is None:
                profile = load_profile(store.db, domain)
                competitors = list(profile.competitors if profile else ())
            if not competitors:
                fail(
                    f"no competitors for {domain}: add some to its profile "
                    f"({program()} target {domain} --add-competitors a.com,b.com) or give "
                    "--competitors",
                    code=1,
                )
            from pipelines.profile import prospects  # with scoring's numpy: only when asked

            found = prospects(store.db, domain, competitors, limit=limit)
        try:
            self._write(found, opts.overwrite_output)
        except BrokenPipeError:
            reader_gone()
        except OSError as exc:
            fail(f"cannot write the output: {exc}", code=1)
        print(
            f"{len(found)} prospects for {domain} (linking to {', '.join(competitors)} "
            "but not to it)",
            file=sys.stderr,
        )

    @staticmethod
    def _write(found: list[dict[str, Any]], destination: str | None) -> None:
        with ExitStack() as stack:
            out: TextIO = sys.stdout
            if destination and destination != "-":
                out = stack.enter_context(Path(destination).open("w", encoding="utf-8"))
            for prospect in found:
                out.write(json.dumps(prospect, ensure_ascii=False, default=str) + "\n")
            out.flush()
