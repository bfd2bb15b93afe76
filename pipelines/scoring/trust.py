"""TrustRank and Anti-TrustRank on a host graph: sparse power iteration, pure numpy/scipy.

Graph in, vectors out; no MongoDB here. ``weights`` is an nxn sparse matrix whose entry (i, j)
is how much of host i's vote goes to host j (zero for links that pass no trust).

The iteration never builds a dense matrix and never copies the graph. With P = D⁻¹W (W's rows
divided by their sums) one step needs Pᵀx = Wᵀ(D⁻¹x): the out-degree scaling is applied to the
*vector* (n multiplications) and Wᵀ is scipy's transposed view of the CSR arrays (a CSC matrix
over the same memory), so the matrix is held once, exactly as the caller built it. Anti-TrustRank
runs on the reversed graph, where the same trick gives W(D_in⁻¹x): a plain CSR product.
(A transposed, row-normalized copy made once would double the memory and, on cnr-2000, its
products were slower: 11 ms against 8.3 ms for the view.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

DAMPING = 0.85
TOLERANCE = 1e-9  # L1 change between two iterations
MAX_ITERATIONS = 1000
TRUST_DECADES = 6.0  # orders of magnitude below a seed's trust that map to 0 on the 0-100 scale
TOP_SHARE = 0.001  # of the reached hosts: at most this share sits above the scale's top
RANK_WEIGHT = 0.5  # the most a Common Crawl rank alone gives, as a share of 100
RANK_DECADES = 8.0  # rank positions from 1 to 10^8 (Common Crawl's ~10^8 domains) map to 100..0

__all__ = [
    "DAMPING",
    "MAX_ITERATIONS",
    "TOLERANCE",
    "TRUST_DECADES",
    "Ranking",
    "anti_trustrank",
    "combine_trust",
    "farm_suspects",
    "log_scale",
    "personalized_pagerank",
    "rank_prior",
    "relative_to_seeds",
    "scale_0_100",
    "seed_hops",
    "seed_trust",
    "teleport_vector",
    "top_anchor",
    "trustrank",
]


@dataclass(frozen=True)
class Ranking:
    """A stationary distribution (sums to 1) and how the iteration got there."""

    scores: np.ndarray
    iterations: int
    delta: float  # L1 change of the last iteration
    converged: bool


def _as_csr(weights: Any) -> sp.csr_array | sp.csr_matrix:
    if not sp.issparse(weights):
        raise TypeError("weights must be a scipy.sparse matrix")
    matrix = weights.tocsr()  # no copy when it is CSR already
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"weights must be square, not {matrix.shape}")
    if matrix.nnz and matrix.data.min() < 0:
        raise ValueError("weights must not be negative")
    return matrix


def teleport_vector(n: int, seeds: Sequence[int] | np.ndarray, shares: Any = None) -> np.ndarray:
    """The restart distribution: mass only on ``seeds`` (equal, or proportional to ``shares``)."""
    v = np.zeros(n, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.size == 0:
        return v
    if seeds.min() < 0 or seeds.max() >= n:
        raise IndexError("seed index out of range")
    w = np.ones(seeds.size) if shares is None else np.asarray(shares, dtype=np.float64)
    if w.shape != seeds.shape or (w < 0).any() or w.sum() <= 0:
        raise ValueError("shares must be non-negative, one per seed, not all zero")
    np.add.at(v, seeds, w)
    v /= v.sum()
    return v


def personalized_pagerank(
    weights: Any,
    teleport: np.ndarray,
    *,
    damping: float = DAMPING,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
    reverse: bool = False,
    leak: bool = False,
) -> Ranking:
    """x ← d·Pᵀx + (d·m(x) + 1 - d)·v, from x = v, until ‖Δx‖₁ < tol or max_iter steps.

    P is ``weights`` row-normalized (``reverse``: its transpose, row-normalized, i.e. votes flow
    against the links). m(x) is the mass on dangling nodes (no outgoing weight): it goes back
    to the teleport distribution v, not uniformly to every node, so a host the seeds never
    reach keeps exactly zero and the total stays 1. With ``leak`` it is dropped instead
    (x ← d·Pᵀx + (1 - d)·v): x is then linear in v, the sum of what each seed alone gives.
    """
    matrix = _as_csr(weights)
    n = matrix.shape[0]
    v = np.asarray(teleport, dtype=np.float64)
    if v.shape != (n,):
        raise ValueError(f"teleport must have shape ({n},), not {v.shape}")
    total = v.sum()
    if total <= 0:  # no seeds: nothing to propagate
        return Ranking(np.zeros(n), 0, 0.0, True)
    if not 0 < damping < 1:
        raise ValueError("damping must be between 0 and 1")
    v = v / total
    support = np.flatnonzero(v)  # the seeds: restarts touch these entries only
    v_support = v[support]
    ones = np.ones(n)
    if reverse:
        degree = matrix.T @ ones  # in-weight: distrust splits among the hosts linking in
        step = matrix  # (D_in⁻¹Wᵀ)ᵀx = W(D_in⁻¹x): a CSR product
    else:
        degree = matrix @ ones
        step = matrix.T  # a CSC view of the same arrays, no copy
    del ones
    # d / out-degree, once: each step is then one scaling, one product and the restart.
    scale = np.divide(damping, degree, out=np.zeros(n), where=degree > 0)
    del degree

    x = v.copy()
    buffer = np.empty(n)
    delta = np.inf
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        np.multiply(x, scale, out=buffer)
        y = step @ buffer
        # Whatever did not flow along an edge (dangling mass, and the 1 - d restart) goes to v.
        y[support] += ((1.0 - damping) if leak else (1.0 - y.sum())) * v_support
        np.subtract(y, x, out=buffer)
        np.abs(buffer, out=buffer)
        delta = float(buffer.sum())
        x = y
        if delta < tol:
            break
    converged = delta < tol
    if not converged:
        logger.warning("PageRank stopped after %d iterations, L1 change %.3g", iterations, delta)
    return Ranking(x, iterations, delta, converged)


def trustrank(
    weights: Any, seeds: Sequence[int] | np.ndarray, shares: Any = None, **kwargs: Any
) -> Ranking:
    """TrustRank: PageRank whose restarts land only on trusted ``seeds`` (Gyöngyi et al. 2004)."""
    n = weights.shape[0]
    return personalized_pagerank(weights, teleport_vector(n, seeds, shares), **kwargs)


def anti_trustrank(
    weights: Any, seeds: Sequence[int] | np.ndarray, shares: Any = None, **kwargs: Any
) -> Ranking:
    """Anti-TrustRank: distrust from known-bad ``seeds`` flows backwards, to hosts linking them."""
    n = weights.shape[0]
    return personalized_pagerank(weights, teleport_vector(n, seeds, shares), reverse=True, **kwargs)


def seed_trust(
    weights: Any,
    seeds: Sequence[int] | np.ndarray,
    shares: Any = None,
    *,
    reverse: bool = False,
    **kwargs: Any,
) -> Ranking:
    """Trust as the sum of what each seed passes, in units of a lone seed's own score.

    Every seed restarts with its own unit of mass (``shares`` split a seed site's unit among
    its hosts) and mass reaching a dangling host is dropped, so the result is linear in the
    seeds: removing a seed changes exactly the hosts it reaches, and a host's trust does not
    depend on how many other seeds there are or on how far they reach. A seed no other host
    links to scores 1; each step away multiplies by d / out-degree. ``reverse``: distrust,
    flowing against the links (Anti-TrustRank)."""
    n = weights.shape[0]
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.size == 0:
        return Ranking(np.zeros(n), 0, 0.0, True)
    mass = float(np.sum(shares)) if shares is not None else float(seeds.size)
    damping = float(kwargs.get("damping", DAMPING))
    kwargs = {**kwargs, "tol": kwargs.get("tol", TOLERANCE) / mass}  # the same absolute accuracy
    rank = personalized_pagerank(
        weights, teleport_vector(n, seeds, shares), reverse=reverse, leak=True, **kwargs
    )
    scale = mass / (1.0 - damping)
    return Ranking(rank.scores * scale, rank.iterations, rank.delta * scale, rank.converged)


def relative_to_seeds(scores: np.ndarray, seeds: Sequence[int] | np.ndarray) -> np.ndarray:
    """Scores divided by the median score of the seeds (a typical seed is 1); zeros without
    seeds. Makes trust and distrust from different seed sets comparable."""
    scores = np.asarray(scores, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=np.int64)
    seed_scores = scores[seeds] if seeds.size else np.empty(0)
    seed_scores = seed_scores[seed_scores > 0]
    if seed_scores.size == 0:
        return np.zeros(scores.shape)
    return scores / float(np.median(seed_scores))


def log_scale(relative: np.ndarray, *, decades: float = TRUST_DECADES) -> np.ndarray:
    """0-100 from scores relative to a typical seed: 100 · (1 + log10(r) / decades), clipped.

    A typical seed (r = 1) is 100, each factor of 10 below costs 100/decades points, and
    ``decades`` orders of magnitude below, or exactly zero (never reached), is 0.
    """
    relative = np.asarray(relative, dtype=np.float64)
    out = np.zeros(relative.shape)
    positive = relative > 0
    out[positive] = 100.0 * (1.0 + np.log10(relative[positive]) / decades)
    np.clip(out, 0.0, 100.0, out=out)
    return out


def top_anchor(trust: np.ndarray, *, share: float = TOP_SHARE) -> float:
    """The trust that maps to 100: a lone seed's (1), or, when more than ``share`` of the
    reached hosts (and at least one in 1/``share``) get more than that, the level only that
    share exceeds.

    With a handful of seeds the top is a seed and the scale stays linear in the seeds (removing
    one moves only what it reaches). With thousands of seeds, hubs that many of them link to
    collect many seeds' worth of trust: anchored at a lone seed, they (and a fifth of the
    reached web) would clip at 100. Anchored at the top 0.1%, the scale stays spread out.
    """
    reached = np.asarray(trust, dtype=np.float64)
    reached = reached[reached > 0]
    above = int(reached.size * share)
    if above < 1:
        return 1.0
    level = float(np.partition(reached, reached.size - 1 - above)[reached.size - 1 - above])
    return max(1.0, level)


def rank_prior(
    positions: np.ndarray, *, weight: float = RANK_WEIGHT, decades: float = RANK_DECADES
) -> np.ndarray:
    """Site trust (0-100) from a global rank position (1 = best; 0 or less: unranked):
    100 · weight · (1 - log10(position) / decades), clipped at 0.

    For hosts the seeds do not reach: the web at large knows them, so they are not simply 0,
    but a rank alone never lifts a host past ``weight`` of a seed (a rank says a site is known,
    not that it is trustworthy in this niche). Each factor of ten down the ranking costs
    100 · weight / decades points (6.25 with the defaults)."""
    positions = np.asarray(positions, dtype=np.float64)
    out = np.zeros(positions.shape)
    ranked = positions >= 1
    out[ranked] = 100.0 * weight * (1.0 - np.log10(positions[ranked]) / decades)
    np.clip(out, 0.0, 100.0, out=out)
    return out


def scale_0_100(
    scores: np.ndarray, seeds: Sequence[int] | np.ndarray, *, decades: float = TRUST_DECADES
) -> np.ndarray:
    """Probabilities to 0-100 on a log scale anchored at the median seed (see ``log_scale``)."""
    return log_scale(relative_to_seeds(scores, seeds), decades=decades)


def combine_trust(trust: np.ndarray, distrust: np.ndarray, *, strength: float = 1.0) -> np.ndarray:
    """Trust lowered by distrust, both relative to their own seeds: max(0, t - strength · d).

    Linear, before the log map: a seed three links away from a farm keeps nearly all its
    trust, while a host whose distrust matches its trust (it links straight into a known farm)
    drops to 0.
    """
    return np.maximum(np.asarray(trust) - strength * np.asarray(distrust), 0.0)


def seed_hops(adjacency: Any, seeds: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first hops from the nearest seed along edges with positive weight.

    Returns (hops, origin): hops is -1 where no seed reaches, origin the index of the seed the
    shortest path starts from (-1 likewise). One level at a time, vectorized over the frontier.
    """
    matrix = _as_csr(adjacency)
    n = matrix.shape[0]
    hops = np.full(n, -1, dtype=np.int32)
    origin = np.full(n, -1, dtype=np.int64)
    frontier = np.unique(np.asarray(seeds, dtype=np.int64))
    if frontier.size == 0:
        return hops, origin
    hops[frontier] = 0
    origin[frontier] = frontier
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    level = 0
    while frontier.size:
        level += 1
        starts = indptr[frontier]
        counts = indptr[frontier + 1] - starts
        total = int(counts.sum())
        if total == 0:
            break
        # positions of every edge leaving the frontier, without a Python loop over nodes
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        parents = np.repeat(frontier, counts)
        targets = indices[offsets].astype(np.int64)
        keep = (data[offsets] > 0) & (hops[targets] < 0)
        targets, parents = targets[keep], parents[keep]
        frontier, first = np.unique(targets, return_index=True)
        hops[frontier] = level
        origin[frontier] = origin[parents[first]]
    return hops, origin


def farm_suspects(
    adjacency: Any, reached: np.ndarray, *, min_mutual: int = 2, share: float = 0.5
) -> np.ndarray:
    """Hosts in a link-farm neighbourhood: unreached, and linked mostly by a tight cluster.

    A host is in the cluster when the seeds do not reach it and it trades links both ways with
    at least ``min_mutual`` hosts. A suspect is an unreached host with at least two in-links,
    of which at least ``share`` come from cluster hosts (a farm's hosts themselves, and the
    sites it props up). Link direction and existence only; weights are ignored.
    """
    matrix = _as_csr(adjacency)
    n = matrix.shape[0]
    binary = matrix.copy()
    binary.data = (binary.data > 0).astype(np.float64)
    binary.eliminate_zeros()
    binary.setdiag(0)
    binary.eliminate_zeros()
    ones = np.ones(n)
    mutual = binary.multiply(binary.T).tocsr() @ ones
    unreached = ~np.asarray(reached, dtype=bool)
    cluster = unreached & (mutual >= min_mutual)
    in_degree = binary.T @ ones
    from_cluster = binary.T @ cluster.astype(np.float64)
    return unreached & (in_degree >= 2) & (from_cluster >= share * in_degree)
