"""One crawl, several workers: a frontier shared through Redis (scrapy-redis), and its end.

``BACKLINKS_REDIS_URL`` switches it on: the add-on then makes scrapy-redis' scheduler (the
``SharedScheduler`` below, a thin subclass) and duplicate filter Scrapy's, so every worker
(processes on one machine, or Scrapyd nodes) pops from one request queue and every request is
fetched once by one of them. What scrapy-redis leaves to each project is done here:

- one crawl id for all the workers of a target: the first to arrive creates it, the others read
  it (``SharedCrawl.join``); every Redis key of the crawl carries it, so another crawl, or a
  later crawl of the same target, never meets this one's queue or seen requests;
- the crawl ends when no worker has anything in flight and the queue is empty, not when one
  worker's own view is idle (a worker that still parses a page may push more requests);
- nothing is cleared until the last worker leaves (scrapy-redis' ``SCHEDULER_PERSIST`` off
  would let the first worker to finish wipe the duplicate filter under the others);
- a worker that dies stops sending heartbeats and is forgotten after
  ``BACKLINKS_REDIS_WORKER_TIMEOUT``; every key expires that long after the last heartbeat, so
  a killed crawl leaves nothing behind that could filter the next one;
- the page budget, per-host caps and spider-trap counters are counted in Redis, so two workers
  spend one budget (``SharedCrawl.admission``: the rules are ``backlink_spider.admission``'s,
  applied by one generic script);
- the end of the crawl (``backlink_spider.finisher``) leaves the crawl: the last worker to
  leave finishes it for all, then removes its keys.

Time comes from the Redis server (``TIME``), so nodes with unsynchronised clocks agree.
Requests are pickled into Redis (scrapy-redis' serializer): the Redis server must be trusted.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Iterable
from typing import Any

import redis
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from backlink_spider.admission import AdmissionRules, SharedAdmission, shared_key
from backlink_spider.focus import focus_of, shared_priority
from backlink_spider.run import CrawlRun

logger = logging.getLogger(__name__)

KEY_PREFIX = "backlinks"
# The keys of one crawl, after its prefix. "workers": worker -> last heartbeat (server time);
# "busy": workers with work in flight; "requests"/"dupefilter": scrapy-redis' queue and seen
# requests; "seen"/"counts"/"prints": the spider's guards (URLs, counters, the text fingerprints
# of fetched pages per URL shape); "fails"/"checks": what the last worker needs;
# "inflight"/"refs"/"hops": redirect hops into the target (URLs admitted and not yet answered,
# pages of other workers that link them, and where answered hops land); "focus": each worker's
# estimates and host counts (backlink_spider/focus.py), for the last worker's coverage report.
CRAWL_KEYS = (
    "workers",
    "busy",
    "requests",
    "dupefilter",
    "seen",
    "counts",
    "prints",
    "fails",
    "checks",
    "inflight",
    "refs",
    "hops",
    "focus",
)
# Requests that stay with the worker that made them (a page read again: render.py).
_LOCAL_META = ("bl_render", "bl_render_failed")
TICK_SECONDS = 0.5  # how often a waiting worker looks at the queue; heartbeats every other tick

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
# Forget workers whose last heartbeat is older than ARGV[2] seconds.
_PURGE = """
local dead = redis.call('ZRANGEBYSCORE', P .. 'workers', '-inf', now - tonumber(ARGV[2]))
for _, w in ipairs(dead) do
  redis.call('ZREM', P .. 'workers', w)
  redis.call('SREM', P .. 'busy', w)
end
"""
# KEYS[1] pointer; ARGV: fresh id, worker, ttl, key prefix of the target -> the crawl id.
_JOIN = (
    _NOW
    + """
local id = redis.call('GET', KEYS[1]) or ARGV[1]
local P = ARGV[4] .. id .. ':'
redis.call('SET', KEYS[1], id, 'EX', ARGV[3])
redis.call('ZADD', P .. 'workers', now, ARGV[2])
redis.call('SADD', P .. 'busy', ARGV[2])
redis.call('EXPIRE', P .. 'workers', ARGV[3])
redis.call('EXPIRE', P .. 'busy', ARGV[3])
return id
"""
)
# KEYS[1] pointer; ARGV: worker, ttl, crawl key prefix, key names... -> 1 while a member.
_HEARTBEAT = (
    _NOW
    + """
local P = ARGV[3]
redis.call('ZADD', P .. 'workers', 'XX', now, ARGV[1])
local known = redis.call('ZSCORE', P .. 'workers', ARGV[1])
if known then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  for i = 4, #ARGV do redis.call('EXPIRE', P .. ARGV[i], ARGV[2]) end
  return 1
