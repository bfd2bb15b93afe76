"""``scrapy crawl``, with the niche spider's arguments, its feeds and the store checked before
it starts: every mistake is one ``error: …`` line and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymongo.errors import PyMongoError
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader

from backlink_spider.addon import stores_items
from backlink_spider.cli import HelpFormatter, check_feeds, fail, feed_formats, feed_target, program
from backlink_spider.config import (
    ARGUMENTS,
    ArgumentError,
    CrawlConfig,
    seed_list,
    target_domain_of,
)
from backlink_spider.jobdir import JobMismatch, check_job
from backlink_spider.progress import progress_mode
from backlink_spider.summary import print_summary
from pipelines.store import Store, StoreConfig, StoreError, acquire_store, release_store
from pipelines.target_profile import TargetProfile, load_profile


def check_redis(settings: Any) -> None:
    """A shared frontier that cannot be reached, or is not installed, is one line and exit 1."""
    try:
        from backlink_spider.frontier import redis_client
    except ImportError as exc:
        fail(f"BACKLINKS_REDIS_URL needs scrapy-redis: pip install 'backlinks[redis]' ({exc})", 1)
    try:
        redis_client(settings).ping()
    except Exception as exc:  # any redis error (bad URL, refused, auth): say it in one line
        url = urlsplit(settings.get("BACKLINKS_REDIS_URL"))
        shown = url._replace(netloc=url.netloc.rpartition("@")[2]).geturl()  # no password
        fail(f"cannot reach Redis at {shown}: {exc}", code=1)


# The niche spider's arguments (``config.ARGUMENTS``) as ``crawl -h`` lists them.
ARGUMENT_HELP = {
    "target": ("SITE", "the site whose backlinks you want: site.com, https://www.site.com/"),
    "seeds": (
        "SITES",
        "niche seed sites: comma-separated hosts or URLs, or a file with one per line "
        "(default: the target profile's)",
    ),
    "keywords": ("WORDS", "comma-separated niche keywords, for relevance"),
    "competitors": ("DOMAINS", "comma-separated competitor domains: their links are recorded too"),
    "distrust": ("HOSTS", "comma-separated known-bad hosts: distrust spreads to their linkers"),
    "depth": ("N", "site hops beyond the seeds whose pages are crawled (0: seeds only; default 1)"),
    "max_pages": ("N", "total page budget (default 5000)"),
    "render": ("MODE", "pages built by script: never, auto (the default) or always"),
    "discovered": (
        "N",
        "also crawl the N best-ranked referring sites that discover found in Common Crawl "
        "(stored in the target's profile; not trusted as seeds)",
    ),
}


def spider_arguments_help(prog: str, width: int = 79) -> str:
    """What ``crawl -h`` says before the options: an example and the niche spider's arguments."""
    column = max(len(f"-a {name}={meta}") for name, (meta, _) in ARGUMENT_HELP.items()) + 4
    lines = [
        f"Run a spider of the project, e.g. {prog} crawl niche -a target=site.com",
        "-a seeds=a.com,b.org -O backlinks.csv",
        "",
        "Arguments of the niche spider, each as -a NAME=VALUE:",
    ]
    for name in ARGUMENTS:
        meta, meaning = ARGUMENT_HELP[name]
        lines += textwrap.wrap(
            meaning,
            width,
            initial_indent=f"  {f'-a {name}={meta}':<{column - 2}}",
            subsequent_indent=" " * column,
        )
    lines += [
        "",
        "The feed's format comes from its extension (.jsonl, .csv, .json, .xml) or",
        "from FILE:FORMAT (-O links.txt:csv).",
    ]
    return "\n".join(lines)


