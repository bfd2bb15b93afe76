"""The script web: pages whose links only a browser sees, next to pages that only look that way.

Links written by a page's script are declared with ``needs_render=True``: a crawl that renders
finds them, one that reads raw HTML cannot. Each site is one case of ``render=auto``:

- ``spa-garden.test``: a single-page app (an empty ``<div id="root">`` and a script bundle):
  every link, internal ones included, is written by script.
- ``blogroll-blog.test``: an ordinary blog whose sidebar blogroll is filled in by script.
- ``plain-plot.test``: an ordinary site with the usual scripts (analytics, JSON-LD, a tracking
  pixel in ``<noscript>``: ``benchmarks.web.ORDINARY_HEAD_SCRIPTS``, which the render benchmark
  puts on every page): nothing to render, and ``auto`` must not render it.
- ``noscript-notes.test``: every page says "enable JavaScript" for its comments, but its script
  writes no links: ``auto`` samples it, finds nothing more, and stops.
"""

from __future__ import annotations

import json

from backlink_spider.demoweb.model import Response, Web
from backlink_spider.demoweb.sites import TARGET, SiteKit, build_target, esc, prose, stable_rng
from benchmarks.web import ORDINARY_BODY_PIXEL, ORDINARY_HEAD_SCRIPTS

__all__ = ["BLOGROLL", "NOSCRIPT", "PLAIN", "SPA", "script_web"]

SPA = "spa-garden.test"
BLOGROLL = "blogroll-blog.test"
PLAIN = "plain-plot.test"
NOSCRIPT = "noscript-notes.test"


def script_web() -> Web:
    """Target petalpost.test, four seed sites: two need a browser, two must not get one."""
    web = Web("script")
    web.target = TARGET
    web.keywords = ["compost", "roses", "gardening"]
    web.seeds = [SPA, BLOGROLL, PLAIN, NOSCRIPT]
    build_target(web)
    _build_spa(web)
    _build_blogroll(web)
    _build_plain(web)
    _build_noscript(web)
    return web


script_web.__test__ = False  # type: ignore[attr-defined]


def _build_spa(web: Web) -> None:
    site = web.site(SPA)
    shell = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Spa Garden</title>\n"
        '<script defer src="/static/app.js"></script>\n</head>\n<body>\n'
        "<noscript>You need to enable JavaScript to run this app.</noscript>\n"
        '<div id="root"></div>\n</body>\n</html>\n'
    )
    routes: dict[str, str] = {}
    nav = (
        '<header class="site-header"><nav class="main-nav"><ul>'
        '<li><a href="/">Spa Garden</a></li><li><a href="/guides/compost">Compost</a></li>'
        '<li><a href="/guides/roses">Roses</a></li></ul></nav></header>'
    )
    pages = {
        "/": ("Spa Garden", "garden", "https://petalpost.test/", "Petal Post"),
        "/guides/compost": (
            "Compost, quickly",
            "compost",
            "https://petalpost.test/compost",
            "Petal Post's compost troubleshooting",
        ),
        "/guides/roses": ("Roses without fuss", "roses", None, None),
    }
    for path, (title, topic, out_url, anchor) in pages.items():
        lead = "A garden written in JavaScript, rendered in your browser."
        if out_url:
            lead += (
                f' Our favourite reading on the subject is <a href="{esc(out_url)}">'
                f"{esc(anchor or '')}</a>, which we recommend to every new member."
            )
            web.expect_backlink(
                f"https://{SPA}{path}",
                out_url,
                anchor=anchor or "",
                position="content",
                note="written by a single-page app's script",
                needs_render=True,
            )
        routes[path] = (
            nav
            + f'<main><article class="post"><h1>{esc(title)}</h1><p>{lead}</p>'
            + prose(topic, 2, stable_rng("spa", path))
            + "</article></main>"
        )
        site.page(path, shell)
    app = (
        "(function () {\n"
        f"  var routes = {json.dumps(routes)};\n"
        '  var root = document.getElementById("root");\n'
        '  root.innerHTML = routes[location.pathname] || "<h1>Not found</h1>";\n'
        '  document.title = root.querySelector("h1").textContent + " | Spa Garden";\n'
        "})();\n"
    )
    site.page("/static/app.js", Response(body=app, content_type="text/javascript; charset=utf-8"))


