"""Real servers for the tests: a SecantusDB (MongoDB wire protocol) server, the synthetic web.

Crawls run as ``scrapy crawl`` subprocesses, as a user runs them, through the synthetic web's
proxy; assertions read what a user would see: stored documents, feed lines, exit status, stderr.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo
import pytest
import redis

from pipelines.store import server_argv

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MongoServer:
    uri: str
    port: int
    proc: subprocess.Popen[bytes]
    storage: Path

    def client(self) -> pymongo.MongoClient[dict[str, Any]]:
        return pymongo.MongoClient(self.uri, tz_aware=True, serverSelectionTimeoutMS=5000)


def start_secantus(storage: Path, *, test_commands: bool = True) -> MongoServer:
    port = free_port()
    argv = server_argv(port, storage)
    if test_commands:
        argv.append("--enable-test-commands")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with pymongo.MongoClient(uri, serverSelectionTimeoutMS=300) as client:
                client.admin.command("ping")
            return MongoServer(uri, port, proc, storage)
        except pymongo.errors.PyMongoError:
            if proc.poll() is not None:
                raise RuntimeError("secantusd-py exited at start") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("secantusd-py did not answer in 30 s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    server = start_secantus(tmp_path_factory.mktemp("secantus"))
    yield server
    stop_process(server.proc)


@pytest.fixture
def mongo_db(mongo_server: MongoServer) -> Iterator[tuple[str, Any]]:
    """A fresh database on the shared server: (name, pymongo Database)."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    client = mongo_server.client()
    yield name, client[name]
    client.drop_database(name)
    client.close()


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def feed(self, path: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# Where the commands the tests run keep their data unless a test says where: never the user's own
# data directory (BACKLINKS_DATA_DIR, or ~/.local/share/backlinks).
TEST_DATA_HOME = Path(tempfile.mkdtemp(prefix="backlinks-tests-"))
atexit.register(shutil.rmtree, TEST_DATA_HOME, ignore_errors=True)


def scrapy_env(proxy: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a command a test runs: no proxy, MongoDB or data directory of the
    user's, the data in ``TEST_DATA_HOME`` (``BACKLINKS_DATA_DIR=""`` and ``XDG_DATA_HOME``:
    the per-user default under it); ``extra`` wins."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower()
        not in {
            "http_proxy",
            "https_proxy",
            "no_proxy",
            "all_proxy",
            "mongo_uri",
            "mongo_database",
            "backlinks_data_dir",
        }
    }
    env["XDG_DATA_HOME"] = str(TEST_DATA_HOME / "xdg")
    env["BACKLINKS_DATA_DIR"] = str(TEST_DATA_HOME / "data")
    if proxy:
        env.update(http_proxy=proxy, https_proxy=proxy)
    env.update(extra)
    return env


# Politeness delays make sense on the web, not against a loopback server answering in µs.
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_START_DELAY=0.01", "-s", "RETRY_TIMES=0"]


def run_scrapy(
    args: list[str], env: dict[str, str], *, cwd: Path = ROOT, timeout: float = 180
) -> Run:
    """``scrapy …`` as a user types it, in the project directory."""
    scrapy = shutil.which("scrapy") or sys.executable
    argv = [scrapy, *args] if scrapy.endswith("scrapy") else [scrapy, "-m", "scrapy", *args]
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def backlinks_argv(args: list[str]) -> list[str]:
    """``backlinks …``, the installed command (``[project.scripts]``), as a user types it."""
    exe = Path(sysconfig.get_path("scripts")) / "backlinks"
    found = str(exe) if exe.exists() else shutil.which("backlinks")
    assert found, "the backlinks command is not installed: pip install -e ."
    return [found, *args]


def run_backlinks(args: list[str], env: dict[str, str], *, cwd: Path, timeout: float = 180) -> Run:
    """``backlinks …`` run in ``cwd`` (a directory of the user's, not the checkout)."""
    proc = subprocess.run(
        backlinks_argv(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on loopback, for the shared frontier and its admission."""
    exe = shutil.which("redis-server")
    assert exe, "redis-server is not installed: apt-get install redis-server (as .ci/run does)"
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield url
    client.close()
    stop_process(proc)


@pytest.fixture(scope="session")
def profile(mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two crawls of a changing web, shared by the link-profile and report tests (read only)."""
    from tests.profile_web import two_crawls

    yield from two_crawls(mongo_server, tmp_path_factory)
