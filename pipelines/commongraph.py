"""Common Crawl's web graph, read where it lies: which domains (or hosts) link to a site.

Common Crawl (CC) publishes a domain-level and a host-level graph of each quarter's crawl as
BVGraph files, with their transpose, a vertex file and a ranks file. A lookup reads them in
place, never loading the graph or the names whole (the domain graph has ~100 M nodes):

- the **transpose** (``<basename>-t.graph``, memory-mapped by the ``webgraph`` package): a
  node's successors there are the sites that link to it. The forward graph is never read.
- the **vertices** (``<basename>-vertices.txt.gz``: ``id<TAB>reversed name[<TAB>n_hosts]``,
  one line per node in id order): streamed in large chunks. A name is found with a byte search
  of each chunk (the line is parsed only where it matches) and, in a domain graph whose names
  CC sorts, the stream stops past the last name asked for; a node's name is found by counting
  lines (only chunks that hold an asked-for id are split).
- the **ranks** (``<basename>-ranks.txt.gz``, optional): CC's exact layout, a header and one row
  per node sorted by harmonic-centrality position, ``#harmonicc_pos #harmonicc_val #pr_pos
  #pr_val #host_rev [#n_hosts]``; streamed until every asked-for name was met.

Memory is the chunk being read plus the referring sites found (their ids and names); time is
about one pass over the compressed name and rank files (see ``benchmarks/discover.py``).

The ``webgraph`` package (0.2.0) needs an Elias-Fano offsets file (``.ef``, ε-serde format 2)
beside each graph it opens; CC does not publish it: it is built once (``EF_HINT``).
"""

from __future__ import annotations

import gzip
import math
import time
import zlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEVELS = ("domain", "host")
# The ranks file's header (cc-webgraph ``process_webgraph.sh``); a domain graph's adds n_hosts.
RANKS_COLUMNS = ("#harmonicc_pos", "#harmonicc_val", "#pr_pos", "#pr_val", "#host_rev")
CHUNK_BYTES = 1 << 20  # decompressed bytes read at a time: the bulk of a lookup's memory
FIND_LIMIT = 8  # up to this many names a chunk is searched for each (faster); past it, split
EF_HINT = (
    "Common Crawl does not publish the .ef offsets the webgraph package reads: build them once "
    "with webgraph-cli (webgraph build ef {basename})"
)


class GraphError(ValueError):
    """A graph file that is missing, unreadable or not in Common Crawl's layout; the message
    is the whole story, on one line."""


def reverse_name(name: str) -> str:
    """``www.example.com`` <-> ``com.example.www``: how CC's vertex and rank files name sites."""
    return ".".join(reversed(name.split(".")))


def graph_name(name: str, level: str) -> str:
    """A site's name as a CC graph of ``level`` spells it, reversed: host graphs drop a
    leading ``www.``; names are lower case ASCII (IDNA)."""
    name = name.strip().lower().rstrip(".")
    if level == "host" and name.startswith("www."):
        name = name[4:]
    return reverse_name(name)


@dataclass(frozen=True)
class Rank:
    """A node's ranks as CC publishes them: 1-based positions by decreasing value (ties to the
    lower node id) and the values, harmonic centrality and PageRank."""

    harmonic_pos: int
    harmonic: float
    pagerank_pos: int
    pagerank: float


@dataclass(frozen=True)
class Referrer:
    """A site that links to a watched domain, in the graph: its name (normal order), node id,
    the watched domains it links to, how many sites of the graph link to it, and its ranks."""

    name: str
    node: int
    links_to: tuple[str, ...]
    indegree: int
    rank: Rank | None = None

    def order(self) -> tuple[float, int, str]:
        """Best first: CC's harmonic-centrality position; without ranks, the most linked."""
        return (self.rank.harmonic_pos if self.rank else math.inf, -self.indegree, self.name)


