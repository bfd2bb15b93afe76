"""The synthetic web and its proxy: served as a real proxy would, and its ground truth is true.

The ground-truth checks parse every page with lxml (independently of how the pages were
written) so end-to-end crawl tests can trust ``web.expected`` and ``web.expected_absent``.
"""

from __future__ import annotations

import gzip
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import lxml.html
import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.response import get_meta_refresh

from backlink_spider.demoweb import Response, Web, WebServer, demo_web, page_links, walk
from backlink_spider.demoweb.model import POSITIONS, host_of
from backlink_spider.demoweb.sites import PageBuilder, fill
from benchmarks.web import generated_web
from tests.webs import test_web

ROOT = Path(__file__).resolve().parents[1]
PROMINENCE = ("content", "header", "navigation", "sidebar", "comment", "footer")


# --- fetching through the proxy -------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fetch(
    proxy: str,
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of ``url`` through the proxy; redirects are not followed."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy, "https": proxy}),
        urllib.request.HTTPSHandler(context=context or insecure_context()),
        _NoRedirect(),
    )
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A no_proxy in the environment would make urllib bypass our proxy for these hosts.
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def web() -> Web:
    return test_web()


@pytest.fixture(scope="module")
def server(web: Web) -> Iterator[WebServer]:
    with WebServer(web) as running:
        yield running


# --- serving ----------------------------------------------------------------------------------


def test_http_page_through_proxy(server: WebServer) -> None:
    status, headers, body = fetch(server.proxy_url, "http://allotment-news.test/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert int(headers["Content-Length"]) == len(body)
    assert b"<title>Allotment News | Allotment News</title>" in body


def test_https_page_through_connect(server: WebServer) -> None:
    status, _, body = fetch(server.proxy_url, "https://rosegrowers.test/")
    assert status == 200
    assert b"Rose Growers' Circle" in body
    # The per-host certificate really names the host: a verifying client trusting our CA agrees.
    verifying = ssl.create_default_context(cafile=str(server.ca_cert_path))
    status, _, body = fetch(server.proxy_url, "https://blog.seedsavers.test/", context=verifying)
    assert status == 200
    assert b"Seed Savers Blog" in body


def test_same_page_over_http_and_https(server: WebServer) -> None:
    plain = fetch(server.proxy_url, "http://rosegrowers.test/articles/black-spot")
    tls = fetch(server.proxy_url, "https://rosegrowers.test/articles/black-spot")
    assert plain[0] == tls[0] == 200
    assert plain[2] == tls[2]


def test_tunnel_keeps_alive(server: WebServer) -> None:
    server.reset_log()
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=insecure_context())
    conn.set_tunnel("compost-club.test", 443)
    try:
        for path in ("/", "/guides/leaf-mould", "/robots.txt"):
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200
            response.read()
    finally:
        conn.close()
    log = server.requests
    assert [m for m, _, _ in log].count("CONNECT") == 1
    assert ("GET", "https://compost-club.test/guides/leaf-mould", 200) in log


