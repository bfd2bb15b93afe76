"""Topic relevance on real topic-labelled news: crawl-only IDF, the blend with a general-language
prior, and a plain TF-IDF cosine with weights from a wider corpus.

Run ``python benchmarks/relevance.py`` from anywhere. It reads the 2,803 Reuters-21578 stories of
``../shared/data/topics/`` (relative to the repository root; nothing is copied into the repo).
For each of the 24 topics it takes ``--profile`` stories as the target's pages and simulates a
*niche crawl*: every story of the topic, related stories (same ``topic_group``, other topics) at
``--related`` per story of the topic, and unrelated stories making ``--others`` of the crawl. The
crawl's held-out stories of the topic, and up to ``--pages`` related and unrelated ones, are
scored through the real code path, TermSpace, tfidf, topic_profile and score_links as
``score_texts`` wires them (no anchors, a page is its own site). Printed:

1. Mean ROC AUC, same topic vs unrelated and same topic vs related, for the old scoring (the
   crawl's IDF alone, profile (1 + ln count)·idf), each change alone, the new scoring
   (``TermSpace.idf()``'s blend and ``topic_profile``, checked equal to ``score_texts``), and
   the baseline: a plain TF-IDF cosine against the centroid of the profile stories, IDF from
   all 2,803 stories.
2. Score quartiles of same-topic, related and unrelated stories.
3. The share of stories the "off-topic" reason flags, old and new, at their thresholds and
   around them.
4. Seconds to weight a 200,000-term vocabulary (first call: import wordfreq and load its
   table; then the look-ups alone).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "topics"
sys.path.insert(0, str(ROOT))

from pipelines.scoring import relevance  # noqa: E402
from pipelines.scoring.relevance import (  # noqa: E402
    Rows,
    TermSpace,
    score_links,
    score_texts,
    tfidf,
    tokenize,
)


@dataclass(frozen=True, slots=True)
class Story:
    topic: str
    group: str
    text: str


def load_stories(path: Path) -> list[Story]:
    stories = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            stories.append(Story(d["topic"], d["topic_group"], f"{d['title']}\n{d['text']}"))
    return stories


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """ROC AUC: the chance a positive scores above a negative (ties count half)."""
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


@dataclass(slots=True)
class Case:
    """One topic's niche crawl: profile stories, scored stories by kind, the rest of the crawl."""

    topic: str
    profile: list[int]
    scored: dict[str, list[int]]  # "same" / "related" / "unrelated" → story indices
    rest: list[int]

    @property
    def pages(self) -> list[int]:
        return [i for kind in ("same", "related", "unrelated") for i in self.scored[kind]]


def niche_cases(
    stories: list[Story], profile: int, related: float, others: float, pages: int, seed: int
) -> list[Case]:
    by_topic: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(stories):
        by_topic[s.topic].append(i)
    group = {s.topic: s.group for s in stories}
    cases = []
    for n, topic in enumerate(sorted(by_topic)):
        rng = np.random.default_rng(seed + n)
        same = list(rng.permutation(by_topic[topic]))
        near = [
            i for t, ids in by_topic.items() if t != topic and group[t] == group[topic] for i in ids
        ]
        far = [i for t, ids in by_topic.items() if group[t] != group[topic] for i in ids]
        near = list(rng.permutation(near))[: round(related * len(same))]
        n_far = round(others / (1 - others) * (len(same) + len(near)))
        far = list(rng.permutation(far))[:n_far]
        scored = {"same": same[profile:], "related": near[:pages], "unrelated": far[:pages]}
        rest = near[pages:] + far[pages:]
        cases.append(Case(topic, same[:profile], scored, rest))
    return cases


@dataclass(slots=True)
class Method:
    name: str
    auc_far: list[float] = field(default_factory=list)
    auc_near: list[float] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, by_kind: dict[str, list[float]]) -> None:
        self.auc_far.append(auc(by_kind["same"], by_kind["unrelated"]))
        if by_kind["related"]:  # none with --related 0
            self.auc_near.append(auc(by_kind["same"], by_kind["related"]))
        for kind, values in by_kind.items():
            self.scores[kind].extend(values)


def split(case: Case, values: Sequence[float] | np.ndarray) -> dict[str, list[float]]:
    out, at = {}, 0
    for kind in ("same", "related", "unrelated"):
        n = len(case.scored[kind])
        out[kind] = [float(v) for v in values[at : at + n]]
        at += n
    return out


