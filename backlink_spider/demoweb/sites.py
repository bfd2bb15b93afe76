"""Three synthetic webs: a small gardening niche (demo), every crawl edge case (test), and a
large deterministic one (benchmarks).

Pages are written through ``PageBuilder.link`` which renders the ``<a>`` *and* declares the
ground truth for links into the target (or a competitor), so the HTML and the expectations
cannot drift apart. Positions are declared by the author, never inferred from the HTML: the
test suite checks them against an independent classifier.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

from backlink_spider.demoweb.model import ExpectedBacklink, Response, Web

__all__ = ["PageBuilder", "SiteKit", "demo_web", "generated_web", "test_web"]

TARGET = "petalpost.test"
COMPETITOR = "greenthumb-weekly.test"

# --- text ------------------------------------------------------------------------------------

TEXT: dict[str, tuple[str, ...]] = {
    "compost": (
        "A healthy compost heap needs a balance of green material, such as grass clippings and "
        "vegetable peelings, and brown material, such as cardboard, straw and fallen leaves.",
        "If the heap smells sour or slimy it usually has too much green waste and not enough "
        "air, so fork in some shredded cardboard and turn it.",
        "Turning the heap every two or three weeks speeds things up, but a cold heap left alone "
        "will still give you crumbly compost within a year.",
        "Hot composting works best when you build the heap all at once, at least a cubic metre "
        "in size, so that it can hold its own heat.",
        "Avoid adding cooked food, meat or dairy to an open heap, as they attract rats and flies.",
        "Woody prunings break down far more slowly than soft growth, so chop them small or run "
        "them through a shredder first.",
        "Leaf mould is made from autumn leaves alone, and although it takes two years it is the "
        "finest soil conditioner a gardener can make.",
        "A spadeful of soil or finished compost added to a new heap brings in the microbes and "
        "worms that do the real work.",
        "Keep the heap about as damp as a wrung-out sponge: water it in dry weather and cover it "
        "in heavy rain.",
        "Brandling worms will find their way into a heap that sits on bare soil rather than on "
        "paving slabs.",
        "Finished compost is dark, sweet-smelling and crumbly, and you should no longer be able "
        "to recognise what went into it.",
        "Spread it as a mulch five centimetres deep around shrubs and on empty beds in autumn, "
        "and let the worms carry it down.",
        "Comfrey leaves are an excellent activator, and a few layers of them will get a sluggish "
        "heap going again.",
        "Bokashi bins let flat dwellers ferment kitchen scraps before burying them, a useful "
        "trick when space is short.",
        "Many councils sell subsidised compost bins, which are a cheap way to start if you have "
        "no room for a three-bay system.",
    ),
    "roses": (
        "Roses are hungry plants and repay a generous spring mulch of well-rotted manure around, "
        "but not touching, their stems.",
        "Climbing roses flower best when their main stems are trained horizontally along wires, "
        "which encourages flowering side shoots.",
        "Black spot is the most common disease of garden roses, showing as dark blotches on the "
        "leaves, which then yellow and fall.",
        "Clearing up fallen leaves in autumn removes the spores that would otherwise reinfect "
        "the plant next spring.",
        "Modern disease-resistant varieties have made it possible to grow healthy roses without "
        "spraying at all.",
        "Deadheading repeat-flowering roses through the summer keeps new buds coming well into "
        "autumn.",
        "Once-flowering ramblers should be left unpruned until after they bloom, because they "
        "flower on last year's wood.",
        "Bare-root roses are cheaper than potted ones and establish quickly if planted between "
        "November and March.",
        "Soak bare roots in a bucket of water for an hour before planting, and set the graft "
        "union just below soil level.",
        "Aphids cluster on soft new growth in late spring, but blue tits and ladybirds usually "
        "clear them within a few weeks.",
        "Rugosa roses make tough, scented hedges and produce large hips that birds enjoy "
        "through the winter.",
        "Avoid planting a new rose where an old one grew, as the soil may suffer from replant "
        "disease.",
        "A rose trained over an arch needs tying in every few weeks during the growing season, "
        "before the stems harden.",
        "Scent varies with temperature and time of day, so smell a rose on a warm morning "
        "before you decide to buy it.",
    ),
    "pruning": (
        "The aim of pruning is to remove dead, damaged and diseased wood first, and only then "
        "to shape the plant.",
        "Always cut just above an outward-facing bud with a clean, sloping cut so that rain "
        "runs off the wound.",
        "Sharp secateurs make clean cuts that heal quickly, while blunt blades crush the stem "
        "and invite disease.",
        "Apple and pear trees are pruned in winter while dormant, but plums and cherries are "
        "pruned in summer to avoid silver leaf.",
        "Spring-flowering shrubs such as forsythia are pruned straight after flowering, so they "
        "have time to make new flowering wood.",
        "Late-flowering shrubs like buddleja can be cut hard back in early spring, because they "
        "flower on the current year's growth.",
        "Remove crossing branches that rub against each other, since the wounds they make let "
        "infections in.",
        "Never take more than a third of a tree's canopy in a single year, or it will respond "
        "with a thicket of water shoots.",
        "Espalier and cordon fruit trees need a light summer prune of new side shoots to keep "
        "their shape.",
        "Wisteria is pruned twice a year: the long summer growth is shortened in August and cut "
        "back again to two buds in February.",
        "Clean your blades with a little disinfectant between plants when you are removing "
        "diseased wood.",
        "Hedges are best trimmed after birds have finished nesting, which usually means waiting "
        "until late summer.",
        "A pruning saw is kinder than loppers for any branch thicker than your thumb.",
    ),
    "seeds": (
        "Saving your own seed is easiest with peas, beans, tomatoes and lettuce, because they "
        "are mostly self-pollinating.",
        "Tomato seeds keep better if you ferment the pulp for a few days, which removes the gel "
        "coating that inhibits germination.",
        "Always save seed from your healthiest, most productive plants so that each generation "
        "adapts a little more to your garden.",
        "Hybrid F1 varieties will not come true from seed, so choose open-pollinated or heritage "
        "varieties if you want to save them.",
        "Dry seeds thoroughly on a plate for a week before storing them in paper envelopes in a "
        "cool, dark place.",
        "A sachet of silica gel in the storage jar keeps seeds dry and can double their useful "
        "life.",
        "Label every packet with the variety and the year, because many seeds look identical "
        "once they are dry.",
        "Squash and pumpkins cross readily, so hand-pollinate and tape the flowers shut if you "
        "want pure seed.",
        "Leave bean pods on the plant until they rattle, then shell them and let the beans dry "
        "indoors.",
        "Seed swaps are a good way to find local varieties that have done well in gardens near "
        "you for generations.",
        "Test old seed by rolling ten of them in a damp paper towel; if fewer than half sprout, "
        "sow it thickly or replace it.",
        "Lettuce bolts readily in hot weather, which is annoying in the kitchen but useful when "
        "you want to collect its seed.",
    ),
    "allotment": (
        "Our site has eighty plots, and the waiting list is now longer than it has been for "
        "twenty years.",
        "The spring show attracted more entries than ever, with the onion classes particularly "
        "hotly contested.",
        "Plot holders are reminded that water butts must be fitted with lids to keep children "
        "and wildlife safe.",
        "Broad beans sown in November gave us the earliest pods, and they were far less "
        "troubled by blackfly.",
        "Crop rotation keeps soil-borne diseases down, so we move potatoes, brassicas, legumes "
        "and roots around the beds each year.",
        "Netting brassicas against pigeons and cabbage white butterflies is the single most "
        "useful job in early summer.",
        "The committee has agreed to buy a shared shredder, which members can book through the "
        "site hut.",
        "Rhubarb forced under an old bucket in February gives tender pink stems a month before "
        "the rest.",
        "Slugs were bad again this year, and beer traps caught far more than the copper tape "
        "ever did.",
        "A new communal polytunnel means members without a greenhouse can now raise tomatoes "
        "and peppers from seed.",
        "Please keep the paths between plots mown and free of trip hazards before the site "
        "inspection in June.",
        "Potatoes chitted on a cool windowsill in February were up two weeks ahead of those "
        "planted straight from the bag.",
        "Green manures such as phacelia and field beans protect bare soil over winter and feed "
        "it when they are dug in.",
    ),
    "orchard": (
        "Espalier apples take up very little space and can be grown flat against a sunny fence "
        "or wall.",
        "Choose a rootstock to suit the space: M27 for a small tree in a pot, MM106 for a "
        "half-standard.",
        "Most apples need a pollination partner from the same or an adjacent flowering group "
        "growing nearby.",
        "Heritage varieties such as Egremont Russet and Ashmead's Kernel have flavours you will "
        "never find in a supermarket.",
        "Thin apple fruitlets in June to one or two per cluster, or the tree will crop heavily "
        "one year and not at all the next.",
        "Community orchards have been planted on spare land in many towns, and volunteers share "
        "the harvest.",
        "Old orchards are valuable for wildlife, supporting mistletoe, woodpeckers and rare "
        "beetles in their dead wood.",
        "Apples store best wrapped individually in newspaper in a cool, dark shed, checked "
        "regularly for rot.",
        "Grease bands around the trunk in October stop wingless winter moth females from "
        "climbing up to lay their eggs.",
        "Young fruit trees need a clear circle of a metre around the trunk, kept free of grass "
        "for the first three years.",
    ),
    "garden": (
        "We are a small group of volunteers who have gardened together for more than a decade.",
        "Every month we publish practical notes from our own beds, borders and greenhouses.",
        "Nothing here is sponsored unless we say so, and we only recommend what we have used "
        "ourselves.",
        "The weather this season has been unusually mild, and many plants are flowering weeks "
        "early.",
        "If you have a question, the quickest way to reach us is to leave a comment under the "
        "relevant post.",
        "Mulching bare soil in autumn protects its structure from winter rain and feeds the worms.",
        "A water butt on every downpipe saves a surprising amount of tap water over a dry summer.",
        "Peat-free composts have improved enormously, and we now use nothing else for sowing.",
        "Leaving a corner of the garden untidy gives hedgehogs, frogs and beetles somewhere to "
        "shelter.",
        "Greenhouse ventilation matters more than heating for most of the year.",
        "Raised beds warm up earlier in spring and are easier on the back, but they dry out "
        "faster.",
        "Pollinators love open, single flowers; the frilly doubles often have no pollen at all.",
    ),
    "casino": (
        "Claim your welcome bonus today and get two hundred free spins on our most popular slots.",
        "Our jackpot has never been bigger, and a lucky player could win it on the very next spin.",
        "Play online casino games anywhere, on your phone, tablet or desktop, with instant "
        "withdrawals.",
        "No deposit bonus codes are updated every day, so bookmark this page and check back often.",
        "Roulette, blackjack and hundreds of slots are waiting for you, with live dealers around "
        "the clock.",
        "Sign up in less than a minute and start spinning the reels for real money.",
        "Top rated casino bonus offers, compared and reviewed by our team of experts.",
        "Gamble responsibly; terms and wagering requirements apply to every bonus.",
    ),
    "cooking": (
        "Roast the squash until the edges caramelise, then blend it with stock and a little "
        "nutmeg.",
        "A good stock is the foundation of most soups, and it freezes well in small tubs.",
        "Fresh herbs should go in at the end of cooking, while woody ones like rosemary can "
        "simmer for hours.",
        "Let bread dough rise somewhere warm but out of draughts until it has doubled in size.",
        "Salt the aubergine slices and leave them for half an hour before frying.",
        "Homemade jam sets when a drop wrinkles on a cold saucer pushed with a finger.",
        "Slow-cooked beans need soaking overnight and a long, gentle simmer without salt.",
        "Pickled beetroot keeps for months in sterilised jars in a cool cupboard.",
    ),
    "travel": (
        "The coastal path is best walked in late spring, before the summer crowds arrive.",
        "Book the sleeper train early, because the cabins sell out weeks in advance.",
        "The old town is small enough to explore on foot in a single afternoon.",
        "Most of the museums are free on the first Sunday of the month.",
        "Pack layers: mountain weather changes quickly even in midsummer.",
        "The ferry crossing takes two hours and dolphins are often seen from the deck.",
        "Local markets sell cheese, bread and fruit far cheaper than the tourist cafes.",
        "A rail pass pays for itself if you take more than four long journeys.",
    ),
    "diy": (
        "Measure twice and cut once, especially when working with expensive hardwood.",
        "A cordless drill with a clutch makes driving screws into softwood far easier.",
        "Prime bare wood before painting, or the topcoat will soak in unevenly.",
        "Raised beds built from untreated larch last years without any preservative.",
        "Use galvanised screws outdoors so they do not rust and stain the timber.",
        "A spirit level and a string line are all you need to set out a straight path.",
        "Sand between coats of varnish with a fine paper for a smooth finish.",
        "Shed roofs need felt replacing every ten years or so, before leaks start.",
    ),
}


def prose(topic: str, paragraphs: int, rng: random.Random, *, sentences: int = 4) -> str:
    """A few paragraphs of real-sounding text on ``topic`` (deterministic for a given rng)."""
    bank = TEXT[topic]
    out = []
    for _ in range(paragraphs):
        count = min(len(bank), sentences + rng.randint(0, 2))
        out.append("<p>" + " ".join(rng.sample(bank, count)) + "</p>")
    return "\n".join(out)


def _rng(*parts: object) -> random.Random:
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
            inner = f'<img src="/img/{_slug(alt) or "image"}.jpg" alt="{esc(alt)}">'
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


def _slug(text: str) -> str:
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


def _ul(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


# --- the demo web: a small gardening niche ---------------------------------------------------


def _article(topic: str, key: str, lead: str, paragraphs: int = 3) -> str:
    """A lead paragraph (which carries the interesting links) followed by on-topic prose."""
    return f"<p>{lead}</p>\n" + prose(topic, paragraphs, _rng("article", key))


def _build_target(web: Web) -> SiteKit:
    """petalpost.test: the blog whose backlinks we look for; links out to two of its linkers."""
    nav = [
        ("/", "Home"),
        ("/compost", "Compost"),
        ("/pruning", "Pruning"),
        ("/roses", "Roses"),
        ("/seed-saving", "Seed saving"),
        ("/about", "About"),
    ]
    kit = SiteKit(
        web,
        TARGET,
        name="Petal Post",
        tagline="Notes from a small English garden",
        nav=nav,
        footer="<p>&copy; 2024 Petal Post. Written with muddy hands.</p>",
        widgets=[
            (
                "Friends of the blog",
                lambda p: _ul(
                    [
                        p.link(
                            "https://rosegrowers.test/", "Rose Growers' Circle", position="sidebar"
                        ),
                        p.link(
                            "https://compost-club.test/", "The Compost Club", position="sidebar"
                        ),
                    ]
                ),
            )
        ],
    )
    kit.page(
        "/",
        title="Petal Post",
        body=lambda p: (
            "<p>Petal Post is a gardening blog about roses, compost, pruning and saving seed, "
            "written from a forty-foot garden and a half-plot allotment. Start with the "
            f"{p.link('compost', 'compost guide', position='content')} or the "
            f"{p.link('roses', 'rose care calendar', position='content')}.</p>\n"
            + prose("garden", 2, _rng("target-home"))
        ),
    )
    pages = {
        "/compost": (
            "Compost troubleshooting",
            "compost",
            "https://compost-club.test/guides/hot-composting",
            "hot composting method",
        ),
        "/pruning": (
            "When and how to prune",
            "pruning",
            "https://urban-orchard.test/blog/espalier-apples",
            "espalier apples",
        ),
        "/roses": (
            "A year of rose care",
            "roses",
            "https://rosegrowers.test/articles/climbing-roses",
            "training climbing roses",
        ),
        "/seed-saving": (
            "Saving your own seed",
            "seeds",
            "https://blog.seedsavers.test/2024/03/saving-tomato-seeds/",
            "fermenting tomato seed",
        ),
    }
    for path, (title, topic, out_url, out_text) in pages.items():
        kit.page(
            path,
            title=title,
            byline="By Jenny Marsh",
            body=lambda p, topic=topic, out_url=out_url, out_text=out_text, path=path: _article(
                topic,
                "target" + path,
                f"This page collects what we have learned about {esc(_title_lower(path))} over "
                f"fifteen seasons. For a second opinion see this piece on "
                f"{p.link(out_url, out_text, position='content')}, or go back to the "
                f"{p.link('./', 'home page', position='content')}.",
                4,
            ),
        )
    kit.page(
        "/about",
        title="About Petal Post",
        body=lambda p: (
            "<p>Petal Post is written by Jenny Marsh, a retired teacher who has been gardening on "
            "heavy clay for thirty years. She is a member of "
            f"{p.link('http://allotment-news.test/', 'Allotment News', position='content')}'s "
            "site committee and a volunteer at the local seed swap.</p>"
            + prose("garden", 2, _rng("target-about"))
        ),
    )
    kit.page(
        "/guides/composting-101",
        title="Composting 101",
        body=lambda p: _article("compost", "target-101", "The absolute basics, in one page.", 3),
    )
    # An old URL of the target that moved: links to it are still backlinks (to the old URL).
    kit.site.redirect("/old-compost-guide", "/compost", 301)
    return kit


def _title_lower(path: str) -> str:
    return path.strip("/").replace("-", " ")


def _build_rosegrowers(web: Web) -> None:
    kit = SiteKit(
        web,
        "rosegrowers.test",
        name="Rose Growers' Circle",
        tagline="Amateur rosarians sharing what works",
        nav=[
            ("/", "Home"),
            ("/articles/climbing-roses", "Climbers"),
            ("/articles/black-spot", "Black spot"),
            ("/about", "About us"),
        ],
        footer=lambda p: (
            f"<p>&copy; 2024 Rose Growers' Circle. {p.link('/about', 'Contact', position='footer')}"
            "</p>"
        ),
    )
    kit.page(
        "/",
        title="Rose Growers' Circle",
        body=lambda p: (
            "<p>The Circle is a club of amateur rose growers. This season's articles: "
            f"{p.link('/articles/climbing-roses', 'training climbing roses', position='content')} "
            f"and {p.link('/articles/black-spot', 'beating black spot', position='content')}.</p>"
            + prose("roses", 2, _rng("rg-home"))
        ),
        widgets=[
            (
                "Blogroll",
                lambda p: _ul(
                    [
                        p.link("https://petalpost.test/", "Petal Post", position="sidebar"),
                        p.link(
                            "https://greenthumb-weekly.test/",
                            "Greenthumb Weekly",
                            position="sidebar",
                        ),
                        p.link("https://urban-orchard.test/", "Urban Orchard", position="sidebar"),
                    ]
                ),
            )
        ],
    )
    kit.page(
        "/articles/climbing-roses",
        title="Training climbing roses along wires",
        byline="By Harold Finch, 3 March 2024",
        body=lambda p: _article(
            "roses",
            "rg-climbers",
            "Climbers are the most rewarding roses in a small garden, as long as you train them "
            "early. Jenny Marsh explains the timing well in "
            + p.link(
                "https://petalpost.test/roses",
                "Petal Post's guide to rose care",
                position="content",
            )
            + ", and there is a good list of varieties in "
            + p.link(
                "https://greenthumb-weekly.test/roses/climbers",
                "Greenthumb Weekly's climber list",
                position="content",
            )
            + ".",
            4,
        ),
        comments=[
            Comment(
                "Margaret", "Mine finally flowered along the whole fence this year. Thank you!"
            ),
            Comment(
                "Best Casino Bonus",
                "Great post!!! Check my site for free spins.",
                url="http://spin-palace.test/",
                rel="ugc nofollow",
            ),
        ],
    )
    kit.page(
        "/articles/black-spot",
        title="Beating black spot without spraying",
        byline="By Harold Finch, 20 April 2024",
        body=lambda p: _article(
            "roses",
            "rg-blackspot",
            "Black spot is the disease members ask about most. Good hygiene and resistant "
            "varieties do more than any spray.",
            4,
        ),
        comments=[
            Comment(
                "Jenny Marsh",
                "I pick off every spotted leaf in June and it really does help.",
                url="https://petalpost.test/",
                rel="ugc",
            ),
            Comment("Tom", "Which varieties would you recommend for a shady wall?"),
        ],
    )
    kit.page(
        "/about",
        title="About the Circle",
        body=prose("garden", 2, _rng("rg-about")),
    )


def _build_allotment_news(web: Web) -> None:
    kit = SiteKit(
        web,
        "allotment-news.test",
        name="Allotment News",
        scheme="http",
        theme="classic",
        tagline="News from the Brookside allotment society",
        nav=[
            ("/", "Home"),
            ("/news/2024/spring-show-results", "Show results"),
            ("/news/2024/water-butts", "Water butts"),
            ("/links", "Links"),
        ],
        footer="<p>Brookside Allotment Society, registered charity no. 000000.</p>",
        widgets=[("Archives", _ul(['<a href="/news/2024/spring-show-results">May 2024</a>']))],
    )
    kit.page(
        "/",
        title="Allotment News",
        body=lambda p: (
            "<p>Welcome to the society's news pages. Latest: "
            + p.link(
                "/news/2024/spring-show-results", "the spring show results", position="content"
            )
            + " and a reminder about "
            f"{p.link('/news/2024/water-butts', 'water butt lids', position='content')}.</p>"
            + prose("allotment", 2, _rng("an-home"))
        ),
        widgets=[
            (
                "Sponsors",
                lambda p: _ul(
                    [
                        p.link(
                            "https://petalpost.test/seed-saving",
                            "Seed saving workshops at Petal Post",
                            position="sidebar",
                            rel="sponsored",
                        )
                    ]
                ),
            ),
            ("Archives", _ul(['<a href="/news/2024/spring-show-results">May 2024</a>'])),
        ],
    )
    kit.page(
        "/news/2024/spring-show-results",
        title="Spring show results",
        byline="Posted 18 May 2024 by the show secretary",
        body=lambda p: _article(
            "allotment",
            "an-show",
            "Congratulations to everyone who entered. Plot 42's compost won the new soil class; "
            "she credits the "
            f"{p.link('http://petalpost.test/compost', 'composting guide', position='content')} "
            "on a local blog, and the "
            f"{p.link('https://compost-club.test/', 'Compost Club', position='content')} "
            "helped judge.",
            3,
        ),
    )
    kit.page(
        "/news/2024/water-butts",
        title="Water butts need lids",
        byline="Posted 2 June 2024",
        body=lambda p: _article(
            "allotment",
            "an-butts",
            "Several open water butts were found during the inspection. There is a sensible "
            "guide to rainwater on "
            + p.link(
                "https://petalpost.test/",
                "a gardening blog we like",
                position="content",
                rel="nofollow",
            )
            + ".",
            2,
        ),
    )
    kit.page(
        "/links",
        title="Links",
        body=lambda p: (
            "<p>Sites our members recommend:</p>"
            + _ul(
                [
                    p.link(
                        "https://petalpost.test/about", position="content", alt="Petal Post badge"
                    ),
                    p.link("https://compost-club.test/", "The Compost Club", position="content"),
                    p.link(
                        "https://greenthumb-weekly.test/", "Greenthumb Weekly", position="content"
                    ),
                    p.link("https://blog.seedsavers.test/", "Seed Savers blog", position="content"),
                ]
            )
        ),
    )


def _build_compost_club(web: Web) -> None:
    kit = SiteKit(
        web,
        "compost-club.test",
        name="The Compost Club",
        theme="roles",
        tagline="Turning waste into soil since 2009",
        nav=[
            ("/", "Home"),
            ("/guides/hot-composting", "Hot composting"),
            ("/guides/leaf-mould", "Leaf mould"),
            ("/members/directory", "Members"),
        ],
        footer=lambda p: (
            "<p>Part of the "
            f"{p.link('https://petalpost.test/', 'Petal Post blog ring', position='footer')}.</p>"
        ),
    )
    kit.site.robots("User-agent: *\nDisallow: /members/\n")
    kit.page(
        "/",
        title="The Compost Club",
        body=lambda p: (
            "<p>We are a friendly club of home composters. Read our guides to "
            f"{p.link('/guides/hot-composting', 'hot composting', position='content')} and "
            f"{p.link('/guides/leaf-mould', 'making leaf mould', position='content')}.</p>"
            + prose("compost", 2, _rng("cc-home"))
        ),
    )
    kit.page(
        "/guides/hot-composting",
        title="Hot composting in eighteen days",
        body=lambda p: _article(
            "compost",
            "cc-hot",
            "A hot heap can turn kitchen and garden waste into compost in under three weeks. If "
            "yours goes slimy, "
            + p.link(
                "https://petalpost.test/compost",
                "Petal Post's compost troubleshooting page",
                position="content",
            )
            + " covers the usual causes.",
            4,
        ),
    )
    kit.page(
        "/guides/leaf-mould",
        title="Making leaf mould",
        body=lambda p: _article(
            "compost",
            "cc-leaf",
            "Leaf mould is slow but easy. "
            + p.link(
                "https://greenthumb-weekly.test/leaf-mould", "Greenthumb Weekly", position="content"
            )
            + " ran a good piece on using it for seed compost.",
            3,
        ),
    )
    kit.page(
        "/members/directory",
        title="Members' directory",
        blocked="robots.txt of compost-club.test disallows /members/",
        body=lambda p: (
            "<p>Members only. Jenny Marsh: "
            f"{p.link('https://petalpost.test/about', 'Petal Post', position='content')}</p>"
        ),
    )


def _build_seedsavers(web: Web) -> None:
    blogroll = (
        "Blogroll",
        lambda p: _ul(
            [
                p.link("http://petalpost.test/", "Petal Post", position="sidebar"),
                p.link("http://allotment-news.test/", "Allotment News", position="sidebar"),
            ]
        ),
    )
    kit = SiteKit(
        web,
        "blog.seedsavers.test",
        name="Seed Savers Blog",
        theme="classic",
        tagline="The blog of the Seed Savers network",
        nav=[
            ("/", "Blog"),
            ("/2024/03/saving-tomato-seeds/", "Tomato seeds"),
            ("/2024/04/bean-varieties/", "Beans"),
            ("https://seedsavers.test/", "Main site"),
        ],
        footer="<p>Seed Savers network. Powered by an old theme.</p>",
        widgets=[blogroll],
    )
    kit.page(
        "/",
        title="Seed Savers Blog",
        body=lambda p: (
            "<p>Stories from the network's growers. New this spring: "
            f"{p.link('/2024/03/saving-tomato-seeds/', 'saving tomato seeds', position='content')}"
            " and "
            + p.link("/2024/04/bean-varieties/", "bean varieties to keep", position="content")
            + ".</p>"
            + prose("seeds", 2, _rng("ss-home"))
        ),
    )
    kit.page(
        "/2024/03/saving-tomato-seeds/",
        title="Saving tomato seeds",
        byline="Posted in Techniques on 14 March 2024",
        body=lambda p: _article(
            "seeds",
            "ss-tomato",
            "Tomatoes are the easiest place to start. The trick of "
            + p.link(
                "https://petalpost.test/seed-saving", "fermenting tomato seeds", position="content"
            )
            + " for three days makes a real difference to germination.",
            4,
        ),
        comments=[
            Comment(
                "Jenny from Petal Post",
                "Three days is exactly right in a warm kitchen; longer in a cold one.",
                url="https://petalpost.test/about",
                rel="external nofollow ugc",
            )
        ],
    )
    kit.page(
        "/2024/04/bean-varieties/",
        title="Bean varieties worth keeping",
        body=prose("seeds", 4, _rng("ss-beans")),
    )
    main = SiteKit(
        web,
        "seedsavers.test",
        name="Seed Savers",
        depth=1,
        nav=[("/", "Home"), ("/about", "About"), ("https://blog.seedsavers.test/", "Blog")],
        footer="<p>Seed Savers network</p>",
    )
    main.page("/", title="Seed Savers", body=prose("seeds", 3, _rng("ssm-home")))
    main.page("/about", title="About the network", body=prose("garden", 2, _rng("ssm-about")))


def _build_second_hops(web: Web) -> None:
    """Sites the seeds link to (depth 1) and one they link to in turn (depth 2)."""
    comp = SiteKit(
        web,
        COMPETITOR,
        name="Greenthumb Weekly",
        depth=1,
        nav=[("/", "Home"), ("/roses/climbers", "Climbers"), ("/leaf-mould", "Leaf mould")],
        footer="<p>&copy; Greenthumb Weekly</p>",
    )
    comp.page("/", title="Greenthumb Weekly", body=prose("garden", 3, _rng("gw-home")))
    comp.page("/roses/climbers", title="Twenty climbers", body=prose("roses", 4, _rng("gw-cl")))
    comp.page(
        "/leaf-mould", title="Leaf mould for seedlings", body=prose("compost", 3, _rng("gw-lm"))
    )

    orchard = SiteKit(
        web,
        "urban-orchard.test",
        name="Urban Orchard",
        depth=1,
        nav=[("/", "Home"), ("/blog/espalier-apples", "Espalier apples")],
        footer="<p>Urban Orchard community project</p>",
    )
    orchard.page(
        "/",
        title="Urban Orchard",
        body=lambda p: (
            "<p>We plant fruit trees on spare city land. Read about "
            f"{p.link('/blog/espalier-apples', 'growing espalier apples', position='content')}.</p>"
            + prose("orchard", 2, _rng("uo-home"))
        ),
    )
    orchard.page(
        "/blog/espalier-apples",
        title="Growing espalier apples against a fence",
        body=lambda p: _article(
            "orchard",
            "uo-espalier",
            "An espalier needs a firm framework and patience. For the winter cuts, follow these "
            + p.link(
                "https://petalpost.test/pruning",
                "winter pruning notes",
                position="content",
                note="second hop: a site linked from a seed",
            )
            + "; for old trees, our friends at "
            f"{p.link('http://heritage-apples.test/', 'Heritage Apples', position='content')}"
            " know more than anyone.",
            3,
        ),
    )

    heritage = SiteKit(
        web,
        "heritage-apples.test",
        name="Heritage Apples",
        scheme="http",
        depth=2,
        theme="classic",
        nav=[("/", "Home"), ("/varieties/egremont-russet", "Egremont Russet")],
        footer="<p>Heritage Apples trust</p>",
    )
    heritage.page(
        "/",
        title="Heritage Apples",
        body=lambda p: (
            "<p>A trust caring for old orchards. Variety notes: "
            f"{p.link('/varieties/egremont-russet', 'Egremont Russet', position='content')}.</p>"
            + prose("orchard", 2, _rng("ha-home"))
        ),
    )
    heritage.page(
        "/varieties/egremont-russet",
        title="Egremont Russet",
        body=lambda p: _article(
            "orchard",
            "ha-russet",
            "A russet with a nutty flavour. Old trees respond well to the gentle renovation "
            "described in "
            + p.link(
                "https://petalpost.test/pruning",
                "Petal Post on pruning old apple trees",
                position="content",
                note="third hop: linked only from a depth-1 site",
            )
            + ".",
            3,
        ),
    )


def _build_link_farm(web: Web) -> None:
    """Casino hosts that link to each other and stuff keywords into links to the target."""
    farm = [
        (
            "spin-palace.test",
            1,
            "https://petalpost.test/",
            "best rose garden casino bonus free spins",
        ),
        (
            "lucky-reels.test",
            2,
            "https://petalpost.test/roses",
            "cheap roses casino slots jackpot roses",
        ),
        (
            "mega-jackpot-bonus.test",
            2,
            "https://petalpost.test/compost",
            "compost jackpot bonus free spins no deposit",
        ),
    ]
    for host, depth, target_url, anchor in farm:
        kit = SiteKit(
            web,
            host,
            name=host.split(".")[0].replace("-", " ").title(),
            scheme="http",
            depth=depth,
            nav=[("/", "Home"), ("/bonus", "Bonus")],
            footer="<p>18+ only. Gamble responsibly.</p>",
        )
        others = [h for h, *_ in farm if h != host]

        def body(
            p: PageBuilder,
            target_url: str = target_url,
            anchor: str = anchor,
            others: list[str] = others,
            host: str = host,
        ) -> str:
            links = " ".join(
                p.link(
                    f"http://{o}/",
                    f"{o.split('.')[0].replace('-', ' ')} casino bonus",
                    position="content",
                )
                for o in others
            )
            return (
                prose("casino", 2, _rng("farm", host))
                + "<p>"
                + p.link(target_url, anchor, position="content", note="link farm, off-topic")
                + f" {links}</p>"
            )

        kit.page("/", title="Free spins and casino bonus", body=body)
        kit.page("/bonus", title="Bonus codes", body=prose("casino", 3, _rng("farm-bonus", host)))


def _populate_demo(web: Web) -> None:
    web.target = TARGET
    web.competitors = [COMPETITOR]
    web.keywords = ["compost", "pruning", "roses", "seed saving", "gardening", "allotment"]
    web.seeds = [
        "rosegrowers.test",
        "http://allotment-news.test/",
        "compost-club.test",
        "https://blog.seedsavers.test/",
    ]
    _build_target(web)
    _build_rosegrowers(web)
    _build_allotment_news(web)
    _build_compost_club(web)
    _build_seedsavers(web)
    _build_second_hops(web)
    _build_link_farm(web)


def demo_web() -> Web:
    """A small gardening niche: target petalpost.test, four seeds, a competitor, a link farm."""
    web = Web("demo")
    _populate_demo(web)
    return web


# --- the test web: the demo plus every edge case a crawl must get right ----------------------

_POSITION_TARGETS = {
    "header": ("https://petalpost.test/about", "Petal Post"),
    "navigation": ("https://petalpost.test/roses", "Roses at Petal Post"),
    "content": ("https://petalpost.test/compost", "how to fix a slimy compost heap"),
    "sidebar": ("https://petalpost.test/pruning", "Petal Post pruning notes"),
    "footer": ("https://petalpost.test/seed-saving", "the Petal Post seed swap"),
    "comment": ("https://petalpost.test/", "Jenny Marsh"),
}


def _positions_page(kit: SiteKit, path: str, note: str) -> None:
    """One link to the target in each of the six positions, each to a different URL."""
    t = _POSITION_TARGETS
    kit.page(
        path,
        title="Where links sit on a page",
        header_extra=lambda p: (
            '<p class="partner">In partnership with '
            f"{p.link(t['header'][0], t['header'][1], position='header', note=note)}</p>"
        ),
        nav=[
            ("/", "Home"),
            (
                "",
                lambda p: p.link(
                    t["navigation"][0], t["navigation"][1], position="navigation", note=note
                ),
            ),
        ],
        body=lambda p: _article(
            "compost",
            "pos" + kit.host + path,
            "Our heap went slimy in a wet spring; this page explains "
            f"{p.link(t['content'][0], t['content'][1], position='content', note=note)}.",
            2,
        ),
        widgets=[
            (
                "Elsewhere",
                lambda p: _ul(
                    [p.link(t["sidebar"][0], t["sidebar"][1], position="sidebar", note=note)]
                ),
            )
        ],
        footer=lambda p: (
            "<p>Thanks to "
            f"{p.link(t['footer'][0], t['footer'][1], position='footer', note=note)} for the "
            "seeds.</p>"
        ),
        comments=[
            Comment("Jenny Marsh", "Glad it helped!", url=t["comment"][0], rel="ugc"),
            Comment("Pat", "Cardboard saved my heap too."),
        ],
    )


def _build_veg_patch(web: Web) -> None:
    """veg-patch.test: HTML5 theme; positions, rel values, URL noise, base href, images."""
    cases = [
        ("/positions", "Positions (HTML5)"),
        ("/roles", "Positions (ARIA roles)"),
        ("/double", "Same link twice"),
        ("/rel", "Rel values"),
        ("/noise", "Messy URLs"),
        ("/base", "Base href to the target"),
        ("/base-dir", "Base href to another directory"),
        ("/images", "Image links"),
        ("/meta-nofollow", "Meta robots nofollow"),
        ("/header-nofollow", "X-Robots-Tag nofollow"),
        ("/redirects", "Links through redirects"),
    ]
    kit = SiteKit(
        web,
        "veg-patch.test",
        name="The Veg Patch",
        tagline="Growing food in a small back garden",
        nav=[("/", "Home"), ("/links/friends", "Friends")],
        footer="<p>&copy; 2024 The Veg Patch</p>",
    )
    kit.page(
        "/",
        title="The Veg Patch",
        body=lambda p: (
            prose("allotment", 1, _rng("vp-home"))
            + _ul([p.link(path, text, position="content") for path, text in cases])
        ),
    )
    kit.page(
        "/links/friends",
        title="Friends of the Veg Patch",
        body=lambda p: _ul(
            [
                p.link("http://old-shed.test/", "The Old Shed", position="content"),
                p.link("https://garden-diary.test/", "A Garden Diary", position="content"),
            ]
        ),
    )
    _positions_page(kit, "/positions", "every position, HTML5 elements")
    roles = SiteKit(
        web, "veg-patch.test", name="The Veg Patch", theme="roles", nav=kit.nav, footer=kit.footer
    )
    _positions_page(roles, "/roles", "every position, ARIA role attributes")
    kit.page(
        "/double",
        title="Roses in pots",
        body=lambda p: _article(
            "roses",
            "vp-double",
            "Patio roses need big pots and regular feeding; see "
            + p.link(
                "https://petalpost.test/roses",
                "roses in pots",
                position="content",
                note="same URL in content and footer: content wins, 2 occurrences",
            )
            + ".",
            2,
        ),
        footer=lambda p: (
            "<p>Rose advice: "
            + p.link("https://petalpost.test/roses", "Petal Post", position="footer")
            + "</p>"
        ),
    )
    rel_cases = [
        ("https://petalpost.test/", "nofollow", "rel nofollow"),
        ("https://petalpost.test/roses", "ugc", "rel ugc"),
        ("https://petalpost.test/compost", "sponsored", "rel sponsored"),
        ("https://petalpost.test/pruning", "nofollow noopener", "rel nofollow noopener"),
        ("https://petalpost.test/seed-saving", "NoFollow", "rel NoFollow (mixed case)"),
        ("https://petalpost.test/about", "noopener noreferrer", "rel noopener noreferrer"),
        ("https://petalpost.test/guides/composting-101", "sponsored ugc", "rel sponsored ugc"),
    ]
    kit.page(
        "/rel",
        title="Links with rel values",
        body=lambda p: (
            "<p>Each of these links to Petal Post with a different rel:</p>"
            + _ul(
                [
                    p.link(u, text, position="content", rel=rel, note=text)
                    for u, rel, text in rel_cases
                ]
            )
        ),
    )
    noise = [
        (
            "https://petalpost.test/roses?utm_source=x&utm_medium=y",
            "roses (tracked link)",
            "utm tracking parameters",
        ),
        ("https://petalpost.test/compost#top", "compost (fragment)", "fragment"),
        (
            "HTTP://WWW.PETALPOST.TEST/Roses",
            "ROSES (shouting)",
            "upper-case scheme and www host; /Roses is a different path",
        ),
        ("https://petalpost.test:443/pruning", "pruning (port 443)", "explicit default https port"),
        (
            "http://petalpost.test:80/seed-saving",
            "seed saving (port 80)",
            "explicit default http port",
        ),
        (
            "//petalpost.test/about",
            "about (protocol-relative)",
            "protocol-relative: https on this page",
        ),
        ("https://shop.petalpost.test/", "the Petal Post shop", "subdomain of the target counts"),
        (
            "  https://petalpost.test/guides/composting-101\n",
            "composting 101 (spaces)",
            "whitespace around the href",
        ),
        (
            "https://petalpost.test/old-page-that-is-gone",
            "a page that is gone",
            "target page is a 404: still a (broken) backlink",
        ),
    ]
    not_backlinks = [
        (
            "petalpost.test/roses",
            "petalpost.test/roses",
            "no scheme: resolves to a veg-patch.test path",
        ),
        ("mailto:hello@petalpost.test", "email Jenny", "mailto: link"),
        ("javascript:void(0)", "print this page", "javascript: link"),
        (
            "https://petalpost.test.evil.test/",
            "petal post (evil)",
            "host merely starts with the target's name",
        ),
        ("https://notpetalpost.test/", "not petal post", "host merely ends with the target's name"),
    ]
    kit.page(
        "/noise",
        title="Messy links",
        body=lambda p: (
            "<p>The same site, written many ways:</p>"
            + _ul([p.link(u, text, position="content", note=note) for u, text, note in noise])
            + "<p>And some that only look like it:</p>"
            + _ul(
                [
                    p.link(u, text, position="content", not_a_backlink=note)
                    for u, text, note in not_backlinks
                ]
            )
        ),
    )
    kit.page(
        "/base",
        title="Reading list",
        base="https://petalpost.test/guides/",
        absolute_chrome=True,
        body=lambda p: (
            "<p>This page sets &lt;base href&gt; to Petal Post's guides, so relative links go "
            "there: "
            + p.link(
                "composting-101",
                "Composting 101",
                position="content",
                note="relative href resolved against <base href> on the target",
            )
            + " and "
            + p.link(
                "../roses", "the rose calendar", position="content", note="../ against <base href>"
            )
            + ".</p>"
        ),
    )
    kit.page(
        "/base-dir",
        title="Library",
        base="https://veg-patch.test/library/",
        body=lambda p: (
            "<p>Relative links here resolve under /library/: "
            f"{p.link('../links/friends', 'our friends', position='content')} and "
            + p.link(
                "petalpost",
                "our Petal Post notes",
                position="content",
                not_a_backlink="relative href petalpost under <base href>: a veg-patch.test page",
            )
            + ". Absolute links are unaffected: "
            + p.link(
                "https://petalpost.test/seed-saving",
                "seed saving",
                position="content",
                note="absolute href on a page with <base href> to another directory",
            )
            + ".</p>"
        ),
    )
    kit.site.page("/library/petalpost", Response(body="<p>Our notes.</p>"))
    kit.page(
        "/images",
        title="Pictures from the plot",
        body=lambda p: (
            "<p>Click a picture for the full story.</p>"
            "<p>"
            + p.link(
                "https://petalpost.test/roses",
                position="content",
                alt="Climbing roses at Petal Post",
                note="image link: anchor is the alt text",
            )
            + "</p>"
            "<p>"
            + p.link(
                "https://petalpost.test/compost",
                position="content",
                alt="",
                note="image link with empty alt",
            )
            + "</p>"
            '<p><img src="/img/map.png" usemap="#plot" alt="Plot map"></p><map name="plot">'
            + p.area(
                "https://petalpost.test/pruning",
                "Pruning diagram",
                position="content",
                note="<area> in an image map",
            )
            + "</map>"
        ),
    )
    kit.page(
        "/meta-nofollow",
        title="Page with meta robots nofollow",
        head_extra='<meta name="robots" content="index, nofollow">',
        nofollow=True,
        body=lambda p: (
            "<p>This page asks robots not to follow its links: "
            + p.link(
                "https://petalpost.test/roses",
                "Petal Post roses",
                position="content",
                note="page-level meta robots nofollow",
            )
            + ".</p>"
        ),
    )
    kit.page(
        "/header-nofollow",
        title="Page with X-Robots-Tag nofollow",
        headers={"X-Robots-Tag": "nofollow"},
        nofollow=True,
        body=lambda p: (
            "<p>The HTTP header says nofollow: "
            + p.link(
                "https://petalpost.test/compost",
                "Petal Post compost",
                position="content",
                note="X-Robots-Tag: nofollow header",
            )
            + ".</p>"
        ),
    )
    kit.site.redirect("/out/petalpost", "https://petalpost.test/", 302)
    kit.page(
        "/redirects",
        title="Links through redirects",
        body=lambda p: _ul(
            [
                p.link(
                    "/out/petalpost",
                    "Visit Petal Post",
                    position="content",
                    redirects_to="https://petalpost.test/",
                    note="same-host outbound redirect (302) to the target; optional case",
                ),
                p.link(
                    "https://go.test/r/petal",
                    "petal.link/pruning",
                    position="content",
                    redirects_to="https://petalpost.test/pruning",
                    min_depth=1,
                    note="short link on another host (301) to the target; optional case",
                ),
                p.link(
                    "https://petalpost.test/old-compost-guide",
                    "old compost guide",
                    position="content",
                    note="plain link to an old target URL that 301s to /compost on the target",
                ),
                p.link(
                    "/out?to=https%3A%2F%2Fpetalpost.test%2Froses",
                    "Petal Post on roses",
                    position="content",
                    redirects_to="https://petalpost.test/roses",
                    note="/out?to= hop on the same host that 302s to the target",
                ),
                p.link(
                    "/leaving?to=https://petalpost.test/seed-saving",
                    "saving seed at Petal Post",
                    position="content",
                    redirects_to="https://petalpost.test/seed-saving",
                    note="interstitial page that meta-refreshes to the target",
                ),
                p.link(
                    "https://garden-directory.test/",
                    "a garden link directory",
                    position="content",
                ),
                p.link("/more-hops", "more of the same", position="content"),
            ]
        ),
    )
    kit.page(
        "/more-hops",
        title="The same hops from another page",
        body=lambda p: (
            "<p>Two of our favourite reads again: "
            + p.link(
                "/out?to=https%3A%2F%2Fpetalpost.test%2Froses",
                "roses, again",
                position="content",
                redirects_to="https://petalpost.test/roses",
                note="a second page linking a hop URL the crawl has already followed",
            )
            + " and "
            + p.link(
                "https://go.test/r/petal",
                "pruning, again",
                position="content",
                redirects_to="https://petalpost.test/pruning",
                min_depth=1,
                note="a second page linking a short link the crawl has already followed",
            )
            + ".</p>"
        ),
    )
    kit.site.handler("/out?", _out_hop)
    kit.site.handler("/leaving?", _interstitial)
    web.expect_no_backlink(
        kit.url("/leaving?to=https://petalpost.test/seed-saving"),
        "https://petalpost.test/seed-saving",
        "an interstitial is the hop, not a page that links the target",
    )
    _build_garden_directory(web)


def _query_to(path: str) -> str | None:
    query = parse_qs(urlsplit(path).query)
    values = query.get("to") or query.get("url")
    return values[0] if values else None


def _out_hop(path: str) -> Response | None:
    """``/out?to=URL``: the click-tracking hop of many blogs, a 302 to wherever ``to`` says."""
    to = _query_to(path)
    return None if to is None else Response(status=302, body="", headers={"Location": to})


def _interstitial(path: str) -> Response | None:
    """``/leaving?to=URL``: a "you are leaving" page that meta-refreshes after a second.

    Its own "continue" link is the hop itself, not a page that links the target.
    """
    to = _query_to(path)
    if to is None:
        return None
    return Response(
        body=(
            f'<html><head><meta http-equiv="refresh" content="1; url={esc(to)}">'
            "<title>Leaving The Veg Patch</title></head><body>"
            f'<p>Taking you to <a href="{esc(to)}">{esc(to)}</a>…</p></body></html>'
        )
    )


def _build_garden_directory(web: Web) -> None:
    """garden-directory.test (depth 1): its links go through a click tracker at depth 2."""
    kit = SiteKit(
        web,
        "garden-directory.test",
        name="Garden Directory",
        depth=1,
        nav=[("/", "Home")],
        footer="<p>Garden Directory</p>",
    )
    kit.page(
        "/",
        title="Garden Directory",
        body=lambda p: _ul(
            [
                p.link(
                    "https://click.garden-ads.test/c?url=https%3A%2F%2Fpetalpost.test%2Fcompost",
                    "Petal Post: compost",
                    position="content",
                    redirects_to="https://petalpost.test/compost",
                    min_depth=1,
                    note="click tracker on a host past the depth that names the target: probed",
                ),
            ]
        ),
    )
    web.site("click.garden-ads.test").handler("/c?", _out_hop)


def _build_old_shed(web: Web) -> None:
    """old-shed.test: the old div-and-class theme; every position and the double link."""
    kit = SiteKit(
        web,
        "old-shed.test",
        name="The Old Shed",
        scheme="http",
        theme="classic",
        tagline="Potting bench musings since 2006",
        nav=[("/", "Home"), ("/positions.html", "Positions"), ("/double.html", "Pruning")],
        footer="<p>Copyright 2006-2024 The Old Shed</p>",
        widgets=[("Archives", "<ul><li>2024</li><li>2023</li></ul>")],
    )
    kit.page(
        "/",
        title="The Old Shed",
        body=lambda p: (
            prose("garden", 2, _rng("os-home"))
            + _ul(
                [
                    p.link("/positions.html", "where links sit", position="content"),
                    p.link("/double.html", "pruning old shrubs", position="content"),
                ]
            )
        ),
    )
    t = _POSITION_TARGETS
    note = "every position, old div#id theme"
    kit.page(
        "/positions.html",
        title="Where links sit on an old page",
        header_extra=lambda p: (
            '<p class="partner">Sponsored by '
            f"{p.link(t['header'][0], t['header'][1], position='header', note=note)}</p>"
        ),
        nav=[
            ("/", "Home"),
            (
                "",
                lambda p: p.link(
                    t["navigation"][0], t["navigation"][1], position="navigation", note=note
                ),
            ),
        ],
        body=lambda p: _article(
            "compost",
            "os-positions",
            "Last spring the heap turned to slime. This explains "
            f"{p.link(t['content'][0], t['content'][1], position='content', note=note)}.",
            2,
        ),
        widgets=[
            (
                "Blogroll",
                lambda p: _ul(
                    [p.link(t["sidebar"][0], t["sidebar"][1], position="sidebar", note=note)]
                ),
            ),
        ],
        footer=lambda p: (
            "<p>Seeds from "
            + p.link(t["footer"][0], t["footer"][1], position="footer", note=note)
            + "</p>"
        ),
        comments=[
            Comment(
                "Jenny Marsh", "Lovely old shed!", url=t["comment"][0], rel="external nofollow ugc"
            ),
        ],
    )
    kit.page(
        "/double.html",
        title="Pruning old shrubs",
        body=lambda p: _article(
            "pruning",
            "os-double",
            "Renovate overgrown shrubs over three winters, as "
            + p.link(
                "https://petalpost.test/pruning",
                "Petal Post explains",
                position="content",
                note="same URL in content and footer: content wins, 2 occurrences",
            )
            + ".",
            2,
        ),
        footer=lambda p: (
            "<p>Pruning help: "
            + p.link("https://petalpost.test/pruning", "Petal Post pruning", position="footer")
            + "</p>"
        ),
    )


def _calendar(kit: SiteKit) -> Callable[[str], Response | None]:
    """An endless calendar: every month links to both neighbours and all its days."""
    pattern = re.compile(r"^/calendar/(\d{4})/(\d{2})/(?:(\d{2})/)?$")

    def handle(path: str) -> Response | None:
        match = pattern.match(path.split("?", 1)[0])
        if not match:
            return None
        year, month = int(match[1]), int(match[2])
        try:
            first = dt.date(year, month, 1)
            day = dt.date(year, month, int(match[3])) if match[3] else None
        except ValueError:
            return None

        def month_url(d: dt.date) -> str:
            return f"/calendar/{d.year:04d}/{d.month:02d}/"

        prev_month = (first - dt.timedelta(days=1)).replace(day=1)
        next_month = (first + dt.timedelta(days=32)).replace(day=1)
        if day is None:
            days = []
            d = first
            while d.month == month:
                days.append(f'<a href="{month_url(d)}{d.day:02d}/">{d.day}</a>')
                d += dt.timedelta(days=1)
            body = (
                f'<p><a href="{month_url(prev_month)}">&laquo; {prev_month:%B %Y}</a> | '
                f'<a href="{month_url(next_month)}">{next_month:%B %Y} &raquo;</a></p>'
                f'<p class="days">{" ".join(days)}</p><p>No events this month.</p>'
            )
            title = f"Events in {first:%B %Y}"
        else:
            before, after = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
            body = (
                f'<p><a href="{month_url(before)}{before.day:02d}/">&laquo; {before:%d %B}</a> | '
                f'<a href="{month_url(first)}">{first:%B %Y}</a> | '
                f'<a href="{month_url(after)}{after.day:02d}/">{after:%d %B} &raquo;</a></p>'
                "<p>No events on this day.</p>"
            )
            title = f"Events on {day:%d %B %Y}"
        return Response(body=kit.render(path, title=title, body=body, record=False))

    return handle


def _search(kit: SiteKit) -> Callable[[str], Response | None]:
    """Endless search pagination where every link carries a fresh session id."""

    def handle(path: str) -> Response | None:
        query = parse_qs(urlsplit(path).query)
        try:
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            page = 1
        session = query.get("sessionid", [""])[0]
        links = []
        for n in range(page + 1, page + 21):
            sid = hashlib.blake2b(f"{session}:{page}:{n}".encode(), digest_size=6).hexdigest()
            links.append(f'<a href="/search?page={n}&amp;sessionid={sid}">{n}</a>')
        body = (
            f"<p>Search results, page {page}: nothing matched.</p>"
            f'<p class="pagination">{" ".join(links)}</p>'
        )
        return Response(body=kit.render(path, title=f"Search page {page}", body=body, record=False))

    return handle


def _binary(kind: str, size: int) -> bytes:
    data = _rng("binary", kind).randbytes(size)
    if kind == "pdf":
        head = (
            b"%PDF-1.4\n1 0 obj << /Type /Annot /Subtype /Link /A << /S /URI "
            b"/URI (https://petalpost.test/) >> >> endobj\n"
        )
        return head + data + b"\n%%EOF\n"
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + data + b"\xff\xd9"
    )


def _build_garden_diary(web: Web) -> None:
    """garden-diary.test: a spider trap before a real backlink, robots, files, errors, redirects."""
    kit = SiteKit(
        web,
        "garden-diary.test",
        name="A Garden Diary",
        tagline="One garden, every day",
        nav=[("/", "Home"), ("/archive/", "Archive")],
        footer="<p>A Garden Diary, kept since 2011</p>",
    )
    site = kit.site
    site.robots("User-agent: *\nDisallow: /private/\n")
    home_links = [
        ("/archive/", "the archive"),
        ("/calendar/2024/05/", "events calendar"),
        ("/search?page=1&sessionid=a1b2c3", "search the diary"),
        ("/private/notes", "private notes"),
        ("/files/planting-guide.pdf", "planting guide (PDF)"),
        ("/photos/greenhouse.jpg", "greenhouse photo"),
        ("/download?file=seed-catalogue", "seed catalogue (download)"),
        ("/missing-page", "an old page"),
        ("/broken", "the plant database"),
        ("/go/petalpost", "our recommended reading"),
        ("/2019/old-post", "rose hips (2019)"),
        ("/slow", "the weather station"),
    ]
    kit.page(
        "/",
        title="A Garden Diary",
        body=lambda p: (
            prose("garden", 2, _rng("gd-home"))
            + _ul([p.link(href, text, position="content") for href, text in home_links])
        ),
    )
    kit.page("/archive/", title="Archive", body='<p><a href="/archive/2023/">2023</a></p>')
    kit.page(
        "/archive/2023/",
        title="2023",
        body='<p>Posts from 2023.</p><p><a href="/archive/2023/page/2/">Older posts</a></p>',
    )
    kit.page(
        "/archive/2023/page/2/",
        title="2023, page 2",
        body='<ul><li><a href="/archive/2023/late-bloomers">Late bloomers</a></li></ul>',
    )
    kit.page(
        "/archive/2023/late-bloomers",
        title="Late bloomers",
        body=lambda p: _article(
            "roses",
            "gd-late",
            "Some roses save their best for October. Jenny's list of "
            + p.link(
                "https://petalpost.test/roses",
                "late-flowering roses",
                position="content",
                note="behind a spider trap: link depth 4 on the host, trap links come first",
            )
            + " is the one I keep going back to.",
            3,
        ),
    )
    site.handler("/calendar/", _calendar(kit))
    site.handler("/search", _search(kit))
    kit.page(
        "/private/notes",
        title="Private notes",
        blocked="robots.txt of garden-diary.test disallows /private/",
        body=lambda p: (
            "<p>Note to self: ask Jenny about "
            f"{p.link('https://petalpost.test/pruning', 'pruning', position='content')}.</p>"
        ),
    )
    site.page(
        "/files/planting-guide.pdf",
        Response(body=_binary("pdf", 300_000), content_type="application/pdf"),
    )
    web.expect_no_backlink(
        kit.url("/files/planting-guide.pdf"),
        "https://petalpost.test/",
        "a link inside a PDF, not HTML",
    )
    # 3 MB: bigger than a whole crawl of this web, so fetching it in full is detectable.
    site.page(
        "/photos/greenhouse.jpg",
        Response(body=_binary("jpeg", 3_000_000), content_type="image/jpeg"),
    )
    # No file extension gives it away: only the Content-Type header says it is not HTML.
    site.page(
        "/download?file=seed-catalogue",
        Response(body=_binary("pdf", 3_000_000), content_type="application/pdf"),
    )
    broken = PageBuilder(web, kit.url("/broken"), min_depth=0, blocked="HTTP 500 error page")
    site.page(
        "/broken",
        Response(
            status=500,
            body="<html><body><h1>Internal Server Error</h1><p>Try "
            f"{broken.link('https://petalpost.test/', 'Petal Post', position='content')}"
            " meanwhile.</p></body></html>",
        ),
    )
    site.redirect("/go/petalpost", "/recommended", 301)
    kit.page(
        "/recommended",
        title="Recommended reading",
        body=lambda p: _article(
            "seeds",
            "gd-rec",
            "Our favourite guide to "
            + p.link(
                "https://petalpost.test/seed-saving",
                "saving seed",
                position="content",
                note="only reachable through /go/petalpost (301)",
            )
            + ".",
            2,
        ),
    )
    site.redirect("/2019/old-post", "/posts/rose-hips", 301)
    kit.page(
        "/posts/rose-hips",
        title="Rose hips",
        body=lambda p: _article(
            "roses",
            "gd-hips",
            "Leave the last flowers on and enjoy the hips. More on "
            + p.link(
                "https://petalpost.test/",
                "Petal Post",
                position="content",
                note="page moved: old URL /2019/old-post 301s here",
            )
            + ".",
            2,
        ),
    )
    slow = kit.render("/slow", title="Weather station", body=prose("garden", 1, _rng("gd-slow")))
    site.page("/slow", Response(body=slow, delay=1.0))
    web.traps.extend([kit.url("/calendar/"), kit.url("/search")])


def _build_lookalikes(web: Web) -> None:
    """The target's www and shop hosts, look-alike hosts, and a URL shortener."""
    web.site("www.petalpost.test").handler(
        "/",
        lambda path: Response(status=301, headers={"Location": f"https://petalpost.test{path}"}),
    )
    shop = SiteKit(
        web,
        "shop.petalpost.test",
        name="Petal Post Shop",
        depth=1,
        nav=[("/", "Shop")],
        footer="<p>Petal Post Shop</p>",
    )
    shop.page(
        "/",
        title="Petal Post Shop",
        body=lambda p: (
            "<p>Seeds and tools chosen by Jenny. Back to the "
            + p.link(
                "https://petalpost.test/",
                "blog",
                position="content",
                not_a_backlink="a subdomain of the target is the target: internal link",
            )
            + ".</p>"
        ),
    )
    for host, name in (
        ("notpetalpost.test", "Not Petal Post"),
        ("petalpost.test.evil.test", "Petal Post Login"),
    ):
        other = SiteKit(web, host, name=name, depth=1, nav=[("/", "Home")], footer="")
        other.page("/", title=name, body=prose("diy", 2, _rng("lookalike", host)))
    web.site("go.test").redirect("/r/petal", "https://petalpost.test/pruning", 301)


