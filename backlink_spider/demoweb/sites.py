"""The demo web (a small gardening niche), and the kit that writes it and the other webs.

The demo web is data: its hosts, pages, links and sentence banks are in ``demo_web.toml`` next
to this module (package data, so an installed package and a Scrapyd egg carry it), and
``demo_web()`` builds it from there. The test webs (``tests/webs``) and the benchmark web
(``benchmarks/web.py``) are written in Python with the same kit.

Pages are written through ``PageBuilder.link`` which renders the ``<a>`` *and* declares the
ground truth for links into the target (or a competitor), so the HTML and the expectations
cannot drift apart. Positions are declared by the author, never inferred from the HTML: the
test suite checks them against an independent classifier.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import random
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urljoin

from backlink_spider.demoweb.model import POSITIONS, ExpectedBacklink, Response, Web

__all__ = [
    "COMPETITOR",
    "TARGET",
    "TEXT",
    "THEMES",
    "Comment",
    "PageBuilder",
    "Part",
    "SiteKit",
    "build_target",
    "demo_data",
    "demo_web",
    "esc",
    "fill",
    "populate_demo",
    "prose",
    "slug",
    "stable_rng",
    "ul",
]

DATA_FILE = "demo_web.toml"


@cache
def demo_data() -> dict[str, Any]:
    """``demo_web.toml``, parsed once: the demo web's sites and pages, and the sentence banks."""
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


TARGET: str = demo_data()["web"]["target"]
COMPETITOR: str = demo_data()["web"]["competitors"][0]

# --- text ------------------------------------------------------------------------------------

#: Sentences by topic: the ``[text]`` table of ``demo_web.toml``.
TEXT: dict[str, tuple[str, ...]] = {
    topic: tuple(sentences) for topic, sentences in demo_data()["text"].items()
}


def prose(
    topic: str,
    paragraphs: int,
    rng: random.Random,
    *,
    sentences: int = 4,
    text: Mapping[str, Sequence[str]] = TEXT,
) -> str:
    """A few paragraphs of real-sounding text on ``topic`` (deterministic for a given rng).

    ``text`` holds the sentence banks by topic (default: ``TEXT``, the demo web's).
    """
    bank = text[topic]
    out = []
    for _ in range(paragraphs):
        count = min(len(bank), sentences + rng.randint(0, 2))
        out.append("<p>" + " ".join(rng.sample(bank, count)) + "</p>")
    return "\n".join(out)


