"""Nothing the project sends to MongoDB would break on a sharded cluster (hashed ``_id``).

SecantusDB is not a sharded cluster, so this test records what a real crawl, a re-crawl of a
changed web, scoring, export, prospects and the report send over the wire (pymongo's command
monitoring, in the very processes a user runs) and checks each command against what ``mongos``
requires of a collection sharded on ``{_id: "hashed"}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from backlink_spider.demoweb.server import WebServer
from tests.conftest import FAST, ROOT, scrapy_env
from tests.profile_web import RIVAL, TARGET, build_web

# Runs `scrapy ...` with a command listener that appends each command's shape to a file.
RECORDER = """
import json, sys
from pymongo import monitoring

out = open(sys.argv[1], "a", encoding="utf-8")

class Recorder(monitoring.CommandListener):
    def started(self, event):
        cmd = event.command
        record = {"name": event.command_name, "txn": "startTransaction" in cmd}
        if event.command_name == "update":
            record["ops"] = [
                {"q": sorted(u["q"]), "upsert": bool(u.get("upsert")),
                 "multi": bool(u.get("multi"))}
                for u in cmd["updates"]
            ]
        elif event.command_name == "delete":
            record["ops"] = [{"q": sorted(d["q"]), "limit": d["limit"]} for d in cmd["deletes"]]
        elif event.command_name == "createIndexes":
            record["unique"] = [i["key"] for i in cmd["indexes"] if i.get("unique")]
        elif event.command_name == "aggregate":
            record["stages"] = [next(iter(stage)) for stage in cmd["pipeline"]]
        elif event.command_name == "findAndModify":
            record["q"] = sorted(cmd.get("query", {}))
        out.write(json.dumps(record, default=str) + "\\n")
        out.flush()

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

monitoring.register(Recorder())
from scrapy.cmdline import execute
sys.argv = ["scrapy", *sys.argv[2:]]
execute()
"""

# Commands a sharded cluster refuses, or that need an unsharded collection.
UNSHARDED_ONLY = {
    "mapReduce",
    "eval",
    "$eval",
    "group",
    "geoNear",
    "renameCollection",
    "applyOps",
    "copydb",
    "cloneCollection",
    "convertToCapped",
}


def _scrapy(log: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RECORDER, str(log), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_every_command_of_a_crawl_and_its_reports_works_on_a_sharded_cluster(
    mongo_server: Any, mongo_db: tuple[str, Any], tmp_path: Path
) -> None:
    name, db = mongo_db
    log = tmp_path / "commands.jsonl"
    crawl = [
        "crawl",
        "niche",
        "-a",
        f"target={TARGET}",
        "-a",
        "seeds=hub.test",
        "-a",
        f"competitors={RIVAL}",
        *FAST,
    ]
    with WebServer(build_web(changed=False)) as server:
        env = scrapy_env(
            server.proxy_url,
            MONGO_URI=mongo_server.uri,
            MONGO_DATABASE=name,
            BACKLINKS_DATA_DIR=str(tmp_path / "data"),
        )
        runs = [_scrapy(log, env, *crawl)]
        server.swap(build_web(changed=True))  # links lost and added: the end-of-crawl updates
        runs.append(_scrapy(log, env, *crawl, "-s", "DOWNLOAD_TIMEOUT=1"))
    for args in (
        ["score", TARGET],
        ["export", TARGET, "-O", str(tmp_path / "out.jsonl")],
        ["prospects", TARGET, "-O", str(tmp_path / "p.jsonl")],
        ["report", TARGET, "-o", str(tmp_path / "report.html")],
    ):
        runs.append(_scrapy(log, env, *args))
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    assert db.backlinks.count_documents({"lost_at": {"$ne": None}}) >= 1

    commands = [json.loads(line) for line in log.read_text().splitlines()]
    names = {c["name"] for c in commands}
    assert {"update", "createIndexes", "find"} <= names, names
    assert not names & UNSHARDED_ONLY
    assert not any(c["txn"] for c in commands), "no transactions"
    updates = [op for c in commands if c["name"] == "update" for op in c["ops"]]
    assert sum(op["upsert"] for op in updates) >= 20
    for op in updates:
        if op["upsert"] or not op["multi"]:
            # Upserts and single-document updates must carry the shard key: _id, and only it.
            assert op["q"] == ["_id"], op
    for command in commands:
        if command["name"] == "delete":
            assert all(op["limit"] == 0 or op["q"] == ["_id"] for op in command["ops"])
        if command["name"] == "findAndModify":
            assert command["q"] == ["_id"]
        if command["name"] == "createIndexes":
            assert command["unique"] == [], "a unique index must contain the shard key"
        if command["name"] == "aggregate":
            assert not {"$out", "$merge"} & set(command["stages"])