def test_web() -> Web:
    """The demo web plus every case an end-to-end crawl test needs, each with ground truth."""
    web = Web("test")
    _populate_demo(web)
    web.seeds += ["veg-patch.test", "http://old-shed.test/", "garden-diary.test"]
    _build_veg_patch(web)
    _build_old_shed(web)
    _build_garden_diary(web)
    _build_lookalikes(web)
    web.expect_no_backlink(
        "https://petalpost.test/roses", "https://petalpost.test/", "internal link on the target"
    )
    return web


test_web.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name


# --- the generated web: benchmarks ----------------------------------------------------------

_GEN_PREFIXES = (
    "bloom",
    "green",
    "leaf",
    "root",
    "seed",
    "herb",
    "meadow",
    "orchard",
    "garden",
    "thorn",
    "willow",
    "fern",
    "moss",
    "clover",
    "bramble",
    "hazel",
)
_GEN_SUFFIXES = (
    "notes",
    "journal",
    "diary",
    "corner",
    "patch",
    "life",
    "times",
    "weekly",
    "hub",
    "digest",
    "gazette",
    "chronicle",
)
_GARDEN_TOPICS = ("compost", "roses", "pruning", "seeds", "allotment", "orchard", "garden")
_OFF_TOPICS = ("cooking", "travel", "diy")
_TITLE_THINGS = {
    "compost": ("compost heaps", "leaf mould", "worm bins", "bokashi", "mulching", "hot heaps"),
    "roses": (
        "climbing roses",
        "rose hips",
        "black spot",
        "ramblers",
        "rugosa hedges",
        "bare-root roses",
    ),
    "pruning": (
        "winter pruning",
        "secateurs",
        "espaliers",
        "wisteria",
        "hedge trimming",
        "fruit trees",
    ),
    "seeds": (
        "tomato seed",
        "seed swaps",
        "bean seed",
        "heritage varieties",
        "seed storage",
        "germination",
    ),
    "allotment": (
        "broad beans",
        "crop rotation",
        "brassicas",
        "water butts",
        "potatoes",
        "green manures",
    ),
    "orchard": (
        "russet apples",
        "rootstocks",
        "pollination groups",
        "fruit thinning",
        "old orchards",
        "apple storage",
    ),
    "garden": (
        "raised beds",
        "wildlife corners",
        "peat-free compost",
        "greenhouses",
        "pollinators",
        "mulch",
    ),
    "cooking": ("soups", "stock", "bread", "jam", "pickles", "beans"),
    "travel": ("coastal walks", "sleeper trains", "old towns", "museums", "ferries", "rail passes"),
    "diy": ("raised beds", "shed roofs", "garden paths", "varnish", "drills", "screws"),
}
_TITLE_FORMS = (
    "A beginner's guide to {}",
    "Notes on {}",
    "What we learned about {}",
    "Ten tips for {}",
    "In praise of {}",
    "Getting started with {}",
    "Troubleshooting {}",
    "A year of {}",
)
_TARGET_ANCHORS = (
    "Petal Post",
    "this compost guide",
    "rose care calendar",
    "pruning advice",
    "a great gardening blog",
    "saving seed at home",
    "petalpost.test",
    "read more",
)
_TARGET_PAGES = ("/", "/compost", "/pruning", "/roses", "/seed-saving", "/about")


