"""Pages built by script: ``-a render=never|auto|always`` over the script web, with real Chromium.

The script web (tests/webs/scripted.py) declares which backlinks only a browser
sees (``needs_render``); the crawls must find exactly those with rendering and none without, and
``auto`` must render only the sites that need it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import scrapy
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.settings import SETTINGS_PRIORITIES, Settings
from scrapy.utils.misc import load_object
from twisted.python.failure import Failure

from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.render import (
    BROWSER_ARGS,
    HANDLER,
    BrowserRequestFilter,
    Renderer,
    RenderSettings,
    _bypasses_proxy,
    _PrivateAddressGuard,
    browser_proxy,
    find_browser,
    handler_installed,
    script_signals,
    update_settings,
)
from backlink_spider.urls import try_canonical_url
from tests.conftest import FAST, Run, run_scrapy, scrapy_env
from tests.webs.scripted import BLOGROLL, NOSCRIPT, PLAIN, SPA, script_web

pytestmark = pytest.mark.skipif(
    not find_browser(""), reason="no Chromium (apt-get install chromium)"
)

SAMPLES = 2  # BACKLINKS_RENDER_SAMPLES, the default


@dataclass
class Crawl:
    run: Run
    feed: list[dict[str, Any]]
    db: Any
    fetched: list[str]

    @property
    def stats(self) -> dict[str, Any]:
        return self.db.crawls.find_one()["stats"]

    def rendered(self, host: str) -> dict[str, bool]:
        """Stored pages of a host: URL -> rendered."""
        return {d["url"]: d["rendered"] for d in self.db.pages.find({"host": host})}


def crawl_args(web: Web, out: Path, *extra: str) -> list[str]:
    return [
        "crawl",
        "niche",
        *web.niche_args(),
        "-O",
        str(out),
        *FAST,
        *extra,
    ]


@pytest.fixture(scope="module")
def web() -> Web:
    return script_web()


@pytest.fixture(scope="module")
def server(web: Web) -> Iterator[WebServer]:
    with WebServer(web) as running:
        yield running


@pytest.fixture(scope="module")
def crawls(
    web: Web, server: WebServer, mongo_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Crawl]]:
    """One crawl of the script web per mode, each into its own database."""
    tmp = tmp_path_factory.mktemp("render")
    client = mongo_server.client()
    done: dict[str, Crawl] = {}
    for mode in ("never", "auto", "always"):
        name = f"render_{mode}_{os.getpid()}"
        env = scrapy_env(
            server.proxy_url,
            MONGO_URI=mongo_server.uri,
            MONGO_DATABASE=name,
            BACKLINKS_DATA_DIR=str(tmp / "data"),
        )
        server.reset_log()
        out = tmp / f"{mode}.jsonl"
        run = run_scrapy(crawl_args(web, out, "-a", f"render={mode}"), env)
        assert run.returncode == 0, run.stderr[-3000:]
        done[mode] = Crawl(run, run.feed(out), client[name], server.fetched_urls())
    yield done
    for mode in done:
        client.drop_database(f"render_{mode}_{os.getpid()}")
    client.close()


def pairs(feed: list[dict[str, Any]]) -> dict[tuple[str | None, str | None], dict[str, Any]]:
    return {(r["source_url"], r["target_url"]): r for r in feed}


def key(source: str, target: str) -> tuple[str | None, str | None]:
    return try_canonical_url(source), try_canonical_url(target)


@pytest.mark.parametrize("mode", ["never", "auto", "always"])
def test_links_written_by_script_are_found_only_when_rendering(
    web: Web, crawls: dict[str, Crawl], mode: str
) -> None:
    found = pairs(crawls[mode].feed)
    scripted = [e for e in web.expected if e.needs_render]
    plain = [e for e in web.expected if not e.needs_render]
    assert scripted and plain
    for e in plain if mode == "never" else web.expected:
        row = found.get(key(e.source_url, e.target_url))
        assert row is not None, f"{mode}: missing {e.source_url} -> {e.target_url} ({e.note})"
        assert (row["anchor_text"], row["position"]) == (e.anchor, e.position), e
    if mode == "never":
        for e in scripted:
            assert key(e.source_url, e.target_url) not in found, e
    assert len(found) == len(plain if mode == "never" else web.expected)


def test_the_stored_pages_say_which_were_rendered(web: Web, crawls: dict[str, Crawl]) -> None:
    never, auto, always = crawls["never"], crawls["auto"], crawls["always"]
    assert not any(never.db.pages.distinct("rendered"))
    assert always.db.pages.count_documents({"status": 200, "rendered": False}) == 0
    # auto: the app and the script-written blogroll are rendered, every page of them...
    for host, pages in ((SPA, 3), (BLOGROLL, 3)):
        assert auto.rendered(host) == always.rendered(host), host
        assert len(auto.rendered(host)) == pages and all(auto.rendered(host).values()), host
    # ...the ordinary site and the target never, the "enable JavaScript" site only as samples.
    assert auto.rendered(PLAIN) and not any(auto.rendered(PLAIN).values())
    assert not any(auto.rendered(web.target).values())
    notes = auto.rendered(NOSCRIPT)
    assert len(notes) == 4 and sum(notes.values()) == SAMPLES
    # In the never crawl, the app's own pages are not even known: its links are script-written.
    assert set(never.rendered(SPA)) == {f"https://{SPA}/"}


def test_stats_count_rendered_pages_and_links_found_only_after_rendering(
    web: Web, crawls: dict[str, Crawl]
) -> None:
    scripted = [e for e in web.expected if e.needs_render]
    for mode in ("auto", "always"):
        crawl = crawls[mode]
        stats = crawl.stats
        assert stats["backlinks/render/pages"] == crawl.db.pages.count_documents({"rendered": True})
        assert stats["backlinks/render/backlinks_only_rendered"] == len(scripted), mode
        assert stats["backlinks/render/links_only_rendered"] >= len(scripted), mode
    assert crawls["auto"].stats["backlinks/render/hosts_rendered"] == 2
    assert crawls["auto"].stats["backlinks/render/hosts_raw"] == 1
    assert crawls["auto"].db.crawls.find_one()["render"] == "auto"
    never = crawls["never"].stats
    assert not any(k.startswith(("backlinks/render/", "playwright/")) for k in never)


def test_the_browser_goes_through_the_crawlers_proxy(crawls: dict[str, Crawl]) -> None:
    # Only a browser asks for the app's script; the web exists only behind the proxy.
    bundle = f"https://{SPA}/static/app.js"
    assert bundle in crawls["auto"].fetched and bundle not in crawls["never"].fetched
    # Images are not fetched by the browser, nor the analytics host (the site is never rendered).
    assert not any("/img/" in url or "analytics" in url for url in crawls["always"].fetched)


def watched_browser(tmp_path: Path) -> tuple[Path, Path]:
    """A BACKLINKS_BROWSER_PATH that is Chromium, and leaves a mark each time it starts."""
    mark = tmp_path / "browser-started"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f'#!/bin/sh\necho started >> "{mark}"\nexec "{find_browser("")}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, mark


def test_auto_on_ordinary_pages_starts_no_browser(
    web: Web, server: WebServer, mongo_server, tmp_path: Path
) -> None:
    # scrapy-playwright's handler, installed for an auto crawl, starts Playwright's driver with
    # the engine; the browser itself only on a first rendered page, which never comes here.
    browser, mark = watched_browser(tmp_path)
    name = f"render_plain_{os.getpid()}"
    env = scrapy_env(
        server.proxy_url,
        MONGO_URI=mongo_server.uri,
        MONGO_DATABASE=name,
        BACKLINKS_DATA_DIR=str(tmp_path / "data"),
    )
    run = run_scrapy(
        [
            "crawl",
            "niche",
            "-a",
            f"target={web.target}",
            "-a",
            f"seeds={PLAIN}",
            "-o",
            str(tmp_path / "plain.jsonl"),
            *FAST,
            "-s",
            "LOG_LEVEL=DEBUG",
            "-s",
            f"BACKLINKS_BROWSER_PATH={browser}",
        ],
        env,
    )
    with mongo_server.client() as client:
        stats = client[name].crawls.find_one()["stats"]
        client.drop_database(name)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.feed(tmp_path / "plain.jsonl")) == 3
    assert not mark.exists()  # no browser process ever ran
    assert "playwright/browser_count" not in stats
    assert not any(k.startswith(("backlinks/render/", "playwright/")) for k in stats)
    assert "playwright/" not in run.stderr


def imported(stderr: str) -> set[str]:
    """Top-level packages a process imported, from its ``PYTHONPROFILEIMPORTTIME`` lines."""
    return {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("never", [["-s", "BACKLINKS_RENDER=never"], ["-a", "render=never"]])
def test_never_does_not_even_import_playwright(
    web: Web, server: WebServer, tmp_path: Path, never: list[str]
) -> None:
    env = scrapy_env(
        server.proxy_url, PYTHONPROFILEIMPORTTIME="1", BACKLINKS_DATA_DIR=str(tmp_path / "data")
    )
    run = run_scrapy(
        [
            "crawl",
            "niche",
            "-a",
            f"target={web.target}",
            "-a",
            f"seeds={PLAIN}",
            "-o",
            str(tmp_path / "plain.jsonl"),
            *FAST,
            "-s",
            "ITEM_PIPELINES={}",
            *never,
        ],
        env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    packages = imported(run.stderr)
    assert "scrapy" in packages and "backlink_spider" in packages  # the profile is there
    assert not packages & {"playwright", "scrapy_playwright"}, packages
    assert "scrapy-playwright" not in run.stderr


def test_the_crawls_render_argument_wins_over_the_setting(
    web: Web, server: WebServer, tmp_path: Path
) -> None:
    env = scrapy_env(server.proxy_url, BACKLINKS_DATA_DIR=str(tmp_path / "data"))
    run = run_scrapy(
        [
            "crawl",
            "niche",
            "-a",
            f"target={web.target}",
            "-a",
            f"seeds={SPA}",
            "-a",
            "render=auto",
            "-o",
            str(tmp_path / "spa.jsonl"),
            *FAST,
            "-s",
            "ITEM_PIPELINES={}",
            "-s",
            "BACKLINKS_RENDER=never",
        ],
        env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "'backlinks/render/pages': " in run.stderr and "'playwright/browser_count': 1" in (
        run.stderr
    )


def test_a_browser_that_does_not_start_means_raw_html_and_one_error(
    web: Web, server: WebServer, mongo_server, tmp_path: Path
) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    name = f"render_broken_{os.getpid()}"
    env = scrapy_env(
        server.proxy_url,
        MONGO_URI=mongo_server.uri,
        MONGO_DATABASE=name,
        BACKLINKS_DATA_DIR=str(tmp_path / "data"),
    )
    out = tmp_path / "raw.jsonl"
    run = run_scrapy(
        crawl_args(web, out, "-a", "render=always", "-s", f"BACKLINKS_BROWSER_PATH={broken}"), env
    )
    with mongo_server.client() as client:
        stats = client[name].crawls.find_one()["stats"]
        client.drop_database(name)
    assert run.returncode == 0, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "Cannot render pages" in errors[0], errors
    assert "the browser did not start (BrowserType.launch" in errors[0], errors
    plain = {key(e.source_url, e.target_url) for e in web.expected if not e.needs_render}
    assert set(pairs(run.feed(out))) == plain
    assert stats["backlinks/render/failed/BrowserUnavailable"] >= 1
    assert "backlinks/render/pages" not in stats and "playwright/browser_count" not in stats


def test_a_bad_render_value_is_one_line(web: Web, tmp_path: Path) -> None:
    run = run_scrapy(crawl_args(web, tmp_path / "x.jsonl", "-a", "render=sometimes"), scrapy_env())
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "error: render must be one of never, auto, always, not 'sometimes'"
    ]


def test_render_always_without_a_browser_is_one_line(web: Web, tmp_path: Path) -> None:
    env = scrapy_env(BACKLINKS_DATA_DIR=str(tmp_path / "data"))
    run = run_scrapy(
        crawl_args(
            web,
            tmp_path / "x.jsonl",
            "-a",
            "render=always",
            "-s",
            "BACKLINKS_BROWSER_PATH=/nonexistent",
        ),
        env,
    )
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: render=always needs a browser"), lines
    assert "/nonexistent" in lines[0]
    assert not (tmp_path / "data").exists()  # stopped before anything started


def test_render_auto_without_a_browser_warns_and_reads_raw_html(
    web: Web, server: WebServer, mongo_server, tmp_path: Path
) -> None:
    name = f"render_nobrowser_{os.getpid()}"
    env = scrapy_env(
        server.proxy_url,
        MONGO_URI=mongo_server.uri,
        MONGO_DATABASE=name,
        BACKLINKS_DATA_DIR=str(tmp_path / "data"),
    )
    out = tmp_path / "raw.jsonl"
    run = run_scrapy(crawl_args(web, out, "-s", "BACKLINKS_BROWSER_PATH=/nonexistent"), env)
    with mongo_server.client() as client:
        client.drop_database(name)
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line and "browser" in line]
    assert len(warnings) == 1 and "/nonexistent" in warnings[0]
    plain = {key(e.source_url, e.target_url) for e in web.expected if not e.needs_render}
    assert set(pairs(run.feed(out))) == plain


# --- the signals of a script-built page, as a table --------------------------------------------

PLAIN_PAGE = '<html><body><p>Hello <a href="/a">a</a> <a href="/b">b</a> <a href="/c">c</a></p>'
SIGNALS = [
    (PLAIN_PAGE, 3, ()),
    (PLAIN_PAGE + '<script>gtag("config", "G-1"); location.href = "/x";</script>', 3, ()),
    (PLAIN_PAGE + '<script type="application/ld+json">{"url": "https://a.test/"}</script>', 3, ()),
    (PLAIN_PAGE + '<noscript><img src="https://px.test/t.gif"></noscript>', 3, ()),
    (
        '<body><div id="root"></div><script src="/app.js"></script>',
        0,
        ("empty_app_root", "few_links"),
    ),
    (
        '<body><div id="app" class="x">\n  <!-- filled by Vue -->\n</div><script src="/a.js">'
        "</script>",
        5,
        ("empty_app_root",),
    ),
    ('<body><div data-id="root"></div><p>text</p><script src="/a.js"></script>', 5, ()),
    (
        '<body><app-root></app-root><script src="/main.js"></script>',
        0,
        ("empty_app_root", "few_links"),
    ),
    (
        PLAIN_PAGE + "<script>var a = document.createElement('a'); a.href = u;</script>",
        3,
        ("script_writes_links",),
    ),
    (
        PLAIN_PAGE + "<script>el.innerHTML = '<a class=\"x\" href=\"' + u + '\">';</script>",
        3,
        ("script_writes_links",),
    ),
    (
        PLAIN_PAGE + "<noscript>Please enable JavaScript to view the comments.</noscript>",
        3,
        ("noscript_fallback",),
    ),
    (
        '<body><p>Loading…</p><script>window.__STATE__ = "' + "x" * 3000 + '";</script>',
        0,
        ("few_links", "script_heavy"),
    ),
]


@pytest.mark.parametrize(("html", "links", "expected"), SIGNALS)
def test_script_signals(html: str, links: int, expected: tuple[str, ...]) -> None:
    assert script_signals(html, links, 40) == expected


def test_the_browser_refuses_the_private_network() -> None:
    async def verdicts(guard: _PrivateAddressGuard, urls: list[str]) -> list[bool]:
        return [await guard.refuses(url) for url in urls]

    urls = [
        "http://127.0.0.1:6800/jobs",
        "http://[::1]/",
        "http://localhost:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0x7f.1/",
        "https://a.test/x",
        "data:text/html,hi",
    ]
    proxied = asyncio.run(verdicts(_PrivateAddressGuard({"server": "http://proxy:3128"}), urls))
    assert proxied == [True, True, True, True, True, False, False]


def test_the_browser_gets_the_crawlers_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert browser_proxy() is None
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:3128")
    assert browser_proxy() == {"server": "http://127.0.0.1:3128"}
    monkeypatch.setenv("https_proxy", "http://bob:s%40cret@proxy.test:8080/")
    monkeypatch.setenv("no_proxy", "localhost,.internal.test")
    assert browser_proxy() == {
        "server": "http://proxy.test:8080",
        "username": "bob",
        "password": "s@cret",
        "bypass": "localhost,.internal.test",
    }


def test_a_browser_path_that_is_not_an_executable_is_no_browser(tmp_path: Path) -> None:
    text_file = tmp_path / "chromium"
    text_file.write_text("not a browser")
    assert find_browser("/nonexistent") == ""
    assert find_browser(str(text_file)) == ""
    assert find_browser("") == find_browser(find_browser(""))  # found on PATH, and executable


# --- scrapy-playwright's settings, derived from ours (no crawl) --------------------------------

PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
ADDON = SETTINGS_PRIORITIES["addon"]
DERIVED = (
    "PLAYWRIGHT_LAUNCH_OPTIONS",
    "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT",
    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT",
    "PLAYWRIGHT_ABORT_REQUEST",
)


def project_settings(**given: Any) -> Settings:
    """The project's settings, with ``given`` as if by ``-s``."""
    settings = Settings()
    settings.setmodule("settings", priority="project")
    settings.setdict(given, priority="cmdline")
    return settings


