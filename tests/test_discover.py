"""Discovery in Common Crawl's web graph (issue 17): ``pipelines.commongraph``, ``scrapy
discover``, and the crawl of the discovered sites (``-a discovered=N``).

On the shared test graph (``../shared/data/webgraph/``: LAW's cnr-2000, 325,557 nodes, in CC's
domain layout with synthetic names ``example-site-NNNNNN.test`` and honestly computed ranks):
the lookup's answers are checked against oracles computed here, independently: a scan of the
whole forward graph, and the vertex and rank files read line by line. The names are ``.test``
names, so the synthetic web can serve them: the crawl test serves the very sites the graph
says link to its target.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import webgraph

from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.vocabulary import DISCOVERED, FROM_COMMON_CRAWL, SOURCE
from pipelines.commongraph import (
    RANKS_COLUMNS,
    CommonGraph,
    GraphError,
    GraphFiles,
    Rank,
    harmonic_ranks,
    reverse_name,
)
from pipelines.target_profile import graph_key, load_profile
from tests.conftest import FAST, SHARED_DATA, MongoServer, Run, run_scrapy, scrapy_env
from tests.test_cli import assert_one_line_error

GRAPHS = SHARED_DATA / "webgraph"
NAME = "test-cnr-2000-domain"
BASE = GRAPHS / NAME
TARGET = "example-site-000219.test"  # 291 in-links, as the graph's README says
RIVAL = "example-site-000156.test"  # shares 14 referring domains with the target, 20 not
MADE_UP = "no-such-rival.test"  # a competitor the graph does not hold


def site(node: int) -> str:
    return f"example-site-{node:06d}.test"


@dataclass
class Oracle:
    """The test graph read the slow, obvious way."""

    names: list[str]  # node -> domain, from every line of the vertices file
    predecessors: dict[int, set[int]]  # node -> nodes linking to it, from the forward graph
    ranks: dict[str, tuple[str, ...]]  # domain -> its ranks row's text fields
    header: str

    def referring(self, node: int) -> set[str]:
        return {self.names[u] for u in self.predecessors[node] if u != node}


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    with gzip.open(f"{BASE}-vertices.txt.gz", "rt") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh]
    assert [int(r[0]) for r in rows] == list(range(len(rows)))
    names = [reverse_name(r[1]) for r in rows]
    wanted = {219, 156}
    predecessors: dict[int, set[int]] = {v: set() for v in wanted}
    forward = webgraph.BvGraph(str(BASE))
    for u in range(forward.num_nodes()):
        for v in forward.successors(u):
            if v in wanted:
                predecessors[v].add(u)
    with gzip.open(f"{BASE}-ranks.txt.gz", "rt") as fh:
        header = fh.readline().rstrip("\n")
        ranks = {}
        for line in fh:
            fields = tuple(line.rstrip("\n").split("\t"))
            ranks[reverse_name(fields[4])] = fields
    return Oracle(names, predecessors, ranks, header)


@pytest.fixture(scope="module")
def graph() -> CommonGraph:
    return CommonGraph.open(BASE)


def test_the_referring_domains_are_those_a_scan_of_the_forward_graph_finds(
    graph: CommonGraph, oracle: Oracle
) -> None:
    found = graph.discover(TARGET)
    assert found.nodes == {TARGET: (219,)}
    names = [r.name for r in found.of(TARGET)]
    assert len(names) == len(set(names)) == 291
    assert set(names) == oracle.referring(219)
    assert TARGET not in names  # the test graph's self-loop is no backlink
    for r in found.referrers:
        assert oracle.names[r.node] == r.name
        assert r.links_to == (TARGET,)


def test_ranks_are_read_in_common_crawls_exact_format(graph: CommonGraph, oracle: Oracle) -> None:
    assert oracle.header.split("\t") == [*RANKS_COLUMNS, "#n_hosts"]
    found = graph.discover(TARGET).of(TARGET)
    for r in found:
        hc_pos, hc, pr_pos, pr, _name, _hosts = oracle.ranks[r.name]
        assert r.rank == Rank(int(hc_pos), float(hc), int(pr_pos), float(pr))
    # best first: CC's harmonic-centrality positions, ascending
    positions = [r.rank.harmonic_pos for r in found if r.rank]
    assert len(positions) == len(found) and positions == sorted(positions)
    # Java's Float/Double.toString, as CC prints them: the first and last rows of the file
    top = harmonic_ranks(BASE, ["example-site-272816.test", "example-site-180633.test", MADE_UP])
    assert top == {
        "example-site-272816.test": Rank(1, 40986.582, 13, 0.0024792323830389756),
        "example-site-180633.test": Rank(325557, 3299.2222, 173704, 9.116422907368405e-7),
    }
    assert oracle.ranks["example-site-180633.test"][3] == "9.116422907368405E-7"


def test_the_gap_is_right_for_a_made_up_competitor(graph: CommonGraph, oracle: Oracle) -> None:
    found = graph.discover(TARGET, [RIVAL, MADE_UP])
    assert found.nodes[MADE_UP] == ()  # not in the graph: no referrers, no error
    assert {r.name for r in found.of(RIVAL)} == oracle.referring(156)
    gap = {r.name for r in found.gap}
    want = oracle.referring(156) - oracle.referring(219) - {TARGET, RIVAL}
    assert gap == want and len(gap) >= 5
    shared = oracle.referring(156) & oracle.referring(219)
    assert shared and all(
        set(r.links_to) == {TARGET, RIVAL} for r in found.of(RIVAL) if r.name in shared
    )
    assert not {TARGET, RIVAL} & {r.name for r in found.candidates}


def test_a_lookup_streams_the_names_instead_of_loading_them(graph: CommonGraph) -> None:
    """The lookup holds a chunk of the files and what it found, never every name: its peak is
    a fraction of what the names alone take in a dict (the README's way)."""
    tracemalloc.start()
    with gzip.open(f"{BASE}-vertices.txt.gz", "rt") as fh:
        everything = {line.split("\t")[1]: int(line.split("\t")[0]) for line in fh}
    loaded = tracemalloc.get_traced_memory()[1]
    del everything
    tracemalloc.stop()
    tracemalloc.start()
    graph.discover(TARGET, [RIVAL])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < loaded / 2, (peak, loaded)


def test_a_host_level_graph_finds_every_host_of_the_domain(tmp_path: Path, oracle: Oracle) -> None:
    """The host layout: vertices in parts listed by ``-vertices.paths.gz``, names with a host
    of the target's domain on node 220 (``blog.``), no ranks file (best: the most linked)."""
    base = tmp_path / "test-cnr-2000-host"
    for ext in ("graph", "properties", "ef"):
        (tmp_path / f"{base.name}-t.{ext}").symlink_to(GRAPHS / f"{NAME}-t.{ext}")
    (tmp_path / "vertices").mkdir()
    names = [reverse_name(n) for n in oracle.names]
    names[220] = reverse_name(f"blog.{TARGET}")
    half = len(names) // 2
    parts = []
    for index, (start, end) in enumerate(((0, half), (half, len(names)))):
        part = f"part-{index:05d}-x.txt.gz"
        parts.append(f"projects/hyperlinkgraph/x/host/vertices/{part}")
        with gzip.open(tmp_path / "vertices" / part, "wt") as fh:
            fh.writelines(f"{i}\t{names[i]}\n" for i in range(start, end))
    with gzip.open(tmp_path / f"{base.name}-vertices.paths.gz", "wt") as fh:
        fh.write("\n".join(parts) + "\n")

    host_graph = CommonGraph.open(base)
    assert host_graph.files.level == "host" and len(host_graph.files.vertices) == 2
    found = host_graph.discover(TARGET)
    assert found.nodes[TARGET] == (219, 220)
    want = (oracle.referring(219) | {oracle.names[u] for u in host_graph.in_neighbours(220)}) - {
        oracle.names[219],
        oracle.names[220],
    }
    assert {r.name for r in found.referrers} == want
    assert all(r.rank is None for r in found.referrers)
    degrees = [r.indegree for r in found.referrers]
    assert degrees == sorted(degrees, reverse=True)


# -- scrapy discover ----------------------------------------------------------------------------


@dataclass
class Store:
    db: Any
    env: dict[str, str]

    def scrapy(self, *args: str) -> Run:
        return run_scrapy(list(args), self.env)


@pytest.fixture(scope="module")
def store(mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    name = f"discover_{os.getpid()}"
    client = mongo_server.client()
    env = scrapy_env(
        MONGO_URI=mongo_server.uri,
        MONGO_DATABASE=name,
        BACKLINKS_DATA_DIR=str(tmp_path_factory.mktemp("discover-data")),
    )
    yield Store(client[name], env)
    client.drop_database(name)
    client.close()


def test_discover_prints_the_lookup_and_keeps_the_sites_in_the_profile(
    store: Store, oracle: Oracle
) -> None:
    run = store.scrapy(
        "discover", TARGET, "--webgraph", str(BASE), "--competitors", f"{RIVAL},{MADE_UP}"
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert f"{TARGET} in {NAME}" in out
    assert "291 referring domains" in out and "not in the graph" in out
    gap = oracle.referring(156) - oracle.referring(219) - {TARGET, RIVAL}
    assert f"{len(gap)} linking to a competitor, not to {TARGET}" in out
    assert "stored" in out and "-a discovered=" in out

    profile = load_profile(store.db, TARGET)
    assert profile is not None and profile.competitors == ()  # looking up is no choice
    stored = profile.discovered
    want = (oracle.referring(219) | oracle.referring(156)) - {TARGET, RIVAL}
    assert {s.name for s in stored} == want
    assert all(s.graph == NAME and s.level == "domain" for s in stored)
    first = stored[0]
    hc_pos, hc, pr_pos, pr, *_ = oracle.ranks[first.name]
    assert (first.harmonic_pos, first.harmonic, first.pagerank_pos, first.pagerank) == (
        int(hc_pos),
        float(hc),
        int(pr_pos),
        float(pr),
    )
    assert first.discovered_at is not None
    doc = store.db.targets.find_one({"_id": TARGET})
    assert list(doc[DISCOVERED]) == [graph_key(NAME)]

    again = store.scrapy(
        "discover", TARGET, "--webgraph", str(BASE), "--competitors", RIVAL, "-O", "-"
    )
    assert again.returncode == 0, again.stderr
    lines = [line for line in again.stdout.splitlines() if line.strip()]
    assert len(lines) == len(oracle.referring(219) | oracle.referring(156))  # watched ones too
    assert len(load_profile(store.db, TARGET).discovered) == len(want)  # replaced, not added


MISTAKES = {
    "no --webgraph": ([], 2, "give the graph"),
    "no such directory": (["--webgraph", "{tmp}/nowhere/x-domain"], 2, "there is no directory"),
    "not a CC basename": (["--webgraph", "{tmp}/good/graph"], 2, "ends in -domain or -host"),
    "no .ef": (["--webgraph", "{tmp}/no-ef/x-domain"], 2, "webgraph build ef"),
    "no vertices": (["--webgraph", "{tmp}/no-vertices/x-domain"], 2, "missing"),
    "bad .ef": (["--webgraph", "{tmp}/bad-ef/x-domain"], 1, "cannot open"),
    "vertices not gzip": (["--webgraph", "{tmp}/not-gzip/x-domain"], 1, "cannot read"),
    "vertices not CC's": (["--webgraph", "{tmp}/bad-vertices/x-domain"], 1, "not a vertices line"),
    "ranks not CC's": (["--webgraph", "{tmp}/bad-ranks/x-domain"], 1, "not a Common Crawl ranks"),
}


def _graph_dir(root: Path, name: str, *, skip: tuple[str, ...] = ()) -> Path:
    """``root/name/x-domain*``: links to the shared graph's files, but those in ``skip``."""
    folder = root / name
    folder.mkdir()
    for suffix in ("-t.graph", "-t.properties", "-t.ef", "-vertices.txt.gz", "-ranks.txt.gz"):
        if suffix not in skip:
            (folder / f"x-domain{suffix}").symlink_to(GRAPHS / f"{NAME}{suffix}")
    return folder


@pytest.fixture(scope="module")
def broken_graphs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("graphs")
    _graph_dir(root, "good")
    _graph_dir(root, "no-ef", skip=("-t.ef",))
    _graph_dir(root, "no-vertices", skip=("-vertices.txt.gz",))
    (_graph_dir(root, "bad-ef", skip=("-t.ef",)) / "x-domain-t.ef").write_bytes(b"epserde " * 9)
    folder = _graph_dir(root, "not-gzip", skip=("-vertices.txt.gz",))
    (folder / "x-domain-vertices.txt.gz").write_text("0\tcom.example\t1\n")
    folder = _graph_dir(root, "bad-vertices", skip=("-vertices.txt.gz",))
    with gzip.open(folder / "x-domain-vertices.txt.gz", "wt") as fh:
        fh.write(f"node zero is {reverse_name(TARGET)}\n" * 400_000)
    folder = _graph_dir(root, "bad-ranks", skip=("-ranks.txt.gz",))
    with gzip.open(folder / "x-domain-ranks.txt.gz", "wt") as fh:
        fh.write("harmonic\tpagerank\tname\n1\t0.5\tcom.example\n")
    return root


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_missing_or_malformed_file_is_one_line(
    mistake: str, broken_graphs: Path, tmp_path: Path
) -> None:
    args, code, needle = MISTAKES[mistake]
    argv = [a.replace("{tmp}", str(broken_graphs)) for a in args]
    env = scrapy_env(BACKLINKS_DATA_DIR=str(tmp_path / "data"))  # nothing stored, none made
    run = run_scrapy(["discover", TARGET, *argv, "--competitors", RIVAL, "--no-store"], env)
    assert_one_line_error(run, code, needle)
    assert not (tmp_path / "data" / "db").exists()


def test_the_library_says_the_same_in_one_line(broken_graphs: Path) -> None:
    with pytest.raises(GraphError, match="webgraph build ef"):
        GraphFiles.locate(broken_graphs / "no-ef" / "x-domain")
    with pytest.raises(GraphError) as failed:
        CommonGraph.open(broken_graphs / "bad-vertices" / "x-domain").discover(TARGET)
    assert "\n" not in str(failed.value)


# -- the crawl of discovered sites ---------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f"<body><main><h1>{title}</h1>{body}</main></body></html>"
    )


def discovered_web(best: list[str]) -> Web:
    """The target, and the three best-ranked sites the graph says link to it: the first links
    to it today, the second no longer does, the third is gone from the web."""
    web = Web("discovered")
    web.target = TARGET
    web.site(TARGET).page("/", _page("Target", "<p>Our own home page.</p>"))
    linking, silent, _gone = best
    web.site(linking).page(
        "/",
        _page(
            "Resources",
            f'<p>We recommend <a href="https://{TARGET}/guide/">the target\'s guide</a>, '
            'and our <a href="/about/">about page</a>.</p>',
        ),
    )
    web.site(linking).page("/about/", _page("About", "<p>Who we are.</p>"))
    web.site(TARGET).page("/guide/", _page("Guide", "<p>The guide.</p>"))
    web.site(silent).page("/", _page("Elsewhere", "<p>The link is gone from here.</p>"))
    return web


def test_discovered_sites_are_crawled_and_their_links_say_common_crawl_led_there(
    mongo_server: MongoServer, graph: CommonGraph, tmp_path: Path
) -> None:
    best = [r.name for r in graph.discover(TARGET).candidates[:3]]
    web = discovered_web(best)
    name = f"discover_crawl_{os.getpid()}"
    client = mongo_server.client()
    db = client[name]
    try:
        with WebServer(web) as server:
            env = scrapy_env(
                server.proxy_url,
                MONGO_URI=mongo_server.uri,
                MONGO_DATABASE=name,
                BACKLINKS_DATA_DIR=str(tmp_path / "data"),
            )
            crawl = ["crawl", "niche", "-a", f"target={TARGET}", *FAST]
            early = run_scrapy([*crawl, "-a", "discovered=3"], env)
            assert_one_line_error(early, 2, "holds no discovered sites", "scrapy discover")
            assert_one_line_error(
                run_scrapy([*crawl, "-a", "discovered=many"], env),
                2,
                "discovered must be a whole number",
            )

            looked = run_scrapy(["discover", TARGET, "--webgraph", str(BASE)], env)
            assert looked.returncode == 0, looked.stderr
            run = run_scrapy([*crawl, "-a", "discovered=3", "-O", str(tmp_path / "f.jsonl")], env)
            assert run.returncode == 0, run.stderr[-3000:]
            fetched = server.fetched_urls()
    finally:
        shutil.rmtree(tmp_path / "data", ignore_errors=True)
    try:
        links = list(db.backlinks.find({"matched_domain": TARGET}))
        assert [(d["source_url"], d["target_url"], d[SOURCE]) for d in links] == [
            (f"https://{best[0]}/", f"https://{TARGET}/guide/", FROM_COMMON_CRAWL)
        ]
        assert run.feed(tmp_path / "f.jsonl")[0][SOURCE] == FROM_COMMON_CRAWL
        assert f"https://{best[0]}/about/" in fetched  # the pages it leads to, as a seed's
        record = db.crawls.find_one({"target": TARGET})
        assert record["discovered_sites"] == [f"https://{s}/" for s in best]
        outcome = record[DISCOVERED]
        assert (outcome["confirmed"], outcome["not_found"], outcome["unreachable"]) == (1, 1, 1)
        assert outcome["sites"] == {
            "confirmed": [best[0]],
            "not_found": [best[1]],
            "unreachable": [best[2]],
        }  # one site each
        # The summary says the same; the discovered site's Common Crawl rank is its trust's
        # floor (the seeds reach nothing here), and its reasons say so.
        words = " ".join(run.stdout.split())
        assert "sites from Common Crawl: 1 confirmed, 1 not found, 1 unreachable" in words
        scores = links[0]["scores"]
        assert scores["site_trust"] > 0
        assert any(r.startswith("Common Crawl rank #") for r in scores["reasons"])
        profile = load_profile(db, TARGET)
        assert profile is not None and profile.seeds == ()  # discovered is not trusted
        assert not db.pages.find_one({"is_seed": True})
    finally:
        client.drop_database(name)
        client.close()


def test_a_link_keeps_what_led_to_it_when_a_later_crawl_meets_it_otherwise(mongo_db) -> None:
    from datetime import UTC, datetime

    from itemadapter import ItemAdapter
    from pymongo import UpdateOne

    from backlink_spider.items import Backlink
    from pipelines.mongo import backlink_op

    _, db = mongo_db
    link = Backlink(source_url=f"https://{site(283)}/", target_url=f"https://{TARGET}/")
    now = datetime.now(UTC)
    for crawl, source in (("c1", FROM_COMMON_CRAWL), ("c2", None)):
        link.source = source
        op = backlink_op(ItemAdapter(link), crawl, now)
        db.backlinks.bulk_write([UpdateOne(op.filter, op.update, upsert=True)])
    assert db.backlinks.find_one()[SOURCE] == FROM_COMMON_CRAWL
