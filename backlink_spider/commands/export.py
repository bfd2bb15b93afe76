"""``scrapy export TARGET -O FILE``: a target's stored backlinks as JSON Lines, best first.

``--status new|live|lost|unverified`` keeps the links in one state (see
``backlink_spider.vocabulary.status_query``); ``--broken`` keeps live links whose target URL
answered 4xx/5xx, the ones to reclaim by redirecting the dead URL.
"""

from __future__ import annotations

import argparse
import io
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO, cast

from pymongo import DESCENDING
from scrapy.exceptions import UsageError
from scrapy.exporters import JsonLinesItemExporter

from backlink_spider.cli import StoreCommand, fail
from backlink_spider.items import Backlink
from backlink_spider.vocabulary import (
    BROKEN_QUERY,
    FIRST_CRAWL_ID,
    LOST_AT,
    MATCHED_DOMAIN,
    QUALITY,
    RECIPROCAL,
    SCORES,
    STATUSES,
    TARGET_STATUS,
    UNVERIFIED_AT,
    latest_crawl,
    link_status,
    status_query,
)

FEED_FIELDS = [f for f in Backlink.__dataclass_fields__ if f not in {"discovered_at", "crawl_id"}]
STORE_FIELDS = [
    "first_seen",
    "last_seen",
    "seen_count",
    LOST_AT,
    FIRST_CRAWL_ID,
    "last_crawl_id",
    SCORES,
    UNVERIFIED_AT,
    RECIPROCAL,
    TARGET_STATUS,
    "target_final_url",
    "target_checked_at",
]


def export_record(doc: dict[str, Any], latest_crawl_id: str | None = None) -> dict[str, Any]:
    """A stored backlink under the feed's field names, plus what only the store knows."""
    record = {name: doc.get(name) for name in FEED_FIELDS}
    record["discovered_at"] = doc.get("last_seen")
    record["crawl_id"] = doc.get("last_crawl_id")
    for name in STORE_FIELDS:
        if name in doc:
            record[name] = doc[name]
    record["status"] = link_status(doc, latest_crawl_id)
    return record


class Command(StoreCommand):
    def syntax(self) -> str:
        return "TARGET [-O FILE | -o FILE] [--status STATE] [--broken]"

    def short_desc(self) -> str:
        return "Write a target's stored backlinks as JSON Lines, best first"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-O",
            "--overwrite-output",
            metavar="FILE",
            help="write to FILE, replacing it ('-' for standard output)",
        )
        parser.add_argument("-o", "--output", metavar="FILE", help="append to FILE")
        parser.add_argument(
            "--status",
            choices=STATUSES,
            help="only links in this state: new (first seen in the latest "
            "crawl), live, lost, unverified (source page failed)",
        )
        parser.add_argument(
            "--broken", action="store_true", help="only live links whose target URL answers 4xx/5xx"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError(
                "give one target, e.g. scrapy export site.com -O backlinks.jsonl", print_help=False
            )
        if opts.overwrite_output and opts.output:
            raise UsageError("-O and -o cannot be combined", print_help=False)
        domain = self.target_domain(args[0])
        with self.open_store(domain) as store:
            try:
                total, count = self._export(store.db, domain, opts)
            except OSError as exc:
                fail(f"cannot write the output: {exc}", code=1)
        if total == 0:
            fail(
                f"no stored backlinks for {domain} (crawl it first: "
                f"scrapy crawl niche -a target={domain} -a seeds=...)",
                code=1,
            )
        destination = opts.overwrite_output or opts.output
        if destination and destination != "-":
            print(f"{count} backlinks of {domain} written to {destination}", file=sys.stderr)

    def _export(self, db: Any, domain: str, opts: argparse.Namespace) -> tuple[int, int]:
        """(whether the target has stored links at all, how many were written)."""
        query: dict[str, Any] = {MATCHED_DOMAIN: domain}
        if db.backlinks.count_documents(query, limit=1) == 0:
            return 0, 0
        latest_id = (latest_crawl(db, domain) or {}).get("_id")
        filters = [query]
        if opts.status:
            filters.append(status_query(opts.status, latest_id))
        if opts.broken:
            filters.append(BROKEN_QUERY)
        query = {"$and": filters} if len(filters) > 1 else query
        cursor = db.backlinks.find(query).sort(
            [(f"{SCORES}.{QUALITY}", DESCENDING), ("last_seen", DESCENDING), ("_id", 1)]
        )
        with ExitStack() as stack:
            out: BinaryIO
            destination = opts.overwrite_output or opts.output
            if not destination or destination == "-":
                out = sys.stdout.buffer
            else:
                out = stack.enter_context(
                    Path(destination).open("wb" if opts.overwrite_output else "ab")
                )
            # Scrapy's annotation says BytesIO; any binary file object does.
            exporter = JsonLinesItemExporter(cast(io.BytesIO, out), encoding="utf-8")
            exporter.start_exporting()
            count = 0
            for doc in cursor:
                exporter.export_item(export_record(doc, latest_id))
                count += 1
            exporter.finish_exporting()
            out.flush()
        return 1, count
