"""Progress while long work runs: the figures of the live line, and the steps of slow commands."""

from __future__ import annotations

import logging

import pytest

from backlink_spider import progress
from backlink_spider.progress import CrawlProgress, Steps


def test_quick_work_says_nothing_and_slow_work_says_each_step(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    with caplog.at_level(logging.INFO, logger=progress.__name__), Steps("Scoring", live=False) as s:
        s("the link graph")
        clock[0] += progress.SLOW_SECONDS + 1
        s("site trust")
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"Scoring: site trust ({progress.SLOW_SECONDS + 1:.0f} s so far)"]


def test_the_live_line_says_pace_and_an_upper_bound_of_the_time_left() -> None:
    ext = CrawlProgress.__new__(CrawlProgress)
    ext.budget, ext.pages, ext.backlinks, ext.domains, ext.pace = 1000, 0, 0, set(), []
    assert ext.figures(now=0.0)["rate"] is None  # not known in the first second
    ext.pages, ext.backlinks, ext.domains = 100, 7, {"a.test", "b.test"}
    figures = ext.figures(now=10.0)
    assert figures["rate"] == pytest.approx(10.0)
    assert figures["seconds_left"] == pytest.approx(90.0)
    assert CrawlProgress.short(figures) == "7 backlinks · 2 domains · 10 pages/s · ≤2 min left"
    assert ext.line(figures) == (
        "7 backlinks from 2 referring domains; 10 pages/s, at most 1 min 30 s left"
    )