def stable_rng(*parts: object) -> random.Random:
    """A Random seeded from strings, stable across runs and Python versions."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def esc(text: str) -> str:
    return html.escape(text, quote=True)


# --- building pages and declaring ground truth at the same time ------------------------------

_PROMINENCE = ("content", "header", "navigation", "sidebar", "comment", "footer")


@dataclass
class Comment:
    author: str
    text: str
    url: str | None = None
    rel: str = "ugc"
    date: str = "12 May 2024"


class PageBuilder:
    """Renders links for one page and records the ground truth they imply.

    ``blocked`` (a reason) turns every would-be backlink into ``expect_no_backlink``;
    ``nofollow`` marks the page as nofollow (meta robots or X-Robots-Tag).
    """

    def __init__(
        self,
        web: Web,
        url: str,
        *,
        min_depth: int,
        base: str | None = None,
        nofollow: bool = False,
        blocked: str | None = None,
    ) -> None:
        self.web = web
        self.url = url
        self.min_depth = min_depth
        self.base = base
        self.nofollow = nofollow
        self.blocked = blocked
        self._declared: dict[str, int] = {}

    def _tracked(self, url: str) -> bool:
        """A link into the target or a competitor from outside it (internal links never count)."""
        return any(
            self.web.is_target_url(url, domain) and not self.web.is_target_url(self.url, domain)
            for domain in (self.web.target, *self.web.competitors)
        )

    def resolve(self, href: str) -> str:
        return urljoin(self.base or self.url, href.strip())

    def link(
        self,
        href: str,
        text: str = "",
        *,
        position: str,
        rel: str = "",
        alt: str | None = None,
        note: str = "",
        redirects_to: str | None = None,
        min_depth: int | None = None,
        not_a_backlink: str | None = None,
    ) -> str:
        """``<a>`` HTML; ``alt`` makes it an image link whose anchor is the alt text."""
        rel_attr = f' rel="{esc(rel)}"' if rel else ""
        if alt is not None:
            inner = f'<img src="/img/{slug(alt) or "image"}.jpg" alt="{esc(alt)}">'
        else:
            inner = esc(text)
        self._declare(
            href,
            anchor=text if alt is None else alt,
            position=position,
            rel=rel,
            image=alt is not None,
            note=note,
            redirects_to=redirects_to,
            min_depth=min_depth,
            not_a_backlink=not_a_backlink,
        )
        return f'<a href="{esc(href)}"{rel_attr}>{inner}</a>'

    def area(self, href: str, alt: str, *, position: str, note: str = "") -> str:
        """An image-map ``<area>``: an image link whose anchor is its alt text."""
        self._declare(href, anchor=alt, position=position, image=True, note=note)
        return f'<area shape="rect" coords="0,0,200,120" href="{esc(href)}" alt="{esc(alt)}">'

    def _declare(
        self,
        href: str,
        *,
        anchor: str,
        position: str,
        rel: str = "",
        image: bool = False,
        note: str = "",
        redirects_to: str | None = None,
        min_depth: int | None = None,
        not_a_backlink: str | None = None,
    ) -> None:
        resolved = self.resolve(href)
        if not_a_backlink is not None:
            self.web.expect_no_backlink(self.url, resolved, not_a_backlink)
            return
        target = redirects_to or resolved
        if not self._tracked(target):
            return
        if self.blocked is not None:
            self.web.expect_no_backlink(self.url, target, self.blocked)
            return
        tokens = tuple(rel.lower().split())
        item = ExpectedBacklink(
            source_url=self.url,
            target_url=target,
            anchor=" ".join(anchor.split()),
            rel=tokens,
            position=position,
            link_type="redirect" if redirects_to else ("image" if image else "text"),
            nofollow="nofollow" in tokens or self.nofollow,
            note=note,
            min_depth=self.min_depth if min_depth is None else min_depth,
            via_url=resolved if redirects_to else None,
        )
        index = self._declared.get(target)
        if index is None:
            self._declared[target] = len(self.web.expected)
            self.web.expected.append(item)
            return
        old = self.web.expected[index]
        best = old
        if _PROMINENCE.index(position) < _PROMINENCE.index(old.position):
            best = item
        self.web.expected[index] = dataclasses.replace(best, occurrences=old.occurrences + 1)


def slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


Part = str | Callable[[PageBuilder], str]


def _render(part: Part, p: PageBuilder) -> str:
    return part(p) if callable(part) else part


class SiteKit:
    """One host's look (theme, name, nav, footer) and the pages written in it."""

    def __init__(
        self,
        web: Web,
        host: str,
        *,
        name: str,
        scheme: str = "https",
        depth: int = 0,
        theme: str = "html5",
        tagline: str = "",
        nav: Sequence[tuple[str, Part]] = (),
        footer: Part = "",
        widgets: Sequence[tuple[str, Part]] = (),
        lang: str = "en",
    ) -> None:
        self.web = web
        self.site = web.site(host)
        self.host = self.site.host
        self.name = name
        self.scheme = scheme
        self.depth = depth
        self.theme = theme
        self.tagline = tagline
        self.nav: list[tuple[str, Part]] = list(nav)
        self.footer = footer
        self.widgets = list(widgets)
        self.lang = lang

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://{self.host}{path}"

    def page(self, path: str, *, headers: dict[str, str] | None = None, **parts: object) -> str:
        """Write one page in the site's theme (see ``render``); returns its absolute URL."""
        page_html = self.render(path, **parts)  # type: ignore[arg-type]
        self.site.page(path, Response(body=page_html, headers=dict(headers or {})))
        return self.url(path)

    def render(
        self,
        path: str,
        *,
        title: str,
        body: Part,
        widgets: Sequence[tuple[str, Part]] | None = None,
        comments: Sequence[Comment] = (),
        header_extra: Part = "",
        footer: Part | None = None,
        nav: Sequence[tuple[str, Part]] | None = None,
        head_extra: str = "",
        base: str | None = None,
        nofollow: bool = False,
        blocked: str | None = None,
        absolute_chrome: bool = False,
        byline: str = "",
        record: bool = True,
    ) -> str:
        """One page's HTML in the site's theme, declaring its links unless ``record`` is False.

        ``nav`` entries are (href, text) or (href, callable) to place a hand-made link there.
        """
        url = self.url(path)
        web = self.web if record else _scratch_web(self.web)
        p = PageBuilder(
            web, url, min_depth=self.depth, base=base, nofollow=nofollow, blocked=blocked
        )
        # With a <base> elsewhere, the site's own chrome must use absolute URLs to stay internal.
        fix = (lambda href: urljoin(self.url("/"), href)) if absolute_chrome else (lambda h: h)
        nav_items = []
        for href, text in self.nav if nav is None else nav:
            if callable(text):  # a hand-made link (it declares its own position)
                nav_items.append(_render(text, p))
            else:
                nav_items.append(p.link(fix(href), text, position="navigation"))
        nav_html = "".join(f"<li>{item}</li>" for item in nav_items)
        logo = p.link(fix("/"), self.name, position="header")
        parts = {
            "title": esc(title),
            "site": esc(self.name),
            "logo": logo,
            "tagline": esc(self.tagline),
            "nav": nav_html,
            "header_extra": _render(header_extra, p),
            "body": _render(body, p),
            "byline": esc(byline),
            "widgets": [
                (esc(t), _render(w, p)) for t, w in (self.widgets if widgets is None else widgets)
            ],
            "comments": [
                (
                    esc(c.author)
                    if c.url is None
                    else p.link(c.url, c.author, position="comment", rel=c.rel),
                    esc(c.text),
                    esc(c.date),
                )
                for c in comments
            ],
            "footer": _render(self.footer if footer is None else footer, p),
            "head_extra": head_extra + (f'<base href="{esc(base)}">' if base else ""),
            "lang": self.lang,
        }
        return THEMES[self.theme](parts)


