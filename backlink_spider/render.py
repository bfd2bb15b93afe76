"""Pages built by script: when to render them in a browser, and the browser that renders them.

Many sites write their blogrolls, widgets or whole pages with JavaScript; their raw HTML does
not hold those links. Rendering is ~15 times slower than reading raw HTML, so ``render=auto``
reads every page raw first and renders only what looks script-built (``script_signals``), and
learns per host: when a rendered sample shows links the raw HTML missed, every page of that host
is rendered; after ``BACKLINKS_RENDER_SAMPLES`` samples without a gain, the host is read raw.
``render=always`` renders every HTML page; ``render=never`` never imports Playwright.

A rendered page is always a second request for a page already read raw (same URL, after its
redirects): the raw read is cheap next to the browser, keeps non-HTML and error pages out of the
browser, and gives what "links found only after rendering" is measured against.

The browser is scrapy-playwright's download handler, installed the documented way
(``DOWNLOAD_HANDLERS`` for http and https) and configured only through its public settings,
which ``update_settings`` (called by the add-on) derives from ours. The crawl's mode decides:
the spider is built before the add-ons run, and ``Renderer.from_crawler`` records ``-a render=``
in ``BACKLINKS_RENDER``, so a ``never`` crawl keeps Scrapy's own handler and never imports
Playwright. Otherwise the handler starts Playwright's driver when the engine starts, and launches
Chromium on the first rendered request only: a crawl that renders nothing starts no browser.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from scrapy.signals import spider_opened
from scrapy.utils.misc import load_object

from backlink_spider.ssrf import is_forbidden, parse_ip
from backlink_spider.urls import url_domain, url_host

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from backlink_spider.extract import Page

logger = logging.getLogger(__name__)

MODES = ("never", "auto", "always")
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# Without the background-networking flags Chromium phones home (updates, sync, field trials).
BROWSER_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# Request meta of one download (ours, Scrapy's, scrapy-playwright's) that must not follow a page
# into its second request; keys starting with "_" are components' private state.
_TRANSIENT_META = frozenset(
    {
        "bl_bytes",
        "download_latency",
        "cache_timestamp",
        "retry_times",
        "redirect_reasons",
        "redirect_times",
        "redirect_ttl",
        "redirect_urls",
        "playwright_security_details",
        "playwright_suggested_filename",
    }
)


def _carried_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in _TRANSIENT_META and not k.startswith("_")}


# --- is this page built by script? (pure functions on the raw HTML) -------------------------

_SCRIPT_OR_NOSCRIPT_RE = re.compile(r"<(?:no)?script\b", re.IGNORECASE)
_SCRIPT_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_NOSCRIPT_RE = re.compile(r"<noscript\b[^>]*>(.*?)</noscript\s*>", re.IGNORECASE | re.DOTALL)
# The mount point of a single-page app, left empty for the script to fill.
_APP_ROOT_RE = re.compile(
    r"""<(div|main|section)\b[^>]*?(?<![\w-])id\s*=\s*["']?"""
    r"""(?:root|app|__next|__nuxt|___gatsby|svelte|application|mount)["'\s>][^>]*?>?"""
    r"""\s*(?:<!--.*?-->\s*)*</\1\s*>"""
    r"""|<(app-root)\b[^>]*>\s*</app-root\s*>""",
    re.IGNORECASE | re.DOTALL,
)
# Script that writes links: HTML strings with anchors, anchors created, hrefs set.
_SCRIPT_LINK_RE = re.compile(
    r"""<a\s[^<>]{0,300}?href"""
    r"""|createElement\(\s*["'`]a["'`]\s*\)"""
    r"""|(?<!location)\.href\s*=(?!=)"""
    r"""|setAttribute\(\s*["'`]href["'`]""",
    re.IGNORECASE,
)
_JSON_TYPE_RE = re.compile(r"""\btype\s*=\s*["']?[^"'\s>]*json""", re.IGNORECASE)
_JS_WORD_RE = re.compile(r"javascript|<a\s", re.IGNORECASE)
FEW_LINKS = 3  # a page with fewer links and any script at all may be an app shell
SCRIPT_HEAVY_CHARS = 2000  # inline script this long...
SCRIPT_HEAVY_RATIO = 20  # ...and this many times the visible text: the content is in the script


