"""Admission: one set of rules, applied alike in this process and in Redis for shared crawls."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
import redis

from backlink_spider.admission import (
    ROLE_SITE,
    ROLE_TARGET,
    SEEN,
    SEEN_ELSEWHERE,
    AdmissionRules,
    LocalAdmission,
    SharedAdmission,
)

RULES = AdmissionRules(
    max_pages=40,
    max_pages_per_host=12,
    target_pages=2,
    trap_pattern_pages=5,
    trap_query_variants=3,
    trap_segment_repeats=2,
)


def _shared(server: redis.Redis, rules: AdmissionRules = RULES) -> SharedAdmission:
    prefix = f"test:{uuid.uuid4().hex}:"
    return SharedAdmission(rules, server, [f"{prefix}{k}" for k in ("seen", "counts", "inflight")])


@pytest.fixture
def server(redis_url: str) -> Any:
    client = redis.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter("test:*"):  # the server is shared with the frontier's tests
        client.delete(key)
    client.close()


@pytest.mark.parametrize(
    ("urls", "role", "answers"),
    [
        # Per host: 12 pages, then the cap (one URL shape per page, so the shape cap is not hit).
        ([f"https://a.test/p{'x' * i}/" for i in range(13)], ROLE_SITE, [None] * 12 + ["host_cap"]),
        # One URL shape (digits blanked): 5 pages, then a trap.
        (
            [f"https://a.test/cal/{i}/" for i in range(6)],
            ROLE_SITE,
            [None] * 5 + ["trap_url_pattern"],
        ),
        # Query variants of one path, each a different shape: 3, then a trap.
        (
            [
                "https://a.test/s?a=1",
                "https://a.test/s?b=1",
                "https://a.test/s?c=1",
                "https://a.test/s?d=1",
            ],
            ROLE_SITE,
            [None, None, None, "trap_query_variants"],
        ),
        (["https://a.test/a/b/a/b/a/"], ROLE_SITE, ["trap_repeated_segments"]),
        (["https://a.test/file.pdf"], ROLE_SITE, ["not_html_extension"]),
        (["https://a.test/x/", "https://a.test/x/"], ROLE_SITE, [None, SEEN]),
        # The target's own pages have their own small budget.
        (
            ["https://t.test/", "https://t.test/a", "https://t.test/b"],
            ROLE_TARGET,
            [None, None, "target_pages"],
        ),
    ],
)
def test_local_admission_applies_each_rule(urls: list[str], role: str, answers: list) -> None:
    admission = LocalAdmission(RULES)
    assert [admission.admit(url, role) for url in urls] == answers


def test_the_budget_counts_admitted_pages_only() -> None:
    admission = LocalAdmission(RULES)
    admitted = [
        u for u in (f"https://h{i}.test/" for i in range(60)) if not admission.admit(u, ROLE_SITE)
    ]
    assert len(admitted) == RULES.max_pages == admission.scheduled
    assert admission.exhausted
    assert admission.admit("https://late.test/", ROLE_SITE) == "budget"


def _random_urls(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """A crawl's worth of URLs that trips every rule now and then."""
    shapes = ["/p/{i}/", "/a/b/a/b/a/{i}", "/q?x={i}", "/q?{k}=1", "/f{i}.jpg", "/{k}/", "/"]
    out = []
    for _ in range(n):
        host = rng.choice(["a.test", "b.test", "c.test", "t.test"])
        path = rng.choice(shapes).format(i=rng.randrange(8), k=rng.choice("klmnop"))
        role = ROLE_TARGET if host == "t.test" else ROLE_SITE
        out.append((f"https://{host}{path}", role))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_shared_admission_answers_as_local_admission_does(server: Any, seed: int) -> None:
    """The same plan, applied by the generic Lua script, gives every answer the local one gives:
    the rules cannot drift between Python and Redis."""
    urls = _random_urls(random.Random(seed), 300)
    local, shared = LocalAdmission(RULES), _shared(server)
    assert [shared.admit(u, r) for u, r in urls] == [local.admit(u, r) for u, r in urls]
    assert shared.scheduled == local.scheduled


def test_two_workers_spend_one_budget(server: Any) -> None:
    rules = AdmissionRules(10, 100, 10, 100, 100, 2)
    first = _shared(server, rules)
    second = SharedAdmission(rules, server, first.keys)  # another worker of the same crawl
    urls = [f"https://h{i}.test/" for i in range(30)]
    answers = [(first if i % 2 else second).admit(u, ROLE_SITE) for i, u in enumerate(urls)]
    assert answers.count(None) == 10
    assert set(answers) == {None, "budget"}
    assert second.admit(urls[0], ROLE_SITE) in {SEEN, "budget"}
    fresh = SharedAdmission(AdmissionRules(100, 100, 10, 100, 100, 2), server, first.keys)
    assert fresh.admit(urls[1], ROLE_SITE) == SEEN_ELSEWHERE  # the other worker had it


def test_jobdir_state_round_trips() -> None:
    admission = LocalAdmission(RULES)
    for i in range(7):
        admission.admit(f"https://a.test/cal/{i}/", ROLE_SITE)
    admission.site_hop("b.test", 1)
    again = LocalAdmission(RULES)
    again.restore(admission.state())
    assert again.scheduled == admission.scheduled == 5
    assert again.admit("https://a.test/cal/3/", ROLE_SITE) == SEEN
    assert again.admit("https://a.test/cal/9/", ROLE_SITE) == "trap_url_pattern"
    assert again.site_hops == {"b.test": 1}
