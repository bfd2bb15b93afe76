"""Link extraction: HTML and page URL in, links with position and context out.

Pure functions, no Scrapy and no I/O, so the spider, the tests and the benchmark all run the same
code. A page is parsed once by lxml and walked once top-down; anchor text, context and page text
are then read from that same tree with lxml's C serialiser rather than Python loops, because that
is what a crawler pays for on every page.

Where a link sits ("position") comes from the walk: HTML5 landmarks, ARIA roles and class/id
names (see DEFAULT_POSITION_PATTERNS, _walk and _enter_region). A link outside every recognised
region is "content" when it sits in running text, else "unknown" (see extract_page).

Inside the content, "related" sets apart what the writer did not write: story cards, related and
recirculation lists, share bars, bylines, sign-up boxes. They are found by class name ("related"
patterns) and, whatever their names, by link density: a content link whose nearest block is at
least half link text is "related" (see _links for the rule and its exceptions).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias
from urllib.parse import urljoin, urlsplit

from lxml import etree
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding, to_unicode

__all__ = [
    "DEFAULT_POSITION_PATTERNS",
    "DEFAULT_RULES",
    "POSITIONS",
    "PROMINENCE",
    "Link",
    "Page",
    "PositionRules",
    "extract_page",
    "robots_directives",
]

POSITIONS = (
    "content",
    "related",
    "navigation",
    "header",
    "footer",
    "sidebar",
    "comment",
    "unknown",
)

# Lower = more prominent: a link a reader is likelier to see and an editor likelier to have
# chosen. "unknown" (outside every recognised region and not in running text: unlabelled
# wrappers, listings) is next after content because it may be either, so it is not penalised
# like the known boilerplate. "related" (cards, related lists, share bars, bylines inside the
# article) comes next: in the reader's view, but put there by the site rather than the writer.
# Header links (logo, top bar) come before the menu; comments and footers are the classic
# low-value, site-wide or user-written spots.
PROMINENCE = {
    "content": 0,
    "unknown": 1,
    "related": 2,
    "header": 3,
    "navigation": 4,
    "sidebar": 5,
    "comment": 6,
    "footer": 7,
}

# Patterns are matched against one class name or id at a time, split into words on "-", "_",
# other punctuation and camelCase humps ("StoryBody__x" -> story body x). A pattern of several
# words ("entry-header") must match that run of words and beats a one-word pattern, so
# "entry-header" is content although "header" alone is a header. A pattern starting with "re:"
# is a regex searched in the lower-cased class name or id, and counts like a multi-word one.
DEFAULT_POSITION_PATTERNS: dict[str, tuple[str, ...]] = {
    "content": (
        "entry-content",
        "entry-header",
        "entry-footer",
        "entry-title",
        "entry-body",
        "entry-text",
        "post-content",
        "post-header",
        "post-footer",
        "post-body",
        "post-entry",
        "post-text",
        "article-content",
        "article-header",
        "article-footer",
        "article-body",
        "article-text",
        "articlebody",
        "story-body",
        "story-content",
        "story-text",
        "main-content",
        "page-content",
        "content-body",
        "body-text",
        "text-body",
        # "content", "main" and "entry" only as a whole class name or id (div#content, div.entry
        # of old themes); as words ("layout__content", "sd-content") they mark wrappers.
        "re:^(?:content|main|entry)$",
    ),
    "navigation": (
        "nav",
        "navbar",
        "navigation",
        "menu",
        "menubar",
        "megamenu",
        "breadcrumb",
        "breadcrumbs",
        "topbar",
        "top-bar",
        "topnav",
        "subnav",
        "skip-link",
        "skip-links",
        "nav-links",
        "pagination",
        "pager",
        "next-prev",
        "prev-next",
        "tags",
        "tag-list",
        "tag-links",
        "tagcloud",
        "cat-links",
    ),
    "header": (
        "header",
        "masthead",
        "banner",
        "branding",
        "site-header",
        "top-header",
    ),
    "footer": (
        "footer",
        "colophon",
        "site-info",
        "site-footer",
        "copyright",
        "credits",
        "bottom-bar",
    ),
    "sidebar": (
        "sidebar",
        "widget",
        "widgets",
        "widget-area",
        "aside",
        "rail",
        "right-col",
        "right-column",
        "rightcol",
        "blogroll",
        "secondary",
        # Recirculation: other stories of the site, wherever the theme puts them.
        "related",
        "recommended",
        "recommendations",
        "trending",
        "most-popular",
        "most-read",
        "popular-posts",
        "more-stories",
        "more-news",
        "latest-news",
        "breaking-news",
        "promo",
        "teaser",
        "teasers",
        "ticker",
        "recirc",
        "recirculation",
        "outbrain",
        "taboola",
        # Share and follow widgets inside an article are not part of what the author wrote.
        "share",
        "sharing",
        "sharedaddy",
        "shariff",
        "addthis",
        "social-share",
    ),
    # Blocks of an article that are about it rather than of it: "related" inside content (as
    # are the sidebar patterns above), nothing elsewhere (see _enter_region).
    "related": (
        "byline",
        "author-box",
        "author-bio",
        "author-card",
        "author-info",
        "about-author",
        "newsletter",
        "signup",
        "sign-up",
        "subscribe",
    ),
    "comment": (
        "comment",
        "comments",
        "commentlist",
        "comment-list",
        "respond",
        "disqus",
        "replies",
        "discussion",
    ),
}


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that name a piece inside a region, not the region: "menu-item", "comment-count",
# "header-logo". A one-word pattern does not match a class name containing one of them, so a
# "menu-item-has-children" list item or a "comments-link" in an article's byline opens nothing.
_PART_WORDS = _word_set(
    "item items link links title titles icon icons toggle toggler button btn label logo count "
    "counter number num meta author avatar date time image img thumb thumbnail text caption "
    "trigger arrow close open reply form field input submit"
)
# Words that make a class name describe a state, a layout, a configuration or a script hook
# rather than a region: "has-sidebar", "no-comments", "content-with-sidebar", "header-style-2",
# "layout-sidebar-right", "js-code-nav-container", "primary-and-secondary" (two columns),
# "theiaStickySidebar" (a script wrapping content and sidebar alike), "elementor-widget" (the
# page builder calls every block a widget). Such names are ignored whole.
_STATE_WORDS = _word_set(
    "has no not is with without hide show hidden style layout type mode template theme skin "
    "variant enabled disabled active js and sticky elementor"
)

# ARIA landmark roles are explicit author intent, so they outrank tags and class names.
_ROLE_POSITIONS = {
    "navigation": "navigation",
    "menu": "navigation",
    "menubar": "navigation",
    "banner": "header",
    "contentinfo": "footer",
    "complementary": "sidebar",
    "main": "main",
    "article": "content",
    "comment": "comment",
}
_TAG_POSITIONS = {
    "nav": "navigation",
    "menu": "navigation",
    "header": "header",
    "footer": "footer",
    "aside": "sidebar",
    "main": "main",
    "article": "content",
}
# When one element says two things at equal strength, the more specific section wins.
_TIE_RANK = {
    position: rank
    for rank, position in enumerate(
        (
            "main",
            "comment",
            "footer",
            "header",
            "sidebar",
            "navigation",
            "related",  # means nothing outside content: any other word there should win
            "unknown",
            "content",
        )
    )
}
_ROLE = 4  # an ARIA role (and <main>)
_STRONG = 3  # a multi-word or regex pattern
_TAG = 2  # an HTML5 sectioning element
_WEAK = 1  # a one-word pattern

# Elements whose class/id/role can open a region. Inline elements (a, span, img, button...) are
# left out: their class names ("menu-link", "comment-reply-link") describe themselves.
_REGION_TAGS = _word_set(
    "div section aside nav header footer main article ul ol li dl td table tbody p form center "
    "figure menu details dialog"
)
# The nearest of these is a link's context block...
_BLOCK_TAGS = _word_set(
    "p li td th dd dt blockquote h1 h2 h3 h4 h5 h6 figcaption caption pre address summary legend"
)
# ...or the nearest of these that holds text of its own (old "div soup" pages).
_LOOSE_BLOCK_TAGS = _word_set("div section article main body center font form")
_INLINE_TAGS = _word_set("span font b strong i em u small big mark cite q abbr sub sup")
_LINK_TAGS = _word_set("a area")
# A block's kind in a link's chain of candidate context blocks: strict or loose (see _Chain).
_CHAIN_KINDS = {tag: True for tag in _BLOCK_TAGS} | {tag: False for tag in _LOOSE_BLOCK_TAGS}
_INVISIBLE_TAGS = _word_set("script style noscript template")
# Elements a browser renders on a line (or in a cell) of their own: their text is a separate word.
_SEPARATED_TAGS = (_REGION_TAGS | _BLOCK_TAGS | _LOOSE_BLOCK_TAGS) - _word_set(
    "body font center"
) | _word_set("br hr tr option button hgroup fieldset")
# What the walk sets aside for after it: the page's <meta> and <base>, the invisible elements.
_SET_ASIDE_TAGS = _INVISIBLE_TAGS | _word_set("meta base")
# One walk over the tree does all that needs one: a pass over a page costs about the same
# whatever it looks for.
_WALK_TAGS = tuple(
    _REGION_TAGS | _BLOCK_TAGS | _LOOSE_BLOCK_TAGS | _LINK_TAGS | _SEPARATED_TAGS | _SET_ASIDE_TAGS
)
_NOT_PROSE_TAGS = _word_set("h1 h2 h3 h4 h5 h6 th dt caption summary legend")

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD_RE = re.compile(r"[^a-z0-9]+")
# Sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_SENTENCE_END_RE = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019\u00bb)\]]*\s")
_META_REFRESH_RE = re.compile(
    r"""\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(?P<q>["']?)(?P<url>.*?)(?P=q)\s*\Z""",
    re.IGNORECASE | re.DOTALL,
)
_LATE_CHARSET_RE = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
# WHATWG URL parsing strips leading/trailing C0 controls and spaces and drops tabs/newlines.
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
# Hrefs whose urljoin result is known without running it (see _Resolver).
_PLAIN_ABSOLUTE_RE = re.compile(
    r"https?://[A-Za-z0-9.\-_~%!$&'()*+,=:@]+(?:/[^?#;]*)?(?:\?[^#]+)?(?:#.+)?\Z", re.DOTALL
)
_PLAIN_ROOTED_RE = re.compile(r"/(?!/)[^?#;]*(?:\?[^#]+)?(?:#.+)?\Z", re.DOTALL)

# Our robots token: <meta name="backlinksbot">, "backlinksbot: nofollow".
_USER_AGENT = "backlinksbot"
_ROBOTS_VALUE_DIRECTIVES = _word_set(
    "unavailable_after max-snippet max-image-preview max-video-preview"
)
_CACHE_LIMIT = 50_000  # class names and ids remembered per PositionRules
_CARD_CHARS = 500  # an <article> with less text is a teaser card, not the page's content
_SIDEBAR_ARTICLE_CHARS = 1000  # a content class this long inside a sidebar is the article
_LINKS_PAGE_CHARS = 200  # page content with less text outside links is a list of links
_MIN_MAIN_CHARS = 200  # page text comes from <main>/content when it has this much
_MAX_TEXT_CANDIDATES = 50
_PROSE_EXTRA_CHARS = 60  # running text holds this much besides (twice) the anchor


def _words(name: str) -> tuple[str, ...]:
    """Split one class name or id into lower-case words ("siteHeader_top" -> site header top)."""
    lowered = name.lower()
    if lowered != name:
        lowered = _CAMEL_RE.sub("-", name).lower()
    return tuple(w for w in _NON_WORD_RE.split(lowered) if w)


def _trie_regex(words: list[str]) -> str:
    """A regex alternation of ``words`` factored by common prefixes, longest tried first."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:
        branches = [re.escape(char) + emit(child) for char, child in node.items() if char]
        if not branches:
            return ""
        if "" in node:
            return "(?:" + "|".join(branches) + ")?"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(trie)


@dataclass(frozen=True, slots=True)
class PositionRules:
    """class/id tokens (lower-case substrings or regex) per position; built from a settings dict.

    ``patterns`` holds ``(position, patterns)`` pairs in POSITIONS order; see
    DEFAULT_POSITION_PATTERNS for how a pattern matches. Results are cached per class name and
    per class/id value: the same few hundred names repeat over a site's pages.
    """

    patterns: tuple[tuple[str, tuple[str, ...]], ...]
    _word_patterns: dict[str, tuple[tuple[str, int], ...]] = field(
        init=False, repr=False, compare=False
    )
    _words_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _prefilter: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _regexes: tuple[tuple[re.Pattern[str], str], ...] = field(init=False, repr=False, compare=False)
    _names: dict[str, tuple[str, int] | None] = field(init=False, repr=False, compare=False)
    _cache: dict[str, tuple[str, int] | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        word_patterns: dict[str, tuple[tuple[str, int], ...]] = {}
        regexes: list[tuple[re.Pattern[str], str]] = []
        for position, patterns in self.patterns:
            if position not in POSITIONS:
                raise ValueError(f"unknown link position {position!r}; expected one of {POSITIONS}")
            for pattern in patterns:
                if not isinstance(pattern, str) or not pattern.strip():
                    raise ValueError(f"empty or non-string pattern {pattern!r} for {position!r}")
                if pattern.startswith("re:"):
                    try:
                        regexes.append((re.compile(pattern[3:]), position))
                    except re.error as exc:
                        raise ValueError(f"bad regex {pattern!r} for {position!r}: {exc}") from None
                    continue
                words = _words(pattern)
                if not words:
                    raise ValueError(f"pattern {pattern!r} for {position!r} has no letters")
                joined = "-".join(words)
                word_patterns[joined] = (*word_patterns.get(joined, ()), (position, len(words)))
        # One trie-shaped regex over all word patterns costs a step per character, not per
        # pattern; its greedy tails try "entry-header" before "entry" at the same offset.
        words_re = prefilter = None
        if word_patterns:
            trie = _trie_regex(sorted(word_patterns))
            words_re = re.compile(rf"(?<![a-z0-9])(?:{trie})(?![a-z0-9])")
            # Most names hold no pattern word at all: a search of the raw lower-cased name for
            # any first word rejects them before they are split into words.
            prefilter = re.compile(_trie_regex(sorted({w.split("-")[0] for w in word_patterns})))
        object.__setattr__(self, "_word_patterns", word_patterns)
        object.__setattr__(self, "_words_re", words_re)
        object.__setattr__(self, "_prefilter", prefilter)
        object.__setattr__(self, "_regexes", tuple(regexes))
        object.__setattr__(self, "_names", {})
        object.__setattr__(self, "_cache", {})

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]] | None) -> PositionRules:
        """Rules from a settings dict: each position given replaces that default list.

        To extend a default list, spell it out: ``DEFAULT_POSITION_PATTERNS["sidebar"] + (...)``;
        to switch a position off, give it ``()``. A plain string counts as one pattern.
        """
        merged: dict[str, tuple[str, ...]] = dict(DEFAULT_POSITION_PATTERNS)
        for position, patterns in (mapping or {}).items():
            if position not in POSITIONS:
                raise ValueError(f"unknown link position {position!r}; expected one of {POSITIONS}")
            if isinstance(patterns, str):
                patterns = (patterns,)
            try:
                merged[position] = tuple(patterns)
            except TypeError:
                raise ValueError(f"patterns for {position!r} must be a list of strings") from None
        return cls(tuple((p, merged[p]) for p in POSITIONS if p in merged))

    def classify(self, value: str) -> tuple[str, int] | None:
        """(position, strength) for a class or id attribute value, or None; cached.

        Each name is judged alone; the strongest wins, and between names of equal strength the
        more specific section: class="widget widget_nav_menu" is a sidebar.
        """
        cache = self._cache
        try:
            return cache[value]
        except KeyError:
            pass
        result = None
        names = self._names
        for name in value.split():
            try:
                found = names[name]
            except KeyError:
                if len(names) >= _CACHE_LIMIT:
                    names.clear()
                found = names[name] = self._classify_name(name)
            if found is not None and (
                result is None
                or found[1] > result[1]
                or (found[1] == result[1] and _TIE_RANK[found[0]] < _TIE_RANK[result[0]])
            ):
                result = found
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[value] = result
        return result

    def _classify_name(self, name: str) -> tuple[str, int] | None:
        """Position one class name or id points to, with the strength of the evidence.

        Between matches of equal strength the last wins, as the last word of an English
        compound names the thing: "footer-menu" is a menu, "menu-footer" a footer.
        """
        lowered = name.lower()
        best: tuple[str, int] | None = None
        for regex, position in self._regexes:
            if regex.search(lowered):
                best = (position, _STRONG)
        words_re = self._words_re
        if words_re is not None and self._prefilter and not self._prefilter.search(lowered):
            words_re = None
        if words_re is None and best is None:
            return None
        words = _words(name)
        if not words or not _STATE_WORDS.isdisjoint(words):
            return None
        if words_re is not None:
            is_part = not _PART_WORDS.isdisjoint(words)
            for match in words_re.finditer("-".join(words)):
                for position, size in self._word_patterns[match.group()]:
                    if size == 1 and is_part:
                        continue
                    strength = _STRONG if size > 1 else _WEAK
                    if best is None or strength >= best[1]:
                        best = (position, strength)
        return best


DEFAULT_RULES = PositionRules.from_mapping(None)


@dataclass(slots=True)
class Link:
    """One <a href> or <area href> of a page, resolved and placed."""

    url: str  # absolute, resolved against the base (urljoin's result, not canonicalised)
    anchor_text: str  # collapsed text; for an image link its alt (or title)
    rel: tuple[str, ...]  # lower-case rel tokens, in order, deduplicated
    nofollow: bool  # rel nofollow, or the page is nofollow
    link_type: str  # "text" or "image" (an <img> and no text, or an <area>)
    position: str  # one of POSITIONS
    context: str  # the sentence(s) around the link, at most context_chars; "" if none
    tag: str  # "a" or "area"


@dataclass(slots=True)
class Page:
    """What one HTML page says about itself and where it links."""

    url: str  # the base URL used to resolve links (after <base href>)
    title: str
    lang: str  # <html lang>, lower-cased; "" if none
    text: str  # visible text, main content preferred, at most text_chars
    links: list[Link]
    nofollow: bool  # meta robots / X-Robots-Tag nofollow (or none)
    noindex: bool
    meta_refresh: str | None  # absolute http(s) target of a <meta http-equiv=refresh>


def robots_directives(value: str | None, *, user_agent: str = _USER_AGENT) -> set[str]:
    """Lower-case robots directives in a meta robots or X-Robots-Tag value that apply to us.

    Unscoped directives apply; "googlebot: nofollow" style ones only when the scope is our
    user-agent token. A scope lasts until the next scope or the end of the line, so several
    X-Robots-Tag header lines can be passed joined by newlines. "none" implies noindex and
    nofollow. Value directives ("max-snippet: 50") are reported by name only.
    """
    if not value:
        return set()
    agent = user_agent.strip().lower()
    result: set[str] = set()
    for line in value.lower().splitlines():
        applies = True
        for part in line.split(","):
            head, colon, tail = part.partition(":")
            head = head.strip()
            if colon and head in _ROBOTS_VALUE_DIRECTIVES:
                if applies:
                    result.add(head)
                continue
            if colon:
                if not head or " " in head:  # a comma inside a date value, not a scope
                    continue
                applies = head == agent
                part = tail
            if applies:
                result.update(part.split())
    if "none" in result:
        result.update(("noindex", "nofollow"))
    return result


_local = threading.local()


def _parser() -> etree.HTMLParser:
    """A UTF-8 HTML parser per thread (lxml parsers must not be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        # lxml.html's default options (the tree is the one a plain lxml.html parse builds),
        # minus the id table nobody reads, and the input encoding fixed: we pick it ourselves,
        # where libxml2 would read undeclared UTF-8 as Latin-1. huge_tree: without it libxml2
        # stops the whole parse at the 256th nested element (300 unclosed <font> tags do it) or
        # a 10 MB text or attribute, and drops the rest of the page; browsers keep it. With it,
        # nesting stops at 2048. The input is bounded by the page size cap, and HTML has no
        # entity expansion to blow it up.
        parser = etree.HTMLParser(encoding="utf-8", collect_ids=False, huge_tree=True)
        _local.parser = parser
    return parser


def _to_utf8(html: str | bytes) -> bytes:
    """UTF-8 bytes for the parser: BOM, else <meta charset> (first 4 KB), else UTF-8 when it
    decodes, else a later <meta charset>, else windows-1252, the web's legacy default."""
    if isinstance(html, str):
        # Lone surrogates become invalid UTF-8, which libxml2 replaces instead of stopping at.
        return html.encode("utf-8", "surrogatepass")
    data = bytes(html)
    bom_encoding, bom = read_bom(data)
    try:
        if bom_encoding is not None and bom is not None:
            if bom_encoding == "utf-8":
                return data[len(bom) :]
            return to_unicode(data[len(bom) :], bom_encoding).encode("utf-8", "surrogatepass")
        encoding = html_body_declared_encoding(data)
        if encoding is None:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                match = _LATE_CHARSET_RE.search(data, 0, 65536)
                label = match.group(1).decode("ascii") if match else None
                encoding = (label and resolve_encoding(label)) or "cp1252"
            else:
                return data
        if encoding in ("utf-8", "utf8"):
            return data
        return to_unicode(data, encoding).encode("utf-8", "surrogatepass")
    except (LookupError, UnicodeError, ValueError):
        return data


def _parse(html: str | bytes) -> etree._Element | None:
    """The document's root element, or None for an empty or hopeless document."""
    if not isinstance(html, str | bytes | bytearray | memoryview):
        return None
    try:
        data = _to_utf8(html)
        if not data or data.isspace():  # (no stripped copy of the whole page)
            return None
        root = etree.fromstring(data, _parser())
    except (etree.LxmlError, ValueError, TypeError, MemoryError):
        return None
    if root is None or not isinstance(root.tag, str):
        return None
    return root


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _node_text(el: etree._Element) -> str:
    """Whitespace-collapsed text of an element, tail excluded (C serialiser, no Python walk)."""
    return " ".join(etree.tostring(el, method="text", encoding=str, with_tail=False).split())


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    return text[: cut if cut > limit // 2 else limit].rstrip()


def _context(text: str, start: int, end: int, limit: int) -> str:
    """At most ``limit`` characters of ``text`` centred on [start, end), trimmed to whole
    sentences where a sentence boundary falls inside the window, else to whole words."""
    size = len(text)
    if size <= limit:
        return text
    if end - start >= limit:
        return _cut(text[start:], limit)
    lo = max(0, min((start + end - limit) // 2, size - limit))
    hi = lo + limit
    if lo > 0:
        new_lo = -1
        for match in _SENTENCE_END_RE.finditer(text, max(0, lo - 4), start):
            if match.end() >= lo:
                new_lo = match.end()
                break
        if new_lo < 0:
            space = text.find(" ", lo - 1, start)
            new_lo = space + 1 if space >= 0 else lo
        lo = new_lo
    if hi < size:
        new_hi = -1
        for match in _SENTENCE_END_RE.finditer(text, end, hi + 1):
            new_hi = match.end() - 1
        if new_hi < 0:
            space = text.rfind(" ", end, hi + 1)
            new_hi = space if space >= 0 else hi
        hi = new_hi
    return text[lo:hi].strip()


def _clean_href(href: str) -> str:
    """Strip surrounding whitespace/controls and drop tabs and newlines, as browsers do."""
    href = href.strip(_C0_OR_SPACE)
    if "\t" in href or "\n" in href or "\r" in href:
        href = href.translate(_TAB_NEWLINE)
    return href


def _is_web_url(url: str) -> bool:
    """http(s) (any case: urljoin keeps a foreign scheme's case) with a non-empty host part."""
    head = url[:8].lower()
    if head.startswith("http://"):
        rest = url[7:]
    elif head == "https://":
        rest = url[8:]
    else:
        return False
    return bool(rest) and rest[0] not in "/?#"


def _resolve(base: str, href: str) -> str | None:
    try:
        url = urljoin(base, _clean_href(href))
    except ValueError:  # e.g. an unbalanced "[" in an IPv6 host
        return None
    return url if _is_web_url(url) else None


def _plain_path(href: str) -> bool:
    """No "//" or dot segment in the path part, which urljoin would squeeze or resolve."""
    end = len(href)
    for char in "?#":
        at = href.find(char)
        if 0 <= at < end:
            end = at
    path = href[:end]
    return "//" not in path and "/." not in path


class _Resolver:
    """urljoin against one base, with a per-page cache and fast paths for the common hrefs.

    Once parsing is fast, URL joining costs more than parsing, and 9 in 10 hrefs are either
    plain absolute http(s) URLs or root-relative paths. For those, urljoin's answer is the href
    itself or the base's origin plus the href, provided nothing in them would be rewritten: no
    ";" params, no empty "?" or "#" (urlunparse drops them), no "//" or dot segments in a rooted
    path (urljoin squeezes and resolves them) and a plain ASCII host (urlsplit validates others).
    Anything else goes through urljoin itself; the tests check that both agree.
    """

    __slots__ = ("base", "cache", "origin")

    def __init__(self, base: str) -> None:
        self.base = base
        self.cache: dict[str, str | None] = {}
        self.origin = ""
        try:
            parts = urlsplit(base)
        except ValueError:
            return
        if parts.scheme in ("http", "https") and parts.netloc and _is_web_url(base):
            self.origin = f"{parts.scheme}://{parts.netloc}"

    def __call__(self, href: str) -> str | None:
        try:
            return self.cache[href]
        except KeyError:
            pass
        clean = _clean_href(href)
        url: str | None
        if _PLAIN_ABSOLUTE_RE.match(clean):
            url = clean
        elif self.origin and _PLAIN_ROOTED_RE.match(clean) and _plain_path(clean):
            url = self.origin + clean
        else:
            url = _resolve(self.base, clean)
        self.cache[href] = url
        return url


def _meta_refresh(content: str, base: str) -> str | None:
    """The target of a refresh value such as "0; url='/next'", resolved; None without one."""
    match = _META_REFRESH_RE.match(content)
    if match is None or not match.group("url"):
        return None
    return _resolve(base, match.group("url"))


def _has_own_text(el: etree._Element) -> bool:
    """Text directly in ``el`` or in an inline child (<span>, <font>...), not in child blocks."""
    text = el.text
    if text and not text.isspace():
        return True
    for child in el:
        tail = child.tail
        if tail and not tail.isspace():
            return True
        if child.tag in _INLINE_TAGS and (text := child.text) and not text.isspace():
            return True
    return False


def _classify_element(el: etree._Element, tag: str, rules: PositionRules) -> tuple[str, int] | None:
    """Region an element opens, with the strength of the evidence, or None."""
    if tag == "main":
        return "main", _ROLE
    best = None
    position = _TAG_POSITIONS.get(tag)
    if position is not None:
        best = (position, _TAG)
    role = el.get("role")
    if role:
        for token in role.lower().split():
            position = _ROLE_POSITIONS.get(token)
            if position == "content":  # role=article: an <article> by another name
                best = (position, _TAG)
            elif position is not None:
                return position, _ROLE
    for attr in ("class", "id"):
        value = el.get(attr)
        if value:
            found = rules.classify(value)
            if found is not None and (
                best is None
                or found[1] > best[1]
                or (found[1] == best[1] and _TIE_RANK[found[0]] < _TIE_RANK[best[0]])
            ):
                best = found
    return best


# A link's candidate context blocks, innermost first: a linked list of (element, is_strict_block,
# parent chain) sharing its tail with the chains of the element's ancestors.
_Chain: TypeAlias = "tuple[etree._Element, bool, _Chain] | None"
# An <article> that opened content outside any region, with the position around it: a possible
# teaser card of a listing (see _links).
_Card: TypeAlias = tuple[etree._Element, str]
# A raw link: element, href, position (or the card it sits in) and its block chain.
_RawLink: TypeAlias = tuple[etree._Element, str, "str | _Card", _Chain]


class _Walked(NamedTuple):
    """What _walk finds."""

    links: list[_RawLink]  # every a/area with href
    mains: list[etree._Element]  # the <main> elements
    contents: list[etree._Element]  # the outermost content regions
    set_aside: list[etree._Element]  # <meta>, <base> and invisible elements, in document order


def _walk(root: etree._Element, rules: PositionRules) -> _Walked:
    """One top-down pass: every a/area with href, with its region and candidate context blocks;
    the <main> elements and the content regions, for the page text; and the elements the rest
    of extract_page needs (<meta>, <base>, what _prepare_text removes), so that no other pass
    over the tree is needed. On the way it puts a space before the text and the tail of each
    separated element, as a browser renders it on a line of its own: the page text then reads
    as rendered (lxml refuses text with control characters its parser let through: such an
    element keeps its text as it is; a space too many is collapsed later).

    The region is a running state: an element that opens a region replaces it for its subtree
    (the innermost wins), with the exceptions listed at _enter_region.
    """
    walked = _Walked([], [], [], [])
    links = walked.links
    position = "unknown"
    card: _Card | None = None
    chain: _Chain = None
    # (element, state to restore at its end); the bottom entry is never popped.
    stack: list[tuple[etree._Element | None, str, _Card | None, _Chain]] = [
        (None, position, card, chain)
    ]
    for event, el in etree.iterwalk(root, events=("start", "end"), tag=_WALK_TAGS):
        if event == "end":
            if stack[-1][0] is el:
                _, position, card, chain = stack.pop()
            continue
        tag = el.tag
        if tag in _LINK_TAGS:
            href = el.get("href")
            if href is not None:
                links.append((el, href, card or position, chain))
            continue
        if tag in _SEPARATED_TAGS:  # inline: this runs for most elements
            text = el.text
            tail = el.tail
            try:
                if not text or not text[0].isspace():
                    el.text = " " + text if text else " "
                if not tail or not tail[0].isspace():
                    el.tail = " " + tail if tail else " "
            except ValueError:
                pass
        elif tag in _SET_ASIDE_TAGS:
            walked.set_aside.append(el)
            continue
        new_position = position
        new_card = card
        if tag in _REGION_TAGS:
            found = _classify_element(el, tag, rules)
            if found is not None:
                new_position, new_card = _enter_region(el, found, position, card, walked)
        strict = _CHAIN_KINDS.get(tag)
        new_chain: _Chain = chain if strict is None else (el, strict, chain)
        if new_position is not position or new_card is not card or new_chain is not chain:
            stack.append((el, position, card, chain))
            position = new_position
            card = new_card
            chain = new_chain
    return walked


def _enter_region(
    el: etree._Element, found: tuple[str, int], position: str, card: _Card | None, walked: _Walked
) -> tuple[str, _Card | None]:
    """The (position, card) inside ``el``, which ``_classify_element`` found to open region
    ``found`` inside ``position``; records ``el`` in ``walked.mains`` or, if it is an outermost
    content region, in ``walked.contents``.

    The innermost region wins, except that:
    (1) an <article> or a content class inside a non-content region is an item of that region
        (a related-posts card in a sidebar, a comment <article> in a comment list), unless it is
        a content class of _SIDEBAR_ARTICLE_CHARS or more inside a sidebar or related box: that
        is the article, in a wrapper the theme named after its layout ("pg-rail-tall__wrapper");
    (2) a header/footer inside a region (an article, a comment, a widget...) is that region's
        own, as in HTML5, unless it says otherwise loudly (role=banner, "site-header");
    (3) <main> and role=main always mean content, but are tracked as "main": pages wrap their
        whole layout in <main> often enough that a <header> element directly inside it is taken
        as the site header (a one-word "header" class there is still the section's own). "main"
        is reported as "content";
    (4) an <article> opening content outside any region may be a teaser card of a listing:
        _links decides by its size;
    (5) a "related" class (byline, newsletter...) opens "related" inside content or <main>
        and nothing elsewhere; a class naming a sidebar box (widget, related, share...) opens
        "related" inside an article or content class (not <main> alone, which often wraps the
        page's sidebar as well): boilerplate in the article, not a column beside it.
    """
    label, strength = found
    if label == "related":
        if position in ("content", "main"):
            return "related", None  # (5)
        return position, card
    if label == "sidebar" and strength in (_STRONG, _WEAK) and position == "content":
        return "related", None  # (5)
    if label == "main":
        walked.mains.append(el)
        return "main", None
    if label == "content":
        if position not in ("unknown", "main", "content") and not (
            (position == "sidebar" or position == "related")
            and strength >= _STRONG
            and len(_node_text(el)) >= _SIDEBAR_ARTICLE_CHARS
        ):
            return position, card  # (1)
        if position != "content":  # one nested in another has less text: never the longest
            walked.contents.append(el)
        if position == "unknown" and strength == _TAG:
            return "content", (el, position)  # (4)
        return "content", card
    if label in ("header", "footer") and strength < _STRONG and position != "unknown":
        # (2): the header/footer of the article, comment, widget... it sits in; directly in
        # <main> only a one-word class (see (3)).
        if position == "main" and strength >= _TAG:
            return label, None
        return position, card
    return label, None


def _prepare_text(set_aside: list[etree._Element]) -> None:
    """Make the tree's text read like the rendered page, in place, before any text is taken:
    remove the script/style/noscript/template subtrees among ``set_aside`` (keeping their tails).

    _walk has put a space around the block elements, so "<li>Home</li><li>About</li>" reads
    "Home About", not "HomeAbout". lxml refuses to store text with control characters that its
    parser let through; such a text node is left as it is.
    """
    for el in set_aside:
        if el.tag not in _INVISIBLE_TAGS:
            continue
        parent = el.getparent()
        if parent is None:
            continue
        tail = el.tail
        if tail:
            previous = el.getprevious()
            with suppress(ValueError):
                if previous is not None:
                    previous.tail = (previous.tail or "") + tail
                else:
                    parent.text = (parent.text or "") + tail
        parent.remove(el)


class _BlockFinder:
    """A link's context block from its chain of candidate blocks: the nearest strict block, or
    loose block (div...) with text of its own. Memoised per chain link, as a page's links share
    their ancestors, so each candidate is judged once however deep the nesting."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        # id() of a chain tuple -> its block; the tuples live as long as the raw links do.
        self.found: dict[int, etree._Element | None] = {}

    def __call__(self, chain: _Chain) -> etree._Element | None:
        found = self.found
        visited: list[int] = []
        block = None
        while chain is not None:
            key = id(chain)
            if key in found:
                block = found[key]
                break
            visited.append(key)
            candidate, strict, parent = chain
            if strict or _has_own_text(candidate):
                block = candidate
                break
            chain = parent
        for key in visited:
            found[key] = block
        return block


# (link type, anchor, from its own text) of each <a> met so far, by _links and _Block alike.
_Anchors: TypeAlias = dict[etree._Element, tuple[str, str, bool]]


class _Block:
    """A block's collapsed text, computed once, where its last link was found, and how much of
    it is link text."""

    __slots__ = ("alt_chars", "cursor", "link_chars", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = 0  # links come in document order: look for each after the previous one
        self.link_chars = -1  # text of the <a> elements inside, once counted
        self.alt_chars = 0  # alt text of the image links among them

    def _count_links(self, block: etree._Element, anchors: _Anchors) -> None:
        link_chars = alt_chars = 0
        for a in block.iter("a", "area"):
            found = anchors.get(a)
            if found is None:
                found = anchors[a] = _anchor(a)
            link_type, anchor, from_text = found
            if from_text:
                link_chars += len(anchor)
            elif link_type == "image":
                alt_chars += len(anchor)
        self.link_chars = link_chars
        self.alt_chars = alt_chars

    def own_chars(self, block: etree._Element, anchors: _Anchors) -> int:
        """Characters of text outside links."""
        if self.link_chars < 0:
            self._count_links(block, anchors)
        return len(self.text) - self.link_chars

    def is_link_list(self, block: etree._Element, anchors: _Anchors) -> bool:
        """At least half link text, an image link counting with its alt text (a reader sees the
        picture as part of the link); true of a block with no text at all."""
        if self.link_chars < 0:
            self._count_links(block, anchors)
        alt_chars = self.alt_chars
        return (self.link_chars + alt_chars) * 2 >= len(self.text) + alt_chars

    def context(self, anchor: str, limit: int) -> str:
        """The text around ``anchor`` (around the previous link's end when it is not found,
        e.g. for an image link), or "" when the block holds nothing but the anchor."""
        text = self.text
        if not text or text == anchor:
            return ""
        at = -1
        if anchor:
            at = text.find(anchor, self.cursor)
            if at < 0:
                at = text.find(anchor)
        if at >= 0:
            start, end = at, at + len(anchor)
            self.cursor = end
        else:
            start = end = self.cursor
        return _context(text, start, end, limit)

    def is_prose(self, block: etree._Element, anchor: str, anchors: _Anchors) -> bool:
        """Running text: not a heading, text well beyond the anchor, mostly not link text."""
        text = self.text
        if block.tag in _NOT_PROSE_TAGS or len(text) < 2 * len(anchor) + _PROSE_EXTRA_CHARS:
            return False
        if self.link_chars < 0:
            self._count_links(block, anchors)
        return self.link_chars * 2 < len(text)


def _page_directives(
    set_aside: list[etree._Element], robots_header: str | None
) -> tuple[set[str], str]:
    """Robots directives (meta and header) and the content of the first meta refresh."""
    directives = robots_directives(robots_header)
    refresh = ""
    for meta in set_aside:
        if meta.tag != "meta":
            continue
        name = meta.get("name")
        if name:
            if name.strip().lower() in ("robots", _USER_AGENT):
                directives |= robots_directives(meta.get("content"))
        elif not refresh:
            equiv = meta.get("http-equiv")
            if equiv and equiv.strip().lower() == "refresh":
                refresh = meta.get("content") or ""
    return directives, refresh


def extract_page(
    html: str | bytes,
    url: str,
    *,
    robots_header: str | None = None,
    rules: PositionRules = DEFAULT_RULES,
    context_chars: int = 240,
    text_chars: int = 20000,
) -> Page:
    """Parse one page and return its http(s) links with anchor, rel, position and context.

    Never raises on bad input: an empty or unparseable document gives a Page without links.
    Bytes are decoded by BOM, then <meta charset> (first 4 KB), then as UTF-8 when valid, then
    by a later <meta charset> or windows-1252; pass ``str`` when the HTTP header already told.
    ``robots_header`` is the X-Robots-Tag value (several header lines joined by newlines).

    A link outside every recognised region is "content" when it sits in running text (a
    paragraph-like block, not a heading, with text well beyond its anchor and mostly not link
    text): that is where the links of a page without landmarks or known classes mostly are, and
    what the editor wrote. Otherwise it is "unknown" (unlabelled wrappers, listings, link lists).
    """
    root = _parse(html)
    if root is None:
        return Page(url, "", "", "", [], False, False, None)
    walked = _walk(root, rules)
    base = _base_url(walked.set_aside, url)
    directives, refresh = _page_directives(walked.set_aside, robots_header)
    page_nofollow = "nofollow" in directives
    # Only now: the walk must see links inside <noscript> and <template> too.
    _prepare_text(walked.set_aside)
    main_content = _main_content(walked.mains, walked.contents)
    links = _links(walked.links, base, page_nofollow, max(0, context_chars), main_content)

    return Page(
        url=base,
        title=_title(root),
        lang=_collapse(root.get("lang") or root.get("xml:lang") or "").lower(),
        text=_cut(_page_text(root, main_content), max(0, text_chars)),
        links=links,
        nofollow=page_nofollow,
        noindex="noindex" in directives,
        meta_refresh=_meta_refresh(refresh, base) if refresh else None,
    )


def _base_url(set_aside: list[etree._Element], url: str) -> str:
    """The URL links resolve against: the first <base href> (as in browsers), else ``url``."""
    for el in set_aside:
        if el.tag != "base":
            continue
        href = el.get("href")
        if href is not None:
            with suppress(ValueError):
                return urljoin(url, _clean_href(href))
            break
    return url


def _links(
    raw_links: list[_RawLink],
    base: str,
    page_nofollow: bool,
    context_chars: int,
    main_content: tuple[etree._Element | None, str],
) -> list[Link]:
    """The Links of the walk's raw links that resolve to http(s) URLs, in document order, with
    anchor, rel, context and final position. Runs per link: helpers only on the rare paths.

    A content link is "related" when its nearest block (p, li, h2, div...) is a link list: at
    least half its text is link text (see _Block.is_link_list). That is what story cards,
    related lists, share bars and link-only bylines have in common, and what a paragraph the
    writer wrote has not. Exceptions:
    - on a page whose main content has under _LINKS_PAGE_CHARS of text outside links (a
      blogroll, a directory, a page of resources) the links are the content;
    - a text link to another site in a paragraph (<p>) is the writer's own citation or
      recommendation, however many links the paragraph holds;
    - a content link right before or after a related link to the same URL is related too: the
      picture of a story card that links where its title does.
    """
    resolve = _Resolver(base)
    card_size: dict[etree._Element, int] = {}
    blocks: dict[etree._Element, _Block] = {}
    find_block = _BlockFinder()
    anchors: _Anchors = {}
    is_related = _Related(base, main_content, blocks, anchors)
    previous: Link | None = None
    links: list[Link] = []
    for el, href, where, chain in raw_links:
        target = resolve(href)
        if target is None:
            continue
        if isinstance(where, tuple):
            # An <article> that opened content outside any other region: content if it is a
            # real article, else a teaser card of a listing, placed like its surroundings.
            article, outer = where
            size = card_size.get(article)
            if size is None:
                size = card_size[article] = len(_node_text(article))
            position = "content" if size >= _CARD_CHARS else outer
        else:
            position = where
        tag = el.tag
        found = anchors.get(el) if anchors else None
        if found is None:
            found = _anchor(el)
            if position == "content" or position == "main":  # _Block may count it
                anchors[el] = found
        link_type, anchor, from_text = found
        rel_value = el.get("rel")
        rel = tuple(dict.fromkeys(rel_value.lower().split())) if rel_value else ()

        context = ""
        block = find_block(chain)
        if block is not None:
            info = blocks.get(block)
            if info is None:
                info = blocks[block] = _Block(_block_text(block, el, anchor, from_text))
            context = info.context(anchor if from_text else "", context_chars)
            if position == "unknown" and context and info.is_prose(block, anchor, anchors):
                position = "content"
        if position == "main":
            position = "content"
        if position == "content" and chain is not None and is_related(chain[0], el, found, target):
            position = "related"
        link = Link(
            target,
            anchor,
            rel,
            page_nofollow or "nofollow" in rel,
            link_type,
            position,
            context,
            tag,
        )
        if previous is not None and previous.url == target:
            if position == "related" and previous.position == "content":
                previous.position = "related"
            elif position == "content" and previous.position == "related":
                link.position = "related"
        links.append(link)
        previous = link
    return links


class _Related:
    """Whether a content link is "related", by the rule and exceptions given at _links."""

    __slots__ = ("anchors", "base", "blocks", "links_page", "main_content", "page_host")

    def __init__(
        self,
        base: str,
        main_content: tuple[etree._Element | None, str],
        blocks: dict[etree._Element, _Block],
        anchors: _Anchors,
    ) -> None:
        self.base = base
        self.main_content = main_content
        self.blocks = blocks
        self.anchors = anchors
        self.links_page: bool | None = None  # judged when first needed, as is page_host
        self.page_host = ""

    def __call__(
        self, near: etree._Element, el: etree._Element, found: tuple[str, str, bool], target: str
    ) -> bool:
        """For link ``el`` to ``target``, whose nearest block is ``near`` and whose anchor is
        ``found`` (as _anchor gives it)."""
        link_type, anchor, from_text = found
        info = self.blocks.get(near)
        if info is None:
            info = self.blocks[near] = _Block(_block_text(near, el, anchor, from_text))
        if not info.is_link_list(near, self.anchors):
            return False
        if self.links_page is None:
            self.links_page = _is_links_page(self.main_content, self.blocks, self.anchors)
            self.page_host = _host(self.base)
        if self.links_page:
            return False
        return not (near.tag == "p" and link_type == "text" and _host(target) != self.page_host)


def _block_text(block: etree._Element, el: etree._Element, anchor: str, from_text: bool) -> str:
    """The collapsed text of ``block``, which holds link ``el``: the anchor, without serialising
    the block, when the link is all there is in it (as in most menu items)."""
    if from_text and len(block) == 1 and block[0] is el:
        text = block.text
        tail = el.tail
        if (not text or text.isspace()) and (not tail or tail.isspace()):
            return anchor
    return _node_text(block)


def _is_links_page(
    main_content: tuple[etree._Element | None, str],
    blocks: dict[etree._Element, _Block],
    anchors: _Anchors,
) -> bool:
    """Whether the page's main content has under _LINKS_PAGE_CHARS of text outside links."""
    element, text = main_content
    if element is None:
        return True
    info = blocks.get(element)
    if info is None:
        info = blocks[element] = _Block(text)
    return info.own_chars(element, anchors) < _LINKS_PAGE_CHARS


def _host(url: str) -> str:
    """The lower-case host of an http(s) URL, without a leading "www."."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def _anchor(el: etree._Element) -> tuple[str, str, bool]:
    """(link type, anchor, whether the anchor is the link's own text) of an <a> or <area>."""
    if el.tag == "area":
        return "image", _collapse(el.get("alt") or el.get("title") or ""), False
    text = el.text
    anchor = _collapse(text) if text and len(el) == 0 else _node_text(el)
    if anchor:
        return "text", anchor, True
    return (*_textless_anchor(el), False)


def _textless_anchor(el: etree._Element) -> tuple[str, str]:
    """(link type, anchor) of an <a> without text: an image link's alt (or title), else what a
    screen reader would announce for an icon link."""
    img = next(el.iter("img"), None)
    if img is not None:
        return "image", _collapse(img.get("alt") or img.get("title") or "")
    return "text", _collapse(el.get("aria-label") or el.get("title") or "")


def _title(root: etree._Element) -> str:
    """The text of <head><title>, else of the first <title> anywhere; "" without one."""
    title_el = root.find("head/title")
    if title_el is None:
        title_el = next(root.iter("title"), None)
    return _node_text(title_el) if title_el is not None else ""


def _main_content(
    mains: list[etree._Element], contents: list[etree._Element]
) -> tuple[etree._Element | None, str]:
    """The page's main content and its text: the first <main> with enough text, else the
    longest article or content region; (None, "") on a page without either."""
    for candidate in mains:
        text = _node_text(candidate)
        if len(text) >= _MIN_MAIN_CHARS:
            return candidate, text
    best: tuple[etree._Element | None, str] = (None, "")
    for candidate in contents[:_MAX_TEXT_CANDIDATES]:
        text = _node_text(candidate)
        if len(text) > len(best[1]):
            best = candidate, text
    return best


def _page_text(root: etree._Element, main_content: tuple[etree._Element | None, str]) -> str:
    """The page's visible text: its main content when that has enough text, else the body."""
    text = main_content[1]
    if len(text) < _MIN_MAIN_CHARS:
        body = root.find("body")
        text = _node_text(body if body is not None else root)
    return text