def _build_blogroll(web: Web) -> None:
    blogroll_script = (
        "<script>\n"
        'document.addEventListener("DOMContentLoaded", function () {\n'
        f'  var friends = [["https://{TARGET}/", "Petal Post"], '
        f'["https://{PLAIN}/", "Plain Plot"]];\n'
        '  var list = document.getElementById("blogroll");\n'
        "  friends.forEach(function (friend) {\n"
        '    var item = document.createElement("li");\n'
        '    var link = document.createElement("a");\n'
        "    link.href = friend[0];\n"
        "    link.textContent = friend[1];\n"
        "    item.appendChild(link);\n"
        "    list.appendChild(item);\n"
        "  });\n"
        "});\n"
        "</script>"
    )
    kit = SiteKit(
        web,
        BLOGROLL,
        name="Blogroll Blog",
        tagline="Mulch, hedges and friends",
        nav=[("/", "Home"), ("/posts/mulch", "Mulch"), ("/posts/hedges", "Hedges")],
        footer="<p>Blogroll Blog, since 2009.</p>",
        widgets=[("Blogroll", '<ul id="blogroll"></ul>')],
    )
    for path, title, topic in (
        ("/", "Blogroll Blog", "garden"),
        ("/posts/mulch", "Mulch in autumn", "compost"),
        ("/posts/hedges", "Hedges after nesting", "pruning"),
    ):
        kit.page(
            path,
            title=title,
            head_extra=blogroll_script,
            body=prose(topic, 2, stable_rng("blogroll", path)),
        )
        web.expect_backlink(
            kit.url(path),
            f"https://{TARGET}/",
            anchor="Petal Post",
            position="sidebar",
            note="a blogroll written by script",
            needs_render=True,
        )


def _build_plain(web: Web) -> None:
    kit = SiteKit(
        web,
        PLAIN,
        name="Plain Plot",
        tagline="An allotment diary",
        nav=[("/", "Home"), ("/diary/march", "March"), ("/diary/april", "April")],
        footer="<p>Plain Plot</p>",
    )
    for path, title in (("/", "Plain Plot"), ("/diary/march", "March"), ("/diary/april", "April")):
        kit.page(
            path,
            title=title,
            head_extra=ORDINARY_HEAD_SCRIPTS,
            header_extra=ORDINARY_BODY_PIXEL,
            body=lambda p, path=path: (
                "<p>Broad beans are up and the onions are in. Jenny's "
                + p.link(f"https://{TARGET}/compost", "compost guide", position="content")
                + " saved our heap this year, as it has every spring since we took the plot.</p>"
                + prose("allotment", 2, stable_rng("plain", path))
            ),
        )


def _build_noscript(web: Web) -> None:
    comments = (
        '<p id="comment-count"></p>'
        "<noscript><p>Please enable JavaScript to see the comments.</p></noscript>"
        '<script>document.getElementById("comment-count").textContent = "3 comments";</script>'
    )
    paths = ["/", "/notes/leaf-mould", "/notes/seed-trays", "/notes/water-butts"]
    kit = SiteKit(
        web,
        NOSCRIPT,
        name="Noscript Notes",
        nav=[(path, path.rsplit("/", 1)[-1].replace("-", " ") or "Home") for path in paths],
        footer="<p>Noscript Notes</p>",
    )
    for path in paths:
        link_target = path == "/notes/leaf-mould"
        kit.page(
            path,
            title=f"Notes: {path}",
            body=lambda p, path=path, link_target=link_target: (
                prose("garden", 2, stable_rng("noscript", path))
                + (
                    "<p>Leaf mould takes two years; "
                    + p.link(
                        f"https://{TARGET}/compost", "Petal Post explains why", position="content"
                    )
                    + " better than we could, with photographs of every stage.</p>"
                    if link_target
                    else ""
                )
                + comments
            ),
        )
