"""Bad input ends a run with one line on stderr and a non-zero exit, before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import free_port, run_scrapy, scrapy_env


def assert_one_line_error(run, code: int, *needles: str) -> None:
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


BAD_ARGS = [
    ([], "missing target"),
    (["-a", "target="], "missing target"),
    (["-a", "target=not a url!!"], "bad target"),
    (["-a", "target=ftp://files.example.com/"], "bad target"),
    (["-a", "target=site.test"], "no seed sites"),
    (["-a", "target=site.test", "-a", "seeds=./no-such-seeds.txt"], "not found"),
    (["-a", "target=site.test", "-a", "seeds=good.test,http://"], "bad seed"),
    (["-a", "target=site.test", "-a", "seeds=a.test", "-a", "depth=two"], "depth"),
    (["-a", "target=site.test", "-a", "seeds=a.test", "-a", "depth=99"], "depth"),
    (["-a", "target=site.test", "-a", "seeds=a.test", "-a", "max_pages=0"], "max_pages"),
    (["-a", "target=site.test", "-a", "seeds=a.test", "-a", "max_pages=lots"], "max_pages"),
    (
        ["-a", "target=site.test", "-a", "seeds=a.test", "-a", "competitors=www.site.test"],
        "target's own site",
    ),
    (["-a", "target=site.test", "-a", "seeds=a.test", "-a", "competitors=::"], "competitor"),
    (["-a", "target=site.test", "-a", "seed=a.test"], "unknown argument 'seed'"),
    (
        [
            "-a",
            "target=site.test",
            "-a",
            "seeds=a.test",
            "-s",
            'BACKLINKS_POSITION_PATTERNS={"middle": ["x"]}',
        ],
        "BACKLINKS_POSITION_PATTERNS",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGS, ids=[m for _, m in BAD_ARGS])
def test_bad_arguments_give_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    # A dead MONGO_URI too: arguments are checked first, so the message is about them.
    env = scrapy_env(
        MONGO_URI=f"mongodb://127.0.0.1:{free_port()}", BACKLINKS_DATA_DIR=str(tmp_path / "data")
    )
    run = run_scrapy(["crawl", "niche", *args], env)
    assert_one_line_error(run, 2, message)
    assert not (tmp_path / "data").exists()


def test_empty_seeds_file(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# my niche\n\n")
    run = run_scrapy(
        ["crawl", "niche", "-a", "target=site.test", "-a", f"seeds={seeds}"],
        scrapy_env(BACKLINKS_DATA_DIR=str(tmp_path / "data")),
    )
    assert_one_line_error(run, 2, "lists no sites")


def test_dead_mongo_uri_fails_fast_without_leaking_the_password(tmp_path: Path) -> None:
    port = free_port()
    env = scrapy_env(
        MONGO_URI=f"mongodb://crawler:s3cret@127.0.0.1:{port}/",
        BACKLINKS_DATA_DIR=str(tmp_path / "data"),
    )
    run = run_scrapy(
        [
            "crawl",
            "niche",
            "-a",
            "target=site.test",
            "-a",
            "seeds=a.test",
            "-s",
            "BACKLINKS_MONGO_TIMEOUT=1",
        ],
        env,
        timeout=60,
    )
    assert_one_line_error(run, 1, "cannot reach MongoDB", f"127.0.0.1:{port}")
    assert "s3cret" not in run.stderr + run.stdout


def test_export_of_unknown_target_and_empty_store(tmp_path: Path, mongo_server, mongo_db) -> None:
    env = scrapy_env(BACKLINKS_DATA_DIR=str(tmp_path / "empty"))
    run = run_scrapy(["export", "site.test", "-O", str(tmp_path / "out.jsonl")], env)
    assert_one_line_error(run, 1, "nothing stored yet")
    assert not (tmp_path / "out.jsonl").exists()

    run = run_scrapy(["export", "not a url!!"], env)
    assert_one_line_error(run, 2, "bad target")

    name, _ = mongo_db
    env = scrapy_env(MONGO_URI=mongo_server.uri, MONGO_DATABASE=name)
    run = run_scrapy(["export", "site.test", "-O", str(tmp_path / "out.jsonl")], env)
    assert_one_line_error(run, 1, "no stored backlinks for site.test")
    assert not (tmp_path / "out.jsonl").exists()


def test_wrong_credentials_are_one_line_and_masked(mongo_server, tmp_path: Path) -> None:
    uri = mongo_server.uri.replace("mongodb://", "mongodb://crawler:s3cret@")
    run = run_scrapy(
        ["crawl", "niche", "-a", "target=site.test", "-a", "seeds=a.test"],
        scrapy_env(MONGO_URI=uri, BACKLINKS_DATA_DIR=str(tmp_path / "data")),
    )
    assert_one_line_error(run, 1, "cannot reach MongoDB", "crawler:***@", "authentication")
    assert "s3cret" not in run.stderr + run.stdout
