"""The embedded default: one SecantusDB server per data directory, shared, stopped by the last."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scrapy.settings import Settings

from pipelines.store import acquire_store, mask_uri, release_store
from tests.conftest import ROOT

HOLDER = """
import sys
from scrapy.settings import Settings
from pipelines.store import acquire_store, release_store
store = acquire_store(Settings({"BACKLINKS_DATA_DIR": sys.argv[1], "MONGO_URI": ""}))
print(store.client.address[1], flush=True)
sys.stdin.readline()
release_store(store)
"""


def embedded(data_dir: Path) -> Settings:
    return Settings({"BACKLINKS_DATA_DIR": str(data_dir), "MONGO_URI": ""})


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # our own child that has exited is a zombie until reaped
        return os.waitpid(pid, os.WNOHANG)[0] != pid
    except ChildProcessError:
        return True


def wait_dead(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_embedded_store_keeps_data_and_stops_its_server(tmp_path: Path) -> None:
    store = acquire_store(embedded(tmp_path))
    store.db.backlinks.insert_one({"_id": "a", "anchor_text": "compost guide"})
    pid = json.loads((tmp_path / "server.json").read_text())["pid"]
    assert pid_alive(pid)
    release_store(store)
    assert wait_dead(pid), "the embedded server outlived its last user"
    assert not (tmp_path / "server.json").exists()

    store = acquire_store(embedded(tmp_path))
    try:
        assert store.db.backlinks.find_one({"_id": "a"})["anchor_text"] == "compost guide"
        names = {ix["name"] for ix in store.db.backlinks.list_indexes()}
        assert "matched_domain_1_last_seen_-1" in names
        store.db.backlinks.create_index("source_url")  # what an older version made
    finally:
        release_store(store)
    store = acquire_store(embedded(tmp_path))
    try:  # an index no query uses is dropped: every write paid for it
        names = {ix["name"] for ix in store.db.backlinks.list_indexes()}
        assert "source_url_1" not in names and "matched_domain_1_last_seen_-1" in names
    finally:
        release_store(store)


def test_processes_share_one_server_and_the_last_stops_it(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        their_port = int(holder.stdout.readline())
        store = acquire_store(embedded(tmp_path))
        assert store.client.address[1] == their_port  # joined, not a second server
        pid = json.loads((tmp_path / "server.json").read_text())["pid"]
        release_store(store)
        assert pid_alive(pid), "stopped while another process still used it"
        holder.communicate("\n", timeout=30)
        assert wait_dead(pid)


def test_a_killed_user_does_not_keep_the_server_forever(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        port = int(holder.stdout.readline())
        holder.send_signal(signal.SIGKILL)
    store = acquire_store(embedded(tmp_path))  # the orphaned server is found and reused
    assert store.client.address[1] == port
    pid = json.loads((tmp_path / "server.json").read_text())["pid"]
    release_store(store)
    assert wait_dead(pid)


def test_passwords_never_reach_logs() -> None:
    masked = mask_uri("mongodb://bob:s3cret@db.example:27017/x")
    assert masked == "mongodb://bob:***@db.example:27017/x"
    assert mask_uri("mongodb+srv://db.example/") == "mongodb+srv://db.example/"