class WideBaseline:
    """A plain TF-IDF cosine against the centroid of the profile's unit rows, IDF from all
    stories (our tokenizer, no prior): the baseline the issue quotes."""

    def __init__(self, stories: list[Story]) -> None:
        space, rows = TermSpace(prior_weight=0.0), Rows()
        for s in stories:
            rows.append(*space.encode(s.text, document=True))
        self.matrix = tfidf(rows.build(len(space)), space.crawl_idf())

    def cosines(self, case: Case) -> np.ndarray:
        centroid = np.asarray(self.matrix[case.profile].mean(axis=0)).ravel()
        centroid /= np.linalg.norm(centroid) or 1.0
        return self.matrix[case.pages] @ centroid


def old_profile(
    counts: np.ndarray, idf: np.ndarray, terms: Sequence[str]
) -> relevance.TopicProfile:
    """``topic_profile`` as it was before the prior: (1 + ln count) · idf of the summed counts."""
    vector = np.zeros(counts.shape)
    positive = counts > 0
    vector[positive] = (1.0 + np.log(counts[positive])) * idf[positive]
    vector /= np.linalg.norm(vector) or 1.0
    nonzero = np.flatnonzero(vector)
    top = nonzero[np.argsort(-vector[nonzero], kind="stable")][: relevance.TOP_TERMS]
    return relevance.TopicProfile(vector, top, terms)


def score_case(texts: Sequence[str], case: Case, prior_weight: float, old: bool) -> list[float]:
    """``score_texts`` piece by piece (TermSpace, tfidf, a profile, score_links), so the old
    profile can stand in for ``topic_profile``."""
    space, rows = TermSpace(prior_weight=prior_weight), Rows()
    profile_rows = [rows.append(*space.encode(texts[i], document=True)) for i in case.profile]
    page_rows = [rows.append(*space.encode(texts[i], document=True)) for i in case.pages]
    for i in case.rest:
        space.encode(texts[i], document=True)
    matrix = rows.build(len(space))
    idf = space.idf()
    counts = np.asarray(matrix[profile_rows].sum(axis=0)).ravel()
    build = old_profile if old else relevance.topic_profile
    profile = build(counts, idf, space.terms)
    weighted = tfidf(matrix, idf)
    n = len(page_rows)
    empty = [(np.empty(0, np.int32), 0)] * n
    results = score_links(
        profile, weighted[page_rows], np.arange(n), weighted[page_rows], np.arange(n), empty
    )
    return [r.score for r in results]


OLD_OFF_TOPIC_BELOW = 15.0  # the threshold before the prior and the new profile

# (name, prior weight or None for the module's default, old profile?)
METHODS: list[tuple[str, float | None, bool]] = [
    ("old: crawl IDF, log profile", 0.0, True),
    ("old profile + prior", None, True),
    ("new profile, crawl IDF", 0.0, False),
    ("new: prior + new profile", None, False),
]


def run(stories: list[Story], cases: list[Case]) -> list[Method]:
    texts = [s.text for s in stories]
    methods = [Method(name) for name, _, _ in METHODS]
    baseline = Method("plain cosine, wide IDF")
    wide = WideBaseline(stories)
    for n, case in enumerate(cases):
        for method, (_, weight, old) in zip(methods, METHODS, strict=True):
            w = relevance.PRIOR_WEIGHT if weight is None else weight
            method.add(split(case, score_case(texts, case, w, old)))
        if n == 0:  # the new method is what score_texts gives, the real code path
            pages = [texts[i] for i in case.pages]
            rest = [texts[i] for i in case.rest]
            direct = score_texts([texts[i] for i in case.profile], pages, corpus=rest)
            assert [r.score for r in direct] == score_case(texts, case, w, False)
        baseline.add(split(case, wide.cosines(case)))
    return [*methods, baseline]


def mean(values: Sequence[float]) -> str:
    return f"{np.mean(values):.3f}" if len(values) else "-"


def quartiles(values: Sequence[float]) -> str:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return f"{q1:5.1f} {q2:5.1f} {q3:5.1f}"


