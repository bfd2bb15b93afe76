"""A database that fails: writes are retried, then spilled to a file the next run writes in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from itemadapter import ItemAdapter
from pymongo import UpdateOne
from scrapy.utils.test import get_crawler

from backlink_spider.items import Backlink, OutHost, PageRecord
from pipelines.mongo import MongoPipeline, backlink_op, page_op, replay_spills
from pipelines.normalize import backlink_id
from tests.figures import stored_pages


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


def ops_item(i: int) -> ItemAdapter:
    return ItemAdapter(
        Backlink(
            source_url=f"https://blog.test/post-{i}",
            target_url="https://site.test/",
            anchor_text=f"$pecial anchor {i}",
            matched_domain="site.test",
        )
    )


def ops(n: int, crawl_id: str = "c1") -> list:
    now = datetime.now(UTC)
    return [backlink_op(ops_item(i), crawl_id, now) for i in range(n)]


def fail_writes(client, mode) -> None:
    """Inserts (new documents) and updates (stored ones) both fail, as when the server goes."""
    client.admin.command(
        "configureFailPoint",
        "failCommand",
        mode=mode,
        data={"failCommands": ["insert", "update"], "closeConnection": True},
    )


def test_a_new_document_is_inserted_as_its_upsert_would_have_made_it(mongo_db) -> None:
    """The insert of a new _id and the upsert it stands for leave the same document."""
    _, db = mongo_db
    now = datetime.now(UTC).replace(microsecond=0)
    page = PageRecord(
        url="https://blog.test/a",
        status=200,
        title="$ a title",
        terms="garden 3 soil 1",
        out_hosts=[OutHost(host="site.test", links=2, followed=1)],
        host="blog.test",
        domain="blog.test",
    )
    gone = PageRecord(url="https://blog.test/gone", status=404, host="blog.test")
    written = [
        backlink_op(ops_item(0), "c1", now),
        page_op(ItemAdapter(page), "c1", now),
        page_op(ItemAdapter(gone), "c1", now),
    ]
    for op in written:
        assert op.fresh is not None
        db[f"{op.collection}_inserted"].insert_one(op.fresh)
        db[f"{op.collection}_upserted"].bulk_write([UpdateOne(op.filter, op.update, upsert=True)])
        inserted = db[f"{op.collection}_inserted"].find_one(op.filter)
        upserted = db[f"{op.collection}_upserted"].find_one(op.filter)
        assert inserted == upserted, op.filter


def test_writing_a_stored_document_again_updates_it(mongo_server, mongo_db, tmp_path: Path) -> None:
    """Inserts that meet a stored _id fall back to its update: counted once per crawl."""
    name, db = mongo_db
    pipe = pipeline(mongo_server.uri, name, tmp_path)
    pipe._write(ops(20))
    pipe._write(ops(25))  # the same crawl again (a retry, a replay) and five new links
    stats = pipe.crawler.stats
    assert stats.get_value("backlinks/mongo/backlinks/upserted") == 25
    assert stats.get_value("backlinks/mongo/backlinks/written") == 45
    assert db.backlinks.count_documents({}) == 25
    assert db.backlinks.count_documents({"seen_count": 1}) == 25
    pipe._write(ops(10, crawl_id="c2"))  # the next crawl sees ten of them
    pipe.release()
    assert db.backlinks.count_documents({"seen_count": 2, "last_crawl_id": "c2"}) == 10
    assert db.backlinks.count_documents({"first_crawl_id": "c1"}) == 25
    assert not stats.get_value("backlinks/mongo/spilled")


def test_a_page_fetched_again_as_it_was_is_not_rewritten(
    mongo_server, mongo_db, tmp_path: Path
) -> None:
    """A recrawl writes a visit for a page it finds unchanged, and rewrites the others: a
    changed page, a gone one. Each page counts once among the crawl's pages."""
    name, db = mongo_db

    def pages(crawl_id: str, changed: str = "", gone: str = "") -> list:
        now = datetime.now(UTC)
        records = [
            PageRecord(
                url=f"https://blog.test/{n}",
                status=404 if n == gone else 200,
                terms=f"garden 3 {'pruning' if n == changed else 'soil'} 1",
                host="blog.test",
                domain="blog.test",
            )
            for n in ("a", "b", "c", "d")
        ]
        return [page_op(ItemAdapter(r), crawl_id, now) for r in records]

    first = pipeline(mongo_server.uri, name, tmp_path, "c1")
    first._write(pages("c1"))
    first.release()
    before = {doc["_id"]: doc for doc in db.pages.find()}
    second = pipeline(mongo_server.uri, name, tmp_path / "2", "c2")
    second._write(pages("c2", changed="b", gone="c"))
    second._write(pages("c2", changed="b", gone="c"))  # again in the same crawl: a retry
    second.release()
    after = {doc["_id"]: doc for doc in db.pages.find()}
    a, b, c, d = (f"https://blog.test/{n}" for n in "abcd")
    assert after[a] == before[a] and after[d] == before[d]
    assert after[b]["crawl_id"] == "c2" and "pruning" in after[b]["terms"]
    assert after[c]["crawl_id"] == "c2" and after[c]["gone_crawls"] == 1
    visits = {doc["_id"]: doc for doc in db.page_visits.find()}
    assert set(visits) == {a, d} and {v["crawl_id"] for v in visits.values()} == {"c2"}
    assert visits[a]["status"] == 200 and visits[a]["host"] == "blog.test"
    assert sorted(stored_pages(db, "c2")) == [a, b, c, d]
    # a and d twice, then b: stored by this crawl already
    assert second.crawler.stats.get_value("backlinks/mongo/pages/unchanged") == 5
    third = pipeline(mongo_server.uri, name, tmp_path / "3", "c3")
    third._write(pages("c3", changed="a"))  # a, b and c change: their documents say c3
    third.release()
    assert [db.pages.find_one({"_id": url})["crawl_id"] for url in (a, b, c)] == ["c3"] * 3
    assert db.page_visits.find_one({"_id": a}) is None  # the visit went with the rewrite
    assert sorted(stored_pages(db, "c3")) == [a, b, c, d]
    assert [v["_id"] for v in db.page_visits.find()] == [d]


def test_transient_failures_are_retried(mongo_server, mongo_db, tmp_path: Path) -> None:
    name, db = mongo_db
    pipe = pipeline(mongo_server.uri, name, tmp_path)
    client = mongo_server.client()
    try:
        fail_writes(client, {"times": 3})
        pipe._write(ops(20))
    finally:
        fail_writes(client, "off")
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
        fail_writes(client, "alwaysOn")
        pipe._write(ops(30))  # must not raise: the crawl goes on
    finally:
        fail_writes(client, "off")
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
            assert "no summary: the store cannot be read" in stderr  # one line, exit 0
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
        stored = set(stored_pages(db, first["_id"]))
        fetched_pages = {u for u in fetched_first if not u.endswith("/robots.txt")}
        # The target's home page was fetched again by the second crawl, which now owns it.
        assert fetched_pages - stored <= {f"https://{web.target}/"}
        assert db.backlinks.count_documents({"first_crawl_id": first["_id"]}) > 0
    finally:
        client.close()
        stop_process(server.proc)
