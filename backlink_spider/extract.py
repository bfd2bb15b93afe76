"""Link extraction: HTML and page URL in, links with position and context out.

Pure functions, no Scrapy and no I/O, so the spider, the tests and the benchmark all run the same
code. A page is parsed once by lexbor (selectolax) and walked once top-down; the walk renders the
page's text once, and anchor text, context and page text are slices of it (see _walk and _El),
because that is what a crawler pays for on every page.

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
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, NamedTuple, TypeAlias
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode
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
    # (tag, class, id, role) -> the region the element opens (see _classify_element)
    _elements: dict[tuple, tuple[str, int] | None] = field(init=False, repr=False, compare=False)

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
        object.__setattr__(self, "_elements", {})

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


def _to_utf8(html: str | bytes) -> bytes:
    """UTF-8 bytes for the parser: BOM, else <meta charset> (first 4 KB), else UTF-8 when it
    decodes, else a later <meta charset>, else windows-1252, the web's legacy default."""
    if isinstance(html, str):
        # Lone surrogates become invalid UTF-8, which lexbor reads as U+FFFD.
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


def _parse(html: str | bytes) -> LexborNode | None:
    """The document's <html> element, or None for an empty or hopeless document."""
    if not isinstance(html, str | bytes | bytearray | memoryview):
        return None
    try:
        data = _to_utf8(html)
        if not data or data.isspace():  # (no stripped copy of the whole page)
            return None
        # Parsed as a browser with scripting disabled does: <noscript> content is markup.
        root = LexborHTMLParser(data).root
    except (ValueError, TypeError, MemoryError):
        return None
    return root


# --- the tree: lexbor tag ids, the walk and the page's rendered text --------------------------


def _tag_ids(names: Iterable[str]) -> dict[str, int]:
    """Lexbor's (static) tag id of each known HTML tag name."""
    parser = LexborHTMLParser("")
    return {name: parser.create_node(name).tag_id for name in names}


_TEXT_ID = 2
_COMMENT_ID = 4
_NAMES = _tag_ids(
    _REGION_TAGS
    | _BLOCK_TAGS
    | _LOOSE_BLOCK_TAGS
    | _INLINE_TAGS
    | _LINK_TAGS
    | _SEPARATED_TAGS
    | _SET_ASIDE_TAGS
    | _word_set("img title head body html")
)
_ID_NAMES = {tag_id: name for name, tag_id in _NAMES.items()}
_HEAD_ID = _NAMES["head"]
_TEMPLATE_ID = _NAMES["template"]
_INLINE_IDS = frozenset(_NAMES[tag] for tag in _INLINE_TAGS)
_INVISIBLE_IDS = frozenset(_NAMES[tag] for tag in _INVISIBLE_TAGS)

# What the walk does with an element, by tag id (anything else: descend, nothing more).
_K_LINK = 1  # a, area
_K_SEP = 2  # rendered apart: a space before and after its text
_K_SKIP = 4  # not descended into: script, style (raw text), meta, base (void)
_K_HIDE = 8  # noscript, template: walked, but its text is not the page's
_K_SET_ASIDE = 16  # meta, base: kept for after the walk
_K_REGION = 32  # may open a region
_K_STRICT = 64  # a strict context block
_K_LOOSE = 128  # a loose context block
_K_IMG = 256
_K_TITLE = 512
_K_BODY = 1024
_K_RECORD = _K_STRICT | _K_LOOSE | _K_TITLE | _K_BODY  # always gets an _El


def _kinds() -> dict[int, int]:
    kinds: dict[int, int] = {}

    def add(tags: Iterable[str], flag: int) -> None:
        for tag in tags:
            tag_id = _NAMES[tag]
            kinds[tag_id] = kinds.get(tag_id, 0) | flag

    add(_LINK_TAGS, _K_LINK)
    add(_SEPARATED_TAGS, _K_SEP)
    add(("script", "style", "meta", "base"), _K_SKIP)
    add(("noscript", "template"), _K_HIDE)
    add(("meta", "base"), _K_SET_ASIDE)
    add(_REGION_TAGS, _K_REGION)
    add(_BLOCK_TAGS, _K_STRICT)
    add(_LOOSE_BLOCK_TAGS, _K_LOOSE)
    add(("img",), _K_IMG)
    add(("title",), _K_TITLE)
    add(("body",), _K_BODY)
    kinds[_COMMENT_ID] = _K_SKIP
    return kinds