def _scratch_web(web: Web) -> Web:
    """A throwaway Web with the same target, so generated pages record nothing."""
    scratch = Web("scratch")
    scratch.target = web.target
    scratch.competitors = list(web.competitors)
    return scratch


def _head(parts: dict) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{parts["lang"]}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{parts['title']} | {parts['site']}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{parts['head_extra']}\n</head>\n"
    )


def _theme_html5(parts: dict) -> str:
    widgets = "".join(
        f'<section class="widget"><h2>{t}</h2>{w}</section>' for t, w in parts["widgets"]
    )
    comments = ""
    if parts["comments"]:
        items = "".join(
            f'<article class="comment"><p class="comment-author">{who} on {when}</p>'
            f"<p>{text}</p></article>"
            for who, text, when in parts["comments"]
        )
        comments = (
            f'<section id="comments" class="comments"><h2>{len(parts["comments"])} responses</h2>'
            f"{items}</section>"
        )
    byline = f'<p class="byline">{parts["byline"]}</p>' if parts["byline"] else ""
    return (
        _head(parts) + '<body>\n<header class="site-header">\n'
        f'<div class="brand">{parts["logo"]}<p class="tagline">{parts["tagline"]}</p></div>\n'
        f"{parts['header_extra']}\n"
        f'<nav class="main-nav" aria-label="Main"><ul>{parts["nav"]}</ul></nav>\n</header>\n'
        f'<main id="main">\n<article class="post">\n<h1>{parts["title"]}</h1>\n{byline}\n'
        f"{parts['body']}\n</article>\n{comments}\n</main>\n"
        f'<aside class="sidebar">{widgets}</aside>\n'
        f'<footer class="site-footer">{parts["footer"]}</footer>\n</body>\n</html>\n'
    )


