"""Two crawls of one target at once, on one store, over a web where nothing changed.

Two Scrapyd jobs, or a shell crawl beside the weekly one: neither may call the other's live
links lost, whichever ends first (the end of a crawl only marks links that no crawl has seen since
it began).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from backlink_spider.demoweb.server import WebServer
from tests.conftest import FAST, ROOT, MongoServer, run_scrapy, scrapy_env
from tests.webs import test_web as build_test_web


def test_two_crawls_at_once_lose_no_live_link(mongo_server: MongoServer, tmp_path: Path) -> None:
    web = build_test_web()
    name = f"concurrent_{os.getpid()}"
    client = mongo_server.client()
    db = client[name]
    argv = ["crawl", "niche", *web.niche_args(competitors=True), *FAST]
    try:
        # The web answers slowly enough that the two crawls overlap for most of their length.
        with WebServer(web, latency=0.03) as server:
            env = scrapy_env(
                server.proxy_url,
                MONGO_URI=mongo_server.uri,
                MONGO_DATABASE=name,
                BACKLINKS_DATA_DIR=str(tmp_path / "data"),
            )
            first = run_scrapy(argv, env)
            assert first.returncode == 0, first.stderr[-3000:]
            stored = db.backlinks.count_documents({})
            live = db.backlinks.count_documents({"lost_at": None})
            assert stored and live == stored

            logs = [(tmp_path / f"crawl-{n}.log").open("w") for n in range(2)]
            crawls = [
                subprocess.Popen(["scrapy", *argv], cwd=ROOT, env=env, stderr=log) for log in logs
            ]
            codes = [crawl.wait(timeout=240) for crawl in crawls]
            for log in logs:
                log.close()
            assert codes == [0, 0], [p.read_text()[-2000:] for p in tmp_path.glob("crawl-*.log")]
        assert db.crawls.count_documents({}) == 3
        assert db.backlinks.count_documents({}) == stored
        lost = list(db.backlinks.find({"lost_at": {"$ne": None}}, {"source_url": 1}))
        assert lost == []
        assert db.backlinks.count_documents({"unverified_at": {"$ne": None}}) == 0
    finally:
        client.drop_database(name)
        client.close()
