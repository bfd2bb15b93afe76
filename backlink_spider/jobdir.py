"""Pause and resume with Scrapy's ``JOBDIR``: one crawl identity across attempts, kill-safe.

Scrapy keeps the request queue (``requests.queue/``) and the seen-request fingerprints
(``requests.seen``) in the job directory, but they are consistent only once the spider has
closed: the queue's state (``active.json``, each queue's ``info.json``) is written at close, and
``requests.seen`` is a buffered file. After a SIGKILL a plain resume finds no queue and most of
its seeds "already seen", and ends at once with a partial crawl.

So a job file of ours, written atomically, says which crawl the directory belongs to and whether
its last attempt stopped cleanly:

* ``running`` when an attempt starts; ``stopped`` (resumable) or ``finished`` when it closes,
  after Scrapy has written its queue and the spider its own bookkeeping (``STATE_FILE``).
* A new attempt of a ``stopped`` job resumes Scrapy's queue under the same crawl id.
* A ``running`` job was killed: Scrapy's files cannot be trusted, so they are removed and the
  frontier starts again from the seeds under the same crawl id. Pages already stored are fetched
  again and updated in place (every write is an idempotent upsert; ``seen_count`` counts a crawl
  once, not an attempt).
* A ``finished`` job's directory starts a new crawl.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

JOB_FILE = "backlinks-job.json"
STATE_FILE = "backlinks-state.json"
# What Scrapy keeps in a job directory (scheduler, dupefilter, SpiderState extension).
SCRAPY_FILES = ("requests.queue", "requests.seen", "spider.state")

RESUME_NONE = ""  # a new crawl
RESUME_QUEUE = "queue"  # Scrapy's queue and our bookkeeping, as the last attempt left them
RESUME_SEEDS = "seeds"  # the last attempt was killed: same crawl, frontier from the seeds


class JobMismatch(ValueError):
    """The job directory belongs to a crawl with other arguments."""


@dataclass
class Job:
    """One crawl's identity in a job directory, and how this attempt starts."""

    path: Path
    crawl_id: str
    describe: dict[str, Any]
    attempt: int = 1
    resume: str = RESUME_NONE
    state: dict[str, Any] = field(default_factory=dict)  # the spider's, for RESUME_QUEUE

    @property
    def pending(self) -> int:
        """Requests Scrapy's queue held when the last attempt stopped."""
        return int(self.state.get("pending") or 0)  # None: another scheduler's queue

    def _write(self, status: str, **extra: Any) -> None:
        write_json_atomic(
            self.path / JOB_FILE,
            {
                "crawl_id": self.crawl_id,
                "describe": self.describe,
                "attempt": self.attempt,
                "status": status,
                **extra,
            },
        )

    def close(self, reason: str, state: dict[str, Any]) -> None:
        """At spider close, after Scrapy wrote its queue: the state first, then the verdict."""
        if reason == "finished":
            with contextlib.suppress(FileNotFoundError):
                (self.path / STATE_FILE).unlink()
            self._write("finished", reason=reason)
            return
        write_json_atomic(self.path / STATE_FILE, {"crawl_id": self.crawl_id, **state})
        self._write("stopped", reason=reason)


def write_json_atomic(path: Path, data: Any) -> None:
    """Readers see the old file or the new one, never half of one, even after a kill."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def _as_json(data: dict[str, Any]) -> dict[str, Any]:
    """As it reads back from the file (tuples become lists)."""
    return dict(json.loads(json.dumps(data)))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        logger.warning("Ignoring the unreadable %s", path)
        return None
    return data if isinstance(data, dict) else None


def reset_frontier(path: Path) -> bool:
    """Remove Scrapy's queue and seen requests; True if there was anything to remove."""
    removed = False
    for name in (*SCRAPY_FILES, STATE_FILE):
        target = path / name
        if target.is_dir():
            shutil.rmtree(target)
            removed = True
        elif target.exists():
            target.unlink()
            removed = True
    return removed


def check_job(path: Path, describe: dict[str, Any]) -> None:
    """Raise JobMismatch if the directory holds an unfinished crawl with other arguments."""
    saved = _read_json(path / JOB_FILE)
    if saved is None or saved.get("status") == "finished":
        return
    if saved.get("describe") != _as_json(describe):
        raise JobMismatch(
            f"JOBDIR {path} holds the unfinished crawl {saved.get('crawl_id')} of other "
            "arguments: resume it with the same arguments, or use another JOBDIR"
        )


def open_job(path: Path, describe: dict[str, Any], new_crawl_id: Callable[[], str]) -> Job:
    """The crawl this attempt belongs to; prepares Scrapy's files for it before Scrapy opens them.

    Must run before the scheduler opens (the spider is built first, so its constructor will do).
    """
    path.mkdir(parents=True, exist_ok=True)
    describe = _as_json(describe)
    check_job(path, describe)
    saved = _read_json(path / JOB_FILE)
    status = saved.get("status") if saved else None
    if saved is None or status == "finished":
        job = Job(path, new_crawl_id(), describe)
        if reset_frontier(path):
            logger.info(
                "JOBDIR %s held %s; starting the new crawl %s from its seeds",
                path,
                "a finished crawl" if saved else "no crawl of ours",
                job.crawl_id,
            )
    else:
        job = Job(path, str(saved["crawl_id"]), describe, attempt=int(saved["attempt"]) + 1)
        state = _read_json(path / STATE_FILE) if status == "stopped" else None
        if state is not None and state.get("crawl_id") == job.crawl_id:
            job.resume, job.state = RESUME_QUEUE, state
            logger.info(
                "Resuming crawl %s (attempt %d) from JOBDIR %s", job.crawl_id, job.attempt, path
            )
        else:
            restart_from_seeds(
                job,
                f"Crawl {job.crawl_id} did not stop cleanly (killed?): Scrapy's queue in "
                f"JOBDIR {path} is not usable",
            )
    job._write("running")
    return job


