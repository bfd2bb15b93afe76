"""A target's link profile as one self-contained HTML page: charts and tables, nothing to fetch.

Charts are drawn by matplotlib and inlined as SVG, so the file opens offline, in any browser;
the one script is inline too (``SORT_SCRIPT``: the links table sorts by any column, and the page
reads fine without it). ``gather`` reads the store, ``render`` only formats what it was given.
"""

from __future__ import annotations

import html
import io
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import matplotlib
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from backlink_spider.vocabulary import (
    BROKEN_QUERY,
    COVERAGE,
    COVERAGE_BUDGET,
    COVERAGE_COMPETITOR_ONLY,
    COVERAGE_SUGGESTED,
    COVERAGE_UNCRAWLED,
    CRAWL_FIGURES,
    FAILED_SEEDS,
    FIRST_CRAWL_ID,
    LINK_TRUST,
    LOST_AT,
    MATCHED_DOMAIN,
    NOT_LOST,
    OFF_TOPIC,
    ON_TOPIC,
    QUALITY,
    REASONS,
    RECIPROCAL,
    RELEVANCE,
    SCORES,
    SITE_TRUST,
    SOURCE_DOMAIN,
    UNKNOWN_TOPIC,
    UNSEEN_WORDS,
    UNVERIFIED_AT,
    UPGRADES_QUERY,
    crawl_figures,
    crawl_status,
    is_followed,
    latest_crawl,
    link_status,
    status_counts,
    status_query,
    takes_away,
)
from pipelines.profile import (
    crawl_history,
    link_mix,
    prospects,
    referring_domains_over_time,
)
from pipelines.target_profile import TargetProfile, load_profile

logger = logging.getLogger(__name__)

TOP = 15  # rows of each "top" table and bar chart
LINK_ROWS = 1000  # rows of the links table, best first (the export has them all)
SCORE_HEADERS = ("quality", "site trust", "link trust", "relevance")
LINK_HEADERS = ("linking page", "anchor", "rel", "position", *SCORE_HEADERS, "first seen", "status")
# Sorts a table.sortable by the column whose header button is pressed (again: the other way).
# A cell's data-v is its sort key when its text is not (numbers, dates); th data-type="num"
# sorts numbers. Rows keep their order among equals (Array.prototype.sort is stable).
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells, body = table.tBodies[0];
  Array.prototype.forEach.call(heads, function (th, col) {
    var button = th.querySelector("button");
    if (!button) return;
    button.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending", num = th.dataset.type === "num";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      function key(row) {
        var cell = row.cells[col];
        var v = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
        if (!num) return v.trim().toLowerCase();
        v = parseFloat(v);
        return isNaN(v) ? -Infinity : v;
      }
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), c = num ? x - y : x.localeCompare(y);
        return up ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
