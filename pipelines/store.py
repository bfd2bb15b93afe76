"""The MongoDB store: connection, the embedded default server, indexes.

``MONGO_URI`` set: that server (real MongoDB is the production path). Unset: SecantusDB, a
MongoDB wire-protocol server over WiredTiger, run as a separate process on a free loopback port
with its files under ``BACKLINKS_DATA_DIR``. WiredTiger locks its directory, so one server serves
one data directory: a process first looks for a live server of that directory (``server.json``
that answers ``ping``) and shares it; each user holds a lease file, and the last one out stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import pymongo
from pymongo import ASCENDING, DESCENDING, WriteConcern
from pymongo.database import Database
from pymongo.errors import PyMongoError

logger = logging.getLogger(__name__)

COLLECTIONS = ("targets", "backlinks", "pages", "page_visits", "hosts", "host_edges", "crawls")

INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "backlinks": [
        [("matched_domain", ASCENDING), ("last_seen", DESCENDING)],
        [("last_crawl_id", ASCENDING)],
        [("first_crawl_id", ASCENDING)],
    ],
    "pages": [[("domain", ASCENDING)], [("host", ASCENDING)], [("crawl_id", ASCENDING)]],
    "page_visits": [[("crawl_id", ASCENDING)]],
    "host_edges": [[("src", ASCENDING)]],
    "hosts": [[("target", ASCENDING), ("site_trust", DESCENDING)]],
    "crawls": [[("target", ASCENDING), ("started_at", DESCENDING)]],
}
# SecantusDB matches a query's ``$in`` list by walking it for every document it reads (about
# 1 µs an element: 100 hosts a query made 0.12 ms a page read, 16 made 0.03): a query that
# reads many documents asks for this many values at a time.
IN_GROUP = 32
T = TypeVar("T")


def in_groups(items: Sequence[T], size: int = IN_GROUP) -> Iterator[Sequence[T]]:
    """``items`` a query's ``$in`` asks for at a time (``IN_GROUP``)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Indexes an older version made that no query uses: every write of a link paid for them (the
# embedded server updates each index of a document it rewrites, its scores too).
RETIRED_INDEXES = {"backlinks": ("source_url_1", "source_domain_1")}

# Servers this process started, kept so they can be reaped (and so Popen never warns that a
# server it started outlives it: that is the design when another process still uses it).
_children: dict[int, subprocess.Popen[bytes]] = {}

_PASSWORD_RE = re.compile(r"(?<=://)([^:/@]+):([^@/]*)@")


class StoreError(Exception):
    """The store cannot be reached or started; the message is one line a user can act on."""


def mask_uri(uri: str) -> str:
    """The URI with its password replaced, for logs and error messages."""
    return _PASSWORD_RE.sub(r"\1:***@", uri)


def data_dir_of(settings: Any) -> Path:
    """The one data directory (embedded server, spill files), whatever the current directory:
    ``BACKLINKS_DATA_DIR`` (a relative one from where the command runs), else the per-user data
    directory of the platform (``~/.local/share/backlinks``, or ``$XDG_DATA_HOME/backlinks``,
    on Linux), so a shell, the installed ``backlinks`` and Scrapyd jobs of one user share it."""
    given = settings.get("BACKLINKS_DATA_DIR") or platformdirs.user_data_dir("backlinks")
    return Path(given).expanduser().resolve()


@dataclass(frozen=True)
class StoreConfig:
    uri: str
    database: str
    data_dir: Path
    command: str = "secantusd-py"
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: Any) -> StoreConfig:
        return cls(
            uri=(settings.get("MONGO_URI") or "").strip(),
            database=settings.get("MONGO_DATABASE") or "backlinks",
            data_dir=data_dir_of(settings),
            command=settings.get("BACKLINKS_EMBEDDED_COMMAND") or "secantusd-py",
            timeout=settings.getfloat("BACKLINKS_MONGO_TIMEOUT", 5.0),
        )

    @property
    def embedded(self) -> bool:
        return not self.uri


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine runs under ``pid`` (one we may not signal does; a
    pid no process can have is not known to be gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _ping(uri: str, timeout: float) -> bool:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000)
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def server_argv(port: int, storage: Path, executable: str = "secantusd-py") -> list[str]:
    """The command line of a SecantusDB server on loopback ``port`` over ``storage``.

    ``--standalone``: nothing of ours reads an oplog (no change streams, no replicas, no
    transactions), and as a one-node replica set the server writes an oplog entry (the whole
    document) for every write: about 15% of its CPU in a crawl, and 56 MB of churn on disk in a
    100,000-page recrawl even capped at 1,000 entries.
    """
    return [
        executable,
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--storage-path", str(storage), "--log-level", "WARNING"),
        "--standalone",
    ]


