"""The crawl every benchmark runs: the generated web through its proxy, politeness off."""

from __future__ import annotations

import os
from typing import Any


def crawl_command(
    web: Any, proxy: str, pages: int, *extra: str
) -> tuple[list[str], dict[str, str]]:
    """``scrapy crawl niche`` over ``web`` (argv, env); ``extra`` adds ``-a``/``-s`` options."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"no_proxy", "mongo_uri"}}
    env.update(http_proxy=proxy, https_proxy=proxy)
    argv = [
        "scrapy",
        "crawl",
        "niche",
        *web.niche_args(),
        "-a",
        f"max_pages={pages * 2}",
        "-L",
        "INFO",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "RETRY_TIMES=0",
        "-s",
        f"BACKLINKS_MAX_PAGES_PER_HOST={pages}",
        *extra,
    ]
    return argv, env
