"""Scoring as pure math: small graphs and texts whose answers are known."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from backlink_spider.vocabulary import edges_of, encode_edges, is_followed, nofollow_flags
from pipelines.profile import rel_kinds
from pipelines.scoring.graph import GraphBuilder, HostGraph
from pipelines.scoring.relevance import (
    Rows,
    SummedRows,
    TermSpace,
    parse_terms,
    score_texts,
    tokenize,
)
from pipelines.scoring.run import link_factor, ordinal, quality
from pipelines.scoring.trust import (
    anti_trustrank,
    combine_trust,
    farm_suspects,
    log_scale,
    personalized_pagerank,
    relative_to_seeds,
    scale_0_100,
    seed_hops,
    seed_trust,
    teleport_vector,
    top_anchor,
    trustrank,
)


def graph_of(edges: list[tuple[str, str, int, int]], hosts: Sequence[str] = ()) -> HostGraph:
    """A HostGraph from (src, dst, links, followed) rows, hosts added in order first."""
    builder = GraphBuilder()
    for host in hosts:
        builder.add_host(host)
    for src, dst, links, followed in edges:
        builder.add_edge(src, dst, links, followed)
    return builder.build()


def test_chain_matches_hand_computation() -> None:
    # seed s -> a -> b (dangling, its mass returns to s); u -> s, and nothing reaches u.
    g = graph_of([("s", "a", 1, 1), ("a", "b", 1, 1), ("u", "s", 1, 1)], ["s", "a", "b", "u"])
    rank = trustrank(g.weights(scale="binary"), [g.index["s"]])
    # x_s = 0.15 + 0.85·x_b, x_a = 0.85·x_s, x_b = 0.85·x_a  =>  x_s = 0.15 / (1 - 0.85³)
    x_s = 0.15 / (1 - 0.85**3)
    expected = {"s": x_s, "a": 0.85 * x_s, "b": 0.85**2 * x_s, "u": 0.0}
    assert rank.converged and rank.delta < 1e-9
    for host, value in expected.items():
        assert rank.scores[g.index[host]] == pytest.approx(value, abs=1e-9)
    assert rank.scores[g.index["u"]] == 0.0  # exactly: no mass ever flows there
    assert rank.scores.sum() == pytest.approx(1.0, abs=1e-12)


def test_matches_networkx_personalized_pagerank() -> None:
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(7)
    n = 60
    edges = {(int(a), int(b)) for a, b in rng.integers(0, n, size=(240, 2)) if a != b}
    weights = {e: float(rng.integers(1, 5)) for e in edges}
    matrix = sp.csr_array(
        ([weights[e] for e in edges], ([e[0] for e in edges], [e[1] for e in edges])),
        shape=(n, n),
    )
    seeds = [0, 5, 9]
    ours = trustrank(matrix, seeds).scores

    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from((a, b, w) for (a, b), w in weights.items())
    restart = {i: (1.0 if i in seeds else 0.0) for i in range(n)}
    oracle = nx.pagerank(
        graph, alpha=0.85, personalization=restart, dangling=restart, tol=1e-13, max_iter=1000
    )
    assert np.allclose(ours, [oracle[i] for i in range(n)], atol=1e-8)


def test_seeds_rank_first_and_map_to_100() -> None:
    edges = [("seed1.test", h, 1, 1) for h in ("good.test", "a1.test", "a2.test", "a3.test")]
    edges += [("seed2.test", h, 1, 1) for h in ("good.test", "b1.test", "b2.test", "b3.test")]
    edges += [("good.test", "other.test", 1, 1), ("good.test", "x.test", 1, 1)]
    edges += [("other.test", "far.test", 1, 1), ("other.test", "y.test", 1, 1)]
    g = graph_of(edges)
    seeds = g.ids(["seed1.test", "seed2.test"])
    rank = trustrank(g.weights(), seeds)
    scaled = scale_0_100(rank.scores, seeds)
    order = [g.hosts[i] for i in np.argsort(-scaled, kind="stable")]
    assert set(order[:2]) == {"seed1.test", "seed2.test"}
    assert order[2] == "good.test"
    assert scaled[seeds].tolist() == [100.0, 100.0]
    assert 0 < scaled[g.index["far.test"]] < scaled[g.index["other.test"]]
    assert scaled[g.index["other.test"]] < scaled[g.index["good.test"]] < 100


def test_scale_is_logarithmic_and_zero_stays_zero() -> None:
    scores = np.array([1e-2, 1e-3, 1e-5, 1e-9, 0.0])
    assert scale_0_100(scores, [0], decades=6).tolist() == pytest.approx(
        [100.0, 100 - 100 / 6, 100 - 300 / 6, 0.0, 0.0]
    )
    assert scale_0_100(scores, []).tolist() == [0.0] * 5  # no seeds, no trust


def test_host_reached_only_through_nofollow_gets_no_trust() -> None:
    g = graph_of([("seed.test", "friend.test", 2, 2), ("seed.test", "ugc.test", 4, 0)])
    seeds = g.ids(["seed.test"])
    strict = trustrank(g.weights(), seeds).scores
    assert strict[g.index["ugc.test"]] == 0.0
    assert strict[g.index["friend.test"]] > 0
    lenient = trustrank(g.weights(nofollow_weight=0.5), seeds).scores
    assert lenient[g.index["ugc.test"]] > 0  # the setting gives them a fraction


def test_farm_linking_only_itself_gets_none_and_is_flagged() -> None:
    farm = [f"farm{i}.test" for i in range(4)]
    edges = [(a, b, 5, 5) for a in farm for b in farm if a != b]
    edges += [(f, "target.test", 3, 3) for f in farm]
    edges += [("seed.test", "niche.test", 1, 1), ("niche.test", "target.test", 1, 1)]
    g = graph_of(edges)
    seeds = g.ids(["seed.test"])
    rank = trustrank(g.weights(), seeds)
    trust = scale_0_100(rank.scores, seeds)
    assert all(rank.scores[g.index[f]] == 0.0 for f in farm)
    suspects = farm_suspects(g.links, trust >= 1)
    assert {g.hosts[i] for i in np.flatnonzero(suspects)} == set(farm)


def test_distrust_lowers_a_farm_adjacent_host() -> None:
    # Two hosts equally trusted by the seed; "linker" also links to a known-bad host.
    g = graph_of(
        [
            ("seed.test", "linker.test", 1, 1),
            ("seed.test", "clean.test", 1, 1),
            ("linker.test", "spam.test", 1, 1),
            ("clean.test", "niche.test", 1, 1),
            ("linker.test", "niche.test", 1, 1),
        ]
    )
    w = g.weights()
    seeds, bad = g.ids(["seed.test"]), g.ids(["spam.test"])
    trust = relative_to_seeds(trustrank(w, seeds).scores, seeds)
    anti = anti_trustrank(w, bad)
    distrust = relative_to_seeds(anti.scores, bad)
    assert anti.converged
    linker, clean, seed = g.index["linker.test"], g.index["clean.test"], g.index["seed.test"]
    assert trust[linker] == pytest.approx(trust[clean])
    assert distrust[linker] > 0 and distrust[clean] == 0
    combined = log_scale(combine_trust(trust, distrust))
    assert combined[linker] < combined[clean] == log_scale(trust)[clean]
    # Distrust fades upstream: the seed, one more link away, keeps more than the linker.
    assert 0 < distrust[seed] < distrust[linker]
    assert combined[linker] < combined[seed] < 100


def test_seed_hops_name_the_nearest_seed() -> None:
    g = graph_of(
        [("s1", "a", 1, 1), ("a", "b", 1, 1), ("s2", "b", 1, 0), ("b", "c", 1, 1)],
        ["s1", "s2", "a", "b", "c", "lonely"],
    )
    hops, origin = seed_hops(g.weights(), g.ids(["s1", "s2"]))
    got = {h: (int(hops[g.index[h]]), int(origin[g.index[h]])) for h in g.hosts}
    s1 = g.index["s1"]
    # s2 -> b is nofollow: no path that way.
    assert got == {
        "s1": (0, s1),
        "s2": (0, g.index["s2"]),
        "a": (1, s1),
        "b": (2, s1),
        "c": (3, s1),
        "lonely": (-1, -1),
    }


def test_iteration_reads_the_graph_without_changing_it() -> None:
    g = graph_of([("a", "b", 2, 2), ("b", "a", 1, 1), ("b", "c", 1, 1)])
    w = g.weights()
    before = (w.data.copy(), w.indices.copy(), w.indptr.copy())
    as_matrix = personalized_pagerank(sp.csr_matrix(w), teleport_vector(3, [0])).scores
    as_array = personalized_pagerank(w, teleport_vector(3, [0])).scores
    assert np.array_equal(as_matrix, as_array)
    for old, new in zip(before, (w.data, w.indices, w.indptr), strict=True):
        assert np.array_equal(old, new)
    with pytest.raises(ValueError):
        personalized_pagerank(-w, teleport_vector(3, [0]))


def test_graph_weights_damp_repeated_links() -> None:
    g = graph_of([("a", "footer.test", 500, 500), ("a", "editorial.test", 1, 1)])
    row = g.weights().toarray()[g.index["a"]]
    ratio = row[g.index["footer.test"]] / row[g.index["editorial.test"]]
    assert 5 < ratio < 10  # log(501) / log(2), not 500
    assert g.in_degree()[g.index["footer.test"]] == 1 and g.out_degree()[g.index["a"]] == 2


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Pruning ROSES in the garden", ["pruning", "rose", "garden"]),
        ("the and of click here", []),
        ("Berries, glasses & 2024 tips", ["berry", "glasse", "tip"]),
        ("Schöne Gärten und Rosen", ["schöne", "gärten", "rosen"]),
        ("\uff26\uff55\uff4c\uff4c text", ["full", "text"]),  # fullwidth letters: NFKC
        ("庭のバラ", ["庭の", "のバ", "バラ"]),
        ("rose_bed snake_case", ["rose", "bed", "snake", "case"]),
    ],
)
def test_tokenize(text: str, terms: list[str]) -> None:
    assert tokenize(text) == terms


PROFILE = [
    "Petal Post: pruning roses in late winter, cutting to an outward-facing bud, feeding roses "
    "with compost and mulch. Climbing roses and rambling roses need different pruning.",
    "Compost heaps: balance green and brown material, turn the compost, keep it damp. Leaf mould "
    "and garden compost feed the soil and the roses.",
]
ON_TOPIC = (
    "Our rose society's winter talk covered pruning hybrid tea roses and feeding them compost; "
    "members compared mulch and rose varieties."
)
OFF_TOPIC = "Premier league football results, transfer rumours and the latest betting odds."
SPAM = "Best casino bonus, free spins, payday loans, cheap pills and crypto trading signals."


def test_relevance_ranks_on_topic_above_off_topic_with_shared_terms() -> None:
    results = score_texts(
        PROFILE,
        [ON_TOPIC, OFF_TOPIC, SPAM],
        keywords=["roses", "compost"],
        anchors=["rose pruning guide", "click here", "best garden site"],
    )
    on, off, spam = results
    assert on.score > 50 > 15 > off.score
    assert spam.score < 15
    shared = next(r for r in on.reasons if r.startswith("shares terms: "))
    assert {"rose", "pruning", "compost"} & set(shared.removeprefix("shares terms: ").split(", "))
    assert "anchor on topic: rose, pruning" in on.reasons
    assert "off-topic" in off.reasons and "off-topic" in spam.reasons
    assert all(0 <= r.score <= 100 for r in results)


def test_relevance_without_a_profile_is_zero_and_says_so() -> None:
    (result,) = score_texts([], [ON_TOPIC])
    assert result.score == 0 and result.reasons == ["no topic profile"]


def test_quality_orders_spam_footer_below_editorial() -> None:
    spam_page, editorial_page = score_texts(PROFILE, [SPAM, ON_TOPIC])
    spam_factor, spam_reasons = link_factor(
        {"rel": ["nofollow"], "nofollow": True, "position": "footer", "link_type": "text"},
        {"external_links": 180},
    )
    editorial_factor, editorial_reasons = link_factor(
        {"rel": [], "nofollow": False, "position": "content", "link_type": "text"},
        {"external_links": 6},
    )
    assert spam_reasons == [
        "nofollow: passes nothing",
        "footer link: counted at 30%",
        "page gives away 180 external links: counted at 33%",
    ]
    assert editorial_reasons == ["in-content link"]
    spam = quality(8.0 * spam_factor, spam_page.score)  # a low-trust farm host
    editorial = quality(75.0 * editorial_factor, editorial_page.score)  # a trusted niche site
    trusted_off_topic = quality(75.0, 0.0)
    on_topic_nofollow = quality(0.0, editorial_page.score)
    assert editorial > trusted_off_topic > spam
    assert editorial > on_topic_nofollow > spam
    assert quality(0, 0) == 0 and quality(100, 100) == pytest.approx(100)


@pytest.mark.parametrize(
    ("link", "factor", "reasons"),
    [
        ({"position": "content"}, 1.0, ["in-content link"]),
        (
            {"position": "sidebar", "rel": ["sponsored"]},
            0.0,
            ["sponsored: passes nothing", "sidebar link: counted at 50%"],
        ),
        (
            {"position": "navigation", "link_type": "image"},
            0.425,
            ["navigation link: counted at 50%", "image link: counted at 85%"],
        ),
        (
            {"position": "unknown", "link_type": "redirect"},
            0.63,
            ["position unknown: counted at 70%", "via redirect: counted at 90%"],
        ),
        ({"link_type": "text"}, 0.7, ["position unknown: counted at 70%"]),
        (
            {"position": "related"},
            0.5,
            ["story card or related-links block: counted at 50%"],
        ),
        (
            {"position": "comment", "rel": ["ugc", "nofollow"]},
            0.0,
            ["nofollow, ugc: passes nothing", "comment link: counted at 30%"],
        ),
        (
            {"position": "content", "target_status": 404},
            0.0,
            ["links to a missing page (404): passes nothing", "in-content link"],
        ),
        # What takes the most comes first: the reason a person reads first.
        (
            {"position": "footer", "link_type": "image", "rel": ["noopener"]},
            0.255,
            ["footer link: counted at 30%", "image link: counted at 85%"],
        ),
        (
            {"position": "sidebar", "link_type": "redirect"},
            0.45,
            ["sidebar link: counted at 50%", "via redirect: counted at 90%"],
        ),
        # A server error may pass: the link keeps its worth until the page is gone.
        ({"position": "content", "target_status": 503}, 1.0, ["in-content link"]),
    ],
)
def test_link_factor(link: dict, factor: float, reasons: list[str]) -> None:
    got_factor, got_reasons = link_factor(link)
    assert got_factor == pytest.approx(factor)
    assert got_reasons == reasons


def test_a_nofollow_weight_is_named_with_what_it_leaves() -> None:
    factor, reasons = link_factor({"rel": ["nofollow"], "position": "content"}, None, 0.1)
    assert factor == pytest.approx(0.1)
    assert reasons == ["nofollow: counted at 10%", "in-content link"]


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (112, "112th"),
    ],
)
def test_ordinals_read_as_english(n: int, word: str) -> None:
    assert ordinal(n) == word


def test_nofollow_rels_are_named_in_one_order_everywhere() -> None:
    assert nofollow_flags(["Sponsored", "UGC", "noopener"]) == ["ugc", "sponsored"]
    assert nofollow_flags(["ugc"], nofollow=True) == ["nofollow", "ugc"]
    assert nofollow_flags(["noopener"]) == [] and is_followed(["noopener"])
    assert not is_followed(["sponsored"]) and not is_followed([], nofollow=True)
    # The score's reasons and the link mix read the same flags.
    _, reasons = link_factor({"rel": ["sponsored", "ugc"], "position": "content"})
    assert reasons[0] == "ugc, sponsored: passes nothing"
    assert rel_kinds({"rel": ["sponsored", "ugc"]}) == ["ugc", "sponsored"]
    assert rel_kinds({"rel": [], "nofollow": True}) == ["nofollow"]
    assert rel_kinds({"rel": ["noopener"]}) == ["follow"]


def test_summed_rows_are_the_sums_of_their_sites_pages() -> None:
    """A site's row is the sum of its pages' rows, however often it was compacted on the way."""
    rng = np.random.default_rng(7)
    n_terms = 300
    sites = ["a.test", "b.test", "c.test"]
    summed = SummedRows(sites)
    summed.COMPACT_AT = 64  # compact every few pages
    pages, owners = Rows(), []
    for _ in range(200):
        owner = sites[int(rng.integers(0, 2))]  # c.test gets no page
        ids = rng.choice(n_terms, size=int(rng.integers(1, 40)), replace=False).astype(np.int32)
        counts = rng.integers(1, 9, size=len(ids)).astype(np.float64)
        pages.append(ids, counts)
        owners.append(owner)
        summed.add(owner, ids, counts)
        summed.add("elsewhere.test", ids, counts)  # not a site asked for: ignored
    each = pages.build(n_terms).toarray()
    expected = np.vstack([each[[o == site for o in owners]].sum(axis=0) for site in sites])
    assert np.array_equal(summed.build(n_terms).toarray(), expected)
    assert summed.added == [owners.count("a.test"), owners.count("b.test"), 0]


def test_host_edges_read_the_same_in_every_stored_form() -> None:
    """One string (what a crawl writes now), a list of subdocuments, one document per pair."""
    edges = [("b.test", (3, 2, 1)), ("c.test", (5, 0, 4))]
    expected = [("a.test", dst, *counts) for dst, counts in edges]
    as_string = {"src": "a.test", "out": encode_edges(edges)}
    as_list = {
        "src": "a.test",
        "out": [{"dst": d, "links": n, "followed": f, "pages": p} for d, (n, f, p) in edges],
    }
    pairs = [
        {"src": "a.test", "dst": d, "links": n, "followed": f, "pages": p} for d, (n, f, p) in edges
    ]
    assert list(edges_of(as_string)) == expected
    assert list(edges_of(as_list)) == expected
    assert [e for doc in pairs for e in edges_of(doc)] == expected


def test_stored_terms_encode_as_their_parsed_pairs() -> None:
    """The fast reading of a page's ``terms`` gives what parsing them pair by pair gives,
    document frequencies included; a malformed string is read pair by pair."""
    pages = ["soil 3 compost 2 rose 1", "compost 5 mulch 1", "rose 2 x bad 4 soil", ""]
    slow, fast = TermSpace(), TermSpace()
    for page in pages:
        a = slow.encode_counts(parse_terms(page), document=True)
        b = fast.encode_stored(page, document=True)
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
    assert slow.terms == fast.terms and np.array_equal(slow.idf(), fast.idf())


@pytest.fixture(scope="module")
def uk_hosts() -> tuple[Any, np.ndarray]:
    """The 1996 UK host graph (real data) and its 3,925 .ac.uk/.gov.uk hosts as seeds."""
    from benchmarks.scoring import DATA, read_uk_hosts

    graph = read_uk_hosts(DATA / "1996-uk-web-hosts.tsv.gz").build()
    seeds = [i for h, i in graph.index.items() if h.endswith((".ac.uk", ".gov.uk"))]
    return graph, np.asarray(seeds, dtype=np.int64)


def _site_trust(weights: Any, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(raw trust, 0-100 site trust) as scoring computes them."""
    raw = seed_trust(weights, seeds).scores
    return raw, log_scale(raw / top_anchor(raw))


