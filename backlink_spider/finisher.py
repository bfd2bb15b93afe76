"""The end of a crawl, in one extension: the crawl record, lost links, host edges, scores.

``CrawlFinisher`` opens the crawl's record in the store when the crawl opens, tallies what passes
the item pipeline (pages fetched or failed, target checks, the pages' out-host counts), and when
the crawl closes, after the item writer has flushed, runs its steps in a worker thread:

1. **links** (``BACKLINKS_FINISH_LINKS``): a link gone from a page this crawl fetched is lost; a
   link of a page that failed (4xx/5xx, network) is unverified, not lost, unless the page
   answered 404/410 in this crawl and the one before (it is gone: its links are lost); each
   checked target URL's status goes onto the links into it. Only links this crawl looked for
   (its watched domains) and that no crawl has seen since this one began can be found gone, so
   two crawls of one target at once never call each other's live links lost.
2. **host edges** (``BACKLINKS_FINISH_HOST_EDGES``): each fetched host's edges, from all its
   stored pages; edges not seen again are removed.
3. **reciprocity** (``BACKLINKS_FINISH_RECIPROCITY``): each link marked reciprocal or not
   (done by the scores themselves when they run, with the same rule).
4. **scores** (``ScoreOnClose``, ``BACKLINKS_SCORE_ON_CLOSE``): the target's and competitors'
   links scored from the stored host graph.

Then the crawl record gets its status (``finished``; ``interrupted`` for a crawl stopped by a
signal, Scrapy's reason ``shutdown``; else Scrapy's reason, which ``reason`` always keeps), Scrapy's
final stats and the crawl's figures (``vocabulary.crawl_figures``: read from the store, so they
cover every attempt and worker), and one summary line says those figures. While the crawl runs, a
heartbeat (every ``BACKLINKS_HEARTBEAT_SECONDS``) keeps ``heartbeat_at`` and ``progress`` fresh in
the record: a crawl killed before its end (SIGKILL, a second Ctrl-C) never closes it, and readers
(``vocabulary.crawl_status``) then show it ``interrupted`` with what it had done.
Writes that could not reach MongoDB (spilled, for the next run) leave the store incomplete: the
steps are then skipped, since they would call links lost whose writes are only in the spill.

With a shared frontier each worker deposits what only it knows (failed fetches, target checks)
in Redis and leaves; the last to leave reads what all of them fetched back from the store and
runs the steps for the whole crawl. A resumed JOBDIR attempt likewise reads its earlier attempts'
pages back from the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import PyMongoError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.conf import build_component_list
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet import task, threads

from backlink_spider.items import Backlink, FetchFailure, PageRecord, TargetCheck
from backlink_spider.progress import Steps
from backlink_spider.run import CrawlRun
from backlink_spider.vocabulary import (
    COVERAGE,
    COVERAGE_BUDGET,
    COVERAGE_SUGGESTED,
    COVERAGE_UNCRAWLED,
    DISCOVERED,
    DISCOVERED_OUTCOMES,
    EDGE_OUT,
    FAILED_SEEDS,
    GONE_CRAWLS,
    LOST_AFTER_GONE,
    UNSEEN_WORDS,
    crawl_distinct,
    crawl_figures,
    crawl_pages,
    encode_edges,
    out_hosts_of,
    record_status,
)
from pipelines.mongo import MongoPipeline
from pipelines.store import Store, StoreError, acquire_store, in_groups, release_store
from pipelines.target_profile import add_to_profile

if TYPE_CHECKING:
    from backlink_spider.frontier import SharedCrawl

logger = logging.getLogger(__name__)


def worker_field(name: str) -> str:
    """A worker name as one MongoDB field name (host names have dots)."""
    return name.replace(".", "_").replace("$", "_")


def merge_stats(parts: list[dict[str, Any]], *, sequential: bool = False) -> dict[str, Any]:
    """The stats of a crawl's workers as one: counts add up, times and levels take the largest;
    ``sequential`` parts (the attempts of a JOBDIR crawl, one after another) add their times.
    The first part's text values (``finish_reason``) win."""
    merged: dict[str, Any] = {}
    for stats in parts:
        for key, value in stats.items():
            old = merged.get(key)
            if old is None:
                merged[key] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                level = any(word in key for word in ("max", "memusage"))
                duration = any(word in key for word in ("time", "seconds"))
                adds = not level and (sequential or not duration)
                merged[key] = old + value if adds else max(old, value)
            elif isinstance(value, datetime) and key.endswith("start_time"):
                merged[key] = min(old, value)
            elif isinstance(value, datetime):
                merged[key] = max(old, value)
    return merged


