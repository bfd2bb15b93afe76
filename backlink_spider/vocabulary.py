"""The project's words, defined once: rel values, link states, reciprocity, the latest crawl,
and the names of stored fields. The writer (the pipelines, the end of a crawl) and every reader
(scoring, commands, the report) import them from here, so a rule cannot drift between copies.
"""

from __future__ import annotations

from collections.abc import Iterable

# rel values that say "this link is not an endorsement": such a link passes no trust.
NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})


def is_followed(rel: Iterable[str], nofollow: bool = False) -> bool:
    """A link that passes trust: no nofollow/ugc/sponsored rel and no page-level nofollow."""
    return not nofollow and NOFOLLOW_RELS.isdisjoint(rel)
