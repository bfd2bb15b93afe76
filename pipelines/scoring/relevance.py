"""Topic relevance: the target's profile against each linking page, its site and its anchor.

TF-IDF cosine, in a small numpy/scipy implementation: it runs offline, needs no model download
and no scikit-learn, and keeps the term strings so reasons can name the shared terms. Terms are
only ever values (in reason strings), never keys of a stored document.

Text in, scores out: ``TermSpace`` turns texts into term-count rows and document frequencies
and weighs terms (``idf``: the crawl's IDF blended with a general-language prior from wordfreq,
loaded only then, never at crawl time), ``tfidf`` weights and normalizes rows,
``topic_profile`` builds the target's vector (its own pages plus the niche keywords) and
``score_links`` compares each link's page, site and anchor with it. ``score_texts`` wires the
lot for a handful of texts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

__all__ = [
    "STOP_WORDS",
    "Relevance",
    "TermSpace",
    "TopicProfile",
    "format_terms",
    "page_terms",
    "parse_terms",
    "prior_rates",
    "score_links",
    "score_texts",
    "tfidf",
    "tokenize",
    "top_terms",
    "topic_profile",
]

# Weights of the three signals in the raw relevance (cosines and anchor share are 0-1).
PAGE_WEIGHT = 0.55
SITE_WEIGHT = 0.25
ANCHOR_WEIGHT = 0.20
# Page or site cosine from which the anchor counts in full: about where a page is no longer
# off-topic on its own (cosine 0.1 → 41), so a keyword anchor on an off-topic page stays off-topic.
ANCHOR_GATE = 0.1
# relevance = 100 · (1 - exp(-raw / SCALE)): raw 0.15 → 63, 0.3 → 86, 0.03 (a passing mention)
# → 18. On real news (benchmarks/relevance.py, page = site, no anchor) same-topic stories have
# a median of 77, stories of a related topic 44 and of unrelated topics 35.
SCALE = 0.15
# Below this a link is "off-topic": on that news, 60% of unrelated stories and 3% of same-topic
# ones (the old scoring, at its 15, flagged 12% of unrelated ones).
OFF_TOPIC_BELOW = 40.0
TOP_TERMS = 40  # profile terms an anchor is matched against
SHOWN_TERMS = 3  # terms named in a reason

# Term weights: the crawl's own IDF blended with a general-language prior (wordfreq). In a niche
# crawl the niche's own words are on nearly every page, so the crawl alone weighs them least;
# the prior still knows them as rare in the language, hence telling of the topic.
# idf = (1 - w)·crawl idf + w·prior idf: a geometric blend of the two document rates.
PRIOR_WEIGHT = 0.5
PRIOR_LANGUAGES: tuple[str, ...] = ("en",)  # wordfreq codes; a term is as common as in the
# commonest of them. English only by default: pages of other languages mostly use words the
# English list does not know, which then weigh by the crawl's IDF and the rare cap.
DOC_TOKENS = 100  # content words of a short page: word frequency f → document rate 1 - e^(-f·100)
PRIOR_FLOOR = 1e-8  # frequency of a term wordfreq does not know: its lists' own floor

# Letters and digits of any script; "_" is a word character to re but not to a reader.
_WORD_RE = re.compile(r"[^\W_]+")
# Scripts written without spaces between words: indexed as character bigrams.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNSPACED_RE = re.compile(f"[{_UNSPACED}]")
_UNSPACED_SPLIT_RE = re.compile(f"([{_UNSPACED}]+)")

_ENGLISH = """
a about above after again against all almost also although always am among an and another any
anyone anything are around as at away back be became because become been before being below
between both but by can cannot could did do does doing done down during each either else enough
etc even ever every few for from further get gets getting give given go goes going got had has
have having he her here hers herself him himself his how however i if in into is it its itself
just least less like made make many may me might more most much must my myself near need neither
never new next no nor not now of off often on once one only onto or other others our ours
ourselves out over own per perhaps quite rather re really said same say says see seen shall she
should since so some something sometimes still such than that the their theirs them themselves
then there therefore these they this those though through thus to too toward towards under until
up upon us use used using very via was we well were what whatever when where whether which while
who whom whose why will with within without would yet you your yours yourself yourselves
ll ve don doesn didn isn aren wasn weren won wouldn shouldn couldn hasn haven hadn let lets
two three four five six seven eight nine ten first second third last want wants way ways thing
things lot lots bit good great best better little big day days week weeks year years time times
keep put take takes find know think look looks come comes went yes ok okay
"""
# Words every site's chrome repeats: they say nothing about a topic.
_WEB = """
home page pages menu search login log sign signup register account cart checkout cookie cookies
privacy policy terms copyright reserved rights contact skip navigation nav toggle click here read
more share tweet facebook twitter instagram linkedin pinterest youtube email subscribe newsletter
comment comments reply posted post posts author admin tag tags category categories archive
archives previous next older newer top back view www http https com org net html php
"""
# The commonest function words of a few other languages, so their pages are not matched on them.
_OTHER = """
der die das und ist nicht ein eine einer eines dem den des zu mit sich auf für im von sie es
als auch wie wir ihr aus bei oder nach wird werden noch nur über dass kann
le la les un une des du de et est pas pour dans sur au aux qui que ce cette il elle nous vous
sont avec plus par se ou
el los las una unos unas y es en por con para como pero su sus al lo más
il gli di da che non per con una sono della delle degli
het een en van op te dat niet voor met zijn aan ook als bij
o os as um uma em não com mais por na no
"""
STOP_WORDS: frozenset[str] = frozenset((_ENGLISH + _WEB + _OTHER).split())


def _fold(word: str) -> str:
    """English plural folding, light on purpose: roses → rose, berries → berry, glass stays."""
    if not word.isascii() or len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ss", "us", "is")):
        return word
    return word[:-1]


def _word_terms(word: str) -> tuple[str, ...]:
    """The terms of one case-folded word: none, itself folded, or bigrams of unspaced runs."""
    if _UNSPACED_RE.search(word) is None:
        return _plain_terms(word)
    terms: list[str] = []
    for part in _UNSPACED_SPLIT_RE.split(word):
        if not part:
            continue
        if _UNSPACED_RE.match(part):
            if len(part) == 1:
                terms.append(part)
            else:
                terms.extend(part[i : i + 2] for i in range(len(part) - 1))
        else:
            terms.extend(_plain_terms(part))
    return tuple(terms)


def _plain_terms(word: str) -> tuple[str, ...]:
    if len(word) < 2 or len(word) > 40 or word.isdigit() or word in STOP_WORDS:
        return ()
    word = _fold(word)
    return () if word in STOP_WORDS else (word,)


# Words repeat (Zipf): remembering each word's terms makes tokenizing a dict lookup per word.
_TERMS_CACHE: dict[str, tuple[str, ...]] = {}
_TERMS_CACHE_SIZE = 200_000


def tokenize(text: str) -> list[str]:
    """Terms of a text: Unicode words, case-folded (NFKC), without stop words or numbers.

    Thai and CJK runs, written without spaces, become overlapping character bigrams.
    """
    out: list[str] = []
    if not text:
        return out
    cache = _TERMS_CACHE
    for word in _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold()):
        terms = cache.get(word)
        if terms is None:
            terms = _word_terms(word)
            if len(cache) < _TERMS_CACHE_SIZE:
                cache[word] = terms
        if terms:
            out.extend(terms)
    return out


def top_terms(text: str, limit: int) -> list[tuple[str, int]]:
    """A text's ``limit`` most frequent terms with their counts, most frequent first (ties by
    term): what ``page_terms`` stores, and what the crawl's focus reads of a page."""
    counts = Counter(tokenize(text))
    return sorted(counts.items(), key=lambda tc: (-tc[1], tc[0]))[: max(0, limit)]