def script_signals(html: str, links: int, text_chars: int) -> tuple[str, ...]:
    """Why a raw page looks built by script (empty when it does not).

    ``links`` is how many links the raw HTML gave, ``text_chars`` how much visible text. The
    signals are cheap regex checks, tuned to stay quiet on ordinary pages (analytics snippets,
    JSON-LD, a tracking pixel in ``<noscript>``): a false alarm costs one rendered sample.
    """
    if not _SCRIPT_OR_NOSCRIPT_RE.search(html):
        return ()
    signals: list[str] = []
    if _APP_ROOT_RE.search(html):
        signals.append("empty_app_root")
    scripts = 0
    script_chars = 0
    writes_links = False
    for match in _SCRIPT_RE.finditer(html):
        attrs, body = match.group(1), match.group(2)
        if _JSON_TYPE_RE.search(attrs):
            continue  # data (JSON-LD, hydration state), not code that builds the page
        scripts += 1
        script_chars += len(body)
        if not writes_links and body and _SCRIPT_LINK_RE.search(body):
            writes_links = True
    if writes_links:
        signals.append("script_writes_links")
    for match in _NOSCRIPT_RE.finditer(html):
        if _JS_WORD_RE.search(match.group(1)):
            signals.append("noscript_fallback")  # "enable JavaScript", or links for no-JS readers
            break
    if scripts and links < FEW_LINKS:
        signals.append("few_links")
    if script_chars >= SCRIPT_HEAVY_CHARS and script_chars >= SCRIPT_HEAVY_RATIO * text_chars:
        signals.append("script_heavy")
    return tuple(signals)


# --- settings ------------------------------------------------------------------------------


def find_browser(configured: str) -> str:
    """The browser to render with: the configured path if it is an executable, else the first
    Chromium-family browser on PATH when none is configured; "" when there is none."""
    configured = configured.strip()
    if configured:
        path = shutil.which(configured)  # a name on PATH or a path, executable either way
        return path or ""
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return ""


def browser_proxy() -> dict[str, str] | None:
    """The crawler's proxy (``http_proxy``/``https_proxy``, as Scrapy reads them) for Chromium.

    The browser ignores ``request.meta["proxy"]``, so it is given at launch. One proxy serves
    both schemes: the https one when both are set (the web is mostly https).
    """
    proxies = urllib.request.getproxies_environment()
    url = proxies.get("https") or proxies.get("http")
    if not url:
        return None
    if proxies.get("http") and proxies.get("https") and proxies["http"] != proxies["https"]:
        logger.warning("http_proxy and https_proxy differ: the browser uses %s for both", url)
    parts = urlsplit(url if "://" in url else f"http://{url}")
    server = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    proxy = {"server": server}
    if parts.username:
        proxy["username"] = unquote(parts.username)
        proxy["password"] = unquote(parts.password or "")
    if proxies.get("no"):
        proxy["bypass"] = proxies["no"]
    return proxy


@dataclass(frozen=True)
class RenderSettings:
    """The ``BACKLINKS_RENDER_*`` and ``BACKLINKS_BROWSER_PATH`` settings, read once (the mode,
    ``BACKLINKS_RENDER``, is a crawl argument's default: see CrawlConfig; and, once the spider is
    built, the crawl's mode: see Renderer.from_crawler)."""

    browser_setting: str = ""
    samples: int = 2
    min_new_links: int = 1
    timeout: float = 20.0
    wait_until: str = "load"
    concurrency: int = 4
    blocked_resources: frozenset[str] = frozenset({"image", "media", "font"})
    ignore_https_errors: bool = True
    allow_private_networks: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> RenderSettings:
        return cls(
            browser_setting=str(settings.get("BACKLINKS_BROWSER_PATH") or ""),
            samples=max(1, settings.getint("BACKLINKS_RENDER_SAMPLES", 2)),
            min_new_links=max(1, settings.getint("BACKLINKS_RENDER_MIN_NEW_LINKS", 1)),
            timeout=max(1.0, settings.getfloat("BACKLINKS_RENDER_TIMEOUT", 20.0)),
            wait_until=str(settings.get("BACKLINKS_RENDER_WAIT_UNTIL") or "load"),
            concurrency=max(1, settings.getint("BACKLINKS_RENDER_CONCURRENCY", 4)),
            blocked_resources=frozenset(
                settings.getlist("BACKLINKS_RENDER_BLOCK_RESOURCES", ["image", "media", "font"])
            ),
            # The browser checks certificates exactly as much as the crawler does.
            ignore_https_errors=not settings.getbool("DOWNLOAD_VERIFY_CERTIFICATES", False),
            allow_private_networks=settings.getbool("BACKLINKS_ALLOW_PRIVATE_NETWORKS", False),
        )

    def launch_options(self, executable: str) -> dict[str, Any]:
        options: dict[str, Any] = {"headless": True, "args": list(BROWSER_ARGS)}
        if executable:  # else Playwright's own browser, if one was downloaded
            options["executable_path"] = executable
        proxy = browser_proxy()
        if proxy:
            options["proxy"] = proxy
        return options

    def context_options(self) -> dict[str, Any]:
        return {"ignore_https_errors": self.ignore_https_errors, "java_script_enabled": True}


HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"


def update_settings(settings: BaseSettings) -> None:
    """Install scrapy-playwright's handler and derive its settings from ours (the add-on calls
    this before the settings freeze).

    Nothing at all when ``BACKLINKS_RENDER`` (which holds the crawl's ``-a render=`` by now) is
    ``never``: Scrapy's own handler stays and Playwright is never imported. Everything is set at
    the "addon" priority, so a ``PLAYWRIGHT_*`` setting (or ``DOWNLOAD_HANDLERS`` entry) given in
    the project or with ``-s`` wins; ``PLAYWRIGHT_LAUNCH_OPTIONS`` wins key by key.
    """
    if str(settings.get("BACKLINKS_RENDER") or "auto").strip().lower() == "never":
        return
    rs = RenderSettings.from_settings(settings)
    handlers = settings.get("DOWNLOAD_HANDLERS")
    if isinstance(handlers, BaseSettings):
        for scheme in ("http", "https"):
            handlers.set(scheme, HANDLER, priority="addon")
    else:  # a whole dict given at a higher priority (e.g. -s DOWNLOAD_HANDLERS='{…}')
        merged = {"http": HANDLER, "https": HANDLER, **settings.getdict("DOWNLOAD_HANDLERS")}
        settings.set("DOWNLOAD_HANDLERS", merged, priority=_priority(settings, "DOWNLOAD_HANDLERS"))
    proxy = None
    if not (settings.get("PLAYWRIGHT_CDP_URL") or settings.get("PLAYWRIGHT_CONNECT_URL")):
        # (a remote browser is connected to, not launched: launch options would only be ignored)
        launch = {
            **rs.launch_options(find_browser(rs.browser_setting)),
            **settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"),
        }
        settings.set(
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            launch,
            priority=_priority(settings, "PLAYWRIGHT_LAUNCH_OPTIONS"),
        )
        proxy = launch.get("proxy")
    settings.set("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", rs.concurrency, priority="addon")
    settings.set("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", rs.timeout * 1000, priority="addon")
    guard = None if rs.allow_private_networks else _PrivateAddressGuard(proxy)
    settings.set(
        "PLAYWRIGHT_ABORT_REQUEST",
        BrowserRequestFilter(rs.blocked_resources, guard),
        priority="addon",
    )


def _priority(settings: BaseSettings, name: str) -> int:
    """The priority a merged value keeps: the user's own, or the add-on's."""
    return max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["addon"])


def browser_configured(settings: BaseSettings) -> bool:
    """Whether scrapy-playwright is given a browser of the user's own (launch options, or a
    remote browser), so that no Chromium needs to be found."""
    return bool(
        settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
        or settings.get("PLAYWRIGHT_CDP_URL")
        or settings.get("PLAYWRIGHT_CONNECT_URL")
    )


def handler_installed(settings: BaseSettings) -> bool:
    """Whether http and https are downloaded by scrapy-playwright's handler (or a subclass)."""
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    for scheme in ("http", "https"):
        path = handlers.get(scheme)
        if path == HANDLER:
            continue
        try:
            from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

            handler = load_object(path)
        except Exception:  # not loadable: not the handler
            return False
        if not (isinstance(handler, type) and issubclass(handler, ScrapyPlaywrightDownloadHandler)):
            return False
    return True


