"""A small web of hostile pages: a 50 MB page (generated as it is sent, never held in memory),
binary bodies served as text/html, wrong and unknown declared charsets, NUL bytes, deep nesting
and huge attributes. Each page says what a correct crawl finds on it, like the other webs.

    from tests.webs.hostile import hostile_web
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from backlink_spider.demoweb.model import Response, Web

__all__ = ["HUGE_PAGE_BYTES", "StreamedResponse", "hostile_web"]

TARGET = "target-site.test"
SEED = "hostile.test"
HUGE_PAGE_BYTES = 50 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass
class StreamedResponse(Response):
    """A response whose body is generated chunk by chunk as the server sends it.

    ``chunks()`` yields exactly ``length`` bytes; ``body`` stays empty. The server streams it
    (gzip-compressed on the fly when the client asks, like any text body).
    """

    head: bytes = b""
    middle: bytes = b""
    tail: bytes = b""
    filler: bytes = b""
    length: int = 0

    def __post_init__(self) -> None:
        # head, filler up to the middle, middle, filler up to the tail, tail: `length` in all
        self._fill = self.length - len(self.head) - len(self.middle) - len(self.tail)
        if self._fill < 0 or not self.filler:
            raise ValueError("length too small for head, middle and tail, or no filler")

    def _filler(self, size: int) -> Iterator[bytes]:
        block = (self.filler * (_CHUNK // len(self.filler) + 1))[:_CHUNK]
        while size > 0:
            yield block[:size]
            size -= len(block)

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        yield from self._filler(self._fill // 2)
        yield self.middle
        yield from self._filler(self._fill - self._fill // 2)
        yield self.tail

    def body_bytes(self) -> bytes:  # offline fetches (walk): the whole body, once
        return b"".join(self.chunks())


def _page(title: str, body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>{title}</title></head>"
        f"<body><main>{body}</main></body></html>"
    )


def hostile_web(huge_bytes: int = HUGE_PAGE_BYTES) -> Web:
    """Seed ``hostile.test`` links to each hostile page; their links point at ``target-site.test``.

    ``huge_bytes`` sizes the huge page (50 MB; a reference crawl may use a page at the cap).
    """
    web = Web("hostile")
    web.target = TARGET
    web.seeds = [SEED]
    site = web.site(SEED)
    home = f"https://{SEED}"
    paths = {
        "/huge": "a 50 MB page",
        "/binary": "random bytes as text/html",
        "/binary-utf8": "random bytes declared UTF-8",
        "/wrong-charset": "windows-1252 bytes declared UTF-8",
        "/unknown-charset": "an unknown charset label in the header",
        "/utf16-claimed": "ASCII declared UTF-16",
        "/nul": "NUL bytes and broken UTF-8",
        "/deep": "1,000 nested elements",
        "/huge-attribute": "a 2 MB attribute",
    }
    site.page(
        "/",
        _page(
            "Hostile pages",
            "".join(f'<p>See <a href="{path}">{what}</a>.</p>' for path, what in paths.items()),
        ),
    )
    target = web.site(TARGET)
    target.page("/", _page("Target site", "<p>The site whose backlinks we look for.</p>"))

    def expect(path: str, target_path: str, anchor: str, note: str) -> str:
        web.expect_backlink(
            f"{home}{path}",
            f"https://{TARGET}{target_path}",
            anchor=anchor,
            position="content",
            note=note,
        )
        return f'<a href="https://{TARGET}{target_path}">{anchor}</a>'

    # The huge page: its link near the top is found, the one 25 MB down is past the cut.
    top = expect("/huge", "/from-huge", "near the top", "first kilobyte of a 50 MB page")
    web.expect_no_backlink(
        f"{home}/huge",
        f"https://{TARGET}/past-the-cap",
        "25 MB into a page cut at BACKLINKS_MAX_PAGE_BYTES",
    )
    site.page(
        "/huge",
        StreamedResponse(
            head=(
                f"<!DOCTYPE html><html><head><title>Huge</title></head><body><main>"
                f"<p>A page that never ends links {top} first.</p>"
            ).encode(),
            filler=(
                b"<p>Filler text that goes on and on, as a runaway page generator writes it.</p>\n"
            ),
            middle=(
                f'<p>Far down: <a href="https://{TARGET}/past-the-cap">too far</a>.</p>'
            ).encode(),
            tail=b"</main></body></html>",
            length=huge_bytes,
        ),
    )

    rng = random.Random(7)
    noise = bytes(rng.getrandbits(8) for _ in range(200_000))
    site.page("/binary", Response(body=noise, content_type="text/html"))
    site.page("/binary-utf8", Response(body=noise[::-1], content_type="text/html; charset=utf-8"))

    # A browser decodes by the header: windows-1252 bytes read as UTF-8 give U+FFFD.
    link = expect("/wrong-charset", "/from-wrong-charset", "Caf\ufffd garden", "invalid UTF-8")
    site.page(
        "/wrong-charset",
        Response(
            body=_page(
                "Caf\xe9", f"<p>Read {link.replace(chr(0xFFFD), chr(0xE9))} today.</p>"
            ).encode("cp1252"),
            content_type="text/html; charset=utf-8",
        ),
    )
    # An unknown label in the header is ignored; the <meta charset> decides.
    link = expect("/unknown-charset", "/from-unknown-charset", "Привет, сад", "meta charset")
    site.page(
        "/unknown-charset",
        Response(
            body=_page(
                "Сад", f"<p>Смотрите {link} сегодня.</p>", head='<meta charset="windows-1251">'
            ).encode("cp1251"),
            content_type="text/html; charset=x-no-such-charset",
        ),
    )
    # ASCII claimed to be UTF-16 decodes to CJK noise: nothing to find, nothing to crash on.
    site.page(
        "/utf16-claimed",
        Response(
            body=_page("Sixteen", f'<p><a href="https://{TARGET}/x">x</a></p>').encode(),
            content_type="text/html; charset=utf-16",
        ),
    )
    link = expect("/nul", "/from-nul", "through the NULs", "NUL bytes and broken UTF-8 around it")
    site.page(
        "/nul",
        Response(
            body=b"\x00\xff<main><p>\x00\xed\xa0\x80 \xc3\x28 "
            + link.encode()
            + b" \x00</p>\x00" * 100,
            content_type="text/html; charset=utf-8",
        ),
    )
    link = expect("/deep", "/from-deep", "deep down", "inside 1,000 nested divs")
    site.page("/deep", _page("Deep", "<div>" * 1000 + f"<p>Way {link}.</p>" + "</div>" * 1000))
    link = expect("/huge-attribute", "/from-huge-attribute", "after the attribute", "2 MB title")
    site.page(
        "/huge-attribute",
        _page("Attr", f'<p><span title="{"t" * 2_000_000}">x</span> then {link}.</p>'),
    )
    return web