def report(methods: list[Method], cases: list[Case], thresholds: Sequence[float]) -> None:
    print(f"\n== Mean AUC over {len(cases)} topics (niche crawls)")
    print(f"{'method':<28} {'same/unrelated':>15} {'same/related':>13} {'worst topic':>22}")
    for m in methods:
        worst = int(np.argmin(m.auc_far))
        print(
            f"{m.name:<28} {mean(m.auc_far):>15} {mean(m.auc_near):>13} "
            f"{cases[worst].topic:>14} {m.auc_far[worst]:.3f}"
        )
    old, base = methods[0], methods[-1]
    for m in methods[3:-1]:
        far = f"{np.mean(m.auc_far) / np.mean(old.auc_far):.3f}x old, "
        far += f"{np.mean(m.auc_far) / np.mean(base.auc_far):.3f}x baseline"
        near = ""
        if m.auc_near:
            near = f"; same/related {np.mean(m.auc_near) / np.mean(old.auc_near):.3f}x old, "
            near += f"{np.mean(m.auc_near) / np.mean(base.auc_near):.3f}x baseline"
        print(f"{m.name}: same/unrelated {far}{near}")

    print("\n== Relevance scores (0-100): quartiles Q1 median Q3, all topics pooled")
    for m in methods[:-1]:
        row = "  ".join(f"{kind} {quartiles(m.scores[kind])}" for kind in m.scores)
        print(f"{m.name:<28} {row}")

    print(
        f"\n== Flagged off-topic (score below the threshold): old (OFF_TOPIC_BELOW was "
        f"{OLD_OFF_TOPIC_BELOW:g}) and new (OFF_TOPIC_BELOW = {relevance.OFF_TOPIC_BELOW:g}, <)"
    )
    print(f"{'method':<28} {'below':>6} {'unrelated':>10} {'related':>8} {'same':>6}")
    for m, mark_at in ((methods[0], OLD_OFF_TOPIC_BELOW), (methods[3], relevance.OFF_TOPIC_BELOW)):
        for t in sorted({*thresholds, mark_at}):
            rates = {k: np.mean(np.asarray(v) < t) for k, v in m.scores.items()}
            mark = " <" if t == mark_at else ""
            print(
                f"{m.name:<28} {t:6g} {rates['unrelated']:10.1%} {rates['related']:8.1%} "
                f"{rates['same']:6.1%}{mark}"
            )


def vocabulary(stories: list[Story], size: int, unknown: float) -> list[str]:
    """``size`` distinct terms as a large crawl's vocabulary: the stories' terms, English words
    in our folded form, and a share ``unknown`` of made-up strings (names, typos, ids)."""
    import wordfreq

    terms = dict.fromkeys(t for s in stories for t in tokenize(s.text))
    n_unknown = round(unknown * size)
    for word in wordfreq.iter_wordlist("en"):
        if len(terms) >= size - n_unknown:
            break
        terms.update(dict.fromkeys(tokenize(word)))
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    while len(terms) < size:
        terms["".join(rng.choice(letters, size=int(rng.integers(5, 12))))] = None
    return list(terms)[:size]


def bench_weights(stories: list[Story], size: int, unknown: float, rounds: int) -> None:
    terms = vocabulary(stories, size, unknown)
    print(f"== Weighting a {len(terms):,}-term vocabulary ({unknown:.0%} unknown to wordfreq)")

    def weigh() -> float:
        space = TermSpace()
        space.encode_counts((t, 1) for t in terms)
        gc.collect()
        start = time.perf_counter()
        space.idf()
        return time.perf_counter() - start

    first = weigh()
    again = min(weigh() for _ in range(rounds))
    print(f"first idf(): {first:.3f} s (imports wordfreq, loads its English table)")
    print(f"then: {again:.3f} s (look-ups and blend; best of {rounds})")
    base = TermSpace()
    base.encode_counts((t, 1) for t in terms)
    start = time.perf_counter()
    base.idf(prior_weight=0.0)
    print(f"crawl IDF alone: {time.perf_counter() - start:.4f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=int, default=20, help="stories of a topic as its site")
    parser.add_argument("--related", type=float, default=0.6, help="related per topic story")
    parser.add_argument("--others", type=float, default=0.2, help="unrelated share of the crawl")
    parser.add_argument("--pages", type=int, default=60, help="related/unrelated scored a topic")
    parser.add_argument("--prior-weight", type=float, default=relevance.PRIOR_WEIGHT)
    parser.add_argument("--thresholds", type=float, nargs="*", default=[15, 25, 30, 35, 40, 45, 50])
    parser.add_argument("--vocabulary", type=int, default=200_000)
    parser.add_argument("--unknown", type=float, default=0.3, help="made-up share of it")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    stories = load_stories(DATA / "docs.jsonl.gz")
    print(f"{len(stories):,} stories, {len({s.topic for s in stories})} topics ({DATA})")
    bench_weights(stories, args.vocabulary, args.unknown, args.rounds)
    cases = niche_cases(stories, args.profile, args.related, args.others, args.pages, args.seed)
    sizes = [len(c.profile) + len(c.pages) + len(c.rest) for c in cases]
    print(
        f"\nNiche crawls: {min(sizes)}-{max(sizes)} stories each, {1 - args.others:.0%} the "
        f"topic and its group; {args.profile} profile stories; scored per topic: held-out "
        f"same-topic, up to {args.pages} related and {args.pages} unrelated"
    )
    start = time.perf_counter()
    relevance.PRIOR_WEIGHT = args.prior_weight
    methods = run(stories, cases)
    print(f"scored in {time.perf_counter() - start:.1f} s")
    report(methods, cases, args.thresholds)


if __name__ == "__main__":
    main()