def _theme_roles(parts: dict) -> str:
    widgets = "".join(f'<div class="box"><h3>{t}</h3>{w}</div>' for t, w in parts["widgets"])
    comments = ""
    if parts["comments"]:
        items = "".join(
            f'<div class="reply"><p><strong>{who}</strong> wrote on {when}:</p><p>{text}</p></div>'
            for who, text, when in parts["comments"]
        )
        comments = f'<div id="comments" class="discussion"><h2>Discussion</h2>{items}</div>'
    byline = f'<p class="byline">{parts["byline"]}</p>' if parts["byline"] else ""
    return (
        _head(parts) + '<body>\n<div class="wrap">\n'
        f'<div class="top" role="banner">{parts["logo"]} <span>{parts["tagline"]}</span>'
        f"{parts['header_extra']}</div>\n"
        f'<div class="bar" role="navigation"><ul>{parts["nav"]}</ul></div>\n'
        f'<div class="page" role="main"><h1>{parts["title"]}</h1>{byline}\n'
        f'<div class="text">{parts["body"]}</div>\n{comments}</div>\n'
        f'<div class="extras" role="complementary">{widgets}</div>\n'
        f'<div class="bottom" role="contentinfo">{parts["footer"]}</div>\n'
        "</div>\n</body>\n</html>\n"
    )


def _theme_classic(parts: dict) -> str:
    widgets = "".join(
        f'<div class="widget"><h3 class="widget-title">{t}</h3>{w}</div>'
        for t, w in parts["widgets"]
    )
    comments = ""
    if parts["comments"]:
        items = "".join(
            f'<li class="comment"><div class="comment-author vcard"><cite class="fn">{who}'
            f'</cite> says:</div><div class="comment-meta">{when}</div><p>{text}</p></li>'
            for who, text, when in parts["comments"]
        )
        comments = (
            f'<div id="comments"><h3>{len(parts["comments"])} Comments</h3>'
            f'<ol class="commentlist">{items}</ol></div>'
        )
    byline = f'<p class="postmetadata">{parts["byline"]}</p>' if parts["byline"] else ""
    return (
        _head(parts) + '<body class="home blog">\n<div id="wrapper">\n'
        f'<div id="header"><h1 id="site-title">{parts["logo"]}</h1>'
        f'<p class="description">{parts["tagline"]}</p>{parts["header_extra"]}</div>\n'
        f'<div id="nav"><ul class="menu">{parts["nav"]}</ul></div>\n'
        f'<div id="content"><div class="post"><h2 class="entry-title">{parts["title"]}</h2>'
        f'{byline}<div class="entry">\n{parts["body"]}\n</div></div>\n{comments}</div>\n'
        f'<div id="sidebar">{widgets}</div>\n'
        f'<div id="footer">{parts["footer"]}</div>\n</div>\n</body>\n</html>\n'
    )


THEMES: dict[str, Callable[[dict], str]] = {
    "html5": _theme_html5,
    "roles": _theme_roles,
    "classic": _theme_classic,
}


