"""``scrapy report TARGET -o report.html``: the link profile as one self-contained HTML file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand, fail
from backlink_spider.progress import Steps


class Command(StoreCommand):
    def syntax(self) -> str:
        return "TARGET [-o FILE]"

    def short_desc(self) -> str:
        return "Write a target's link profile as one HTML file with charts (works offline)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o",
            "-O",
            "--output",
            metavar="FILE",
            default="report.html",
            help="the HTML file to write, replaced if it exists (default: report.html)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError(
                "give one target, e.g. scrapy report site.com -o report.html", print_help=False
            )
        domain = self.target_domain(args[0])
        try:
            # Here, not at the top: Scrapy imports every command to list them, and matplotlib
            # is slow to import and only this command needs it.
            from backlink_spider.report import gather, render
        except ImportError as exc:
            fail(f"the report needs matplotlib ({exc}): pip install matplotlib", code=1)
        with self.open_store(domain) as store:
            if store.db.backlinks.count_documents({"matched_domain": domain}, limit=1) == 0:
                fail(
                    f"no stored backlinks for {domain} (crawl it first: "
                    f"scrapy crawl niche -a target={domain} -a seeds=...)",
                    code=1,
                )
            with Steps(f"The report of {domain}") as steps:
                steps("reading the store")
                data = gather(store.db, domain)
                steps("drawing the charts")
                page = render(data)
        try:
            Path(opts.output).write_text(page, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write the report: {exc}", code=1)
        print(
            f"report of {domain} written to {opts.output} "
            f"({data['figures']['live']} live backlinks)",
            file=sys.stderr,
        )