class Command(ScrapyCrawlCommand):
    store: Store | None = None

    def long_desc(self) -> str:
        return spider_arguments_help(program())

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = HelpFormatter
        parser.usage = f"{program()} crawl niche -a target=SITE [-a NAME=VALUE …] [-O FILE]"

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Runs before Scrapy starts logging: a bad argument shows as one line, alone."""
        assert self.settings is not None
        formats = feed_formats(self.settings)
        for name in ("output", "overwrite_output"):  # the format checked here, said in one line
            values = getattr(opts, name) or []
            setattr(opts, name, [":".join(feed_target(v, formats)) for v in values] or None)
        try:
            super().process_options(args, opts)
        except UsageError as exc:  # a bad -a or -O format: one line, not the usage text
            if not str(exc):
                raise
            fail(str(exc))
        if args:
            self._check_spider(args)
        check_feeds(self.settings)
        try:
            progress_mode(self.settings)
        except ValueError as exc:
            fail(str(exc))
        if args[:1] != ["niche"]:
            return
        try:  # every argument but the seeds, which may come from the stored profile
            CrawlConfig.from_args(self.settings, opts.spargs, require_seeds=False)
        except ArgumentError as exc:
            fail(str(exc))
        if self.settings.get("JOBDIR") and self.settings.get("BACKLINKS_REDIS_URL"):
            fail(
                "JOBDIR and BACKLINKS_REDIS_URL exclude each other: a shared crawl keeps its "
                "frontier in Redis, not in a job directory"
            )
        if self.settings.get("BACKLINKS_REDIS_URL"):
            check_redis(self.settings)
        profile = self._open_store(opts.spargs) if stores_items(self.settings) else None
        try:
            config = CrawlConfig.from_args(self.settings, opts.spargs, profile)
        except ArgumentError as exc:
            fail(str(exc))
        if self.settings.get("JOBDIR"):
            try:
                check_job(Path(self.settings["JOBDIR"]), config.describe())
            except JobMismatch as exc:
                fail(str(exc))

    def _check_spider(self, args: list[str]) -> None:
        """One spider, known by that name, its arguments given with ``-a``."""
        assert self.settings is not None
        extra = args[1:]
        if extra and any("=" in a for a in extra):
            given = " ".join(f"-a {a}" if "=" in a else a for a in extra)
            fail(f"unexpected {extra[0]!r}: arguments go as -a name=value ({given})")
        if extra:
            fail(f"one spider at a time: {program()} crawl niche -a target=site.com …")
        names = get_spider_loader(self.settings).list()
        if args[0] not in names:
            close = difflib.get_close_matches(args[0], names, n=1)
            hint = f"did you mean {close[0]}?" if close else f"spiders: {', '.join(names)}"
            fail(f"no spider named {args[0]!r} ({hint})")

    def _print_summary(self, target: str) -> None:
        """The target's summary table on standard output, once the crawl is over."""
        assert self.store is not None
        try:
            print_summary(self.store.db, target, self.store.location)
        except PyMongoError as exc:  # the crawl is done all the same: its log says what waits
            reason = str(exc).splitlines()[0][:200]
            print(f"no summary: the store cannot be read ({reason})", file=sys.stderr)

    def _open_store(self, spargs: dict[str, Any]) -> TargetProfile | None:
        """The store, held for the whole crawl (the pipeline shares this connection and
        server), and the target's profile in it. Without seeds given, a store that cannot be
        read (or an embedded one never written) leaves the crawl with no seeds at all."""
        assert self.settings is not None
        given = bool(seed_list(spargs.get("seeds")) or self.settings.getlist("BACKLINKS_SEEDS"))
        config = StoreConfig.from_settings(self.settings)
        if not given and config.embedded and not (config.data_dir / "db").exists():
            return None  # nothing stored, no profile: the seeds check says what to do
        try:
            self.store = acquire_store(self.settings)
            return load_profile(self.store.db, target_domain_of(spargs["target"]))
        except (StoreError, PyMongoError) as exc:
            reason = str(exc).splitlines()[0][:200]
        if given:
            fail(reason if reason.startswith("cannot") else f"MongoDB failed: {reason}", code=1)
        fail(
            "no seed sites given, and the target's profile cannot be read for its seeds "
            f"({reason}): give -a seeds=a.com,b.org"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            super().run(args, opts)
            if self.store is not None and args[:1] == ["niche"]:
                self._print_summary(target_domain_of(opts.spargs["target"]))
        finally:
            if self.store is not None:
                release_store(self.store)
                self.store = None