def format_terms(pairs: Iterable[tuple[str, int]]) -> str:
    """(term, count) pairs as stored with a page: "compost 12 rose 7 …"."""
    return " ".join(f"{term} {count}" for term, count in pairs)


def page_terms(text: str, limit: int) -> str:
    """A page's ``limit`` most frequent terms with their counts, as stored with the page
    (``pages.terms``): "compost 12 rose 7 …", most frequent first (ties by term).

    What relevance reads of a page, in about 2 KB where its text took up to 40: the few
    hundred commonest terms carry most of a page's weight in a TF-IDF cosine (on real pages,
    the 200 commonest hold about 78% of the term occurrences). Terms never contain spaces."""
    return format_terms(top_terms(text, limit))


def parse_terms(stored: str) -> list[tuple[str, int]]:
    """The (term, count) pairs of a page's stored ``terms``; malformed pairs are skipped."""
    parts = stored.split() if isinstance(stored, str) else []
    pairs: list[tuple[str, int]] = []
    for term, count in zip(parts[0::2], parts[1::2], strict=False):
        if count.isdigit():
            pairs.append((term, int(count)))
    return pairs


@lru_cache(maxsize=8)
def _frequencies(language: str) -> dict[str, float]:
    # Imported here, not at the top: the crawl imports this module for ``tokenize`` and
    # ``page_terms`` and must not pay for wordfreq (0.1 s, ~40 MB a language).
    import wordfreq

    return wordfreq.get_frequency_dict(language, wordlist="best")


