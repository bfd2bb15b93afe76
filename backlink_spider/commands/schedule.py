"""``scrapy schedule``: recurring crawls, kept in MongoDB, started on Scrapyd when they fall due.

The schedules are APScheduler jobs in its MongoDB job store (collection ``schedules``, in the
project's database), so they survive restarts and any machine that reaches the store can add or
remove one. ``scrapy schedule run`` is the one long-running process: APScheduler wakes it when a
schedule is due, and it queues the crawl on Scrapyd through the HTTP API (``schedule.json``) with
the same arguments ``scrapy crawl niche`` takes. A schedule whose previous crawl of the same
target is still pending or running on Scrapyd skips that turn, logged and counted, instead of
stacking a second crawl of one site. Counters and the last job live in ``schedule_state``.

APScheduler is imported only when a subcommand needs it: Scrapy imports every command module on
each ``scrapy`` call, including the Scrapyd job runner's, where the library need not be installed.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from backlink_spider.cli import fail
from backlink_spider.config import ArgumentError, CrawlConfig
from backlink_spider.scrapyd import SPIDER, Scrapyd, ScrapydError
from backlink_spider.urls import UrlError, get_resolver, parse_target
from pipelines.store import Store, StoreError, acquire_store, release_store
from pipelines.target_profile import TargetProfile, add_to_profile, load_profile

logger = logging.getLogger(__name__)

SCHEDULES = "schedules"  # APScheduler's job store
STATE = "schedule_state"  # per schedule: fired/skipped/failed counters, last job, last outcome
FIRE = "backlink_spider.commands.schedule:fire"  # stored by name in every schedule
SUBCOMMANDS = ("add", "list", "remove", "run")
ADD_OPTIONS = ("every", "seeds", "keywords", "competitors", "depth", "max_pages", "setting", "id")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EVERY_RE = re.compile(r"(\d+)\s*([smhdw])")


def parse_every(text: str) -> int:
    """Seconds in ``7d``, ``12h``, ``1d12h``, ``30m``, ``2w``, ``90s``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _EVERY_RE.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ArgumentError(f"--every takes a duration like 7d, 12h, 1d12h or 30m, not {text!r}")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds < 1:
        raise ArgumentError("--every must be at least 1s")
    return seconds


def format_every(seconds: int) -> str:
    out = []
    for unit in "wdhms":
        size = _UNITS[unit]
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out) or "0s"


def _domain_of(target: Any) -> str | None:
    try:
        return parse_target(str(target or ""), get_resolver())[1]
    except UrlError:
        return None


def _as_option(match: re.Match[str]) -> str:
    """``-a seeds=`` in a crawl argument's message is ``--seeds`` here."""
    return f"--{match.group(1).replace('_', '-')} "


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


PROFILE_ARGS = ("seeds", "competitors", "keywords")  # a scheduled crawl reads them from the profile
_EMPTY = TargetProfile("")


def _profile_args(profile: dict[str, Any]) -> dict[str, str]:
    """The profile's seeds, competitors and keywords as crawl arguments (for ``args_summary``)."""
    return {name: ",".join(profile.get(name) or ()) for name in PROFILE_ARGS if profile.get(name)}


def args_summary(args: dict[str, Any]) -> str:
    """The crawl arguments in a few words, for tables."""
    seeds = [s for s in str(args.get("seeds") or "").split(",") if s.strip()]
    words = [f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}" if seeds else "default seeds"]
    if args.get("depth") not in (None, ""):
        words.append(f"depth {args['depth']}")
    if args.get("max_pages") not in (None, ""):
        words.append(f"max {args['max_pages']} pages")
    for name in ("competitors", "keywords"):
        values = [v for v in str(args.get(name) or "").split(",") if v.strip()]
        if values:
            words.append(f"{len(values)} {name if len(values) != 1 else name[:-1]}")
    return ", ".join(words)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


# -- APScheduler --------------------------------------------------------------------------------


