"""The synthetic web as plain data: hosts, pages, and what a correct crawl of them should find.

Pages are authored (the demo web's from its data file, the test webs in Python) or generated
(the benchmarks' web) with one model shared by tests, benchmarks and the demo, so the expected
crawl results are declared next to the HTML that causes them instead of being hard-coded in
tests.
"""

from __future__ import annotations

import heapq
import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

__all__ = [
    "POSITIONS",
    "ExpectedBacklink",
    "ExpectedNoBacklink",
    "Handler",
    "Response",
    "Site",
    "WalkResult",
    "Web",
    "host_of",
    "normalize_host",
    "page_links",
    "walk",
]

#: Where on a page a link sits, as the ground truth names it.
POSITIONS = ("content", "navigation", "header", "footer", "sidebar", "comment")

Position = Literal["content", "navigation", "header", "footer", "sidebar", "comment"]
LinkType = Literal["text", "image", "redirect"]

DEFAULT_ROBOTS = "User-agent: *\nDisallow:\n"


@dataclass
class Response:
    """What the server sends for one URL; ``delay`` (seconds) simulates a slow origin."""

    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0

    def body_bytes(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return self.body.encode("utf-8")

    def header(self, name: str) -> str | None:
        """A header's value, case-insensitively (None when absent)."""
        lowered = name.lower()
        if lowered == "content-type":
            return self.content_type
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


#: A generated-path handler: ``fn(path_with_query)`` returns a Response, HTML text, or None (404).
Handler = Callable[[str], "Response | str | None"]


def normalize_host(host: str) -> str:
    """Host names compare case-insensitively and without a port or a trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal, never one of ours, keep as is
        return host
    host = host.rsplit(":", 1)[0] if ":" in host else host
    return host.rstrip(".")


def host_of(url: str) -> str:
    """The normalized host of an absolute URL ("" when it has none)."""
    return normalize_host(urlsplit(url).hostname or "")


def _not_found_page(host: str, path: str) -> Response:
    body = (
        "<!DOCTYPE html><html><head><title>Page not found</title></head><body>"
        f"<h1>Not found</h1><p>Nothing lives at {_escape(path)} on {_escape(host)}.</p>"
        '<p><a href="/">Back to the home page</a></p></body></html>'
    )
    return Response(status=404, body=body)


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


class Site:
    """One host name: static pages, redirects, a robots.txt and generated-path handlers."""

    def __init__(self, host: str) -> None:
        self.host = normalize_host(host)
        self.pages: dict[str, Response] = {}
        self.handlers: list[tuple[str, Handler]] = []
        self.robots_txt: str | None = None

    def __repr__(self) -> str:
        return f"Site({self.host!r}, pages={len(self.pages)}, handlers={len(self.handlers)})"

    def page(self, path: str, content: str | bytes | Response) -> Response:
        """Serve ``content`` at ``path`` (which may carry a query string); returns the Response."""
        response = content if isinstance(content, Response) else Response(body=content)
        self.pages[_clean_path(path)] = response
        return response

    def robots(self, text: str) -> None:
        """Replace the default allow-all robots.txt."""
        self.robots_txt = text

    def redirect(self, path: str, location: str, status: int = 302) -> Response:
        """Answer ``path`` with a redirect; ``location`` may be relative or absolute."""
        body = f'<html><body><a href="{_escape(location)}">Moved</a></body></html>'
        return self.page(path, Response(status=status, body=body, headers={"Location": location}))

    def handler(self, prefix: str, fn: Handler) -> None:
        """Generate responses for every path starting with ``prefix`` (longest prefix wins)."""
        self.handlers.append((prefix, fn))
        self.handlers.sort(key=lambda item: len(item[0]), reverse=True)

    def resolve(self, path_with_query: str) -> Response:
        """The response for a path: exact page, then handler, then same path ignoring the query."""
        path = _clean_path(path_with_query)
        if path == "/robots.txt" and "/robots.txt" not in self.pages:
            text = DEFAULT_ROBOTS if self.robots_txt is None else self.robots_txt
            return Response(body=text, content_type="text/plain; charset=utf-8")
        if path in self.pages:
            return self.pages[path]
        for prefix, fn in self.handlers:
            if path.startswith(prefix):
                result = fn(path)
                if result is None:
                    continue
                return result if isinstance(result, Response) else Response(body=result)
        bare = path.split("?", 1)[0]
        if bare != path and bare in self.pages:
            return self.pages[bare]
        return _not_found_page(self.host, bare)

    def urls(self, scheme: str = "https") -> list[str]:
        """Absolute URLs of the static pages (generated paths are not listed)."""
        return [f"{scheme}://{self.host}{path}" for path in self.pages]


def _clean_path(path: str) -> str:
    path = path.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return path


@dataclass(frozen=True)
class ExpectedBacklink:
    """A link a correct crawl must report.

    ``target_url`` is the href resolved against the page (and its ``<base>``) exactly as a browser
    would, not canonicalized: compare after your own normalization. For ``link_type="redirect"``
    ``target_url`` is where the redirect lands and ``via_url`` the resolved href. ``nofollow`` is
    the effective flag: rel contains "nofollow", or the page says nofollow (meta robots or
    X-Robots-Tag); "ugc"/"sponsored" alone leave it False. ``min_depth`` is the site-hop depth of
    the source host (seed hosts 0, hosts they link to 1, ...), i.e. the smallest crawl depth that
    can reach it. ``occurrences`` counts links from the page to that same URL; the declared
    anchor/position/rel are those of the most prominent one (content first). ``needs_render``:
    the link is written by the page's script, so only a crawl that renders the page finds it.
    """

    source_url: str
    target_url: str
    anchor: str
    rel: tuple[str, ...] = ()
    position: str = "content"
    link_type: str = "text"
    nofollow: bool = False
    note: str = ""
    min_depth: int = 0
    occurrences: int = 1
    via_url: str | None = None
    needs_render: bool = False


@dataclass(frozen=True)
class ExpectedNoBacklink:
    """A link that looks like a backlink but must not be reported (see ``note`` for why)."""

    source_url: str
    target_url: str
    note: str = ""


class Web(Mapping[str, Site]):
    """Host name -> Site, plus the crawl parameters and ground truth that go with it."""

    def __init__(self, name: str = "web") -> None:
        self.name = name
        self._sites: dict[str, Site] = {}
        self.target: str = ""
        self.seeds: list[str] = []
        self.competitors: list[str] = []
        self.keywords: list[str] = []
        self.expected: list[ExpectedBacklink] = []
        self.expected_absent: list[ExpectedNoBacklink] = []
        self.traps: list[str] = []  # URL prefixes of endless generated areas (spider traps)
        self.notes: dict[str, object] = {}  # free-form facts for tests and docs

    # -- Mapping -------------------------------------------------------------------------------
    def __getitem__(self, host: str) -> Site:
        return self._sites[normalize_host(host)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sites)

    def __len__(self) -> int:
        return len(self._sites)

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and normalize_host(host) in self._sites

    def __repr__(self) -> str:
        return f"Web({self.name!r}, hosts={len(self)}, target={self.target!r})"

    def niche_args(self, *, competitors: bool = False) -> list[str]:
        """``-a`` arguments of ``scrapy crawl niche`` for this web: its target and seeds (and its
        competitors, when asked)."""
        args = ["-a", f"target={self.target}", "-a", f"seeds={','.join(self.seeds)}"]
        if competitors and self.competitors:
            args += ["-a", f"competitors={','.join(self.competitors)}"]
        return args

    # -- building ------------------------------------------------------------------------------
    def site(self, host: str) -> Site:
        """The Site for ``host``, created on first use."""
        key = normalize_host(host)
        if key not in self._sites:
            self._sites[key] = Site(key)
        return self._sites[key]

    def expect_backlink(
        self,
        source_url: str,
        target_url: str,
        *,
        anchor: str,
        rel: tuple[str, ...] | list[str] | str = (),
        position: str = "content",
        link_type: str = "text",
        nofollow: bool = False,
        note: str = "",
        min_depth: int = 0,
        occurrences: int = 1,
        via_url: str | None = None,
        needs_render: bool = False,
    ) -> ExpectedBacklink:
        """Declare a link a correct crawl reports (see ExpectedBacklink for the field meanings)."""
        if position not in POSITIONS:
            raise ValueError(f"unknown position {position!r}")
        rel_tokens = tuple(rel.lower().split()) if isinstance(rel, str) else tuple(rel)
        item = ExpectedBacklink(
            source_url=source_url,
            target_url=target_url,
            anchor=anchor,
            rel=rel_tokens,
            position=position,
            link_type=link_type,
            nofollow=nofollow,
            note=note,
            min_depth=min_depth,
            occurrences=occurrences,
            via_url=via_url,
            needs_render=needs_render,
        )
        self.expected.append(item)
        return item

    def expect_no_backlink(self, source_url: str, target_url: str, note: str) -> None:
        """Declare a link (or page) that must not produce a backlink, and why."""
        self.expected_absent.append(ExpectedNoBacklink(source_url, target_url, note))

    # -- serving -------------------------------------------------------------------------------
    def resolve(self, scheme: str, host: str, path_with_query: str) -> Response:
        """The response for one request; unknown hosts get a 502 like a proxy that can't connect."""
        site = self._sites.get(normalize_host(host))
        if site is None:
            return Response(
                status=502,
                body=f"502 Bad Gateway: cannot connect to {normalize_host(host)}\n",
                content_type="text/plain; charset=utf-8",
            )
        return site.resolve(path_with_query or "/")

    def fetch(self, url: str) -> Response:
        """Resolve an absolute URL without a server (for offline walks in tests)."""
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return self.resolve(parts.scheme, parts.hostname or "", path)

    # -- ground truth helpers ------------------------------------------------------------------
    def is_target_url(self, url: str, domain: str | None = None) -> bool:
        """True when ``url`` is on ``domain`` (default: the target) or one of its subdomains."""
        domain = normalize_host(domain or self.target)
        host = host_of(url)
        return host == domain or host.endswith("." + domain)

    def backlinks_to(self, domain: str | None = None) -> list[ExpectedBacklink]:
        """Declared backlinks into ``domain`` (default: the target; a competitor also works)."""
        return [item for item in self.expected if self.is_target_url(item.target_url, domain)]

    def seed_hosts(self) -> list[str]:
        """Host names of the seeds (a bare seed "site.test" is host "site.test")."""
        hosts = []
        for seed in self.seeds:
            hosts.append(host_of(seed) if "://" in seed else normalize_host(seed.split("/")[0]))
        return hosts


# --- walking a web offline ---------------------------------------------------------------------


_TAG_HREF = re.compile(
    r"""<(a|area|base)\s[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE
)


def page_links(body: str, url: str) -> list[str]:
    """Absolute http(s) URLs of a page's ``<a>``/``<area>`` links (``<base>`` honoured).

    A regular expression, not a parser: fast, and enough for the HTML this package writes.
    """
    base = url
    hrefs = []
    for match in _TAG_HREF.finditer(body):
        href = html.unescape(match[2] or match[3] or match[4] or "").strip()
        if match[1].lower() == "base":
            if base == url:
                base = urljoin(url, href)
        else:
            hrefs.append(href)
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    out = []
    for href in hrefs:
        if href.startswith(("http://", "https://")) and "/." not in href:
            absolute = href  # the common case, and urljoin is slow
        elif href.startswith("/") and not href.startswith("//") and "/." not in href:
            absolute = origin + href
        else:
            absolute = urljoin(base, href)
        absolute = absolute.split("#", 1)[0]
        if absolute[:8].lower().startswith(("http://", "https://")):
            out.append(absolute)
    return out


def _key(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port_text = f":{port}" if port and port != {"http": 80, "https": 443}.get(scheme) else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{normalize_host(parts.hostname or '')}{port_text}{parts.path or '/'}{query}"


@dataclass
class WalkResult:
    """What an idealised crawler fetches: every URL with its status, and each host's hop depth."""

    fetched: dict[str, int] = field(default_factory=dict)  # URL -> status, in fetch order
    html_pages: list[str] = field(default_factory=list)  # 200 text/html URLs
    host_depth: dict[str, int] = field(default_factory=dict)  # site hops from the seeds
    skipped_by_robots: list[str] = field(default_factory=list)


def walk(
    web: Web,
    *,
    max_depth: int | None = None,
    per_host_cap: int | None = None,
    skip_traps: bool = True,
    respect_robots: bool = True,
) -> WalkResult:
    """Breadth-first walk of ``web`` from its seeds without a server, hosts in hop-depth order.

    Follows every ``<a>``/``<area>`` (nofollow too: discovery is not endorsement) and redirects,
    to hosts of the web only. ``skip_traps`` ignores URLs under ``web.traps`` (an idealised trap
    detector); ``per_host_cap`` bounds pages per host like a crawl budget. Bare seeds are https.
    """
    result = WalkResult()
    queue: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    counter = 0
    per_host: dict[str, int] = {}
    robots: dict[str, RobotFileParser] = {}

    keys: dict[str, tuple[str, str]] = {}  # raw URL -> (key, host): most links repeat

    def push(url: str, depth: int) -> None:
        nonlocal counter
        cached = keys.get(url)
        if cached is None:
            key = _key(url)
            cached = keys[url] = (key, host_of(key))
        key, host = cached
        if key in seen or host not in web:
            return
        depth = min(depth, result.host_depth.get(host, depth))
        if max_depth is not None and depth > max_depth:
            return
        if skip_traps and any(key.startswith(_key(t).rstrip("/")) for t in web.traps):
            return
        seen.add(key)
        result.host_depth.setdefault(host, depth)
        counter += 1
        heapq.heappush(queue, (result.host_depth[host], counter, key))

    for seed in web.seeds:
        push(seed if "://" in seed else f"https://{seed}/", 0)
    while queue:
        depth, _, url = heapq.heappop(queue)
        host = host_of(url)
        if respect_robots:
            if host not in robots:
                parser = RobotFileParser()
                parser.parse(
                    web.fetch(f"https://{host}/robots.txt").body_bytes().decode().splitlines()
                )
                robots[host] = parser
            if not robots[host].can_fetch("*", url):
                result.skipped_by_robots.append(url)
                continue
        if per_host_cap is not None and per_host.get(host, 0) >= per_host_cap:
            continue
        per_host[host] = per_host.get(host, 0) + 1
        response = web.fetch(url)
        result.fetched[url] = response.status
        location = response.header("Location")
        if 300 <= response.status < 400 and location:
            push(urljoin(url, location), depth)
            continue
        if response.status != 200 or not response.content_type.startswith("text/html"):
            continue
        result.html_pages.append(url)
        body = response.body if isinstance(response.body, str) else response.body.decode()
        for link in page_links(body, url):
            push(link, depth + 1)  # only matters for a host not seen yet: one more hop
    return result
