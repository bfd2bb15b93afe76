"""``scrapy crawls [TARGET]``: how the recent crawls went, from the ``crawls`` collection.

One line per crawl, newest first: when it started and how long it took, its target and
arguments, pages fetched, backlinks found, links new and lost since the previous crawl of that
target, its status and its Scrapyd job. The numbers are the crawl's own Scrapy stats, stored by
the Mongo pipeline when the crawl closes, so a crawl run from the shell and one run by Scrapyd
read the same.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand
from backlink_spider.commands.schedule import args_summary, print_table
from pipelines.store import StoreConfig

HEADER = [
    "STARTED (UTC)",
    "TOOK",
    "TARGET",
    "ARGUMENTS",
    "PAGES",
    "BACKLINKS",
    "NEW",
    "LOST",
    "STATUS",
    "JOB",
]


def _took(doc: dict[str, Any]) -> str:
    start, end = doc.get("started_at"), doc.get("finished_at")
    if not isinstance(start, datetime):
        return "-"
    if not isinstance(end, datetime):
        return "-" if doc.get("status") != "running" else "…"
    seconds = round((end - start).total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _count(stats: dict[str, Any], key: str, finished: bool) -> str:
    value = stats.get(key)
    if value is None:
        return "0" if finished else "-"
    return str(value)


def crawl_row(doc: dict[str, Any]) -> list[str]:
    """A stored crawl as the table shows it."""
    stats = doc.get("stats") or {}
    finished = "finished_at" in doc
    started = doc.get("started_at")
    when = started.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if started else "-"
    args = {
        "seeds": ",".join(doc.get("seeds") or []),
        "depth": doc.get("depth"),
        "max_pages": doc.get("max_pages"),
        "competitors": ",".join(doc.get("competitors") or []),
        "keywords": ",".join(doc.get("keywords") or []),
    }
    return [
        when,
        _took(doc),
        str(doc.get("target") or "?"),
        args_summary(args),
        _count(stats, "backlinks/spider/pages", finished),
        _count(stats, "backlinks/spider/backlinks", finished),
        _count(stats, "backlinks/mongo/new", finished),
        _count(stats, "backlinks/mongo/lost", finished),
        str(doc.get("status") or "?"),
        str(doc.get("job") or "-"),
    ]


class Command(StoreCommand):
    def syntax(self) -> str:
        return "[TARGET] [-n N]"

    def short_desc(self) -> str:
        return "Show the recent crawls: arguments, pages, backlinks, new and lost, status, job"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-n",
            "--limit",
            metavar="N",
            type=int,
            default=20,
            help="how many crawls, newest first (default: 20)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) > 1:
            raise UsageError(
                "give at most one target, e.g. scrapy crawls site.com", print_help=False
            )
        if opts.limit < 1:
            raise UsageError("-n must be at least 1", print_help=False)
        assert self.settings is not None
        query: dict[str, Any] = {}
        if args:
            query["target"] = self.target_domain(args[0])
        config = StoreConfig.from_settings(self.settings)
        if config.embedded and not (config.data_dir / "db").exists():
            print(f"no crawls yet: nothing stored in {config.data_dir}", file=sys.stderr)
            return
        with self.open_store(query.get("target", "site.com")) as store:
            docs = list(
                store.db.crawls.find(query, {"stats": 1, **dict.fromkeys(_FIELDS, 1)})
                .sort("started_at", DESCENDING)
                .limit(opts.limit)
            )
        if not docs:
            which = f" of {query['target']}" if query else ""
            print(f"no crawls{which} yet", file=sys.stderr)
            return
        print_table(HEADER, [crawl_row(doc) for doc in docs])


_FIELDS = (
    "target",
    "seeds",
    "keywords",
    "competitors",
    "depth",
    "max_pages",
    "status",
    "started_at",
    "finished_at",
    "job",
)
