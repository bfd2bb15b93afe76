"""Table tests for pipelines.urls, plus two shared suites: the WHATWG URL tests and w3lib's
own URL vectors (pinning the w3lib behaviour canonical_url is built on)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
from functools import cache
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest
import w3lib.url

from backlink_spider import urls
from backlink_spider.urls import (
    DEFAULT_TRACKING_PARAMS,
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

# shared/ sits beside the repo (in CI too); the data is read in place, never copied in.
URL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "urls"


@pytest.fixture(scope="module")
def resolver() -> DomainResolver:
    return DomainResolver()


# --- canonical_url ---------------------------------------------------------------------------

CANONICAL = [
    # case and default ports
    ("HTTP://Example.COM", "http://example.com/"),
    ("https://WWW.Example.com/Path/CaSe", "https://www.example.com/Path/CaSe"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/", "https://example.com/"),
    ("https://example.com:80/", "https://example.com:80/"),
    ("http://example.com:8080/", "http://example.com:8080/"),
    ("http://example.com:0080/", "http://example.com/"),
    ("http://example.com:/", "http://example.com/"),
    # fragments
    ("http://example.com/page#section-2", "http://example.com/page"),
    ("http://example.com/#", "http://example.com/"),
    # tracking params (case-insensitive names, utm_ prefix) and query sorting
    ("http://example.com/?utm_source=x&utm_medium=y&a=1", "http://example.com/?a=1"),
    ("http://example.com/?UTM_Source=x&A=1", "http://example.com/?A=1"),
    ("http://example.com/?utm_whatever_new=1", "http://example.com/"),
    ("http://example.com/?gclid=1&fbclid=2&msclkid=3&dclid=4&yclid=5", "http://example.com/"),
    ("http://example.com/?mc_cid=6&mc_eid=7&_hsenc=8&_hsmi=9&igshid=10", "http://example.com/"),
    ("http://example.com/?ref_src=twsrc&id=3", "http://example.com/?id=3"),
    ("http://example.com/?utm=1&utmost=2", "http://example.com/?utm=1&utmost=2"),
    ("http://example.com/?q=utm_source", "http://example.com/?q=utm_source"),
    ("http://example.com/?b=2&a=1&a=0", "http://example.com/?a=0&a=1&b=2"),
    ("http://example.com/?b&a=", "http://example.com/?a=&b="),
    ("http://example.com/p?utm_source=x#top", "http://example.com/p"),
    ("http://example.com/?q=a b&x=%7e", "http://example.com/?q=a+b&x=~"),
    # IDNA hosts, percent-encoding
    ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://www.bücher.de/?q=bücher", "http://www.xn--bcher-kva.de/?q=b%C3%BCcher"),
    ("http://xn--strae-oqa.de/", "http://xn--strae-oqa.de/"),
    ("http://xn--ls8h.la/", "http://xn--ls8h.la/"),
    ("http://example.com/r%c3%a9sum%c3%a9", "http://example.com/r%C3%A9sum%C3%A9"),
    ("http://example.com/résumé", "http://example.com/r%C3%A9sum%C3%A9"),
    ("http://example.com/a b", "http://example.com/a%20b"),
    # dot segments and empty path
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/a/b/..", "http://example.com/a/"),
    ("http://example.com/../a", "http://example.com/a"),
    ("http://example.com/%2e%2E/a", "http://example.com/a"),
    ("http://example.com/a//b", "http://example.com/a//b"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com?a=1", "http://example.com/?a=1"),
    # userinfo is never part of a page's identity
    ("http://user:pass@example.com/", "http://example.com/"),
    ("http://user@example.com:8080/x", "http://example.com:8080/x"),
    ("http://user:pa%40ss@Example.com/", "http://example.com/"),
    # IP hosts: IPv6 compressed, IPv4 number forms as dotted quads (as browsers do)
    ("http://[2001:0DB8::0001]:8080/a", "http://[2001:db8::1]:8080/a"),
    ("http://[::1]:80/", "http://[::1]/"),
    ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://010.0.0.1/", "http://8.0.0.1/"),
    ("http://192.168.000.001/", "http://192.168.0.1/"),
    ("http://4294967295/", "http://255.255.255.255/"),
    # trailing dot of the host, whitespace and slashes as browsers read them
    ("http://example.com./", "http://example.com/"),
    ("http://WWW.Example.com.:80/", "http://www.example.com/"),
    ("  http://example.com/ \n", "http://example.com/"),
    ("http://exa\tmple.com/", "http://example.com/"),
    ("http:/example.com/x", "http://example.com/x"),
    ("http:///example.com/x", "http://example.com/x"),
    ("https:example.com", "https://example.com/"),
    ("http:\\\\example.com\\x\\y", "http://example.com/x/y"),
    ("http://intranet/", "http://intranet/"),
    ("http://my_host.example.com/", "http://my_host.example.com/"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent: an id stays an id


INVALID = [
    "",
    "   ",
    "example.com",  # no scheme: parse_seed / parse_target take bare hosts, not this
    "//example.com/",  # scheme-relative: urljoin with the page URL first
    "/relative/path",
    "ftp://example.com/",
    "mailto:a@b.com",
    "javascript:void(0)",
    "data:text/html,hi",
    "tel:+123",
    "http://",
    "http:///",
    "http://user:pass@/",
    "http://exa mple.com/",
    "http://example.com:99999/",
    "http://example.com:8o/",
    "http://example.com:-1/",
    "http://[::1/",
    "http://[google.com]/",
    "http://[fe80::1%25eth0]/",
    "http://a..b/",
    "http://.example.com/",
    "http://example.com../",
    "http://" + "a" * 64 + ".com/",
    "http://" + "abcdefghi." * 26 + "com/",
    "http://xn--/",
    "http://xn--a-.com/",
    "http://1.2.3.4.5/",
    "http://256.0.0.1/",
    "http://ex%41mple.com/",
    "http://.éxamplé.com/",
    "http://a<b.com/",
    "not a url!!",
]


@pytest.mark.parametrize("url", INVALID)
def test_canonical_url_rejects(url: str) -> None:
    with pytest.raises(UrlError) as excinfo:
        canonical_url(url)
    assert "\n" not in str(excinfo.value)
    assert try_canonical_url(url) is None


@pytest.mark.parametrize("value", [None, 42, 1.5, b"http://example.com/", ["http://x.com/"]])
def test_canonical_url_rejects_non_strings(value: object) -> None:
    with pytest.raises(UrlError):
        canonical_url(value)  # type: ignore[arg-type]
    assert try_canonical_url(value) is None  # type: ignore[arg-type]
    assert url_host(value) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize("param", DEFAULT_TRACKING_PARAMS)
def test_every_default_tracking_param_is_dropped(param: str) -> None:
    name = param.removesuffix("*") + "campaign" if param.endswith("*") else param
    for variant in (name, name.upper()):
        assert canonical_url(f"http://x.com/?{variant}=1&id=7") == "http://x.com/?id=7"


def test_drop_params_and_keep_fragment_options() -> None:
    url = "http://x.com/p?utm_source=a&sessionid=9&x_tag=1&id=2#frag"
    assert (
        canonical_url(url, drop_params=()) == "http://x.com/p?id=2&sessionid=9&utm_source=a&x_tag=1"
    )
    assert canonical_url(url, drop_params=["SessionID", "x_*"]) == (
        "http://x.com/p?id=2&utm_source=a"
    )
    assert canonical_url(url, drop_params="sessionid") == "http://x.com/p?id=2&utm_source=a&x_tag=1"
    assert canonical_url(url, keep_fragment=True) == "http://x.com/p?id=2&sessionid=9&x_tag=1#frag"
    assert try_canonical_url(url, keep_fragment=True, drop_params=()) == (
        "http://x.com/p?id=2&sessionid=9&utm_source=a&x_tag=1#frag"
    )
    with pytest.raises(UrlError):
        canonical_url(url, drop_params=[None])  # type: ignore[list-item]
    with pytest.raises(UrlError):
        canonical_url(url, drop_params=None)  # type: ignore[arg-type]


def test_canonical_results_and_rejections_are_cached() -> None:
    """Nav links and "javascript:void(0)" recur on every page; both are looked up once."""
    for url in ("https://cache.example/nav?utm_source=x", "javascript:void(0)"):
        try_canonical_url(url)
        hits = urls._cached_canonical.cache_info().hits
        assert try_canonical_url(url) == try_canonical_url(url)
        assert urls._cached_canonical.cache_info().hits == hits + 2
    with pytest.raises(UrlError, match="not an http"):
        canonical_url("javascript:void(0)")


# --- url_host --------------------------------------------------------------------------------

HOSTS = [
    ("http://WWW.Example.COM:8080/x", "www.example.com"),
    ("https://user:pw@host.example/", "host.example"),
    ("http://Bücher.example/", "xn--bcher-kva.example"),
    ("http://[::0:1]/", "[::1]"),
    ("http://[2001:DB8::1]:81/", "[2001:db8::1]"),
    ("http://0x7f.1/", "127.0.0.1"),
    ("http://example.com./", "example.com"),
    ("ftp://files.example.org/", "files.example.org"),
    ("//cdn.example.net/x.js", "cdn.example.net"),
    ("http:/example.com/x", "example.com"),
    (" HTTPS://EXAMPLE.COM ", "example.com"),
    ("/relative/path", ""),
    ("relative.html", ""),
    ("", ""),
    ("mailto:a@b.com", ""),
    ("http://", ""),
    ("http://a..b/", ""),
    ("http://example.com:99999/", ""),
    ("http://[::1/", ""),
]


@pytest.mark.parametrize(("url", "expected"), HOSTS)
def test_url_host(url: str, expected: str) -> None:
    assert url_host(url) == expected


# --- DomainResolver --------------------------------------------------------------------------

DOMAINS = [
    ("blog.x.test", "x.test"),
    ("BLOG.X.TEST", "x.test"),
    ("a.b.example", "b.example"),
    ("www.Example.CO.UK", "example.co.uk"),
    ("example.co.uk", "example.co.uk"),
    ("co.uk", "co.uk"),  # a bare public suffix is its own (unregistrable) domain
    ("example.com.", "example.com"),
    ("localhost", "localhost"),
    ("intranet", "intranet"),
    ("127.0.0.1", "127.0.0.1"),
    ("[::1]", "[::1]"),
    ("::1", "::1"),
    ("", ""),
    ("www.xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("www.city.kawasaki.jp", "city.kawasaki.jp"),  # PSL exception rule
    ("a.b.c.kawasaki.jp", "b.c.kawasaki.jp"),  # PSL wildcard rule
    ("foo.bar.notatld", "bar.notatld"),  # PSL implicit "*" rule; tldextract alone says ""
    # private suffixes are on by default: every blog / Pages site is a site of its own
    ("foo.blogspot.com", "foo.blogspot.com"),
    ("x.alice.github.io", "alice.github.io"),
    ("github.io", "github.io"),
]


@pytest.mark.parametrize(("host", "expected"), DOMAINS)
def test_registered_domain(resolver: DomainResolver, host: str, expected: str) -> None:
    assert resolver.registered_domain(host) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("foo.blogspot.com", "blogspot.com"),
        ("x.alice.github.io", "github.io"),
        ("www.example.co.uk", "example.co.uk"),
        ("blog.x.test", "x.test"),
    ],
)
def test_registered_domain_without_private_suffixes(host: str, expected: str) -> None:
    assert DomainResolver(include_private=False).registered_domain(host) == expected


def test_public_suffixes_and_same_site(resolver: DomainResolver) -> None:
    assert resolver.is_public_suffix("co.uk")
    assert resolver.is_public_suffix("github.io")
    assert resolver.is_public_suffix("test")  # from SPECIAL_USE_SUFFIXES
    assert not DomainResolver(extra_suffixes=()).is_public_suffix("test")
    assert not resolver.is_public_suffix("example.co.uk")
    assert not resolver.is_public_suffix("127.0.0.1")
    assert resolver.same_site("blog.x.test", "x.test")
    assert resolver.same_site("WWW.Example.co.uk", "Example.CO.UK.")
    assert not resolver.same_site("alice.github.io", "bob.github.io")
    assert not resolver.same_site("example.com.evil.net", "example.com")
    assert resolver.registered_domain(None) == ""  # type: ignore[arg-type]


def test_registered_domain_is_cached(resolver: DomainResolver) -> None:
    before = resolver._lookup.cache_info().hits
    resolver.registered_domain("cached.example.org")
    resolver.registered_domain("cached.example.org")
    assert resolver._lookup.cache_info().hits == before + 1


def test_resolver_is_offline_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fresh resolver reads tldextract's bundled snapshot: no network, no cache dir, no
    warning, even with a HOME it cannot (or should not) write to."""
    home = tmp_path / "home"
    home.mkdir(mode=0o500)
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CACHE_HOME", "TLDEXTRACT_CACHE"):
        monkeypatch.delenv(var, raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("DomainResolver tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    urls._extractor.cache_clear()  # force a real load
    with caplog.at_level(logging.DEBUG):
        fresh = DomainResolver()
        assert fresh.registered_domain("www.example.co.uk") == "example.co.uk"
    assert fresh._extract._cache.enabled is False
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    assert list(home.iterdir()) == []
    assert list(tmp_path.iterdir()) == [home]


# --- parse_target / parse_seed ---------------------------------------------------------------

TARGETS = [
    ("site.com", ("https://site.com/", "site.com")),
    ("https://www.site.com/", ("https://www.site.com/", "site.com")),
    ("WWW.Site.com.", ("https://www.site.com/", "site.com")),
    ("http://site.com:8080/x", ("http://site.com:8080/x", "site.com")),
    ("  blog.site.co.uk  ", ("https://blog.site.co.uk/", "site.co.uk")),
    ("site.com/?utm_source=x", ("https://site.com/", "site.com")),
    ("alice.github.io", ("https://alice.github.io/", "alice.github.io")),
    ("Bücher.example", ("https://xn--bcher-kva.example/", "xn--bcher-kva.example")),
    ("localhost:8080", ("https://localhost:8080/", "localhost")),
    ("http://127.0.0.1:8000/", ("http://127.0.0.1:8000/", "127.0.0.1")),
    ("[::1]", ("https://[::1]/", "[::1]")),
]


@pytest.mark.parametrize(("value", "expected"), TARGETS)
def test_parse_target(resolver: DomainResolver, value: str, expected: tuple[str, str]) -> None:
    assert parse_target(value, resolver) == expected


BAD_TARGETS = [
    ("", "empty"),
    ("   ", "empty"),
    ("ftp://site.com", "http(s)"),
    ("mailto:me@site.com", "http(s)"),
    ("javascript:alert(1)", "http(s)"),
    ("sitecom", "no dot"),  # a typo, not a site; localhost and IPs are the exceptions
    ("http://intranet/", "no dot"),
    ("co.uk", "public suffix"),
    ("github.io", "public suffix"),
    ("not a url!!", "not a valid"),
    ("http://", "not a valid"),
    ("https://site.com:99999/", "not a valid"),
    ("site..com", "not a valid"),
]


@pytest.mark.parametrize(("value", "message"), BAD_TARGETS)
def test_parse_target_rejects(resolver: DomainResolver, value: str, message: str) -> None:
    with pytest.raises(UrlError, match=re.escape(message)) as excinfo:
        parse_target(value, resolver)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("host.com", "https://host.com/"),
        ("host.com/blog/", "https://host.com/blog/"),
        ("http://host.com/path", "http://host.com/path"),
        ("HTTP://Host.com/a/../b?utm_medium=x#top", "http://host.com/b"),
        ("//host.com/x", "https://host.com/x"),
    ],
)
def test_parse_seed(value: str, expected: str) -> None:
    assert parse_seed(value) == expected


