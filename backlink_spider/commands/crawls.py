"""``scrapy crawls [TARGET]``: how the recent crawls went, from the ``crawls`` collection.

One line per crawl, newest first: when it started and how long it took, its target and
arguments, its figures, its status and its Scrapyd job. The figures are the ones the crawl's
summary line logged (``vocabulary.crawl_figures``, stored in the record when the crawl closed:
every attempt of a resumed crawl, every worker of a shared one): pages fetched, backlinks of the
target seen, their referring domains, links to competitors seen, and the target's live, new,
lost, unverified and broken links as the crawl left them; then the share of its page budget
spent on on-topic hosts (``ON-TOPIC``, from the record's ``coverage``). A crawl still running
shows what it has done so far (``vocabulary.crawl_progress``, read from the store); one whose
process is gone without closing its record (killed) is ``interrupted``
(``vocabulary.crawl_status``), with what it had done.
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
from backlink_spider.vocabulary import (
    COVERAGE,
    COVERAGE_BUDGET,
    FIGURES,
    INTERRUPTED,
    ON_TOPIC,
    crawl_progress,
    crawl_status,
    record_figures,
)
from pipelines.store import StoreConfig

# The figures' columns, in vocabulary.FIGURES order.
FIGURE_COLUMNS = {
    "pages": "PAGES",
    "backlinks": "BACKLINKS",
    "referring_domains": "DOMAINS",
    "competitor_links": "COMPETITOR",
    "live": "LIVE",
    "new": "NEW",
    "lost": "LOST",
    "unverified": "UNVERIFIED",
    "broken": "BROKEN",
}
assert tuple(FIGURE_COLUMNS) == FIGURES
HEADER = [
    "STARTED (UTC)",
    "TOOK",
    "TARGET",
    "ARGUMENTS",
    *FIGURE_COLUMNS.values(),
    "ON-TOPIC",
    "STATUS",
    "JOB",
]


def _took(doc: dict[str, Any], status: str) -> str:
    start, end = doc.get("started_at"), doc.get("finished_at")
    if not isinstance(start, datetime):
        return "-"
    if not isinstance(end, datetime) and status == INTERRUPTED:
        end = doc.get("heartbeat_at")  # killed: it was last alive then
    if not isinstance(end, datetime):
        return "…" if status == "running" else "-"
    seconds = round((end - start).total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def on_topic_share(doc: dict[str, Any]) -> str:
    """The share of the crawl's pages fetched on on-topic hosts ("71%"); "-" when its record
    has no coverage (a crawl still running, killed, or of a version before coverage)."""
    budget = (doc.get(COVERAGE) or {}).get(COVERAGE_BUDGET) or {}
    total = sum(int(n or 0) for n in budget.values())
    return f"{int(budget.get(ON_TOPIC) or 0) / total:.0%}" if total else "-"


def crawl_row(doc: dict[str, Any]) -> list[str]:
    """A stored crawl as the table shows it ("-": a figure not known, e.g. the link states of
    a crawl that has not ended, or a record of a version before figures)."""
    status = crawl_status(doc)
    figures = record_figures(doc)
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
        _took(doc, status),
        str(doc.get("target") or "?"),
        args_summary(args),
        *("-" if figures[name] is None else str(figures[name]) for name in FIGURES),
        on_topic_share(doc),
        status,
        str(doc.get("job") or "-"),
    ]


class Command(StoreCommand):
    def syntax(self) -> str:
        return "[TARGET] [-n N]"

    def short_desc(self) -> str:
        return "Show the recent crawls: arguments, figures (pages, backlinks, …), status, job"

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
                store.db.crawls.find(query, dict.fromkeys(_FIELDS, 1))
                .sort("started_at", DESCENDING)
                .limit(opts.limit)
            )
            for doc in docs:
                if doc.get("status") == "running" and doc.get("target"):
                    # Running, or killed: what it has done, from the store (its heartbeat's
                    # progress may be a beat old).
                    doc["progress"] = crawl_progress(store.db, doc["_id"], doc["target"])
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
    "figures",
    f"{COVERAGE}.{COVERAGE_BUDGET}",
    "progress",
    "pid",
    "host",
    "heartbeat_at",
    "heartbeat_seconds",
)