@dataclass
class BrowserRequest:  # what PLAYWRIGHT_ABORT_REQUEST is given: a Playwright request
    resource_type: str
    url: str


def test_update_settings_derives_scrapy_playwrights_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.test:3128")
    monkeypatch.setenv("no_proxy", "intranet.test")
    settings = project_settings(BACKLINKS_RENDER_CONCURRENCY=3, BACKLINKS_RENDER_TIMEOUT=7.5)
    update_settings(settings)

    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    assert handlers["http"] == handlers["https"] == HANDLER
    assert settings["DOWNLOAD_HANDLERS"].getpriority("https") == ADDON
    assert settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS") == {
        "executable_path": find_browser(""),
        "headless": True,
        "args": list(BROWSER_ARGS),
        "proxy": {"server": "http://proxy.test:3128", "bypass": "intranet.test"},
    }
    assert settings.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT") == 3
    assert settings.getfloat("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT") == 7500
    assert [settings.getpriority(name) for name in DERIVED] == [ADDON] * len(DERIVED)
    # No startup context: those launch the browser when the engine starts.
    assert not settings.get("PLAYWRIGHT_CONTEXTS")

    abort = settings["PLAYWRIGHT_ABORT_REQUEST"]
    assert isinstance(abort, BrowserRequestFilter) and load_object(abort) is abort
    requests = [
        BrowserRequest("image", "https://a.test/x.png"),
        BrowserRequest("font", "https://a.test/x.woff2"),
        BrowserRequest("script", "https://a.test/app.js"),
        BrowserRequest("xhr", "http://127.0.0.1:6800/jobs"),
        BrowserRequest("document", "http://localhost:8080/"),
    ]

    async def verdicts(request_filter: BrowserRequestFilter) -> list[bool]:
        return [await request_filter(request) for request in requests]

    assert asyncio.run(verdicts(abort)) == [True, True, False, True, True]
    # Setting values must be picklable; the stats attached for the crawl are left behind.
    abort.stats = object()
    copy = pickle.loads(pickle.dumps(abort))  # noqa: S301  # our own object
    assert copy.stats is None and copy.blocked == abort.blocked
    assert asyncio.run(verdicts(copy)) == [True, True, False, True, True]