# Stats the end of each attempt sets from the whole crawl's store, not from the attempt:
# merging attempts keeps the latest value rather than adding them up.
WHOLE_CRAWL_STATS = frozenset(
    {
        "backlinks/jobdir/attempt",
        "backlinks/mongo/new",
        "backlinks/mongo/host_edges",
        "backlinks/score/scored",
    }
)


def merge_attempt_stats(latest: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """A resumed crawl's stats: this attempt's and the earlier attempts' (as the record kept
    them) as one, so the record's ``stats`` cover the whole crawl."""
    merged = merge_stats([latest, earlier], sequential=True)
    for key in WHOLE_CRAWL_STATS & latest.keys():
        merged[key] = latest[key]
    return merged


def _lit(value: Any) -> dict[str, Any]:
    return {"$literal": value}


def discovered_outcomes(db: Any, crawl_id: str, domains: Iterable[str]) -> dict[str, Any]:
    """How the discovered sites a crawl visited did (``vocabulary.DISCOVERED_OUTCOMES``), read
    from the store (every attempt and worker): the sites of each outcome and their counts."""
    asked = sorted(set(domains))
    linked: set[str] = set()
    fetched: set[str] = set()
    for group in in_groups(asked):
        seen = {"source_domain": {"$in": list(group)}, "last_crawl_id": crawl_id}
        linked.update(d for d in db.backlinks.distinct("source_domain", seen) if d)
        answered = {"domain": {"$in": list(group)}, "status": {"$lt": 400}}
        fetched.update(crawl_distinct(db, crawl_id, "domain", answered))
    sites = {
        "confirmed": [d for d in asked if d in linked],
        "not_found": [d for d in asked if d in fetched and d not in linked],
        "unreachable": [d for d in asked if d not in fetched and d not in linked],
    }
    return {
        "asked": len(asked),
        **{name: len(sites[name]) for name in DISCOVERED_OUTCOMES},
        "sites": sites,
    }


@dataclass
class Tally:
    """What passed the item pipeline in this process: what the end of the crawl works from."""

    fetched_ok: set[str] = field(default_factory=set)  # pages fetched now: old links can be lost
    fetch_failed: set[str] = field(default_factory=set)  # 4xx/5xx or network: unverified
    target_checks: dict[str, tuple[int, str]] = field(default_factory=dict)  # status, final URL
    # Host edges of the pages fetched in this crawl: src -> dst -> [links, followed, pages].
    edges: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set)  # the pages in ``edges``
    pages_of_host: Counter[str] = field(default_factory=Counter)
    # What this process stored (the heartbeat's progress; a crawl's pages when it is all of it).
    pages: int = 0
    backlinks: Counter[bool] = field(default_factory=Counter)  # by is_competitor_link

    def add(self, item: Any) -> None:
        if isinstance(item, Backlink):
            self.backlinks[bool(item.is_competitor_link)] += 1
        elif isinstance(item, PageRecord):
            self.pages += 1
            if item.url not in self.counted:
                self.counted.add(item.url)
                self.pages_of_host[item.host] += 1
                self._count_edges(item.host, item.out_hosts)
            if 200 <= item.status < 300:
                self.fetched_ok.add(item.url)
            elif item.status >= 400:
                self.fetch_failed.add(item.url)
        elif isinstance(item, FetchFailure):
            self.fetch_failed.add(item.url)
        elif isinstance(item, TargetCheck):
            self.target_checks[item.url] = (item.status, item.final_url)

    def _count_edges(self, src: str, out_hosts: Iterable[Any]) -> None:
        edges = self.edges.setdefault(src, {})
        for out in out_hosts:
            counts = edges.get(out.host)
            if counts is None:
                edges[out.host] = [out.links, out.followed, 1]
            else:
                counts[0] += out.links
                counts[1] += out.followed
                counts[2] += 1


