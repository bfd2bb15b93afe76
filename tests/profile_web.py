"""A small web that changes between two crawls, for the link-profile and report tests.

Crawled once, served changed (``WebServer.swap``) and crawled again, as a site owner's weekly
crawl would see it. The session fixture ``profile`` (conftest) runs this once for both files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backlink_spider.demoweb.model import Response, Web
from backlink_spider.demoweb.server import WebServer
from tests.conftest import FAST, Run, run_scrapy, scrapy_env

TARGET = "greenleaf.test"
RIVAL = "rival.test"


def _page(title: str, *links: tuple[str, str], text: str = "") -> str:
    body = "".join(
        f'<p>Read about it: <a href="{href}">{anchor}</a>.</p>' for href, anchor in links
    )
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><main>"
        f"<h1>{title}</h1><p>{text or 'Compost, pruning and roses for the allotment.'}</p>"
        f"{body}</main></body></html>"
    )


def build_web(changed: bool) -> Web:
    """Version 1, or version 2 (changed): a link removed, one added, a page down, a 404."""
    web = Web("profile-v2" if changed else "profile-v1")
    web.target, web.competitors, web.seeds = TARGET, [RIVAL], ["hub.test"]
    web.keywords = ["compost", "pruning"]
    target = web.site(TARGET)
    target.page(
        "/",
        _page(
            "Greenleaf",
            ("https://friend.test/", "our friends"),
            ("/guides/compost", "Compost guide"),
        ),
    )
    target.page("/guides/compost", _page("Compost guide"))
    target.page("/guides/pruning", _page("Pruning guide"))
    if changed:  # the orphan page is gone: the link to it is broken
        target.page("/old-offer", Response(status=404, body="<html><body>gone</body></html>"))
    else:
        target.page("/old-offer", _page("Spring offer"))
    web.site(RIVAL).page("/", _page("Rival"))
    web.site(RIVAL).page("/pricing", _page("Rival pricing"))
    web.site("hub.test").page(
        "/",
        _page(
            "Garden hub",
            *(
                (f"https://{h}/", h)
                for h in (
                    "friend.test",
                    "blog.test",
                    "down.test",
                    "fan.test",
                    "gap.test",
                    "both.test",
                    "slow.test",
                )
            ),
        ),
    )
    web.site("friend.test").page("/", _page("Friends", (f"https://{TARGET}/", "Greenleaf")))
    post = (
        [(f"https://{TARGET}/guides/pruning", "pruning")]
        if changed
        else [(f"https://{TARGET}/guides/compost", "compost")]
    )
    web.site("blog.test").page("/", _page("Blog", *post))
    if changed:
        web.site("down.test").page("/", Response(status=500, body="<html>oops</html>"))
    else:
        web.site("down.test").page("/", _page("Down", (f"https://{TARGET}/", "click here")))
    slow = _page("Slow", (f"https://{TARGET}/guides/compost", "compost guide"))
    # Version 2 answers after the second crawl's download timeout: a network failure.
    web.site("slow.test").page("/", Response(body=slow, delay=3) if changed else slow)
    web.site("fan.test").page("/", _page("Fan", (f"https://{TARGET}/old-offer", "the offer")))
    web.site("gap.test").page("/", _page("Gap", (f"https://{RIVAL}/pricing", "rival prices")))
    web.site("both.test").page(
        "/",
        _page(
            "Both",
            (f"https://{RIVAL}/", "rival"),
            (f"https://{TARGET}/", "greenleaf.test"),
        ),
    )
    return web


@dataclass
class Profile:
    db: Any
    env: dict[str, str]
    tmp: Path
    server: WebServer
    second: Run

    def export(self, *args: str) -> list[dict[str, Any]]:
        out = self.tmp / "export.jsonl"
        run = run_scrapy(["export", TARGET, "-O", str(out), *args], self.env)
        assert run.returncode == 0, run.stderr
        return run.feed(out)

    def link(self, source: str, target: str) -> dict[str, Any]:
        doc = self.db.backlinks.find_one({"source_url": source, "target_url": target})
        assert doc is not None, (source, target)
        return doc


def crawl(web: Web, env: dict[str, str], out: Path, *extra: str) -> Run:
    run = run_scrapy(
        [
            "crawl",
            "niche",
            "-a",
            f"target={TARGET}",
            "-a",
            "seeds=hub.test",
            "-a",
            f"competitors={RIVAL}",
            "-a",
            "keywords=compost,pruning",
            "-O",
            str(out),
            *FAST,
            *extra,
        ],
        env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def two_crawls(mongo_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profile]:
    """The store after a crawl, a change of the web and a second crawl (read only after)."""
    tmp = tmp_path_factory.mktemp("profile")
    name = "profile_test"
    client = mongo_server.client()
    client.drop_database(name)
    with WebServer(build_web(changed=False)) as server:
        env = scrapy_env(
            server.proxy_url,
            MONGO_URI=mongo_server.uri,
            MONGO_DATABASE=name,
            BACKLINKS_DATA_DIR=str(tmp / "data"),
        )
        crawl(server.web, env, tmp / "first.jsonl")
        server.swap(build_web(changed=True))
        server.reset_log()
        second = crawl(server.web, env, tmp / "second.jsonl", "-s", "DOWNLOAD_TIMEOUT=1")
        yield Profile(client[name], env, tmp, server, second)
    client.drop_database(name)
    client.close()