@dataclass(frozen=True)
class Discovery:
    """What a graph says of a target and its competitors."""

    graph: str  # the graph's name: its basename without the directory
    level: str  # domain or host
    target: str
    competitors: tuple[str, ...]
    nodes: dict[str, tuple[int, ...]]  # watched domain -> its nodes; () when not in the graph
    referrers: tuple[Referrer, ...]  # every site linking to a watched domain, best first
    seconds: dict[str, float] = field(default_factory=dict)  # each step's time

    @property
    def watched(self) -> tuple[str, ...]:
        return (self.target, *self.competitors)

    def of(self, domain: str) -> list[Referrer]:
        """The sites linking to ``domain``, best first."""
        return [r for r in self.referrers if domain in r.links_to]

    @property
    def gap(self) -> list[Referrer]:
        """Sites linking to a competitor and not to the target (the watched sites left out)."""
        watched = set(self.watched)
        return [
            r
            for r in self.referrers
            if self.target not in r.links_to and not _is_watched(r.name, watched)
        ]

    @property
    def candidates(self) -> list[Referrer]:
        """The referring sites worth crawling: all but the watched ones, best first."""
        watched = set(self.watched)
        return [r for r in self.referrers if not _is_watched(r.name, watched)]


def _is_watched(name: str, watched: set[str]) -> bool:
    return any(name == d or name.endswith(f".{d}") for d in watched)


# -- the files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphFiles:
    """Where a graph's files are, from its basename (``…/cc-main-2024-25-nov-dec-jan-domain``):
    the files CC publishes under it, and the ``.ef`` beside the transpose."""

    basename: Path
    level: str
    vertices: tuple[Path, ...]  # one file, or a host graph's parts in id order
    ranks: Path | None

    @property
    def name(self) -> str:
        return self.basename.name

    @property
    def transpose(self) -> Path:
        return self.basename.with_name(f"{self.basename.name}-t")

    @classmethod
    def locate(cls, basename: str | Path) -> GraphFiles:
        """The files of the graph ``basename``; ``GraphError`` names the first one missing."""
        base = Path(basename).expanduser()
        for suffix in ("-t.graph", ".graph", ".properties", "-t"):
            if base.name.endswith(suffix) and base.name != suffix:
                base = base.with_name(base.name.removesuffix(suffix))
                break
        level = next((lv for lv in LEVELS if base.name.endswith(f"-{lv}")), "")
        if not level:
            raise GraphError(
                f"{base}: a Common Crawl graph's basename ends in -domain or -host "
                "(cc-main-2024-25-nov-dec-jan-domain)"
            )
        if not base.parent.is_dir():
            raise GraphError(f"{base}: there is no directory {base.parent}")
        transpose = base.with_name(f"{base.name}-t")
        for ext in ("graph", "properties"):
            path = transpose.with_name(f"{transpose.name}.{ext}")
            if not path.is_file():
                raise GraphError(f"missing {path}: download it from Common Crawl with the graph")
        ef = transpose.with_name(f"{transpose.name}.ef")
        if not ef.is_file():
            raise GraphError(f"missing {ef}: {EF_HINT.format(basename=transpose)}")
        ranks = base.with_name(f"{base.name}-ranks.txt.gz")
        return cls(base, level, _vertex_files(base, level), ranks if ranks.is_file() else None)


