"""How a crawl scales: 10,000, 50,000 and 100,000 pages, each figure and how it grows.

    python benchmarks/scale.py [--pages 10000 50000 100000] [--recrawl [N]] [--rescore] [--cpu]
                               [--workdir DIR] [--keep-data] [--default-traps] [-s NAME=VALUE]

For each size N: a generated web of mixed URL styles (``benchmarks.web.URL_STYLES``: slugs,
numeric ids, dated permalinks, ids in the query, ``.html``) with 200 pages a host (the default
per-host cap, which then cuts nothing) and 20% more pages than N, so the page budget
(``max_pages=N``) is what stops the crawl. The trap guard's caps on one URL shape and on query
variants are raised above the pages of a host (``--default-traps`` keeps them: hosts of numeric
ids then stop at 25 pages). The web is served on loopback in this process, as in
``benchmarks/crawl.py``; ``scrapy crawl niche`` runs as a subprocess, politeness off, into a
fresh data dir (the embedded SecantusDB server).

Printed for each size, and then how each figure grows with the pages (``x`` ratios, and the
exponent ``k`` of ``figure ~ pages^k``: 1 is linear):

- crawl phase: ``backlinks/spider/crawl_seconds`` (first request to the spider's last idle);
- after the last page: from Scrapy's "Closing spider" to "Spider closed" in the crawl's log
  (millisecond timestamps), split into the item writer's final flush, the finisher's steps
  before scoring (lost/unverified links, host edges), scoring (its own log line, "Scored ... in
  X s"; it writes the target checks with the scores, one write a link) and the crawl record
  (figures, summary);
- peak RSS: ``/proc/<pid>/status`` VmHWM (the kernel's high-water mark) of the crawl process and,
  apart, of the embedded database server (a child of the crawl), polled every 0.5 s; and the
  crawl's RSS when its last page was parsed;
- CPU: user+system seconds of the crawl process, the database server and this process (the web
  server's threads), each in the crawl phase and after it, from ``/proc/<pid>/stat``;
- store: the data dir's allocated size on disk once the crawl has stopped its server
  (``st_blocks``), by kind of file (documents, oplog, indexes, journal), and ``collStats`` of
  each collection (SecantusDB's ``size`` is the documents' BSON bytes, not the disk);
- with ``--recrawl N``: the same crawl again, N times (1 by default) on the same data dir, and
  the store after each (WiredTiger writes a rewritten document to new blocks and reuses the old
  ones only after a checkpoint, so the second recrawl shows where the size settles);
- with ``--rescore``: the stored crawl scored again in this process, ``score_target``'s own
  timings by step (graph, trust, relevance, write), which the crawl's log does not give.

``--cpu`` adds the CPU cost of our pipelines and store: a 1,600-page generated web (the default
URL style) crawled with ``ITEM_PIPELINES={}`` and with them, alternating, three pairs; the cost
is (ours - bare) / bare of the user+system seconds of the crawl and its children, the embedded
database included (``RUSAGE_CHILDREN``); the median of the pairs is printed (goal <= 0.10). With
``--cpu`` and no ``--pages``, only that runs.

Nothing here is a test: every figure is measured in the run; the table "measured on main before
issue 13" is quoted from the issue for comparison. Crawl logs are kept under ``--workdir`` (a
fresh temporary directory by default), with the figures as ``scale.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backlink_spider.demoweb.server import WebServer  # noqa: E402
from benchmarks._command import crawl_command  # noqa: E402
from benchmarks.web import URL_STYLES, generated_web  # noqa: E402

DEFAULT_SIZES = (10_000, 50_000, 100_000)
PAGES_PER_HOST = 200  # BACKLINKS_MAX_PAGES_PER_HOST's default: a host's pages all fit
WEB_MARGIN = 1.2  # the web has this many times the budget's pages
TRAP_CAP = 1000  # raised trap caps: above a host's pages
POLL_SECONDS = 0.5
MB = 1024 * 1024
LOG_FORMAT = "%(asctime)s.%(msecs)03d [%(name)s] %(levelname)s: %(message)s"
LINE_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \[([^\]]+)\] (\w+): (.*)$")
STAT_RE = re.compile(r"^[{ ]'([^']+)': (-?\d+(?:\.\d+)?(?:e-?\d+)?)[,}]$", re.MULTILINE)
SCORED_RE = re.compile(r"over (\d+) hosts in ([\d.]+) s")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: The issue's figures (issue 13), measured on main before it; quoted, never measured here.
BEFORE_ISSUE_13 = (
    ("pages", "crawl phase", "after the last page", "peak RSS", "store", "store after recrawl"),
    ("10,000 (100 hosts)", "42 s", "18 s (43%)", "630 MB", "396 MB", "755 MB"),
    ("40,000 (400 hosts)", "231 s", "240 s (104%)", "2,137 MB", "1,635 MB", "-"),
    ("71,000 (500 hosts, mixed URL styles)", "270 s", "185 s (68%)", "2,647 MB", "1,467 MB", "-"),
)
BEFORE_CPU_COST = "0.77"

# -- the crawl's processes, polled -------------------------------------------------------------


@dataclass
class Proc:
    """One process of the crawl's tree, as last seen."""

    pid: int
    role: str  # crawl, db, or the program's name
    hwm: int = 0  # VmHWM, bytes
    rss: int = 0
    cpu: float = 0.0  # user+system seconds