@pytest.mark.parametrize("value", ["", "garbage !!", "ftp://host.com", "nodot", "http://[::1"])
def test_parse_seed_rejects(value: str) -> None:
    with pytest.raises(UrlError):
        parse_seed(value)


# --- spider-trap helpers ---------------------------------------------------------------------

SIGNATURES = [
    ("https://h.com/calendar/2024/05/?day=3", "h.com/calendar/#/#/?day"),
    ("https://h.com/calendar/1999/12/?day=31", "h.com/calendar/#/#/?day"),
    ("https://h.com/p/12?b=1&a=2&b=3&&", "h.com/p/#?a&b"),
    ("https://H.com", "h.com/"),
    ("https://h.com/item-123-abc-45.html", "h.com/item-#-abc-#.html"),
    ("http://[::1]:8080/x", "[::1]/x"),
    ("/a/1", "/a/#"),
    ("http://[bad/1/2", "http://[bad/#/#"),
    ("", "/"),
]


@pytest.mark.parametrize(("url", "expected"), SIGNATURES)
def test_path_signature(url: str, expected: str) -> None:
    assert path_signature(url) == expected


@pytest.mark.parametrize(
    ("url", "max_repeats", "expected"),
    [
        ("http://h/a/b/a/b/a/b", 2, True),
        ("http://h/a/b/a/b", 2, False),
        ("http://h/a/a/a/", 2, True),
        ("http://h/a/a/a/", 3, False),
        ("http://h/x/x/x?x=1&x=2&x=3", 2, True),
        ("http://h/2024/05/06", 2, False),
        ("http://h/a//////b", 2, False),  # empty segments are not segments
        ("http://h/", 2, False),
        ("", 2, False),
        ("http://[", 2, False),
    ],
)
def test_has_repeated_segments(url: str, max_repeats: int, expected: bool) -> None:
    assert has_repeated_segments(url, max_repeats) is expected