def _vertex_files(base: Path, level: str) -> tuple[Path, ...]:
    """``<base>-vertices.txt.gz``; for a host graph, else the parts its ``-vertices.paths.gz``
    lists, found by file name beside the basename or in a ``vertices/`` directory there."""
    single = base.with_name(f"{base.name}-vertices.txt.gz")
    listing = base.with_name(f"{base.name}-vertices.paths.gz")
    if single.is_file() or level == "domain" or not listing.is_file():
        if not single.is_file():
            raise GraphError(f"missing {single}: download it from Common Crawl with the graph")
        return (single,)
    try:
        with gzip.open(listing, "rt", encoding="utf-8") as fh:
            names = [Path(line.strip()).name for line in fh if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise GraphError(f"cannot read {listing}: {exc}") from None
    parts = []
    for name in sorted(names):  # part-00000-…, part-00001-…: id order
        found = next(
            (p for p in (base.parent / name, base.parent / "vertices" / name) if p.is_file()), None
        )
        if found is None:
            raise GraphError(f"missing {base.parent / name}: a vertices part {listing} lists")
        parts.append(found)
    if not parts:
        raise GraphError(f"{listing} lists no vertices files")
    return tuple(parts)


# -- streaming the text files -------------------------------------------------------------------


def _chunks(paths: Iterable[Path]) -> Iterator[tuple[Path, bytes]]:
    """The decompressed files as chunks of whole lines (each ends with a newline)."""
    for path in paths:
        rest = b""
        try:
            with gzip.open(path, "rb") as fh:
                while block := fh.read(CHUNK_BYTES):
                    cut = block.rfind(b"\n")
                    if cut < 0:
                        rest += block
                        continue
                    chunk, rest = rest + block[: cut + 1], block[cut + 1 :]
                    yield path, chunk
        except (OSError, EOFError, zlib.error) as exc:  # not gzip, cut short, unreadable
            raise GraphError(f"cannot read {path}: {exc}") from None
        if rest.strip():
            yield path, rest + b"\n"


def _line_at(chunk: bytes, pos: int) -> bytes:
    """The line of ``chunk`` that holds byte ``pos``, without its newline."""
    start = chunk.rfind(b"\n", 0, pos) + 1
    return chunk[start : chunk.index(b"\n", pos)]


def _find_names(chunk: bytes, names: Iterable[bytes], *, prefix: bool) -> Iterator[bytes]:
    """Lines of ``chunk`` whose tab-delimited field is one of ``names`` (or, with ``prefix``,
    a name under it: ``com.site.blog`` under ``com.site``)."""
    for name in names:
        needle = b"\t" + name
        at = chunk.find(needle)
        while at >= 0:
            end = at + len(needle)
            after = chunk[end : end + 1]
            if after in (b"\t", b"\n") or (prefix and after == b"."):
                yield _line_at(chunk, at + 1)
            at = chunk.find(needle, end)


def _vertex_line(line: bytes, path: Path) -> tuple[int, bytes]:
    parts = line.split(b"\t", 2)
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1]:
        shown = line[:80].decode("utf-8", "replace")
        raise GraphError(f"{path}: not a vertices line (id<TAB>reversed name): {shown!r}")
    return int(parts[0]), parts[1].rstrip(b"\r")