# --- the spider's side: which pages to render, and what rendering found ---------------------


@dataclass
class _Host:
    samples: int = 0  # rendered samples asked for
    sampled: int = 0  # rendered samples read
    verdict: str = ""  # "render": every page of the host; "raw": none; "": still learning


def is_rendered(response: Response) -> bool:
    """Whether this response is a page as a browser rendered it."""
    return "bl_render" in response.meta and "playwright" in response.flags


@dataclass
class Renderer:
    """Decides, page by page, whether a raw page is read again in the browser; counts results.

    Stats: ``backlinks/render/pages`` (pages read from the rendered DOM), ``…/samples`` and
    ``…/signal/<why>`` (auto's samples and their reasons), ``…/links_only_rendered`` and
    ``…/backlinks_only_rendered`` (found in the rendered DOM, not in the raw HTML),
    ``…/hosts_rendered`` / ``…/hosts_raw`` (auto's verdicts), ``…/failed/<error>``
    (``…/failed/BrowserUnavailable`` when the browser did not start), ``…/refused_private``.
    """

    mode: str
    settings: RenderSettings
    crawler: Crawler
    browser: str = ""
    hosts: dict[str, _Host] = field(default_factory=dict)
    unavailable: bool = False
    rendered_any: bool = False  # a page came back from the browser: it did start

    @classmethod
    def from_crawler(cls, crawler: Crawler, mode: str, browser: str) -> Renderer:
        """Built with the spider, before the add-ons run: the crawl's mode is recorded in
        ``BACKLINKS_RENDER`` for ``update_settings`` (Scrapy lets a spider change settings in
        its ``from_crawler``), as ``never`` when there is no browser to render with."""
        settings = RenderSettings.from_settings(crawler.settings)
        renderer = cls(mode=mode, settings=settings, crawler=crawler, browser=browser)
        if mode != "never" and not browser and not browser_configured(crawler.settings):
            where = settings.browser_setting or "chromium on PATH"
            logger.warning(
                "render=%s but no browser found (%s): pages are read as raw HTML; install "
                "chromium or set BACKLINKS_BROWSER_PATH",
                mode,
                where,
            )
            renderer.unavailable = True
        if not crawler.settings.frozen:
            priority = max(
                crawler.settings.getpriority("BACKLINKS_RENDER") or 0, SETTINGS_PRIORITIES["spider"]
            )
            mode_set = mode if renderer.active else "never"
            crawler.settings.set("BACKLINKS_RENDER", mode_set, priority=priority)
        crawler.signals.connect(renderer._opened, signal=spider_opened)
        return renderer

    def _opened(self) -> None:
        """The settings are final: attach the stats to the request filter, and make sure the
        browser's handler is there (it is not when the settings froze before the spider)."""
        request_filter = self.crawler.settings.get("PLAYWRIGHT_ABORT_REQUEST")
        if isinstance(request_filter, BrowserRequestFilter):
            request_filter.stats = self.crawler.stats
        if self.active and not handler_installed(self.crawler.settings):
            self.unavailable = True
            logger.error(
                "render=%s, but http(s) is not downloaded by scrapy-playwright's handler "
                "(DOWNLOAD_HANDLERS, BACKLINKS_RENDER=never?): pages are read as raw HTML",
                self.mode,
            )

    @property
    def stats(self) -> Any:
        return self.crawler.stats  # set when the crawl starts, after the spider is built

    @property
    def active(self) -> bool:
        return self.mode != "never" and not self.unavailable

    def _request(self, response: Response, page: Page, reason: str) -> Request:
        request = response.request
        assert request is not None
        meta = _carried_meta(response.meta)
        meta.update(
            playwright=True,
            # Used when the handler opens its context (on the first rendered page), unless
            # PLAYWRIGHT_CONTEXTS opened it; the timeout is PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT.
            playwright_context_kwargs=self.settings.context_options(),
            playwright_page_goto_kwargs={"wait_until": self.settings.wait_until},
            bl_render=reason,
            bl_raw_links=[link.url for link in page.links],
        )
        return request.replace(url=response.url, meta=meta, dont_filter=True)

    def review(self, response: Response, page: Page, watched: frozenset[str]) -> Request | None:
        """After a page is extracted: a request to render it instead, or None to use it as is.

        ``watched`` are the domains whose inbound links are backlinks from this page (empty on
        the target's own pages), for counting backlinks found only after rendering.
        """
        if is_rendered(response):
            self.rendered_any = True
            self._learn(response, page, watched)
            return None
        if not self.active or "bl_render_failed" in response.meta:
            return None
        if self.mode == "always":
            return self._request(response, page, "always")
        host = url_host(response.url)
        state = self.hosts.get(host)
        if state is None:
            state = self.hosts[host] = _Host()
        if state.verdict == "render":
            return self._request(response, page, "host")
        if state.verdict == "raw" or state.samples >= self.settings.samples:
            return None
        assert isinstance(response, TextResponse)
        signals = script_signals(response.text, len(page.links), len(page.text))
        if not signals:
            return None
        for signal in signals:
            self.stats.inc_value(f"backlinks/render/signal/{signal}")
        state.samples += 1
        self.stats.inc_value("backlinks/render/samples")
        logger.debug(
            "Rendering %s: it looks built by script (%s)", response.url, ", ".join(signals)
        )
        return self._request(response, page, "sample")

    def _learn(self, response: Response, page: Page, watched: frozenset[str]) -> None:
        self.stats.inc_value("backlinks/render/pages")
        raw = set(response.meta.get("bl_raw_links") or ())
        new = {link.url for link in page.links} - raw
        if new:
            self.stats.inc_value("backlinks/render/links_only_rendered", len(new))
            own = url_domain(response.url)
            domains = [url_domain(url) for url in new]
            backlinks = sum(1 for domain in domains if domain in watched and domain != own)
            if backlinks:
                self.stats.inc_value("backlinks/render/backlinks_only_rendered", backlinks)
        if response.meta.get("bl_render") != "sample":
            return
        host = url_host(response.url)
        state = self.hosts.setdefault(host, _Host())
        state.sampled += 1
        if state.verdict:
            return
        if len(new) >= self.settings.min_new_links:
            state.verdict = "render"
            self.stats.inc_value("backlinks/render/hosts_rendered")
            logger.info(
                "Rendering every page of %s: %s showed %d link(s) its raw HTML lacks",
                host,
                response.url,
                len(new),
            )
        elif state.sampled >= self.settings.samples:
            state.verdict = "raw"
            self.stats.inc_value("backlinks/render/hosts_raw")
            logger.debug(
                "Reading %s raw: %d rendered sample(s) found nothing more", host, state.sampled
            )

    def unusable(self, response: Response) -> Request | None:
        """A rendered response that cannot stand for the page (an error status, not HTML, a
        browser download): the raw page is read again instead."""
        if not is_rendered(response):
            return None
        self.rendered_any = True
        content_type = (response.headers.get(b"Content-Type") or b"text/html").lower()
        if (
            response.status < 400
            and isinstance(response, TextResponse)
            and b"html" in (content_type)
        ):
            return None
        self.stats.inc_value("backlinks/render/failed/unusable_response")
        assert response.request is not None
        return self._raw_again(response.request)

    def failed(self, failure: Failure) -> Iterator[Request]:
        """Errback of a rendered request: count it, read the raw page again instead."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        message = failure.getErrorMessage()
        no_browser = self._browser_failed(failure, message)
        reason = failure.type.__name__ if failure.type else "Error"
        if no_browser:
            reason = BrowserUnavailable.__name__
        self.stats.inc_value(f"backlinks/render/failed/{reason}")
        if no_browser and not self.unavailable:
            self.unavailable = True
            logger.error(
                "Cannot render pages, reading raw HTML from now on: the browser did not start (%s)",
                (message.strip().splitlines() or [""])[0],
            )
        else:
            logger.info(
                "Rendering %s failed (%s); reading its raw HTML", request.url, message[:200]
            )
        yield self._raw_again(request)

    def _browser_failed(self, failure: Failure, message: str) -> bool:
        """Whether a rendered request failed because the browser did not start.

        scrapy-playwright launches the browser, and opens its context, on the first rendered
        request; whatever fails then reaches that request's errback. So: a failure while no
        context was ever opened (its ``playwright/context_count`` stat) and no page came back,
        or a failure of Playwright's launch or connect calls (``BrowserType.…``), at any time.
        """
        if failure.check(BrowserUnavailable):
            return True
        if failure.check(IgnoreRequest):  # a downloader middleware's verdict
            return False
        if message.startswith("BrowserType."):
            return True
        return not self.rendered_any and not self.stats.get_value("playwright/context_count")

    def _raw_again(self, request: Request) -> Request:
        meta = {
            k: v
            for k, v in _carried_meta(request.meta).items()
            if not k.startswith(("playwright", "bl_render", "bl_raw"))
        }
        meta["bl_render_failed"] = True
        return request.replace(meta=meta, dont_filter=True)


# --- the browser's side: what a rendered page may fetch, and whether the browser started -----


class BrowserUnavailable(Exception):
    """The browser could not be started: rendering is off for the rest of the crawl.

    Its name is what ``backlinks/render/failed/…`` counts for such a failure, whatever the
    exception scrapy-playwright's handler gave the request's errback.
    """


def _bypasses_proxy(host: str, no_proxy: str) -> bool:
    """Whether ``host`` is in a ``no_proxy`` list (``*``, names, ``.suffix``/``*.suffix``,
    optional ports): read broadly, as a name the browser might connect to directly."""
    for entry in no_proxy.replace(";", ",").split(","):
        name = entry.strip().lower()
        if name == "*":
            return True
        name = name.lstrip("*.").split(":", 1)[0]  # (IP entries: IP literals are seen earlier)
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


class _PrivateAddressGuard:
    """The SSRF guard for what a rendered page asks for itself (scripts, XHR, frames).

    Like backlink_spider.ssrf: through a proxy the proxy decides, except that loopback and private
    IP literals and ``localhost`` are always refused (Chromium sends loopback past any proxy), and
    names in the proxy's ``bypass`` list are checked as if there were no proxy; without a proxy a
    name is resolved and refused when it points into the private network.
    """

    def __init__(self, proxy: dict[str, str] | None):
        self.proxied = proxy is not None
        self.bypass = (proxy or {}).get("bypass") or ""
        self.verdicts: dict[str, bool] = {}

    async def refuses(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return False  # data:, blob:, about: never leave the browser
        host = (parts.hostname or "").rstrip(".")
        literal = parse_ip(host)
        if literal is not None:
            return is_forbidden(literal)
        if host == "localhost" or host.endswith(".localhost"):
            return True
        if self.proxied and not _bypasses_proxy(host, self.bypass):
            return False
        if host not in self.verdicts:
            self.verdicts[host] = await self._resolves_private(host)
        return self.verdicts[host]

    @staticmethod
    async def _resolves_private(host: str) -> bool:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return False  # unresolvable: the browser fails on its own
        for info in infos:
            address = parse_ip(str(info[4][0]).split("%", 1)[0])
            if address is not None and is_forbidden(address):
                return True
        return False


class BrowserRequestFilter:
    """``PLAYWRIGHT_ABORT_REQUEST``: what a rendered page may not fetch. Resource types that
    cannot hold a link (images, media, fonts: ``BACKLINKS_RENDER_BLOCK_RESOURCES``), and the
    private network unless ``BACKLINKS_ALLOW_PRIVATE_NETWORKS``.

    A setting value, so picklable; the crawl's stats are attached when the spider opens (see
    ``Renderer``) and are not pickled.
    """

    def __init__(self, blocked: frozenset[str], guard: _PrivateAddressGuard | None):
        self.blocked = blocked
        self.guard = guard
        self.stats: Any = None

    async def __call__(self, playwright_request: Any) -> bool:
        if playwright_request.resource_type in self.blocked:
            return True
        if self.guard is not None and await self.guard.refuses(playwright_request.url):
            if self.stats is not None:
                self.stats.inc_value("backlinks/render/refused_private")
            logger.warning(
                "Refusing a rendered page's request to %s: a private or local address",
                playwright_request.url,
            )
            return True
        return False

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "stats": None}
