"""The test web: the demo web plus every edge case a crawl must get right, each with its ground
truth (positions in three themes, rel values, URL noise, ``<base href>``, image links, page-level
nofollow, redirects and hops, robots.txt, spider traps, sites with numeric URLs that are not
traps, files, errors, look-alike hosts).

Written in Python with the demo web's kit (``backlink_spider.demoweb.sites``): links go through
``PageBuilder.link``, which renders them and declares what a correct crawl reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from backlink_spider.demoweb.model import Response, Web
from backlink_spider.demoweb.sites import (
    Comment,
    PageBuilder,
    SiteKit,
    esc,
    populate_demo,
    prose,
    stable_rng,
    ul,
)
from benchmarks.web import OFF_TOPIC_TEXT

__all__ = ["NUMERIC_ITEMS", "test_web"]


def article(topic: str, key: str, lead: str, paragraphs: int = 3) -> str:
    """A lead paragraph (which carries the interesting links) followed by on-topic prose."""
    return f"<p>{lead}</p>\n" + prose(topic, paragraphs, stable_rng("article", key))


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
        body=lambda p: article(
            "compost",
            "pos" + kit.host + path,
            "Our heap went slimy in a wet spring; this page explains "
            f"{p.link(t['content'][0], t['content'][1], position='content', note=note)}.",
            2,
        ),
        widgets=[
            (
                "Elsewhere",
                lambda p: ul(
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
            prose("allotment", 1, stable_rng("vp-home"))
            + ul([p.link(path, text, position="content") for path, text in cases])
        ),
    )
    kit.page(
        "/links/friends",
        title="Friends of the Veg Patch",
        body=lambda p: ul(
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
        body=lambda p: article(
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
            + ul(
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
            + ul([p.link(u, text, position="content", note=note) for u, text, note in noise])
            + "<p>And some that only look like it:</p>"
            + ul(
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
        body=lambda p: ul(
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
        body=lambda p: ul(
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
            prose("garden", 2, stable_rng("os-home"))
            + ul(
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
        body=lambda p: article(
            "compost",
            "os-positions",
            "Last spring the heap turned to slime. This explains "
            f"{p.link(t['content'][0], t['content'][1], position='content', note=note)}.",
            2,
        ),
        widgets=[
            (
                "Blogroll",
                lambda p: ul(
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
        body=lambda p: article(
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
    data = stable_rng("binary", kind).randbytes(size)
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
            prose("garden", 2, stable_rng("gd-home"))
            + ul([p.link(href, text, position="content") for href, text in home_links])
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
        body=lambda p: article(
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
        body=lambda p: article(
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
        body=lambda p: article(
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
    slow = kit.render(
        "/slow", title="Weather station", body=prose("garden", 1, stable_rng("gd-slow"))
    )
    site.page("/slow", Response(body=slow, delay=1.0))
    web.traps.extend([kit.url("/calendar/"), kit.url("/search")])


# --- sites with numeric URLs: ordinary sites, not spider traps -------------------------------

#: Pages of each numeric-URL site: more posts (or products) of one URL shape than the old cap of
#: 25 pages per shape allowed; tests crawl them whole, and to a lower per-host cap.
NUMERIC_ITEMS = 40
_LISTED = 8  # items per listing page: the home page, then pages 2, 3, ...
_ITEM_WORDS = (
    ("Early", "Late", "Dwarf", "Climbing", "Frost-hardy", "Heirloom", "Scented", "Trailing"),
    ("tomatoes", "sweet peas", "runner beans", "dahlias", "gooseberries"),
)
_TARGET_PAGES = ("/compost", "/pruning", "/roses", "/seed-saving", "/")


def _numeric_site(
    web: Web,
    kit: SiteKit,
    *,
    item_path: Callable[[int], str],
    list_path: Callable[[int], str],
    kind: str,
    topic: str,
) -> list[str]:
    """A site of ``NUMERIC_ITEMS`` items (posts, products) whose URLs differ only in a number.

    The home page lists the newest items, listing pages 2, 3, ... the older ones (each links the
    next); every item links its neighbours and one in five links the target in its text. Each
    page's text is its own: nothing about the site looks like a trap but its URLs. Returns the
    URLs of all its pages.
    """
    names = [f"{a} {b}" for b in _ITEM_WORDS[1] for a in _ITEM_WORDS[0]][:NUMERIC_ITEMS]
    items = [item_path(i) for i in range(NUMERIC_ITEMS)]
    pages = -(-NUMERIC_ITEMS // _LISTED)
    urls = []
    for n in range(1, pages + 1):
        listed = range((n - 1) * _LISTED, min(n * _LISTED, NUMERIC_ITEMS))
        older = f'<p><a href="{esc(list_path(n + 1))}">Older {kind}s</a></p>' if n < pages else ""
        body = (
            prose(topic, 1, stable_rng(kit.host, "list", n))
            + ul([f'<a href="{esc(items[i])}">{esc(names[i])}</a>' for i in listed])
            + older
        )
        title = kit.name if n == 1 else f"{kit.name}: {kind}s, page {n}"
        urls.append(kit.page(list_path(n), title=title, body=body))
    for i, path in enumerate(items):

        def body(p: PageBuilder, i: int = i, path: str = path) -> str:
            lead = f"All about our {names[i].lower()}, from sowing to the first harvest."
            if i % 5 == 3:
                href = f"https://petalpost.test{_TARGET_PAGES[(i // 5) % len(_TARGET_PAGES)]}"
                lead += (
                    " Jenny's notes on "
                    + p.link(
                        href,
                        f"{names[i].lower()} at Petal Post",
                        position="content",
                        note=f"a {kind} among {NUMERIC_ITEMS} whose URLs differ in a number only",
                    )
                    + " helped."
                )
            around = [
                f'<a href="{esc(items[j])}">{esc(names[j])}</a>'
                for j in (i - 1, i + 1)
                if 0 <= j < NUMERIC_ITEMS
            ]
            return (
                article(topic, f"{kit.host}{path}", lead, 2)
                + f"<p>More {kind}s: {' | '.join(around)}</p>"
            )

        urls.append(kit.page(path, title=names[i], body=body))
    web.notes.setdefault("numeric_sites", {})[kit.host] = urls  # type: ignore[union-attr]
    return urls


def _build_numeric_sites(web: Web) -> None:
    """A blog of /post/1234/ URLs, a blog of ?p=123 URLs and a shop of /product/4021.html ones."""
    nav = [("/", "Home")]
    blog = SiteKit(
        web, "plot-notes.test", name="Plot Notes", tagline="An allotment, post by post", nav=nav
    )
    _numeric_site(
        web,
        blog,
        item_path=lambda i: f"/post/{3100 + 17 * i}/",
        list_path=lambda n: "/" if n == 1 else f"/page/{n}/",
        kind="post",
        topic="allotment",
    )
    press = SiteKit(
        web,
        "seed-packet.test",
        name="The Seed Packet",
        theme="classic",
        tagline="Seeds saved and swapped",
        nav=nav,
        footer="<p>Powered by a blog engine that numbers its posts</p>",
    )
    _numeric_site(
        web,
        press,
        item_path=lambda i: f"/?p={212 + 3 * i}",
        list_path=lambda n: "/" if n == 1 else f"/?paged={n}",
        kind="post",
        topic="seeds",
    )
    shop = SiteKit(
        web,
        "greenhouse-shop.test",
        name="Greenhouse Shop",
        theme="roles",
        tagline="Plants and seeds by post",
        nav=nav,
        footer="<p>Greenhouse Shop Ltd</p>",
    )
    _numeric_site(
        web,
        shop,
        item_path=lambda i: f"/product/{4021 + 13 * i}.html",
        list_path=lambda n: "/" if n == 1 else f"/shop/page/{n}/",
        kind="product",
        topic="garden",
    )
    web.seeds += ["plot-notes.test", "seed-packet.test", "greenhouse-shop.test"]


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
        other.page(
            "/",
            title=name,
            body=prose("diy", 2, stable_rng("lookalike", host), text=OFF_TOPIC_TEXT),
        )
    web.site("go.test").redirect("/r/petal", "https://petalpost.test/pruning", 301)


def test_web() -> Web:
    """The demo web plus every case an end-to-end crawl test needs, each with ground truth."""
    web = Web("test")
    populate_demo(web)
    web.seeds += ["veg-patch.test", "http://old-shed.test/", "garden-diary.test"]
    _build_veg_patch(web)
    _build_old_shed(web)
    _build_garden_diary(web)
    _build_numeric_sites(web)
    _build_lookalikes(web)
    web.expect_no_backlink(
        "https://petalpost.test/roses", "https://petalpost.test/", "internal link on the target"
    )
    return web


test_web.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name
