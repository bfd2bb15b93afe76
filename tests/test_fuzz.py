"""Hostile pages and odd URLs, generated: the extractor and the normalizer never let an exception
escape and keep their output invariants whatever the web serves.

Strategies build what real crawls meet (tag soup, unclosed and deeply nested tags, huge
attributes, NUL bytes, lone surrogates, binary bodies decoded as text, junk <base href> and meta
refresh, javascript:/data: links, IPv6 literals, IDNA and percent-encoding junk). The profile is
derandomized and keeps no example database, so a run is fast, repeatable and writes nothing into
the checkout; HYPOTHESIS_PROFILE=deep explores more.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from lxml import etree
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from backlink_spider.extract import POSITIONS, Page, extract_page
from backlink_spider.guards import inflate_capped
from backlink_spider.items import Backlink, PageRecord
from backlink_spider.urls import (
    DomainResolver,
    UrlError,
    canonical_url,
    has_repeated_segments,
    parse_seed,
    parse_target,
    path_signature,
    try_canonical_url,
    url_host,
)
from pipelines.normalize import NormalizePipeline
from tests.test_extract import plain_lxml_links

# Hypothesis keeps caches (and patches of failing examples) in ./.hypothesis: not in the checkout.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "backlinks-hypothesis")
settings.register_profile(
    "fast",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    parent=settings.get_profile("fast"),
    max_examples=5000,
    derandomize=False,
)
FAST = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
PAGE = "https://blog.example.com/2024/05/post.html"

# --- URLs ---------------------------------------------------------------------------------------

SCHEMES = [
    "http",
    "https",
    "HTTP",
    "hTTps",
    "javascript",
    "data",
    "mailto",
    "ftp",
    "file",
    "ws",
    "blob",
    "about",
    "tel",
    "x-y+z.1",
    "",
    " http",
    "\x00https",
    "\thttp",
]
HOSTS = [
    "example.com",
    "EXAMPLE.com.",
    "a.b.c.d.example.co.uk",
    "localhost",
    "127.0.0.1",
    "0x7f.1",
    "0177.0.0.1",
    "2130706433",
    "4294967296",
    "1.2.3.4.5",
    "256.0.0.1",
    "0x",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[fe80::1%25eth0]",
    "[::1",
    "::1]",
    "[]",
    "[v1.x]",
    "[1:2:3:4:5:6:7:8:9]",
    "bücher.example",
    "xn--bcher-kva.example",
    "xn--",
    "xn--a.example",
    "xn--zz-.com",
    "ﬁ.example",
    "faß.de",
    "℡.example",
    "a\u200db.example",
    "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\uff0e\uff43\uff4f\uff4d",  # fullwidth
    "\u0661\u0662.example",
    "%65xample.com",
    "ex%00ample.com",
    "a..b",
    ".",
    "..",
    "-a-.com",
    "a_b.example",
    "a" * 64 + ".com",
    ("abc." * 70) + "com",
    "\U0001f600.example",
    "\ud800.x",
    "user:pw@host.example",
    "@",
    "a@b@c.example",
    "h:80",
    "h:0",
    "h:65536",
    "h:-1",
    "h:99999999999",
    "h:8a",
    "h:",
    "github.io",
    "co.uk",
    "test",
]
PATH_BITS = [
    "/",
    "//",
    "/./",
    "/../",
    "..",
    "%2e%2E",
    "%",
    "%zz",
    "%%41",
    "%00",
    "%ff%fe",
    "é",
    "\ud800",
    "\x00",
    "\t",
    "\n",
    " ",
    "\\",
    ";p=1",
    "a/b/a/b/a/b/",
    "2024/05/06",
    "?",
    "??",
    "#",
    "##",
    "&",
    "=",
    "?utm_source=x&a=1&UTM_x=y",
    "?b=2&a=1&a=0",
    "#frag",
    "\u202e",
    "\ufeff",
    "ﷺ",
]

schemes = st.sampled_from(SCHEMES)
hosts = st.one_of(
    st.sampled_from(HOSTS),
    st.from_regex(r"\A[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,4}\Z"),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.text(min_size=1, max_size=30),
)
path_parts = st.lists(st.one_of(st.sampled_from(PATH_BITS), st.text(max_size=10)), max_size=8).map(
    "".join
)
odd_urls = st.one_of(
    st.builds(
        lambda scheme, slashes, host, port, path: f"{scheme}:{slashes}{host}{port}{path}",
        schemes,
        st.sampled_from(["//", "/", "///", "\\\\", "", "/\\"]),
        hosts,
        st.sampled_from(["", ":80", ":443", ":8080", ":", ":0x50", ":65536"]),
        path_parts,
    ),
    st.builds(lambda host, path: f"{host}{path}", hosts, path_parts),  # a user's bare host
    st.builds(lambda n: "http://h.example/" + "a/" * n, st.integers(0, 3000)),
    st.text(max_size=60),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
URL_EXAMPLES = [
    "http://[::1",
    "http://[]/",
    "https://%e2%98%83",
    "http://0x.0x.0",
    "http://a.b:99999/",
    "https://xn--/",
    "http://\u3002/",
    "http://example.com\u3002/",
    "HTTP://EXAMPLE.COM:80",
    "http:/\\/example.com/a/../../b",
    "http://faß.example/",
    "http://ﬁ.example/",
    "http://h.example/?a=%zz&b=%",
    "http://h.example/%2F%2f",
    "http://user@h.example:/",
    "http://h.example/\ud800",
    "http://xn--a.xn--b/",
    "http://1.2.3.4.5/",
    "http://-a-.com/",
]


def _check_canonical(url: str, canon: str) -> None:
    """What every canonical URL is: http(s), absolute, a valid lower-case host, a fixed point."""
    assert canon.startswith(("http://", "https://")), (url, canon)
    assert canon.isascii() and canon.isprintable() and " " not in canon, (url, canon)
    host = url_host(canon)
    assert host and host == host.lower(), (url, canon, host)
    assert canonical_url(canon) == canon, (url, canon)  # idempotent
    assert try_canonical_url(canon) == canon


@FAST
@given(odd_urls)
def test_canonical_url_raises_only_url_error_and_is_idempotent(url: str) -> None:
    try:
        canon = canonical_url(url)
    except UrlError:
        assert try_canonical_url(url) is None
    else:
        assert try_canonical_url(url) == canon
        _check_canonical(url, canon)
    with_fragment = try_canonical_url(url, keep_fragment=True)
    if with_fragment is not None:
        assert canonical_url(with_fragment, keep_fragment=True) == with_fragment
        assert try_canonical_url(with_fragment) == try_canonical_url(url)


@pytest.mark.parametrize("url", URL_EXAMPLES)
def test_canonical_url_on_known_odd_urls(url: str) -> None:
    canon = try_canonical_url(url)
    if canon is not None:
        _check_canonical(url, canon)
    else:
        with pytest.raises(UrlError):
            canonical_url(url)


@FAST
@given(odd_urls, st.lists(st.text(max_size=8), max_size=4), st.booleans())
def test_canonical_url_with_any_drop_params(url: str, drop: list[str], keep: bool) -> None:
    canon = try_canonical_url(url, drop_params=drop, keep_fragment=keep)
    if canon is not None:
        assert canonical_url(canon, drop_params=drop, keep_fragment=keep) == canon


@pytest.fixture(scope="module")
def resolver() -> DomainResolver:
    return DomainResolver()


@FAST
@given(odd_urls)
def test_hosts_domains_and_trap_helpers_never_raise(resolver: DomainResolver, url: str) -> None:
    host = url_host(url)
    assert host == host.lower()
    domain = resolver.registered_domain(host)
    assert domain == domain.lower()
    if host:
        assert host == domain or host.endswith("." + domain), (url, host, domain)
    assert isinstance(resolver.is_public_suffix(host), bool)
    assert isinstance(path_signature(url), str)
    assert isinstance(has_repeated_segments(url), bool)


@FAST
@given(odd_urls)
def test_user_arguments_fail_with_one_line_url_error(resolver: DomainResolver, url: str) -> None:
    for parse in (parse_seed, lambda value: parse_target(value, resolver)[0]):
        try:
            canon = parse(url)
        except UrlError as exc:
            assert "\n" not in str(exc) and "\r" not in str(exc)
        else:
            _check_canonical(url, canon)


@pytest.fixture(scope="module")
def pipeline() -> NormalizePipeline:
    return NormalizePipeline(get_crawler(settings_dict={}))


@FAST
@given(odd_urls, odd_urls, st.text(max_size=2000), st.one_of(st.none(), odd_urls))
def test_normalize_pipeline_stores_canonical_items_or_drops_them(
    pipeline: NormalizePipeline, source: str, target: str, anchor: str, via: str | None
) -> None:
    item = Backlink(
        source_url=source,
        target_url=target,
        anchor_text=anchor,
        source_title=anchor,
        via_url=via,
        discovered_at=datetime.now(UTC),
    )
    try:
        pipeline.process_item(item)
    except DropItem:
        assert (
            try_canonical_url(source) is None
            or try_canonical_url(target) is None
            or (max(len(source), len(target)) > 4096)
        )
    else:
        for side in ("source", "target"):
            canon = getattr(item, f"{side}_url")
            _check_canonical(canon, canon)
            assert getattr(item, f"{side}_host") == url_host(canon)
        assert len(item.anchor_text) <= 500 and len(item.source_title) <= 500
    record = PageRecord(url=source, title=anchor)
    try:
        pipeline.process_item(record)
    except DropItem:
        assert try_canonical_url(source) is None or len(source) > 4096
    else:
        _check_canonical(record.url, record.url)
        assert record.host == url_host(record.url) and len(record.title) <= 500


# --- HTML ---------------------------------------------------------------------------------------

TAGS = [
    "a",
    "area",
    "div",
    "p",
    "span",
    "b",
    "li",
    "ul",
    "td",
    "tr",
    "table",
    "nav",
    "header",
    "footer",
    "main",
    "article",
    "aside",
    "section",
    "h1",
    "base",
    "meta",
    "title",
    "html",
    "head",
    "body",
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "img",
    "iframe",
    "frameset",
    "frame",
    "form",
    "select",
    "option",
    "textarea",
    "plaintext",
    "xmp",
    "pre",
    "font",
    "center",
    "menu",
    "dialog",
    "details",
    "summary",
    "blockquote",
    "br",
    "hr",
    "map",
    "picture",
    "object",
    "embed",
    "A",
    "DiV",
    "x-custom",
    "a:b",
    "!doctype",
    "?xml",
    "\x00",
    "a\x00",
]
ATTRS = [
    "href",
    "HREF",
    "class",
    "id",
    "rel",
    "role",
    "content",
    "http-equiv",
    "name",
    "charset",
    "lang",
    "xml:lang",
    "alt",
    "title",
    "aria-label",
    "src",
    "xmlns",
    "style",
    "on\x00load",
    "\ud800",
    "a b",
    '"',
    "=",
    "",
]
WORDS = [
    "nav",
    "menu",
    "footer",
    "header",
    "sidebar",
    "widget",
    "comment",
    "entry-content",
    "content",
    "main",
    "has-sidebar",
    "menu-item",
    "siteHeader_top",
    "nofollow",
    "ugc",
    "sponsored",
    "noindex",
    "none",
    "robots",
    "refresh",
    "0; url=",
    "backlinksbot",
    "banner",
    "contentinfo",
    "complementary",
    "article",
    "utf-8",
    "iso-8859-1",
    "utf-16",
    "x-user-defined",
    "bogus-charset",
    "utf-7",
    "EBCDIC-US",
]
TEXT_BITS = [
    "\x00",
    "\ud800",
    "\udfff",
    "\x0b",
    "\x0c",
    "\x1f",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\ufffe",
    "\U0010ffff",
    "&#0;",
    "&#xD800;",
    "&#1114112;",
    "&#x110000;",
    "&amp",
    "&nbsp;",
    "&bogus;",
    "<",
    ">",
    "</",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<?php ?>",
    "<!DOCTYPE html>",
    '"',
    "'",
    "=",
    "\r\n",
    ". ",
    "! ",
    "\u3002",
]

hrefs = st.one_of(
    odd_urls,
    st.sampled_from(
        [
            "",
            "#",
            "?",
            "/",
            "//",
            "///",
            "javascript:void(0)",
            "JaVaScRiPt:x",
            "java\x00script:x",
            "data:text/html;base64,PHA+",
            "mailto:a@b",
            "/rel",
            "../../../../x",
            "http://[::1]:80/x",
            "http://[fe80::1%25en0]/",
            " \t\n http://h.example/x \x00",
            "http://h.example/" + "%" * 50,
        ]
    ),
    st.integers(1, 200_000).map(lambda n: "/" + "h" * n),
)
attr_values = st.one_of(
    hrefs,
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join),
    st.text(max_size=40),
    st.integers(1, 300_000).map(lambda n: "t" * n),  # huge attribute
)


@st.composite
def tags(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(TAGS))
    attrs = []
    for _ in range(draw(st.integers(0, 4))):
        attr = draw(st.sampled_from(ATTRS))
        value = draw(attr_values)
        quote = draw(st.sampled_from(['"', "'", "", '"' * 2]))
        value = value.replace(quote, "") if quote in ('"', "'") else value
        attrs.append(f" {attr}={quote}{value}{quote}")
    if name == "a" and draw(st.booleans()):  # most pages are mostly links
        attrs.append(f' href="{draw(hrefs).replace(chr(34), "")}"')
    closing = draw(st.sampled_from(["", "", "", "/", " /", "/"]))
    if draw(st.integers(0, 9)) == 0:
        return f"</{name}{''.join(attrs)}>"
    return f"<{name}{''.join(attrs)}{closing}>"


fragments = st.one_of(
    tags(),
    st.sampled_from(TEXT_BITS),
    st.text(max_size=30),
    st.sampled_from(["</a>", "</div>", "</p>", "</html>", "</body>", "</head>", "</table>"]),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),  # binary garbage read as text
)
soup = st.lists(fragments, max_size=60).map("".join)


@st.composite
def nested(draw: st.DrawFn) -> str:
    """Deep nesting of one or two tags, closed or not, around a link."""
    depth = draw(st.integers(100, 3000))  # deeper: see _stress_cases
    outer = draw(st.sampled_from(["div", "span", "b", "li", "table", "a", "p", "nav", "font"]))
    inner = draw(soup)
    closing = f"</{outer}>" * depth if draw(st.booleans()) else ""
    return f"<{outer}>" * depth + inner + '<a href="/deep">deep</a>' + closing


@st.composite
def pages(draw: st.DrawFn) -> str:
    """A page: a doctype and head that may or may not be there, a soup body, maybe nesting."""
    head = draw(
        st.lists(
            st.one_of(
                st.builds(lambda v: f'<base href="{v}">', hrefs),
                st.builds(
                    lambda v: f'<meta http-equiv="refresh" content="{v}">',
                    st.one_of(hrefs, hrefs.map(lambda h: f"0; url={h}"), st.text(max_size=20)),
                ),
                st.builds(lambda v: f'<meta charset="{v}">', st.sampled_from(WORDS)),
                st.builds(lambda v: f'<meta name="robots" content="{v}">', st.sampled_from(WORDS)),
                st.builds(lambda v: f"<title>{v}</title>", st.text(max_size=50)),
            ),
            max_size=4,
        )
    )
    body = draw(st.one_of(soup, nested()) if draw(st.integers(0, 4)) == 0 else soup)
    return draw(st.sampled_from(["", "<!DOCTYPE html>", "<?xml version='1.0'?>"])) + (
        f"<html><head>{''.join(head)}</head><body>{body}"
        if draw(st.booleans())
        else "".join(head) + body
    )


ENCODINGS = [
    "utf-8",
    "latin-1",
    "cp1252",
    "utf-16",
    "utf-16-le",
    "utf-32",
    "shift_jis",
    "koi8-r",
    "utf-7",
    "cp500",
]
page_bodies = st.one_of(
    pages(),
    st.builds(
        lambda text, encoding: text.encode(encoding, "replace"),
        pages().map(lambda t: t.encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
        st.sampled_from(ENCODINGS),
    ),
    st.binary(max_size=2000),
    st.builds(
        lambda text, junk: text.encode("utf-8", "surrogatepass") + junk,
        pages(),
        st.binary(max_size=200),
    ),
)
base_urls = st.one_of(
    st.just(PAGE),
    st.sampled_from(
        [
            "http://Example.com",
            "https://h.example/a/b/?q#f",
            "hard::not-a-url",
            "",
            "http://[::1]:8080/x",
            "https://xn--bcher-kva.example/ü/",
        ]
    ),
    odd_urls,
)


def _check_page(page: Page, context_chars: int, text_chars: int) -> None:
    assert isinstance(page, Page)
    assert len(page.text) <= text_chars
    assert isinstance(page.title, str) and page.lang == page.lang.lower()
    if page.meta_refresh is not None:
        assert page.meta_refresh.lower().startswith(("http://", "https://"))
    for link in page.links:
        scheme, sep, rest = link.url.partition("://")
        assert sep and scheme.lower() in ("http", "https"), link.url
        assert rest and rest[0] not in "/?#", link.url  # absolute, with a host part
        assert link.position in POSITIONS
        assert link.link_type in ("text", "image") and link.tag in ("a", "area")
        assert len(link.context) <= context_chars
        assert all(token == token.lower() and token.strip() for token in link.rel)
        assert link.nofollow == (page.nofollow or "nofollow" in link.rel)
        assert link.anchor_text == " ".join(link.anchor_text.split())


@FAST
@given(
    page_bodies,
    base_urls,
    st.integers(0, 400),
    st.integers(0, 3000),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_extract_page_never_raises_and_keeps_its_bounds(
    body: str | bytes, url: str, context_chars: int, text_chars: int, robots: str | None
) -> None:
    page = extract_page(
        body, url, context_chars=context_chars, text_chars=text_chars, robots_header=robots
    )
    _check_page(page, context_chars, text_chars)


@FAST
@given(pages(), st.sampled_from([PAGE, "http://Example.com", "https://h.example/a/b/?q#f"]))
def test_extract_page_finds_the_links_a_plain_lxml_parse_finds(markup: str, url: str) -> None:
    """Differential: on any parseable soup the link set is the one lxml.html + urljoin gives."""
    try:
        markup.encode("utf-8")
        expected = plain_lxml_links(markup, url)
    except (ValueError, TypeError, etree.LxmlError):  # lxml refuses NULs, surrogates, empty docs
        assume(False)
        return
    assert {link.url for link in extract_page(markup, url).links} == expected


def _stress_cases() -> dict[str, Any]:
    """Sizes no generator reaches in a fast run, each met in real crawls."""
    return {
        "nesting-12k": "<div>" * 12_000 + '<a href="/deep">deep</a>' + "</div>" * 12_000,
        "unclosed-a-10k": '<a href="/x">' * 10_000,
        "table-soup": "<table><tr><td>" * 3000 + '<a href="/t">t</a>',
        "huge-class": f'<div class="{"nav " * 200_000}"><a href="/n">n</a></div>',
        "many-links": "".join(f'<a href="/p{i}">p{i}</a>' for i in range(20_000)),
        "huge-text": "<p>" + "word. " * 500_000 + '<a href="/w">w</a></p>',
        "nul-soup": "\x00<a href='/a'>\x00</a>" * 5000,
        "surrogate-soup": "\udc80<a href='/\ud800'>\udfff</a>" * 5000,
        "binary": os.urandom(1 << 20),
        "utf16-no-bom": '<a href="/x">x</a>'.encode("utf-16-le") * 1000,
        "huge-base": '<base href="http://' + "a" * 1_000_000 + '/"><a href="x">x</a>',
        "huge-refresh": '<meta http-equiv=refresh content="0;url=/' + "r" * 1_000_000 + '">',
    }


@pytest.mark.parametrize("name", list(_stress_cases()))
def test_extract_page_survives_big_hostile_pages(name: str) -> None:
    body = _stress_cases()[name]
    page = extract_page(body, PAGE, context_chars=120, text_chars=5000)
    _check_page(page, 120, 5000)


# --- every real page and every WHATWG case, as the spider meets them ---------------------------

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# What a Content-Type header may claim about a page that is really UTF-8 (as all 300 are):
# right, absent, a legacy single-byte charset, a multi-byte one, a label nobody knows, and
# encodings that turn ASCII into something else altogether (UTF-16, UTF-7, EBCDIC).
DECLARED = [
    None,
    "utf-8",
    "iso-8859-1",
    "windows-1251",
    "shift_jis",
    "utf-16",
    "utf-7",
    "x-no-such-charset",
    "cp500",
    "UTF8",
    "gb18030",
    '"utf-8"; foo=bar',
]


@pytest.fixture(scope="module")
def real_pages() -> list[Any]:
    from tests.test_extract import _benchmark

    if not (SHARED / "realpages" / "pages.tar.gz").exists():
        pytest.skip(f"real pages not found at {SHARED / 'realpages'}")
    pages = _benchmark().load_pages(SHARED / "realpages")[0]
    assert len(pages) == 300
    return pages


def test_every_real_page_through_scrapy_with_any_declared_charset(real_pages: list[Any]) -> None:
    """The spider's path: HtmlResponse (header charset, else <meta>, else detection) ->
    response.text -> extract_page. Each page is served once with each declared charset in turn
    (300 pages x 1 charset each, rotating): nothing raises, bounds hold, and the links are those
    of a plain lxml parse of the very text Scrapy decoded."""
    from scrapy.http import HtmlResponse

    mismatched, declared_seen = [], set()
    for index, page in enumerate(real_pages):
        charset = DECLARED[index % len(DECLARED)]
        declared_seen.add(charset)
        content_type = "text/html" if charset is None else f"text/html; charset={charset}"
        response = HtmlResponse(page.url, body=page.body, headers={"Content-Type": content_type})
        text = response.text
        result = extract_page(text, response.url, context_chars=240, text_chars=20000)
        _check_page(result, 240, 20000)
        try:
            expected = plain_lxml_links(text, page.url)
        except (ValueError, etree.LxmlError):
            continue  # lxml.html alone refuses some mojibake (control characters)
        if {link.url for link in result.links} != expected:
            mismatched.append((page.name, charset))
    assert declared_seen == set(DECLARED)
    assert mismatched == []


@pytest.fixture(scope="module")
def whatwg_cases() -> list[dict[str, Any]]:
    import json

    path = SHARED / "urls" / "urltestdata.json"
    if not path.exists():
        pytest.skip(f"WHATWG URL tests not found at {path}")
    cases = [c for c in json.loads(path.read_text(encoding="utf-8")) if isinstance(c, dict)]
    assert len(cases) == 869
    return cases


def test_every_whatwg_case_from_href_to_stored_item(
    whatwg_cases: list[dict[str, Any]], pipeline: NormalizePipeline
) -> None:
    """Each case's input as an href on a page at the case's base URL, as a crawl meets it:
    extract_page resolves it (or skips it), the result canonicalizes to a fixed point or is
    refused with UrlError, and the pipeline stores it canonical or drops it."""
    import html as html_lib

    resolved = canonical = 0
    for case in whatwg_cases:
        base = case.get("base") or PAGE
        markup = f'<p><a href="{html_lib.escape(case["input"], quote=True)}">x</a></p>'
        page = extract_page(markup, base)
        _check_page(page, 240, 20000)
        for link in page.links:
            resolved += 1
            try:
                canon = canonical_url(link.url)
            except UrlError:
                continue
            canonical += 1
            _check_canonical(link.url, canon)
            item = Backlink(source_url=base, target_url=link.url, anchor_text=link.anchor_text)
            try:
                pipeline.process_item(item)
            except DropItem:
                assert try_canonical_url(base) is None
            else:
                assert item.target_url == canon
        for url in (case["input"], case.get("href") or ""):
            result = try_canonical_url(url)
            if result is not None:
                _check_canonical(url, result)
    # Measured when written: 389 of the 869 hrefs resolve to http(s) links, 214 canonicalize.
    assert resolved > 350 and canonical > 200


# --- compressed bodies inflated up to the page size cap ----------------------------------------

compressors = st.sampled_from(
    [
        ("gzip", gzip.compress),
        ("zlib", zlib.compress),
        ("raw-deflate", lambda data: zlib.compress(data, wbits=-15)),
        ("two-gzip-members", lambda data: gzip.compress(data[:7]) + gzip.compress(data[7:])),
    ]
)


@FAST
@given(st.binary(max_size=5000), st.integers(0, 6000), compressors, st.integers(0, 100))
def test_inflate_capped_gives_the_head_of_the_page_and_never_more(
    body: bytes, limit: int, compressor: Any, cut_percent: int
) -> None:
    name, compress = compressor
    assert inflate_capped(compress(body), limit) == (body[:limit], len(body) > limit), name
    # A download cut anywhere (at the wire cap) inflates to a prefix of the page, or to nothing.
    data = compress(body)
    truncated = inflate_capped(data[: len(data) * cut_percent // 100], limit)
    if truncated is not None:
        head, _ = truncated
        assert len(head) <= limit and body.startswith(head)


@FAST
@given(st.binary(max_size=3000), st.integers(0, 4000))
def test_inflate_capped_on_garbage_returns_none_or_a_bounded_body(data: bytes, limit: int) -> None:
    result = inflate_capped(data, limit)
    assert result is None or len(result[0]) <= limit


def test_inflate_capped_stops_a_compression_bomb_at_the_limit() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip, built without holding 50 MB
    megabyte = bytes(1 << 20)
    bomb = b"".join(packer.compress(megabyte) for _ in range(50)) + packer.flush()
    assert len(bomb) < 100_000  # 50 MB of zeros in ~50 KB
    assert inflate_capped(bomb, 1_000_000) == (b"\0" * 1_000_000, True)