PALETTE = ("#2e7d32", "#1565c0", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#5d4037")
CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f5}
header{background:#2e7d32;color:#fff;padding:18px 28px}header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;opacity:.9}main{padding:16px 28px;max-width:1200px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px}
.card{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 2px #0002;
min-width:120px}
.card b{display:block;font-size:22px}.grid{display:grid;grid-template-columns:repeat(auto-fit,
minmax(460px,1fr));gap:16px}section{background:#fff;border-radius:8px;padding:12px 16px;
box-shadow:0 1px 2px #0002;margin-bottom:16px}section h2{font-size:17px;margin:4px 0 8px}
section h3{font-size:15px;margin:12px 0 6px}
figure{margin:0}figure svg{width:100%;height:auto}table{border-collapse:collapse;width:100%;
font-size:13px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eee;
vertical-align:top}th{background:#fafafa}td.n{text-align:right}.muted{color:#777}
a{color:#1565c0;word-break:break-all}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;
color:inherit}th[aria-sort=ascending] button:after{content:" \\25B2"}
th[aria-sort=descending] button:after{content:" \\25BC"}
"""


# -- data ---------------------------------------------------------------------------------------


def gather(db: Any, target_domain: str) -> dict[str, Any]:
    """Everything the report shows, read from the store (no matplotlib needed)."""
    crawl = latest_crawl(db, target_domain) or {}
    ours = {MATCHED_DOMAIN: target_domain}
    not_lost = {**ours, **NOT_LOST}
    scores = [doc.get(SCORES) or {} for doc in db.backlinks.find(not_lost, {SCORES: 1})]
    domains: dict[str, dict[str, Any]] = {}
    for doc in db.backlinks.find(not_lost, {SOURCE_DOMAIN: 1, SCORES: 1, RECIPROCAL: 1}):
        row = domains.setdefault(
            str(doc.get(SOURCE_DOMAIN) or ""),
            {"links": 0, QUALITY: 0.0, SITE_TRUST: 0.0, LINK_TRUST: 0.0, RECIPROCAL: False},
        )
        row["links"] += 1
        for name in (QUALITY, SITE_TRUST, LINK_TRUST):
            row[name] = max(row[name], float((doc.get(SCORES) or {}).get(name) or 0))
        row[RECIPROCAL] = row[RECIPROCAL] or bool(doc.get(RECIPROCAL))
    top_domains = sorted(domains.items(), key=lambda kv: (-kv[1][QUALITY], -kv[1]["links"]))
    broken = list(db.backlinks.find({**ours, **BROKEN_QUERY}).sort("target_url", 1))
    upgrades = list(
        db.backlinks.find({**ours, **UPGRADES_QUERY}, LINK_FIELDS)
        .sort([(f"{SCORES}.{SITE_TRUST}", -1), ("_id", 1)])
        .limit(TOP)
    )
    lost_query = {**ours, **status_query("lost", None)}
    lost = list(db.backlinks.find(lost_query).sort("lost_at", -1).limit(TOP))
    latest = str(crawl["_id"]) if crawl.get("_id") else None
    best_first = [(f"{SCORES}.{QUALITY}", -1), ("_id", 1)]
    links = [
        {**doc, "status": link_status(doc, latest)}
        for doc in db.backlinks.find(not_lost, LINK_FIELDS).sort(best_first).limit(LINK_ROWS)
    ]
    return {
        "target": target_domain,
        "generated_at": datetime.now(UTC),
        "crawl": {k: crawl.get(k) for k in ("_id", "started_at")},
        "profile": (load_profile(db, target_domain) or TargetProfile(target_domain)).describe(),
        "mix": link_mix(db, target_domain),
        QUALITY: [float(s[QUALITY]) for s in scores if s.get(QUALITY) is not None],
        LINK_TRUST: [float(s[LINK_TRUST]) for s in scores if s.get(LINK_TRUST) is not None],
        "history": crawl_history(db, target_domain),
        "domains_over_time": referring_domains_over_time(db, target_domain),
        "top_domains": top_domains[:TOP],
        "prospects": prospects(db, target_domain, limit=TOP),
        "broken": broken,
        "upgrades": upgrades,
        "lost": lost,
        "links": links,
        "links_total": len(scores),
        "figures": report_figures(db, target_domain, crawl),
        "crawl_status": crawl_status(crawl) if crawl else None,
        # What the latest crawl did not see: None for a record from before coverage.
        "coverage": crawl.get(COVERAGE) or None,
        "failed_seeds": [
            (str(f.get("seed") or ""), str(f.get("reason") or ""))
            for f in crawl.get(FAILED_SEEDS) or []
        ],
    }


LINK_FIELDS = {
    name: 1
    for name in (
        "source_url",
        "anchor_text",
        "rel",
        "nofollow",
        "position",
        "first_seen",
        LOST_AT,
        UNVERIFIED_AT,
        FIRST_CRAWL_ID,
        SCORES,
    )
}


def _passes_less(doc: dict[str, Any]) -> list[str]:
    """The reasons that name a factor taking trust away ("…: counted at 30%")."""
    reasons = (doc.get(SCORES) or {}).get(REASONS) or []
    return [str(r) for r in reasons if takes_away(str(r))]


def report_figures(db: Any, target_domain: str, crawl: dict[str, Any]) -> dict[str, int]:
    """The cards' numbers, from the store now: the latest crawl's figures (``crawl_figures``,
    what its summary line and ``scrapy crawls`` say; of a crawl still running or killed, what
    it has done so far), the link states as ``scrapy export --status`` counts them."""
    if crawl.get("_id"):
        return crawl_figures(db, str(crawl["_id"]), target_domain)
    return {**dict.fromkeys(CRAWL_FIGURES, 0), **status_counts(db, target_domain, None)}


# -- charts -------------------------------------------------------------------------------------


def _svg(name: str, draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 3.2)) -> str:
    """One matplotlib figure as inline SVG; ``name`` salts its ids so figures never clash."""
    with matplotlib.rc_context(
        {
            "svg.hashsalt": name,
            "svg.fonttype": "none",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _no_data(ax: Any) -> None:
    ax.text(0.5, 0.5, "no data yet", ha="center", va="center", color="#888", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _barh(ax: Any, labels: Sequence[str], values: Sequence[float], color: str) -> None:
    if not values:
        _no_data(ax)
        return
    positions = range(len(values))
    ax.barh(list(positions), list(values), color=color)
    ax.set_yticks(list(positions), [_short(label) for label in labels])
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for y, value in zip(positions, values, strict=True):
        ax.text(value, y, f" {value:g}", va="center", fontsize=8)


def _short(text: str, width: int = 34) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def chart_scores(data: dict[str, Any]) -> str:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        if not data[QUALITY] and not data[LINK_TRUST]:
            _no_data(ax)
            return
        bins = list(range(0, 101, 10))
        ax.hist(
            [data[QUALITY], data[LINK_TRUST]],
            bins=bins,
            label=["quality", "link trust"],
            color=PALETTE[:2],
        )
        ax.set_xlabel("score (0-100)")
        ax.set_ylabel("backlinks")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False)

    return _svg("scores", draw)


def chart_domains_over_time(data: dict[str, Any]) -> str:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        series = data["domains_over_time"]
        if not series:
            _no_data(ax)
            return
        days = [day for day, _ in series]
        counts = [count for _, count in series]
        ax.step(days, counts, where="post", color=PALETTE[0], marker="o")
        if days[0] == days[-1]:  # one day: show a week around it, not matplotlib's years
            ax.set_xlim(days[0] - timedelta(days=3), days[0] + timedelta(days=3))
        ax.xaxis.set_major_locator(AutoDateLocator(maxticks=8))
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.set_ylabel("referring domains (first seen)")
        fig.autofmt_xdate()

    return _svg("domains_over_time", draw)


def crawl_labels(starts: Sequence[datetime | None]) -> list[str]:
    """A label per crawl, each its own: the minute it started, with the second when two
    crawls share a minute, and a number when they share that too."""
    labels: list[str] = []
    for fmt in ("%Y-%m-%d\n%H:%M", "%Y-%m-%d\n%H:%M:%S"):
        labels = [s.strftime(fmt) if s else "" for s in starts]
        if len(set(labels)) == len(labels):
            return [label or str(i + 1) for i, label in enumerate(labels)]
    seen: Counter[str] = Counter()
    unique = []
    for i, label in enumerate(labels):
        seen[label] += 1
        shared = labels.count(label) > 1
        unique.append(f"{label or i + 1} #{seen[label]}" if shared else label or str(i + 1))
    return unique


def chart_new_lost(data: dict[str, Any]) -> str:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        rows = data["history"]
        if not rows:
            _no_data(ax)
            return
        xs = list(range(len(rows)))
        labels = crawl_labels([r["started_at"] for r in rows])
        ax.bar([x - 0.2 for x in xs], [r["new"] for r in rows], 0.4, label="new", color=PALETTE[0])
        ax.bar(
            [x + 0.2 for x in xs], [r["lost"] for r in rows], 0.4, label="lost", color=PALETTE[4]
        )
        ax.set_xticks(xs, labels)
        ax.set_ylabel("backlinks")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False)

    return _svg("new_lost", draw)


def chart_mix(data: dict[str, Any]) -> str:
    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 3)
        mix = data["mix"]
        for ax, key, title, color in zip(
            axes,
            ("rel", "position", "anchor_class"),
            ("rel", "position", "anchor"),
            PALETTE[1:4],
            strict=True,
        ):
            counts = mix[key]
            _barh(ax, list(counts), list(counts.values()), color)
            ax.set_title(title)

    return _svg("mix", draw, size=(9.6, 3.0))


def chart_top(
    name: str, labels: Sequence[str], values: Sequence[float], xlabel: str, width: float = 6.4
) -> str:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        _barh(ax, labels, values, PALETTE[0])
        ax.set_xlabel(xlabel)

    height = max(2.2, 0.28 * len(values) + 0.9)
    return _svg(name, draw, size=(width, height))


# -- page ---------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _link(url: Any) -> str:
    return f'<a href="{_e(url)}">{_e(url)}</a>'


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    empty: str,
    *,
    sortable: set[str] | None = None,
) -> str:
    """A table; ``sortable``: every header a sort button, these by number (``SORT_SCRIPT``)."""
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    if sortable is None:
        head = "".join(f"<th>{_e(h)}</th>" for h in headers)
        kind = ""
    else:
        head = "".join(
            f"<th{' data-type=num' if h in sortable else ''}><button type=button>{_e(h)}"
            "</button></th>"
            for h in headers
        )
        kind = ' class="sortable"'
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rel(link: dict[str, Any]) -> str:
    """follow or nofollow, then the rel values as written on the link."""
    rel = [str(r) for r in link.get("rel") or []]
    kind = "follow" if is_followed(rel, bool(link.get("nofollow"))) else "nofollow"
    return _e(" ".join([kind, *(r for r in rel if r != kind)]))


def _score(value: Any) -> str:
    if value is None:
        return '<td class="n" data-v="">-</td>'
    return f'<td class="n" data-v="{float(value)}">{float(value):.0f}</td>'


def _date(value: Any) -> str:
    if not isinstance(value, datetime):
        return '<td data-v="">-</td>'
    return f'<td data-v="{value.timestamp():.0f}">{value.strftime("%Y-%m-%d %H:%M")}</td>'


def _num(value: Any) -> str:
    return f'<td class="n">{_e(value)}</td>'


TOPICS = {ON_TOPIC: "on-topic hosts", OFF_TOPIC: "off-topic hosts", UNKNOWN_TOPIC: "unknown"}


def _unseen(why: Any) -> str:
    """Why a host was left unseen, in words (``UNSEEN_WORDS``); None: crawled as far as it goes."""
    if why is None:
        return "crawled as far as it goes"
    return UNSEEN_WORDS.get(str(why), str(why))


def coverage_section(data: dict[str, Any]) -> str:
    """What the latest crawl did not see: the seeds it could not crawl and why, where its page
    budget went, the hosts it left unseen ranked by estimated value (the next crawl's seeds),
    and the hosts linking a competitor and not the target. A record from before coverage says
    so; every host and reason is escaped (they come from crawled pages)."""
    target = data["target"]
    coverage = data.get("coverage") or {}
    failed = _table(
        ["seed", "why it was not crawled"],
        [[f"<td>{_e(seed)}</td>", f"<td>{_e(why)}</td>"] for seed, why in data["failed_seeds"]],
        "Every seed was crawled.",
    )
    if not coverage:
        return (
            f"<h3>Seeds not crawled</h3>{failed}"
            '<p class="muted">The latest crawl\'s record has no coverage report (a crawl still '
            "running, killed, or made by an older version): crawl again to see it.</p>"
        )
    budget = coverage.get(COVERAGE_BUDGET) or {}
    hosts = coverage.get("hosts") or {}
    total = sum(int(n or 0) for n in budget.values())
    budget_rows = [
        [
            f"<td>{_e(words)}</td>",
            _num(f"{int(hosts.get(topic) or 0):,}"),
            _num(f"{int(budget.get(topic) or 0):,}"),
            _num(f"{int(budget.get(topic) or 0) / total:.0%}" if total else "-"),
        ]
        for topic, words in TOPICS.items()
    ]
    uncrawled = coverage.get(COVERAGE_UNCRAWLED) or {}
    unseen = sum(int(n or 0) for n in uncrawled.values())
    reasons = sorted(uncrawled.items(), key=lambda kv: (-int(kv[1] or 0), str(kv[0])))
    unseen_note = (
        f"{unseen:,} host{'s' if unseen != 1 else ''} left (partly) unseen: "
        + ", ".join(f"{n} {_unseen(k)}" for k, n in reasons)
        + ". The best of them, by estimated value, as seeds of the next crawl "
        f"(all of them: backlinks export {target} --coverage -O coverage.csv)."
        if unseen
        else "The crawl left no host unseen."
    )
    suggested_rows = [
        [
            f"<td>{_e(s.get('host'))}</td>",
            f"<td>{_e(_unseen(s.get('why')))}</td>",
            _score(s.get("value")),
            _score(s.get("relevance")),
            _score(s.get("trust")),
            _num(s.get("linked_from")),
            _num(s.get("left")),
        ]
        for s in coverage.get(COVERAGE_SUGGESTED) or []
    ]
    competitor_rows = [
        [
            f"<td>{_e(c.get('host'))}</td>",
            _num(c.get("competitor_links")),
            _num(c.get("pages")),
            _num(c.get("left")),
            f"<td>{_e(_unseen(c.get('why')))}</td>",
        ]
        for c in coverage.get(COVERAGE_COMPETITOR_ONLY) or []
    ]
    budget_table = _table(["hosts", "hosts fetched", "pages", "share"], budget_rows, "")
    suggested_table = _table(
        [
            "host",
            "why it was left unseen",
            "estimated value",
            "relevance",
            "trust",
            "linked from",
            "pages left",
        ],
        suggested_rows,
        "No host left unseen.",
    )
    competitor_table = _table(
        ["host", "links to competitors", "pages fetched", "pages left", "why not further"],
        competitor_rows,
        f"No host was seen linking a competitor and not {target}.",
    )
    return (
        f"<h3>Seeds not crawled</h3>{failed}"
        f"<h3>The page budget</h3>{budget_table}"
        f'<h3>Suggested seeds: hosts left unseen</h3><p class="muted">{_e(unseen_note)}</p>'
        f"{suggested_table}"
        f"<h3>Linking a competitor, not {_e(target)}</h3>{competitor_table}"
    )


def render(data: dict[str, Any]) -> str:
    """The HTML page of ``gather``'s data."""
    mix = data["mix"]
    target = data["target"]
    top_anchors = mix["top_anchors"][:TOP]
    top_domains = data["top_domains"]
    figures = data["figures"]
    cards = [
        ("pages in the latest crawl", figures["pages"]),
        ("backlinks in the latest crawl", figures["backlinks"]),
        ("referring domains", figures["referring_domains"]),
        ("links to competitors", figures["competitor_links"]),
        ("live", figures["live"]),
        ("new", figures["new"]),
        ("lost", figures["lost"]),
        ("unverified", figures["unverified"]),
        ("broken", figures["broken"]),
        ("prospects", len(data["prospects"])),
    ]
    crawl = data["crawl"]
    sections = [
        ("Quality and link trust of live backlinks", chart_scores(data)),
        ("Referring domains over time", chart_domains_over_time(data)),
        ("New and lost backlinks per crawl", chart_new_lost(data)),
        (
            "Top anchors",
            chart_top(
                "anchors", [a for a, _ in top_anchors], [n for _, n in top_anchors], "backlinks"
            ),
        ),
    ]
    grid = "".join(
        f"<section><h2>{_e(title)}</h2><figure>{svg}</figure></section>" for title, svg in sections
    )
    domain_rows = [
        [
            f"<td>{_e(d)}</td>",
            _num(r["links"]),
            _num(f"{r[QUALITY]:.1f}"),
            _num(f"{r[SITE_TRUST]:.1f}"),
            _num(f"{r[LINK_TRUST]:.1f}"),
            f"<td>{'yes' if r[RECIPROCAL] else ''}</td>",
        ]
        for d, r in top_domains
    ]
    prospect_rows = [
        [
            f"<td>{_e(p['referring_domain'])}</td>",
            _num(p["score"]),
            _num(p[SITE_TRUST]),
            _num(p["relevance"]),
            f"<td>{_e(', '.join(p['competitors']))}</td>",
            "<td>" + "<br>".join(_link(lk["target_url"]) for lk in p["links"][:5]) + "</td>",
        ]
        for p in data["prospects"]
    ]
    broken_rows = [
        [
            f"<td>{_link(d.get('source_url'))}</td>",
            f"<td>{_link(d.get('target_url'))}</td>",
            _num(d.get("target_status")),
        ]
        for d in data["broken"]
    ]
    upgrade_rows = [
        [
            f"<td>{_link(d.get('source_url'))}</td>",
            *(_score((d.get(SCORES) or {}).get(n)) for n in (SITE_TRUST, LINK_TRUST)),
            f"<td>{_e('; '.join(_passes_less(d)))}</td>",
        ]
        for d in data["upgrades"]
    ]
    lost_rows = [
        [
            f"<td>{_link(d.get('source_url'))}</td>",
            f"<td>{_link(d.get('target_url'))}</td>",
            f"<td>{_e(d['lost_at'].strftime('%Y-%m-%d %H:%M'))}</td>",
        ]
        for d in data["lost"]
    ]
    link_rows = [
        [
            f"<td>{_link(d.get('source_url'))}</td>",
            f"<td>{_e(' '.join(str(d.get('anchor_text') or '').split()))}</td>",
            f"<td>{_rel(d)}</td>",
            f"<td>{_e(d.get('position'))}</td>",
            *(
                _score((d.get(SCORES) or {}).get(n))
                for n in (QUALITY, SITE_TRUST, LINK_TRUST, RELEVANCE)
            ),
            _date(d.get("first_seen")),
            f"<td>{_e(d['status'])}</td>",
        ]
        for d in data["links"]
    ]
    top_domain_chart = chart_top(
        "domains",
        [d for d, _ in top_domains],
        [round(r[QUALITY], 1) for _, r in top_domains],
        "best link quality",
        width=9.6,
    )
    started = crawl.get("started_at")
    profile = data["profile"]
    no_prospects = (
        f"Every site linking to a competitor links to {target} too."
        if profile["competitors"]
        else f"No competitors: add some (scrapy target {target} --add-competitors a.com,b.com) "
        "to see prospects."
    )
    when = f" on {started.strftime('%Y-%m-%d %H:%M')}" if started else ""
    if data["crawl_status"]:
        when += f" ({data['crawl_status']})"
    about = (
        f"Latest crawl {crawl.get('_id')}{when} · trusted seeds "
        f"{', '.join(profile['seeds']) or 'none'}"
        f" · competitors {', '.join(profile['competitors']) or 'none'}"
        f" · generated {data['generated_at'].strftime('%Y-%m-%d %H:%M UTC')}"
    )
    card_html = "".join(f"<div class='card'><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards)
    mix_chart = chart_mix(data)
    domain_table = _table(
        ["domain", "links", "quality", "site trust", "link trust", "reciprocal"],
        domain_rows,
        "No backlinks yet.",
    )
    prospect_table = _table(
        ["domain", "score", "site trust", "relevance", "competitors", "competitor pages"],
        prospect_rows,
        no_prospects,
    )
    broken_table = _table(
        ["linking page", "dead target URL", "status"], broken_rows, "No broken backlinks."
    )
    lost_table = _table(["linking page", "target URL", "lost at"], lost_rows, "No lost backlinks.")
    upgrade_table = _table(
        ["linking page", "site trust", "link trust", "why it passes little"],
        upgrade_rows,
        "No strong site's link passes less than half its trust.",
    )
    link_table = _table(
        LINK_HEADERS, link_rows, "No backlinks yet.", sortable={*SCORE_HEADERS, "first seen"}
    )
    shown = len(link_rows)
    links_note = (
        f"All {shown:,} backlinks not lost, best first"
        if shown == data["links_total"]
        else f"The {shown:,} best of {data['links_total']:,} backlinks not lost "
        f"(all of them: backlinks export {target} -O links.csv)"
    ) + ". Press a column's name to sort by it."
    title = f"Backlink profile of {_e(target)}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{CSS}</style></head>
<body><header><h1>{title}</h1><p>{_e(about)}</p></header>
<main><div class="cards">{card_html}</div>
<div class="grid">{grid}</div>
<section><h2>Link mix: rel, position and anchor text</h2><figure>{mix_chart}</figure></section>
<section><h2>Top referring domains</h2><figure>{top_domain_chart}</figure>
{domain_table}</section>
<section><h2>Prospects: linking to competitors, not to {_e(target)}</h2>
{prospect_table}</section>
<section><h2>Broken backlinks (reclaim: redirect the dead URL)</h2>
{broken_table}</section>
<section><h2>Strong sites whose links pass little (ask for an editorial link)</h2>
{upgrade_table}</section>
<section><h2>Recently lost backlinks</h2>
{lost_table}</section>
<section><h2>Coverage: what the crawl did not see</h2>
{coverage_section(data)}</section>
<section><h2>Backlinks</h2><p class="muted">{_e(links_note)}</p>
{link_table}</section>
</main><script>{SORT_SCRIPT}</script></body></html>
"""
