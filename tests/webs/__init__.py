"""The synthetic webs of the test suite, each with its ground truth.

- ``test_web()``: the demo web plus every edge case a crawl must get right (``sites.py``);
- ``script_web()``: pages whose links only a browser sees, and pages that only look that way
  (``scripted.py``);
- ``hostile_web()``: a 50 MB page, binary bodies, wrong charsets, NUL bytes (``hostile.py``).

They are built with the demo web's model, kit and server (``backlink_spider.demoweb``); the
benchmarks' generated web is ``benchmarks.web.generated_web``. Serve one by hand with
``python -m tests.webs --web test`` (from the project root).
"""

from __future__ import annotations

from backlink_spider.demoweb import Web, demo_web
from benchmarks.web import generated_web
from tests.webs.hostile import HUGE_PAGE_BYTES, hostile_web
from tests.webs.scripted import script_web
from tests.webs.sites import test_web

__all__ = [
    "HUGE_PAGE_BYTES",
    "WEBS",
    "build_web",
    "hostile_web",
    "script_web",
    "test_web",
]

WEBS = ("demo", "test", "generated", "script", "hostile")


def build_web(name: str, *, pages: int = 2000, hosts: int = 60, seed: int = 1) -> Web:
    """A web by name (as ``python -m tests.webs --web`` takes it)."""
    if name == "demo":
        return demo_web()
    if name == "test":
        return test_web()
    if name == "script":
        return script_web()
    if name == "hostile":
        return hostile_web()
    if name == "generated":
        return generated_web(pages, n_hosts=hosts, seed=seed)
    raise ValueError(f"unknown web {name!r}; choose from {', '.join(WEBS)}")