def _term_frequency(term: str, table: dict[str, float]) -> float:
    """A term's frequency in a word list: itself plus the plurals ``_fold`` merged into it."""
    get = table.get
    f = get(term, 0.0)
    if term.isascii() and len(term) >= 3:
        f += get(term + "s", 0.0)
        if term[-1] == "y":
            f += get(term[:-1] + "ies", 0.0)
    return f


def prior_rates(terms: Sequence[str], languages: Sequence[str] = PRIOR_LANGUAGES) -> np.ndarray:
    """The share of general-language pages each term would be on: 1 - e^(-f·DOC_TOKENS), f its
    word frequency (wordfreq) in the commonest of ``languages``.

    A term no list knows (a name, a typo, a word of another language) is as rare as the lists'
    floor: rare weighs much, but no more than a term on none of the crawl's pages. Bigrams of
    unspaced scripts (Thai, CJK) are no words of any list: NaN, no prior."""
    tables = [_frequencies(lang) for lang in languages]
    if len(tables) == 1:
        table = tables[0]
        freq = np.asarray([_term_frequency(t, table) for t in terms], dtype=np.float64)
    else:
        freq = np.asarray(
            [max(_term_frequency(t, table) for table in tables) for t in terms], dtype=np.float64
        )
    rates = -np.expm1(-np.maximum(freq, PRIOR_FLOOR) * DOC_TOKENS)
    unknown = np.flatnonzero(freq == 0)
    rates[[i for i in unknown.tolist() if _UNSPACED_RE.search(terms[i])]] = np.nan
    return rates