def ul(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


# --- the demo web, from demo_web.toml ---------------------------------------------------------

_MARKUP = re.compile(
    r"\{\{prose (?P<topic>\w+) (?P<paragraphs>\d+) (?P<seed>[^\s}]+)\}\}"
    r"|(?P<image>!?)\[(?P<text>[^\]]*)\]\((?P<href>[^)\s]*)\)(?:\{(?!\{)(?P<attrs>[^}]*)\})?"
)
_ATTR = re.compile(r'\s*(\w+)="([^"]*)"')
_LINK_ATTRS = {"rel", "note", "position"}
_SITE_KEYS = {"host", "name", "scheme", "depth", "theme", "tagline", "nav", "footer", "robots"}
_SITE_KEYS |= {"widget", "page", "redirect"}  # tables of the site
_PAGE_KEYS = {"path", "title", "body", "changed_body", "byline", "widget", "comment", "blocked"}


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = table.keys() - allowed
    if unknown:
        raise ValueError(f"{DATA_FILE}: unknown {', '.join(sorted(unknown))} in {where}")


def _link_attrs(text: str) -> dict[str, str]:
    attrs = dict(_ATTR.findall(text))
    if (
        _ATTR.sub("", text).strip()
        or attrs.keys() - _LINK_ATTRS
        or attrs.get("position", "content") not in POSITIONS
    ):
        raise ValueError(f"{DATA_FILE}: bad link attributes {{{text}}}")
    return attrs


def fill(template: str, position: str) -> Part:
    """A page part from a template of the data file (see its header for the markup).

    Its links are declared at ``position`` unless they say otherwise; ``{{prose ...}}`` becomes
    paragraphs of the topic's sentences.
    """
    matches = list(_MARKUP.finditer(template))
    if not matches:
        return template

    def render(p: PageBuilder) -> str:
        out = []
        last = 0
        for match in matches:
            out.append(template[last : match.start()])
            last = match.end()
            if match["topic"]:
                rng = stable_rng(match["seed"])
                out.append(prose(match["topic"], int(match["paragraphs"]), rng))
                continue
            attrs = _link_attrs(match["attrs"] or "")
            image = bool(match["image"])
            link = p.link(
                match["href"],
                "" if image else match["text"],
                alt=match["text"] if image else None,
                position=attrs.get("position", position),
                rel=attrs.get("rel", ""),
                note=attrs.get("note", ""),
            )
            out.append(link)
        out.append(template[last:])
        return "".join(out)

    return render


def _widgets(tables: Sequence[Mapping[str, str]]) -> list[tuple[str, Part]]:
    return [(table["title"], fill(table["html"], "sidebar")) for table in tables]


def _build_site(web: Web, spec: Mapping[str, Any], *, changed: bool = False) -> SiteKit:
    """One ``[[site]]`` of the data file: the host's look, its pages, then its redirects;
    ``changed``: the pages' ``changed_body`` where they have one (the web's second state)."""
    _check_keys(spec, _SITE_KEYS, f"site {spec.get('host')!r}")
    kit = SiteKit(
        web,
        spec["host"],
        name=spec["name"],
        scheme=spec.get("scheme", "https"),
        depth=spec.get("depth", 0),
        theme=spec.get("theme", "html5"),
        tagline=spec.get("tagline", ""),
        nav=[(href, text) for href, text in spec.get("nav", [])],
        footer=fill(spec.get("footer", ""), "footer"),
        widgets=_widgets(spec.get("widget", [])),
    )
    if "robots" in spec:
        kit.site.robots(spec["robots"])
    for page in spec.get("page", []):
        _check_keys(page, _PAGE_KEYS, f"page {kit.url(page.get('path', '?'))}")
        kit.page(
            page["path"],
            title=page["title"],
            byline=page.get("byline", ""),
            body=fill(
                page.get("changed_body", page["body"]) if changed else page["body"], "content"
            ),
            widgets=_widgets(page["widget"]) if "widget" in page else None,
            comments=[Comment(**comment) for comment in page.get("comment", [])],
            blocked=page.get("blocked"),
        )
    for redirect in spec.get("redirect", []):
        kit.site.redirect(redirect["path"], redirect["to"], redirect["status"])
    return kit


def build_target(web: Web) -> SiteKit:
    """The demo's target blog (petalpost.test) alone, for other webs around the same target."""
    (spec,) = [spec for spec in demo_data()["site"] if spec["host"] == TARGET]
    return _build_site(web, spec)


def populate_demo(web: Web, *, changed: bool = False) -> None:
    """Add the demo web's sites, crawl parameters and ground truth to ``web`` (``changed``: as
    in its second state)."""
    data = demo_data()["web"]
    web.target = TARGET
    web.competitors = list(data["competitors"])
    web.keywords = list(data["keywords"])
    web.seeds = list(data["seeds"])  # copies: a web may add seeds of its own
    for spec in demo_data()["site"]:
        _build_site(web, spec, changed=changed)


def demo_web(*, changed: bool = False) -> Web:
    """A small gardening niche: target petalpost.test, four seeds, a competitor, a link farm.

    ``changed``: the same web a month on, which ``scrapy demo`` crawls second: a link to the
    target gone from one page, a new one on another (the pages' ``changed_body``).
    """
    web = Web("demo-changed" if changed else "demo")
    populate_demo(web, changed=changed)
    return web