_KINDS = _kinds()
_MISSING: Any = object()


# An element whose text or links are read after the walk, as a list (a list display costs a
# fraction of a class instance's __init__, and the walk makes hundreds per page):
# [tag, node, level, start, end, lo, hi, img, attrs]: where its text lies in the rendered text
# of its level (parts [start, end) of it, see _walk), and which of the page's <a>/<area> it
# holds (``all_anchors[lo:hi]``); the node only where _has_own_text may need it; for a link the
# first <img> inside and its attributes. Level 0 is the page's visible text; inside a
# <noscript> or <template> text goes to level 1, inside two of them level 2...: what lxml's
# tree held after the invisible subtrees were removed from it, each from its own parent.
# Dictionaries key them by id().
_El: TypeAlias = list


def _collapse(text: str) -> str:
    return " ".join(text.split())


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


def _has_own_text(node: LexborNode) -> bool:
    """Text directly in ``node`` or at the start of an inline child (<span>, <font>...), not in
    child blocks (what lxml's el.text, the children's tails and an inline child's .text held
    once the invisible subtrees were removed, their tails kept)."""
    child = node.first_child
    while child is not None:
        tag_id = child.tag_id
        if tag_id == _TEXT_ID:
            text = child.text_content
            if text and not text.isspace():
                return True
        elif tag_id in _INLINE_IDS:
            inner = child.first_child
            while inner is not None:
                inner_id = inner.tag_id
                if inner_id == _TEXT_ID:
                    text = inner.text_content
                    if text and not text.isspace():
                        return True
                elif inner_id not in _INVISIBLE_IDS:
                    break
                inner = inner.next
        child = child.next
    return False


def _classify_element(
    attrs: dict[str, str | None], tag: str, rules: PositionRules
) -> tuple[str, int] | None:
    """Region an element opens, with the strength of the evidence, or None; ``attrs`` is its
    node.attributes (one pass, where each absent name asked of node.attrs costs an exception
    inside selectolax)."""
    if tag == "main":
        return "main", _ROLE
    best = None
    position = _TAG_POSITIONS.get(tag)
    if position is not None:
        best = (position, _TAG)
    if not attrs:
        return best
    role = attrs.get("role")
    if role:
        for token in role.lower().split():
            position = _ROLE_POSITIONS.get(token)
            if position == "content":  # role=article: an <article> by another name
                best = (position, _TAG)
            elif position is not None:
                return position, _ROLE
    for attr in ("class", "id"):
        value = attrs.get(attr)
        if value:
            found = rules.classify(value)
            if found is not None and (
                best is None
                or found[1] > best[1]
                or (found[1] == best[1] and _TIE_RANK[found[0]] < _TIE_RANK[best[0]])
            ):
                best = found
    return best


# The region an element without attributes opens, by tag.
_BARE_REGIONS = {tag: _classify_element({}, tag, DEFAULT_RULES) for tag in _REGION_TAGS}


# A link's candidate context blocks, innermost first: a linked list of (element, is_strict_block,
# parent chain) sharing its tail with the chains of the element's ancestors.
_Chain: TypeAlias = "tuple[_El, bool, _Chain] | None"
# Each level's text and the offsets of its parts (see _walk).
_Texts: TypeAlias = tuple[list[str], list[list[int]]]
# An <article> that opened content outside any region, with the position around it: a possible
# teaser card of a listing (see _links).
_Card: TypeAlias = tuple[_El, str]
# A raw link: element, href, position (or the card it sits in) and its block chain.
_RawLink: TypeAlias = tuple[_El, str, "str | _Card", _Chain]


class _Walked(NamedTuple):
    """What _walk finds."""

    links: list[_RawLink]  # every a/area with href
    anchors: list[_El]  # every a/area, with href or not (link text in a block)
    mains: list[_El]  # the <main> elements
    contents: list[_El]  # the outermost content regions
    set_aside: list[LexborNode]  # <meta> and <base>, in document order
    texts: list[str]  # the rendered text of each level (see _El)
    offsets: list[list[int]]  # where each part of a level's text starts in it (see _walk)
    titles: list[_El]  # the first <title> directly in <head>, the first <title>
    body: list[_El]  # the <body>


