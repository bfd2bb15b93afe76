"""Pure URL and domain helpers: canonical link ids, hosts, registered domains, trap signatures.

Everything here runs once per extracted link, so it is pure (no Scrapy, no I/O, no network),
leans on w3lib for the WHATWG-style parsing and percent-encoding rules and on tldextract's
bundled Public Suffix List snapshot, and caches whatever depends only on a host.
"""

from __future__ import annotations

import codecs
import re
import socket
import unicodedata
from collections import Counter
from functools import cache, lru_cache
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import tldextract
from w3lib.url import canonicalize_url, safe_url_string

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "DEFAULT_TRACKING_PARAMS",
    "SPECIAL_USE_SUFFIXES",
    "DomainResolver",
    "UrlError",
    "canonical_url",
    "has_repeated_segments",
    "parse_seed",
    "parse_target",
    "path_signature",
    "query_variant",
    "try_canonical_url",
    "url_host",
]

#: Query parameters that only say where a click came from, never which page it is. Names match
#: case-insensitively; an entry ending in "*" is a prefix. Deliberately conservative: generic
#: names such as "ref", "source" or "si" can select content and are kept.
DEFAULT_TRACKING_PARAMS: tuple[str, ...] = (
    "utm_*",  # Google Analytics campaign tags (utm_source, utm_medium, ...)
    "gclid",  # Google Ads click ids
    "gclsrc",
    "gbraid",
    "wbraid",
    "dclid",  # Google Display / DoubleClick
    "srsltid",  # Google Merchant Center
    "_ga",  # Google Analytics cross-domain linker
    "_gl",
    "fbclid",  # Facebook
    "igshid",  # Instagram
    "msclkid",  # Microsoft Ads
    "yclid",  # Yandex
    "twclid",  # X / Twitter
    "ref_src",
    "ref_url",
    "ttclid",  # TikTok
    "li_fat_id",  # LinkedIn
    "mc_cid",  # Mailchimp
    "mc_eid",
    "_hsenc",  # HubSpot
    "_hsmi",
    "__hstc",
    "__hssc",
    "__hsfp",
    "hsctatracking",
    "hsa_*",
    "mkt_tok",  # Marketo
    "vero_id",  # Vero
    "vero_conv",
    "oly_anon_id",  # Omeda
    "oly_enc_id",
    "rb_clickid",
    "wickedid",
    "irclickid",  # impact.com
    "s_cid",  # Adobe
    "pk_*",  # Matomo / Piwik campaign tags
    "mtm_*",
    "piwik_*",
)

#: RFC 6761 special-use names, treated as public suffixes so "blog.x.test" belongs to "x.test".
SPECIAL_USE_SUFFIXES: tuple[str, ...] = ("test", "example", "invalid", "localhost")

_HTTP_DEFAULT_PORTS = {"http": 80, "https": 443}