class TermSpace:
    """A vocabulary (term → dense id) and document frequencies, grown as texts are added.

    Its ``idf`` blends the crawl's document frequencies with a general-language prior."""

    def __init__(
        self,
        *,
        prior_weight: float = PRIOR_WEIGHT,
        languages: Sequence[str] = PRIOR_LANGUAGES,
    ) -> None:
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []
        self._df = np.zeros(1024, dtype=np.int64)  # document frequency by id (room to grow)
        self.n_docs = 0
        self.prior_weight = prior_weight
        self.languages = tuple(languages)
        self._rates = np.empty(0)  # prior document rates of the first terms, looked up once

    def __len__(self) -> int:
        return len(self.terms)

    def _add_terms(self, new: Iterable[str]) -> None:
        for term in new:
            if term not in self.ids:
                self.ids[term] = len(self.terms)
                self.terms.append(term)
        if len(self.terms) > len(self._df):
            grown = np.zeros(max(2 * len(self._df), len(self.terms)), dtype=np.int64)
            grown[: len(self._df)] = self._df
            self._df = grown

    def _counted(self, ids: np.ndarray, document: bool) -> None:
        if document:
            self.n_docs += 1
            np.add.at(self._df, ids, 1)

    def encode(
        self, text: str, *, add: bool = True, document: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, counts) of a text. ``add`` grows the vocabulary (else unknown terms are
        dropped); ``document`` counts the text in the document frequencies (IDF)."""
        return self.encode_counts(Counter(tokenize(text)).items(), add=add, document=document)

    def encode_counts(
        self, pairs: Iterable[tuple[str, int]], *, add: bool = True, document: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``encode`` for terms already counted."""
        pairs = list(pairs)
        if add:
            self._add_terms(term for term, _ in pairs if term not in self.ids)
        known = [(self.ids[term], count) for term, count in pairs if term in self.ids]
        ids = np.asarray([i for i, _ in known], dtype=np.int32)
        counts = np.asarray([float(c) for _, c in known], dtype=np.float64)
        self._counted(ids, document)
        return ids, counts

    def encode_stored(
        self, stored: str, *, document: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``encode_counts(parse_terms(stored))`` for a stored page's ``terms``, without a
        Python step per term: 100,000 pages of 250 terms are read at every scoring."""
        parts = stored.split()
        terms, counts = parts[0::2], parts[1::2]
        if len(terms) != len(counts) or not all(map(str.isdigit, counts)):
            return self.encode_counts(parse_terms(stored), document=document)
        ids_of = self.ids
        if not all(map(ids_of.__contains__, terms)):
            self._add_terms(terms)
        ids = np.fromiter(map(ids_of.__getitem__, terms), dtype=np.int32, count=len(terms))
        self._counted(ids, document)
        return ids, np.fromiter(map(int, counts), dtype=np.float64, count=len(counts))

    def crawl_idf(self) -> np.ndarray:
        """Smoothed inverse document frequency in the crawl alone: ln((1 + N) / (1 + df)) + 1."""
        df = self._df[: len(self.terms)].astype(np.float64)
        return np.log((1.0 + self.n_docs) / (1.0 + df)) + 1.0

    def prior_idf(self) -> np.ndarray:
        """The IDF each term would have in as many general-language pages as the crawl has:
        ln((1 + N) / (1 + N·rate)) + 1, so prior and crawl share a scale and a cap (NaN: no
        prior). Each term is looked up once (``prior_rates``); new terms on the next call."""
        known = len(self._rates)
        if known < len(self.terms):
            fresh = prior_rates(self.terms[known:], self.languages)
            self._rates = np.concatenate([self._rates, fresh])
        n = float(self.n_docs)
        return np.log((1.0 + n) / (1.0 + n * self._rates[: len(self.terms)])) + 1.0

    def idf(self, prior_weight: float | None = None) -> np.ndarray:
        """The term weights: crawl IDF blended with the general-language prior.

        ``prior_weight`` (default ``self.prior_weight``) is the prior's share; 0 is the crawl's
        IDF alone and loads no word list."""
        w = self.prior_weight if prior_weight is None else prior_weight
        crawl = self.crawl_idf()
        if w <= 0 or not self.terms:
            return crawl
        prior = self.prior_idf()
        return (1.0 - w) * crawl + w * np.where(np.isnan(prior), crawl, prior)


class Rows:
    """Term-count rows (one per document), gathered in lists and built into CSR once."""

    def __init__(self) -> None:
        self._indptr = [0]
        self._ids: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._indptr) - 1

    def append(self, ids: np.ndarray, counts: np.ndarray) -> int:
        self._ids.append(ids)
        self._counts.append(counts)
        self._indptr.append(self._indptr[-1] + len(ids))
        return len(self._indptr) - 2

    def build(self, n_terms: int) -> sp.csr_array:
        indices = np.concatenate(self._ids) if self._ids else np.empty(0, np.int32)
        data = np.concatenate(self._counts) if self._counts else np.empty(0)
        indptr = np.asarray(self._indptr, dtype=np.int64)
        return sp.csr_array((data, indices, indptr), shape=(len(self), n_terms))


class SummedRows:
    """Term-count rows summed per key (a site's pages), compacted as they come in: memory grows
    with each key's distinct terms, not with its pages (100,000 stored pages are read whole)."""

    COMPACT_AT = 1 << 16  # pending term counts of one key before they are summed

    def __init__(self, keys: Iterable[str]) -> None:
        self.index = {key: i for i, key in enumerate(keys)}
        self._parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in self.index]
        self._pending = [0] * len(self.index)
        self.added = [0] * len(self.index)  # rows summed into each key

    def add(self, key: str, ids: np.ndarray, counts: np.ndarray) -> None:
        """Sum a row into ``key``'s; a key not given at the start is ignored."""
        i = self.index.get(key)
        if i is None:
            return
        parts = self._parts[i]
        parts.append((ids, counts))
        self.added[i] += 1
        self._pending[i] += len(ids)
        if self._pending[i] >= self.COMPACT_AT:
            parts[:] = [_summed(parts)]
            self._pending[i] = max(len(parts[0][0]), self.COMPACT_AT // 2)

    def build(self, n_terms: int) -> sp.csr_array:
        """One row per key, in the order the keys were given."""
        rows = Rows()
        for parts in self._parts:
            rows.append(*_summed(parts))
        return rows.build(n_terms)


def _summed(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.empty(0, np.int32), np.empty(0)
    ids, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]))
    return ids.astype(np.int32), counts