# --- WHATWG URL test suite (shared/data/urls/urltestdata.json) -------------------------------


@cache
def whatwg_cases() -> tuple[tuple[dict, str], ...]:
    """(case, absolute input): inputs with a base are joined with urllib's urljoin, as the
    spider's response.urljoin does; where urljoin itself raises, the raw input is used."""
    cases = json.loads((URL_DATA / "urltestdata.json").read_text(encoding="utf-8"))
    joined = []
    for case in cases:
        if isinstance(case, str):  # comments
            continue
        url = case["input"]
        if case.get("base"):
            with contextlib.suppress(ValueError):  # "http://[]": urljoin refuses bad brackets
                url = urljoin(case["base"], url)
        joined.append((case, url))
    return tuple(joined)


def test_whatwg_suite_is_there() -> None:
    assert len(whatwg_cases()) == 869


def test_whatwg_inputs_raise_nothing_but_url_error(resolver: DomainResolver) -> None:
    for case, url in whatwg_cases():
        for keep_fragment in (False, True):
            with contextlib.suppress(UrlError):
                canonical_url(url, keep_fragment=keep_fragment)
        try_canonical_url(url)
        resolver.registered_domain(url_host(url))
        path_signature(url)
        has_repeated_segments(url)
        with contextlib.suppress(UrlError):
            parse_seed(case["input"])


