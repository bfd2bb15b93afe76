"""The host graph: hosts as indices, links between them as sparse CSR matrices.

Built from ``host_edges`` (one document per source host with its out-links, written at the end
of a crawl: ``vocabulary.edges_of``), read in batches with a projection. Edges are gathered in
typed arrays (24 bytes each) and turned into CSR once, so memory grows with hosts and edges,
never with pages.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from backlink_spider.vocabulary import EDGE_FIELDS, edges_of

logger = logging.getLogger(__name__)

EdgeScale = Literal["log", "count", "binary"]

__all__ = ["EdgeScale", "GraphBuilder", "HostGraph", "load_host_graph"]


@dataclass(frozen=True)
class HostGraph:
    """Hosts and the links between them: ``links`` counts all links, ``followed`` only those
    without nofollow/ugc/sponsored. Row = source host, column = destination host."""

    hosts: list[str]
    index: dict[str, int]
    links: sp.csr_array
    followed: sp.csr_array

    @property
    def n(self) -> int:
        return len(self.hosts)

    @property
    def edges(self) -> int:
        return int(self.links.nnz)

    def ids(self, hosts: Iterable[str]) -> np.ndarray:
        """Indices of the given hosts that are in the graph (unknown ones are skipped)."""
        found = [self.index[h] for h in hosts if h in self.index]
        return np.asarray(sorted(set(found)), dtype=np.int64)

    def out_degree(self) -> np.ndarray:
        """Distinct hosts each host links to."""
        return np.diff(self.links.indptr).astype(np.int64)

    def in_degree(self) -> np.ndarray:
        """Distinct hosts linking to each host."""
        return np.bincount(self.links.indices, minlength=self.n).astype(np.int64)

    def weights(self, nofollow_weight: float = 0.0, scale: EdgeScale = "log") -> sp.csr_array:
        """The vote matrix for TrustRank: followed links, plus ``nofollow_weight`` of the others.

        ``scale="log"`` uses log(1 + links) so that a footer link repeated on 500 pages outweighs
        one editorial link by 9x, not 500x; "count" keeps raw counts; "binary" counts a host pair
        once. Edges left with zero weight are dropped.
        """
        if not 0.0 <= nofollow_weight <= 1.0:
            raise ValueError("nofollow_weight must be between 0 and 1")
        if nofollow_weight > 0:
            matrix = self.followed * (1.0 - nofollow_weight) + self.links * nofollow_weight
        else:
            matrix = self.followed.copy()
        matrix = sp.csr_array(matrix)
        matrix.eliminate_zeros()
        if scale == "log":
            np.log1p(matrix.data, out=matrix.data)
        elif scale == "binary":
            matrix.data[:] = 1.0
        elif scale != "count":
            raise ValueError(f"unknown edge scale {scale!r}")
        return matrix


class GraphBuilder:
    """Collects hosts and edges, then builds the CSR matrices once (duplicates are summed)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.hosts: list[str] = []
        self._src = array("i")
        self._dst = array("i")
        self._links = array("d")
        self._followed = array("d")

    def add_host(self, host: str) -> int:
        i = self.index.get(host)
        if i is None:
            i = self.index[host] = len(self.hosts)
            self.hosts.append(host)
        return i

    def add_edge(self, src: str, dst: str, links: float, followed: float) -> None:
        """One host pair; self-links are ignored (a host cannot vouch for itself)."""
        if not src or not dst or src == dst:
            return
        links = max(float(links), 0.0)
        followed = min(max(float(followed), 0.0), links)
        if links <= 0:
            return
        self._src.append(self.add_host(src))
        self._dst.append(self.add_host(dst))
        self._links.append(links)
        self._followed.append(followed)

    def build(self) -> HostGraph:
        n = len(self.hosts)
        src = np.frombuffer(self._src, dtype=np.int32) if self._src else np.empty(0, np.int32)
        dst = np.frombuffer(self._dst, dtype=np.int32) if self._dst else np.empty(0, np.int32)
        links = np.frombuffer(self._links) if self._links else np.empty(0)
        followed = np.frombuffer(self._followed) if self._followed else np.empty(0)
        links_m = sp.csr_array((links, (src, dst)), shape=(n, n))
        followed_m = sp.csr_array((followed, (src, dst)), shape=(n, n))
        links_m.sum_duplicates()
        followed_m.sum_duplicates()
        return HostGraph(list(self.hosts), dict(self.index), links_m, followed_m)


def load_host_graph(
    db: Any, *, extra_hosts: Sequence[str] = (), batch_size: int = 5000
) -> HostGraph:
    """Every stored host edge as a graph; ``extra_hosts`` (seeds…) are added even if unlinked."""
    builder = GraphBuilder()
    for host in extra_hosts:
        if host:
            builder.add_host(host)
    for doc in db.host_edges.find({}, EDGE_FIELDS, batch_size=max(1, batch_size // 100)):
        for src, dst, links, followed, _pages in edges_of(doc):
            builder.add_edge(src, dst, links, followed)
    graph = builder.build()
    logger.info("Host graph: %d hosts, %d edges", graph.n, graph.edges)
    return graph
