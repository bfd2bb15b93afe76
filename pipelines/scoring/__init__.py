"""Post-crawl scoring: host trust (TrustRank), topic relevance (TF-IDF) and link quality.

``graph``, ``trust`` and ``relevance`` are pure math (arrays and texts in, scores out); ``run``
reads and writes MongoDB. The entry points are re-exported here, imported on first use so the
math modules load without the driver and Scrapy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.scoring.run import ScoringError, score_target

__all__ = ["ScoringError", "score_target"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pipelines.scoring import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