@dataclass
class Sample:
    at: float  # time.time()
    rss: dict[str, int]  # by role
    cpu: dict[str, float]  # by role; "server": this process (the web server)


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _read_proc(pid: int) -> tuple[int, int, float, str] | None:
    """(VmHWM, VmRSS, cpu seconds, command line) of a live process, None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmRSS" not in fields:  # a zombie: nothing left to measure
        return None
    kb = {k: int(fields[k].split()[0]) * 1024 for k in ("VmHWM", "VmRSS")}
    after = stat.rpartition(")")[2].split()
    cpu = (int(after[11]) + int(after[12])) / CLOCK_TICKS
    return kb["VmHWM"], kb["VmRSS"], cpu, cmdline


class TreeWatch(threading.Thread):
    """Polls the crawl process and its descendants: peak RSS and CPU of each, by role."""

    def __init__(self, root: int, interval: float = POLL_SECONDS):
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.procs: dict[int, Proc] = {}
        self.samples: list[Sample] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.interval)

    def stop(self) -> None:
        self.done.set()
        self.join()

    def sample(self) -> None:
        children = _children_of()
        tree, queue = [], [self.root]
        while queue:
            pid = queue.pop()
            tree.append(pid)
            queue.extend(children.get(pid, ()))
        rss: dict[str, int] = {}
        for pid in tree:
            seen = _read_proc(pid)
            if seen is None:
                continue
            hwm, now, cpu, cmdline = seen
            proc = self.procs.get(pid)
            if proc is None:
                proc = self.procs[pid] = Proc(pid, self._role(pid, cmdline))
            proc.hwm, proc.rss, proc.cpu = max(proc.hwm, hwm), now, cpu
            rss[proc.role] = rss.get(proc.role, 0) + now
        cpu_by_role: dict[str, float] = {}
        for proc in self.procs.values():  # the gone ones too: their last figure stands
            cpu_by_role[proc.role] = cpu_by_role.get(proc.role, 0.0) + proc.cpu
        # This process but this thread: the web server's threads (the main thread waits).
        cpu_by_role["server"] = time.process_time() - time.thread_time()
        self.samples.append(Sample(time.time(), rss, cpu_by_role))

    def _role(self, pid: int, cmdline: str) -> str:
        if "secantus" in cmdline:
            return "db"
        if pid == self.root:
            return "crawl"
        return (cmdline.split() or ["?"])[0].rsplit("/", 1)[-1]

    def peak(self, role: str) -> int:
        return max((p.hwm for p in self.procs.values() if p.role == role), default=0)

    def other_peak(self) -> int:
        """Peak RSS of the crawl's other children together (Playwright's driver), sampled."""
        return max(
            (sum(v for k, v in s.rss.items() if k not in {"crawl", "db"}) for s in self.samples),
            default=0,
        )

    def pids(self, role: str) -> list[int]:
        return [p.pid for p in self.procs.values() if p.role == role]

    def cpu_at(self, role: str, at: float | None) -> float:
        """A role's CPU seconds at a moment (interpolated between samples); None: the last."""
        points = [(s.at, s.cpu.get(role, 0.0)) for s in self.samples]
        if not points:
            return 0.0
        if at is None or at >= points[-1][0]:
            return points[-1][1]
        if at <= points[0][0]:
            return points[0][1]
        for (t0, c0), (t1, c1) in itertools.pairwise(points):
            if t0 <= at <= t1:
                return c0 + (c1 - c0) * ((at - t0) / (t1 - t0) if t1 > t0 else 0.0)
        return points[-1][1]

    def rss_between(self, role: str, start: float, end: float) -> int:
        return max((s.rss.get(role, 0) for s in self.samples if start <= s.at <= end), default=0)

    def rss_at(self, role: str, at: float) -> int:
        before = [s for s in self.samples if s.at <= at]
        return before[-1].rss.get(role, 0) if before else 0