end
return 0
"""
)
# ARGV: worker, timeout, crawl key prefix -> {queued requests, other busy workers}.
_IDLE = (
    _NOW
    + """
local P = ARGV[3]
redis.call('SREM', P .. 'busy', ARGV[1])
"""
    + _PURGE
    + """
return {redis.call('ZCARD', P .. 'requests'), redis.call('SCARD', P .. 'busy')}
"""
)
# KEYS[1] pointer; ARGV: worker, timeout, crawl key prefix, crawl id -> 1 for the last worker.
_LEAVE = (
    _NOW
    + """
local P = ARGV[3]
redis.call('ZREM', P .. 'workers', ARGV[1])
redis.call('SREM', P .. 'busy', ARGV[1])
"""
    + _PURGE
    + """
if redis.call('ZCARD', P .. 'workers') > 0 then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[4] then redis.call('DEL', KEYS[1]) end
return 1
"""
)
# A page links URLs another worker admitted. KEYS: hops, inflight, refs. ARGV: url key, ref,
# url key, ref, ... -> per URL: where it lands if it is a known hop, "wait" when the ref is
# queued for the worker fetching it, or "" (answered, not a hop).
_REFER = """
local out = {}
for i = 1, #ARGV, 2 do
  local hop = redis.call('HGET', KEYS[1], ARGV[i])
  if hop then
    out[#out + 1] = hop
  elseif redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1 then
    local refs = redis.call('HGET', KEYS[3], ARGV[i]) or ''
    if #refs < 262144 then redis.call('HSET', KEYS[3], ARGV[i], refs .. ARGV[i + 1] .. '\\n') end
    out[#out + 1] = 'wait'
  else
    out[#out + 1] = ''
  end
end
return out
"""
# The worker that fetched a URL answers it. KEYS: hops, inflight, refs. ARGV: url key, where the
# hop lands ("" when not a hop) -> the refs other workers queued for it.
_RESOLVE = """
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('SREM', KEYS[2], ARGV[1])
local refs = redis.call('HGET', KEYS[3], ARGV[1]) or ''
redis.call('HDEL', KEYS[3], ARGV[1])
return refs
"""


def redis_client(settings: Any) -> redis.Redis:
    """The client scrapy-redis would build from the same settings (REDIS_URL, REDIS_PARAMS)."""
    from scrapy_redis.connection import get_redis_from_settings

    url = settings.get("BACKLINKS_REDIS_URL")
    params = {"REDIS_URL": url} if url else {}
    return get_redis_from_settings(_Overlay(settings, params))


class _Overlay:
    """Settings with a few values put on top, read through the ``get*`` calls scrapy-redis uses."""

    def __init__(self, settings: Any, values: dict[str, Any]):
        self.settings, self.values = settings, values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, self.settings.get(name, default))

    def getdict(self, name: str) -> dict[str, Any]:
        return self.settings.getdict(name)


class SharedCrawl:
    """This worker's membership of the crawl of one target, and the crawl's keys in Redis."""

    def __init__(
        self, server: redis.Redis, target: str, crawl_id: str, worker: str, timeout: float
    ):
        self.server = server
        self.target = target
        self.crawl_id = crawl_id
        self.worker = worker
        self.timeout = timeout
        self.ttl = max(1, round(timeout))
        self.left = False
        self.is_last = False
        self._member = True
        self._refer = server.register_script(_REFER)
        self._resolve = server.register_script(_RESOLVE)
        self._heartbeat = server.register_script(_HEARTBEAT)
        self._idle = server.register_script(_IDLE)
        self._leave = server.register_script(_LEAVE)

    @staticmethod
    def target_prefix(target: str) -> str:
        # {target} is a Redis Cluster hash tag: all the keys of a target live in one slot.
        return f"{KEY_PREFIX}:{{{target}}}:"

    @classmethod
    def join(cls, settings: Any, target: str, fresh_id: str) -> SharedCrawl:
        """Join the running crawl of ``target``, or start one with ``fresh_id``."""
        server = redis_client(settings)
        timeout = settings.getfloat("BACKLINKS_REDIS_WORKER_TIMEOUT", 30.0)
        worker = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        prefix = cls.target_prefix(target)
        crawl_id = server.register_script(_JOIN)(
            keys=[f"{prefix}crawl"], args=[fresh_id, worker, max(1, round(timeout)), prefix]
        )
        if isinstance(crawl_id, bytes):
            crawl_id = crawl_id.decode()
        shared = cls(server, target, str(crawl_id), worker, timeout)
        logger.info(
            "Worker %s %s crawl %s (Redis frontier)",
            worker,
            "starts" if crawl_id == fresh_id else "joins",
            crawl_id,
        )
        return shared

    @property
    def pointer(self) -> str:
        return f"{self.target_prefix(self.target)}crawl"

    @property
    def prefix(self) -> str:
        return f"{self.target_prefix(self.target)}{self.crawl_id}:"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    # -- admission ------------------------------------------------------------------------------

    def admission(self, rules: AdmissionRules, seed_domains: Iterable[str] = ()) -> SharedAdmission:
        """Admission counted in this crawl's Redis keys: every worker spends one budget."""
        keys = [self.key(name) for name in ("seen", "counts", "inflight", "prints")]
        return SharedAdmission(rules, self.server, keys, seed_domains)

    # -- redirect hops into the target, across workers -----------------------------------------

    def refer(self, refs: list[tuple[str, str]]) -> list[str]:
        """Pages of this worker link (canonical URL, serialized ref) that another worker
        admitted: per URL, where it lands if it is a known hop, "wait" (the ref is queued for
        the worker fetching it), or "" (not a hop)."""
        args = [part for url, ref in refs for part in (shared_key(url), ref)]
        try:
            answers = self._refer(
                keys=[self.key(k) for k in ("hops", "inflight", "refs")], args=args
            )
        except redis.RedisError as exc:  # a page is worth more than its hops' credit
            logger.warning("Redis: %s (redirect credit of a page lost)", exc)
            return [""] * len(refs)
        return [_text(a) for a in answers]

    def resolve(self, url: str, landed: str = "") -> list[str]:
        """This worker fetched ``url`` (a hop landing at ``landed``, or not a hop): the refs
        other workers queued for it, one per line."""
        try:
            refs = self._resolve(
                keys=[self.key(k) for k in ("hops", "inflight", "refs")],
                args=[shared_key(url), landed],
            )
        except redis.RedisError as exc:
            logger.warning("Redis: %s (redirect credit of other pages lost)", exc)
            return []
        return [line for line in _text(refs).split("\n") if line]

    # -- membership -----------------------------------------------------------------------------

    def heartbeat(self) -> None:
        if self.left:
            return
        alive = self._heartbeat(
            keys=[self.pointer], args=[self.worker, self.ttl, self.prefix, *CRAWL_KEYS]
        )
        if not alive and self._member:
            logger.warning(
                "Worker %s was taken for dead (no heartbeat for %.0f s): the other workers may "
                "finish crawl %s without it",
                self.worker,
                self.timeout,
                self.crawl_id,
            )
        self._member = bool(alive)

    def set_busy(self, busy: bool) -> None:
        if busy:
            self.server.sadd(self.key("busy"), self.worker)
        else:
            self.server.srem(self.key("busy"), self.worker)

    def idle(self) -> tuple[int, int]:
        """This worker has nothing in flight: (requests queued, workers still busy)."""
        queued, busy = self._idle(args=[self.worker, self.timeout, self.prefix])
        return int(queued), int(busy)

    def deposit(
        self,
        failed_urls: set[str],
        target_checks: dict[str, tuple[int, str]],
        focus: dict[str, Any] | None = None,
    ) -> None:
        """What only this worker knows and the last one needs: failed fetches, target checks,
        its focus's state."""
        pipe = self.server.pipeline(transaction=False)
        if focus is not None:
            pipe.hset(self.key("focus"), self.worker, json.dumps(focus, separators=(",", ":")))
            pipe.expire(self.key("focus"), self.ttl)
        if failed_urls:
            pipe.sadd(self.key("fails"), *sorted(failed_urls))
        if target_checks:
            pipe.hset(
                self.key("checks"),
                mapping={
                    url: f"{status}\t{final}" for url, (status, final) in target_checks.items()
                },
            )
        pipe.expire(self.key("fails"), self.ttl)
        pipe.expire(self.key("checks"), self.ttl)
        pipe.execute()

    def deposited(self) -> tuple[set[str], dict[str, tuple[int, str]], list[dict[str, Any]]]:
        """What every worker deposited (the other workers' focus states only)."""
        fails = {_text(u) for u in self.server.smembers(self.key("fails"))}
        checks: dict[str, tuple[int, str]] = {}
        for url, answer in self.server.hgetall(self.key("checks")).items():
            status, _, final = _text(answer).partition("\t")
            checks[_text(url)] = (int(status), final)
        focuses = [
            json.loads(_text(state))
            for worker, state in self.server.hgetall(self.key("focus")).items()
            if _text(worker) != self.worker
        ]
        return fails, checks, focuses

    def leave(self) -> bool:
        """Leave the crawl (once); True for the last worker, which then finishes the crawl."""
        if not self.left:
            self.left = True
            self.is_last = bool(
                self._leave(
                    keys=[self.pointer],
                    args=[self.worker, self.timeout, self.prefix, self.crawl_id],
                )
            )
        return self.is_last

    def cleanup(self) -> None:
        """The last worker is done: the crawl's keys go (they would expire anyway)."""
        self.server.delete(*(self.key(name) for name in CRAWL_KEYS))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class FocusedRedisQueue(PriorityQueue):
    """scrapy-redis' priority queue (one sorted set for all the workers), each request pushed
    at the focused order's priority (``backlink_spider.focus.shared_priority``)."""

    def push(self, request: Request) -> None:
        crawler = getattr(self.spider, "crawler", None)
        focus = focus_of(crawler) if crawler is not None else None
        data = self._encode_request(request)
        self.server.execute_command("ZADD", self.key, -shared_priority(focus, request), data)


class SharedScheduler(Scheduler):
    """scrapy-redis' scheduler, keyed per crawl, that closes a worker only when the crawl is done.

    A worker is "busy" from the moment it may pop a request until Scrapy finds it idle (nothing
    downloading, nothing being parsed): only then can it no longer push requests. It closes when
    it is idle, no other live worker is busy and the queue is empty; otherwise it waits
    (``DontCloseSpider``) and looks at the queue every ``TICK_SECONDS``.
    """

    crawler: Crawler
    shared: SharedCrawl | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        instance = super().from_crawler(crawler)
        instance.crawler = crawler
        crawler.signals.connect(instance._spider_idle, signal=signals.spider_idle)
        return instance

    def open(self, spider: Any) -> None:
        run = CrawlRun.get(self.crawler)
        shared = run.shared if run is not None else None
        if shared is None:
            super().open(spider)  # not the niche spider (scrapy shell…): scrapy-redis as it is
            return
        self.shared = shared
        self.queue_key = shared.key("requests")
        self.df = RFPDupeFilter(
            self.server,
            key=shared.key("dupefilter"),
            debug=self.crawler.settings.getbool("DUPEFILTER_DEBUG"),
        )
        self.busy = True  # start requests are on their way
        self.local: deque[Request] = deque()
        self.waking: Request | None = None
        self.ticks = 0
        super().open(spider)
        shared.heartbeat()
        self.ticker = task.LoopingCall(self._tick)
        self.ticker.start(TICK_SECONDS, now=False)

    def close(self, reason: str) -> None:
        if self.shared is None:
            super().close(reason)
            return
        if self.ticker.running:
            self.ticker.stop()  # the end of the crawl (CrawlFinisher) leaves the crawl

    def has_pending_requests(self) -> bool:
        return bool(self.shared and self.local) or super().has_pending_requests()

    def enqueue_request(self, request: Request) -> bool:
        if self.shared is not None and request is self.waking:
            self.waking = None
            self.local.append(request)  # already popped from Redis to wake the engine
            return True
        if self.shared is not None and any(k in request.meta for k in _LOCAL_META):
            # A page read again (in the browser, or raw after a failed render): the worker that
            # read it raw keeps what rendering taught it about the host (render.py).
            self.local.append(request)
            return True
        return super().enqueue_request(request)

    def next_request(self) -> Request | None:
        shared = self.shared
        if shared is None:
            return super().next_request()
        if self.local:
            return self.local.popleft()
        # Busy before popping: another worker deciding whether the crawl is over sees either
        # this worker busy or the request still queued, never neither.
        was_idle = not self.busy
        if was_idle:
            shared.set_busy(True)
            self.busy = True
        request = super().next_request()
        if request is None and was_idle:
            shared.set_busy(False)
            self.busy = False
        return request

    def _spider_idle(self, spider: Any = None) -> None:
        if self.shared is None:
            return
        self.busy = False
        queued, busy = self.shared.idle()
        if queued or busy:
            self.stats.inc_value("backlinks/frontier/idle_waits")
            raise DontCloseSpider

    def _tick(self) -> None:
        """Heartbeat; and a waiting worker acts as soon as the queue has work again, or the
        crawl is over (the engine itself would only look again within 5 s)."""
        assert self.shared is not None
        engine = self.crawler.engine
        try:
            self.ticks += 1
            if self.ticks % 2 == 0:
                self.shared.heartbeat()
            if self.busy or self.local or self.waking is not None or engine is None:
                return
            queued, busy = self.shared.idle()
            if queued:
                request = self.next_request()
                if request is not None:
                    # engine.crawl() runs the engine's next loop at once; enqueue_request keeps
                    # this request here rather than pushing it back.
                    self.waking = request
                    engine.crawl(request)
            elif not busy:
                # Idle here, nothing queued, nobody busy: what the engine would close on.
                deferred_from_coro(engine.close_spider_async(reason="finished"))
        except redis.RedisError as exc:
            logger.warning("Redis: %s", exc)