def restart_from_seeds(job: Job, why: str) -> None:
    """Before the scheduler opens: drop Scrapy's files; the crawl id stays."""
    reset_frontier(job.path)
    job.resume, job.state = RESUME_SEEDS, {}
    logger.warning(
        "%s; attempt %d starts again from the seeds under the same crawl id (pages already "
        "stored are fetched again and updated in place)",
        why,
        job.attempt,
    )


def warn_rewritten_feeds(job: Job, feeds: dict[Any, Any], target: str) -> None:
    """A feed that ``-O`` overwrites gets only this attempt's backlinks: the earlier attempts'
    are in the store, not in the file. Said once, with what does keep them all."""
    if job.resume != RESUME_QUEUE:  # from the seeds: every page is fetched, and written, again
        return
    for uri, options in feeds.items():
        if isinstance(options, dict) and options.get("overwrite"):
            logger.warning(
                "Crawl %s resumes (attempt %d): -O rewrites %s with this attempt's backlinks "
                "only; use -o %s to append to what the earlier attempts wrote, or "
                "`scrapy export %s -O %s` for the whole crawl",
                job.crawl_id,
                job.attempt,
                uri,
                uri,
                target,
                uri,
            )


def pack_keys(keys: Iterable[int]) -> str:
    """A set of 64-bit URL keys as compact text: 8 bytes a URL, base64."""
    return base64.b64encode(array("Q", sorted(keys)).tobytes()).decode("ascii")


def unpack_keys(text: str) -> set[int]:
    keys = array("Q")
    keys.frombytes(base64.b64decode(text))
    return set(keys)


# Parts whose saved state stays true when Scrapy's queue is lost: where redirect hops land.
KEPT_ON_REQUEUE = frozenset({"hops"})


class Stateful(Protocol):
    """A part of the crawl's bookkeeping that a JOBDIR attempt saves and the next restores."""

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...

    def reset(self) -> None: ...


class Attempt:
    """This attempt of a JOBDIR job, for the spider: the saved state of its parts is restored
    when the spider is built, Scrapy's queue is checked once it is open, and everything is saved
    when the spider closes (after Scrapy wrote its queue)."""

    def __init__(self, job: Job, parts: dict[str, Stateful]):
        self.job = job
        self.parts = parts
        # Set when a resumed job's queue turns out empty: the dupefilter then holds URLs that
        # were never fetched, and admission's own seen keys are what keeps requests unique.
        self.dont_filter = False
        self.queued_at_start: int | None = None  # requests in Scrapy's queue at start

    def restore(self) -> None:
        job = self.job
        if job.resume != RESUME_QUEUE:
            return
        try:
            self.dont_filter = bool(job.state.get("dont_filter"))
            for name, part in self.parts.items():
                part.restore(job.state[name])
        except (KeyError, TypeError, ValueError) as exc:
            restart_from_seeds(job, f"Unreadable saved state ({exc!r})")
            self.dont_filter = False
            for part in self.parts.values():
                part.reset()

    def check_queue(self, queued: int | None, stats: Any, crawl_id: str) -> None:
        """A resumed job must find the queue it left; if not, its frontier starts again.

        ``queued`` is what Scrapy's scheduler holds now (None: another scheduler's queue)."""
        job = self.job
        self.queued_at_start = queued
        stats.set_value("backlinks/jobdir/attempt", job.attempt)
        if job.resume == RESUME_SEEDS:
            stats.set_value("backlinks/jobdir/restarted_from_seeds", 1)
        if job.resume != RESUME_QUEUE or queued is None:
            return
        if queued == 0 and job.pending:
            logger.warning(
                "Crawl %s stopped with %d requests queued, but Scrapy's queue in JOBDIR is empty: "
                "attempt %d starts again from the seeds under the same crawl id",
                crawl_id,
                job.pending,
                job.attempt,
            )
            stats.set_value("backlinks/jobdir/restarted_from_seeds", 1)
            for name, part in self.parts.items():
                if name not in KEPT_ON_REQUEUE:
                    part.reset()
            self.dont_filter = True  # the dupefilter remembers the lost requests
        else:
            logger.info(
                "Crawl %s: attempt %d continues with %d queued requests",
                crawl_id,
                job.attempt,
                queued,
            )

    def save(self, reason: str, stats: Any) -> None:
        pending = None
        if self.queued_at_start is not None:
            pending = (
                self.queued_at_start
                + stats.get_value("scheduler/enqueued/disk", 0)
                - stats.get_value("scheduler/dequeued/disk", 0)
            )
        state = {name: part.state() for name, part in self.parts.items()}
        self.job.close(reason, {"pending": pending, "dont_filter": self.dont_filter, **state})