# WHATWG "special authority ignore slashes": "http:/x.com", "http:///x.com" and "https:\\x.com"
# all name host x.com in a browser; urlsplit would see no host (or an empty one) instead.
_HTTP_SLASHES_RE = re.compile(r"^([\x00-\x20]*[Hh][Tt][Tt][Pp][Ss]?):[/\\]*")
# Splits what canonicalize_url returns for http(s), which is already strictly shaped (userinfo
# and fragment percent-encoded, port checked), so one anchored match does what urlsplit would
# at a fraction of its cost: scheme, host, port, path, query, fragment. A miss means no host.
_CANONICAL_HTTP_RE = re.compile(
    r"^(https?)://(?:[^@/?#]*@)?(\[[^\]/?#]*\]|[^:/?#]+)(?::([0-9]*))?(/[^?#]*)?"
    r"(?:\?([^#]*))?(?:#(.*))?\Z",
    re.DOTALL,
)
# The host in what safe_url_string returns, for any scheme with an authority.
_AUTHORITY_HOST_RE = re.compile(
    r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//(?:[^@/?#]*@)?(\[[^\]/?#]*\]|[^:/?#]*)"
)
# A DNS name as crawlers can resolve it: LDH labels plus "_" (seen in real hosts), 1-63 each.
_HOST_RE = re.compile(r"^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*\Z")
# WHATWG "ends in a number": such a host is an IPv4 address or invalid, never a domain.
_NUMERIC_LABEL_RE = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)\Z")
# "scheme:" at the start of a user's argument, unless it is "host:port".
_SCHEME_PREFIX_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?![0-9]+(?:[/?#]|\Z))")
_DIGITS_RE = re.compile(r"[0-9]+")
# A URL's scheme, as the URL standard reads it after leading spaces and controls.
_SCHEME_RE = re.compile(r"^[\x00-\x20]*([a-zA-Z][a-zA-Z0-9+.-]*):")
_MAX_HOST_LEN = 253


class UrlError(ValueError):
    """A URL or host that cannot identify an http(s) page; the message is one line."""


def _short(value: object) -> str:
    """Quote user input for a one-line message (repr escapes newlines), clipped."""
    text = repr(value)
    return text if len(text) <= 90 else f"{text[:87]}..."


def _valid_punycode(label: str) -> bool:
    """An "xn--" label must decode to non-ASCII text that NFKC leaves alone (what UTS 46 asks,
    near enough). Not the idna codec: its IDNA 2003 round trip rejects "xn--strae-oqa"
    (straße), and the idna package's IDNA 2008 rejects emoji domains that browsers open."""
    if not label.startswith("xn--"):
        return True
    try:
        decoded = codecs.decode(label[4:].encode("ascii"), "punycode")
    except UnicodeError:
        return False
    return not decoded.isascii() and unicodedata.is_normalized("NFKC", decoded)


@lru_cache(maxsize=65536)
def _normalize_host(host: str) -> str:
    """Validate a host as w3lib left it (lower-case, IDNA-encoded when it could be) and return
    its canonical form: trailing root dot removed, IPv6 compressed and bracketed, IPv4 number
    forms ("0x7f.1") in dotted quad. Raises UrlError; cached because hosts repeat a lot."""
    if not host:
        raise UrlError("URL has no host")
    if ":" in host:  # an IPv6 literal, brackets already taken off by the caller
        try:
            address = IPv6Address(host)
        except ValueError:
            raise UrlError(f"invalid IPv6 host {_short(host)}") from None
        if address.scope_id:
            raise UrlError(f"IPv6 zone id not allowed in a URL host {_short(host)}")
        return f"[{address.compressed}]"
    if host.endswith("."):  # the DNS root: "example.com." is "example.com"
        host = host[:-1]
    if not host.isascii():
        # w3lib keeps the raw host when IDNA encoding fails (empty or over-long labels,
        # disallowed code points); such a host can never be looked up.
        raise UrlError(f"host is not valid IDNA {_short(host)}")
    if len(host) > _MAX_HOST_LEN or not _HOST_RE.match(host):
        raise UrlError(f"invalid host {_short(host)}")
    last_label = host.rpartition(".")[2]
    if _NUMERIC_LABEL_RE.match(last_label):
        try:  # inet_aton is the BSD parser WHATWG copied: octal, hex, 1 to 4 parts
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            raise UrlError(f"invalid IPv4 host {_short(host)}") from None
    if "xn--" in host and not all(map(_valid_punycode, host.split("."))):
        raise UrlError(f"invalid punycode label in host {_short(host)}")
    return host


@lru_cache(maxsize=64)
def _param_rules(drop_params: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Split drop_params into exact lower-case names and prefixes, once per distinct list."""
    exact = frozenset(p.lower() for p in drop_params if not p.endswith("*"))
    prefixes = tuple(p[:-1].lower() for p in drop_params if p.endswith("*"))
    return exact, prefixes


def _drop_query_params(query: str, drop_params: tuple[str, ...]) -> str:
    """Remove the named args from a canonical query (already sorted and re-encoded by w3lib).

    w3lib's url_query_cleaner does not fit: it matches names case-sensitively, has no prefixes,
    and its unique=True default silently drops repeated args. (A precompiled regex as a
    "nothing to drop" pre-check measured no faster than this loop.)
    """
    exact, prefixes = _param_rules(drop_params)
    kept = []
    for arg in query.split("&"):
        name = arg.partition("=")[0].lower()
        if name in exact or (prefixes and name.startswith(prefixes)):
            continue
        kept.append(arg)
    return "&".join(kept)


def _fix_slashes(url: str) -> str:
    """Give an http(s) URL exactly two slashes after the scheme, as a browser reads it."""
    for prefix in ("https://", "http://"):  # fast path: nearly every link is already fine
        if url.startswith(prefix):
            if url[len(prefix) : len(prefix) + 1] not in ("/", "\\"):
                return url
            break
    match = _HTTP_SLASHES_RE.match(url)
    if match is None:
        return url
    return f"{match.group(1)}://{url[match.end() :]}"


def _first_line(exc: Exception) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


def _canonicalize(url: str, drop_params: tuple[str, ...], keep_fragment: bool) -> str:
    given = _SCHEME_RE.match(url)
    if given and given.group(1).lower() not in _HTTP_DEFAULT_PORTS:
        # mailto:, javascript:, tel:, data: ... are on every page; refuse them before w3lib
        raise UrlError(f"not an http(s) URL {_short(url)}")
    try:
        # w3lib: strips spaces/controls, IDNA host, percent-encoding normalised, query sorted,
        # dot segments resolved, host lower-cased, empty path -> "/", fragment dropped.
        canon = canonicalize_url(_fix_slashes(url), keep_fragments=keep_fragment)
    except ValueError as exc:  # includes UnicodeError; bad port, bad brackets...
        raise UrlError(f"unparseable URL {_short(url)}: {_first_line(exc)}") from None
    if not canon.startswith(("http:", "https:")):
        raise UrlError(f"not an http(s) URL {_short(url)}")
    match = _CANONICAL_HTTP_RE.match(canon)
    if not match:
        raise UrlError(f"URL has no host {_short(url)}")
    scheme, host, port, path, query, fragment = match.groups()
    host = _normalize_host(host[1:-1] if host.startswith("[") else host)
    # userinfo is dropped: credentials in a link are never part of the page's identity
    if port and int(port) != _HTTP_DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if query and drop_params:
        query = _drop_query_params(query, drop_params)
    # every part is already well-formed, so plain joining does what urlunsplit would
    url = f"{scheme}://{host}{path or '/'}"
    if query:
        url = f"{url}?{query}"
    return f"{url}#{fragment}" if fragment else url


@lru_cache(maxsize=32768)
def _cached_canonical(
    url: str, drop_params: tuple[str, ...], keep_fragment: bool
) -> tuple[str | None, str]:
    """(canonical URL, "") or (None, why not). Rejections are cached too: the same
    "javascript:void(0)" and "mailto:" links recur on every page of a site."""
    try:
        return _canonicalize(url, drop_params, keep_fragment), ""
    except UrlError as exc:
        return None, str(exc)


def _canonical(url: str, drop_params: Sequence[str], keep_fragment: bool) -> tuple[str | None, str]:
    if not isinstance(url, str):
        return None, f"URL must be a string, not {type(url).__name__}"
    try:
        params = (drop_params,) if isinstance(drop_params, str) else tuple(drop_params)
        _param_rules(params)  # validates, once per distinct list
    except (TypeError, AttributeError):
        return None, "drop_params must be a sequence of strings"
    return _cached_canonical(url, params, bool(keep_fragment))


def canonical_url(
    url: str,
    *,
    drop_params: Sequence[str] = DEFAULT_TRACKING_PARAMS,
    keep_fragment: bool = False,
) -> str:
    """Canonical form used for ids and dedupe, so one page has one id whatever link led to it.

    On top of w3lib's canonicalize_url (sorted query, normalised percent-encoding, dot segments
    resolved, lower-case IDNA host, empty path -> "/", fragment dropped unless keep_fragment):
    only http/https, userinfo stripped, default port dropped, trailing dot of the host removed,
    IPv4 number forms ("0x7f.1") written as dotted quads, and the drop_params query args removed
    (case-insensitive names; a trailing "*" makes a prefix). Raises UrlError, and only UrlError,
    for anything else. Results are cached: the same nav links recur on every page of a site.
    """
    result, error = _canonical(url, drop_params, keep_fragment)
    if result is None:
        raise UrlError(error)
    return result


def try_canonical_url(
    url: str,
    *,
    drop_params: Sequence[str] = DEFAULT_TRACKING_PARAMS,
    keep_fragment: bool = False,
) -> str | None:
    """canonical_url, or None for a URL it rejects (for filters that just skip bad links)."""
    return _canonical(url, drop_params, keep_fragment)[0]


@lru_cache(maxsize=32768)
def _url_host(url: str) -> str:
    try:
        match = _AUTHORITY_HOST_RE.match(safe_url_string(_fix_slashes(url)))
        if not match or not match.group(1):
            return ""
        host = match.group(1)
        return _normalize_host(host[1:-1] if host.startswith("[") else host.lower())
    except ValueError:  # includes UrlError and UnicodeError
        return ""


def url_host(url: str) -> str:
    """Lower-case host of any URL with an authority, IDNA-encoded and normalised as in
    canonical_url (IPv6 stays bracketed, as in the URL); "" when it has none or it is invalid.
    Never raises."""
    return _url_host(url) if isinstance(url, str) else ""


@lru_cache(maxsize=8)
def _extractor(extra_suffixes: tuple[str, ...], include_private: bool) -> tldextract.TLDExtract:
    """One loaded PSL trie per configuration (building one takes ~40 ms)."""
    # suffix_list_urls=() never fetches; cache_dir=None never writes, so a read-only HOME or a
    # sandbox is fine. tldextract then parses its bundled snapshot (PSL as of its release).
    extract = tldextract.TLDExtract(
        cache_dir=None,
        suffix_list_urls=(),
        fallback_to_snapshot=True,
        include_psl_private_domains=include_private,
        extra_suffixes=extra_suffixes,
    )
    extract.extract_str("example.com")  # load the snapshot now, not on the first link
    return extract


def _is_ip(host: str) -> bool:
    if ":" in host:
        return True  # IPv6, with or without brackets
    if not host[-1:].isdigit():  # no TLD ends in a digit; skips a costly ValueError per host
        return False
    try:
        IPv4Address(host)
    except ValueError:
        return False
    return True


class DomainResolver:
    """Registered domain (eTLD+1) through tldextract's bundled Public Suffix List snapshot,
    offline.

    include_private defaults to True: the PSL's private section (blogspot.com, github.io,
    herokuapp.com...) exists so that alice.github.io and bob.github.io count as different
    sites. For a backlink finder that is the right call: a link from one blog to another on the
    same platform is a real backlink, and a target on such a platform must not make the whole
    platform "internal".
    """

    def __init__(
        self,
        extra_suffixes: Iterable[str] = SPECIAL_USE_SUFFIXES,
        *,
        include_private: bool = True,
    ) -> None:
        self.include_private = include_private
        self._extract = _extractor(tuple(extra_suffixes), include_private)
        self._lookup = lru_cache(maxsize=65536)(self._resolve)

    def _resolve(self, host: str) -> tuple[str, bool]:
        """(registered domain, host is itself a public suffix)."""
        host = host.strip().lower().removesuffix(".")
        if not host or _is_ip(host):
            return host, False
        result = self._extract.extract_str(host)
        if result.domain and result.suffix:
            return f"{result.domain}.{result.suffix}", False
        if result.suffix:  # a bare public suffix ("co.uk") is its own, unregistrable domain
            return host, True
        # No PSL rule matched: the PSL algorithm's implicit "*" rule makes the last label the
        # suffix (tldextract would answer ""), so "a.b.notatld" -> "b.notatld".
        return ".".join(host.rsplit(".", 2)[-2:]), False

    def registered_domain(self, host: str) -> str:
        """eTLD+1 of a host: blog.x.test -> x.test, www.Example.CO.UK -> example.co.uk; IP
        literals, single labels and bare public suffixes are their own domain; "" -> ""."""
        return self._lookup(host)[0] if isinstance(host, str) else ""

    def is_public_suffix(self, host: str) -> bool:
        """True for a bare public suffix ("co.uk", "github.io" with private suffixes on)."""
        return self._lookup(host)[1] if isinstance(host, str) else False

    def same_site(self, host: str, domain: str) -> bool:
        """True when host's registered domain is domain (compared like hosts)."""
        return self.registered_domain(host) == domain.strip().lower().removesuffix(".")


def _user_url(value: str, what: str) -> str:
    """A user's host or URL argument -> canonical http(s) URL; a bare host gets https."""
    if not isinstance(value, str) or not value.strip():
        raise UrlError(f"{what} is empty")
    value = value.strip()
    match = _SCHEME_PREFIX_RE.match(value)
    if match:
        scheme = match.group(1).lower()
        if scheme not in _HTTP_DEFAULT_PORTS:
            raise UrlError(
                f"{what} must be an http(s) URL or a host, not {scheme}: {_short(value)}"
            )
    else:
        # not w3lib's add_http_if_no_scheme: that adds http, and reads "mailto:x@y" as a host
        value = f"https://{value.lstrip('/')}"
    try:
        url = canonical_url(value)
    except UrlError as exc:
        raise UrlError(f"{what} is not a valid URL or host {_short(value)}: {exc}") from None
    host = url_host(url)
    if "." not in host and host != "localhost" and not host.startswith("["):
        raise UrlError(f"{what} host {host!r} has no dot; give a full domain like example.com")
    return url


def parse_target(value: str, resolver: DomainResolver) -> tuple[str, str]:
    """The user's target ("site.com", "https://www.site.com/", "WWW.Site.com.",
    "http://site.com:8080/x") -> (canonical home URL, registered domain).

    A bare host becomes https://<host>/; a URL keeps its scheme, port and path. IPs and
    "localhost" are allowed (local test servers); other single-label hosts are refused as
    likely typos ("sitecom"), and so is a bare public suffix ("co.uk"), which would make every
    site under it "the target".
    """
    url = _user_url(value, "target")
    host = url_host(url)
    if resolver.is_public_suffix(host) and host != "localhost":
        raise UrlError(f"target {host!r} is a public suffix, not a site")
    return url, resolver.registered_domain(host)


def parse_seed(value: str) -> str:
    """A crawl seed: "host.com" -> "https://host.com/", "http://host.com/path" -> that URL
    canonicalized. Same rules as a target's URL; UrlError on anything else."""
    return _user_url(value, "seed")


def path_signature(url: str) -> str:
    """Shape of a URL for spider-trap detection: host + path with digit runs as "#", then the
    sorted query arg names without values: "/calendar/2024/05/?day=3" -> "host/calendar/#/#/?day".
    Pages that differ only in numbers or arg values share a signature. Never raises."""
    if not isinstance(url, str):
        return ""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # bad port or brackets: keep the whole string as the "path"
        return _DIGITS_RE.sub("#", url)
    if ":" in host:
        host = f"[{host}]"  # IPv6, as written in the URL
    signature = host + _DIGITS_RE.sub("#", parts.path or "/")
    if parts.query:
        names = {arg.partition("=")[0] for arg in parts.query.split("&") if arg}
        signature += "?" + "&".join(sorted(names))
    return signature


def query_variant(query: str) -> str:
    """A query string with its digit runs blanked: which variant of a path's queries it is.
    "p=123" and "p=124" are one variant (a numeric id); "color=red" and "color=blue", or two
    session ids, are two. Never raises."""
    return _DIGITS_RE.sub("#", query) if isinstance(query, str) else ""


def has_repeated_segments(url: str, max_repeats: int = 2) -> bool:
    """True when one path segment occurs more than max_repeats times (/a/b/a/b/a/b/...): the
    mark of relative links that resolve into an ever-deeper loop. Never raises."""
    if not isinstance(url, str):
        return False
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) <= max_repeats:
        return False
    return max(Counter(segments).values()) > max_repeats


@cache
def get_resolver() -> DomainResolver:
    """One resolver per process: its cache is what makes per-link lookups cheap."""
    return DomainResolver()


def tracking_params(settings: Any) -> tuple[str, ...]:
    """``BACKLINKS_TRACKING_PARAMS``, or the defaults when it is unset (empty keeps them all)."""
    value = settings.get("BACKLINKS_TRACKING_PARAMS")
    if value is None:
        return DEFAULT_TRACKING_PARAMS
    return tuple(settings.getlist("BACKLINKS_TRACKING_PARAMS"))


@lru_cache(maxsize=65536)
def url_domain(url: str) -> str:
    """The registered domain of a URL's host ("" when none); links repeat hosts: cached."""
    return get_resolver().registered_domain(url_host(url))
