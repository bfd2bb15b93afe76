"""A database that fails: writes are retried, then spilled to a file the next run writes in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

from backlink_spider.items import Backlink
from pipelines.mongo import MongoPipeline, backlink_op, replay_spills
from pipelines.normalize import backlink_id


def pipeline(uri: str, database: str, data_dir: Path, crawl_id: str = "c1") -> MongoPipeline:
    crawler = get_crawler(
        settings_dict={
            "MONGO_URI": uri,
            "MONGO_DATABASE": database,
            "BACKLINKS_DATA_DIR": str(data_dir),
            "BACKLINKS_MONGO_RETRIES": 3,
            "BACKLINKS_MONGO_RETRY_BACKOFF": 0.05,
            "BACKLINKS_MONGO_TIMEOUT": 2,
            "BACKLINKS_MONGO_FLUSH_INTERVAL": 0,
        }
    )
    crawler.stats.open_spider()
    pipe = MongoPipeline.from_crawler(crawler)
    pipe.open_spider()
    pipe.crawl_id = crawl_id
    return pipe


def ops(n: int, crawl_id: str = "c1") -> list:
    now = datetime.now(UTC)
    return [
        backlink_op(
            ItemAdapter(
                Backlink(
                    source_url=f"https://blog.test/post-{i}",
                    target_url="https://site.test/",
                    anchor_text=f"$pecial anchor {i}",
                    matched_domain="site.test",
                )
            ),
            crawl_id,
            now,
        )
        for i in range(n)
    ]


def fail_updates(client, mode) -> None:
    client.admin.command(
        "configureFailPoint",
        "failCommand",
        mode=mode,
        data={"failCommands": ["update"], "closeConnection": True},
    )


def test_transient_failures_are_retried(mongo_server, mongo_db, tmp_path: Path) -> None:
    name, db = mongo_db
    pipe = pipeline(mongo_server.uri, name, tmp_path)
    client = mongo_server.client()
    try:
        fail_updates(client, {"times": 3})
        pipe._write(ops(20))
    finally:
        fail_updates(client, "off")
        client.close()
    pipe.release()
    stats = pipe.crawler.stats
    assert stats.get_value("backlinks/mongo/retries", 0) >= 1
    assert not stats.get_value("backlinks/mongo/spilled")
    assert db.backlinks.count_documents({}) == 20
    assert (
        db.backlinks.find_one(
            {"_id": backlink_id("https://blog.test/post-3", "https://site.test/")}
        )["anchor_text"]
        == "$pecial anchor 3"
    )  # page text that looks like an operator stays text


def test_an_outage_spills_and_the_next_run_writes_it_in(
    mongo_server, mongo_db, tmp_path: Path
) -> None:
    name, db = mongo_db
    pipe = pipeline(mongo_server.uri, name, tmp_path)
    client = mongo_server.client()
    try:
        fail_updates(client, "alwaysOn")
        pipe._write(ops(30))  # must not raise: the crawl goes on
    finally:
        fail_updates(client, "off")
        client.close()
    pipe.release()
    assert pipe.crawler.stats.get_value("backlinks/mongo/spilled") == 30
    spilled = list((tmp_path / "spill").glob("*.jsonl"))
    assert len(spilled) == 1 and len(spilled[0].read_text().splitlines()) == 30
    assert db.backlinks.count_documents({}) == 0

    # The next run (same data directory, same database) writes the spill in, once.
    nxt = pipeline(mongo_server.uri, name, tmp_path, crawl_id="c2")
    assert nxt.crawler.stats.get_value("backlinks/mongo/replayed") == 30
    assert not list((tmp_path / "spill").glob("*.jsonl"))
    assert db.backlinks.count_documents({}) == 30
    doc = db.backlinks.find_one(
        {"_id": backlink_id("https://blog.test/post-0", "https://site.test/")}
    )
    assert doc["first_crawl_id"] == "c1" and doc["seen_count"] == 1
    assert replay_spills(nxt.store, tmp_path) == 0
    nxt.release()


def test_killing_the_database_mid_crawl_loses_nothing(tmp_path: Path) -> None:
    """The store dies under a running crawl: the crawl finishes, spills, the next run writes in."""
    import subprocess
    import time

    from backlink_spider.demoweb.server import WebServer
    from benchmarks.web import generated_web
    from tests.conftest import FAST, ROOT, scrapy_env, start_secantus, stop_process

    web = generated_web(300, n_hosts=10)
    storage = tmp_path / "storage"
    server = start_secantus(storage, test_commands=False)
    data_dir = tmp_path / "data"
    argv = [
        "scrapy",
        "crawl",
        "niche",
        *web.niche_args(),
        "-a",
        "max_pages=400",
        *FAST,
        "-s",
        "CONCURRENT_REQUESTS=4",
        "-s",
        "BACKLINKS_MONGO_BATCH_SIZE=10",
        "-s",
        "BACKLINKS_MONGO_FLUSH_INTERVAL=0.2",
        "-s",
        "BACKLINKS_MONGO_RETRIES=1",
        "-s",
        "BACKLINKS_MONGO_RETRY_BACKOFF=0.1",
        "-s",
        "BACKLINKS_MONGO_TIMEOUT=1",
        "-s",
        "BACKLINKS_SCORE_ON_CLOSE=False",
    ]
    client = server.client()
    try:
        with WebServer(web) as proxy:
            env = scrapy_env(
                proxy.proxy_url,
                MONGO_URI=server.uri,
                MONGO_DATABASE="kill",
                BACKLINKS_DATA_DIR=str(data_dir),
            )
            with subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            ) as crawl:
                deadline = time.monotonic() + 60
                while client.kill.pages.count_documents({}) < 20:
                    assert crawl.poll() is None, "the crawl ended before the kill"
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                server.proc.kill()  # SIGKILL: no goodbye
                server.proc.wait()
                _, stderr = crawl.communicate(timeout=180)
            assert crawl.returncode == 0, stderr[-3000:]
            assert "Traceback" not in stderr
            assert "the next run writes them in" in stderr
            spills = list((data_dir / "spill").glob("*.jsonl"))
            assert spills
            fetched_first = proxy.fetched_urls()

            # The database comes back (same files, new port); the next crawl writes the spill in.
            client.close()
            server = start_secantus(storage, test_commands=False)
            client = server.client()
            env.update(MONGO_URI=server.uri)
            rerun = subprocess.run(
                [*argv, "-a", "max_pages=1", "-s", "ROBOTSTXT_OBEY=False"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert not list((data_dir / "spill").glob("*.jsonl"))
        db = client.kill
        first, second = db.crawls.find().sort("started_at", 1)
        assert second["stats"]["backlinks/mongo/replayed"] > 0
        # Every page the first crawl fetched is stored, though the server died half-way.
        stored = {d["_id"] for d in db.pages.find({"crawl_id": first["_id"]}, {"_id": 1})}
        fetched_pages = {u for u in fetched_first if not u.endswith("/robots.txt")}
        # The target's home page was fetched again by the second crawl, which now owns it.
        assert fetched_pages - stored <= {f"https://{web.target}/"}
        assert db.backlinks.count_documents({"first_crawl_id": first["_id"]}) > 0
    finally:
        client.close()
        stop_process(server.proc)
