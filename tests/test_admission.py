"""Admission: one set of rules, applied alike in this process and in Redis for shared crawls."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import replace
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
    text_fingerprint,
)
from backlink_spider.urls import query_variant

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
    keys = [f"{prefix}{k}" for k in ("seen", "counts", "inflight", "prints")]
    return SharedAdmission(rules, server, keys)


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


def test_the_budget_is_spent_on_pages_fetched_not_on_urls_admitted() -> None:
    """URLs past the budget wait in the frontier (the focus chooses among them); the budget
    runs out when that many requests have left for the downloader, and then nothing more is
    admitted or sent."""
    admission = LocalAdmission(RULES)
    admitted = [
        u for u in (f"https://h{i}.test/" for i in range(60)) if not admission.admit(u, ROLE_SITE)
    ]
    assert len(admitted) == 60 == admission.scheduled
    assert not admission.exhausted
    assert [admission.spend() for _ in range(60)] == [True] * RULES.max_pages + [False] * (
        60 - RULES.max_pages
    )
    assert admission.exhausted and admission.spent == RULES.max_pages
    assert admission.admit("https://late.test/", ROLE_SITE) == "budget"


def test_a_full_frontier_defers_urls_until_pages_leave_it() -> None:
    rules = replace(RULES, max_frontier=3)
    admission = LocalAdmission(rules)
    urls = [f"https://h{i}.test/" for i in range(5)]
    assert [admission.admit(u, ROLE_SITE) for u in urls] == [None, None, None] + [
        "frontier_full"
    ] * 2
    assert admission.spend()  # one page leaves for the downloader: room for one more
    assert admission.admit(urls[3], ROLE_SITE) is None  # deferred, not refused for good
    assert admission.admit(urls[4], ROLE_SITE) == "frontier_full"
    admission.release()  # one left unfetched (robots.txt said no): its place is free
    assert admission.admit(urls[4], ROLE_SITE) is None
    assert admission.spent == 1


def test_shared_admission_frees_the_frontier_as_local_admission_does(server: Any) -> None:
    rules = replace(RULES, max_frontier=2)
    local, shared = LocalAdmission(rules), _shared(server, rules)
    urls = [f"https://h{i}.test/" for i in range(4)]
    for admission in (local, shared):
        answers = [admission.admit(u, ROLE_SITE) for u in urls[:3]]
        admission.release()
        answers.append(admission.admit(urls[3], ROLE_SITE))
        assert answers == [None, None, "frontier_full", None]


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
    assert answers == [None] * 30  # admitted: the budget buys fetches
    spent = [(first if i % 2 else second).spend() for i in range(30)]
    assert spent.count(True) == 10 and spent[:10] == [True] * 10
    assert first.exhausted and second.exhausted
    assert first.admit("https://late.test/", ROLE_SITE) == "budget"
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


# --- trap guards decided by evidence -----------------------------------------------------------

# Four pages of a shape on sight; then two repeats close it, three others prove it.
EVIDENCE = replace(
    RULES, max_pages_per_host=40, trap_pattern_pages=100, trap_repeats=2, trap_probation_pages=4
)


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("Events on 05 May 2024", "Events on 06 May 1999"),  # a calendar's days: one text
        ("Search results, page 7:  nothing", "Search results, page 8: nothing"),
        ("a\n b\tc", "a b c"),
    ],
)
def test_text_fingerprints_blank_digits_and_spaces(text: str, same_as: str) -> None:
    assert text_fingerprint(text) == text_fingerprint(same_as) is not None


def test_text_fingerprints_tell_words_apart() -> None:
    assert text_fingerprint("Events in May 2024") != text_fingerprint("Events in June 2024")
    assert text_fingerprint("") is None and text_fingerprint(" \n ") is None


@pytest.mark.parametrize(
    ("query", "variant"),
    [("p=123", "p=#"), ("p=7", "p=#"), ("page=2&sessionid=a1b2c3", "page=#&sessionid=a#b#c#")],
)
def test_query_variants_blank_digit_runs(query: str, variant: str) -> None:
    assert query_variant(query) == variant


def test_a_numeric_shape_whose_pages_differ_is_admitted_once_they_are_read() -> None:
    admission = LocalAdmission(EVIDENCE)
    urls = [f"https://a.test/post/{1000 + i}/" for i in range(12)]
    # The probation's four on sight; the fifth waits (not seen: asked again, it may pass).
    assert [admission.admit(u, ROLE_SITE) for u in urls[:5]] == [None] * 4 + ["trap_unproven"]
    admission.observe(urls[0], text_fingerprint("The 1st post"))
    admission.observe(urls[1], None)  # an error page: no repeat
    assert admission.admit(urls[4], ROLE_SITE) == "trap_unproven"
    admission.observe(urls[2], text_fingerprint("The 2nd post"))  # three: proven
    assert [admission.admit(u, ROLE_SITE) for u in urls[4:]] == [None] * 8
    # Proven is not forever: repeats close the shape at any time.
    admission.observe(urls[3], text_fingerprint("The 1st post"))
    admission.observe(urls[4], text_fingerprint("The 1st post"))
    assert admission.admit("https://a.test/post/1/", ROLE_SITE) == "trap_repeated_content"


def test_a_shape_whose_pages_repeat_each_other_is_closed() -> None:
    admission = LocalAdmission(EVIDENCE)
    days = [f"https://a.test/calendar/2024/05/{d:02d}/" for d in range(1, 9)]
    assert [admission.admit(u, ROLE_SITE) for u in days[:5]] == [None] * 4 + ["trap_unproven"]
    for day in days[:3]:  # one text, digits blanked: the first is new, two repeat it
        admission.observe(day, text_fingerprint(f"No events on {day[-3:-1]} May"))
    assert [admission.admit(u, ROLE_SITE) for u in days[4:]] == ["trap_repeated_content"] * 4
    assert admission.admit(days[4], ROLE_SITE) == SEEN
    # Another shape of the same host, or the same text in another shape, is not affected.
    assert admission.admit("https://a.test/calendar/2024/05/", ROLE_SITE) is None
    admission.observe("https://a.test/calendar/2024/05/", text_fingerprint("No events on 01 May"))
    assert admission.admit("https://a.test/calendar/2024/06/", ROLE_SITE) is None


def test_a_trap_costs_its_probation_whatever_the_order_of_its_pages() -> None:
    """Repeats read early do not cut the probation short, and are not forgotten after it: the
    count does not depend on which pages were fetched when (workers of a shared crawl agree)."""
    early, late = LocalAdmission(EVIDENCE), LocalAdmission(EVIDENCE)
    months = [f"https://a.test/cal/{m}/" for m in range(9)]
    answers = {id(early): [], id(late): []}
    for n, url in enumerate(months):
        for admission, reads in ((early, n >= 1), (late, n >= 6)):
            answers[id(admission)].append(admission.admit(url, ROLE_SITE))
            if reads and n < 4:
                admission.observe(months[n], text_fingerprint("Events: none"))
        if n == 6:
            for m in range(3):
                late.observe(months[m], text_fingerprint("Events: none"))
    assert answers[id(early)].count(None) == answers[id(late)].count(None) == 4


def test_numeric_query_values_are_one_variant_and_other_values_many() -> None:
    admission = LocalAdmission(replace(EVIDENCE, trap_probation_pages=100))
    posts = [admission.admit(f"https://a.test/?p={i}", ROLE_SITE) for i in range(8)]
    assert posts == [None] * 8  # one variant ("p=#"): the evidence judges the ids
    sessions = [f"https://a.test/s?page=1&sid={s}" for s in ("ab", "cd", "ef", "gh", "ab1")]
    assert [admission.admit(u, ROLE_SITE) for u in sessions] == [None] * 3 + [
        "trap_query_variants"
    ] * 2
    assert admission.admit("https://a.test/s?page=9&sid=cd", ROLE_SITE) is None  # a known one


def test_a_deferred_link_is_offered_again() -> None:
    admission = LocalAdmission(EVIDENCE)
    for i in range(4):
        assert admission.first_sight(f"/post/{i}/")
        assert admission.admit(f"https://a.test/post/{i}/", ROLE_SITE) is None
    assert admission.first_sight("/post/4/")
    assert admission.admit("https://a.test/post/4/", ROLE_SITE) == "trap_unproven"
    assert admission.first_sight("/post/4/")  # forgotten: the next link to it asks again
    assert not admission.first_sight("/post/3/")


def _evidence_stream(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """Links to numeric shapes and their fetched pages: distinct texts, repeats, error pages."""
    shapes = ["/p/{i}/", "/p/{i}/", "/p/{i}/", "/cal/{i}/", "/q?x={i}", "/s?sid={k}{i}", "/{k}{i}/"]
    out = []
    for _ in range(n):
        host = rng.choice(["a.test", "b.test", "a.test", "b.test", "t.test"])
        path = rng.choice(shapes).format(i=rng.randrange(60), k=rng.choice("klmnop"))
        out.append((f"https://{host}{path}", ROLE_TARGET if host == "t.test" else ROLE_SITE))
    return out


_WORDS = str.maketrans("0123456789", "abcdefghij")  # distinct pages: texts that differ in words


def _observe_some(
    rng: random.Random, admitted: list[str], *admissions: LocalAdmission | SharedAdmission
) -> None:
    """Pages of some admitted URLs are fetched: calendar pages repeat, the others differ."""
    for _ in range(rng.choice([0, 0, 0, 0, 0, 0, 1, 3])):
        if not admitted:
            return
        url = admitted.pop(rng.randrange(len(admitted)))
        text = rng.choice(["No events", "Nothing"]) if "/cal/" in url else url.translate(_WORDS)
        fingerprint = None if rng.random() < 0.1 else text_fingerprint(text)
        for admission in admissions:
            admission.observe(url, fingerprint)


@pytest.mark.parametrize("seed", range(5))
def test_shared_admission_weighs_the_evidence_as_local_admission_does(
    server: Any, seed: int
) -> None:
    """Deferred, closed and admitted alike, with the same counters, as pages are read."""
    rng = random.Random(seed)
    rules = replace(EVIDENCE, max_pages=250, max_pages_per_host=100)
    local, shared = LocalAdmission(rules), _shared(server, rules)
    answers: list[tuple[str | None, str | None]] = []
    admitted: list[str] = []
    for url, role in _evidence_stream(rng, 400):
        answer = local.admit(url, role)
        answers.append((answer, shared.admit(url, role)))
        if answer is None:
            admitted.append(url)
        _observe_some(rng, admitted, local, shared)
    assert all(a == b for a, b in answers), answers
    reasons = Counter(a for a, _ in answers)
    assert {None, "trap_unproven", "trap_repeated_content", "trap_query_variants"} <= set(
        reasons
    ), reasons
    counts = {k.decode(): int(v) for k, v in server.hgetall(shared.keys[1]).items()}
    assert {k: v for k, v in counts.items() if v} == {
        k: v for k, v in local.counts.items() if v
    } | {"pages": local.scheduled}


def test_jobdir_state_keeps_the_evidence() -> None:
    admission = LocalAdmission(EVIDENCE)
    days = [f"https://a.test/cal/{d}/" for d in range(6)]
    for day in days[:4]:
        admission.admit(day, ROLE_SITE)
    admission.observe(days[0], text_fingerprint("No events"))
    admission.observe(days[1], text_fingerprint("No events"))  # one repeat
    again = LocalAdmission(EVIDENCE)
    again.restore(json.loads(json.dumps(admission.state())))
    assert again.admit(days[4], ROLE_SITE) == "trap_unproven"
    again.observe(days[2], text_fingerprint("No events"))  # the second repeat: closed
    assert again.admit(days[4], ROLE_SITE) == "trap_repeated_content"
    again.reset()
    assert not again.prints and again.admit(days[4], ROLE_SITE) is None
