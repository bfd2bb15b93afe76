"""``scrapy export TARGET -O FILE``: a target's stored backlinks, best first, as CSV or JSON Lines.

The format comes from the file's name, as in ``scrapy crawl -O``: its extension (``links.csv``,
``links.jsonl``, ``.json``, ``.xml``) or Scrapy's ``FILE:FORMAT`` (``links.txt:csv``); standard
output (``-O -`` or none) is JSON Lines unless told (``-O -:csv``). Scrapy's feed exporters
(``FEED_EXPORTERS``) write every format.

JSON Lines (and JSON, XML) hold each link's record under the feed's field names plus what only
the store knows (``export_record``). CSV is the table a spreadsheet or an SEO tool reads: one
header row, the columns of ``LINK_COLUMNS`` (``Source URL``, ``Follow/nofollow``, ``Quality``,
``Reasons`` …), list values joined, dates in UTC; a CSV file starts with a UTF-8 byte order mark,
so Excel reads it as UTF-8 (LibreOffice, Google Sheets and ``encoding="utf-8-sig"`` skip it), and
standard output gets none. ``--referring-domains`` writes one row per linking site instead
(``DOMAIN_COLUMNS``).

``--status new|live|lost|unverified`` keeps the links in one state (see
``backlink_spider.vocabulary.status_query``); ``--broken`` keeps live links whose target URL
answered 4xx/5xx, the ones to reclaim by redirecting the dead URL; ``--upgrades`` keeps live
links from strong sites that pass little of their trust (``UPGRADES_QUERY``: nofollow, sponsored,
footer, site-wide), the ones worth asking for an editorial link.

``--coverage`` writes what the latest crawl left unseen instead (the newest crawl record of the
target that holds a ``coverage`` report): one row per host, ``COVERAGE_FIELDS``, the suggested
seeds first (best estimated value first), then the hosts linking a competitor and not the
target, then the seeds that failed (``why``: the failure).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from pymongo import DESCENDING
from scrapy.exceptions import UsageError
from scrapy.utils.misc import load_object

from backlink_spider.cli import StoreCommand, check_output, fail, feed_target, program, reader_gone
from backlink_spider.items import Backlink
from backlink_spider.vocabulary import (
    BROKEN_QUERY,
    COVERAGE,
    COVERAGE_COMPETITOR_ONLY,
    COVERAGE_SUGGESTED,
    FAILED_SEEDS,
    FIRST_CRAWL_ID,
    LINK_TRUST,
    LOST_AT,
    MATCHED_DOMAIN,
    PASSES_LITTLE,
    QUALITY,
    REASONS,
    RECIPROCAL,
    RELEVANCE,
    SCORES,
    SITE_TRUST,
    SOURCE,
    SOURCE_DOMAIN,
    SOURCE_HOST,
    STATUSES,
    STRONG_SITE,
    TARGET_STATUS,
    UNVERIFIED_AT,
    UPGRADES_QUERY,
    is_followed,
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
# What export writes: Scrapy's exporters of these formats (the others cannot hold dates).
FORMATS = ("csv", "jsonlines", "jsonl", "jl", "json", "xml")


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


# -- the spreadsheet's columns ------------------------------------------------------------------


def utc(moment: Any) -> str:
    """A stored date as a spreadsheet reads it: ``2024-05-12 09:30:00`` (UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if isinstance(moment, datetime) else ""


def _score(record: dict[str, Any], name: str) -> Any:
    return (record.get(SCORES) or {}).get(name, "")


def _follow(record: dict[str, Any]) -> str:
    followed = is_followed(record.get("rel") or [], bool(record.get("nofollow")))
    return "follow" if followed else "nofollow"


# CSV header -> its value in an exported record: the names SEO tools give these columns.
LINK_COLUMNS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Source URL": lambda r: r.get("source_url"),
    "Source domain": lambda r: r.get(SOURCE_DOMAIN),
    "Source title": lambda r: r.get("source_title"),
    "Target URL": lambda r: r.get("target_url"),
    "Anchor": lambda r: r.get("anchor_text"),
    "Follow/nofollow": _follow,
    "Rel": lambda r: " ".join(r.get("rel") or []),
    "Position": lambda r: r.get("position"),
    "Link type": lambda r: r.get("link_type"),
    "First seen": lambda r: utc(r.get("first_seen")),
    "Last seen": lambda r: utc(r.get("last_seen")),
    "Status": lambda r: r.get("status"),
    "Site trust": lambda r: _score(r, SITE_TRUST),
    "Link trust": lambda r: _score(r, LINK_TRUST),
    "Relevance": lambda r: _score(r, RELEVANCE),
    "Quality": lambda r: _score(r, QUALITY),
    "Reasons": lambda r: "; ".join(_score(r, REASONS) or []),
    "Target HTTP status": lambda r: r.get(TARGET_STATUS) or "",
    "Found via": lambda r: r.get(SOURCE) or "crawl",
}

