"""The one add-on: which components a crawl gets, where, and how a project changes that."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

from backlink_spider.addon import BacklinksAddon, stores_items


def applied(**cmdline: Any) -> Settings:
    settings = get_project_settings()
    for name, value in cmdline.items():
        settings.set(name, value, priority="cmdline")
    BacklinksAddon().update_settings(settings)
    return settings


def order(settings: Settings, name: str) -> list[str]:
    return [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in map(load_object, build_component_list(settings.getwithbase(name)))
    ]


def test_downloader_middlewares_replace_scrapys_at_their_places() -> None:
    chain = order(applied(), "DOWNLOADER_MIDDLEWARES")
    for scrapys in (
        "robotstxt.RobotsTxtMiddleware",
        "redirect.RedirectMiddleware",
        "redirect.MetaRefreshMiddleware",
    ):
        assert f"scrapy.downloadermiddlewares.{scrapys}" not in chain
    ours = [c for c in chain if c.startswith("backlink_spider.")]
    assert ours == [
        "backlink_spider.robots.RobotsTxtMiddleware",
        "backlink_spider.admission.PageBudgetMiddleware",  # after robots.txt said yes
        "backlink_spider.redirects.HopMetaRefreshMiddleware",
        "backlink_spider.guards.DownloadGuardMiddleware",
        "backlink_spider.redirects.HopRedirectMiddleware",
        "backlink_spider.ssrf.SsrfGuardMiddleware",
    ]
    at = chain.index
    # Before HttpCompression on the response path (which runs the chain backwards).
    assert at("backlink_spider.guards.DownloadGuardMiddleware") > at(
        "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware"
    )
    assert at("backlink_spider.ssrf.SsrfGuardMiddleware") > at(
        "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware"
    )


def test_pipelines_and_the_end_of_the_crawl() -> None:
    settings = applied()
    assert order(settings, "ITEM_PIPELINES") == [
        "pipelines.normalize.NormalizePipeline",
        "pipelines.dedupe.DedupePipeline",
        "pipelines.mongo.MongoPipeline",
    ]
    assert "backlink_spider.finisher.CrawlFinisher" in order(settings, "EXTENSIONS")
    assert stores_items(get_project_settings())


def test_pipelines_given_whole_on_the_command_line_are_taken_as_they_are() -> None:
    assert order(applied(ITEM_PIPELINES={}), "ITEM_PIPELINES") == []
    settings = get_project_settings()
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")
    assert not stores_items(settings)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        # A project moves one of ours, or turns it off and keeps Scrapy's.
        (
            {"backlink_spider.ssrf.SsrfGuardMiddleware": 900},
            "backlink_spider.ssrf.SsrfGuardMiddleware",
        ),
        (
            {"backlink_spider.robots.RobotsTxtMiddleware": None},
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
        ),
    ],
)
def test_a_project_places_or_drops_ours(setting: dict[str, Any], expected: str) -> None:
    settings = get_project_settings()
    settings.set("DOWNLOADER_MIDDLEWARES", setting, priority="project")
    BacklinksAddon().update_settings(settings)
    assert expected in order(settings, "DOWNLOADER_MIDDLEWARES")
    if setting.get("backlink_spider.ssrf.SsrfGuardMiddleware"):
        assert (
            settings.getwithbase("DOWNLOADER_MIDDLEWARES")[
                "backlink_spider.ssrf.SsrfGuardMiddleware"
            ]
            == 900
        )
