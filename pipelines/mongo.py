"""Items to MongoDB: buffered, idempotent bulk writes off the reactor thread, nothing lost.

Every write is an upsert keyed by a stable ``_id`` whose update (an aggregation pipeline where it
reads the stored document) applied twice in one crawl changes nothing, so a rerun only moves
``last_seen`` and the per-crawl counters. That makes retries, and the replay of a spill file,
safe. A write also carries the whole document as it is when its ``_id`` is new: a batch inserts
those first and upserts only the ones already stored (duplicate key), because an insert costs
the embedded server about a third of an upsert and most of a first crawl's writes are new.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from bson import json_util
from itemadapter import ItemAdapter
from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, BulkWriteError, ConnectionFailure, PyMongoError
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import defer, task, threads

from backlink_spider.items import Backlink, PageRecord
from backlink_spider.run import CrawlRun
from backlink_spider.vocabulary import (
    EXTERNAL_LINKS,
    GONE_CRAWLS,
    GONE_STATUSES,
    PAGE_CRAWL_ID,
    PAGE_DIGEST,
    PAGE_VISITS,
    SOURCE,
    VISIT_FIELDS,
    encode_out_hosts,
)
from pipelines.normalize import backlink_id
from pipelines.store import Store, acquire_store, data_dir_of, in_groups, release_store

logger = logging.getLogger(__name__)

# Server error codes worth another try: not primary, shutting down, interrupted, network, dup
# key from two concurrent upserts of the same new _id.
RETRYABLE_CODES = {6, 7, 89, 91, 189, 262, 9001, 10107, 11000, 11600, 11602, 13435, 13436}

BACKLINK_FIELDS = (
    "source_url",
    "target_url",
    "anchor_text",
    "rel",
    "nofollow",
    "link_type",
    "position",
    "context",
    "occurrences",
    "source_title",
    "source_status",
    "is_competitor_link",
    "matched_domain",
    "via_url",
    "source_host",
    "source_domain",
    "target_host",
    "target_domain",
)
PAGE_FIELDS = (
    "url",
    "status",
    "title",
    "lang",
    "terms",
    "outlinks_total",
    "nofollow",
    "rendered",
    "is_target",
    "is_seed",
    "hop",
    "host",
    "domain",
)


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
            data_dir=data_dir_of(settings),
        )


def _lit(value: Any) -> dict[str, Any]:
    """Page content inside a pipeline update: a string starting with ``$`` must stay a string."""
    return {"$literal": value}


DUPLICATE_KEY = 11000


class Op(NamedTuple):
    """A pending write, kept plain so it can be spilled as JSON (without ``fresh``)."""

    collection: str
    filter: dict[str, Any]
    update: Any
    fresh: dict[str, Any] | None = None  # the document when its _id is new: what upsert makes


def backlink_op(adapter: ItemAdapter, crawl_id: str, seen: datetime) -> Op:
    values = {name: adapter.get(name) for name in BACKLINK_FIELDS}
    fields = {name: _lit(value) for name, value in values.items()}
    source = adapter.get(SOURCE)  # what led the crawl there: kept once known (vocabulary)
    values[SOURCE] = source
    update = [
        {
            "$set": {
                **fields,
                SOURCE: _lit(source) if source else {"$ifNull": [f"${SOURCE}", None]},
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
    key = {"_id": backlink_id(adapter["source_url"], adapter["target_url"])}
    fresh = {
        **key,
        **values,
        "first_seen": seen,
        "first_crawl_id": crawl_id,
        "seen_count": 1,
        "last_crawl_id": crawl_id,
        "last_seen": seen,
        "lost_at": None,
        "unverified_at": None,
    }
    return Op("backlinks", key, update, fresh)


def page_op(adapter: ItemAdapter, crawl_id: str, fetched: datetime) -> Op:
    """Plain update operators: values under ``$set`` are literal, and cheaper for the server."""
    fields = {name: adapter.get(name) for name in PAGE_FIELDS}
    # Built by hand: ItemAdapter.asdict() inspects every value and was most of this call's cost.
    out = adapter.get("out_hosts") or ()
    fields["out_hosts"] = encode_out_hosts(out)  # one string: see vocabulary.out_hosts_of
    fields[EXTERNAL_LINKS] = sum(int(h.links) for h in out)
    fields[PAGE_DIGEST] = hashlib.blake2b(
        repr(tuple(fields.values())).encode(), digest_size=12
    ).hexdigest()
    key = {"_id": adapter["url"]}
    gone = adapter["status"] in GONE_STATUSES
    fresh = {
        **key,
        **fields,
        GONE_CRAWLS: 1 if gone else 0,
        "crawl_id": crawl_id,
        "fetched_at": fetched,
        "first_fetched": fetched,
    }
    if gone:
        return Op("pages", key, _gone_page_update(fields, crawl_id, fetched), fresh)
    update = {
        "$set": {**fields, GONE_CRAWLS: 0, "crawl_id": crawl_id, "fetched_at": fetched},
        "$setOnInsert": {"first_fetched": fetched},
        "$unset": {"text": ""},  # what an older version kept of the page: its terms now
    }
    return Op("pages", key, update, fresh)


def _gone_page_update(fields: dict[str, Any], crawl_id: str, fetched: datetime) -> list[Any]:
    """A 404/410 page counts the consecutive crawls it was gone in (once per crawl, however
    often this crawl writes it); the expressions read the page as it was stored before."""
    was_gone = {"$in": [{"$ifNull": ["$status", 0]}, list(GONE_STATUSES)]}
    before = {"$cond": [was_gone, {"$ifNull": [f"${GONE_CRAWLS}", 1]}, 0]}
    gone = {
        "$cond": [
            {"$eq": ["$crawl_id", crawl_id]},
            {"$ifNull": [f"${GONE_CRAWLS}", 1]},
            {"$add": [before, 1]},
        ]
    }
    return [
        {
            "$set": {
                **{name: _lit(value) for name, value in fields.items()},
                GONE_CRAWLS: gone,
                "crawl_id": crawl_id,
                "fetched_at": fetched,
                "first_fetched": {"$ifNull": ["$first_fetched", fetched]},
            }
        },
        {"$unset": "text"},
    ]


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
            for op in ops:
                line = {"c": op.collection, "f": op.filter, "u": op.update}
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
    """Writes items, nothing else: buffered, unordered bulk upserts of backlinks and pages.

    Target checks and failed fetches are not stored as documents; the end of the crawl
    (``backlink_spider.finisher.CrawlFinisher``) applies them to the stored links.
    """

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
        run = CrawlRun.get(crawler)
        self.crawl_id = run.crawl_id if run else datetime.now(UTC).strftime("crawl-%Y%m%dT%H%M%S")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MongoPipeline:
        return cls(crawler)

    # -- lifecycle ------------------------------------------------------------------------------

    def open_spider(self) -> None:
        self.store = acquire_store(self.settings)
        replayed = replay_spills(self.store, self.config.data_dir, self.config.batch_size)
        if replayed:
            self.stats.set_value("backlinks/mongo/replayed", replayed)
        self.spill = _Spill(self.config.data_dir, self.store.config.database, self.crawl_id)
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
        if isinstance(item, Backlink):
            self.buffer.append(backlink_op(ItemAdapter(item), self.crawl_id, now))
        elif isinstance(item, PageRecord):
            self.buffer.append(page_op(ItemAdapter(item), self.crawl_id, now))
        else:
            return item
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
        self.release()

    def release(self) -> None:
        """Let the store go; say where writes that could not be stored wait."""
        if self.spill and self.spill.count:
            logger.warning(
                "%d writes could not reach MongoDB and wait in %s; the next run writes them in",
                self.spill.count,
                self.spill.path,
            )
        if self.store is not None:
            release_store(self.store)
            self.store = None

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
        failed: list[Op] = []
        by_collection: dict[str, list[Op]] = defaultdict(list)
        for op in batch:
            by_collection[op.collection].append(op)
        for collection, ops in by_collection.items():
            new = [op for op in ops if op.fresh is not None]
            stored = [op for op in ops if op.fresh is None]
            inserted = 0
            if new:
                inserted, present, retry = self._attempt(collection, new, insert=True)
                stored.extend(present)
                failed.extend(retry)
            if collection == "pages" and stored:
                stored, visits, revisited = self._unchanged_pages(stored)
                if visits:
                    _, _, retry = self._attempt(PAGE_VISITS, visits, insert=False)
                    failed.extend(retry)
                if revisited:
                    self._forget_visits(revisited)
            if stored:
                upserted, _, retry = self._attempt(collection, stored, insert=False)
                inserted += upserted
                failed.extend(retry)
            self.stats.inc_value(f"backlinks/mongo/{collection}/upserted", inserted)
        return failed

    def _unchanged_pages(self, ops: list[Op]) -> tuple[list[Op], list[Op], list[str]]:
        """Split writes of pages already stored: (the pages to write: new content, a gone
        status, a document of an older version; the visits that stand for the pages found as
        they were, ``vocabulary.PAGE_VISITS``; the pages to write that an older crawl stored,
        whose visits the write replaces). A page this crawl stored already needs nothing.
        When the stored digests cannot be read, every page is written."""
        assert self.store is not None
        digests = {
            op.filter["_id"]: op.update["$set"][PAGE_DIGEST]
            for op in ops
            if isinstance(op.update, dict) and op.update["$set"]["status"] not in GONE_STATUSES
        }
        stored: dict[str, dict[str, Any]] = {}
        try:
            for urls in in_groups(sorted(digests)):
                query = {"_id": {"$in": list(urls)}}
                for found in self.store.db.pages.find(query, {PAGE_DIGEST: 1, PAGE_CRAWL_ID: 1}):
                    stored[found["_id"]] = found
        except PyMongoError:
            return ops, [], []
        write: list[Op] = []
        visits: list[Op] = []
        revisited: list[str] = []
        for op in ops:
            url = op.filter["_id"]
            doc = stored.get(url)
            if doc is None or doc.get(PAGE_DIGEST) != digests.get(url):
                write.append(op)
                if doc is not None and doc.get(PAGE_CRAWL_ID) != self.crawl_id:
                    revisited.append(url)
            elif doc.get(PAGE_CRAWL_ID) != self.crawl_id:
                page = op.update["$set"]
                visit = {name: page[name] for name in VISIT_FIELDS}
                visit.update({PAGE_CRAWL_ID: self.crawl_id, "fetched_at": page["fetched_at"]})
                visits.append(Op(PAGE_VISITS, {"_id": url}, {"$set": visit}))
        self.stats.inc_value("backlinks/mongo/pages/unchanged", len(ops) - len(write))
        return write, visits, revisited

    def _forget_visits(self, urls: list[str]) -> None:
        """The visits of ``urls``, whose documents this crawl rewrites: its document names the
        crawl now, and a page is counted once."""
        assert self.store is not None
        visits = self.store.db[PAGE_VISITS]
        try:
            for group in in_groups(urls):
                visits.delete_many({"_id": {"$in": list(group)}})
        except PyMongoError as exc:  # counted twice in the figures until the next crawl
            logger.warning("Could not update this crawl's page visits: %s", exc)

    def _attempt(
        self, collection: str, ops: list[Op], *, insert: bool
    ) -> tuple[int, list[Op], list[Op]]:
        """Insert (the new documents) or upsert ``ops``: (documents created, operations whose
        _id was already stored, operations to try again)."""
        assert self.store is not None
        coll = self.store.db[collection]
        try:
            if insert:
                docs = [op.fresh for op in ops if op.fresh is not None]
                created = len(coll.insert_many(docs, ordered=False).inserted_ids)
            else:
                requests = [UpdateOne(op.filter, op.update, upsert=True) for op in ops]
                created = coll.bulk_write(requests, ordered=False).upserted_count
            self._written(collection, len(ops))
            return created, [], []
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            present = {e["index"] for e in errors if insert and e.get("code") == DUPLICATE_KEY}
            retry = {e["index"] for e in errors if e.get("code") in RETRYABLE_CODES} - present
            bad = {e["index"] for e in errors} - present - retry
            for index in sorted(bad):
                self.stats.inc_value("backlinks/mongo/rejected")
                logger.error(
                    "MongoDB rejected a %s write: %s",
                    collection,
                    next(e["errmsg"] for e in errors if e["index"] == index),
                )
            done = [i for i in range(len(ops)) if i not in present | retry | bad]
            if exc.details.get("writeConcernErrors"):
                retry.update(done)
            else:
                self._written(collection, len(done))
            created = len(done) if insert else int(exc.details.get("nUpserted", 0))
            return created, [ops[i] for i in sorted(present)], [ops[i] for i in sorted(retry)]
        except (AutoReconnect, ConnectionFailure) as exc:
            self._log_outage(exc)
            return 0, [], ops
        except PyMongoError as exc:
            if getattr(exc, "code", None) in RETRYABLE_CODES or (
                hasattr(exc, "has_error_label") and exc.has_error_label("RetryableWriteError")
            ):
                self._log_outage(exc)
                return 0, [], ops
            raise

    def _written(self, collection: str, n: int) -> None:
        if n:
            self.stats.inc_value(f"backlinks/mongo/{collection}/written", n)

    def _log_outage(self, exc: Exception) -> None:
        logger.warning("MongoDB write failed, will retry: %s", str(exc).split("\n")[0][:200])

    def _spill(self, batch: list[Op]) -> None:
        assert self.spill is not None
        n = self.spill.write(batch)
        self.stats.inc_value("backlinks/mongo/spilled", n)
        if self.spill.count == n:
            logger.error("MongoDB is unreachable; writing to %s until it is back", self.spill.path)