# -- one crawl ---------------------------------------------------------------------------------


@dataclass
class Timeline:
    """Moments of the crawl's log (time.time() values) and what the log lines say."""

    events: dict[str, float] = field(default_factory=dict)
    scoring_seconds: float | None = None
    scoring_hosts: int | None = None
    errors: list[str] = field(default_factory=list)


_EVENTS = (  # (name, logger, message prefix); the first line of each counts
    ("start", "backlink_spider.spiders.niche", "Crawl "),
    ("last_page", "scrapy.core.engine", "Closing spider ("),
    ("graph", "pipelines.scoring.graph", "Host graph:"),
    ("scored", "pipelines.scoring.run", "Scored "),
    ("summary", "backlink_spider.finisher", "Crawl "),
    ("dump", "scrapy.statscollectors", "Dumping Scrapy stats"),
    ("closed", "scrapy.core.engine", "Spider closed ("),
)


def parse_log(text: str) -> tuple[Timeline, dict[str, float]]:
    timeline = Timeline()
    for line in text.splitlines():
        match = LINE_RE.match(line)
        if match is None:
            continue
        stamp, name, level, message = match.groups()
        at = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()  # local, as logged
        if level in {"ERROR", "CRITICAL"}:
            timeline.errors.append(message[:200])
        for event, logger, prefix in _EVENTS:
            if name == logger and message.startswith(prefix) and event not in timeline.events:
                timeline.events[event] = at
                scored = SCORED_RE.search(message) if event == "scored" else None
                if scored:
                    timeline.scoring_hosts = int(scored[1])
                    timeline.scoring_seconds = float(scored[2])
    dump = text.rfind("Dumping Scrapy stats")
    stats = {k: float(v) for k, v in STAT_RE.findall(text[dump:])} if dump >= 0 else {}
    return timeline, stats


@dataclass
class Crawl:
    """One crawl's figures."""

    label: str
    stats: dict[str, float]
    timeline: Timeline
    watch: TreeWatch
    wall: float
    rusage_cpu: float  # RUSAGE_CHILDREN user+system: the crawl and every child it waited for
    load: tuple[float, float]  # 1-minute load average before and after
    log: Path

    def event(self, name: str) -> float | None:
        return self.timeline.events.get(name)

    @property
    def pages(self) -> int:
        return int(self.stats.get("backlinks/spider/pages", 0))

    @property
    def crawl_seconds(self) -> float:
        return self.stats.get("backlinks/spider/crawl_seconds", math.nan)

    def after_last_page(self) -> dict[str, float]:
        """The end of the crawl from its log, in seconds, by step (nan when a line is missing)."""
        ev = self.timeline.events
        last, closed = ev.get("last_page", math.nan), ev.get("closed", math.nan)
        finish = self.stats.get("backlinks/finish/seconds", math.nan)
        finisher_start = ev.get("dump", math.nan) - finish
        score = self.timeline.scoring_seconds
        score_start = ev.get("scored", math.nan) - (score if score is not None else math.nan)
        steps_end = score_start if score is not None else ev.get("summary", math.nan)
        return {
            "total": closed - last,
            "flush": finisher_start - last,
            "links_and_edges": steps_end - finisher_start,
            "scoring": score if score is not None else math.nan,
            "record": ev.get("summary", math.nan) - ev.get("scored", finisher_start),
            "finish_stat": finish,
            # benchmarks/crawl.py's close phase: it also counts Scrapy's start to the first request
            "crawl_py_formula": self.stats.get("elapsed_time_seconds", math.nan)
            - self.crawl_seconds
            + finish,
        }

    def cpu(self) -> dict[str, tuple[float, float, float]]:
        """User+system seconds by role: (before the first request, crawl phase, after the last
        page). The web server's (this process) only counts from the first request."""
        start, last = self.event("start"), self.event("last_page")
        out = {}
        for role in ("crawl", "db", "server"):
            at_start = self.watch.cpu_at(role, start)
            at_last = self.watch.cpu_at(role, last)
            at_end = self.watch.cpu_at(role, None)
            before = 0.0 if role == "server" else at_start
            out[role] = (before, at_last - at_start, at_end - at_last)
        return out