def test_trust_scale_stays_spread_out_for_thousands_of_seeds(uk_hosts: tuple) -> None:
    graph, seeds = uk_hosts
    assert seeds.size > 3000
    raw, trust = _site_trust(graph.weights(), seeds)
    reached = trust[raw > 0]
    # Anchored at a lone seed, the hubs many seeds link to (and every seed) clip at 100.
    old = log_scale(raw)[raw > 0]
    assert (old >= 100).mean() > 0.05
    # Anchored at the top 0.1% of reached hosts: only those are at 100 ...
    assert (reached >= 100).mean() <= 0.002
    # ... the seeds sit below the hubs, and every tenth of the scale is used.
    assert 70 < float(np.median(trust[seeds])) < 100
    counts, _ = np.histogram(reached, bins=np.linspace(0, 100, 11))
    assert (counts / reached.size >= 0.015).all(), counts


def test_a_handful_of_seeds_keeps_a_lone_seed_at_the_top(uk_hosts: tuple) -> None:
    graph, all_seeds = uk_hosts
    seeds = np.sort(np.random.default_rng(7).choice(all_seeds, size=5, replace=False))
    raw, trust = _site_trust(graph.weights(), seeds)
    # Fewer than 1 in 1,000 reached hosts get more than a lone seed: the scale is anchored at
    # the seed, so it stays linear in the seeds (removing one moves only what it reaches).
    assert top_anchor(raw) == 1.0
    assert trust.tolist() == log_scale(raw).tolist()
    assert (trust[seeds] >= 99).all()
    assert (trust[raw > 0] >= 100).sum() <= seeds.size + 5


def test_top_anchor_needs_a_thousand_reached_hosts_to_move() -> None:
    assert top_anchor(np.array([0.0, 3.0, 2.0, 0.5])) == 1.0  # a few strong hosts: no move
    many = np.concatenate([np.full(2000, 0.01), [50.0, 40.0, 30.0]])
    assert top_anchor(many) == 30.0  # two hosts (0.1% of 2,003) may sit above the top
    assert top_anchor(np.zeros(10)) == 1.0
