"""The page size cap, applied to what a page decompresses to, not only to what it weighs on the
wire.

The spider cuts a download at ``BACKLINKS_MAX_PAGE_BYTES`` as the bytes arrive, but those are
the compressed bytes: a 50 MB page served gzipped weighs a few hundred KB, and Scrapy's
HttpCompressionMiddleware would inflate all of it (up to DOWNLOAD_MAXSIZE) for the spider to
parse. This middleware sits between the downloader and HttpCompressionMiddleware (590) and
inflates gzip/deflate bodies itself, stopping at the cap, so the page is cut, not dropped, and
never held whole. Other codings (br, zstd) are left to Scrapy, bounded by DOWNLOAD_MAXSIZE; the
spider cuts what they give at the cap before parsing.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Request, Response, TextResponse
from scrapy.responsetypes import responsetypes

logger = logging.getLogger(__name__)

__all__ = ["PageSizeCapMiddleware", "inflate_capped"]

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


class PageSizeCapMiddleware:
    """Inflate the spider's gzip/deflate pages up to BACKLINKS_MAX_PAGE_BYTES (see module)."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.max_bytes = crawler.settings.getint("BACKLINKS_MAX_PAGE_BYTES", 4 * 1024 * 1024)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageSizeCapMiddleware:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if "bl_role" not in request.meta or request.method == "HEAD":
            return response  # robots.txt, target checks: not pages
        codings = [
            token.strip().lower()
            for value in response.headers.getlist("Content-Encoding")
            for token in value.split(b",")
            if token.strip()
        ]
        if len(codings) != 1 or codings[0] not in _ZLIB_CODINGS:
            return response  # none, br, zstd or stacked: Scrapy's job
        inflated = inflate_capped(response.body, self.max_bytes)
        if inflated is None:
            return response  # not what it says: let HttpCompressionMiddleware judge it
        body, cut = inflated
        if cut and not request.meta.get("bl_cut"):
            request.meta["bl_cut"] = True
            if self.stats is not None:
                self.stats.inc_value("backlinks/spider/page_cut")
            logger.debug("Cut %s at %d bytes once inflated", response.url, self.max_bytes)
        headers = response.headers.copy()
        del headers["Content-Encoding"]
        cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
        kwargs: dict[str, Any] = {"cls": cls, "body": body, "headers": headers}
        if issubclass(cls, TextResponse):
            kwargs["encoding"] = None  # decide the charset from the inflated body's <meta>
        return response.replace(**kwargs)
