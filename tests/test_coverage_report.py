"""The coverage report of a crawl, everywhere a user reads it: the summary, ``crawls``, the HTML
report and ``export --coverage``.

A real store on the MongoDB wire server holds the gardening web of ``test_scoring_store`` twice:
once with a crawl record carrying a ``coverage`` report written by hand as the end of a crawl
writes it, once with a record from before coverage (none). The commands run as a user runs
them, side by side (each is mostly Scrapy's start-up); the assertions read their output.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backlink_spider.report import coverage_section
from tests.conftest import MongoServer, Run, run_scrapy, scrapy_env
from tests.test_cli import assert_one_line_error
from tests.test_scoring_store import TARGET, gardening_web

FIELDS = [
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


def suggested(
    host: str,
    value: int,
    relevance: int | None,
    trust: int,
    linked_from: int,
    pages: int,
    left: int,
    why: str,
    links: str | None = None,
) -> dict[str, Any]:
    return {
        "host": host,
        "value": value,
        "relevance": relevance,
        "trust": trust,
        "linked_from": linked_from,
        "pages": pages,
        "left": left,
        "why": why,
        "links": links,
    }


# As backlink_spider.focus.Focus.coverage() shapes it: 200 pages fetched, 142 of them on
# on-topic hosts; 7 hosts left unseen, best estimated value first; 3 hosts seen linking the
# competitor and not the target (the one crawled as far as it goes last).
SUGGESTED = [
    suggested("roseforum.test", 82, 74, 61, 6, 0, 3, "depth"),
    suggested("heritage-roses.test", 77, 80, 40, 3, 2, 14, "budget", "target"),
    suggested("seedswap.test", 64, 58, 35, 4, 20, 31, "cap", "competitor"),
    suggested("pottingbench.test", 51, None, 30, 2, 0, 1, "robots"),
    suggested("compostcorner.test", 44, 47, 22, 2, 0, 2, "depth"),
    suggested("mulchmatters.test", 30, 35, 12, 1, 0, 1, "depth"),
    suggested("allotment-diary.test", 21, 22, 9, 1, 1, 5, "budget", "competitor"),
]
COMPETITOR_ONLY = [
    {"host": "seedswap.test", "pages": 20, "competitor_links": 5, "left": 31, "why": "cap"},
    {
        "host": "allotment-diary.test",
        "pages": 1,
        "competitor_links": 2,
        "left": 5,
        "why": "budget",
    },
    {"host": "veg-patch.test", "pages": 6, "competitor_links": 3, "left": 0, "why": None},
]
COVERAGE = {
    "budget": {"on_topic": 142, "off_topic": 54, "unknown": 4},
    "hosts": {"on_topic": 9, "off_topic": 5, "unknown": 3},
    "uncrawled": {"budget": 2, "cap": 1, "depth": 3, "robots": 1},
    "suggested_seeds": SUGGESTED,
    "competitor_only": COMPETITOR_ONLY,
}
FAILED = [
    {"seed": "gone-away.test", "reason": "DNS lookup failed"},
    {"seed": "slow-roses.test", "reason": "timed out"},
]


@dataclass
class Shown:
    """What the commands printed and wrote, for the store with coverage and the one without."""

    tmp: Path
    runs: dict[str, Run]


def _database(mongo_server: MongoServer, **crawl: Any) -> str:
    name = f"cov_{uuid.uuid4().hex[:10]}"
    client = mongo_server.client()
    try:
        gardening_web().store(client[name], failed_seeds=FAILED, **crawl)
    finally:
        client.close()
    return name


@pytest.fixture(scope="module")
def shown(mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shown]:
    tmp = tmp_path_factory.mktemp("coverage")
    names = {"new": _database(mongo_server, coverage=COVERAGE), "old": _database(mongo_server)}
    env = {
        which: scrapy_env(MONGO_URI=mongo_server.uri, MONGO_DATABASE=name, COLUMNS="100")
        for which, name in names.items()
    }
    commands = {
        "summary": ("new", ["score", TARGET]),
        "crawls": ("new", ["crawls", TARGET]),
        "report": ("new", ["report", TARGET, "-o", str(tmp / "new.html")]),
        "csv": ("new", ["export", TARGET, "--coverage", "-O", str(tmp / "coverage.csv")]),
        "jsonl": ("new", ["export", TARGET, "--coverage", "-O", str(tmp / "coverage.jsonl")]),
        "stdout": ("new", ["export", TARGET, "--coverage"]),
        "combined": ("new", ["export", TARGET, "--coverage", "--broken", "--upgrades"]),
        "old summary": ("old", ["score", TARGET]),
        "old crawls": ("old", ["crawls", TARGET]),
        "old report": ("old", ["report", TARGET, "-o", str(tmp / "old.html")]),
        "old export": ("old", ["export", TARGET, "--coverage", "-O", str(tmp / "old.csv")]),
        "never crawled": ("old", ["export", "nobody.test", "--coverage"]),
    }
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = {
                name: pool.submit(run_scrapy, args, env[which])
                for name, (which, args) in commands.items()
            }
            runs = {name: future.result() for name, future in futures.items()}
        yield Shown(tmp, runs)
    finally:
        client = mongo_server.client()
        for name in names.values():
            client.drop_database(name)
        client.close()


def _ok(shown: Shown, name: str) -> Run:
    run = shown.runs[name]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return run


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_summary_says_where_the_budget_went_and_the_seeds_to_add(shown: Shown) -> None:
    out = _ok(shown, "summary").stdout
    words = _words(out)
    assert "seeds not crawled: gone-away.test (DNS lookup failed); slow-roses.test" in words
    assert "budget: 71% on on-topic hosts, 27% off topic, 2% unknown" in words
    assert (
        "suggested seeds: roseforum.test, heritage-roses.test, seedswap.test (7 hosts left "
        "unseen: 3 beyond the crawl's depth, 2 the page budget ran out, 1 cut at the per-host "
        f"page cap, 1 robots.txt refused it): scrapy export {TARGET} --coverage"
    ) in words
    assert f"3 hosts link a competitor and not {TARGET}" in words
    assert "pottingbench.test" not in words  # three named; the export has them all
    lines = out.splitlines()
    budget = next(i for i, line in enumerate(lines) if line.startswith("budget: "))
    assert lines[budget - 1].startswith("seeds not crawled: ")  # right after the failed seeds


def test_crawls_shows_the_share_of_the_budget_on_topic(shown: Shown) -> None:
    def on_topic(run: Run) -> str:
        header, row = run.stdout.splitlines()[:2]
        start, end = header.index("ON-TOPIC"), header.index("STATUS")
        assert header.index("BROKEN") < start  # after the figures
        return row[start:end].strip()

    assert on_topic(_ok(shown, "crawls")) == "71%"
    assert on_topic(_ok(shown, "old crawls")) == "-"


def _section(page: str) -> str:
    start = page.index("<h2>Coverage: what the crawl did not see</h2>")
    return page[start : page.index("</section>", start)]


def _first_cells(table_html: str) -> list[str]:
    return re.findall(r"<tr><td>([^<]*)</td>", table_html)


def test_the_report_has_a_coverage_section(shown: Shown) -> None:
    _ok(shown, "report")
    page = (shown.tmp / "new.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 6  # the charts as before: the section is tables
    section = _section(page)
    seeds, rest = section.split("<h3>The page budget</h3>")
    assert _first_cells(seeds) == ["gone-away.test", "slow-roses.test"]
    assert "<td>DNS lookup failed</td>" in seeds and "<td>timed out</td>" in seeds
    budget, rest = rest.split("<h3>Suggested seeds: hosts left unseen</h3>")
    assert re.search(
        r"<td>on-topic hosts</td><td class=\"n\">9</td><td class=\"n\">142</td>"
        r"<td class=\"n\">71%</td>",
        budget,
    ), budget
    assert '<td class="n">27%</td>' in budget and '<td class="n">2%</td>' in budget
    seeds_table, competitors = rest.split("<h3>Linking a competitor, not ")
    assert _first_cells(seeds_table) == [s["host"] for s in SUGGESTED]  # best value first
    assert "7 hosts left (partly) unseen: 3 beyond the crawl&#x27;s depth" in seeds_table
    first = seeds_table[seeds_table.index("<td>roseforum.test</td>") :].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", first)
    assert cells == ["roseforum.test", "beyond the crawl&#x27;s depth", "82", "74", "61", "6", "3"]
    assert "<td>robots.txt refused it</td>" in seeds_table
    assert _first_cells(competitors) == [c["host"] for c in COMPETITOR_ONLY]
    assert "<td>crawled as far as it goes</td>" in competitors  # veg-patch.test


def test_the_report_of_a_record_before_coverage_says_so(shown: Shown) -> None:
    _ok(shown, "old report")
    section = _section((shown.tmp / "old.html").read_text(encoding="utf-8"))
    assert _first_cells(section) == ["gone-away.test", "slow-roses.test"]
    assert "has no coverage report" in section
    assert "roseforum.test" not in section


def test_the_summary_of_a_record_before_coverage_has_no_coverage_lines(shown: Shown) -> None:
    words = _words(_ok(shown, "old summary").stdout)
    assert "seeds not crawled: gone-away.test" in words
    assert "budget:" not in words and "suggested seeds" not in words
    assert "link a competitor" not in words


EXPECTED = [
    *(("suggested_seed", s["host"]) for s in SUGGESTED),
    *(("competitor_only", c["host"]) for c in COMPETITOR_ONLY),
    ("failed_seed", "gone-away.test"),
    ("failed_seed", "slow-roses.test"),
]


def test_export_coverage_as_json_lines(shown: Shown) -> None:
    run = _ok(shown, "jsonl")
    path = shown.tmp / "coverage.jsonl"
    rows = run.feed(path)
    assert [(r["list"], r["host"]) for r in rows] == EXPECTED
    assert all(list(r) == FIELDS for r in rows)
    assert rows[0] == {
        "list": "suggested_seed",
        "host": "roseforum.test",
        "why": "depth",
        "value": 82,
        "relevance": 74,
        "trust": 61,
        "linked_from": 6,
        "pages": 0,
        "left": 3,
        "competitor_links": None,
    }
    assert rows[3]["relevance"] is None  # pottingbench.test: no page of it read
    veg = rows[len(SUGGESTED) + 2]
    assert veg == {
        **dict.fromkeys(FIELDS),
        "list": "competitor_only",
        "host": "veg-patch.test",
        "pages": 6,
        "left": 0,
        "competitor_links": 3,
    }
    assert rows[-2] == {
        **dict.fromkeys(FIELDS),
        "list": "failed_seed",
        "host": "gone-away.test",
        "why": "DNS lookup failed",
    }
    said = run.stderr.strip()
    assert said.startswith(f"{len(EXPECTED)} hosts of the coverage report of {TARGET}")
    assert said.endswith(f"written to {path} (jsonl)")
    # Standard output: JSON Lines, the same rows.
    stdout = [json.loads(line) for line in _ok(shown, "stdout").stdout.splitlines()]
    assert stdout == rows


def test_export_coverage_as_csv(shown: Shown) -> None:
    _ok(shown, "csv")
    path = shown.tmp / "coverage.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8, said to Excel
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        assert reader.fieldnames == FIELDS
    assert [(r["list"], r["host"]) for r in rows] == EXPECTED
    assert rows[1] == {
        "list": "suggested_seed",
        "host": "heritage-roses.test",
        "why": "budget",
        "value": "77",
        "relevance": "80",
        "trust": "40",
        "linked_from": "3",
        "pages": "2",
        "left": "14",
        "competitor_links": "",
    }
    assert rows[len(SUGGESTED)]["competitor_links"] == "5"  # seedswap.test
    assert rows[-1]["why"] == "timed out" and rows[-1]["value"] == ""


def test_export_coverage_without_a_report_is_one_line(shown: Shown) -> None:
    assert_one_line_error(shown.runs["old export"], 1, f"no crawl of {TARGET} has a coverage")
    assert not (shown.tmp / "old.csv").exists()
    assert_one_line_error(shown.runs["never crawled"], 1, "no crawl of nobody.test stored")


def test_export_coverage_does_not_combine_with_link_filters(shown: Shown) -> None:
    assert_one_line_error(
        shown.runs["combined"], 2, "--coverage", "cannot be combined with --broken, --upgrades"
    )


def test_the_coverage_section_escapes_what_pages_said() -> None:
    """Hosts and reasons come from crawled pages and answers: shown as text, never as markup."""
    hostile = "<script>alert(1)</script>"
    section = coverage_section(
        {
            "target": TARGET,
            "coverage": {
                **COVERAGE,
                "suggested_seeds": [{**SUGGESTED[0], "host": hostile, "why": hostile}],
                "competitor_only": [{**COMPETITOR_ONLY[0], "host": f'x" onclick="{hostile}'}],
            },
            "failed_seeds": [("bad.test", "<img src=x onerror=alert(1)>")],
        }
    )
    assert "<script" not in section and "<img" not in section and '" onclick' not in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
