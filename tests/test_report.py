"""``scrapy report``: one HTML file that a real browser renders offline, charts included.

Two crawls of the changing web of ``test_profile`` fill the store; the report is then opened in
headless Chromium (skipped when /usr/bin/chromium is missing), which must show the charts and
log no console message.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backlink_spider.report import crawl_labels
from tests.conftest import run_scrapy, scrapy_env
from tests.profile_web import TARGET, Profile

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="session")
def report(profile: Profile) -> Iterator[tuple[Path, str]]:
    """The report of the two crawls that tests/test_profile.py reads too."""
    env = profile.env
    out = profile.tmp / "report.html"
    run = run_scrapy(["report", TARGET, "-o", str(out)], env)
    assert run.returncode == 0, run.stderr
    assert f"report of {TARGET} written to {out}" in run.stderr
    yield out, out.read_text(encoding="utf-8")


def test_the_report_is_one_self_contained_file(report: tuple[Path, str]) -> None:
    _, page = report
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 6
    # Nothing to fetch: no script, stylesheet or image from anywhere; one inline script.
    assert not re.search(r"<script\b[^>]*\bsrc|<link\b|<img\b|@import|url\((?!#)", page)
    assert not re.search(r"href=\"(?!#|https?:)", page)
    assert page.count("<script") == 1 and "<script>" in page
    for heading in (
        "Quality and link trust",
        "Referring domains over time",
        "New and lost",
        "Link mix",
        "Top anchors",
        "Top referring domains",
        "Prospects",
        "Broken backlinks",
    ):
        assert heading in page
    assert "gap.test" in page  # the prospect
    assert "https://greenleaf.test/old-offer" in page  # the broken backlink
    assert "https://blog.test/" in page  # the lost one


def test_the_report_without_backlinks_is_a_one_line_error(report: tuple[Path, str]) -> None:
    path, _ = report
    run = run_scrapy(
        ["report", "nobody.test", "-o", str(path.with_name("x.html"))],
        scrapy_env(MONGO_URI="mongodb://127.0.0.1:1/", MONGO_DATABASE="x"),
        timeout=60,
    )
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert run.stderr.startswith("error: ")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium (apt-get install chromium)")
def test_the_report_renders_in_a_real_browser(report: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = report
    argv = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*argv, "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 6
    assert "Backlink profile of greenleaf.test" in dom.stdout
    assert ":CONSOLE" not in dom.stderr, dom.stderr  # no script error, no failed load
    shot = tmp_path / "report.png"
    png = subprocess.run(
        [*argv, "--window-size=1280,2000", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert png.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one


def test_crawls_of_one_minute_get_labels_of_their_own() -> None:
    at = datetime(2026, 5, 1, 9, 30, 5, tzinfo=UTC)
    assert crawl_labels([at, at + timedelta(hours=1)]) == ["2026-05-01\n09:30", "2026-05-01\n10:30"]
    assert crawl_labels([at, at + timedelta(seconds=20)]) == [
        "2026-05-01\n09:30:05",
        "2026-05-01\n09:30:25",
    ]
    assert crawl_labels([at, at, None]) == [
        "2026-05-01\n09:30:05 #1",
        "2026-05-01\n09:30:05 #2",
        "3",
    ]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium (apt-get install chromium)")
def test_the_links_table_sorts_in_a_real_browser(
    report: tuple[Path, str], profile: Profile
) -> None:
    """Each column's button sorts the rows by it, up then down: numbers as numbers."""
    from playwright.sync_api import sync_playwright

    path, _ = report
    stored = list(profile.db.backlinks.find({"matched_domain": TARGET, "lost_at": None}))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri())
            table = page.locator("table.sortable")

            def column(name: str) -> list[str]:
                index = table.locator("th").all_inner_texts().index(name)
                return table.evaluate(
                    "(t, i) => Array.from(t.tBodies[0].rows, r => r.cells[i].dataset.v ?? "
                    "r.cells[i].textContent)",
                    index,
                )

            assert len(column("anchor")) == len(stored)
            quality = table.get_by_role("button", name="quality")
            quality.click()
            up = [float(v) for v in column("quality")]
            assert up == sorted(up) and len(set(up)) > 1
            assert table.locator("th[aria-sort=ascending]").inner_text().startswith("quality")
            quality.click()
            assert [float(v) for v in column("quality")] == sorted(up, reverse=True)
            table.get_by_role("button", name="anchor").click()
            anchors = column("anchor")
            assert [a.strip().lower() for a in anchors] == sorted(
                a.strip().lower() for a in anchors
            )
            written = {" ".join(str(d["anchor_text"]).split()) for d in stored}
            assert set(anchors) == written  # anchors as written, not lower-cased or cut
            assert not errors
        finally:
            browser.close()
