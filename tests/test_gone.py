"""A linking page that is gone: once it is unverified, in two consecutive crawls its links are lost.

A page answering 404 once may be a broken deploy or a moved page; answering 404 (or 410) again
in the next crawl, it is gone, and so are its links. A server error (500) is never "gone".
"""

from __future__ import annotations

import os
from pathlib import Path

from backlink_spider.demoweb.model import Response, Web
from backlink_spider.demoweb.server import WebServer
from tests.conftest import FAST, MongoServer, run_scrapy, scrapy_env

TARGET = "site.test"
SOURCES = ("gone.test", "erased.test", "broken.test", "back.test")


def build_web(crawl: int) -> Web:
    """The web at the first, second and third crawl."""
    web = Web(f"gone-{crawl}")
    web.target, web.seeds = TARGET, ["hub.test"]
    hub = "".join(f'<a href="https://{h}/">{h}</a>' for h in SOURCES)
    web.site("hub.test").page("/", f"<html><body>{hub}</body></html>")
    web.site(TARGET).page("/", "<html><body>the target</body></html>")
    linking = f'<html><body><p>See <a href="https://{TARGET}/">the site</a>.</p></body></html>'
    answers = {
        "gone.test": [200, 404, 404],
        "erased.test": [200, 410, 410],
        "broken.test": [200, 500, 500],
        "back.test": [200, 404, 200],
    }
    for host, statuses in answers.items():
        status = statuses[crawl - 1]
        body = linking if status == 200 else "<html><body>no</body></html>"
        web.site(host).page("/", Response(status=status, body=body))
    return web


def test_links_of_a_page_gone_in_two_crawls_are_lost(
    mongo_server: MongoServer, tmp_path: Path
) -> None:
    name = f"gone_{os.getpid()}"
    client = mongo_server.client()
    db = client[name]

    def state(host: str) -> str:
        doc = db.backlinks.find_one({"source_url": f"https://{host}/"})
        assert doc is not None, host
        if doc["lost_at"] is not None:
            return "lost"
        return "unverified" if doc["unverified_at"] is not None else "live"

    try:
        with WebServer(build_web(1)) as server:
            env = scrapy_env(
                server.proxy_url,
                MONGO_URI=mongo_server.uri,
                MONGO_DATABASE=name,
                BACKLINKS_DATA_DIR=str(tmp_path / "data"),
            )
            argv = ["crawl", "niche", "-a", f"target={TARGET}", "-a", "seeds=hub.test", *FAST]
            seen = []
            for crawl in (1, 2, 3):
                server.swap(build_web(crawl))
                run = run_scrapy(argv, env)
                assert run.returncode == 0, run.stderr[-3000:]
                seen.append({host: state(host) for host in SOURCES})
        assert seen == [
            dict.fromkeys(SOURCES, "live"),
            dict.fromkeys(SOURCES, "unverified"),
            {
                "gone.test": "lost",
                "erased.test": "lost",
                "broken.test": "unverified",
                "back.test": "live",
            },
        ]
        pages = {d["_id"]: d["gone_crawls"] for d in db.pages.find({}, {"gone_crawls": 1})}
        assert pages["https://gone.test/"] == 2 and pages["https://back.test/"] == 0
    finally:
        client.drop_database(name)
        client.close()