def run_crawl(argv: list[str], env: dict[str, str], log: Path, label: str) -> Crawl:
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with log.open("w") as err:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True
        )
        watch = TreeWatch(proc.pid)
        watch.start()
        try:
            returncode = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: let the crawl close its store
                proc.terminate()
                proc.wait(120)
            watch.stop()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = log.read_text(errors="replace")
    if returncode != 0:
        sys.exit(f"{label}: crawl failed ({returncode}); its log: {log}\n{text[-3000:]}")
    timeline, stats = parse_log(text)
    rusage = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    load = (load_before, os.getloadavg()[0])
    return Crawl(label, stats, timeline, watch, wall, rusage, load, log)


def wait_gone(pids: list[int], timeout: float = 30.0) -> None:
    """Until the crawl's database server has exited (the crawl stops it as it leaves)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_read_proc(pid) for pid in pids):
        time.sleep(0.1)


# -- the store ---------------------------------------------------------------------------------


def _kind(name: str) -> str:
    if name.startswith("secantus_documents"):
        return "documents"
    if name.startswith(("secantus_oplog", "secantus_preimages")):
        return "oplog"
    if name.startswith(("secantus_index", "secantus_unique", "secantus_natural")):
        return "indexes"
    if name.startswith("WiredTigerLog"):
        return "journal"
    if name == "WiredTigerHS.wt":
        return "history"
    return "other"


def disk_usage(data_dir: Path) -> dict[str, int]:
    """Allocated bytes under the data dir, in all and by kind of file."""
    usage = {"total": 0}
    for path in data_dir.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                size = path.stat().st_blocks * 512
                usage["total"] += size
                kind = _kind(path.name)
                usage[kind] = usage.get(kind, 0) + size
    return usage


def collection_stats(data_dir: Path) -> dict[str, dict[str, int]]:
    """``collStats`` of every collection (count, BSON size, index size), through a server of
    the data dir started for it (after the disk was measured)."""
    import pymongo

    from pipelines.store import EmbeddedServer

    server = EmbeddedServer(data_dir.resolve())
    uri = server.acquire()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    try:
        db = client["backlinks"]
        out = {}
        for name in sorted(db.list_collection_names()):
            stats = db.command("collStats", name)
            out[name] = {
                "count": int(stats.get("count", 0)),
                "size": int(stats.get("size", 0)),
                "indexes": int(stats.get("totalIndexSize", 0)),
            }
        return out
    finally:
        client.close()
        server.release()


def rescore(data_dir: Path, target: str) -> dict[str, float]:
    """The stored crawl scored again, for ``score_target``'s own timings by step (a second run
    beside the crawl's, in this process; after the store was measured, as it writes scores)."""
    import pymongo
    from scrapy.settings import Settings

    from pipelines.scoring import score_target
    from pipelines.store import EmbeddedServer

    settings = Settings()
    settings.setmodule("settings", priority="project")
    server = EmbeddedServer(data_dir.resolve())
    uri = server.acquire()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri, tz_aware=True)
    try:
        summary = score_target(client["backlinks"], target, settings=settings)
    finally:
        client.close()
        server.release()
    return {str(k): float(v) for k, v in summary["seconds"].items()}


@dataclass
class StoreSize:
    disk: dict[str, int]
    collections: dict[str, dict[str, int]]

    @property
    def pages(self) -> int:
        return self.collections.get("pages", {}).get("count", 0)


def measure_store(data_dir: Path, crawl: Crawl) -> StoreSize:
    wait_gone(crawl.watch.pids("db"))
    disk = disk_usage(data_dir)
    return StoreSize(disk, collection_stats(data_dir))


# -- one size ----------------------------------------------------------------------------------


@dataclass
class SizeRun:
    budget: int
    hosts: int
    web_pages: int
    first: Crawl
    store: StoreSize
    again: Crawl | None = None
    store_again: StoreSize | None = None
    stores_again: list[StoreSize] = field(default_factory=list)  # after each recrawl
    rescored: dict[str, float] | None = None