# Valid http(s) cases with an ASCII expected hostname where url_host differs (17 of 229;
# 212 agree exactly, including every IPv6 form and IPv4 number forms like "0x7f.1"):
WHATWG_HOST_DEVIATIONS = {
    # urllib's urljoin is not WHATWG's: it keeps "\" and "///x" relative to the base
    "\\\\x\\hello": "urljoin",
    "http:\\\\foo.com\\": "urljoin",
    "http:\\\\a\\b:c\\d@foo.com\\": "urljoin",
    "///test": "urljoin",
    "///\\//\\//test": "urljoin",
    # urljoin raises on the "[", and w3lib then refuses a "[" or "]" in the userinfo
    "http://&a:foo(b]c@d:2/": "bracket in userinfo",
    "https://user:pass[\x7f@foo/bar": "bracket in userinfo",
    # w3lib (and Scrapy) use IDNA 2003, which maps ß to ss; WHATWG's UTS 46 keeps it
    "https://faß.ExAmPlE/": "IDNA 2003",
    # percent-encoded hosts are refused (WHATWG decodes them; no real link needs it)
    "http://%30%78%63%30%2e%30%32%35%30.01": "percent-encoded host",
    "http://%30%78%63%30%2e%30%32%35%30.01%2e": "percent-encoded host",
    "https://%e2%98%83": "percent-encoded host",
    "https://a%C2%ADb/": "percent-encoded host",
    # valid for WHATWG, never resolvable in DNS: empty labels, punctuation
    "http://./": "not a DNS name",
    "http://../": "not a DNS name",
    "http://foo.09..": "not a DNS name",
    "http://!\"$&'()*+,-.;=_`{}~/": "not a DNS name",
    # glibc's inet_aton refuses an empty hex part "0x" that WHATWG reads as 0
    "https://0x.0x.0": "inet_aton",
}


