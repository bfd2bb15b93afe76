"""Download guards, in one downloader middleware: what a page download may cost.

- Non-HTML is skipped when its headers arrive, before its body is downloaded (a 200 MB video
  costs one header); a page response that is not HTML after all is dropped (``NotHtml``).
- A page is cut at ``BACKLINKS_MAX_PAGE_BYTES`` as its bytes arrive: its head is still worth
  reading, so the download stops there and the capped head goes on to the spider.
- The cap applies to what a page inflates to, not only to what it weighs on the wire: a 50 MB
  page served gzipped weighs a few hundred KB, and Scrapy's HttpCompressionMiddleware would
  inflate all of it (up to DOWNLOAD_MAXSIZE). This middleware sits before it on the response
  path (595 > 590) and inflates gzip/deflate (and br, with brotli installed) itself, stopping at
  the cap, so the page is cut, not dropped, and never held whole. Other codings are left to
  Scrapy, bounded by DOWNLOAD_MAXSIZE, and cut here only if they arrive uncompressed.
- A target check's ``GET`` (for servers that refuse ``HEAD``) stops at the headers.

Only the spider's page requests (``bl_role`` in their meta) are guarded; robots.txt and other
framework requests pass as they are. Stats: ``backlinks/spider/not_html``,
``backlinks/spider/page_cut``.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request, Response, TextResponse
from scrapy.responsetypes import responsetypes

from backlink_spider.redirects import LANDED as LANDED_META
from backlink_spider.targets import CHECK_META

logger = logging.getLogger(__name__)

__all__ = ["DownloadGuardMiddleware", "NotHtml", "inflate_capped", "is_html"]

# Request meta: ours (a page request carries its role), and what the guards note on it.
PAGE_META = "bl_role"
RENDER_META = "bl_render"
CUT_META = "bl_cut"
BYTES_META = "bl_bytes"
NOT_HTML_META = "bl_not_html"
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")

_ZLIB_CODINGS = (b"gzip", b"x-gzip", b"deflate")
# wbits 47 (32 + 15) reads a gzip or a zlib header; -15 reads raw deflate, which servers send as
# "deflate" about as often as the zlib stream RFC 9110 asks for.
_WBITS = (47, -15)


def inflate_capped(body: bytes, limit: int) -> tuple[bytes, bool] | None:
    """(at most ``limit`` bytes of the inflated body, True if there was more), or None when
    the body is not gzip/zlib/deflate data. A truncated stream (a download cut at the cap)
    gives what it holds. Memory stays within ``limit`` whatever the compression ratio."""
    for wbits in _WBITS:
        out = bytearray()
        data = body
        try:
            while data and len(out) <= limit:  # concatenated gzip members, as gzip -d reads them
                inflater = zlib.decompressobj(wbits)
                out += inflater.decompress(data, limit + 1 - len(out))
                if inflater.unconsumed_tail:  # stopped by the limit with input left
                    return bytes(out[:limit]), True
                data = inflater.unused_data if wbits > 0 else b""
        except zlib.error:
            if out:  # garbage after good data: keep what was read
                return bytes(out[:limit]), len(out) > limit
            continue
        return bytes(out[:limit]), len(out) > limit
    return None


def _unbrotli_capped(body: bytes, limit: int) -> tuple[bytes, bool] | None:
    """Like ``inflate_capped`` for br bodies; None without the brotli module or on bad data."""
    try:
        import brotli
    except ImportError:
        return None
    try:
        out = brotli.Decompressor().process(body, output_buffer_limit=limit + 1)
    except brotli.error:
        return None
    return bytes(out[:limit]), len(out) > limit


def _codings(response: Response) -> list[bytes]:
    return [
        token.strip().lower()
        for value in response.headers.getlist("Content-Encoding")
        for token in value.split(b",")
        if token.strip()
    ]


def is_html(content_type: bytes) -> bool:
    """An HTML page by its Content-Type (none given: let the body decide)."""
    content_type = content_type.lower()
    return not content_type or any(t in content_type for t in _HTML_TYPES)


class NotHtml(IgnoreRequest):
    """A page request answered with something that is not an HTML page."""


class DownloadGuardMiddleware:
    """The spider's page downloads: HTML only, cut at BACKLINKS_MAX_PAGE_BYTES (see module)."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.max_bytes = crawler.settings.getint("BACKLINKS_MAX_PAGE_BYTES", 4 * 1024 * 1024)
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DownloadGuardMiddleware:
        return cls(crawler)

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"backlinks/spider/{key}")

    def _cut(self, request: Request) -> None:
        if not request.meta.get(CUT_META):
            request.meta[CUT_META] = True
            self._count("page_cut")

    def _headers_received(
        self, headers: Any, body_length: int, request: Request, spider: Any = None
    ) -> None:
        if CHECK_META in request.meta and request.method == "GET":
            raise StopDownload(fail=False)  # a target check needs the status, not the body
        if PAGE_META not in request.meta or RENDER_META in request.meta:
            return  # robots.txt and other framework requests; the browser's own reads
        if not is_html(headers.get(b"Content-Type") or b""):
            self._count("not_html")
            request.meta[NOT_HTML_META] = True
            raise StopDownload(fail=False)

    def _bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        if PAGE_META not in request.meta:
            return
        received = request.meta.get(BYTES_META, 0) + len(data)
        request.meta[BYTES_META] = received
        if received > self.max_bytes:
            self._cut(request)
            raise StopDownload(fail=False)

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if PAGE_META not in request.meta or request.method == "HEAD":
            return response  # robots.txt, target checks: not pages
        if LANDED_META in request.meta or RENDER_META in request.meta:
            return response  # a redirect hop into the target; a page from the browser
        codings = _codings(response)
        if codings:
            response = self._inflate(request, response, codings)
            codings = _codings(response)
        if response.status < 400 and (
            request.meta.get(NOT_HTML_META)
            or not is_html(response.headers.get(b"Content-Type") or b"")
            or (not codings and not isinstance(response, TextResponse))
        ):
            raise NotHtml(f"not an HTML page: {response.url}")
        if not codings and len(response.body) > self.max_bytes:
            self._cut(request)  # the last chunk past a cut download
            return response.replace(body=response.body[: self.max_bytes])
        return response

    def _inflate(self, request: Request, response: Response, codings: list[bytes]) -> Response:
        """The body inflated up to the cap, or the response as it is when Scrapy is to inflate
        it (zstd, stacked codings, or a body that is not what it says)."""
        if len(codings) != 1 or codings[0] not in (*_ZLIB_CODINGS, b"br"):
            return response
        if codings[0] == b"br":
            inflated = _unbrotli_capped(response.body, self.max_bytes)
        else:
            inflated = inflate_capped(response.body, self.max_bytes)
        if inflated is None:
            return response
        body, cut = inflated
        if cut:
            self._cut(request)
            logger.debug("Cut %s at %d bytes once inflated", response.url, self.max_bytes)
        headers = response.headers.copy()
        del headers["Content-Encoding"]
        cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
        kwargs: dict[str, Any] = {"cls": cls, "body": body, "headers": headers}
        if issubclass(cls, TextResponse):
            kwargs["encoding"] = None  # decide the charset from the inflated body's <meta>
        return response.replace(**kwargs)