def scale_command(
    web: Any, proxy: str, budget: int, *, default_traps: bool, settings: Sequence[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """The crawl of one size: budget ``budget``, the default per-host cap, millisecond logs."""
    extra = ["-s", f"LOG_FORMAT={LOG_FORMAT}"]
    for setting in settings:
        extra += ["-s", setting]
    if not default_traps:
        extra += [
            "-s",
            f"BACKLINKS_TRAP_PATTERN_PAGES={TRAP_CAP}",
            "-s",
            f"BACKLINKS_TRAP_QUERY_VARIANTS={TRAP_CAP}",
        ]
    return crawl_command(
        web, proxy, budget, *extra, max_pages=budget, max_pages_per_host=PAGES_PER_HOST
    )


def run_size(budget: int, workdir: Path, args: argparse.Namespace) -> SizeRun:
    hosts = max(12, math.ceil(budget * WEB_MARGIN / PAGES_PER_HOST))
    web_pages = hosts * PAGES_PER_HOST
    made = time.monotonic()
    web = generated_web(web_pages, n_hosts=hosts, url_styles=URL_STYLES)
    print(
        f"\n== {budget:,} pages: a web of {web_pages:,} pages on {hosts} hosts "
        f"({web.notes['seed_hosts']} seeds, {len(URL_STYLES)} URL styles), made in "
        f"{time.monotonic() - made:.0f} s",
        flush=True,
    )
    data_dir = workdir / f"data-{budget}"
    shutil.rmtree(data_dir, ignore_errors=True)
    try:
        with WebServer(web) as server:
            argv, env = scale_command(
                web, server.proxy_url, budget, default_traps=args.default_traps, settings=args.set
            )
            env["BACKLINKS_DATA_DIR"] = str(data_dir)
            first = run_crawl(argv, env, workdir / f"crawl-{budget}.log", f"{budget:,}")
            report_crawl(first)
            store = measure_store(data_dir, first)
            report_store(store)
            run = SizeRun(budget, hosts, web_pages, first, store)
            for n in range(1, args.recrawl + 1):
                log = workdir / f"recrawl-{budget}{'' if n == 1 else f'-{n}'}.log"
                label = f"{budget:,} again" + ("" if n == 1 else f" ({n})")
                again = run_crawl(argv, env, log, label)
                report_crawl(again)
                run.stores_again.append(measure_store(data_dir, again))
                report_store(run.stores_again[-1])
                if n == 1:
                    run.again, run.store_again = again, run.stores_again[-1]
            if args.rescore:
                run.rescored = rescore(data_dir, web.target)
                steps = ", ".join(f"{k} {v:.1f}" for k, v in run.rescored.items())
                print(f"  scoring again on the stored crawl (score_target's timings, s): {steps}")
    finally:
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return run


# -- printing ----------------------------------------------------------------------------------


def table(rows: list[tuple[str, ...]], indent: str = "  ") -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(cells).rstrip())
        if n == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    return f"{value:,.{digits}f}"


def report_crawl(crawl: Crawl) -> None:
    stats, watch = crawl.stats, crawl.watch
    after = crawl.after_last_page()
    skipped = {
        k.rsplit("/", 1)[-1]: int(v)
        for k, v in stats.items()
        if k.startswith("backlinks/spider/skipped/") and not k.endswith("/budget")
    }
    print(
        f"{crawl.label}: {crawl.pages:,} pages ({stats.get('response_received_count', 0):,.0f} "
        f"responses), {stats.get('backlinks/spider/backlinks', 0):,.0f} backlinks; crawl phase "
        f"{fmt(crawl.crawl_seconds)} s, after the last page {fmt(after['total'])} s "
        f"(crawl.py's formula: {fmt(after['crawl_py_formula'])} s); process {crawl.wall:.0f} s; "
        f"load {crawl.load[0]:.2f} -> {crawl.load[1]:.2f}",
        flush=True,
    )
    if skipped:
        print(f"  backlinks/spider/skipped/* besides the budget: {skipped}")
    steps = {
        k.rsplit("/", 1)[-1]: float(v)
        for k, v in stats.items()
        if k.startswith("backlinks/finish/steps/")
    }
    if steps:  # the end of the crawl's own timings (backlinks/finish/steps/*)
        said = ", ".join(f"{name.replace('_', ' ')} {secs:.1f} s" for name, secs in steps.items())
        print(f"  the end of the crawl by step: {said}")
    others = [p for p in watch.procs.values() if p.role not in {"crawl", "db"}]
    others = [p for p in others if p.hwm >= 20 * MB]  # not pyenv's shims
    if others:
        peaks = ", ".join(f"{p.role} {p.hwm / MB:.0f} MB" for p in others)
        print(f"  other processes of the crawl's tree, peak RSS each: {peaks}")
    for error in crawl.timeline.errors[:5]:
        print(f"  ERROR in the crawl's log: {error}")


def report_store(store: StoreSize) -> None:
    disk = store.disk
    kinds = ", ".join(
        f"{k} {disk[k] / MB:.0f}"
        for k in ("documents", "oplog", "indexes", "journal", "history", "other")
        if k in disk
    )
    print(f"  store on disk {disk['total'] / MB:,.0f} MB ({kinds} MB)")
    parts = ", ".join(
        f"{name} {c['count']:,} docs {c['size'] / MB:.0f}+{c['indexes'] / MB:.0f} MB"
        for name, c in store.collections.items()
        if c["count"]
    )
    print(f"  collStats (documents' BSON + index keys): {parts}", flush=True)


def summary_rows(runs: list[SizeRun]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (
            "pages",
            "hosts",
            "crawl s",
            "after last page s",
            "scoring s",
            "RSS crawl MB",
            "RSS DB MB",
            "RSS other MB",
            "store MB",
            "KB/page",
            "after recrawl MB (pages)",
        )
    ]
    for run in runs:
        crawl = run.first
        after = crawl.after_last_page()
        pages = run.store.pages or crawl.pages
        share = after["total"] / crawl.crawl_seconds * 100
        again = run.store_again.disk["total"] / MB if run.store_again else 0.0
        rows.append(
            (
                f"{crawl.pages:,}",
                str(run.hosts),
                fmt(crawl.crawl_seconds),
                f"{fmt(after['total'])} ({fmt(share, 1)}%)",
                fmt(after["scoring"]),
                fmt(crawl.watch.peak("crawl") / MB, 0),
                fmt(crawl.watch.peak("db") / MB, 0),
                fmt(crawl.watch.other_peak() / MB, 0),
                fmt(run.store.disk["total"] / MB, 0),
                fmt(run.store.disk["total"] / 1024 / max(pages, 1)),
                f"{again:,.0f} ({run.store_again.pages:,})" if run.store_again else "-",
            )
        )
    return rows


def end_rows(crawls: list[Crawl]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (
            "crawl",
            "flush s",
            "links+edges s",
            "scoring s",
            "record s",
            "RSS peak crawl phase MB",
            "RSS at last page MB",
            "RSS peak after MB",
            "DB RSS peak crawl phase MB",
            "DB RSS peak after MB",
        )
    ]
    for crawl in crawls:
        after = crawl.after_last_page()
        last = crawl.event("last_page") or math.nan
        start = crawl.event("start") or math.nan
        watch = crawl.watch
        rows.append(
            (
                crawl.label,
                fmt(after["flush"]),
                fmt(after["links_and_edges"]),
                fmt(after["scoring"]),
                fmt(after["record"]),
                fmt(watch.rss_between("crawl", start, last) / MB, 0),
                fmt(watch.rss_at("crawl", last) / MB, 0),
                fmt(watch.rss_between("crawl", last, math.inf) / MB, 0),
                fmt(watch.rss_between("db", start, last) / MB, 0),
                fmt(watch.rss_between("db", last, math.inf) / MB, 0),
            )
        )
    return rows


def cpu_rows(crawls: list[Crawl]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (
            "crawl",
            "crawl proc s",
            "DB server s",
            "web server s",
            "cores busy during crawl",
            "rusage children s",
        )
    ]
    for crawl in crawls:
        cpu = crawl.cpu()
        phase = crawl.crawl_seconds
        busy = (
            f"crawl {cpu['crawl'][1] / phase:.2f} + DB {cpu['db'][1] / phase:.2f}"
            f" + server {cpu['server'][1] / phase:.2f}"
        )
        rows.append(
            (
                crawl.label,
                " / ".join(f"{x:.0f}" for x in cpu["crawl"]),
                " / ".join(f"{x:.0f}" for x in cpu["db"]),
                f"{cpu['server'][1]:.0f}",
                busy,
                f"{crawl.rusage_cpu:.0f}",
            )
        )
    return rows


def growth(runs: list[SizeRun]) -> list[str]:
    """Each figure's ratio from one size to the next, and its exponent against the pages'."""

    def figures(run: SizeRun) -> dict[str, float]:
        after = run.first.after_last_page()
        return {
            "pages": run.first.pages,
            "crawl phase": run.first.crawl_seconds,
            "after the last page": after["total"],
            "scoring": after["scoring"],
            "RSS crawl": run.first.watch.peak("crawl"),
            "RSS DB": run.first.watch.peak("db"),
            "store": run.store.disk["total"],
        }

    lines = []
    for small, big in itertools.pairwise(runs):
        a, b = figures(small), figures(big)
        pages = b["pages"] / a["pages"]
        parts = []
        for name in list(a)[1:]:
            ratio = b[name] / a[name] if a[name] else math.nan
            k = math.log(ratio) / math.log(pages) if ratio > 0 and pages > 1 else math.nan
            parts.append(f"{name} x{fmt(ratio, 2)} (k={fmt(k, 2)})")
        lines.append(
            f"{a['pages']:,.0f} -> {b['pages']:,.0f} pages (x{pages:.2f}): " + "; ".join(parts)
        )
    return lines


def goals(runs: list[SizeRun]) -> list[str]:
    run = runs[-1]
    crawl = run.first
    after = crawl.after_last_page()["total"]
    share = after / crawl.crawl_seconds
    kb = run.store.disk["total"] / 1024 / max(run.store.pages or crawl.pages, 1)
    rss = crawl.watch.peak("crawl")
    at = f"at {crawl.pages:,} pages" + ("" if crawl.pages >= 100_000 else " (goals: 100,000)")
    lines = [
        f"{at}: after the last page {share:.1%} of the crawl phase (goal <= 10%)",
        f"{at}: peak RSS of the crawl process {rss / MB:,.0f} MB (goal <= 1,536 MB); "
        f"database server apart: {crawl.watch.peak('db') / MB:,.0f} MB",
        f"{at}: store {kb:.1f} KB/page on disk (goal <= 10 KB)",
    ]
    if run.store_again is not None:
        ratio = run.store_again.disk["total"] / run.store.disk["total"]
        per_page = ratio * run.store.pages / max(run.store_again.pages, 1)
        lines.append(
            f"{at}: store after a recrawl x{ratio:.2f} of the first (goal: about x1); per stored "
            f"page x{per_page:.2f} ({run.store.pages:,} pages stored, then "
            f"{run.store_again.pages:,}: the budget cuts the frontier in a different place)"
        )
    if len(run.stores_again) > 1:
        sizes = [run.store.disk["total"], *(s.disk["total"] for s in run.stores_again)]
        lines.append(
            f"{at}: store after each crawl "
            + " -> ".join(f"{size / MB:,.0f} MB" for size in sizes)
            + f" (x{sizes[-1] / sizes[-2]:.2f} from the last recrawl to the one before)"
        )
    if len(runs) > 1:
        first = runs[0].first
        pages = crawl.pages / first.pages
        grew = after / first.after_last_page()["total"]
        lines.append(
            f"after the last page grew x{grew:.2f} while pages grew x{pages:.2f} "
            f"(goal: no faster than pages)"
        )
    return lines


# -- the CPU cost of our pipelines ---------------------------------------------------------------


def cpu_cost(workdir: Path, pages: int, pairs: int) -> dict[str, Any]:
    web = generated_web(pages)
    print(f"\n== CPU: {pages:,} pages on {web.notes['n_hosts']} hosts, {pairs} pairs", flush=True)
    costs, runs = [], []
    with WebServer(web) as server:
        for pair in range(pairs):
            seconds = {}
            for pipelines in (False, True):
                bare = [] if pipelines else ["-s", "ITEM_PIPELINES={}"]
                argv, env = crawl_command(web, server.proxy_url, pages, *bare)
                data_dir = workdir / f"cpu-data-{pair}"
                shutil.rmtree(data_dir, ignore_errors=True)
                env["BACKLINKS_DATA_DIR"] = str(data_dir)
                label = "ours" if pipelines else "bare"
                crawl = run_crawl(argv, env, workdir / f"cpu-{pair}-{label}.log", label)
                shutil.rmtree(data_dir, ignore_errors=True)
                seconds[label] = crawl.rusage_cpu
                db = crawl.watch.cpu_at("db", None)
                print(
                    f"pair {pair + 1} {label}: {crawl.pages:,} pages, CPU {crawl.rusage_cpu:.1f} s "
                    f"(database server {db:.1f} s), load {crawl.load[0]:.2f}",
                    flush=True,
                )
            cost = (seconds["ours"] - seconds["bare"]) / seconds["bare"]
            costs.append(cost)
            runs.append(seconds)
            print(f"pair {pair + 1}: cost {cost:.2f}", flush=True)
    median = statistics.median(costs)
    print(
        f"CPU of our pipelines and store: {median:.2f} of the bare crawl's (median of {pairs} "
        f"pairs: {', '.join(f'{c:.2f}' for c in costs)}; goal <= 0.10; "
        f"before issue 13, from the issue: {BEFORE_CPU_COST})"
    )
    return {"pages": pages, "pairs": runs, "costs": costs, "median": median}


# -- main --------------------------------------------------------------------------------------


def header() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "not a git checkout"
    dirty = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return (
        f"{dt.datetime.now():%Y-%m-%d %H:%M}; code {commit} in {ROOT}"
        f"{f' + {len(dirty)} uncommitted files' if dirty else ''}; {os.cpu_count()} CPUs; "
        f"uptime: {uptime.strip()}"
    )


def as_json(runs: list[SizeRun], cpu: dict[str, Any] | None) -> dict[str, Any]:
    def crawl(c: Crawl | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {
            "pages": c.pages,
            "crawl_seconds": c.crawl_seconds,
            "after_last_page": c.after_last_page(),
            "cpu": c.cpu(),
            "rusage_cpu": c.rusage_cpu,
            "peak_rss": {"crawl": c.watch.peak("crawl"), "db": c.watch.peak("db")},
            "wall": c.wall,
            "load": c.load,
            "log": str(c.log),
            "stats": c.stats,
        }

    def store(s: StoreSize | None) -> dict[str, Any] | None:
        return None if s is None else {"disk": s.disk, "collections": s.collections}

    return {
        "sizes": [
            {
                "budget": r.budget,
                "hosts": r.hosts,
                "web_pages": r.web_pages,
                "crawl": crawl(r.first),
                "store": store(r.store),
                "recrawl": crawl(r.again),
                "store_after_recrawl": store(r.store_again),
                "rescored_seconds": r.rescored,
            }
            for r in runs
        ],
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", help="sizes (default 10000 50000 100000)")
    parser.add_argument(
        "--recrawl",
        type=int,
        nargs="?",
        const=1,
        default=0,
        metavar="N",
        help="crawl each size again, N times (1 when N is not given), same store",
    )
    parser.add_argument("--cpu", action="store_true", help="the CPU cost of pipelines and store")
    parser.add_argument("--cpu-pages", type=int, default=1600)
    parser.add_argument("--cpu-pairs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="logs and data dirs (default: a temp dir)")
    parser.add_argument("--keep-data", action="store_true", help="keep each size's data dir")
    parser.add_argument(
        "--rescore", action="store_true", help="score each stored crawl again, timed by step"
    )
    parser.add_argument(
        "--default-traps", action="store_true", help="keep the trap guard's default caps"
    )
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for every crawl of the sizes, e.g. -s BACKLINKS_FOCUS=False",
    )
    args = parser.parse_args()
    sizes = args.pages or ([] if args.cpu else list(DEFAULT_SIZES))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(header())
    print(f"logs in {workdir}", flush=True)

    runs = [run_size(budget, workdir, args) for budget in sorted(sizes)]
    cpu = cpu_cost(workdir, args.cpu_pages, args.cpu_pairs) if args.cpu else None
    (workdir / "scale.json").write_text(json.dumps(as_json(runs, cpu), indent=1, default=str))

    if runs:
        crawls = [c for r in runs for c in (r.first, r.again) if c is not None]
        print("\nmeasured in this run (politeness off; timings are wall seconds):")
        print(table(summary_rows(runs)))
        print("\nafter the last page, by step (from the crawl's log), and the crawl's RSS:")
        print(table(end_rows(crawls)))
        print(
            "\nCPU, user+system seconds (before the first request / crawl phase / after the "
            "last page; the web server: crawl phase):"
        )
        print(table(cpu_rows(crawls)))
        if len(runs) > 1:
            print("\ngrowth (k: figure ~ pages^k; 1 is linear):")
            print("\n".join(f"  {line}" for line in growth(runs)))
        print("\ngoals:")
        print("\n".join(f"  {line}" for line in goals(runs)))
    print(
        "\nmeasured on main before issue 13 (quoted from the issue, NOT measured in this run; "
        "politeness off; rows 1-2 on a generated web of 100 pages per host with the trap cap "
        "raised, row 3 on a 100,000-page web of mixed URL styles with the defaults, stopped by "
        f"the trap guard at 71,000; CPU cost of pipelines and store: {BEFORE_CPU_COST}):"
    )
    print(table([tuple(row) for row in BEFORE_ISSUE_13]))
    print(f"\n{header()}")


if __name__ == "__main__":
    main()
