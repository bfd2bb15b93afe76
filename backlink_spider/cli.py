"""What our ``scrapy`` commands share: one-line errors, the target argument, the store; and
``backlinks``, the installed command that runs them from any directory.

Kept outside ``backlink_spider/commands/``: Scrapy registers every ``ScrapyCommand`` subclass
defined in that package as a command of its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from pymongo.errors import PyMongoError
from scrapy.commands import ScrapyCommand, ScrapyHelpFormatter

from backlink_spider.urls import UrlError, get_resolver, parse_target
from pipelines.store import Store, StoreConfig, StoreError, acquire_store, release_store

SETTINGS_MODULE = "settings"  # the project's settings package (pyproject: packages)


def main(argv: list[str] | None = None) -> None:
    """``backlinks COMMAND …``: ``scrapy COMMAND …`` with the project's settings, wherever it is
    run. Scrapy finds a project through ``SCRAPY_SETTINGS_MODULE`` before any ``scrapy.cfg``
    (``scrapy.utils.project.inside_project``), so our commands (``COMMANDS_MODULE``) and spider
    are there in any directory; importing the settings first keeps them ours even beside another
    project's ``scrapy.cfg``, whose directory Scrapy appends to ``sys.path``."""
    os.environ["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
    import_module(SETTINGS_MODULE)
    from scrapy.cmdline import execute

    execute(list(sys.argv if argv is None else argv))


def program() -> str:
    """What the user typed to run our commands, for the hints in messages."""
    return "backlinks" if Path(sys.argv[0]).name == "backlinks" else "scrapy"


def fail(message: str, code: int = 2) -> NoReturn:
    """The one-line error a user sees instead of a traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def row_limit(value: str | None, rows: str) -> int | None:
    """``--limit N`` of a command listing ``rows``: a whole number above 0, None when not
    given; anything else is a one-line error."""
    if value is None:
        return None
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        fail(f"--limit must be a whole number of {rows} above 0, not {value!r}")
    return limit


def reader_gone() -> NoReturn:
    """Standard output's reader stopped early (``| head``): end quietly, as other tools do."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush
    sys.exit(0)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, ScrapyHelpFormatter):
    """Scrapy's help layout, with a command's description (examples, tables) as written."""


def described(*blocks: str, width: int = 79) -> str:
    """A command's description for ``HelpFormatter``: prose blocks wrapped to ``width``, blocks
    that start with two spaces (commands to type) kept as they are."""
    return "\n\n".join(
        block if block.startswith("  ") else textwrap.fill(block, width) for block in blocks
    )


def feed_formats(settings: Any) -> list[str]:
    """The formats Scrapy's feed exporters write (``FEED_EXPORTERS``)."""
    return [name for name, path in settings.getwithbase("FEED_EXPORTERS").items() if path]


def feed_target(value: str, formats: Iterable[str]) -> tuple[str, str]:
    """``-O FILE`` as Scrapy reads it: (file, format), the format from ``FILE:FORMAT`` or from
    the file's extension; one line when neither names one of ``formats``. ``-`` (and ``-:csv``)
    is standard output, JSON Lines unless told."""
    known = list(formats)
    uri, _, fmt = value.rpartition(":")
    if not uri or fmt not in known:
        uri, fmt = value, Path(value).suffix.removeprefix(".").lower()
        if value == "-" and "jsonlines" in known:
            fmt = "jsonlines"
    if fmt not in known:
        fail(
            f"cannot tell the format of {value!r}: end its name with .csv or .jsonl, or name "
            f"the format after a colon ({value}:csv); formats: {', '.join(known)}"
        )
    return uri, fmt


def output_path(uri: str) -> Path | None:
    """The local file a feed URI writes, or None: standard output, another scheme (``s3://``),
    or a name Scrapy fills in when the crawl starts (``%(time)s``)."""
    if uri in ("-", "stdout:") or "%(" in uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # a one-letter scheme is a Windows drive
        return None
    return Path(uri)


def check_output(uri: str) -> None:
    """A file that cannot be written ends the command before it starts, with one line: its
    directory must exist (it is never made for it) and the file must open for writing."""
    path = output_path(uri)
    if path is None:
        return
    path = path.expanduser()
    if path.is_dir():
        fail(f"cannot write {uri}: it is a directory")
    if not path.parent.is_dir():
        fail(f"cannot write {uri}: there is no directory {path.parent} (create it first)")
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        fail(f"cannot write {uri}: {exc.strerror or exc}")
    if not existed:
        path.unlink(missing_ok=True)


def check_feeds(settings: Any) -> None:
    """``check_output`` for every feed of the crawl (``-o``/``-O`` and ``FEEDS``)."""
    for uri in settings.getdict("FEEDS"):
        check_output(str(uri))


class StoreCommand(ScrapyCommand):
    """A command that reads (or rescores) what the crawls of one target stored."""

    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "WARNING"}

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        if parser.usage:  # Scrapy writes "scrapy COMMAND …" whatever was typed
            parser.usage = parser.usage.replace("scrapy ", f"{program()} ", 1)

    def target_domain(self, value: str) -> str:
        """The registered domain of a target as the user wrote it; a bad one ends the command."""
        try:
            return parse_target(value, get_resolver())[1]
        except UrlError as exc:
            fail(f"bad target {value!r}: {exc}")

    @contextmanager
    def open_store(
        self, domain: str, crawl_args: str = "-a seeds=...", *, create: bool = False
    ) -> Iterator[Store]:
        """The store, released on the way out; every way it can fail is one line and exit 1.

        An embedded store that was never written is not started (that would create it empty),
        unless the command writes (``create``): the user is told to crawl first.
        """
        assert self.settings is not None
        config = StoreConfig.from_settings(self.settings)
        if config.embedded and not create and not (config.data_dir / "db").exists():
            fail(
                f"nothing stored yet in {config.data_dir}: crawl first "
                f"({program()} crawl niche -a target={domain} {crawl_args})",
                code=1,
            )
        try:
            store = acquire_store(self.settings)
        except StoreError as exc:
            fail(str(exc), code=1)
        try:
            yield store
        except PyMongoError as exc:
            fail(f"MongoDB failed: {str(exc).splitlines()[0][:200]}", code=1)
        finally:
            release_store(store)
