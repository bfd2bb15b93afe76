"""Topic relevance as a user sees it: niche crawls, words no list knows, real news.

The real-text test reads the Reuters-21578 stories of ``../shared/data/topics/`` (relative to the
project root) in place; ``benchmarks/relevance.py`` measures the same on every topic at length.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.scoring.relevance import OFF_TOPIC_BELOW, TermSpace, score_texts, tokenize

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ROOT.parent / "shared" / "data" / "topics" / "docs.jsonl.gz"

ROSE_WORDS = [
    "roses",
    "pruning",
    "compost",
    "mulch",
    "blooms",
    "climbing",
    "deadheading",
    "hybrid",
    "rambling",
    "aphids",
    "petals",
    "rootstock",
]
GARDEN_WORDS = ["soil", "frost", "watering", "cuttings", "fragrance", "varieties", "pests"]
PROFILE = [
    "Petal Post: pruning roses in late winter, cutting to an outward-facing bud, feeding roses "
    "with compost and mulch; climbing roses and rambling roses need different pruning. "
    "Updated every weekend by our family.",
    "Deadheading blooms keeps hybrid roses flowering; mulch and compost the beds, watch for "
    "aphids on the petals. Family news from the weekend: the weather held.",
]
ON_TOPIC = (
    "Pruning hybrid tea roses: deadheading spent blooms, compost and mulch; climbing roses "
    "and rambling roses want their pruning after flowering."
)
OFF_TOPIC = (
    "Family news for the weekend: the weather stays dry, the market opens on Saturday "
    "and the school fair raises money for the town."
)


def rose_crawl(pages: int = 200) -> list[str]:
    """A niche crawl: every page uses the niche's words, so the crawl alone weighs them least."""
    rng = random.Random(0)
    return [
        f"Rose notes {i}: {', '.join(rng.sample(ROSE_WORDS, 6) + rng.sample(GARDEN_WORDS, 3))}."
        for i in range(pages)
    ]


def test_a_niche_crawl_still_ranks_the_on_topic_page_first_by_a_clear_margin() -> None:
    crawl = rose_crawl()
    on, off = score_texts(PROFILE, [ON_TOPIC, OFF_TOPIC], corpus=crawl)
    crawl_on, crawl_off = score_texts(PROFILE, [ON_TOPIC, OFF_TOPIC], corpus=crawl, prior_weight=0)
    # The crawl's IDF alone lets the profile's incidental words (weekend, family, weather),
    # rare in this crawl, outweigh the roses it is about; the prior knows which words are rare.
    assert on.score - off.score > 20
    assert on.score - off.score > (crawl_on.score - crawl_off.score) + 15
    assert any(r.startswith("shares terms: ") and "rose" in r for r in on.reasons)


def space_of(docs: list[str], **options: Any) -> TermSpace:
    space = TermSpace(**options)
    for doc in docs:
        space.encode(doc, document=True)
    return space


def test_words_no_list_knows_weigh_as_rare_but_no_more_than_the_crawl_allows() -> None:
    # Every term on every page: the crawl cannot tell them apart, only the prior can.
    doc = "the garden family rootstock glasses zqxvbnkt"
    space = space_of([doc] * 50)
    idf = space.idf()
    weight = {term: float(idf[space.ids[term]]) for term in tokenize(doc)}
    assert weight["zqxvbnkt"] >= weight["rootstock"] > weight["garden"] > weight["family"]
    # "glasses" is folded to "glasse": still the known word, not an unknown one.
    assert weight["glasse"] < weight["zqxvbnkt"]
    # Bounded: no higher than a term on none of the crawl's 50 pages.
    assert max(weight.values()) <= math.log(1 + 50) + 1
    assert np.array_equal(space.idf(prior_weight=0), space.crawl_idf())


def test_a_crawl_of_another_language_can_name_it() -> None:
    doc = "Im Frühling ist immer die Zeit, die Rosen im Garten zu schneiden"
    english, german = space_of([doc] * 20), space_of([doc] * 20, languages=("en", "de"))
    immer, rosen = english.ids["immer"], english.ids["rosen"]
    # "immer" (always) is rare in English and one of the commonest German words.
    assert german.idf()[immer] < english.idf()[immer] - 0.5
    assert german.idf()[immer] < german.idf()[rosen]


def test_unspaced_scripts_weigh_by_the_crawl_alone() -> None:
    space = space_of(["庭のバラ rose", "バラの花 rose", "compost"])
    bigram = space.ids["バラ"]
    assert space.idf()[bigram] == space.crawl_idf()[bigram]


def test_the_crawl_never_imports_wordfreq() -> None:
    code = (
        "import sys\n"
        "from pipelines.scoring.relevance import TermSpace, page_terms, tokenize\n"
        "page_terms('Pruning roses in winter', 10); tokenize('compost heaps')\n"
        "space = TermSpace(); space.encode('roses and compost', document=True)\n"
        "assert 'wordfreq' not in sys.modules, 'wordfreq imported at crawl time'\n"
        "space.idf()\n"
        "assert 'wordfreq' in sys.modules\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr


def auc(positive: list[float], negative: list[float]) -> float:
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


@pytest.fixture(scope="module")
def stories() -> dict[str, list[dict[str, str]]]:
    by_topic: dict[str, list[dict[str, str]]] = defaultdict(list)
    with gzip.open(TOPICS, "rt", encoding="utf-8") as f:
        for line in f:
            story = json.loads(line)
            by_topic[story["topic"]].append(story)
    return by_topic


def text(story: dict[str, str]) -> str:
    return f"{story['title']}\n{story['text']}"


def test_real_news_scores_same_topic_above_unrelated_and_flags_the_unrelated(
    stories: dict[str, list[dict[str, str]]],
) -> None:
    """Every topic as the target's niche: 20 stories are its site; the crawl is its other
    stories, up to 60 of its related topics (same group) and 30 unrelated ones."""
    same_scores, far_scores, aucs = [], [], []
    same_flagged, far_flagged = [], []
    for topic, own in sorted(stories.items()):
        rng = random.Random(topic)
        group = own[0]["topic_group"]
        own = rng.sample(own, len(own))
        near = [
            s
            for t, ss in stories.items()
            if t != topic and ss[0]["topic_group"] == group
            for s in ss
        ]
        far = [s for ss in stories.values() if ss[0]["topic_group"] != group for s in ss]
        near, far = rng.sample(near, min(60, len(near))), rng.sample(far, 30)
        held = own[20:60]
        results = score_texts(
            [text(s) for s in own[:20]],
            [text(s) for s in held + far],
            corpus=[text(s) for s in near + own[60:]],
        )
        same, unrelated = results[: len(held)], results[len(held) :]
        aucs.append(auc([r.score for r in same], [r.score for r in unrelated]))
        same_scores += [r.score for r in same]
        far_scores += [r.score for r in unrelated]
        same_flagged += ["off-topic" in r.reasons for r in same]
        far_flagged += ["off-topic" in r.reasons for r in unrelated]
    assert len(aucs) == 24
    # Measured: mean AUC 0.96, 63% of unrelated and 3% of same-topic stories flagged.
    assert np.mean(aucs) > 0.93 and min(aucs) > 0.8
    assert np.mean(far_flagged) > 0.5
    assert np.mean(same_flagged) < 0.1
    assert np.median(same_scores) > OFF_TOPIC_BELOW + 20 > np.median(far_scores) + 10
