"""The crawl every benchmark runs: the generated web through its proxy, politeness off."""

from __future__ import annotations

import os
from typing import Any


def crawl_command(
    web: Any,
    proxy: str,
    pages: int,
    *extra: str,
    max_pages: int | None = None,
    max_pages_per_host: int | None = None,
) -> tuple[list[str], dict[str, str]]:
    """``scrapy crawl niche`` over ``web`` (argv, env); ``extra`` adds ``-a``/``-s`` options.

    The page budget is ``max_pages`` (default: twice ``pages``, so the web's size is the limit)
    and the per-host cap ``max_pages_per_host`` (default: ``pages``, no cap at all).
    """
    budget = pages * 2 if max_pages is None else max_pages
    per_host = pages if max_pages_per_host is None else max_pages_per_host
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"no_proxy", "mongo_uri"}}
    env.update(http_proxy=proxy, https_proxy=proxy)
    argv = [
        "scrapy",
        "crawl",
        "niche",
        *web.niche_args(),
        "-a",
        f"max_pages={budget}",
        "-L",
        "INFO",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "RETRY_TIMES=0",
        "-s",
        f"BACKLINKS_MAX_PAGES_PER_HOST={per_host}",
        *extra,
    ]
    return argv, env