def _row_ids(matrix: sp.csr_array) -> np.ndarray:
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def tfidf(counts: sp.csr_array | sp.csr_matrix, idf: np.ndarray) -> sp.csr_array:
    """Rows weighted (1 + ln tf) · idf and scaled to unit length (empty rows stay empty)."""
    matrix = sp.csr_array(counts, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.data = (1.0 + np.log(matrix.data)) * idf[matrix.indices]
    rows = _row_ids(matrix)
    norms = np.sqrt(np.bincount(rows, weights=matrix.data**2, minlength=matrix.shape[0]))
    if matrix.nnz:
        matrix.data /= norms[rows]
    return matrix


@dataclass(frozen=True)
class TopicProfile:
    """The target's topic: a unit tf-idf vector over the term space, and its strongest terms."""

    vector: np.ndarray
    top_ids: np.ndarray
    terms: Sequence[str] = field(repr=False)

    @property
    def empty(self) -> bool:
        return self.top_ids.size == 0

    def top_terms(self, k: int = 10) -> list[str]:
        return [self.terms[i] for i in self.top_ids[:k]]


def topic_profile(
    counts: np.ndarray,
    idf: np.ndarray,
    terms: Sequence[str],
    *,
    keyword_ids: Iterable[int] = (),
    top_n: int = TOP_TERMS,
) -> TopicProfile:
    """The profile from summed term counts of the target's pages (dense, one per term) and the
    niche keywords' term ids, which count as much as the pages' most frequent term.

    Weighted count · idf, without the (1 + ln tf) a single page gets: on a sum over pages that
    damping made a term of one page weigh nearly as much as a term of all of them, and the
    profile drifted to whatever its pages mention in passing (on real news, same-topic vs
    unrelated AUC 0.91 with it, 0.96 without; ``benchmarks/relevance.py``)."""
    counts = np.array(counts, dtype=np.float64)
    keyword_ids = np.fromiter(keyword_ids, dtype=np.int64)
    if keyword_ids.size:
        counts[keyword_ids] += max(1.0, float(counts.max(initial=0.0)))
    vector = np.zeros(counts.shape)
    positive = counts > 0
    vector[positive] = counts[positive] * idf[positive]
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        return TopicProfile(vector, np.empty(0, np.int64), terms)
    vector /= norm
    nonzero = np.flatnonzero(vector)
    top = nonzero[np.argsort(-vector[nonzero], kind="stable")][:top_n]
    return TopicProfile(vector, top, terms)


@dataclass(frozen=True)
class Relevance:
    """A link's relevance, 0-100, with the parts it was made of and reasons to show."""

    score: float
    page: float  # cosine of the linking page and the profile
    site: float  # cosine of the linking site (all its stored pages) and the profile
    anchor: float  # share of the anchor's terms among the profile's top terms
    reasons: list[str]


def _shared(matrix: sp.csr_array, row: int, profile: TopicProfile, k: int) -> list[str]:
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    contrib = matrix.data[start:end] * profile.vector[matrix.indices[start:end]]
    order = np.argsort(-contrib, kind="stable")[:k]
    return [profile.terms[matrix.indices[start + j]] for j in order if contrib[j] > 0]


def score_links(
    profile: TopicProfile,
    pages: sp.csr_array,
    page_of_link: Sequence[int] | np.ndarray,
    sites: sp.csr_array,
    site_of_link: Sequence[int] | np.ndarray,
    anchors: Sequence[tuple[np.ndarray, int]],
) -> list[Relevance]:
    """Relevance of each link from its page row, site row (tf-idf, unit rows) and anchor.

    ``anchors`` holds, per link, the anchor's known term ids and its number of distinct terms.
    raw = 0.55·cos(page) + 0.25·cos(site) + 0.20·anchor share·gate, where the gate
    min(1, max(cos(page), cos(site)) / 0.05) keeps a keyword anchor on an off-topic page from
    counting; score = 100·(1 - e^(-raw/0.15)).
    """
    n = len(anchors)
    if profile.empty:
        return [Relevance(0.0, 0.0, 0.0, 0.0, ["no topic profile"]) for _ in range(n)]
    page_cos = pages @ profile.vector
    site_cos = sites @ profile.vector
    top = set(profile.top_ids.tolist())
    shared_cache: dict[tuple[int, int], list[str]] = {}
    results: list[Relevance] = []
    for i in range(n):
        p, s = int(page_of_link[i]), int(site_of_link[i])
        ids, n_terms = anchors[i]
        matched = [int(t) for t in ids if int(t) in top]
        anchor = len(matched) / n_terms if n_terms else 0.0
        pc = float(page_cos[p]) if p >= 0 else 0.0
        sc = float(site_cos[s]) if s >= 0 else pc
        # A keyword anchor on an off-topic page is a manipulation sign, not relevance: the
        # anchor counts only as far as the page or its site is on topic.
        gate = min(1.0, max(pc, sc) / ANCHOR_GATE)
        raw = PAGE_WEIGHT * pc + SITE_WEIGHT * sc + ANCHOR_WEIGHT * anchor * gate
        score = 100.0 * (1.0 - math.exp(-raw / SCALE))
        reasons: list[str] = []
        if p >= 0:
            key = (0, p)
            if key not in shared_cache:
                shared_cache[key] = _shared(pages, p, profile, SHOWN_TERMS)
            if shared_cache[key] and pc >= 0.01:
                reasons.append("shares terms: " + ", ".join(shared_cache[key]))
        if not reasons and s >= 0 and sc >= 0.01:
            key = (1, s)
            if key not in shared_cache:
                shared_cache[key] = _shared(sites, s, profile, SHOWN_TERMS)
            if shared_cache[key]:
                reasons.append("site shares terms: " + ", ".join(shared_cache[key]))
        if matched:
            names = [profile.terms[t] for t in matched[:SHOWN_TERMS]]
            reasons.append("anchor on topic: " + ", ".join(names))
        if score < OFF_TOPIC_BELOW:
            reasons.append("off-topic")
        results.append(Relevance(round(score, 2), pc, sc, anchor, reasons))
    return results


def score_texts(
    profile_texts: Sequence[str],
    pages: Sequence[str],
    *,
    keywords: Sequence[str] = (),
    sites: Sequence[str] | None = None,
    anchors: Sequence[str] | None = None,
    corpus: Sequence[str] = (),
    prior_weight: float = PRIOR_WEIGHT,
) -> list[Relevance]:
    """Relevance of each page (with its site text and anchor, if given) to the profile texts.

    The crawl IDF comes from every text given (profile, pages, sites, ``corpus``), blended
    with the general-language prior at ``prior_weight`` (0: the crawl's alone).
    """
    space = TermSpace(prior_weight=prior_weight)
    rows = Rows()
    profile_rows = [rows.append(*space.encode(t, document=True)) for t in profile_texts]
    page_rows = [rows.append(*space.encode(t, document=True)) for t in pages]
    site_rows = (
        page_rows
        if sites is None
        else [rows.append(*space.encode(t, document=True)) for t in sites]
    )
    for text in corpus:
        space.encode(text, document=True)
    keyword_ids = [int(i) for k in keywords for i in space.encode(k)[0]]
    anchor_terms = []
    for text in anchors if anchors is not None else [""] * len(pages):
        ids, _ = space.encode(text, add=False)
        anchor_terms.append((ids, len(set(tokenize(text)))))
    matrix = rows.build(len(space))
    idf = space.idf()
    profile_counts = np.asarray(matrix[profile_rows].sum(axis=0)).ravel()
    profile = topic_profile(profile_counts, idf, space.terms, keyword_ids=keyword_ids)
    weighted = tfidf(matrix, idf)
    return score_links(
        profile,
        weighted[page_rows],
        np.arange(len(pages)),
        weighted[site_rows],
        np.arange(len(pages)),
        anchor_terms,
    )