class CommonGraph:
    """A CC graph opened for lookups (``open``); the transpose is memory-mapped."""

    def __init__(self, files: GraphFiles, transpose: Any):
        self.files = files
        self.transpose = transpose

    @classmethod
    def open(cls, basename: str | Path) -> CommonGraph:
        """The graph of ``basename``; ``GraphError`` (one line) when it cannot be read."""
        files = GraphFiles.locate(basename)
        import webgraph  # the Rust bindings: only for a lookup

        try:
            transpose = webgraph.BvGraph(str(files.transpose))
        except (ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = ""
            if ".ef" in str(exc) or "version" in str(exc).lower() or "hash" in str(exc).lower():
                hint = f" ({EF_HINT.format(basename=files.transpose)}, for webgraph 0.2.0)"
            raise GraphError(f"cannot open {files.transpose}.graph: {first[:300]}{hint}") from None
        return cls(files, transpose)

    @property
    def num_nodes(self) -> int:
        return int(self.transpose.num_nodes())

    @property
    def num_arcs(self) -> int:
        return int(self.transpose.num_arcs())

    # -- names and ids ----------------------------------------------------------------------

    def node_ids(self, names: Iterable[str]) -> dict[str, tuple[int, ...]]:
        """Each name's nodes: a domain graph's one node of the domain; a host graph's every
        host of the registered domain (its reversed name and all under it). () when absent.

        One stream over the vertices, stopped (domain graphs, sorted by name) once past the
        last name asked for."""
        level = self.files.level
        wanted = {graph_name(n, level).encode(): n for n in names}
        found: dict[str, list[int]] = {n: [] for n in wanted.values()}
        if not wanted:
            return {}
        last = max(wanted)
        previous = b""
        for path, chunk in _chunks(self.files.vertices):
            for line in _find_names(chunk, wanted, prefix=level == "host"):
                node, name = _vertex_line(line, path)
                for asked, domain in wanted.items():
                    if name == asked or (level == "host" and name.startswith(asked + b".")):
                        found[domain].append(node)
            if level == "domain":  # sorted: every name up to this chunk's last has been met
                final = _vertex_line(_line_at(chunk, len(chunk) - 1), path)[1]
                if final < previous:
                    raise GraphError(f"{path}: names are not sorted, as CC sorts a domain graph's")
                previous = final
                if final >= last:
                    break
        return {domain: tuple(sorted(set(ids))) for domain, ids in found.items()}

    def names_of(self, ids: Iterable[int]) -> dict[int, str]:
        """Each node's name, normal order. Lines are counted, not parsed: only chunks holding
        an asked-for id are split, and the stream stops after the largest."""
        wanted = sorted(set(ids))
        names: dict[int, str] = {}
        if not wanted:
            return names
        if wanted[0] < 0 or wanted[-1] >= self.num_nodes:
            raise GraphError(f"node {wanted[-1]} is not in the graph ({self.num_nodes} nodes)")
        first = 0  # the id of the chunk's first line
        for path, chunk in _chunks(self.files.vertices):
            count = chunk.count(b"\n")
            lo, hi = bisect_left(wanted, first), bisect_left(wanted, first + count)
            if lo < hi:
                lines = chunk.split(b"\n")
                for node in wanted[lo:hi]:
                    got, name = _vertex_line(lines[node - first], path)
                    if got != node:
                        raise GraphError(
                            f"{path}: line {node + 1} holds node {got}: not one line per node "
                            "in id order, as CC writes vertices"
                        )
                    names[node] = reverse_name(name.decode("utf-8", "replace"))
            first += count
            if first > wanted[-1]:
                break
        if len(names) < len(wanted):
            raise GraphError(
                f"{self.files.vertices[-1]}: {first} vertices for a graph of {self.num_nodes} "
                "nodes: the file is cut short or of another graph"
            )
        return names

    def in_neighbours(self, node: int) -> list[int]:
        """The nodes linking to ``node`` (its successors in the transpose), itself left out:
        CC removes self-loops, and a test graph may keep them."""
        return [v for v in self.transpose.successors(node) if v != node]

    # -- ranks ------------------------------------------------------------------------------

    def ranks(self, names: Iterable[str]) -> dict[str, Rank]:
        """CC's ranks of ``names`` (normal order); {} without a ranks file."""
        if self.files.ranks is None:
            return {}
        level = self.files.level
        asked = {graph_name(n, level): n for n in names}
        found = read_ranks(self.files.ranks, asked)
        return {asked[name]: rank for name, rank in found.items()}

    # -- the lookup -------------------------------------------------------------------------

    def discover(self, target: str, competitors: Iterable[str] = ()) -> Discovery:
        """The sites linking to the target and to each competitor (registered domains), their
        ranks, and so the gap: see ``Discovery``."""
        rivals = tuple(dict.fromkeys(c for c in competitors if c != target))
        watched = (target, *rivals)
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        nodes = self.node_ids(watched)
        seconds["find"] = time.perf_counter() - started

        started = time.perf_counter()
        links_to: dict[int, list[str]] = {}
        for domain in watched:
            own = set(nodes[domain])
            for node in nodes[domain]:
                for v in self.in_neighbours(node):
                    if v not in own:
                        seen = links_to.setdefault(v, [])
                        if domain not in seen:
                            seen.append(domain)
        indegree = {v: int(self.transpose.outdegree(v)) for v in links_to}
        seconds["in_links"] = time.perf_counter() - started

        started = time.perf_counter()
        names = self.names_of(links_to)
        seconds["names"] = time.perf_counter() - started

        started = time.perf_counter()
        ranks = self.ranks(names.values())
        seconds["ranks"] = time.perf_counter() - started

        referrers = sorted(
            (
                Referrer(names[v], v, tuple(sorted(ds)), indegree[v], ranks.get(names[v]))
                for v, ds in links_to.items()
            ),
            key=Referrer.order,
        )
        return Discovery(
            graph=self.files.name,
            level=self.files.level,
            target=target,
            competitors=rivals,
            nodes=nodes,
            referrers=tuple(referrers),
            seconds={k: round(v, 4) for k, v in seconds.items()},
        )


def _rank_row(line: bytes, path: Path, columns: int) -> tuple[bytes, Rank]:
    parts = line.rstrip(b"\r").split(b"\t")
    if len(parts) != columns:
        shown = line[:80].decode("utf-8", "replace")
        raise GraphError(f"{path}: a row of {len(parts)} columns, not {columns}: {shown!r}")
    try:
        rank = Rank(int(parts[0]), float(parts[1]), int(parts[2]), float(parts[3]))
    except ValueError:
        shown = line[:80].decode("utf-8", "replace")
        raise GraphError(f"{path}: not a ranks row: {shown!r}") from None
    return parts[4], rank


def _name_field(row: bytes) -> bytes:
    """A ranks row's ``#host_rev`` (its fifth column), b"" when it has none."""
    parts = row.split(b"\t", 5)
    return parts[4].rstrip(b"\r") if len(parts) > 4 else b""


def read_ranks(path: Path, names: Iterable[str]) -> dict[str, Rank]:
    """The rows of a ranks file in CC's layout for ``names`` (reversed, as the file spells
    them), streamed until all were met; ``GraphError`` for another layout."""
    wanted = {n.encode() for n in names}
    found: dict[str, Rank] = {}
    columns = 0
    for _, chunk in _chunks([path]):
        if not columns:
            header, _, chunk = chunk.partition(b"\n")
            fields = tuple(header.rstrip(b"\r").decode("utf-8", "replace").split("\t"))
            if fields[:5] != RANKS_COLUMNS or fields[5:] not in ((), ("#n_hosts",)):
                raise GraphError(
                    f"{path}: not a Common Crawl ranks file (its header is {header[:120]!r}, "
                    f"not {chr(9).join(RANKS_COLUMNS)}[{chr(9)}#n_hosts])"
                )
            columns = len(fields)
        if not wanted:
            break
        if len(wanted) <= FIND_LIMIT:
            lines: Iterable[bytes] = _find_names(chunk, list(wanted), prefix=False)
        else:  # the name column of every row, then the rows asked for
            rows = chunk.split(b"\n")
            lines = (row for row in rows if _name_field(row) in wanted)
        for line in lines:
            name, rank = _rank_row(line, path, columns)
            if name in wanted:
                found[name.decode()] = rank
                wanted.discard(name)
    if not columns:
        raise GraphError(f"{path}: empty, not a Common Crawl ranks file")
    return found


def harmonic_ranks(basename: str | Path, names: Iterable[str]) -> dict[str, Rank]:
    """CC's ranks of hosts or domains (normal order: ``www.site.com``, ``site.com``) from the
    ranks file of the graph ``basename``, for a global prior of site trust: one stream over
    the file, no graph opened. {} when the graph has no ranks file."""
    base = Path(basename).expanduser()
    level = next((lv for lv in LEVELS if base.name.endswith(f"-{lv}")), "domain")
    path = base.with_name(f"{base.name}-ranks.txt.gz")
    if not path.is_file():
        return {}
    asked = {graph_name(n, level): n for n in names}
    return {asked[name]: rank for name, rank in read_ranks(path, asked).items()}