# One row per referring domain: JSON key -> CSV header.
DOMAIN_COLUMNS = {
    "referring_domain": "Referring domain",
    "links": "Links",
    "followed_links": "Followed links",
    "best_link": "Best link",
    "best_quality": "Best link quality",
    "first_seen": "First seen",
    "last_seen": "Last seen",
    SITE_TRUST: "Site trust",
}


def link_row(record: dict[str, Any]) -> dict[str, Any]:
    """An exported record as one CSV row (``LINK_COLUMNS``)."""
    return {header: value(record) for header, value in LINK_COLUMNS.items()}


def domain_row(domain: dict[str, Any]) -> dict[str, Any]:
    """A referring domain (``referring_domains``) as one CSV row (``DOMAIN_COLUMNS``)."""
    row = {DOMAIN_COLUMNS[key]: value for key, value in domain.items()}
    for key in ("first_seen", "last_seen"):
        row[DOMAIN_COLUMNS[key]] = utc(domain[key])
    return row


def referring_domains(
    db: Any, target_domain: str, records: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The linking sites of ``records`` (best first): how many links each gives, how many of
    them followed, its best link (the first: records come best first), when it was first and
    last seen, and its site trust for the target (its best host's ``hosts.site_trust``)."""
    domains: dict[str, dict[str, Any]] = {}
    hosts: dict[str, set[str]] = {}
    for record in records:
        name = str(record.get(SOURCE_DOMAIN) or record.get(SOURCE_HOST) or "")
        row = domains.get(name)
        if row is None:
            row = domains[name] = {
                "referring_domain": name,
                "links": 0,
                "followed_links": 0,
                "best_link": record.get("source_url"),
                "best_quality": _score(record, QUALITY),
                "first_seen": record.get("first_seen"),
                "last_seen": record.get("last_seen"),
                SITE_TRUST: 0.0,
            }
        row["links"] += 1
        row["followed_links"] += _follow(record) == "follow"
        for key, pick in (("first_seen", min), ("last_seen", max)):
            seen = [d for d in (row[key], record.get(key)) if isinstance(d, datetime)]
            row[key] = pick(seen) if seen else None
        hosts.setdefault(name, set()).add(str(record.get(SOURCE_HOST) or ""))
    ids = [f"{target_domain}|{h}" for names in hosts.values() for h in names]
    trust = {
        doc["host"]: float(doc.get(SITE_TRUST) or 0.0)
        for start in range(0, len(ids), 1000)
        for doc in db.hosts.find(
            {"_id": {"$in": ids[start : start + 1000]}}, {"host": 1, SITE_TRUST: 1}
        )
    }
    for name, row in domains.items():
        row[SITE_TRUST] = max((trust.get(h, 0.0) for h in hosts[name]), default=0.0)
    return sorted(
        domains.values(),
        key=lambda r: (
            -r[SITE_TRUST],
            -float(r["best_quality"] or 0),
            -r["links"],
            r["referring_domain"],
        ),
    )


# -- the coverage report -----------------------------------------------------------------------

# --coverage: one row per host, these fields (CSV: these columns), the missing ones empty.
# list: which list of the report it comes from; why: the reason key it was left unseen
# (vocabulary.UNSEEN_WORDS; None: crawled as far as it goes), of a failed seed its failure.
COVERAGE_FIELDS = [
    "list",
    "host",
    "why",
    "value",
    "relevance",
    "trust",
    "linked_from",
    "pages",
    "left",
    "competitor_links",
]
SUGGESTED_SEED, COMPETITOR_ONLY, FAILED_SEED = "suggested_seed", "competitor_only", "failed_seed"


def coverage_crawl(db: Any, target_domain: str) -> dict[str, Any] | None:
    """The newest crawl record of the target with a coverage report: the latest crawl's, unless
    that one has none (still running, killed, or of a version before coverage)."""
    doc: dict[str, Any] | None = db.crawls.find_one(
        {"target": target_domain, COVERAGE: {"$exists": True, "$ne": None}},
        sort=[("started_at", DESCENDING)],
    )
    return doc


def coverage_rows(crawl: dict[str, Any]) -> list[dict[str, Any]]:
    """A crawl record's coverage report as rows (``COVERAGE_FIELDS``): the suggested seeds in
    their order, the hosts linking only a competitor, the failed seeds."""
    coverage = crawl.get(COVERAGE) or {}
    rows = [
        {**{name: doc.get(name) for name in COVERAGE_FIELDS}, "list": which}
        for which, key in (
            (SUGGESTED_SEED, COVERAGE_SUGGESTED),
            (COMPETITOR_ONLY, COVERAGE_COMPETITOR_ONLY),
        )
        for doc in coverage.get(key) or []
    ]
    rows += [
        {
            **dict.fromkeys(COVERAGE_FIELDS),
            "list": FAILED_SEED,
            "host": f.get("seed"),
            "why": f.get("reason"),
        }
        for f in crawl.get(FAILED_SEEDS) or []
    ]
    return rows


# -- the command --------------------------------------------------------------------------------


class Command(StoreCommand):
    def syntax(self) -> str:
        return (
            "TARGET [-O FILE | -o FILE] [--status STATE] [--broken] [--upgrades] "
            "[--referring-domains | --coverage]"
        )

    def short_desc(self) -> str:
        return "Write a target's stored backlinks as CSV or JSON Lines, best first"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-O",
            "--overwrite-output",
            metavar="FILE",
            help="write to FILE, replacing it; the format from its extension (.csv, .jsonl, "
            ".json, .xml) or FILE:FORMAT ('-' for standard output, JSON Lines unless '-:csv')",
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
        parser.add_argument(
            "--upgrades",
            action="store_true",
            help=f"only live links from strong sites (site trust >= {STRONG_SITE:.0f}) that pass "
            f"under {PASSES_LITTLE:.0%} of it: nofollow, sponsored, footer, site-wide; ask those "
            "sites for an editorial link",
        )
        parser.add_argument(
            "--referring-domains",
            action="store_true",
            help="one row per referring domain: links, followed links, best link, first seen, "
            "site trust",
        )
        parser.add_argument(
            "--coverage",
            action="store_true",
            help="what the latest crawl left unseen, one row per host: the suggested seeds "
            "(best estimated value first), the hosts linking a competitor and not the target, "
            f"the seeds that failed; fields: {', '.join(COVERAGE_FIELDS)}",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError(
                f"give one target, e.g. {program()} export site.com -O backlinks.csv",
                print_help=False,
            )
        if opts.overwrite_output and opts.output:
            raise UsageError("-O and -o cannot be combined", print_help=False)
        if opts.coverage:
            links = [
                name
                for name, given in (
                    ("--status", opts.status),
                    ("--broken", opts.broken),
                    ("--upgrades", opts.upgrades),
                    ("--referring-domains", opts.referring_domains),
                )
                if given
            ]
            if links:
                fail(
                    "--coverage writes hosts, not links: it cannot be combined with "
                    + ", ".join(links)
                )
        domain = self.target_domain(args[0])
        destination, fmt = feed_target(opts.overwrite_output or opts.output or "-", FORMATS)
        if destination != "-":
            check_output(destination)
        if opts.coverage:
            self._run_coverage(domain, opts, destination, fmt)
            return
        with self.open_store(domain) as store:
            try:
                total, count = self._export(store.db, domain, opts, destination, fmt)
            except BrokenPipeError:
                reader_gone()
            except OSError as exc:
                fail(f"cannot write the output: {exc}", code=1)
        if total == 0:
            fail(
                f"no stored backlinks for {domain} (crawl it first: "
                f"{program()} crawl niche -a target={domain} -a seeds=...)",
                code=1,
            )
        if destination != "-":
            what = "referring domains" if opts.referring_domains else "backlinks"
            print(f"{count} {what} of {domain} written to {destination} ({fmt})", file=sys.stderr)

    def _run_coverage(
        self, domain: str, opts: argparse.Namespace, destination: str, fmt: str
    ) -> None:
        """``--coverage``: the rows of the newest coverage report; none is one line."""
        with self.open_store(domain) as store:
            crawl = coverage_crawl(store.db, domain)
            if crawl is None:
                crawled = store.db.crawls.count_documents({"target": domain}, limit=1)
                again = f"{program()} crawl niche -a target={domain} -a seeds=..."
                fail(
                    f"no crawl of {domain} has a coverage report (its crawls are of an older "
                    f"version, or never finished): crawl it again ({again})"
                    if crawled
                    else f"no crawl of {domain} stored (crawl it first: {again})",
                    code=1,
                )
            try:
                count = self._write(coverage_rows(crawl), opts, destination, fmt, COVERAGE_FIELDS)
            except BrokenPipeError:
                reader_gone()
            except OSError as exc:
                fail(f"cannot write the output: {exc}", code=1)
        if destination != "-":
            print(
                f"{count} hosts of the coverage report of {domain} (crawl {crawl['_id']}) "
                f"written to {destination} ({fmt})",
                file=sys.stderr,
            )

    def _records(self, db: Any, domain: str, opts: argparse.Namespace) -> Iterator[dict[str, Any]]:
        """The target's stored links that the options keep, best first, as exported records."""
        latest_id = (latest_crawl(db, domain) or {}).get("_id")
        filters: list[dict[str, Any]] = [{MATCHED_DOMAIN: domain}]
        if opts.status:
            filters.append(status_query(opts.status, latest_id))
        if opts.broken:
            filters.append(BROKEN_QUERY)
        if opts.upgrades:
            filters.append(UPGRADES_QUERY)
        query = {"$and": filters} if len(filters) > 1 else filters[0]
        cursor = db.backlinks.find(query).sort(
            [(f"{SCORES}.{QUALITY}", DESCENDING), ("last_seen", DESCENDING), ("_id", 1)]
        )
        for doc in cursor:
            yield export_record(doc, latest_id)

    def _export(
        self, db: Any, domain: str, opts: argparse.Namespace, destination: str, fmt: str
    ) -> tuple[int, int]:
        """(whether the target has stored links at all, how many rows were written)."""
        if db.backlinks.count_documents({MATCHED_DOMAIN: domain}, limit=1) == 0:
            return 0, 0
        rows: Iterable[dict[str, Any]] = self._records(db, domain, opts)
        if opts.referring_domains:
            rows = referring_domains(db, domain, rows)
        if fmt == "csv":
            rows = map(domain_row if opts.referring_domains else link_row, rows)
        columns = list(DOMAIN_COLUMNS.values()) if opts.referring_domains else list(LINK_COLUMNS)
        return 1, self._write(rows, opts, destination, fmt, columns)

    def _write(
        self,
        rows: Iterable[dict[str, Any]],
        opts: argparse.Namespace,
        destination: str,
        fmt: str,
        columns: list[str],
    ) -> int:
        """Write ``rows`` to ``destination`` (``-o``: appended) through Scrapy's exporter of
        ``fmt``; how many were written."""
        with ExitStack() as stack:
            out: BinaryIO
            if destination == "-":
                out, header, bom = sys.stdout.buffer, True, False  # no byte order mark in a pipe
            else:
                path = Path(destination).expanduser()
                header = bom = not (opts.output and path.exists() and path.stat().st_size > 0)
                out = stack.enter_context(path.open("ab" if opts.output else "wb"))
            exporter = self._exporter(out, fmt, columns, header=header, bom=bom)
            exporter.start_exporting()
            count = 0
            for row in rows:
                exporter.export_item(row)
                count += 1
            exporter.finish_exporting()
            out.flush()
        return count

    def _exporter(
        self, out: BinaryIO, fmt: str, columns: list[str], *, header: bool, bom: bool
    ) -> Any:
        """Scrapy's exporter of ``fmt`` (``FEED_EXPORTERS``); for CSV: the ``columns``, one
        header row (none when appending to rows already there), a byte order mark starting a
        file."""
        assert self.settings is not None
        exporter_class = load_object(self.settings.getwithbase("FEED_EXPORTERS")[fmt])
        file = cast(io.BytesIO, out)  # Scrapy's annotation says BytesIO; any binary file does
        if fmt != "csv":
            return exporter_class(file, encoding="utf-8")
        return exporter_class(
            file,
            include_headers_line=header,
            fields_to_export=columns,
            encoding="utf-8-sig" if bom else "utf-8",
        )