def test_the_browser_follows_the_crawlers_certificate_policy() -> None:
    for verify, ignore in ((False, True), (True, False)):
        settings = project_settings(DOWNLOAD_VERIFY_CERTIFICATES=verify)
        options = RenderSettings.from_settings(settings).context_options()
        assert options == {"ignore_https_errors": ignore, "java_script_enabled": True}


def test_update_settings_leaves_the_users_playwright_settings_alone() -> None:
    settings = project_settings(
        PLAYWRIGHT_LAUNCH_OPTIONS={"headless": False, "executable_path": "/opt/chrome/chrome"},
        PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=9,
        PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT=1234,
        PLAYWRIGHT_ABORT_REQUEST="tests.test_render.BrowserRequest",
        DOWNLOAD_HANDLERS={"https": "tests.test_render.BrowserRequest"},
        BACKLINKS_RENDER_CONCURRENCY=2,
    )
    update_settings(settings)
    launch = settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert launch["headless"] is False and launch["executable_path"] == "/opt/chrome/chrome"
    assert launch["args"] == list(BROWSER_ARGS)  # key by key: what the user left out is ours
    assert settings.getpriority("PLAYWRIGHT_LAUNCH_OPTIONS") == SETTINGS_PRIORITIES["cmdline"]
    assert settings.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT") == 9
    assert settings.getfloat("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT") == 1234
    assert settings["PLAYWRIGHT_ABORT_REQUEST"] == "tests.test_render.BrowserRequest"
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    assert handlers["https"] == "tests.test_render.BrowserRequest" and handlers["http"] == HANDLER
    assert not handler_installed(settings)

    remote = project_settings(PLAYWRIGHT_CDP_URL="http://127.0.0.1:9222")
    update_settings(remote)
    assert not remote.get("PLAYWRIGHT_LAUNCH_OPTIONS")  # connected to, never launched
    assert handler_installed(remote)