def _walk(root: LexborNode, rules: PositionRules) -> _Walked:  # noqa: C901 (one hot loop)
    """One top-down pass: every a/area with href, with its region and candidate context blocks;
    the <main> elements and the content regions, for the page text; <meta> and <base>; and the
    page's rendered text, once, with each interesting element's place in it (see _El).

    The text reads as rendered: a space wherever a separated element starts or ends (a browser
    renders it on a line of its own), none around inline elements, so "<b>W</b>ord" reads
    "Word" and "<li>Home</li><li>About</li>" "Home About"; script and style are skipped, and the
    text inside <noscript> and <template> (which are walked: lxml sees their links) goes to a
    level of its own, out of the text of the elements around them.

    The region is a running state: an element that opens a region replaces it for its subtree
    (the innermost wins), with the exceptions listed at _enter_region.
    """
    links: list[_RawLink] = []
    all_anchors: list[_El] = []
    mains: list[_El] = []
    contents: list[_El] = []
    set_aside: list[LexborNode] = []
    titles: list[_El] = []
    body: list[_El] = []
    walked = _Walked(links, all_anchors, mains, contents, set_aside, [], [], titles, body)
    kinds = _KINDS
    names = _ID_NAMES
    chain_kinds = _CHAIN_KINDS
    text_id = _TEXT_ID
    k_skip, k_link, k_sep, k_hide = _K_SKIP, _K_LINK, _K_SEP, _K_HIDE
    k_record, k_region, k_chain = _K_RECORD, _K_REGION, _K_STRICT | _K_LOOSE
    missing = _MISSING
    element_cache = rules._elements
    bare_regions = _BARE_REGIONS
    position = "unknown"
    card: _Card | None = None
    chain: _Chain = None
    # The text of each level as a list of parts; an element's place in it is counted in parts
    # (turned into characters once, after the walk).
    bufs: list[list[str]] = [[]]
    parts = bufs[0]
    add = parts.append
    level = 0
    open_links: list[_El] = []
    # (node, None) or (node, (element record, state to restore, separated?, level change?,
    # link?)), for each open element.
    stack: list[tuple[LexborNode, tuple | None]] = []
    push = stack.append
    pop = stack.pop
    node: LexborNode = root
    while True:
        tag_id = node.tag_id
        if tag_id == text_id:
            add(node.text_content or "")
            nxt = node.next
            if nxt is not None:
                node = nxt
                continue
        else:
            kind = kinds.get(tag_id, 0)
            if not kind:
                child = node.first_child
                if child is not None:
                    push((node, None))
                    node = child
                    continue
                nxt = node.next
                if nxt is not None:
                    node = nxt
                    continue
            elif kind & k_skip:
                if kind & _K_SET_ASIDE:
                    set_aside.append(node)
                nxt = node.next
                if nxt is not None:
                    node = nxt
                    continue
            else:
                tag = names[tag_id]
                rec: _El | None = None
                if kind & k_link:
                    n_anchors = len(all_anchors)
                    rec = [tag, None, level, len(parts), 0, n_anchors, n_anchors, None, None]
                    all_anchors.append(rec)
                    attrs = rec[8] = node.attributes
                    href = attrs.get("href", missing)
                    if href is not missing:
                        links.append((rec, href or "", card or position, chain))
                    open_links.append(rec)
                    push((node, (rec, None, 0, 0, 1)))
                    child = node.first_child
                else:
                    sep = kind & k_sep
                    if sep:
                        add(" ")
                    hide = kind & k_hide
                    if hide:
                        level += 1
                        if len(bufs) <= level:
                            bufs.append([])
                        parts = bufs[level]
                        add = parts.append
                    if kind & _K_IMG:
                        for link in open_links:
                            if link[7] is None and link[2] == level:
                                link[7] = node
                    if kind & k_record:
                        # (the node only where _has_own_text may need it: fewer objects
                        # kept alive, fewer garbage collections)
                        n_anchors = len(all_anchors)
                        rec = [
                            tag,
                            node if kind & _K_LOOSE else None,
                            level,
                            len(parts),
                            0,
                            n_anchors,
                            n_anchors,
                            None,
                            None,
                        ]
                        if kind & _K_TITLE:
                            if not titles:
                                titles.append(rec)
                            if len(titles) < 2 and stack and stack[-1][0].tag_id == _HEAD_ID:
                                titles.append(rec)
                        elif kind & _K_BODY and not body:
                            body.append(rec)
                    new_position = position
                    new_card = card
                    if kind & k_region:
                        attrs = node.attributes
                        if attrs:
                            key = (tag, attrs.get("class"), attrs.get("id"), attrs.get("role"))
                            found = element_cache.get(key, missing)
                            if found is missing:
                                if len(element_cache) >= _CACHE_LIMIT:
                                    element_cache.clear()
                                found = element_cache[key] = _classify_element(attrs, tag, rules)
                        else:
                            found = bare_regions.get(tag)
                        if found is not None:
                            if rec is None:
                                n_anchors = len(all_anchors)
                                rec = [tag, None, level, len(parts), 0, n_anchors, n_anchors]
                            new_position, new_card = _enter_region(
                                rec, node, found, position, card, walked
                            )
                    new_chain = chain
                    if kind & k_chain:
                        new_chain = (rec, chain_kinds[tag], chain)  # type: ignore[assignment]  # (rec: a block always has one)
                    saved = None
                    if (
                        new_position is not position
                        or new_card is not card
                        or new_chain is not chain
                    ):
                        saved = (position, card, chain)
                        position = new_position
                        card = new_card
                        chain = new_chain
                    if rec is None and saved is None and not sep and not hide:
                        push((node, None))
                    else:
                        push((node, (rec, saved, sep, hide, 0)))
                    if tag_id == _TEMPLATE_ID:
                        fragments = node.template_fragments()
                        child = fragments[0].first_child if fragments else None
                    else:
                        child = node.first_child
                if child is not None:
                    node = child
                    continue
                # An empty element: closed right below, as its frame is on top.
        # Climb to the next node: close the open elements (the empty one just met, or the
        # parents of a last child) until one has a next sibling.
        while stack:
            node, info = pop()
            if info is not None:
                rec, saved, sep, hide, is_link = info
                if rec is not None:
                    rec[4] = len(parts)
                    rec[6] = len(all_anchors)
                    if is_link:
                        open_links.remove(rec)
                if saved is not None:
                    position, card, chain = saved
                if hide:
                    level -= 1
                    parts = bufs[level]
                    add = parts.append
                if sep:
                    add(" ")
            nxt = node.next
            if nxt is not None:
                break
        else:
            break
        node = nxt
    for buf in bufs:
        walked.texts.append("".join(buf))
        walked.offsets.append([0, *accumulate(map(len, buf))])
    return walked