@dataclass
class _GenPage:
    path: str
    title: str
    topic: str
    size: int
    # (position, host index (-1: the target), page index or target path index, rel, anchor)
    links: list[tuple[str, int, int, str, str]]


@dataclass
class _GenHost:
    host: str
    scheme: str
    theme: str
    topics: tuple[str, ...]
    is_seed: bool
    pages: list[_GenPage]

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}{path}"


def _build_plain_target(web: Web) -> None:
    kit = SiteKit(
        web,
        TARGET,
        name="Petal Post",
        nav=[(path, path.strip("/").replace("-", " ").title() or "Home") for path in _TARGET_PAGES],
        footer="<p>&copy; Petal Post</p>",
    )
    topics = {
        "/compost": "compost",
        "/pruning": "pruning",
        "/roses": "roses",
        "/seed-saving": "seeds",
    }
    for path in _TARGET_PAGES:
        kit.page(
            path,
            title=path.strip("/").replace("-", " ").title() or "Petal Post",
            body=prose(topics.get(path, "garden"), 4, _rng("gen-target", path)),
        )


def generated_web(n_pages: int = 2000, *, n_hosts: int = 60, seed: int = 1) -> Web:
    """A deterministic web of ``n_pages`` pages (10-30 KB, 30-80 links) on ``n_hosts`` hosts.

    One host in six is a seed; every other host's home page is in a seed's blogroll, so the
    whole web is reachable at depth 1. Pages per host differ by at most one
    (``web.notes["max_pages_per_host"]``); within a host every page is reachable from "/" in at
    most ``web.notes["max_link_depth"]`` clicks. HTML is rendered lazily, on request.
    """
    if n_hosts < 2 or n_pages < n_hosts:
        raise ValueError("need at least 2 hosts and one page per host")
    rng = random.Random(seed)
    web = Web(f"generated-{n_pages}")
    web.target = TARGET
    web.keywords = ["compost", "pruning", "roses", "seed saving", "gardening"]
    _build_plain_target(web)

    names = [f"{a}-{b}" for a in _GEN_PREFIXES for b in _GEN_SUFFIXES]
    rng.shuffle(names)
    names = [
        names[i % len(names)] + (f"-{i // len(names)}" if i >= len(names) else "")
        for i in range(n_hosts)
    ]
    n_seeds = max(1, n_hosts // 6)
    base, extra = divmod(n_pages, n_hosts)
    hosts: list[_GenHost] = []
    for index, name in enumerate(names):
        off_topic = index % 7 == 6
        topics = (
            (rng.choice(_OFF_TOPICS),) * 2 if off_topic else tuple(rng.sample(_GARDEN_TOPICS, 3))
        )
        count = base + (1 if index < extra else 0)
        pages = []
        for i in range(count):
            topic = topics[i % len(topics)]
            if i == 0:
                title, path = name.replace("-", " ").title(), "/"
            else:
                title = rng.choice(_TITLE_FORMS).format(rng.choice(_TITLE_THINGS[topic]))
                title = title[0].upper() + title[1:]
                path = f"/{topic}/{_slug(title)}-{i}/"
            pages.append(_GenPage(path, title, topic, rng.randint(9_000, 27_000), []))
        hosts.append(
            _GenHost(
                host=f"{name}.test",
                scheme="http" if index % 5 == 4 else "https",
                theme=("html5", "classic", "roles")[index % 3],
                topics=topics,
                is_seed=index < n_seeds,
                pages=pages,
            )
        )
    competitor = hosts[n_seeds].host
    web.competitors = [competitor]
    web.seeds = [
        (h.host if h.scheme == "https" and i % 2 == 0 else f"{h.scheme}://{h.host}/")
        for i, h in enumerate(hosts[:n_seeds])
    ]
    # Each non-seed host hangs off one seed's blogroll: that is what makes depth 1 enough.
    blogrolls: dict[int, list[int]] = {i: [] for i in range(n_seeds)}
    for index in range(n_seeds, n_hosts):
        blogrolls[index % n_seeds].append(index)

    for hi, host in enumerate(hosts):
        k = len(host.pages)
        for pi, page in enumerate(host.pages):
            prng = _rng("gen-links", seed, hi, pi)
            total = prng.randint(30, 80)
            links: dict[tuple[int, int], tuple[str, int, int, str, str]] = {}

            def add(
                position: str,
                h: int,
                p: int,
                rel: str = "",
                anchor: str = "",
                links: dict = links,
                hi: int = hi,
                pi: int = pi,
            ) -> None:
                if (h, p) != (hi, pi) and (h, p) not in links:
                    links[(h, p)] = (position, h, p, rel, anchor)

            for p in range(min(k, 8)):
                add("navigation", hi, p)
            for child in range(6 * pi + 1, min(6 * pi + 7, k)):
                add("content", hi, child)
            if pi + 1 < k:
                add("content", hi, pi + 1)
            if pi > 1:
                add("content", hi, pi - 1)
            roll = list(blogrolls.get(hi, [])) if pi == 0 else []
            roll += prng.sample(range(n_hosts), prng.randint(3, 8))
            for h in roll:
                add("sidebar", h, 0)
            for _ in range(prng.randint(3, 5)):
                add("footer", hi, prng.randrange(k))
            if prng.random() < 0.1:
                position = prng.choices(("content", "sidebar", "footer"), (8, 1, 1))[0]
                rel = prng.choices(("", "nofollow", "ugc", "sponsored"), (14, 3, 2, 1))[0]
                links[(-1, pi)] = (
                    position,
                    -1,
                    prng.randrange(len(_TARGET_PAGES)),
                    rel,
                    prng.choice(_TARGET_ANCHORS),
                )
            attempts = 0
            while len(links) < total and attempts < 400:
                attempts += 1
                if prng.random() < 0.25:
                    h = prng.randrange(n_hosts)
                    add("content", h, prng.randrange(len(hosts[h].pages)))
                else:
                    add("content", hi, prng.randrange(k))
            page.links = list(links.values())
            source = host.url(page.path)
            depth = 0 if host.is_seed else 1
            for position, h, p, rel, anchor in page.links:
                tokens = tuple(rel.split())
                if h == -1:
                    web.expect_backlink(
                        source,
                        f"https://{TARGET}{_TARGET_PAGES[p]}",
                        anchor=anchor,
                        rel=tokens,
                        position=position,
                        nofollow="nofollow" in tokens,
                        min_depth=depth,
                    )
                elif hosts[h].host == competitor and h != hi:
                    web.expect_backlink(
                        source,
                        hosts[h].url(hosts[h].pages[p].path),
                        anchor=hosts[h].pages[p].title,
                        position=position,
                        min_depth=depth,
                    )

    for hi, host in enumerate(hosts):
        kit = SiteKit(
            web,
            host.host,
            name=host.pages[0].title,
            tagline="Notes on " + " and ".join(dict.fromkeys(host.topics)),
            scheme=host.scheme,
            theme=host.theme,
            footer="",
            depth=0 if host.is_seed else 1,
        )
        kit.site.handler("/", _generated_handler(kit, host, hosts, seed, hi))

    depths = [_link_depth(h, i) for i, h in enumerate(hosts)]
    web.notes.update(
        {
            "n_pages": n_pages,
            "n_hosts": n_hosts,
            "seed_hosts": n_seeds,
            "pages_per_host": sorted({len(h.pages) for h in hosts}),
            "max_pages_per_host": max(len(h.pages) for h in hosts),
            "max_link_depth": max(depths),
            "target_pages": len(_TARGET_PAGES),
            "site_depth_needed": 1,
        }
    )
    return web


def _link_depth(host: _GenHost, hi: int) -> int:
    """Clicks from the home page to the farthest page of the host (BFS over internal links)."""
    seen = {0: 0}
    queue = [0]
    for current in queue:
        for _pos, h, p, _rel, _anchor in host.pages[current].links:
            if h == hi and p not in seen:
                seen[p] = seen[current] + 1
                queue.append(p)
    if len(seen) != len(host.pages):
        raise AssertionError(f"{host.host}: pages unreachable from its home page")
    return max(seen.values())


def _generated_handler(
    kit: SiteKit, host: _GenHost, hosts: list[_GenHost], seed: int, hi: int
) -> Callable[[str], Response | None]:
    by_path = {page.path: i for i, page in enumerate(host.pages)}

    tags: dict[tuple[str, int, int, str, str], tuple[str, str]] = {}

    def anchor_of(link: tuple[str, int, int, str, str]) -> tuple[str, str]:
        cached = tags.get(link)
        if cached is None:
            cached = tags[link] = make_tag(link)
        return cached

    def make_tag(link: tuple[str, int, int, str, str]) -> tuple[str, str]:
        _pos, h, p, rel, anchor = link
        if h == -1:
            url = f"https://{TARGET}{_TARGET_PAGES[p]}"
        elif h == hi:
            url = hosts[h].pages[p].path
            anchor = hosts[h].pages[p].title
        else:
            url = hosts[h].url(hosts[h].pages[p].path)
            anchor = hosts[h].pages[p].title
        rel_attr = f' rel="{rel}"' if rel else ""
        return url, f'<a href="{esc(url)}"{rel_attr}>{esc(anchor)}</a>'

    def render(index: int) -> str:
        page = host.pages[index]
        rng = _rng("gen-text", seed, hi, index)
        by_pos: dict[str, list[str]] = {
            "navigation": [],
            "content": [],
            "sidebar": [],
            "footer": [],
        }
        nav: list[tuple[str, Part]] = []
        for link in page.links:
            url, tag = anchor_of(link)
            if link[0] == "navigation":
                nav.append((url, lambda _p, tag=tag: tag))
            else:
                by_pos[link[0]].append(tag)
        content = by_pos["content"]
        paragraphs = []
        size = 0
        bank = TEXT[page.topic]
        while size < page.size or content:
            sentences = rng.sample(bank, min(len(bank), rng.randint(3, 6)))
            if content:
                take = min(len(content), rng.randint(1, 4))
                chunk, content = content[:take], content[take:]
                sentences.append("See also " + ", ".join(chunk) + ".")
            text = " ".join(sentences)
            size += len(text)
            paragraphs.append(f"<p>{text}</p>")
        return kit.render(
            page.path,
            title=page.title,
            body="\n".join(paragraphs),
            nav=nav,
            widgets=[("Blogroll", _ul(by_pos["sidebar"]))] if by_pos["sidebar"] else [],
            footer="<p>" + " | ".join(by_pos["footer"]) + "</p>",
            record=False,
            byline=f"Filed under {page.topic}",
        )

    def handle(path: str) -> Response | None:
        index = by_path.get(path.split("?", 1)[0])
        if index is None:
            return None
        return Response(body=render(index))

    return handle