def test_whatwg_hosts_agree() -> None:
    agree, deviations = 0, {}
    for case, url in whatwg_cases():
        if case.get("failure") or case["protocol"] not in ("http:", "https:"):
            continue
        if not case["hostname"].isascii():
            continue
        host = url_host(url)
        if host == case["hostname"].lower():
            agree += 1
        else:
            deviations[case["input"]] = (url, case["hostname"], host)
    unexplained = {k: v for k, v in deviations.items() if k not in WHATWG_HOST_DEVIATIONS}
    assert not unexplained
    assert agree >= 212


# Valid http(s) cases where canonical_url(input) != canonical_url(WHATWG's own href): the host
# deviations above, plus three more urljoin paths that keep "\" and "///" (209 of 229 agree).
WHATWG_HREF_DEVIATIONS = set(WHATWG_HOST_DEVIATIONS) | {
    "\\x",
    "///example.org/path",
    "/\\/\\//example.org/../path",
}


def test_whatwg_canonical_form_matches_href() -> None:
    """Canonicalizing the raw input gives the same id as canonicalizing the URL a browser
    would make of it: our parsing agrees with WHATWG's wherever it matters for identity."""
    same, unexplained = 0, {}
    for case, url in whatwg_cases():
        if case.get("failure") or case["protocol"] not in ("http:", "https:"):
            continue
        ours, theirs = try_canonical_url(url), try_canonical_url(case["href"])
        if ours == theirs and ours is not None:
            same += 1
        elif case["input"] not in WHATWG_HREF_DEVIATIONS:
            unexplained[case["input"]] = (url, ours, case["href"], theirs)
    assert not unexplained
    assert same >= 209


