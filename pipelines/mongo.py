"""Items to MongoDB: buffered, idempotent bulk upserts off the reactor thread, nothing lost.

Every write is an upsert keyed by a stable ``_id`` whose update is an aggregation pipeline, so
applying it twice in one crawl changes nothing and a rerun only moves ``last_seen`` and the
per-crawl counters. That makes retries, and the replay of a spill file, safe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import json_util
from itemadapter import ItemAdapter
from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, BulkWriteError, ConnectionFailure, PyMongoError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import defer, task, threads

from backlink_spider.items import Backlink, FetchFailure, PageRecord, TargetCheck
from pipelines.normalize import backlink_id
from pipelines.profile import mark_reciprocal
from pipelines.scoring import score_on_close
from pipelines.store import Store, acquire_store, release_store

logger = logging.getLogger(__name__)

# Server error codes worth another try: not primary, shutting down, interrupted, network, dup
# key from two concurrent upserts of the same new _id.
RETRYABLE_CODES = {6, 7, 89, 91, 189, 262, 9001, 10107, 11000, 11600, 11602, 13435, 13436}

BACKLINK_FIELDS = (
    "source_url", "target_url", "anchor_text", "rel", "nofollow", "link_type", "position",
    "context", "occurrences", "source_title", "source_status", "is_competitor_link",
    "matched_domain", "via_url", "source_host", "source_domain", "target_host", "target_domain",
)  # fmt: skip
PAGE_FIELDS = (
    "url", "status", "title", "lang", "text", "outlinks_total", "nofollow", "rendered",
    "is_target", "is_seed", "hop", "host", "domain",
)  # fmt: skip


@dataclass(frozen=True)
class MongoConfig:
    batch_size: int
    flush_interval: float
    retries: int
    backoff: float
    data_dir: Path

    @classmethod
    def from_settings(cls, settings: Any) -> MongoConfig:
        return cls(
            batch_size=max(1, settings.getint("BACKLINKS_MONGO_BATCH_SIZE", 500)),
            flush_interval=settings.getfloat("BACKLINKS_MONGO_FLUSH_INTERVAL", 2.0),
            retries=max(0, settings.getint("BACKLINKS_MONGO_RETRIES", 4)),
            backoff=settings.getfloat("BACKLINKS_MONGO_RETRY_BACKOFF", 0.5),
            data_dir=Path(settings.get("BACKLINKS_DATA_DIR") or ".backlinks").expanduser(),
        )


def _lit(value: Any) -> dict[str, Any]:
    """Page content inside a pipeline update: a string starting with ``$`` must stay a string."""
    return {"$literal": value}


# A pending write: (collection, filter, update), kept plain so it can be spilled as JSON.
Op = tuple[str, dict[str, Any], Any]


def backlink_op(adapter: ItemAdapter, crawl_id: str, seen: datetime) -> Op:
    fields = {name: _lit(adapter.get(name)) for name in BACKLINK_FIELDS}
    update = [
        {
            "$set": {
                **fields,
                "first_seen": {"$ifNull": ["$first_seen", seen]},
                "first_crawl_id": {"$ifNull": ["$first_crawl_id", crawl_id]},
                # Counted once per crawl, however often this crawl writes it (retries, replays).
                "seen_count": {
                    "$cond": [
                        {"$eq": ["$last_crawl_id", crawl_id]},
                        {"$ifNull": ["$seen_count", 1]},
                        {"$add": [{"$ifNull": ["$seen_count", 0]}, 1]},
                    ]
                },
                "last_crawl_id": crawl_id,
                "last_seen": seen,
                "lost_at": None,
                "unverified_at": None,  # seen again: whatever failed before, the link is there
            }
        }
    ]
    return ("backlinks", {"_id": backlink_id(adapter["source_url"], adapter["target_url"])}, update)


def page_op(adapter: ItemAdapter, crawl_id: str, fetched: datetime) -> Op:
    """Plain update operators: values under ``$set`` are literal, and cheaper for the server."""
    fields = {name: adapter.get(name) for name in PAGE_FIELDS}
    # Built by hand: ItemAdapter.asdict() inspects every value and was most of this call's cost.
    fields["out_hosts"] = [
        {"host": h.host, "links": h.links, "followed": h.followed}
        for h in adapter.get("out_hosts") or ()
    ]
    update = {
        "$set": {**fields, "crawl_id": crawl_id, "fetched_at": fetched},
        "$setOnInsert": {"first_fetched": fetched},
    }
    return ("pages", {"_id": adapter["url"]}, update)


def _field(name: str) -> str:
    """A worker name as one MongoDB field name (host names have dots)."""
    return name.replace(".", "_").replace("$", "_")


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The stats of a crawl's workers as one: counts add up, times and levels take the largest."""
    merged: dict[str, Any] = {}
    for stats in parts:
        for key, value in stats.items():
            old = merged.get(key)
            if old is None:
                merged[key] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                adds = not any(word in key for word in ("time", "seconds", "max", "memusage"))
                merged[key] = old + value if adds else max(old, value)
            elif isinstance(value, datetime) and key.endswith("start_time"):
                merged[key] = min(old, value)
            elif isinstance(value, datetime):
                merged[key] = max(old, value)
    return merged