class EmbeddedServer:
    """One SecantusDB server per data directory, shared by every process that uses it."""

    def __init__(self, data_dir: Path, command: str = "secantusd-py", timeout: float = 20.0):
        self.data_dir = data_dir
        self.command = command
        self.timeout = timeout
        self.state_file = data_dir / "server.json"
        self.lease_dir = data_dir / "leases"
        self.log_file = data_dir / "server.log"
        self.uri = ""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "server.lock").open("a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) and "port" in state else None

    def acquire(self) -> str:
        """Start or join the server of this data directory; returns its URI."""
        with self._locked():
            state = self._read_state()
            if state and pid_alive(int(state.get("pid", 0))):
                uri = self._uri(int(state["port"]))
                if _ping(uri, 2.0):
                    self._add_lease()
                    self.uri = uri
                    return uri
                # Alive but not answering: a wedged server would keep the directory locked.
                self._terminate(int(state["pid"]))
            self.uri = self._start()
            self._add_lease()
            return self.uri

    def release(self) -> None:
        """Drop our lease; the last user stops the server so nothing is left running."""
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                (self.lease_dir / str(os.getpid())).unlink()
            if self._live_leases():
                return
            state = self._read_state()
            if state:
                self._terminate(int(state.get("pid", 0)))
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()

    def _uri(self, port: int) -> str:
        return f"mongodb://127.0.0.1:{port}/?directConnection=true"

    def _add_lease(self) -> None:
        self.lease_dir.mkdir(parents=True, exist_ok=True)
        (self.lease_dir / str(os.getpid())).write_text("")

    def _live_leases(self) -> list[int]:
        live = []
        for lease in self.lease_dir.glob("*"):
            pid = int(lease.name) if lease.name.isdigit() else 0
            if pid and pid_alive(pid):
                live.append(pid)
            else:
                with contextlib.suppress(FileNotFoundError):
                    lease.unlink()
        return live

    def _start(self) -> str:
        executable = shutil.which(self.command)
        if executable is None:
            raise StoreError(
                f"the embedded MongoDB server '{self.command}' is not installed "
                "(pip install SecantusDB), and MONGO_URI is not set"
            )
        storage = self.data_dir / "db"
        storage.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # the free port can be taken between probe and bind
            port = _free_port()
            with self.log_file.open("ab") as log:
                proc = subprocess.Popen(
                    server_argv(port, storage, executable),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a Ctrl-C to the crawl must not kill the store
                )
            _children[proc.pid] = proc
            uri = self._uri(port)
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if _ping(uri, 0.5):
                    self.state_file.write_text(json.dumps({"pid": proc.pid, "port": port}))
                    logger.info(
                        "Started the embedded MongoDB server (pid %d) on %s for %s",
                        proc.pid,
                        uri,
                        self.data_dir,
                    )
                    return uri
                time.sleep(0.1)
            self._terminate(proc.pid)
            last_error = self._log_tail()
        raise StoreError(
            f"the embedded MongoDB server did not start in {self.data_dir}: "
            f"{last_error or 'no answer'} (log: {self.log_file})"
        )

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:200] if lines else ""

    @staticmethod
    def _terminate(pid: int) -> None:
        if pid <= 0 or not pid_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.05)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child = _children.pop(pid, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(5)


class Store:
    """A connected database with our indexes; one per process and configuration."""

    def __init__(self, config: StoreConfig):
        self.config = config
        self.server: EmbeddedServer | None = None
        uri = config.uri
        if config.embedded:
            self.server = EmbeddedServer(config.data_dir, config.command)
            try:
                uri = self.server.acquire()
            except OSError as exc:  # a data directory that cannot be made or written
                raise StoreError(
                    f"cannot use the data directory {config.data_dir}: {exc.strerror or exc} "
                    "(set BACKLINKS_DATA_DIR to a writable directory)"
                ) from exc
        self.display_uri = mask_uri(uri)
        try:
            self.client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
                uri,
                tz_aware=True,
                serverSelectionTimeoutMS=int(config.timeout * 1000),
                connectTimeoutMS=int(config.timeout * 1000),
                appname="backlinks",
            )
            self.client.admin.command("ping")
        except (PyMongoError, ValueError) as exc:
            self._release_server()
            reason = str(exc).split(",")[0].split("\n")[0][:160]
            raise StoreError(f"cannot reach MongoDB at {self.display_uri}: {reason}") from exc
        # Journaled acknowledgement: a write we were told is stored survives the server being
        # killed (SecantusDB, like mongod with j:false, loses the last acknowledged writes on
        # SIGKILL otherwise). A URI that says otherwise (journal=false) wins.
        concern = self.client.write_concern.document
        if "j" not in concern:
            concern = {**concern, "j": True}
        self.db: Database[dict[str, Any]] = self.client.get_database(
            config.database, write_concern=WriteConcern(**concern)
        )
        self._refs = 0

    @property
    def location(self) -> str:
        """Where the data is, as summaries show it: the embedded server's data directory, or
        the MongoDB URI (without its password) and database."""
        if self.config.embedded:
            return str(self.config.data_dir)
        return f"{self.display_uri}, database {self.config.database}"

    def ensure_indexes(self) -> None:
        for name, indexes in INDEXES.items():
            for keys in indexes:
                self.db[name].create_index(keys)
        for name, retired in RETIRED_INDEXES.items():
            present = {ix["name"] for ix in self.db[name].list_indexes()}
            for index in sorted(present & set(retired)):
                self.db[name].drop_index(index)

    def close(self) -> None:
        self.client.close()
        self._release_server()

    def _release_server(self) -> None:
        if self.server is not None:
            self.server.release()
            self.server = None


_open: dict[StoreConfig, Store] = {}


def acquire_store(settings: Any) -> Store:
    """The process's store for these settings, connected, indexes made; pair with release."""
    config = StoreConfig.from_settings(settings)
    store = _open.get(config)
    if store is None:
        store = Store(config)
        try:
            store.ensure_indexes()
        except PyMongoError as exc:
            store.close()
            raise StoreError(f"cannot prepare MongoDB at {store.display_uri}: {exc}") from exc
        _open[config] = store
    store._refs += 1
    return store


def open_store(settings: Any) -> Store | None:
    """The store this process already holds for these settings, or None: for a component
    that may read the store but must never be the one that starts a server."""
    return _open.get(StoreConfig.from_settings(settings))


def release_store(store: Store) -> None:
    store._refs -= 1
    if store._refs <= 0:
        _open.pop(store.config, None)
        store.close()
