"""``classify_links``: what a page's links mean, as a table of pages and what they give."""

from __future__ import annotations

import pytest

from backlink_spider.admission import ROLE_SEED, ROLE_SITE, ROLE_TARGET
from backlink_spider.classify import classify_links, host_domain, names_watched
from backlink_spider.extract import Link
from backlink_spider.spiders.niche import page_role

WATCHED = frozenset({"site.test", "rival.test"})


def link(url: str, position: str = "content", rel: tuple[str, ...] = (), **kw: object) -> Link:
    return Link(
        url, kw.get("anchor", "a"), rel, bool(kw.get("nofollow")), "text", position, "", "a"
    )  # type: ignore[arg-type]


def classify(links: list[Link], role: str = ROLE_SEED, hop: int = 0, depth: int = 1, **kw):  # type: ignore[no-untyped-def]
    return classify_links(
        links, domain="blog.test", role=role, hop=hop, depth=depth, watched=WATCHED, **kw
    )


def test_links_into_watched_sites_are_backlinks_merged_per_target_url() -> None:
    got = classify(
        [
            link("https://site.test/a", "footer"),
            link("https://site.test/a?utm_source=x", "content"),
            link("https://www.rival.test/"),
        ],
        drop_params=("utm_*",),
    )
    assert set(got.found) == {"https://site.test/a", "https://www.rival.test/"}
    kept = got.found["https://site.test/a"]
    assert (kept.count, kept.link.position, kept.via) == (2, "content", None)  # most prominent


@pytest.mark.parametrize(
    ("url", "role", "hop", "follow"),
    [
        ("https://blog.test/post", ROLE_SEED, 0, [("https://blog.test/post", ROLE_SEED, 0, False)]),
        ("https://other.test/", ROLE_SEED, 0, [("https://other.test/", ROLE_SITE, 1, False)]),
        ("https://other.test/", ROLE_SITE, 1, []),  # past the depth
        (
            "https://go.test/r?u=https%3A%2F%2Fsite.test%2F",
            ROLE_SITE,
            1,
            [("https://go.test/r?u=https%3A%2F%2Fsite.test%2F", ROLE_SITE, 2, True)],
        ),  # a probe
        ("https://site.test/", ROLE_SEED, 0, []),  # a backlink, not a page to crawl
        ("https://other.test/", ROLE_TARGET, 0, []),  # the target's pages lead nowhere else
        (
            "https://blog.test/about",
            ROLE_TARGET,
            0,
            [("https://blog.test/about", ROLE_TARGET, 0, False)],
        ),
    ],
)
def test_what_is_followed(url: str, role: str, hop: int, follow: list) -> None:
    got = classify([link(url)], role=role, hop=hop)
    assert [(f.url, f.role, f.hop, f.probe) for f in got.follow] == follow


def test_the_targets_own_pages_record_no_backlinks_but_count_out_hosts() -> None:
    got = classify(
        [link("https://site.test/"), link("https://x.test/", rel=("nofollow",))], role=ROLE_TARGET
    )
    assert got.found == {}
    assert [(o.host, o.links, o.followed) for o in got.out_hosts] == [
        ("site.test", 1, 1),
        ("x.test", 1, 0),
    ]


def test_out_hosts_count_links_and_the_followed_ones() -> None:
    got = classify(
        [
            link("https://x.test/1"),
            link("https://x.test/2", rel=("ugc",)),
            link("https://x.test/3", nofollow=True),
            link("https://y.test/"),
        ]
    )
    assert [(o.host, o.links, o.followed) for o in got.out_hosts] == [
        ("x.test", 3, 1),
        ("y.test", 1, 1),
    ]


def test_a_known_redirect_hop_is_a_backlink_through_it() -> None:
    hops = {"https://short.test/x": ("https://site.test/landing", "https://short.test/x")}
    got = classify([link("https://short.test/x")], hops=hops)
    found = got.found["https://site.test/landing"]
    assert found.via == "https://short.test/x"


def test_a_direct_link_wins_over_a_redirect_at_the_same_prominence() -> None:
    hops = {"https://short.test/x": ("https://site.test/", "https://short.test/x")}
    got = classify([link("https://short.test/x"), link("https://site.test/")], hops=hops)
    assert got.found["https://site.test/"].via is None
    assert got.found["https://site.test/"].count == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.Blog.test:443/x", ("www.blog.test", "blog.test")),
        ("https://user@blog.test/x", ("blog.test", "blog.test")),
        ("http://[::1]:8080/", ("[::1]", "[::1]")),
        ("mailto:a@b.test", ("", "")),
    ],
)
def test_host_domain(url: str, expected: tuple[str, str]) -> None:
    assert host_domain(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://go.test/?u=https://site.test/", True),
        ("https://go.test/?u=https%253A%252F%252Fsite.test", True),  # twice encoded
        ("https://go.test/site.test", False),  # in the path, not the query
        ("https://go.test/?u=https://else.test/", False),
    ],
)
def test_names_watched(url: str, expected: bool) -> None:
    assert names_watched(url, WATCHED) is expected


@pytest.mark.parametrize(
    ("linked_as", "domain", "role"),
    [
        (ROLE_SEED, "blog.test", ROLE_SEED),
        (ROLE_SITE, "site.test", ROLE_TARGET),  # a redirect carried it into the target
        (ROLE_TARGET, "elsewhere.test", ROLE_SITE),  # the target redirected away
    ],
)
def test_page_role(linked_as: str, domain: str, role: str) -> None:
    assert page_role(linked_as, domain, "site.test") == role