def test_update_settings_with_render_never_installs_nothing() -> None:
    settings = project_settings(BACKLINKS_RENDER="never")
    before = settings.copy_to_dict()
    update_settings(settings)
    assert settings.copy_to_dict() == before
    assert not any(name.startswith("PLAYWRIGHT_") for name in before)
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    assert handlers["http"] == "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
    assert not handler_installed(settings)


@pytest.mark.parametrize(
    ("setting", "mode", "browser_path", "installed"),
    [
        ("never", "auto", "", True),
        ("never", "always", "", True),
        ("auto", "never", "", False),
        ("auto", "auto", "", True),
        ("auto", "auto", "/nonexistent", False),
    ],
)
def test_the_crawls_mode_decides_whether_the_handler_is_installed(
    setting: str, mode: str, browser_path: str, installed: bool
) -> None:
    settings = project_settings(BACKLINKS_RENDER=setting, BACKLINKS_BROWSER_PATH=browser_path)
    crawler = Crawler(scrapy.Spider, settings)
    # As Scrapy does: the spider (and its Renderer) first, then the add-ons, then the freeze.
    Renderer.from_crawler(crawler, mode, find_browser(browser_path))
    crawler.addons.load_settings(crawler.settings)
    assert handler_installed(crawler.settings) is installed
    assert bool(crawler.settings.get("PLAYWRIGHT_ABORT_REQUEST")) is installed