def _job_store(store: Store) -> Any:
    """APScheduler's MongoDB job store on our connection, which it must not close on shutdown."""
    from apscheduler.jobstores.mongodb import MongoDBJobStore

    class SharedClientJobStore(MongoDBJobStore):
        def shutdown(self) -> None:
            """The client belongs to pipelines.store; release_store closes it."""

    return SharedClientJobStore(
        database=store.config.database, collection=SCHEDULES, client=store.client
    )


def _scheduler_options() -> dict[str, Any]:
    return {
        "timezone": UTC,
        # One crawl per turn however late the scheduler wakes (it was down, the machine slept),
        # never two firings of one schedule at once, and a missed turn still runs when it can.
        "job_defaults": {"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    }


@contextmanager
def editing(store: Store) -> Iterator[Any]:
    """A scheduler that reads and writes the job store and never runs a job (add, list, remove)."""
    from apscheduler.schedulers.base import BaseScheduler

    class EditingScheduler(BaseScheduler):
        def wakeup(self) -> None:
            """Nothing runs here: ``scrapy schedule run`` picks the change up when it wakes."""

        def shutdown(self, wait: bool = True) -> None:
            """Abstract in BaseScheduler; stopping the (idle) executors is all there is."""
            super().shutdown(wait=wait)

    scheduler = EditingScheduler(jobstores={"default": _job_store(store)}, **_scheduler_options())
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


# -- firing -------------------------------------------------------------------------------------


class Runner:
    """What a firing needs in the ``schedule run`` process: Scrapyd, the store, one lock."""

    def __init__(self, scrapyd: Scrapyd, store: Store):
        self.scrapyd = scrapyd
        self.store = store
        # Two schedules of one target due together: the check and the queueing go one at a time.
        self.lock = threading.Lock()

    def busy_job(self, domain: str, last_job: str | None) -> tuple[str, str] | None:
        """(job id, state) of a pending or running niche crawl of this target on Scrapyd."""
        jobs = self.scrapyd.jobs()
        for job in jobs.get("pending", []):
            if job.get("spider") != SPIDER:
                continue
            if job.get("id") == last_job or _domain_of(job.get("args", {}).get("target")) == domain:
                return str(job["id"]), "pending"
        running = [str(j["id"]) for j in jobs.get("running", []) if j.get("spider") == SPIDER]
        if last_job in running:
            return str(last_job), "running"
        if running:
            # A crawl queued by hand (schedule.json) is known by the job id its crawl record keeps.
            crawl = self.store.db.crawls.find_one(
                {"job": {"$in": running}, "target": domain}, {"job": 1}
            )
            if crawl is not None:
                return str(crawl["job"]), "running"
        return None

    def fire(
        self, schedule_id: str, domain: str, args: dict[str, str], settings: dict[str, str]
    ) -> None:
        with self.lock:
            try:
                state = self.store.db[STATE].find_one({"_id": schedule_id}) or {}
                busy = self.busy_job(domain, state.get("last_job"))
                if busy is not None:
                    job, job_state = busy
                    logger.warning(
                        "Schedule %s: the crawl of %s is still %s on Scrapyd (job %s); "
                        "not starting another",
                        schedule_id,
                        domain,
                        job_state,
                        job,
                    )
                    self._record(schedule_id, "skipped", f"job {job} still {job_state}")
                    return
                job = self.scrapyd.schedule(args, settings)
            except (ScrapydError, PyMongoError) as exc:
                reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
                logger.error(
                    "Schedule %s: could not queue the crawl of %s: %s", schedule_id, domain, reason
                )
                self._record(schedule_id, "failed", reason)
                return
            logger.info(
                "Schedule %s: queued a crawl of %s on Scrapyd, job %s", schedule_id, domain, job
            )
            self._record(schedule_id, "fired", f"job {job}", job)

    def _record(self, schedule_id: str, outcome: str, message: str, job: str | None = None) -> None:
        now = datetime.now(UTC)
        update: dict[str, Any] = {
            "$inc": {outcome: 1},
            "$set": {"last_outcome": outcome, "last_at": now, "last_message": message[:300]},
        }
        if job is not None:
            update["$set"].update(last_job=job, last_fired_at=now)
        try:
            self.store.db[STATE].update_one({"_id": schedule_id}, update, upsert=True)
        except PyMongoError as exc:
            logger.error("Schedule %s: could not record the outcome: %s", schedule_id, exc)


_runner: Runner | None = None


def fire(
    schedule_id: str, domain: str, args: dict[str, str], settings: dict[str, str], **_: Any
) -> None:
    """Called by APScheduler (by its stored name) when a schedule is due."""
    if _runner is None:
        logger.error("Schedule %s fell due outside `scrapy schedule run`; ignored", schedule_id)
        return
    _runner.fire(schedule_id, domain, args, settings)


def _heartbeat() -> None:
    """A short internal job: wakes the scheduler so schedules added elsewhere are seen."""


# -- the command --------------------------------------------------------------------------------


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "INFO"}

    def syntax(self) -> str:
        return "add TARGET --every 7d --seeds ... | list | remove ID | run"

    def short_desc(self) -> str:
        return "Recurring crawls on Scrapyd: add, list, remove schedules; run the scheduler"

    def long_desc(self) -> str:
        return (
            "Schedules live in MongoDB. `scrapy schedule run` (one per store) queues each crawl "
            "on Scrapyd when due; a target whose previous crawl still runs skips its turn."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        group = parser.add_argument_group(title="add")
        group.add_argument("--every", metavar="DURATION", help="how often: 7d, 12h, 1d12h, 30m")
        group.add_argument("--seeds", metavar="SITES", help="seed sites (comma-separated or file)")
        group.add_argument("--keywords", metavar="WORDS", help="niche keywords, comma-separated")
        group.add_argument("--competitors", metavar="DOMAINS", help="competitor domains")
        group.add_argument("--depth", metavar="N", help="site hops beyond the seeds")
        group.add_argument("--max-pages", metavar="N", help="page budget of each crawl")
        group.add_argument(
            "--setting",
            metavar="NAME=VALUE",
            action="append",
            default=[],
            help="a Scrapy setting for each crawl (Scrapyd's setting=); may be repeated",
        )
        group.add_argument("--id", metavar="ID", help="the schedule's name (default: the target)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args or args[0] not in SUBCOMMANDS:
            raise UsageError(f"give one of: {', '.join(SUBCOMMANDS)}", print_help=False)
        action, rest = args[0], args[1:]
        expected = {"add": 1, "remove": 1, "list": 0, "run": 0}[action]
        if len(rest) != expected:
            what = {"add": "one target", "remove": "one schedule id"}.get(action, "no arguments")
            raise UsageError(f"schedule {action} takes {what}", print_help=False)
        if action != "add":
            given = [o for o in ADD_OPTIONS if getattr(opts, o)]
            if given:
                raise UsageError(
                    f"--{given[0].replace('_', '-')} is for schedule add", print_help=False
                )
        assert self.settings is not None
        if action == "add":
            self._add(rest[0], opts)
        elif action == "list":
            self._list()
        elif action == "remove":
            self._remove(rest[0])
        else:
            self._run()

    # -- add ------------------------------------------------------------------------------------

    def _crawl_arguments(self, target: str, opts: argparse.Namespace) -> tuple[dict, CrawlConfig]:
        """The spider arguments as ``scrapy crawl niche -a`` takes them, checked the same way
        (the seeds apart: they may come from the target's profile)."""
        assert self.settings is not None
        args = {"target": target}
        for name in ("seeds", "keywords", "competitors", "depth", "max_pages"):
            value = getattr(opts, name)
            if value is not None and str(value).strip():
                args[name] = str(value).strip()
        try:
            config = CrawlConfig.from_args(self.settings, args, require_seeds=False)
        except ArgumentError as exc:
            fail(re.sub(r"-a (seeds|keywords|competitors|depth|max_pages)=", _as_option, str(exc)))
        return args, config

    def _into_profile(self, store: Store, config: CrawlConfig) -> dict[str, Any]:
        """The given seeds, competitors and keywords join the target's profile, which each
        scheduled crawl reads when it runs: a seed removed from the profile later is not
        crawled again. Returns the profile's fields for the command's message."""
        assert self.settings is not None
        try:
            profile = add_to_profile(
                store.db,
                config.target_domain,
                seeds=config.given_seeds,
                competitors=config.competitors,
                keywords=config.keywords,
            )
        except PyMongoError as exc:
            fail(f"could not store the profile: {str(exc).splitlines()[0][:200]}", code=1)
        if not profile.seeds and not self.settings.getlist("BACKLINKS_SEEDS"):
            fail(
                f"no seed sites for {config.target_domain}: give --seeds a.com,b.org (or a file "
                "with one per line); they join the target's profile"
            )
        return profile.describe()

    def _add(self, target: str, opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if not opts.every:
            fail("give --every, e.g. --every 7d")
        try:
            seconds = parse_every(opts.every)
        except ArgumentError as exc:
            fail(str(exc))
        args, config = self._crawl_arguments(target, opts)
        settings: dict[str, str] = {}
        for item in opts.setting:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                fail(f"--setting takes NAME=VALUE, not {item!r}")
            settings[name.strip()] = value
        schedule_id = (opts.id or config.target_domain).strip()
        if not re.fullmatch(r"[\w.@:-]{1,100}", schedule_id):
            fail(f"bad schedule id {schedule_id!r}: letters, digits and . _ - @ : only")
        scrapyd = self._scrapyd()
        try:
            scrapyd.check()
        except ScrapydError as exc:
            fail(str(exc), code=1)
        from apscheduler.jobstores.base import ConflictingIdError

        every = format_every(seconds)
        with self._store() as store, editing(store) as scheduler:
            profile = self._into_profile(store, config)
            args = {k: v for k, v in args.items() if k not in PROFILE_ARGS}
            try:
                scheduler.add_job(
                    FIRE,
                    trigger="interval",
                    seconds=seconds,
                    id=schedule_id,
                    name=f"crawl {config.target_domain} every {every}",
                    kwargs={
                        "schedule_id": schedule_id,
                        "domain": config.target_domain,
                        "args": args,
                        "settings": settings,
                        "every": every,
                    },
                    next_run_time=datetime.now(UTC),  # the first crawl as soon as it runs
                )
            except ConflictingIdError:
                fail(f"a schedule {schedule_id!r} exists: remove it first, or give --id", code=1)
            except PyMongoError as exc:
                fail(f"could not store the schedule: {str(exc).splitlines()[0][:200]}", code=1)
            store.db[STATE].delete_one({"_id": schedule_id})  # a reused id starts from zero
        print(
            f"schedule {schedule_id}: crawl {config.target_domain} every {every} "
            f"({args_summary({**args, **_profile_args(profile)})}) on Scrapyd at {scrapyd.url}, "
            f"project {scrapyd.project}; the first when `scrapy schedule run` is running; "
            f"seeds, competitors and keywords from the target's profile (scrapy target "
            f"{config.target_domain})"
        )

    # -- list, remove ---------------------------------------------------------------------------

    def _list(self) -> None:
        with self._store() as store, editing(store) as scheduler:
            try:
                jobs = scheduler.get_jobs()
                states = {d["_id"]: d for d in store.db[STATE].find()}
                profiles = {
                    job.kwargs.get("domain"): _profile_args(
                        (load_profile(store.db, job.kwargs.get("domain", "")) or _EMPTY).describe()
                    )
                    for job in jobs
                }
            except PyMongoError as exc:
                fail(f"reading the schedules failed: {str(exc).splitlines()[0][:200]}", code=1)
        if not jobs:
            print(
                "no schedules (add one: scrapy schedule add site.com --every 7d --seeds ...)",
                file=sys.stderr,
            )
            return
        rows = []
        for job in jobs:
            kw = job.kwargs
            state = states.get(job.id, {})
            last = state.get("last_outcome")
            rows.append(
                [
                    job.id,
                    kw.get("domain", "?"),
                    kw.get("every", "?"),
                    _when(job.next_run_time),
                    f"{last} {_when(state.get('last_at'))}" if last else "-",
                    str(state.get("fired", 0)),
                    str(state.get("skipped", 0)),
                    str(state.get("failed", 0)),
                    state.get("last_job") or "-",
                    args_summary({**kw.get("args", {}), **profiles.get(kw.get("domain"), {})}),
                ]
            )
        print_table(
            [
                "ID",
                "TARGET",
                "EVERY",
                "NEXT (UTC)",
                "LAST (UTC)",
                "FIRED",
                "SKIPPED",
                "FAILED",
                "LAST JOB",
                "ARGUMENTS",
            ],
            rows,
        )

    def _remove(self, schedule_id: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        with self._store() as store, editing(store) as scheduler:
            try:
                scheduler.remove_job(schedule_id)
            except JobLookupError:
                fail(f"no schedule {schedule_id!r} (scrapy schedule list shows them)", code=1)
            store.db[STATE].delete_one({"_id": schedule_id})
        print(f"schedule {schedule_id} removed (a crawl it started keeps running)")

    # -- run ------------------------------------------------------------------------------------

    def _run(self) -> None:
        """The scheduler process: runs until SIGINT or SIGTERM."""
        global _runner
        assert self.settings is not None
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.blocking import BlockingScheduler
        from scrapy.utils.log import configure_logging

        configure_logging(self.settings)
        if str(self.settings.get("LOG_LEVEL")).upper() != "DEBUG":
            logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per firing is ours
        scrapyd = self._scrapyd()
        try:
            scrapyd.check()
        except ScrapydError as exc:
            fail(str(exc), code=1)
        refresh = self.settings.getfloat("BACKLINKS_SCHEDULE_REFRESH", 30.0)
        with self._store() as store:
            scheduler = BlockingScheduler(
                jobstores={"default": _job_store(store), "internal": MemoryJobStore()},
                executors={"default": ThreadPoolExecutor(4)},
                **_scheduler_options(),
            )
            # APScheduler sleeps until its next known due time; schedules added or removed by
            # another process are seen when it wakes, so it wakes at least this often.
            scheduler.add_job(
                _heartbeat,
                "interval",
                seconds=max(0.1, refresh),
                id="backlinks-heartbeat",
                jobstore="internal",
            )
            try:
                count = store.db[SCHEDULES].count_documents({})
            except PyMongoError as exc:
                fail(f"reading the schedules failed: {str(exc).splitlines()[0][:200]}", code=1)
            _runner = Runner(scrapyd, store)
            # Both, explicitly: started in the background, a process inherits SIGINT ignored.
            stop_signals = (signal.SIGINT, signal.SIGTERM)
            previous = {s: signal.signal(s, _interrupt) for s in stop_signals}
            logger.info(
                "Scheduler running: %d schedule(s) in MongoDB at %s (database %s); crawls go to "
                "Scrapyd at %s, project %s. Stop with Ctrl-C.",
                count,
                store.display_uri,
                store.config.database,
                scrapyd.url,
                scrapyd.project,
            )
            try:
                scheduler.start()
            except KeyboardInterrupt:
                pass
            finally:
                # A second Ctrl-C must not cut the shutdown short: firings in flight end (each
                # is a few HTTP calls with a timeout), then the store is let go.
                for signum in stop_signals:
                    signal.signal(signum, signal.SIG_IGN)
                if scheduler.running:
                    scheduler.shutdown(wait=True)
                _runner = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        logger.info("Scheduler stopped")

    # -- helpers --------------------------------------------------------------------------------

    def _scrapyd(self) -> Scrapyd:
        try:
            return Scrapyd.from_settings(self.settings)
        except ScrapydError as exc:
            fail(str(exc), code=1)

    @contextmanager
    def _store(self) -> Iterator[Store]:
        try:
            store = acquire_store(self.settings)
        except StoreError as exc:
            fail(str(exc), code=1)
        try:
            yield store
        finally:
            release_store(store)


def _interrupt(signum: int, frame: Any) -> None:
    """SIGINT and SIGTERM stop the scheduler the way Ctrl-C does."""
    raise KeyboardInterrupt
