"""Backlinks found within a page budget when the target's niche is a minority of the web (issue 16).

    python benchmarks/focus.py [--hosts 90] [--on-topic-pages 20] [--off-topic-pages 35]
                               [--budgets 10 30 100] [--order focused breadth] [--workdir DIR]

Serves a generated synthetic web on loopback in which a third of the hosts write about the
target's niche (gardening) and the rest about cooking, travel and DIY (the off-topic sites are
the bigger ones: about a fifth of the pages are on topic); the backlinks to the target are mostly
(about 95%) on the on-topic hosts, some of them two hops out from the seeds, and the seeds'
blogrolls list the off-topic sites first (most of the seeds' links to other sites go to off-topic
friends; elsewhere 85% of the links to other sites stay on their side), so an order that fetched
on-topic pages first could find 90% of the backlinks with 30% of the pages: the issue's goal is
reachable. Then crawls it with ``depth=2``: once with no budget to speak of (twice the web's
pages: the reference) and once per budget (a share of the web's pages) and per crawl order, each
with a fresh data dir. Prints per crawl the pages fetched, the share of them on on-topic hosts,
when the budget was spent (the "Page budget of N reached" log line: it is spent on pages fetched),
and the backlinks found (count, and their total quality from the stored scores) as ratios of the
unlimited crawl's; then the issue's goal beside the figures.

``--order``: the order in which the frontier fetches pages: ``focused`` (the default order,
``backlink_spider.focus``) and ``breadth`` (``BACKLINKS_FOCUS=False``: breadth-first, fair across
hosts), both by default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backlink_spider.demoweb.model import Web  # noqa: E402
from backlink_spider.demoweb.server import WebServer  # noqa: E402
from backlink_spider.demoweb.sites import TARGET, SiteKit, stable_rng  # noqa: E402
from benchmarks._command import crawl_command  # noqa: E402
from benchmarks.scale import table  # noqa: E402
from benchmarks.web import (  # noqa: E402
    _GARDEN_TOPICS,
    _GEN_PREFIXES,
    _GEN_SUFFIXES,
    _OFF_TOPICS,
    _TARGET_ANCHORS,
    _TARGET_PAGES,
    Link,
    _build_plain_target,
    _generated_handler,
    _GenHost,
    _link_depth,
    _plan_page,
)

#: Crawl orders (``--order``) and the extra ``scrapy crawl`` options that select each: the
#: focused frontier (the default, ``backlink_spider.focus``) and breadth-first.
ORDERS: dict[str, list[str]] = {
    "focused": ["-s", "BACKLINKS_FOCUS=True"],
    "breadth": ["-s", "BACKLINKS_FOCUS=False"],
}

DEPTH = 2
GOAL_BUDGET = 30  # percent of the web's pages
GOAL_OF_UNLIMITED = 0.90
GOAL_OVER_BREADTH = 2.0

#: The issue's own try (quoted, NOT measured here): 93 hosts, 3,260 pages, max_pages=1000.
ISSUE_TRY = "5 of the 261 backlinks an unlimited crawl finds (1,609 URLs skipped for budget)"

# Off-topic hosts are named for their topic, so that no host name says "garden" by accident.
_OFF_PREFIXES = {
    "cooking": ("kitchen", "pantry", "skillet", "larder", "spoon", "oven"),
    "travel": ("voyage", "harbour", "atlas", "compass", "railway", "passport"),
    "diy": ("workshop", "timber", "chisel", "toolbox", "bench", "plank"),
}

#: Links to the target per page (besides the home page): on-topic hosts, seeds, off-topic hosts.
P_TARGET_ON_TOPIC = 0.40
P_TARGET_SEED = 0.10
P_TARGET_OFF_TOPIC = 0.005
SAME_TOPIC_LINKS = 0.85  # the share of a page's links to other hosts that stay on its side
SEED_SAME_TOPIC_LINKS = 0.2  # the seeds' (their friends are off topic, as their blogrolls)

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ")
STAT_RE = re.compile(r"'(backlinks/[\w/]+|elapsed_time_seconds|response_received_count)': ([\d.]+)")


# -- the web -----------------------------------------------------------------------------------


@dataclass
class FocusHost:
    gen: _GenHost
    on_topic: bool
    hop: int  # site hops from the seeds: 0 (a seed), 1 (in a seed's blogroll), 2
    blogroll: list[int] = field(default_factory=list)


@dataclass
class FocusWeb:
    web: Web
    hosts: list[FocusHost]

    @property
    def pages(self) -> int:
        return sum(len(h.gen.pages) for h in self.hosts)

    def on_topic_hosts(self) -> set[str]:
        return {h.gen.host for h in self.hosts if h.on_topic}

    def describe(self) -> list[str]:
        lines = []
        for hop in range(DEPTH + 1):
            at = [h for h in self.hosts if h.hop == hop]
            on = [h for h in at if h.on_topic]
            pages = sum(len(h.gen.pages) for h in at)
            links = self.declared(hop=hop)
            on_links = self.declared(hop=hop, on_topic=True)
            lines.append(
                f"hop {hop}{' (seeds)' if hop == 0 else ''}: {len(at)} hosts "
                f"({len(on)} on topic), {pages:,} pages, {links} backlinks declared "
                f"({on_links} on on-topic hosts)"
            )
        return lines

    def declared(self, *, hop: int | None = None, on_topic: bool | None = None) -> int:
        by_host = {h.gen.host: h for h in self.hosts}
        count = 0
        for item in self.web.expected:
            host = by_host[urlsplit(item.source_url).hostname or ""]
            if (hop is None or host.hop == hop) and (on_topic is None or host.on_topic == on_topic):
                count += 1
        return count


def _names(rng: random.Random, n_on: int, off_topics: list[str]) -> tuple[list[str], list[str]]:
    garden = [f"{a}-{b}" for a in _GEN_PREFIXES for b in _GEN_SUFFIXES]
    rng.shuffle(garden)
    pools = {t: [f"{a}-{b}" for a in p for b in _GEN_SUFFIXES] for t, p in _OFF_PREFIXES.items()}
    for pool in pools.values():
        rng.shuffle(pool)
    return garden[:n_on], [pools[t].pop() for t in off_topics]


def _plan(
    rng: random.Random, n_hosts: int, sizes: tuple[int, int], n_seeds: int
) -> list[FocusHost]:
    """Seeds first (on topic), then the hop-1 hosts, then the hop-2 hosts; a third on topic.

    Of the non-seed on-topic hosts a little more than half are in a seed's blogroll (hop 1), the
    rest two hops out; the off-topic hosts are split half and half the same way.
    """
    n_on = max(n_seeds + 2, round(n_hosts / 3))
    n_off = n_hosts - n_on
    on_hop1 = (n_on - n_seeds + 1) // 2 + 1
    off_hop1 = n_off // 2
    layout = (
        [(True, 0)] * n_seeds
        + [(True, 1)] * on_hop1
        + [(False, 1)] * off_hop1
        + [(True, 2)] * (n_on - n_seeds - on_hop1)
        + [(False, 2)] * (n_off - off_hop1)
    )
    off_topics = [_OFF_TOPICS[i % len(_OFF_TOPICS)] for i in range(n_off)]
    on_names, off_names = _names(rng, n_on, off_topics)
    hosts = []
    for index, (on_topic, hop) in enumerate(layout):
        if on_topic:
            name, topics = on_names.pop(0), tuple(rng.sample(_GARDEN_TOPICS, 3))
        else:
            name, topics = off_names.pop(0), (off_topics.pop(0),) * 2
        gen = _GenHost(
            host=f"{name}.test",
            scheme="http" if index % 5 == 4 else "https",
            theme=("html5", "classic", "roles")[index % 3],
            topics=topics,
            is_seed=hop == 0,
            pages=[_plan_page(rng, name, topics, i) for i in range(sizes[not on_topic])],
        )
        hosts.append(FocusHost(gen, on_topic, hop))
    return hosts


def _blogrolls(hosts: list[FocusHost]) -> None:
    """Seeds list the hop-1 hosts, off-topic ones first; hop-1 hosts list the hop-2 hosts of
    their own side (and one of the other side), so each hop-2 host is listed at least once."""
    seeds = [i for i, h in enumerate(hosts) if h.hop == 0]
    hop1 = [i for i, h in enumerate(hosts) if h.hop == 1]
    for n, i in enumerate(sorted(hop1, key=lambda i: hosts[i].on_topic)):
        hosts[seeds[(n + n // len(seeds)) % len(seeds)]].blogroll.append(i)
    for side in (True, False):
        listers = [i for i in hop1 if hosts[i].on_topic == side]
        others = [i for i in hop1 if hosts[i].on_topic != side]
        listed = [i for i, h in enumerate(hosts) if h.hop == 2 and h.on_topic == side]
        for n, i in enumerate(listed):
            hosts[listers[n % len(listers)]].blogroll.append(i)
            if n % 3 == 0 and others:
                hosts[others[n % len(others)]].blogroll.append(i)


def _neighbours(hosts: list[FocusHost], hi: int) -> tuple[list[int], list[int]]:
    """Hosts a page of host ``hi`` may link besides its blogroll, on its side and across: a seed
    links no host two hops out, so the hops stay as planned."""
    me = hosts[hi]
    near = [i for i, h in enumerate(hosts) if i != hi and (me.hop > 0 or h.hop <= 1)]
    return [i for i in near if hosts[i].on_topic == me.on_topic], [
        i for i in near if hosts[i].on_topic != me.on_topic
    ]


def _focus_links(hosts: list[FocusHost], hi: int, pi: int, seed: int) -> list[Link]:
    """Page ``pi`` of host ``hi``: web.py's internal structure (navigation, a tree from "/",
    footer), the blogroll on the home page, a few neighbours' home pages in the sidebar, the
    target now and then, and random links (a fifth of them to neighbours' pages)."""
    host = hosts[hi]
    k = len(host.gen.pages)
    prng = stable_rng("focus-links", seed, hi, pi)
    total = prng.randint(30, 80)
    links: dict[tuple[int, int], Link] = {}
    same, other = _neighbours(hosts, hi)

    def add(position: str, h: int, p: int) -> None:
        if (h, p) != (hi, pi) and (h, p) not in links:
            links[(h, p)] = (position, h, p, "", "")

    def neighbour() -> int:
        stay = SEED_SAME_TOPIC_LINKS if host.hop == 0 else SAME_TOPIC_LINKS
        side = same if (prng.random() < stay or not other) else other
        return prng.choice(side)

    for p in range(min(k, 8)):
        add("navigation", hi, p)
    for child in [*range(6 * pi + 1, min(6 * pi + 7, k)), pi + 1]:
        if child < k:
            add("content", hi, child)
    if pi > 1:
        add("content", hi, pi - 1)
    for h in [
        *(host.blogroll if pi == 0 else []),
        *(neighbour() for _ in range(prng.randint(2, 4))),
    ]:
        add("sidebar", h, 0)
    for _ in range(prng.randint(3, 5)):
        add("footer", hi, prng.randrange(k))
    chance = P_TARGET_SEED if host.hop == 0 else P_TARGET_ON_TOPIC
    if pi > 0 and prng.random() < (chance if host.on_topic else P_TARGET_OFF_TOPIC):
        position = prng.choices(("content", "sidebar", "footer"), (8, 1, 1))[0]
        rel = prng.choices(("", "nofollow", "ugc", "sponsored"), (14, 3, 2, 1))[0]
        path_index = prng.randrange(len(_TARGET_PAGES))
        links[(-1, pi)] = (position, -1, path_index, rel, prng.choice(_TARGET_ANCHORS))
    attempts = 0
    while len(links) < total and attempts < 400:
        attempts += 1
        if prng.random() < 0.2:
            h = neighbour()
            add("content", h, prng.randrange(len(hosts[h].gen.pages)))
        else:
            add("content", hi, prng.randrange(k))
    return list(links.values())


def focus_web(
    n_hosts: int = 90, on_topic_pages: int = 20, off_topic_pages: int = 35, *, seed: int = 16
) -> FocusWeb:
    """The web of this benchmark (see the module): ``n_hosts`` hosts, a third on topic, of
    ``on_topic_pages`` and ``off_topic_pages`` pages each; the same web for the same arguments."""
    n_seeds = 3
    if n_hosts < 12 or min(on_topic_pages, off_topic_pages) < 2:
        raise ValueError("need at least 12 hosts of 2 pages")
    rng = random.Random(seed)
    web = Web(f"focus-{n_hosts}-{on_topic_pages}-{off_topic_pages}")
    web.target = TARGET
    web.keywords = ["compost", "pruning", "roses", "seed saving", "gardening"]
    _build_plain_target(web)
    hosts = _plan(rng, n_hosts, (on_topic_pages, off_topic_pages), n_seeds)
    _blogrolls(hosts)
    web.seeds = [h.gen.host for h in hosts if h.hop == 0]
    gens = [h.gen for h in hosts]
    for hi, host in enumerate(hosts):
        for pi, page in enumerate(host.gen.pages):
            page.links = _focus_links(hosts, hi, pi, seed)
            for position, h, p, rel, anchor in page.links:
                if h == -1:
                    tokens = tuple(rel.split())
                    web.expect_backlink(
                        host.gen.url(page.path),
                        f"https://{TARGET}{_TARGET_PAGES[p]}",
                        anchor=anchor,
                        rel=tokens,
                        position=position,
                        nofollow="nofollow" in tokens,
                        min_depth=host.hop,
                    )
    for hi, host in enumerate(hosts):
        gen = host.gen
        kit = SiteKit(
            web,
            gen.host,
            name=gen.pages[0].title,
            tagline="Notes on " + " and ".join(dict.fromkeys(gen.topics)),
            scheme=gen.scheme,
            theme=gen.theme,
            footer="",
            depth=host.hop,
        )
        kit.site.handler("/", _generated_handler(kit, gen, gens, seed, hi))
        _link_depth(gen, hi)  # every page reachable from "/" (raises if not)
    _check_hops(hosts)
    return FocusWeb(web, hosts)


def _check_hops(hosts: list[FocusHost]) -> None:
    """The hops as planned: the fewest site hops from the seeds over all cross-host links."""
    hop = {i: 0 for i, h in enumerate(hosts) if h.hop == 0}
    frontier = list(hop)
    for current in frontier:
        for page in hosts[current].gen.pages:
            for _pos, h, _p, _rel, _anchor in page.links:
                if h >= 0 and h not in hop:
                    hop[h] = hop[current] + 1
                    frontier.append(h)
    wrong = [h.gen.host for i, h in enumerate(hosts) if hop.get(i) != h.hop]
    if wrong:
        raise AssertionError(f"hosts not at their planned hop: {wrong[:5]}")


# -- a crawl -----------------------------------------------------------------------------------


@dataclass
class Crawl:
    label: str
    order: str
    budget: int | None  # max_pages; None: the unlimited reference
    wall: float
    stats: dict[str, float]
    fetched_pages: int  # pages of the web's hosts in the store (the target's apart)
    on_topic_pages: int
    backlinks: int
    quality: float
    declared_found: int
    budget_gone: float | None  # seconds from the crawl's start to its budget's last page sent

    @property
    def pages(self) -> int:
        return int(self.stats.get("backlinks/spider/pages", 0))


def read_store(data_dir: Path, target: str) -> tuple[list[str], list[tuple[str, float]]]:
    """The fetched pages' URLs and the backlinks to the target (source URL, quality) in a data
    dir, through a server of it started for this."""
    import pymongo

    from pipelines.store import EmbeddedServer

    server = EmbeddedServer(data_dir.resolve())
    uri = server.acquire()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    try:
        db = client["backlinks"]
        pages = [str(d["url"]) for d in db["pages"].find({}, {"url": 1})]
        links = [
            (str(d["source_url"]), float((d.get("scores") or {}).get("quality") or 0.0))
            for d in db["backlinks"].find(
                {"matched_domain": target}, {"source_url": 1, "scores": 1}
            )
        ]
        return pages, links
    finally:
        client.close()
        server.release()


def run_crawl(
    fweb: FocusWeb,
    proxy: str,
    workdir: Path,
    *,
    order: str,
    budget: int | None,
    label: str,
) -> Crawl:
    web = fweb.web
    extra = ["-a", f"depth={DEPTH}", *ORDERS[order]]
    argv, env = crawl_command(web, proxy, fweb.pages, *extra, max_pages=budget)
    slug = f"{order}-{budget or 'unlimited'}"
    data_dir = workdir / f"data-{slug}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env["BACKLINKS_DATA_DIR"] = str(data_dir)
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    (workdir / f"crawl-{slug}.log").write_text(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"crawl {label} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stats = {k: float(v) for k, v in STAT_RE.findall(proc.stderr)}
    gone = _budget_gone(proc.stderr)
    try:
        pages, links = read_store(data_dir, web.target)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    on_topic = fweb.on_topic_hosts()
    hosts = [urlsplit(url).hostname or "" for url in pages]
    ours = [h for h in hosts if h != web.target]
    declared = {item.source_url for item in web.expected}
    return Crawl(
        label=label,
        order=order,
        budget=budget,
        wall=wall,
        stats=stats,
        fetched_pages=len(ours),
        on_topic_pages=sum(h in on_topic for h in ours),
        backlinks=len(links),
        quality=sum(q for _, q in links),
        declared_found=len({src for src, _ in links} & declared),
        budget_gone=gone,
    )


def _budget_gone(log: str) -> float | None:
    """When the page budget was spent, from the log (1 s resolution): seconds from the
    spider's "Crawl ..." line to its "Page budget of N reached" line."""
    start = gone = None
    for line in log.splitlines():
        stamp = LOG_TIME.match(line)
        if stamp is None:
            continue
        if start is None and "backlinks of" in line and "budget" in line:
            start = dt.datetime.fromisoformat(stamp[1])
        elif "Page budget of" in line:
            gone = dt.datetime.fromisoformat(stamp[1])
            break
    return None if start is None or gone is None else (gone - start).total_seconds()


# -- printing ----------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def rows(crawls: Sequence[Crawl], reference: Crawl) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [
        (
            "crawl",
            "max_pages",
            "pages fetched",
            "on-topic share",
            "skipped for budget",
            "budget spent at s",
            "crawl s",
            "backlinks",
            "x unlimited",
            "quality",
            "x unlimited",
            "wall s",
        )
    ]
    for c in [reference, *crawls]:
        out.append(
            (
                c.label,
                f"{c.budget:,}" if c.budget else "-",
                f"{c.pages:,}",
                f"{c.on_topic_pages / max(c.fetched_pages, 1):.0%}",
                f"{c.stats.get('backlinks/spider/skipped/budget', 0):,.0f}",
                "-" if c.budget_gone is None else f"{c.budget_gone:.0f}",
                f"{c.stats.get('backlinks/spider/crawl_seconds', 0):.0f}",
                f"{c.backlinks:,}",
                ratio(c.backlinks, reference.backlinks),
                f"{c.quality:,.0f}",
                ratio(c.quality, reference.quality),
                f"{c.wall:.0f}",
            )
        )
    return out


def goal_lines(crawls: Sequence[Crawl], reference: Crawl) -> list[str]:
    at = {(c.order, c.label): c for c in crawls}
    label = f"{GOAL_BUDGET}%"
    breadth = at.get(("breadth", label))
    focused = at.get(("focused", label))
    lines = [
        f"goal (issue 16): at {label} of the web's pages the focused crawl finds >= "
        f"{GOAL_OF_UNLIMITED:.0%} of the unlimited crawl's backlinks and >= "
        f"{GOAL_OVER_BREADTH:.0f}x what breadth-first finds at that budget"
    ]
    if breadth is None:
        lines.append(f"  breadth-first at {label}: not run (add {GOAL_BUDGET} to --budgets)")
        return lines
    share = breadth.backlinks / max(reference.backlinks, 1)
    lines.append(
        f"  breadth-first at {label}: {breadth.backlinks} of {reference.backlinks} "
        f"backlinks ({share:.0%} of unlimited; quality {ratio(breadth.quality, reference.quality)}"
        f" of unlimited), so the focused crawl needs >= "
        f"{max(GOAL_OF_UNLIMITED * reference.backlinks, GOAL_OVER_BREADTH * breadth.backlinks):.0f}"
    )
    if focused is None:
        lines.append("  focused: not run (add 'focused' to --order)")
    else:
        lines.append(
            f"  focused at {label}: {focused.backlinks} "
            f"({focused.backlinks / max(reference.backlinks, 1):.0%} of unlimited, "
            f"x{ratio(focused.backlinks, breadth.backlinks)} breadth-first)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=90, help="hosts of the web (a third on topic)")
    parser.add_argument("--on-topic-pages", type=int, default=20, help="pages per on-topic host")
    parser.add_argument("--off-topic-pages", type=int, default=35, help="pages per other host")
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[10, 30, 100],
        metavar="PERCENT",
        help="page budgets, in percent of the web's pages (default 10 30 100)",
    )
    parser.add_argument(
        "--order",
        nargs="+",
        choices=sorted(ORDERS),
        default=sorted(ORDERS),
        help="crawl orders to compare: 'focused' (the default order) and 'breadth' "
        "(BACKLINKS_FOCUS=False)",
    )
    parser.add_argument("--workdir", type=Path, help="logs and data dirs (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="focus-"))
    workdir.mkdir(parents=True, exist_ok=True)

    made = time.monotonic()
    fweb = focus_web(args.hosts, args.on_topic_pages, args.off_topic_pages)
    n = fweb.pages
    on = len(fweb.on_topic_hosts())
    on_pages = sum(len(h.gen.pages) for h in fweb.hosts if h.on_topic)
    print(
        f"a web of {n:,} pages on {len(fweb.hosts)} hosts ({on} on topic with {on_pages:,} "
        f"pages, {on_pages / n:.0%}; {len(fweb.web.seeds)} seeds, on topic), "
        f"{len(fweb.web.expected)} backlinks declared ({fweb.declared(on_topic=True)} on on-topic "
        f"hosts), made in {time.monotonic() - made:.1f} s; depth={DEPTH}; logs in {workdir}"
    )
    print("\n".join(f"  {line}" for line in fweb.describe()), flush=True)

    crawls: list[Crawl] = []
    with WebServer(fweb.web) as server:
        reference = run_crawl(
            fweb, server.proxy_url, workdir, order="breadth", budget=None, label="unlimited"
        )
        print(
            f"unlimited: {reference.pages:,} pages, {reference.backlinks} backlinks "
            f"({reference.declared_found} of the {len(fweb.web.expected)} declared), "
            f"{reference.wall:.0f} s",
            flush=True,
        )
        for order in args.order:
            for percent in args.budgets:
                budget = max(1, round(n * percent / 100))
                crawl = run_crawl(
                    fweb, server.proxy_url, workdir, order=order, budget=budget, label=f"{percent}%"
                )
                crawls.append(crawl)
                print(
                    f"{order} {percent}%: {crawl.pages:,} pages, {crawl.backlinks} backlinks, "
                    f"{crawl.wall:.0f} s",
                    flush=True,
                )

    for order in args.order:
        print(f"\n{order} (politeness off; ratios against the unlimited crawl of this run):")
        print(table(rows([c for c in crawls if c.order == order], reference)))
    print()
    print("\n".join(goal_lines(crawls, reference)))
    print(f"\nfrom the issue (quoted, NOT measured in this run): breadth-first found {ISSUE_TRY}")


if __name__ == "__main__":
    main()
