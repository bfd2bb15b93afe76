"""The benchmarks' web: a large deterministic synthetic web, generated from a seed.

    from benchmarks.web import generated_web

    web = generated_web(2000)  # 2,000 pages on 60 hosts; the same web on every run
    web = generated_web(12000, n_hosts=60, url_styles=URL_STYLES)  # paths of every style

Written with the demo web's kit (``backlink_spider.demoweb.sites``) around the same target; its
pages are rendered on request. The test suite crawls small ones too (``tests/test_resume.py``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backlink_spider.demoweb.model import Response, Web
from backlink_spider.demoweb.sites import (
    TARGET,
    PageBuilder,
    Part,
    SiteKit,
    esc,
    prose,
    slug,
    stable_rng,
    ul,
)
from backlink_spider.demoweb.sites import TEXT as DEMO_TEXT

__all__ = [
    "OFF_TOPIC_TEXT",
    "ORDINARY_BODY_PIXEL",
    "ORDINARY_HEAD_SCRIPTS",
    "TEXT",
    "URL_STYLES",
    "generated_web",
]

#: Sentence banks of the off-topic hosts (one host in seven), next to the demo web's.
OFF_TOPIC_TEXT: dict[str, tuple[str, ...]] = {
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
TEXT: dict[str, tuple[str, ...]] = {**DEMO_TEXT, **OFF_TOPIC_TEXT}

# What ordinary pages carry and must not make them look script-built: analytics, JSON-LD, a
# tracking pixel for readers without script.
ORDINARY_HEAD_SCRIPTS = (
    '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Blog", '
    '"url": "https://plain-plot.test/", "name": "Plain Plot"}</script>\n'
    '<script async src="https://tags.analytics.test/gtag/js?id=G-PLOT"></script>\n'
    "<script>window.dataLayer = window.dataLayer || [];"
    "function gtag(){dataLayer.push(arguments);}gtag('js', new Date());"
    "gtag('config', 'G-PLOT');</script>"
)
ORDINARY_BODY_PIXEL = (
    '<noscript><iframe src="https://tags.analytics.test/ns.html?id=GTM-PLOT" height="0" '
    'width="0" style="display:none;visibility:hidden"></iframe></noscript>'
)


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

#: How a host writes its page paths (home pages are "/" in every style), one style per host:
#: "slug" ``/compost/notes-on-worm-bins-12/`` (the default, the only one before), "id"
#: ``/article/107919`` (numeric ids), "dated" ``/2015/01/13/notes-on-worm-bins/``, "query"
#: ``/index.php?id=107919`` (numeric ids in the query), "html" ``/compost/worm-bins-12.html``.
#: Hosts of the "id" and "query" styles share one URL shape per host (digits blanked), which
#: the crawl's trap guard caps (BACKLINKS_TRAP_PATTERN_PAGES, BACKLINKS_TRAP_QUERY_VARIANTS).
URL_STYLES = ("slug", "id", "dated", "query", "html")


#: One link of a generated page: (position, host index (-1: the target), page index or target
#: path index, rel, anchor).
Link = tuple[str, int, int, str, str]


@dataclass
class _GenPage:
    path: str
    title: str
    topic: str
    size: int
    links: list[Link]


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
            body=prose(topics.get(path, "garden"), 4, stable_rng("gen-target", path)),
        )


def generated_web(
    n_pages: int = 2000,
    *,
    n_hosts: int = 60,
    seed: int = 1,
    url_styles: Sequence[str] = ("slug",),
) -> Web:
    """A deterministic web of ``n_pages`` pages (10-30 KB, 30-80 links) on ``n_hosts`` hosts.

    One host in six is a seed; every other host's home page is in a seed's blogroll, so the
    whole web is reachable at depth 1. Pages per host differ by at most one
    (``web.notes["max_pages_per_host"]``); within a host every page is reachable from "/" in at
    most ``web.notes["max_link_depth"]`` clicks. HTML is rendered lazily, on request. Host ``i``
    writes its paths in ``url_styles[i % len(url_styles)]`` (``URL_STYLES``); the default keeps
    every host in the "slug" style, and the same web as before the styles existed.
    """
    if n_hosts < 2 or n_pages < n_hosts:
        raise ValueError("need at least 2 hosts and one page per host")
    unknown = sorted(set(url_styles) - set(URL_STYLES))
    if not url_styles or unknown:
        raise ValueError(f"url_styles: one or more of {', '.join(URL_STYLES)}, not {unknown}")
    rng = random.Random(seed)
    web = Web(f"generated-{n_pages}")
    web.target = TARGET
    web.keywords = ["compost", "pruning", "roses", "seed saving", "gardening"]
    _build_plain_target(web)

    n_seeds = max(1, n_hosts // 6)
    hosts = _plan_hosts(rng, n_pages, n_hosts, n_seeds, tuple(url_styles))
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
        for pi, page in enumerate(host.pages):
            roll = blogrolls.get(hi, []) if pi == 0 else []
            page.links = _page_links(hosts, hi, pi, seed, roll)
            _declare_backlinks(web, hosts, hi, page, competitor)

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
            "url_styles": sorted(set(url_styles)),
        }
    )
    return web


def _plan_hosts(
    rng: random.Random, n_pages: int, n_hosts: int, n_seeds: int, styles: tuple[str, ...]
) -> list[_GenHost]:
    """The hosts (names, looks, topics) and their pages (paths, titles, sizes), links to come."""
    names = [f"{a}-{b}" for a in _GEN_PREFIXES for b in _GEN_SUFFIXES]
    rng.shuffle(names)
    names = [
        names[i % len(names)] + (f"-{i // len(names)}" if i >= len(names) else "")
        for i in range(n_hosts)
    ]
    base, extra = divmod(n_pages, n_hosts)
    hosts: list[_GenHost] = []
    for index, name in enumerate(names):
        off_topic = index % 7 == 6
        topics = (
            (rng.choice(_OFF_TOPICS),) * 2 if off_topic else tuple(rng.sample(_GARDEN_TOPICS, 3))
        )
        count = base + (1 if index < extra else 0)
        hosts.append(
            _GenHost(
                host=f"{name}.test",
                scheme="http" if index % 5 == 4 else "https",
                theme=("html5", "classic", "roles")[index % 3],
                topics=topics,
                is_seed=index < n_seeds,
                pages=[
                    _plan_page(rng, name, topics, i, styles[index % len(styles)])
                    for i in range(count)
                ],
            )
        )
    return hosts


def _plan_page(
    rng: random.Random, name: str, topics: tuple[str, ...], i: int, style: str = "slug"
) -> _GenPage:
    topic = topics[i % len(topics)]
    if i == 0:
        title, path = name.replace("-", " ").title(), "/"
    else:
        title = rng.choice(_TITLE_FORMS).format(rng.choice(_TITLE_THINGS[topic]))
        title = title[0].upper() + title[1:]
        path = _page_path(style, topic, slug(title), i)
    return _GenPage(path, title, topic, rng.randint(9_000, 27_000), [])


def _page_path(style: str, topic: str, page_slug: str, i: int) -> str:
    """Page ``i``'s path (``i`` >= 1) in a URL style (``URL_STYLES``): unique within its host."""
    number = 100_000 + i * 7919 % 900_000  # a numeric id: distinct for every i below 900,000
    if style == "id":
        return f"/article/{number}"
    if style == "query":
        return f"/index.php?id={number}"
    if style == "dated":  # one post a day
        day = dt.date(2015, 1, 1) + dt.timedelta(days=i)
        return f"/{day.year}/{day.month:02d}/{day.day:02d}/{page_slug}/"
    if style == "html":
        return f"/{topic}/{page_slug}-{i}.html"
    return f"/{topic}/{page_slug}-{i}/"