def test_origin_form_with_host_header(server: WebServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/links", headers={"Host": "allotment-news.test"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200
    assert b"Sites our members recommend" in body


def test_robots_txt(server: WebServer) -> None:
    status, headers, body = fetch(server.proxy_url, "https://compost-club.test/robots.txt")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert b"Disallow: /members/" in body
    status, _, body = fetch(server.proxy_url, "https://rosegrowers.test/robots.txt")
    assert status == 200
    assert body.startswith(b"User-agent: *")


def test_redirect_is_not_followed_by_the_server(server: WebServer) -> None:
    status, headers, _ = fetch(server.proxy_url, "https://garden-diary.test/go/petalpost")
    assert status == 301
    assert headers["Location"] == "/recommended"
    status, headers, _ = fetch(server.proxy_url, "http://www.petalpost.test/roses?x=1")
    assert status == 301
    assert headers["Location"] == "https://petalpost.test/roses?x=1"


def test_unknown_path_is_404(server: WebServer) -> None:
    status, headers, body = fetch(server.proxy_url, "https://rosegrowers.test/no/such/page")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert b"Not found" in body


def test_error_page_is_500(server: WebServer) -> None:
    status, _, body = fetch(server.proxy_url, "https://garden-diary.test/broken")
    assert status == 500
    assert b"Internal Server Error" in body


def test_unknown_host_is_502(server: WebServer) -> None:
    status, _, body = fetch(server.proxy_url, "http://nowhere.test/")
    assert status == 502
    assert b"nowhere.test" in body
    with pytest.raises(OSError, match="502"):
        fetch(server.proxy_url, "https://nowhere.test/")
    assert ("CONNECT", "nowhere.test:443", 502) in server.requests


def test_request_log(server: WebServer) -> None:
    server.reset_log()
    assert server.requests == []
    fetch(server.proxy_url, "http://allotment-news.test/links")
    fetch(server.proxy_url, "HTTP://Allotment-News.TEST:80/links")
    fetch(server.proxy_url, "https://rosegrowers.test/about", method="HEAD")
    assert server.count("http://allotment-news.test/links") == 2
    assert server.count("https://rosegrowers.test/about") == 1
    assert server.count("https://rosegrowers.test/about", method="GET") == 0
    assert server.fetched_urls() == ["http://allotment-news.test/links"]
    assert ("HEAD", "https://rosegrowers.test/about", 200) in server.requests


def test_head_has_length_but_no_body(server: WebServer) -> None:
    _, _, body = fetch(server.proxy_url, "https://veg-patch.test/rel")
    status, headers, empty = fetch(server.proxy_url, "https://veg-patch.test/rel", method="HEAD")
    assert status == 200
    assert empty == b""
    assert int(headers["Content-Length"]) == len(body)


def test_gzip_when_asked(server: WebServer) -> None:
    _, _, plain = fetch(server.proxy_url, "https://rosegrowers.test/")
    status, headers, body = fetch(
        server.proxy_url, "https://rosegrowers.test/", headers={"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == plain


def test_non_html_responses(server: WebServer) -> None:
    status, headers, body = fetch(
        server.proxy_url, "https://garden-diary.test/files/planting-guide.pdf"
    )
    assert status == 200
    assert headers["Content-Type"] == "application/pdf"
    assert body.startswith(b"%PDF-") and len(body) > 200_000
    status, headers, body = fetch(
        server.proxy_url, "https://garden-diary.test/photos/greenhouse.jpg"
    )
    assert headers["Content-Type"] == "image/jpeg"
    assert body.startswith(b"\xff\xd8") and len(body) > 2_000_000


def test_x_robots_tag_header(server: WebServer) -> None:
    _, headers, _ = fetch(server.proxy_url, "https://veg-patch.test/header-nofollow")
    assert headers["X-Robots-Tag"] == "nofollow"


def test_garbage_and_disconnects_do_not_kill_the_server(server: WebServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        assert b"Bad request" in sock.recv(4096)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET http://garden-diary.test/photos/greenhouse.jpg HTTP/1.1\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"CONNECT rosegrowers.test:443 HTTP/1.1\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        sock.sendall(b"not a TLS client hello at all\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET http://allotment-news.test/ HTTP/1.1\r\nHost: allotment-news.test")
    assert fetch(server.proxy_url, "http://allotment-news.test/")[0] == 200


def test_swap_and_delay() -> None:
    old, new = Web("old"), Web("new")
    old.site("garden-a.test").page("/", "<p>first version</p>")
    new.site("garden-a.test").page("/", Response(body="<p>second version</p>", delay=0.2))
    with WebServer(old) as server:
        assert fetch(server.proxy_url, "http://garden-a.test/")[2] == b"<p>first version</p>"
        server.swap(new)
        started = time.monotonic()
        assert fetch(server.proxy_url, "https://garden-a.test/")[2] == b"<p>second version</p>"
        assert time.monotonic() - started >= 0.2
        assert server.count("http://garden-a.test/") == 1
        assert server.count("https://garden-a.test/") == 1


def test_stop_closes_idle_keep_alive_connections() -> None:
    web = Web()
    web.site("a.test").page("/", "<p>a</p>")
    server = WebServer(web).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "http://a.test/")
    conn.getresponse().read()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3  # a hang guard: stop() does not wait out keep-alive
    assert conn.sock is not None and conn.sock.recv(1) == b""  # the server closed it
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


@pytest.mark.parametrize(
    ("module", "name"), [("backlink_spider.demoweb", "demo"), ("tests.webs", "test")]
)
def test_command_line_serves_until_terminated(tmp_path: Path, module: str, name: str) -> None:
    port_file = tmp_path / "port"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--web", name, "--port-file", str(port_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("proxy http://127.0.0.1:")
        proxy = line.split()[1]
        assert port_file.read_text().strip() == proxy.rsplit(":", 1)[1]
        assert fetch(proxy, "https://rosegrowers.test/")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


# --- the model ------------------------------------------------------------------------------


def test_demo_data_markup_declares_links_and_refuses_typos() -> None:
    web = Web()
    web.target = "petalpost.test"
    page = PageBuilder(web, "https://a.test/", min_depth=0)
    part = fill('See [Petal Post](https://petalpost.test/){rel="nofollow"}.', "sidebar")
    assert callable(part)
    assert part(page) == 'See <a href="https://petalpost.test/" rel="nofollow">Petal Post</a>.'
    assert [(e.position, e.rel, e.anchor) for e in web.expected] == [
        ("sidebar", ("nofollow",), "Petal Post")
    ]
    # A misspelt or unsupported attribute fails loudly instead of changing the ground truth.
    for attrs in ('{min_depth="2"}', '{rel="ugc" oops}', '{position="sidebr"}'):
        bad = fill(f"[x](https://petalpost.test/){attrs}", "content")
        assert callable(bad)
        with pytest.raises(ValueError, match="bad link attributes"):
            bad(page)


def test_hosts_are_case_insensitive_and_unknown_hosts_502(web: Web) -> None:
    assert web.resolve("https", "RoseGrowers.TEST:443", "/").status == 200
    assert "ROSEGROWERS.test" in web
    assert web.resolve("https", "unknown.test", "/").status == 502


def test_trap_is_endless(web: Web) -> None:
    url = "https://garden-diary.test/calendar/2024/05/"
    seen = set()
    for _ in range(60):  # five years of "next month"
        response = web.fetch(url)
        assert response.status == 200
        seen.add(url)
        doc = lxml.html.fromstring(response.body)
        url = urljoin(url, doc.xpath('//a[contains(., "»")]/@href')[0])
    assert len(seen) == 60
    assert url.startswith("https://garden-diary.test/calendar/2029/05/")
    search = web.fetch("https://garden-diary.test/search?page=7&sessionid=zz")
    links = page_links(str(search.body), "https://garden-diary.test/search?page=7&sessionid=zz")
    pages = [u for u in links if "/search?page=" in u]
    assert len(pages) == 20 and len(set(pages)) == 20
    assert web.fetch(pages[-1]).status == 200


def test_trap_hides_a_backlink_from_a_naive_crawl(web: Web) -> None:
    late = "https://garden-diary.test/archive/2023/late-bloomers"
    assert any(e.source_url == late for e in web.expected)
    naive = walk(web, skip_traps=False, per_host_cap=200)
    assert late not in naive.fetched
    assert sum(host_of(u) == "garden-diary.test" for u in naive.fetched) == 200
    careful = walk(web, per_host_cap=200)
    assert late in careful.fetched


def test_every_seed_is_served(web: Web) -> None:
    for host in web.seed_hosts():
        assert web.resolve("https", host, "/").status == 200, host


def test_generated_web_is_big_connected_and_deterministic() -> None:
    web = generated_web(2000)
    assert web.notes["max_pages_per_host"] == 34
    result = walk(web, max_depth=1)
    generated = [u for u in result.html_pages if host_of(u) != web.target]
    assert len(generated) == 2000
    assert len(result.fetched) == len(result.html_pages)  # no 404s, no redirects
    for url in generated[::97]:
        body = web.fetch(url).body
        assert isinstance(body, str)
        assert 10_000 <= len(body) <= 32_000, url
        assert 30 <= len(lxml.html.fromstring(body).xpath("//a")) <= 82, url
    backlinks = web.backlinks_to()
    assert 100 < len(backlinks) < 400
    assert web.backlinks_to(web.competitors[0])
    for item in web.expected[::15]:
        links, _ = parsed_links(web, item.source_url)
        matches = [link for link in links if link["url"] == item.target_url]
        assert len(matches) == 1, item
        assert (matches[0]["anchor"], matches[0]["position"]) == (item.anchor, item.position)
        assert (matches[0]["rel"], matches[0]["nofollow"]) == (item.rel, item.nofollow)
    assert generated_web(2000).expected == web.expected


# --- ground truth -------------------------------------------------------------------------


def classify(element: lxml.html.HtmlElement) -> str:
    """Position of a link from its ancestors: the reference the ground truth must agree with."""
    found = set()
    for ancestor in element.iterancestors():
        tag, role = ancestor.tag, ancestor.get("role", "")
        tokens = set(f"{ancestor.get('class', '')} {ancestor.get('id', '')}".lower().split())
        if tokens & {"comments", "commentlist", "comment"}:
            found.add("comment")
        if tag == "footer" or role == "contentinfo" or tokens & {"footer", "site-footer"}:
            found.add("footer")
        if tag == "aside" or role == "complementary" or tokens & {"sidebar", "widget"}:
            found.add("sidebar")
        if tag == "nav" or role == "navigation" or tokens & {"nav", "menu", "main-nav"}:
            found.add("navigation")
        if tag == "header" or role == "banner" or tokens & {"header", "site-header"}:
            found.add("header")
    for position in ("comment", "footer", "sidebar", "navigation", "header"):
        if position in found:
            return position
    return "content"


def parsed_links(web: Web, url: str) -> tuple[list[dict[str, object]], bool]:
    """Every <a>/<area> of a page, resolved; and whether the page as a whole says nofollow."""
    response = web.fetch(url)
    assert response.status == 200, url
    assert response.content_type.startswith("text/html"), url
    doc = lxml.html.fromstring(response.body)
    bases = doc.xpath("//base/@href")
    base = urljoin(url, bases[0].strip()) if bases else url
    meta = " ".join(doc.xpath('//meta[@name="robots"]/@content')).lower()
    page_nofollow = "nofollow" in meta or "nofollow" in (response.header("X-Robots-Tag") or "")
    links = []
    for element in doc.xpath("//a[@href] | //area[@href]"):
        if element.tag == "area":
            anchor, image = element.get("alt", ""), True
        else:
            anchor = " ".join(element.text_content().split())
            images = element.xpath(".//img")
            image = bool(images) and not anchor
            if image:
                anchor = images[0].get("alt", "")
        rel = tuple(element.get("rel", "").lower().split())
        links.append(
            {
                "url": urljoin(base, element.get("href").strip()),
                "anchor": anchor,
                "image": image,
                "rel": rel,
                "position": classify(element),
                "nofollow": page_nofollow or "nofollow" in rel,
            }
        )
    return links, page_nofollow


@pytest.mark.parametrize("build", [demo_web, test_web], ids=["demo", "test"])
def test_declared_backlinks_are_on_their_pages(build) -> None:
    web = build()
    assert web.expected
    for item in web.expected:
        links, _ = parsed_links(web, item.source_url)
        href = item.via_url or item.target_url
        matches = [link for link in links if link["url"] == href]
        assert len(matches) == item.occurrences, item
        best = min(matches, key=lambda link: PROMINENCE.index(str(link["position"])))
        assert best["position"] == item.position, item
        assert best["anchor"] == item.anchor, item
        assert best["rel"] == item.rel, item
        assert best["nofollow"] == item.nofollow, item
        assert (item.link_type == "image") == best["image"], item
        if item.via_url:
            hop = web.fetch(item.via_url)
            if 300 <= hop.status < 400:
                assert urljoin(item.via_url, hop.header("Location") or "") == item.target_url
            else:  # an interstitial page that refreshes there
                assert (
                    get_meta_refresh(HtmlResponse(item.via_url, body=hop.body_bytes()))[1]
                    == item.target_url
                )


@pytest.mark.parametrize("build", [demo_web, test_web], ids=["demo", "test"])
def test_ground_truth_is_complete(build) -> None:
    """Every link into the target or a competitor on a reachable page is declared one way."""
    web = build()
    declared = {(e.source_url, e.target_url) for e in web.expected}
    declared |= {(e.source_url, e.target_url) for e in web.expected_absent}
    result = walk(web, respect_robots=False)
    checked = 0
    for url in result.html_pages:
        links, _ = parsed_links(web, url)
        regex_view = page_links(str(web.fetch(url).body), url)
        assert sorted(regex_view) == sorted(
            str(link["url"]).split("#")[0]
            for link in links
            if str(link["url"]).lower().startswith("http")
        ), url
        for link in links:
            for domain in (web.target, *web.competitors):
                inside = web.is_target_url(str(link["url"]), domain)
                if inside and not web.is_target_url(url, domain):
                    assert (url, link["url"]) in declared, (url, link["url"])
                    checked += 1
    redirects = [e for e in web.backlinks_to() if e.link_type == "redirect"]
    assert checked >= len(web.backlinks_to()) - len(redirects)


@pytest.mark.parametrize("build", [demo_web, test_web], ids=["demo", "test"])
def test_declared_depths_match_the_link_graph(build) -> None:
    web = build()
    depth = walk(web).host_depth
    for item in web.expected:
        hops = depth[host_of(item.source_url)]
        # A hop host must be within reach, unless its URL names the target: the crawl probes
        # such click trackers past the depth.
        if item.via_url and web.target not in unquote(urlsplit(item.via_url).query):
            hops = max(hops, depth[host_of(item.via_url)])
        assert item.min_depth == hops, item


def test_declared_non_backlinks_are_real_links(web: Web) -> None:
    robots: dict[str, RobotFileParser] = {}
    for item in web.expected_absent:
        response = web.fetch(item.source_url)
        if "robots.txt" in item.note:
            host = host_of(item.source_url)
            parser = robots.setdefault(host, RobotFileParser())
            parser.parse(str(web.fetch(f"https://{host}/robots.txt").body).splitlines())
            assert not parser.can_fetch("*", item.source_url), item
        if response.content_type == "application/pdf":
            assert item.target_url.encode() in response.body_bytes()
            continue
        doc = lxml.html.fromstring(response.body)
        bases = doc.xpath("//base/@href")
        base = urljoin(item.source_url, bases[0]) if bases else item.source_url
        hrefs = {urljoin(base, h.strip()) for h in doc.xpath("//a/@href | //area/@href")}
        assert item.target_url in hrefs, item


def test_every_position_in_every_theme(web: Web) -> None:
    pages = [
        "https://veg-patch.test/positions",
        "https://veg-patch.test/roles",
        "http://old-shed.test/positions.html",
    ]
    for page in pages:
        positions = {e.position for e in web.expected if e.source_url == page}
        assert positions == set(POSITIONS), page


def test_url_noise_and_lookalikes_are_declared(web: Web) -> None:
    targets = {e.target_url for e in web.expected if e.source_url == "https://veg-patch.test/noise"}
    assert "HTTP://WWW.PETALPOST.TEST/Roses".lower() in {t.lower() for t in targets}
    assert "https://shop.petalpost.test/" in targets
    absent = {e.target_url for e in web.expected_absent}
    assert {"https://petalpost.test.evil.test/", "https://notpetalpost.test/"} <= absent
    assert not any("evil" in e.target_url or "notpetalpost" in e.target_url for e in web.expected)