def test_whatwg_failures_are_rejected() -> None:
    """All 273 inputs WHATWG calls failures are refused (measured: 273 of 273). Only 50 fail
    on the scheme; the rest on the host (109 bad characters, 34 bad IPv4 numbers, 7 bad
    punycode, 4 bad IDNA, 9 missing, 1 IPv6 zone id) or as unparseable (59: ports, brackets)."""
    failures = [url for case, url in whatwg_cases() if case.get("failure")]
    accepted = {url: try_canonical_url(url) for url in failures if try_canonical_url(url)}
    assert len(failures) == 273
    assert accepted == {}


# --- w3lib's URL vectors (shared/data/urls/w3lib_url_vectors.json) ---------------------------


@cache
def w3lib_vectors() -> tuple[dict, ...]:
    return tuple(json.loads((URL_DATA / "w3lib_url_vectors.json").read_text(encoding="utf-8")))


def _vector_arg(arg: object) -> object:
    """Bytes arguments are stored as {"__bytes__": text}, the bytes read as Latin-1."""
    if isinstance(arg, dict):
        return arg["__bytes__"].encode("latin-1")
    return arg


def test_w3lib_vectors_are_there() -> None:
    assert len(w3lib_vectors()) == 166


@pytest.mark.parametrize(
    "case",
    [case for case in w3lib_vectors() if not case["xfail"]],
    ids=lambda case: f"{case['func']}-{case['line']}",
)
def test_w3lib_behaviour_we_rely_on(case: dict) -> None:
    """A w3lib upgrade that changes any of these shows up here, before it changes our ids."""
    func = getattr(w3lib.url, case["func"])
    assert func(*map(_vector_arg, case["args"]), **case["kwargs"]) == case["expected"]


def _our_rules(w3lib_canonical: str) -> str:
    """What canonical_url adds to w3lib's canonicalize_url, written out on its own: userinfo
    dropped, default port dropped. (Tracking params, trailing host dots and IPv4 number forms
    are the other additions; no vector has them. Fragments follow keep_fragments.)"""
    parts = urlsplit(w3lib_canonical)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != {"http": 80, "https": 443}[parts.scheme]:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# canonicalize_url vectors whose host w3lib passes through un-encoded because IDNA fails;
# canonical_url refuses them.
W3LIB_HOSTS_WE_REFUSE = {"http://.éxamplé.com/résumé?q=résumé"}


def test_canonical_url_extends_w3lib_canonicalize_url() -> None:
    """For each canonicalize_url vector on an http(s) str input with default options (or only
    keep_fragments), canonical_url(input) == _our_rules(w3lib's expected output)."""
    checked = 0
    for case in w3lib_vectors():
        if case["func"] != "canonicalize_url" or case["xfail"]:
            continue
        url, kwargs = case["args"][0], case["kwargs"]
        if not isinstance(url, str) or not url.strip().startswith(("http://", "https://")):
            continue
        if set(kwargs) - {"keep_fragments"}:  # encoding, separators: options we never use
            continue
        keep_fragment = kwargs.get("keep_fragments", False)
        if url in W3LIB_HOSTS_WE_REFUSE:
            assert try_canonical_url(url, keep_fragment=keep_fragment) is None
        else:
            expected = _our_rules(case["expected"])
            assert canonical_url(url, keep_fragment=keep_fragment) == expected, case["line"]
        checked += 1
    assert checked == 72
