"""The figures as each place shows them: the crawl's summary line, ``scrapy crawls``, the report.

Each reader parses what a user reads (a log line, a table, the report's cards), so a test can
hold them against each other and against ``scrapy export``: one definition of each count.
"""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backlink_spider.commands.crawls import FIGURE_COLUMNS, HEADER
from backlink_spider.vocabulary import FIGURES
from tests.conftest import run_scrapy

SUMMARY_RE = re.compile(
    r"Crawl (?P<crawl_id>\S+) (?P<status>[^:]+): (?P<pages>\d+) pages, (?P<backlinks>\d+) "
    r"backlinks to (?P<target>\S+) from (?P<referring_domains>\d+) referring domains, "
    r"(?P<competitor_links>\d+) links to competitors; \S+ now has (?P<live>\d+) live, "
    r"(?P<new>\d+) new, (?P<lost>\d+) lost, (?P<unverified>\d+) unverified, "
    r"(?P<broken>\d+) broken"
)
# The report's cards, by label: what each shows of vocabulary.FIGURES.
REPORT_CARDS = {
    "pages in the latest crawl": "pages",
    "backlinks in the latest crawl": "backlinks",
    "referring domains": "referring_domains",
    "links to competitors": "competitor_links",
    "live": "live",
    "new": "new",
    "lost": "lost",
    "unverified": "unverified",
    "broken": "broken",
}
_CARD_RE = re.compile(r"<div class='card'><b>([^<]*)</b>([^<]*)</div>")


@dataclass
class Shown:
    crawl_id: str
    status: str
    figures: dict[str, int | None]


def summary_line(stderr: str) -> Shown:
    """The crawl's summary line (its last one: a crawl logs one)."""
    found = list(SUMMARY_RE.finditer(stderr))
    assert len(found) == 1, stderr[-3000:]
    match = found[0]
    figures: dict[str, int | None] = {name: int(match[name]) for name in FIGURES}
    return Shown(match["crawl_id"], match["status"], figures)


def crawls_table(env: dict[str, str], target: str) -> list[dict[str, str]]:
    """``scrapy crawls TARGET`` as rows of column name -> cell, newest first."""
    run = run_scrapy(["crawls", target], env)
    assert run.returncode == 0, run.stderr
    return parse_crawls(run.stdout)


def parse_crawls(stdout: str) -> list[dict[str, str]]:
    """The table ``scrapy crawls`` printed, as rows of column name -> cell."""
    header, *lines = stdout.splitlines()
    names = list(HEADER)
    starts: list[int] = []
    for name in names:  # each column's name after the one before it
        starts.append(header.index(name, starts[-1] + 1 if starts else 0))
    columns = list(zip(names, starts, [*starts[1:], None], strict=True))
    return [{name: line[start:end].strip() for name, start, end in columns} for line in lines]


def crawls_row(env: dict[str, str], target: str, crawl_id: str, job: str | None = None) -> Shown:
    """The row of one crawl in ``scrapy crawls``: the newest (rows do not show the crawl id),
    or the one of a Scrapyd job."""
    rows = crawls_table(env, target)
    row = next(r for r in rows if r["JOB"] == job) if job else rows[0]
    figures = {
        name: None if row[column] == "-" else int(row[column])
        for name, column in FIGURE_COLUMNS.items()
    }
    return Shown(crawl_id, row["STATUS"], figures)


def report_cards(env: dict[str, str], target: str, out: Path) -> dict[str, int | None]:
    """``scrapy report TARGET``: its cards' numbers, as ``vocabulary.FIGURES``."""
    run = run_scrapy(["report", target, "-o", str(out)], env)
    assert run.returncode == 0, run.stderr
    cards = {html.unescape(label): value for value, label in _CARD_RE.findall(out.read_text())}
    return {
        name: None if cards[label] == "-" else int(cards[label])
        for label, name in REPORT_CARDS.items()
    }


def shown_everywhere(
    env: dict[str, str], target: str, crawl_id: str, report: Path
) -> tuple[Shown, dict[str, int | None]]:
    """``scrapy crawls`` (the newest crawl's row) and the report's cards, run side by side."""
    with ThreadPoolExecutor(2) as pool:
        row = pool.submit(crawls_row, env, target, crawl_id)
        cards = pool.submit(report_cards, env, target, report)
        return row.result(), cards.result()


def stored_pages(db: Any, crawl_id: str, field: str = "_id") -> list[Any]:
    """``field`` of every page the store says ``crawl_id`` fetched: the documents it stored
    (new or changed pages) and its visits of pages it found unchanged."""
    query = {"crawl_id": crawl_id}
    docs = [*db.pages.find(query, {field: 1}), *db.page_visits.find(query, {field: 1})]
    return [doc[field] for doc in docs]