class ScoreOnClose:
    """Score the target's links (and its competitors') when a crawl ends."""

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("BACKLINKS_SCORE_ON_CLOSE", True):
            raise NotConfigured("BACKLINKS_SCORE_ON_CLOSE is off")
        self.settings = crawler.settings
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScoreOnClose:
        return cls(crawler)

    def __call__(
        self,
        store: Store,
        target_domain: str,
        target_checks: Mapping[str, tuple[int, str]] | None = None,
    ) -> dict[str, Any] | None:
        """In a worker thread, once the crawl's writes and host edges are in. Never raises:
        the summary, or None when scoring failed (logged). ``target_checks``: written with
        the scores (``score_target``)."""
        from pipelines.scoring import ScoringError, score_target

        try:
            with Steps(f"Scoring the backlinks of {target_domain}", live=False) as steps:
                summary = score_target(
                    store.db,
                    target_domain,
                    settings=self.settings,
                    on_step=steps,
                    target_checks=target_checks,
                )
        except ScoringError as exc:
            logger.error("Scoring %s skipped: %s", target_domain, exc)
            return None
        except PyMongoError as exc:
            logger.error("Scoring %s failed: %s", target_domain, str(exc).splitlines()[0][:200])
            return None
        scored = summary["backlinks"] + summary["competitor_backlinks"]
        self.stats.set_value("backlinks/score/scored", scored)
        return summary