class _Spill:
    """Operations that could not be written, as JSON Lines the next run writes in."""

    def __init__(self, data_dir: Path, database: str, crawl_id: str):
        self.dir = data_dir / "spill"
        self.path = self.dir / f"{database}--{crawl_id}--{os.getpid()}.jsonl"
        self.count = 0

    def write(self, ops: Iterable[Op]) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        n = 0
        with self.path.open("a", encoding="utf-8") as fh:
            for collection, filter_, update in ops:
                line = {"c": collection, "f": filter_, "u": update}
                fh.write(json_util.dumps(line, json_options=json_util.RELAXED_JSON_OPTIONS))
                fh.write("\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        self.count += n
        return n

    @staticmethod
    def pending(data_dir: Path, database: str) -> list[Path]:
        return sorted((data_dir / "spill").glob(f"{database}--*.jsonl"))


def replay_spills(store: Store, data_dir: Path, batch_size: int = 500) -> int:
    """Write in what earlier runs spilled; a file is removed only once all of it is stored."""
    written = 0
    for path in _Spill.pending(data_dir, store.config.database):
        by_collection: dict[str, list[UpdateOne]] = defaultdict(list)
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json_util.loads(line)
                except ValueError:
                    logger.warning("Skipping a damaged line in %s", path)
                    continue
                by_collection[rec["c"]].append(UpdateOne(rec["f"], rec["u"], upsert=True))
        for collection, ops in by_collection.items():
            for start in range(0, len(ops), batch_size):
                store.db[collection].bulk_write(ops[start : start + batch_size], ordered=False)
                written += len(ops[start : start + batch_size])
        path.unlink()
        logger.info("Wrote in %d operations spilled by an earlier run (%s)", written, path.name)
    return written


class MongoPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.stats = crawler.stats
        self.config = MongoConfig.from_settings(crawler.settings)
        self.store: Store | None = None
        self.buffer: list[Op] = []
        self.lock = defer.DeferredLock()
        self.timer: task.LoopingCall | None = None
        self.spill: _Spill | None = None
        self.degraded_until = 0.0  # while the database is down, batches go straight to the spill
        self.crawl_id = ""
        self.fetched_ok: set[str] = set()  # pages fetched now: their old links can be lost
        # Pages that failed now (4xx/5xx, network): their links are unverified, not lost.
        self.fetch_failed: set[str] = set()
        # Backlink target URL -> (status, final URL) as the crawl found them.
        self.target_checks: dict[str, tuple[int, str]] = {}
        # Host edges of the pages fetched in this crawl: src -> dst -> [links, followed, pages].
        self.edges: dict[str, dict[str, list[int]]] = {}
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MongoPipeline:
        return cls(crawler)

    # -- lifecycle ------------------------------------------------------------------------------

    def open_spider(self) -> None:
        spider = getattr(self.crawler, "spider", None)
        self.crawl_id = getattr(spider, "crawl_id", "") or datetime.now(UTC).strftime(
            "crawl-%Y%m%dT%H%M%S"
        )
        self.store = acquire_store(self.settings)
        replayed = replay_spills(self.store, self.config.data_dir, self.config.batch_size)
        if replayed:
            self.stats.set_value("backlinks/mongo/replayed", replayed)
        self.spill = _Spill(self.config.data_dir, self.store.config.database, self.crawl_id)
        describe = getattr(spider, "describe", None)
        now = datetime.now(UTC)
        crawl_doc = {
            **(describe() if callable(describe) else {}),
            "status": "running",
            "attempt_started_at": now,
            "finished_at": None,
            "pid": os.getpid(),
            # Scrapyd 1.6 passes the job id as the spider argument _job (no SCRAPY_JOB).
            "job": getattr(spider, "_job", None)
            or os.environ.get("SCRAPY_JOB")
            or os.environ.get("SHUB_JOBKEY"),
        }
        job = getattr(spider, "job", None)
        if job is not None and job.attempt > 1:  # another attempt of the crawl (JOBDIR)
            crawl_doc.update(resumed_at=now, resumed_from=job.resume)
        fields = {k: _lit(v) for k, v in crawl_doc.items()}
        # Another attempt (JOBDIR), or another worker of a shared crawl, opens it again: it
        # started when the first one did.
        fields["started_at"] = {"$ifNull": ["$started_at", now]}
        if self._shared() is None:  # workers of one shared crawl are not attempts
            fields["attempts"] = {"$add": [{"$ifNull": ["$attempts", 0]}, 1]}
        self.store.db.crawls.update_one({"_id": self.crawl_id}, [{"$set": fields}], upsert=True)
        logger.info(
            "Storing in MongoDB at %s, database %s, crawl %s",
            self.store.display_uri,
            self.store.config.database,
            self.crawl_id,
        )
        if self.config.flush_interval > 0:
            self.timer = task.LoopingCall(self._timed_flush)
            self.timer.start(self.config.flush_interval, now=False)

    async def process_item(self, item: Any) -> Any:
        now = datetime.now(UTC)
        adapter = ItemAdapter(item)
        if isinstance(item, Backlink):
            self.buffer.append(backlink_op(adapter, self.crawl_id, now))
        elif isinstance(item, PageRecord):
            self.buffer.append(page_op(adapter, self.crawl_id, now))
            self._count_edges(adapter["host"], adapter.get("out_hosts") or ())
            if 200 <= adapter["status"] < 300:
                self.fetched_ok.add(adapter["url"])
            elif adapter["status"] >= 400:
                self.fetch_failed.add(adapter["url"])
        elif isinstance(item, FetchFailure):
            self.fetch_failed.add(item.url)
        elif isinstance(item, TargetCheck):
            self.target_checks[item.url] = (item.status, item.final_url)
        if len(self.buffer) >= self.config.batch_size:
            if not self.lock.locked:
                # Written in the background: the crawl goes on while a batch is stored.
                deferred_from_coro(self._flush())
            elif len(self.buffer) >= 4 * self.config.batch_size:
                # The database is not keeping up: hold this item until the batch in flight is
                # written, which slows the crawl (Scrapy's scraper backpressure) instead of
                # letting the buffer grow without bound.
                await self._flush()
        return item

    async def close_spider(self) -> None:
        if self.timer is not None and self.timer.running:
            self.timer.stop()
        await self._flush()
        if self.store is not None and time.monotonic() >= self.degraded_until:
            try:
                await maybe_deferred_to_future(threads.deferToThread(self._finish_crawl_writes))
            except PyMongoError as exc:
                logger.error("Could not update lost links and host edges: %s", exc)

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Last: the crawl's own record, with Scrapy's final stats, then let the store go."""
        if self.store is None:
            return
        stats = self._stats_doc()
        update = {
            "status": "finished" if reason == "finished" else reason,
            "finished_at": datetime.now(UTC),
            "stats": stats,
            "spilled": self.spill.count if self.spill else 0,
        }
        shared = self._shared()
        if shared is not None:
            # Each worker keeps its own record; the last one also writes the crawl's, with the
            # stats of all (the others wrote theirs before leaving).
            worker = {**update, "pid": os.getpid()}
            update = {f"workers.{_field(shared.worker)}": worker}
            if shared.is_last:
                others: list[dict[str, Any]] = []
                with contextlib.suppress(PyMongoError):
                    doc = self.store.db.crawls.find_one({"_id": self.crawl_id}, {"workers": 1})
                    workers = (doc or {}).get("workers") or {}
                    others = [w.get("stats") or {} for name, w in workers.items()
                              if name != _field(shared.worker)]  # fmt: skip
                update.update(status=worker["status"], finished_at=worker["finished_at"],
                              stats=merge_stats([stats, *others]),
                              worker_count=len(others) + 1)  # fmt: skip
        try:
            self.store.db.crawls.update_one({"_id": self.crawl_id}, {"$set": update})
        except PyMongoError as exc:
            logger.error("Could not record the end of crawl %s: %s", self.crawl_id, exc)
        if self.spill and self.spill.count:
            logger.warning(
                "%d writes could not reach MongoDB and wait in %s; the next run writes them in",
                self.spill.count,
                self.spill.path,
            )
        release_store(self.store)
        self.store = None

    def _stats_doc(self) -> dict[str, Any]:
        return {
            k.replace(".", "_").lstrip("$"): v for k, v in (self.stats.get_stats() or {}).items()
        }

    def _shared(self) -> Any:
        """This worker's part in a crawl shared through Redis (backlink_spider/frontier.py)."""
        return getattr(getattr(self.crawler, "spider", None), "shared", None)

    # -- writing --------------------------------------------------------------------------------

    def _timed_flush(self) -> defer.Deferred[None] | None:
        if not self.buffer or self.lock.locked:
            return None
        return deferred_from_coro(self._flush())

    async def _flush(self) -> None:
        await maybe_deferred_to_future(self.lock.acquire())
        try:
            batch, self.buffer = self.buffer, []
            if batch:
                await maybe_deferred_to_future(threads.deferToThread(self._write, batch))
        finally:
            self.lock.release()

    def _write(self, batch: list[Op]) -> None:
        """In a thread: write with retries and backoff; spill what still fails."""
        assert self.store is not None and self.spill is not None
        if time.monotonic() < self.degraded_until:
            self._spill(batch)
            return
        pending = batch
        delay = self.config.backoff
        for attempt in range(self.config.retries + 1):
            pending = self._try_write(pending)
            if not pending:
                if attempt:
                    logger.info("MongoDB writes succeeded again after %d retries", attempt)
                return
            if attempt < self.config.retries:
                self.stats.inc_value("backlinks/mongo/retries")
                time.sleep(delay)
                delay *= 2
        self._spill(pending)
        # Don't stall the crawl on every batch while the database is away; look again later.
        self.degraded_until = time.monotonic() + 30.0

    def _try_write(self, batch: list[Op]) -> list[Op]:
        """One attempt; returns the operations still to write."""
        assert self.store is not None
        failed: list[Op] = []
        by_collection: dict[str, list[Op]] = defaultdict(list)
        for entry in batch:
            by_collection[entry[0]].append(entry)
        for collection, entries in by_collection.items():
            try:
                requests = [UpdateOne(f, u, upsert=True) for _, f, u in entries]
                result = self.store.db[collection].bulk_write(requests, ordered=False)
                self.stats.inc_value(
                    f"backlinks/mongo/{collection}/upserted", result.upserted_count
                )
                self.stats.inc_value(f"backlinks/mongo/{collection}/written", len(entries))
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                bad = {e["index"] for e in errors if e.get("code") not in RETRYABLE_CODES}
                retry = {e["index"] for e in errors if e.get("code") in RETRYABLE_CODES}
                for index in sorted(bad):
                    self.stats.inc_value("backlinks/mongo/rejected")
                    logger.error(
                        "MongoDB rejected a %s write: %s",
                        collection,
                        next(e["errmsg"] for e in errors if e["index"] == index),
                    )
                failed.extend(entries[i] for i in sorted(retry))
                if exc.details.get("writeConcernErrors"):
                    failed.extend(e for i, e in enumerate(entries) if i not in bad | retry)
            except (AutoReconnect, ConnectionFailure) as exc:
                self._log_outage(exc)
                failed.extend(entries)
            except PyMongoError as exc:
                if getattr(exc, "code", None) in RETRYABLE_CODES or (
                    hasattr(exc, "has_error_label") and exc.has_error_label("RetryableWriteError")
                ):
                    self._log_outage(exc)
                    failed.extend(entries)
                else:
                    raise
        return failed

    def _log_outage(self, exc: Exception) -> None:
        logger.warning("MongoDB write failed, will retry: %s", str(exc).split("\n")[0][:200])

    def _spill(self, batch: list[Op]) -> None:
        assert self.spill is not None
        n = self.spill.write(batch)
        self.stats.inc_value("backlinks/mongo/spilled", n)
        if self.spill.count == n:
            logger.error("MongoDB is unreachable; writing to %s until it is back", self.spill.path)

    # -- end of crawl ---------------------------------------------------------------------------

    def _finish_crawl_writes(self) -> None:
        """Links gone from re-fetched pages become lost; host edges follow the pages' outlinks.

        Links of pages that failed become unverified (not lost), checked target URLs give their
        status to the links into them, and each link is marked reciprocal or not.
        """
        assert self.store is not None
        db = self.store.db
        shared = self._shared()
        # Another attempt or worker fetched part of this crawl: count from the store, not memory.
        resumed = getattr(getattr(self.crawler, "spider", None), "resumed", False)
        trust_memory = shared is None and not resumed
        if shared is not None:
            shared.deposit(self.fetch_failed, self.target_checks)
            db.crawls.update_one(
                {"_id": self.crawl_id},
                {"$set": {f"workers.{_field(shared.worker)}.stats": self._stats_doc()}},
            )
            if not shared.leave():
                logger.info("Crawl %s goes on in other workers: the last to finish marks lost "
                            "links, rebuilds host edges and scores", self.crawl_id)  # fmt: skip
                return
            self._read_back(shared)
        now = datetime.now(UTC)
        urls = sorted(self.fetched_ok)
        lost = 0
        for start in range(0, len(urls), 1000):
            result = db.backlinks.update_many(
                {
                    "source_url": {"$in": urls[start : start + 1000]},
                    "last_crawl_id": {"$ne": self.crawl_id},
                    "lost_at": None,
                    **self._watched_filter(),
                },
                {"$set": {"lost_at": now, "unverified_at": None}},
            )
            lost += result.modified_count
        self.stats.set_value("backlinks/mongo/lost", lost)
        self._mark_unverified(now)
        self._store_target_checks(now)
        self.stats.set_value(
            "backlinks/mongo/new", db.backlinks.count_documents({"first_crawl_id": self.crawl_id})
        )
        self._rebuild_host_edges(now, trust_memory=trust_memory)
        config = getattr(getattr(self.crawler, "spider", None), "config", None)
        if config is not None:  # scores the target's links and its competitors'
            mark_reciprocal(db, sorted(config.watched_domains))  # first: reasons and exports
            summary = score_on_close(self.store, config.target_domain, self.settings)
            if summary:
                scored = summary["backlinks"] + summary["competitor_backlinks"]
                self.stats.set_value("backlinks/score/scored", scored)

    def _read_back(self, shared: Any) -> None:
        """The last worker of a shared crawl: what all the workers fetched, from the store.

        Pages carry the crawl id; failed fetches and target checks were left in Redis.
        """
        assert self.store is not None
        pages = self.store.db.pages.find({"crawl_id": self.crawl_id}, {"status": 1, "host": 1})
        self.edges = {}
        for page in pages:
            self.edges.setdefault(page["host"], {})
            if 200 <= page["status"] < 300:
                self.fetched_ok.add(page["_id"])
            elif page["status"] >= 400:
                self.fetch_failed.add(page["_id"])
        fails, checks = shared.deposited()
        self.fetch_failed |= fails
        self.target_checks.update(checks)

    def _watched_filter(self) -> dict[str, Any]:
        """Only links this crawl looked for can be found gone: a crawl without a competitor
        never saw that competitor's links, and must not call them lost."""
        config = getattr(getattr(self.crawler, "spider", None), "config", None)
        if config is None:
            return {}
        return {"matched_domain": {"$in": sorted(config.watched_domains)}}

    def _mark_unverified(self, now: datetime) -> None:
        """Links of pages that failed in this crawl: not seen, not gone either; say so."""
        assert self.store is not None
        urls = sorted(self.fetch_failed - self.fetched_ok)
        unverified = 0
        for start in range(0, len(urls), 1000):
            result = self.store.db.backlinks.update_many(
                {
                    "source_url": {"$in": urls[start : start + 1000]},
                    "last_crawl_id": {"$ne": self.crawl_id},
                    "lost_at": None,
                    "unverified_at": None,
                    **self._watched_filter(),
                },
                {"$set": {"unverified_at": now}},
            )
            unverified += result.modified_count
        self.stats.set_value("backlinks/mongo/unverified", unverified)

    def _store_target_checks(self, now: datetime) -> None:
        """Each checked target URL's status onto every backlink pointing at it."""
        assert self.store is not None
        by_answer: dict[tuple[int, str], list[str]] = defaultdict(list)
        for url, answer in self.target_checks.items():
            by_answer[answer].append(url)
        broken = 0
        for (status, final_url), urls in by_answer.items():
            for start in range(0, len(urls), 1000):
                result = self.store.db.backlinks.update_many(
                    {"target_url": {"$in": urls[start : start + 1000]}},
                    {
                        "$set": {
                            "target_status": status,
                            "target_final_url": final_url or None,
                            "target_checked_at": now,
                        }
                    },
                )
                if status >= 400:
                    broken += result.matched_count
        self.stats.set_value("backlinks/mongo/broken", broken)

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

    def _rebuild_host_edges(self, now: datetime, *, trust_memory: bool = True) -> None:
        """Edges of each host fetched in this crawl, from all its stored pages.

        This process's pages were counted as they passed; only the host's pages that this crawl
        did not fetch again are read back, in one query. Without ``trust_memory`` other
        processes fetched part of this crawl (an earlier attempt of a resumed JOBDIR crawl, the
        other workers of a shared one): every stored page of the hosts this crawl fetched is
        read back. Edges not seen again are removed.
        """
        assert self.store is not None
        db = self.store.db
        skip_own: dict[str, Any] = {"crawl_id": {"$ne": self.crawl_id}}
        if not trust_memory:
            skip_own = {}
            hosts_before = db.pages.distinct("host", {"crawl_id": self.crawl_id})
            self.edges = {host: {} for host in {*self.edges, *hosts_before}}
        hosts = sorted(self.edges)
        for start in range(0, len(hosts), 500):
            older = db.pages.find(
                {"host": {"$in": hosts[start : start + 500]}, **skip_own},
                {"host": 1, "out_hosts": 1},
            )
            for page in older:
                edges = self.edges[page["host"]]
                for out in page.get("out_hosts") or ():
                    counts = edges.setdefault(out["host"], [0, 0, 0])
                    counts[0] += int(out.get("links", 0))
                    counts[1] += int(out.get("followed", 0))
                    counts[2] += 1
        ops = [
            UpdateOne(
                {"_id": f"{src}>{dst}"},
                {
                    "$set": {"src": src, "dst": dst, "links": n, "followed": followed,
                             "pages": pages, "last_seen": now},
                    "$setOnInsert": {"first_seen": now},
                },
                upsert=True,
            )
            for src in hosts
            for dst, (n, followed, pages) in self.edges[src].items()
        ]  # fmt: skip
        for start in range(0, len(ops), self.config.batch_size):
            db.host_edges.bulk_write(ops[start : start + self.config.batch_size], ordered=False)
        for start in range(0, len(hosts), 500):
            db.host_edges.delete_many(
                {"src": {"$in": hosts[start : start + 500]}, "last_seen": {"$lt": now}}
            )
        with contextlib.suppress(PyMongoError):
            self.stats.set_value("backlinks/mongo/host_edges", db.host_edges.count_documents({}))