class Stats(dict):
    def get_value(self, key: str) -> Any:
        return self.get(key)

    def inc_value(self, key: str, count: int = 1) -> None:
        self[key] = self.get(key, 0) + count


def render_failure(error: Exception, url: str = "https://a.test/") -> Failure:
    failure: Any = Failure(error)
    failure.request = Request(url, meta={"playwright": True, "bl_render": "sample"})
    return failure


def renderer_with(stats: Stats, mode: str = "auto") -> Renderer:
    crawler: Any = SimpleNamespace(stats=stats)
    return Renderer(mode=mode, settings=RenderSettings(), crawler=crawler, browser="chromium")


def test_only_a_browser_that_does_not_start_stops_rendering(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from playwright.async_api import Error, TimeoutError

    stats = Stats()
    renderer = renderer_with(stats)
    caplog.set_level(logging.INFO, logger="backlink_spider.render")
    # A context was opened: a page that times out is that page's failure.
    stats["playwright/context_count"] = 1
    [again] = renderer.failed(render_failure(TimeoutError("Page.goto: Timeout 20000ms exceeded")))
    assert not renderer.unavailable and stats["backlinks/render/failed/TimeoutError"] == 1
    assert again.meta["bl_render_failed"] and "playwright" not in again.meta
    # The browser does not start again (after a crash, say): rendering is over, one error.
    for _ in range(3):
        list(renderer.failed(render_failure(Error("BrowserType.launch: Target closed\nlog"))))
    assert renderer.unavailable and stats["backlinks/render/failed/BrowserUnavailable"] == 3
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "Cannot render pages, reading raw HTML from now on: the browser did not start "
        "(BrowserType.launch: Target closed)"
    ]
    # Before any context was opened, whatever fails is the browser's start.
    fresh = renderer_with(Stats(), "always")
    list(fresh.failed(render_failure(RuntimeError("start() must be awaited first"))))
    assert fresh.unavailable


def test_no_proxy_names_are_checked_as_without_a_proxy() -> None:
    no_proxy = "localhost, .internal.test,*.corp.test, db.test:5432"
    for host, bypassed in (
        ("internal.test", True),
        ("a.internal.test", True),
        ("x.corp.test", True),
        ("db.test", True),
        ("a.test", False),
        ("notinternal.test", False),
    ):
        assert _bypasses_proxy(host, no_proxy) is bypassed, host
    assert _bypasses_proxy("anything.test", "*")
    assert not _bypasses_proxy("a.test", "")
