"""``scrapy demo``: crawl the bundled demo web on loopback; a newcomer sees real output offline."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from scrapy.commands import ScrapyCommand
from twisted.internet.defer import Deferred

from backlink_spider.cli import (
    HelpFormatter,
    check_feeds,
    described,
    fail,
    feed_formats,
    feed_target,
    program,
)
from backlink_spider.run import CrawlRun
from backlink_spider.vocabulary import (
    LAST_CRAWL_ID,
    MATCHED_DOMAIN,
    QUALITY,
    SCORES,
    record_figures,
)
from pipelines.store import StoreError, acquire_store, release_store


def _then(crawl: Any, then: Callable[[], None]) -> None:
    """Run ``then`` once the crawl ``crawl`` (an asyncio task, or a Deferred under a non-asyncio
    reactor) has ended well: Scrapy's process waits for the crawls it is given meanwhile too."""
    if isinstance(crawl, Deferred):
        crawl.addCallback(lambda _: then())
        return
    crawl.add_done_callback(lambda task: None if task.cancelled() or task.exception() else then())


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = True
    feed = "demo-backlinks.jsonl"

    def syntax(self) -> str:
        return "[-O FILE]"

    def short_desc(self) -> str:
        return "Crawl a bundled demo web of gardening sites (served on loopback) for its backlinks"

    def long_desc(self) -> str:
        prog = program()
        return described(
            "Crawl a bundled demo web of gardening sites for the backlinks of petalpost.test. "
            "This command serves the web on loopback, stores the links in the data directory "
            "(BACKLINKS_DATA_DIR) and writes the feed to -O FILE.",
            "To crawl the demo web yourself (with other arguments or settings), serve it in one "
            "shell until Ctrl-C; it prints 'proxy http://127.0.0.1:PORT', then the web's target "
            "and seeds:",
            "  python -m backlink_spider.demoweb",
            "and crawl through that proxy in another:",
            "  export http_proxy=http://127.0.0.1:PORT https_proxy=http://127.0.0.1:PORT\n"
            f"  {prog} crawl niche -a target=petalpost.test \\\n"
            "      -a seeds=rosegrowers.test,compost-club.test -O demo.csv",
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = HelpFormatter
        parser.usage = f"{program()} demo [-O FILE]"
        parser.add_argument(
            "-O",
            "--overwrite-output",
            metavar="FILE",
            default="demo-backlinks.jsonl",
            help="the backlinks feed, its format from the extension or FILE:FORMAT "
            "(default: demo-backlinks.jsonl)",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        uri, fmt = feed_target(opts.overwrite_output, feed_formats(self.settings))
        self.feed = "stdout:" if uri == "-" else uri
        self.settings.set("FEEDS", {self.feed: {"format": fmt, "overwrite": True}}, "cmdline")
        check_feeds(self.settings)
        # The demo web answers in microseconds; politeness delays would only make it slow.
        self.settings.set("DOWNLOAD_DELAY", 0, "cmdline")
        self.settings.set("AUTOTHROTTLE_START_DELAY", 0.05, "cmdline")
        if not opts.loglevel:
            self.settings.set("LOG_LEVEL", "WARNING", "cmdline")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None and self.crawler_process is not None
        from backlink_spider.demoweb.server import WebServer
        from backlink_spider.demoweb.sites import demo_web

        web = demo_web()
        try:
            store = acquire_store(self.settings)
        except StoreError as exc:
            fail(str(exc), code=1)
        arguments = {
            "target": web.target,
            "seeds": ",".join(web.seeds),
            "competitors": ",".join(web.competitors),
            "keywords": ",".join(web.keywords),
        }
        try:
            with WebServer(web) as server:
                for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
                    os.environ[name] = server.proxy_url
                for name in ("no_proxy", "NO_PROXY"):
                    os.environ.pop(name, None)
                print(
                    f"Demo web of {len(web)} sites on {server.proxy_url}; crawling for "
                    f"backlinks of {web.target} from {len(web.seeds)} seeds …",
                    file=sys.stderr,
                )
                process = self.crawler_process
                crawler = process.create_crawler("niche")

                def again() -> None:
                    """The same web a month on: a link gone, a new one (``changed_body``)."""
                    nonlocal crawler
                    print("… and again a month on, one link gone and one new …", file=sys.stderr)
                    server.swap(demo_web(changed=True))
                    crawler = process.create_crawler("niche")
                    process.crawl(crawler, **arguments)

                _then(process.crawl(crawler, **arguments), again)
                process.start()
            location = store.location
            run = CrawlRun.get(crawler)
            crawl_id = run.crawl_id if run else None
            record = store.db.crawls.find_one({"_id": crawl_id}) or {}
            # The crawl's backlinks of the target: as many as its figures say (and its
            # summary line, and scrapy crawls).
            seen = {MATCHED_DOMAIN: web.target, LAST_CRAWL_ID: crawl_id}
            links = list(store.db.backlinks.find(seen).sort(f"{SCORES}.{QUALITY}", -1))
        finally:
            release_store(store)
        self._summary(links, record, self.feed, web.target, location)

    def _summary(
        self, links: list[dict], record: dict[str, Any], feed: str, target: str, location: str
    ) -> None:
        if not links:
            fail("the demo crawl found no backlinks; run with -L INFO to see why", code=1)
        # What the crawl's summary line and record say ("?": its record could not be closed).
        figures = {k: "?" if v is None else v for k, v in record_figures(record).items()}
        print(
            f"\n{figures['backlinks']} backlinks to {target} from "
            f"{figures['referring_domains']} referring domains and "
            f"{figures['competitor_links']} links to competitors in {figures['pages']} pages "
            f"({figures['new']} new and {figures['lost']} lost in the crawl a month on); "
            f"the backlinks, best first (feed: {feed}; store: {location})\n"
        )
        print(
            f"{'quality':>7} {'site':>4} {'link':>4} {'relev':>5}  {'referring page':<46} "
            f"{'where':<10} why"
        )
        for d in links[:25]:
            scores = d.get("scores") or {}
            reasons = ", ".join(scores.get("reasons", [])[:3])
            print(
                f"{scores.get('quality', 0):7.0f} {scores.get('site_trust', 0):4.0f} "
                f"{scores.get('link_trust', 0):4.0f} "
                f"{scores.get('relevance', 0):5.0f}  {d['source_url'][:46]:<46} "
                f"{d['position']:<10} {reasons[:60]}"
            )
        if len(links) > 25:
            print(f"… and {len(links) - 25} more")
        print(f"\nAll of them: {program()} export {target} -O stored.csv")