class CrawlFinisher:
    """The end of a niche crawl (see the module). ``NotConfigured`` for any other spider."""

    def __init__(self, crawler: Crawler, run: CrawlRun):
        settings = crawler.settings
        self.crawler = crawler
        self.settings = settings
        self.stats = crawler.stats
        self.run = run
        self.mark_links = settings.getbool("BACKLINKS_FINISH_LINKS", True)
        self.host_edges = settings.getbool("BACKLINKS_FINISH_HOST_EDGES", True)
        self.reciprocity = settings.getbool("BACKLINKS_FINISH_RECIPROCITY", True)
        self.batch_size = max(1, settings.getint("BACKLINKS_MONGO_BATCH_SIZE", 500))
        try:
            self.score: ScoreOnClose | None = ScoreOnClose.from_crawler(crawler)
        except NotConfigured:
            self.score = None
        self.heartbeat_seconds = max(0.0, settings.getfloat("BACKLINKS_HEARTBEAT_SECONDS", 30.0))
        self.heartbeat: task.LoopingCall | None = None
        self.store: Store | None = None
        self.started_at = datetime.now(UTC)  # until the crawl record says when the crawl began
        self.earlier_stats: dict[str, Any] = {}  # the earlier attempts' (JOBDIR), from the record
        self.figures: dict[str, int] | None = None  # the crawl's, once its record is closed
        self.tally = Tally()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.start_heartbeat, signal=signals.spider_opened)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlFinisher:
        run = CrawlRun.of(crawler)
        pipelines = build_component_list(crawler.settings.getwithbase("ITEM_PIPELINES"))
        if MongoPipeline not in {load_object(p) for p in pipelines}:
            raise NotConfigured("nothing is stored: MongoPipeline is off")
        return cls(crawler, run)

    @property
    def db(self) -> Any:
        assert self.store is not None
        return self.store.db

    # -- signals --------------------------------------------------------------------------------

    def spider_opened(self, spider: Any = None) -> None:
        """The crawl's record, ``running``; another attempt or worker opens the same one."""
        try:
            self.store = acquire_store(self.settings)
            self._open_record()
            config = self.run.config
            add_to_profile(  # from now on, trusted seeds (and the rest) of the target
                self.db,
                config.target_domain,
                seeds=config.given_seeds,
                competitors=config.competitors,
                keywords=config.keywords,
                distrust=config.distrust,
            )
        except (StoreError, PyMongoError) as exc:
            logger.error("Could not record the start of crawl %s: %s", self.run.crawl_id, exc)

    def start_heartbeat(self, spider: Any = None) -> None:
        """After ``spider_opened`` opened the record: beat now and every interval until the
        record is closed (the end of the crawl included, which may take minutes)."""
        if self.store is None or not self.heartbeat_seconds:
            return
        self.heartbeat = task.LoopingCall(self._beat)
        self.heartbeat.start(self.heartbeat_seconds, now=True)

    def item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        self.tally.add(item)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self.store is None:
            with contextlib.suppress(StoreError):
                self.store = acquire_store(self.settings)
        started = time.monotonic()
        try:
            await maybe_deferred_to_future(threads.deferToThread(self._finish, reason))
        finally:
            if self.heartbeat is not None and self.heartbeat.running:
                self.heartbeat.stop()
            # After Scrapy's own elapsed_time_seconds: what the end of the crawl took.
            self.stats.set_value("backlinks/finish/seconds", round(time.monotonic() - started, 3))
            if self.store is not None:
                release_store(self.store)
                self.store = None

    # -- the record -----------------------------------------------------------------------------

    def _open_record(self) -> None:
        run = self.run
        now = datetime.now(UTC)
        doc: dict[str, Any] = {
            **run.describe(),
            "status": "running",
            "attempt_started_at": now,
            "finished_at": None,
            "reason": None,
            "figures": None,  # this attempt's, when it closes; ``progress`` until then
            "pid": os.getpid(),
            # Where the pid means something: readers on this host see when it is gone. The
            # workers of a shared crawl each have their own (the heartbeat says it is alive).
            "host": socket.gethostname() if run.shared is None else None,
            "job": run.scrapyd_job,
            "heartbeat_at": now,
            "heartbeat_seconds": self.heartbeat_seconds or None,
        }
        if run.resumed:  # another attempt of the crawl (JOBDIR)
            assert run.job is not None
            doc.update(resumed_at=now, resumed_from=run.job.resume)
        fields = {k: _lit(v) for k, v in doc.items()}
        fields["started_at"] = {"$ifNull": ["$started_at", now]}
        if run.shared is None:  # workers of one shared crawl are not attempts
            fields["attempts"] = {"$add": [{"$ifNull": ["$attempts", 0]}, 1]}
        record = self.db.crawls.find_one_and_update(
            {"_id": run.crawl_id},
            [{"$set": fields}],
            projection={"started_at": 1, "stats": 1},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        # When the crawl began: its first attempt's (JOBDIR), or its first worker's (Redis).
        self.started_at = record["started_at"]
        if run.resumed:  # what the earlier attempts that closed their record counted
            self.earlier_stats = record.get("stats") or {}

    def _beat(self) -> Any:
        """One heartbeat, in a thread (the LoopingCall waits for it: beats never overlap)."""
        return threads.deferToThread(self._write_heartbeat)

    def _write_heartbeat(self) -> None:
        """``heartbeat_at`` and ``progress`` of a record still ``running``; never raises, a
        missed beat is only late. The progress is what this process stored (a reader of a
        running or killed crawl counts the store itself: ``vocabulary.crawl_progress``), so a
        beat is one small write, not counts that read the crawl's pages back."""
        store = self.store
        if store is None:
            return
        run = self.run
        found = self.tally.backlinks
        # Stored, not only found: the writer's counts (items wait in its buffer a while).
        pages = int(self.stats.get_value("backlinks/mongo/pages/written", 0) or 0)
        links = int(self.stats.get_value("backlinks/mongo/backlinks/written", 0) or 0)
        try:
            progress = {
                "pages": pages,
                "backlinks": min(found[False], links),
                "competitor_links": min(found[True], max(0, links - found[False])),
            }
            # A beat that lands after the record was closed changes nothing. (On ``_id`` alone,
            # as every single-document write: see README "A sharded cluster".)
            running = {"$eq": ["$status", "running"]}
            beat = {"heartbeat_at": datetime.now(UTC), "progress": progress}
            store.db.crawls.update_one(
                {"_id": run.crawl_id},
                [{"$set": {k: {"$cond": [running, _lit(v), f"${k}"]} for k, v in beat.items()}}],
            )
        except PyMongoError as exc:
            logger.debug("Heartbeat of crawl %s missed: %s", run.crawl_id, exc)

    def _stats_doc(self) -> dict[str, Any]:
        stats = self.stats.get_stats() or {}
        return {k.replace(".", "_").lstrip("$"): v for k, v in stats.items()}

    def _close_record(self, reason: str, spilled: int, worker_stats: list[dict[str, Any]]) -> None:
        """Status, stats and figures. The figures are the whole crawl's (every attempt and
        worker: ``crawl_figures`` reads the store), written by the process that closes the
        crawl: the attempt, or a shared crawl's last worker."""
        stats = self._stats_doc()
        update: dict[str, Any] = {
            "status": record_status(reason),
            "reason": reason,
            "finished_at": datetime.now(UTC),
            "stats": stats,
            "spilled": spilled,
            FAILED_SEEDS: [
                {"seed": seed, "reason": why} for seed, why in sorted(self.run.failed_seeds.items())
            ],
        }
        shared = self.run.shared
        if shared is not None:
            # Each worker keeps its own record; the last one also writes the crawl's, with the
            # stats of all (the others wrote theirs before leaving).
            worker = {**update, "pid": os.getpid()}
            update = {f"workers.{worker_field(shared.worker)}": worker}
            if shared.is_last:
                update.update(
                    status=worker["status"],
                    reason=reason,
                    finished_at=worker["finished_at"],
                    stats=merge_stats([stats, *worker_stats]),
                    worker_count=len(worker_stats) + 1,
                )
        elif self.earlier_stats:
            update["stats"] = merge_attempt_stats(stats, self.earlier_stats)
        if shared is None or shared.is_last:
            self._coverage(update)
            try:
                run = self.run
                # This process stored all of the crawl's pages unless others fetched some or
                # writes wait in the spill: then the store counts them.
                alone = not run.fetched_elsewhere and not spilled
                self.figures = crawl_figures(
                    self.db,
                    run.crawl_id,
                    run.config.target_domain,
                    pages=self.tally.pages if alone else None,
                )
            except PyMongoError as exc:  # the record is closed all the same
                logger.error("Could not count the figures of crawl %s: %s", self.run.crawl_id, exc)
            else:
                update["figures"] = self.figures
            if self.run.config.discovered_domains:
                self._count_discovered(update)
        self.db.crawls.update_one({"_id": self.run.crawl_id}, {"$set": update})

    def _coverage(self, update: dict[str, Any]) -> None:
        """The record's ``coverage``: what the crawl spent its budget on and left unseen
        (``backlink_spider.focus``), and the log lines that say it."""
        focus = self.run.focus
        if focus is None:
            return
        coverage = focus.coverage(self.run.config.watched_domains)
        update[COVERAGE] = coverage
        budget = coverage[COVERAGE_BUDGET]
        total = sum(budget.values()) or 1
        said = ", ".join(f"{n / total:.0%} {k.replace('_', ' ')}" for k, n in budget.items())
        logger.info("Crawl %s spent its page budget on hosts %s", self.run.crawl_id, said)
        suggested = coverage[COVERAGE_SUGGESTED]
        if suggested:
            logger.info(
                "Hosts left unseen (%s); the best as seeds: %s",
                "; ".join(
                    f"{n} {UNSEEN_WORDS.get(k, k)}" for k, n in coverage[COVERAGE_UNCRAWLED].items()
                ),
                ", ".join(s["host"] for s in suggested[:5]),
            )
        for name, n in budget.items():
            self.stats.set_value(f"backlinks/focus/pages/{name}", n)

    def _count_discovered(self, update: dict[str, Any]) -> None:
        """The record's ``discovered``: how the discovered sites this crawl visited did."""
        run = self.run
        try:
            outcomes = discovered_outcomes(self.db, run.crawl_id, run.config.discovered_domains)
        except PyMongoError as exc:  # the record is closed all the same
            logger.error("Could not count the discovered sites of crawl %s: %s", run.crawl_id, exc)
            return
        update[DISCOVERED] = outcomes
        said = ", ".join(f"{outcomes[n]} {n.replace('_', ' ')}" for n in DISCOVERED_OUTCOMES)
        logger.info("Discovered sites of crawl %s: %s", run.crawl_id, said)

    # -- the steps ------------------------------------------------------------------------------

    def _finish(self, reason: str) -> None:
        """In a worker thread: the steps, the record and the summary (see the module)."""
        shared = self.run.shared
        try:
            if self.store is not None:
                self._finish_in_store(reason)
            elif shared is not None:
                shared.leave()
        except PyMongoError as exc:
            logger.error(
                "Could not finish crawl %s in MongoDB: %s",
                self.run.crawl_id,
                str(exc).splitlines()[0][:200],
            )
        finally:
            if shared is not None and shared.is_last:
                shared.cleanup()
                logger.info("Last worker of crawl %s: its Redis keys are removed", shared.crawl_id)
        self._summary(reason)

    def _finish_in_store(self, reason: str) -> None:
        spilled = int(self.stats.get_value("backlinks/mongo/spilled", 0) or 0)
        shared = self.run.shared
        others: list[dict[str, Any]] = []
        if shared is not None:
            if not self._leave_shared(shared):
                self._close_record(reason, spilled, [])
                return
            others = self._read_back(shared)
        if spilled:
            logger.error(
                "%d writes wait in the spill file: lost links, host edges and scores "
                "are left for a later crawl",
                spilled,
            )
        else:
            self._steps()
        self._close_record(reason, spilled, others)

    def _steps(self) -> None:
        """Each step timed: ``backlinks/finish/steps/<step>`` seconds, and one log line."""
        now = datetime.now(UTC)
        config = self.run.config
        took: dict[str, float] = {}

        @contextlib.contextmanager
        def step(name: str) -> Iterator[None]:
            started = time.monotonic()
            try:
                yield
            finally:
                took[name] = round(time.monotonic() - started, 3)
                self.stats.set_value(f"backlinks/finish/steps/{name}", took[name])

        if self.mark_links:
            with step("links"):
                gone = self._gone_pages()
                failed = self.tally.fetch_failed - self.tally.fetched_ok - gone
                self._mark_links(now, gone, failed)
            if self.score is None:  # else written with the scores, one update a link
                with step("target_checks"):
                    self._store_target_checks(now, config.watched_domains)
        with step("new"):
            new = self.db.backlinks.count_documents({"first_crawl_id": self.run.crawl_id})
            self.stats.set_value("backlinks/mongo/new", new)
        if self.host_edges:
            with step("host_edges"):
                self._rebuild_host_edges(now)
        if self.reciprocity and self.score is None:  # scoring marks it with the link's score
            from pipelines.profile import mark_reciprocal

            with step("reciprocity"):
                mark_reciprocal(self.db, sorted(config.watched_domains))
        if self.score is not None:
            assert self.store is not None
            checks = self.tally.target_checks if self.mark_links else None
            with step("scoring"):
                summary = self.score(self.store, config.target_domain, checks)
            if checks is not None:  # what scoring did not write: every link if it failed
                scored = set(summary["domains"]) if summary else set()
                with step("target_checks"):
                    broken = summary["broken"] if summary else 0
                    self._store_target_checks(now, config.watched_domains - scored, broken)
        logger.info(
            "End of crawl %s: %s",
            self.run.crawl_id,
            ", ".join(
                f"{name.replace('_', ' ')} {seconds:.1f} s" for name, seconds in took.items()
            ),
        )

    def _leave_shared(self, shared: SharedCrawl) -> bool:
        """Deposit, leave; True for the last worker, which finishes the crawl."""
        focus = self.run.focus
        shared.deposit(
            self.tally.fetch_failed,
            self.tally.target_checks,
            focus.state() if focus is not None else None,
        )
        with contextlib.suppress(PyMongoError):  # the last worker merges the workers' stats
            self.db.crawls.update_one(
                {"_id": self.run.crawl_id},
                {"$set": {f"workers.{worker_field(shared.worker)}.stats": self._stats_doc()}},
            )
        if shared.leave():
            return True
        logger.info(
            "Crawl %s goes on in other workers: the last to finish marks lost links, "
            "rebuilds host edges and scores",
            self.run.crawl_id,
        )
        return False

    def _read_back(self, shared: SharedCrawl) -> list[dict[str, Any]]:
        """The last worker: what all the workers fetched, from the store and Redis; and the
        other workers' stats."""
        tally = self.tally
        for page in crawl_pages(self.db, self.run.crawl_id, fields=["status"]):
            if 200 <= page["status"] < 300:
                tally.fetched_ok.add(page["_id"])
            elif page["status"] >= 400:
                tally.fetch_failed.add(page["_id"])
        fails, checks, focuses = shared.deposited()
        tally.fetch_failed |= fails
        tally.target_checks.update(checks)
        if self.run.focus is not None:  # the others' estimates and counts join this worker's
            for state in focuses:
                self.run.focus.merge(state)
        doc = self.db.crawls.find_one({"_id": self.run.crawl_id}, {"workers": 1})
        workers = (doc or {}).get("workers") or {}
        mine = worker_field(shared.worker)
        return [w.get("stats") or {} for name, w in workers.items() if name != mine]

    def _unseen(self) -> dict[str, Any]:
        """Links this crawl may call lost or unverified: ones it looked for (its watched domains:
        a crawl without a competitor never saw that competitor's links) that no crawl has seen
        since this one began. A crawl running beside this one (another Scrapyd job, a shell
        crawl of the same target) that saw a link keeps it live, whichever ends first."""
        return {
            "matched_domain": {"$in": sorted(self.run.config.watched_domains)},
            "last_crawl_id": {"$ne": self.run.crawl_id},
            "last_seen": {"$lt": self.started_at},
        }

    def _gone_pages(self) -> set[str]:
        """Pages that answered 404/410 in this crawl and the ones before it: their links are
        lost, not unverified (``vocabulary.LOST_AFTER_GONE``)."""
        gone: set[str] = set()
        for urls in in_groups(sorted(self.tally.fetch_failed - self.tally.fetched_ok)):
            query = {"_id": {"$in": urls}, GONE_CRAWLS: {"$gte": LOST_AFTER_GONE}}
            gone.update(page["_id"] for page in self.db.pages.find(query, {"_id": 1}))
        self.stats.set_value("backlinks/mongo/gone_pages", len(gone))
        return gone

    def _unseen_links(self) -> list[tuple[str, str, bool]]:
        """(id, source URL, unverified already) of every link ``_unseen`` and not lost: one
        query on the (matched_domain, last_seen) index, whose answer is the links no crawl saw
        lately, a few among all those this crawl saw again."""
        query = {**self._unseen(), "lost_at": None}
        fields = {"source_url": 1, "unverified_at": 1}
        return [
            (doc["_id"], str(doc.get("source_url") or ""), doc.get("unverified_at") is not None)
            for doc in self.db.backlinks.find(query, fields, batch_size=self.batch_size)
        ]

    def _mark_links(self, now: datetime, gone_for_good: set[str], failed: set[str]) -> None:
        """Lost: links gone from pages this crawl fetched, and links of pages gone for good;
        unverified: links of pages that failed in this crawl (not seen, not gone either)."""
        fetched = self.tally.fetched_ok | gone_for_good
        lost: list[str] = []
        unverified: list[str] = []
        for link_id, source, already in self._unseen_links():
            if source in fetched:
                lost.append(link_id)
            elif source in failed and not already:
                unverified.append(link_id)
        counts = {"lost": 0, "unverified": 0}
        for name, ids, update in (
            ("lost", lost, {"lost_at": now, "unverified_at": None}),
            ("unverified", unverified, {"unverified_at": now}),
        ):
            for chunk in in_groups(ids):
                # The filter again: a crawl beside this one may have seen a link meanwhile.
                query = {"_id": {"$in": chunk}, "lost_at": None, **self._unseen()}
                counts[name] += self.db.backlinks.update_many(
                    query, {"$set": update}
                ).modified_count
        self.stats.set_value("backlinks/mongo/lost", counts["lost"])
        self.stats.set_value("backlinks/mongo/unverified", counts["unverified"])

    def _store_target_checks(self, now: datetime, domains: Iterable[str], broken: int = 0) -> None:
        """Each checked target URL's status onto every backlink of ``domains`` pointing at it;
        ``broken``: the links scoring found answering 400+ already.

        The watched domains' links are read once (``target_url`` has no index), then updated by
        ``_id`` in small groups per answer (``store.in_groups``): a query of a thousand URLs
        cost the embedded server 2 ms a link, a small group of ids about what rewriting the
        link costs anyway (0.6 ms).
        """
        checks = self.tally.target_checks
        by_answer: dict[tuple[int, str], list[Any]] = defaultdict(list)
        watched = sorted(domains)
        if checks and watched:
            for doc in self.db.backlinks.find(
                {"matched_domain": {"$in": watched}}, {"target_url": 1}
            ):
                answer = checks.get(str(doc.get("target_url") or ""))
                if answer is not None:
                    by_answer[answer].append(doc["_id"])
        for (status, final_url), all_ids in by_answer.items():
            update = {
                "$set": {
                    "target_status": status,
                    "target_final_url": final_url or None,
                    "target_checked_at": now,
                }
            }
            for ids in in_groups(all_ids):
                result = self.db.backlinks.update_many({"_id": {"$in": ids}}, update)
                if status >= 400:
                    broken += result.matched_count
        self.stats.set_value("backlinks/mongo/broken", broken)

    def _rebuild_host_edges(self, now: datetime) -> None:
        """Edges of each host fetched in this crawl, from all its stored pages.

        This process's pages were counted as they passed; a host's stored pages are read back
        only when it has some this crawl did not fetch (two indexed counts tell), and those are
        added. In a first crawl nothing is read. When other processes fetched part of this
        crawl (an earlier attempt of a resumed JOBDIR crawl, the other workers of a shared
        one), every stored page of the hosts this crawl fetched is read back.
        """
        db = self.db
        tally = self.tally
        edges = tally.edges
        elsewhere = self.run.fetched_elsewhere
        if elsewhere:
            hosts_before = crawl_distinct(db, self.run.crawl_id, "host")
            edges = {host: {} for host in {*edges, *hosts_before}}
        hosts = sorted(edges)
        read = hosts
        if not elsewhere and not [
            c for c in db.pages.distinct("crawl_id") if c != self.run.crawl_id
        ]:
            read = []  # every stored page is this crawl's
        for host in read:
            if (
                not elsewhere
                and db.pages.count_documents({"host": host}) <= tally.pages_of_host[host]
            ):
                continue
            for page in db.pages.find({"host": host}, {"host": 1, "out_hosts": 1}):
                if not elsewhere and page["_id"] in tally.counted:
                    continue
                host_edges = edges[page["host"]]
                for dst, links, followed in out_hosts_of(page):
                    counts = host_edges.setdefault(dst, [0, 0, 0])
                    counts[0] += links
                    counts[1] += followed
                    counts[2] += 1
        # One document per source host, written whole (``vocabulary.EDGE_OUT``).
        ops = [
            UpdateOne(
                {"_id": src},
                {
                    "$set": {
                        "src": src,
                        EDGE_OUT: encode_edges(sorted(edges[src].items())),
                        "edges": len(edges[src]),
                        "last_seen": now,
                    },
                    "$setOnInsert": {"first_seen": now},
                },
                upsert=True,
            )
            for src in hosts
        ]
        for start in range(0, len(ops), self.batch_size):
            db.host_edges.bulk_write(ops[start : start + self.batch_size], ordered=False)
        for chunk in in_groups(hosts):  # an older store's per-pair documents of these hosts
            db.host_edges.delete_many({"src": {"$in": chunk}, "dst": {"$exists": True}})
        with contextlib.suppress(PyMongoError):  # edges stored: every host's, not only these
            stored = db.host_edges.find({}, {"edges": 1, "dst": 1})
            total = sum(1 if "dst" in doc else int(doc.get("edges") or 0) for doc in stored)
            self.stats.set_value("backlinks/mongo/host_edges", total)

    def _summary(self, reason: str) -> None:
        """One line with the crawl's figures, as its record keeps them (``scrapy crawls`` and
        the report show the same numbers)."""
        run = self.run
        for seed, why in sorted(run.failed_seeds.items()):
            logger.warning("Seed site %s was not crawled: %s", seed, why)
        status = record_status(reason)
        said = status if status == reason else f"{status} ({reason})"
        if run.job is not None and run.job.attempt > 1:
            said += f" after {run.job.attempt} attempts"
        figures = self.figures
        if figures is None:  # the store could not be read, or other workers go on
            logger.info(
                "Crawl %s %s: this process read %d pages and found %d links into the watched "
                "domains (the crawl's figures: scrapy crawls %s)",
                run.crawl_id,
                said,
                self.stats.get_value("backlinks/spider/pages", 0),
                self.stats.get_value("backlinks/spider/backlinks", 0),
                run.config.target_domain,
            )
            return
        logger.info(
            "Crawl %s %s: %d pages, %d backlinks to %s from %d referring domains, "
            "%d links to competitors; %s now has %d live, %d new, %d lost, %d unverified, "
            "%d broken",
            run.crawl_id,
            said,
            figures["pages"],
            figures["backlinks"],
            run.config.target_domain,
            figures["referring_domains"],
            figures["competitor_links"],
            run.config.target_domain,
            figures["live"],
            figures["new"],
            figures["lost"],
            figures["unverified"],
            figures["broken"],
        )