def _text(el: _El, texts: _Texts) -> str:
    """The collapsed rendered text of an element."""
    level = el[2]
    offsets = texts[1][level]
    return " ".join(texts[0][level][offsets[el[3]] : offsets[el[4]]].split())


def _enter_region(
    el: _El,
    node: LexborNode,
    found: tuple[str, int],
    position: str,
    card: _Card | None,
    walked: _Walked,
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
        # (1)'s size is read when the element is met, before the walk has rendered its text:
        # all its text nodes (lexbor's own concatenation, as lxml's serialiser gave it there).
        if position not in ("unknown", "main", "content") and not (
            (position == "sidebar" or position == "related")
            and strength >= _STRONG
            and len(_collapse(node.text())) >= _SIDEBAR_ARTICLE_CHARS
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


class _BlockFinder:
    """A link's context block from its chain of candidate blocks: the nearest strict block, or
    loose block (div...) with text of its own. Memoised per chain link, as a page's links share
    their ancestors, so each candidate is judged once however deep the nesting."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        # id() of a chain tuple -> its block; the tuples live as long as the raw links do.
        self.found: dict[int, _El | None] = {}

    def __call__(self, chain: _Chain) -> _El | None:
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
            if strict or _has_own_text(candidate[1]):
                block = candidate
                break
            chain = parent
        for key in visited:
            found[key] = block
        return block


# (link type, anchor, from its own text) of each <a> met so far, by _links and _Block alike.
_Anchors: TypeAlias = dict[int, tuple[str, str, bool]]


class _Block:
    """A block's collapsed text, computed once, where its last link was found, and how much of
    it is link text."""

    __slots__ = ("alt_chars", "cursor", "link_chars", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = 0  # links come in document order: look for each after the previous one
        self.link_chars = -1  # text of the <a> elements inside, once counted
        self.alt_chars = 0  # alt text of the image links among them

    def _count_links(self, block: _El, page: _PageText) -> None:
        link_chars = alt_chars = 0
        anchors = page.anchors
        level = block[2]
        for a in page.all_anchors[block[5] : block[6]]:
            if a[2] != level:  # inside a <noscript> or <template>: not the block's
                continue
            found = anchors.get(id(a))
            if found is None:
                found = anchors[id(a)] = _anchor(a, page.texts)
            link_type, anchor, from_text = found
            if from_text:
                link_chars += len(anchor)
            elif link_type == "image":
                alt_chars += len(anchor)
        self.link_chars = link_chars
        self.alt_chars = alt_chars

    def own_chars(self, block: _El, page: _PageText) -> int:
        """Characters of text outside links."""
        if self.link_chars < 0:
            self._count_links(block, page)
        return len(self.text) - self.link_chars

    def is_link_list(self, block: _El, page: _PageText) -> bool:
        """At least half link text, an image link counting with its alt text (a reader sees the
        picture as part of the link); true of a block with no text at all."""
        if self.link_chars < 0:
            self._count_links(block, page)
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

    def is_prose(self, block: _El, anchor: str, page: _PageText) -> bool:
        """Running text: not a heading, text well beyond the anchor, mostly not link text."""
        text = self.text
        if block[0] in _NOT_PROSE_TAGS or len(text) < 2 * len(anchor) + _PROSE_EXTRA_CHARS:
            return False
        if self.link_chars < 0:
            self._count_links(block, page)
        return self.link_chars * 2 < len(text)


class _PageText(NamedTuple):
    """What the text of blocks and anchors is read from."""

    texts: _Texts
    all_anchors: list[_El]
    anchors: _Anchors


def _page_directives(
    set_aside: list[LexborNode], robots_header: str | None
) -> tuple[set[str], str]:
    """Robots directives (meta and header) and the content of the first meta refresh."""
    directives = robots_directives(robots_header)
    refresh = ""
    meta_id = _NAMES["meta"]
    for meta in set_aside:
        if meta.tag_id != meta_id:
            continue
        attrs = meta.attributes
        name = attrs.get("name")
        if name:
            if name.strip().lower() in ("robots", _USER_AGENT):
                directives |= robots_directives(attrs.get("content"))
        elif not refresh:
            equiv = attrs.get("http-equiv")
            if equiv and equiv.strip().lower() == "refresh":
                refresh = attrs.get("content") or ""
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
    page = _PageText((walked.texts, walked.offsets), walked.anchors, {})
    main_content = _main_content(walked.mains, walked.contents, page.texts)
    links = _links(walked.links, base, page_nofollow, max(0, context_chars), main_content, page)
    titles = walked.titles
    attrs = root.attributes
    return Page(
        url=base,
        title=_text(titles[-1], page.texts) if titles else "",
        lang=_collapse(attrs.get("lang") or attrs.get("xml:lang") or "").lower(),
        text=_cut(_page_text(walked.body, main_content, page.texts), max(0, text_chars)),
        links=links,
        nofollow=page_nofollow,
        noindex="noindex" in directives,
        meta_refresh=_meta_refresh(refresh, base) if refresh else None,
    )


def _base_url(set_aside: list[LexborNode], url: str) -> str:
    """The URL links resolve against: the first <base href> (as in browsers), else ``url``."""
    base_id = _NAMES["base"]
    for el in set_aside:
        if el.tag_id != base_id:
            continue
        href = el.attributes.get("href", _MISSING)
        if href is not _MISSING:
            with suppress(ValueError):
                return urljoin(url, _clean_href(href or ""))
            break
    return url


def _links(  # noqa: C901
    raw_links: list[_RawLink],
    base: str,
    page_nofollow: bool,
    context_chars: int,
    main_content: tuple[_El | None, str],
    page: _PageText,
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
    texts = page.texts
    card_size: dict[int, int] = {}
    blocks: dict[int, _Block] = {}
    find_block = _BlockFinder()
    found_blocks = find_block.found
    missing = _MISSING
    anchors = page.anchors
    is_related = _Related(base, main_content, blocks, page)
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
            size = card_size.get(id(article))
            if size is None:
                size = card_size[id(article)] = len(_text(article, texts))
            position = "content" if size >= _CARD_CHARS else outer
        else:
            position = where
        found = anchors.get(id(el)) if anchors else None
        if found is None:
            found = _anchor(el, texts)
            if position == "content" or position == "main":  # _Block may count it
                anchors[id(el)] = found
        link_type, anchor, from_text = found
        rel_value = el[8].get("rel")
        rel = tuple(dict.fromkeys(rel_value.lower().split())) if rel_value else ()

        context = ""
        if chain is None:
            block = None
        else:
            block = found_blocks.get(id(chain), missing)
            if block is missing:
                block = find_block(chain)
        if block is not None:
            info = blocks.get(id(block))
            if info is None:
                info = blocks[id(block)] = _Block(_text(block, texts))
            context = info.context(anchor if from_text else "", context_chars)
            if position == "unknown" and context and info.is_prose(block, anchor, page):
                position = "content"
        if position == "main":
            position = "content"
        if position == "content" and chain is not None and is_related(chain[0], found, target):
            position = "related"
        link = Link(
            target,
            anchor,
            rel,
            page_nofollow or "nofollow" in rel,
            link_type,
            position,
            context,
            el[0],
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

    __slots__ = ("base", "blocks", "links_page", "main_content", "page", "page_host")

    def __init__(
        self,
        base: str,
        main_content: tuple[_El | None, str],
        blocks: dict[int, _Block],
        page: _PageText,
    ) -> None:
        self.base = base
        self.main_content = main_content
        self.blocks = blocks
        self.page = page
        self.links_page: bool | None = None  # judged when first needed, as is page_host
        self.page_host = ""

    def __call__(self, near: _El, found: tuple[str, str, bool], target: str) -> bool:
        """For a link to ``target``, whose nearest block is ``near`` and whose anchor is
        ``found`` (as _anchor gives it)."""
        link_type = found[0]
        info = self.blocks.get(id(near))
        if info is None:
            info = self.blocks[id(near)] = _Block(_text(near, self.page.texts))
        if not info.is_link_list(near, self.page):
            return False
        if self.links_page is None:
            self.links_page = _is_links_page(self.main_content, self.blocks, self.page)
            self.page_host = _host(self.base)
        if self.links_page:
            return False
        return not (near[0] == "p" and link_type == "text" and _host(target) != self.page_host)


def _is_links_page(
    main_content: tuple[_El | None, str], blocks: dict[int, _Block], page: _PageText
) -> bool:
    """Whether the page's main content has under _LINKS_PAGE_CHARS of text outside links."""
    element, text = main_content
    if element is None:
        return True
    info = blocks.get(id(element))
    if info is None:
        info = blocks[id(element)] = _Block(text)
    return info.own_chars(element, page) < _LINKS_PAGE_CHARS


def _host(url: str) -> str:
    """The lower-case host of an http(s) URL, without a leading "www."."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def _anchor(el: _El, texts: _Texts) -> tuple[str, str, bool]:
    """(link type, anchor, whether the anchor is the link's own text) of an <a> or <area>."""
    if el[0] == "area":
        attrs = el[8]
        return "image", _collapse(attrs.get("alt") or attrs.get("title") or ""), False
    anchor = _text(el, texts)
    if anchor:
        return "text", anchor, True
    return (*_textless_anchor(el), False)


def _textless_anchor(el: _El) -> tuple[str, str]:
    """(link type, anchor) of an <a> without text: an image link's alt (or title), else what a
    screen reader would announce for an icon link."""
    img = el[7]
    if img is not None:
        attrs = img.attributes
        return "image", _collapse(attrs.get("alt") or attrs.get("title") or "")
    attrs = el[8]
    return "text", _collapse(attrs.get("aria-label") or attrs.get("title") or "")


def _main_content(mains: list[_El], contents: list[_El], texts: _Texts) -> tuple[_El | None, str]:
    """The page's main content and its text: the first <main> with enough text, else the
    longest article or content region; (None, "") on a page without either."""
    for candidate in mains:
        text = _text(candidate, texts)
        if len(text) >= _MIN_MAIN_CHARS:
            return candidate, text
    best: tuple[_El | None, str] = (None, "")
    for candidate in contents[:_MAX_TEXT_CANDIDATES]:
        text = _text(candidate, texts)
        if len(text) > len(best[1]):
            best = candidate, text
    return best


def _page_text(body: list[_El], main_content: tuple[_El | None, str], texts: _Texts) -> str:
    """The page's visible text: its main content when that has enough text, else the body."""
    text = main_content[1]
    if len(text) < _MIN_MAIN_CHARS:
        text = _text(body[0], texts) if body else _collapse(texts[0][0])
    return text