def _page_links(
    hosts: list[_GenHost], hi: int, pi: int, seed: int, blogroll: list[int]
) -> list[Link]:
    """The links of page ``pi`` of host ``hi``: its own random draws, so pages are independent.

    The host's first pages in the navigation, a tree of internal links (every page reachable
    from "/"), a blogroll, footer links, one page in ten links the target, then random links
    (a quarter of them to other hosts) up to a total of 30-80.
    """
    k = len(hosts[hi].pages)
    prng = stable_rng("gen-links", seed, hi, pi)
    total = prng.randint(30, 80)
    links: dict[tuple[int, int], Link] = {}

    def add(position: str, h: int, p: int) -> None:
        if (h, p) != (hi, pi) and (h, p) not in links:
            links[(h, p)] = (position, h, p, "", "")

    for p in range(min(k, 8)):
        add("navigation", hi, p)
    for child in [*range(6 * pi + 1, min(6 * pi + 7, k)), pi + 1]:
        if child < k:
            add("content", hi, child)
    if pi > 1:
        add("content", hi, pi - 1)
    for h in [*blogroll, *prng.sample(range(len(hosts)), prng.randint(3, 8))]:
        add("sidebar", h, 0)
    for _ in range(prng.randint(3, 5)):
        add("footer", hi, prng.randrange(k))
    if prng.random() < 0.1:
        position = prng.choices(("content", "sidebar", "footer"), (8, 1, 1))[0]
        rel = prng.choices(("", "nofollow", "ugc", "sponsored"), (14, 3, 2, 1))[0]
        path_index = prng.randrange(len(_TARGET_PAGES))
        links[(-1, pi)] = (position, -1, path_index, rel, prng.choice(_TARGET_ANCHORS))
    attempts = 0
    while len(links) < total and attempts < 400:
        attempts += 1
        if prng.random() < 0.25:
            h = prng.randrange(len(hosts))
            add("content", h, prng.randrange(len(hosts[h].pages)))
        else:
            add("content", hi, prng.randrange(k))
    return list(links.values())


def _declare_backlinks(
    web: Web, hosts: list[_GenHost], hi: int, page: _GenPage, competitor: str
) -> None:
    """The ground truth of one page: its links into the target and into the competitor."""
    host = hosts[hi]
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


def _written(tag: str) -> Callable[[PageBuilder], str]:
    """A nav entry whose link is already written: the page renders it as it is."""
    return lambda _p: tag


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
        rng = stable_rng("gen-text", seed, hi, index)
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
                nav.append((url, _written(tag)))
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
            widgets=[("Blogroll", ul(by_pos["sidebar"]))] if by_pos["sidebar"] else [],
            footer="<p>" + " | ".join(by_pos["footer"]) + "</p>",
            record=False,
            byline=f"Filed under {page.topic}",
        )

    def handle(path: str) -> Response | None:
        index = by_path.get(path)  # "query" style paths carry their query
        if index is None:
            index = by_path.get(path.split("?", 1)[0])
        if index is None:
            return None
        return Response(body=render(index))

    return handle
