"""Bad input ends a run with one line on stderr and a non-zero exit, before any request."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backlink_spider.commands.crawl import ARGUMENT_HELP
from backlink_spider.config import ARGUMENTS
from tests.conftest import (
    Run,
    backlinks_argv,
    free_port,
    run_scrapy,
    scrapy_env,
)


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


# -- the installed command, from a directory of the user's: every mistake is one line ----------

SITE = ["-a", "target=site.test", "-a", "seeds=a.test"]
# name -> (arguments, environment, exit status, what the line says); {tmp}: a fresh directory
MISTAKES: dict[str, tuple[list[str], dict[str, str], int, str]] = {
    "unwritable feed": (
        ["crawl", "niche", *SITE, "-O", "/proc/c.jsonl"],
        {},
        2,
        "cannot write /proc/c.jsonl",
    ),
    "feed in a missing directory": (
        ["crawl", "niche", *SITE, "-O", "{tmp}/nonexistent/dir/x.jsonl"],
        {},
        2,
        "there is no directory",
    ),
    "unwritable demo feed": (["demo", "-O", "/proc/demo.jsonl"], {}, 2, "/proc/demo.jsonl"),
    "unusable data directory": (
        ["crawl", "niche", *SITE],
        {"BACKLINKS_DATA_DIR": "/proc/nope"},
        1,
        "cannot use the data directory /proc/nope",
    ),
    "misspelt spider": (["crawl", "nich"], {}, 2, "no spider named 'nich' (did you mean niche?)"),
    "arguments without -a": (
        ["crawl", "niche", "target=x", "seeds=y"],
        {},
        2,
        "arguments go as -a name=value (-a target=x -a seeds=y)",
    ),
    "negative prospects limit": (["prospects", "site.test", "--limit", "-3"], {}, 2, "--limit"),
    "export format unknown": (["export", "site.test", "-O", "links.txt"], {}, 2, "links.txt:csv"),
}
HELP: dict[str, tuple[list[str], dict[str, str], int, str]] = {
    "crawl help": (["crawl", "-h"], {}, 0, ""),
    "demo help": (["demo", "-h"], {}, 0, ""),
}


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Run, Path]]]:
    """Every mistake above made with ``backlinks`` in an empty directory, and the help shown,
    all at once (each is a process that stops before any crawl: together they take the time
    of a few)."""
    procs: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    runs = {}
    try:
        for name, (args, env, _, _) in {**MISTAKES, **HELP}.items():
            tmp = tmp_path_factory.mktemp("mistake")
            argv = backlinks_argv([a.replace("{tmp}", str(tmp)) for a in args])
            full_env = scrapy_env(**{"BACKLINKS_DATA_DIR": str(tmp / "data"), **env})
            procs[name] = (
                subprocess.Popen(
                    argv,
                    cwd=tmp,
                    env=full_env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
                tmp,
            )
        for name, (proc, tmp) in procs.items():
            stdout, stderr = proc.communicate(timeout=120)
            runs[name] = (Run(proc.returncode, stdout, stderr), tmp)
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    yield runs


@pytest.mark.parametrize("name", MISTAKES)
def test_every_mistake_is_one_line_from_any_directory(
    name: str, mistakes: dict[str, tuple[Run, Path]]
) -> None:
    run, tmp = mistakes[name]
    _, _, code, message = MISTAKES[name]
    assert_one_line_error(run, code, message.replace("{tmp}", str(tmp)))
    assert not (tmp / "nonexistent").exists()  # no directory is made for a feed
    assert sorted(p.name for p in tmp.iterdir()) in ([], ["data"])  # nor an empty file left


def test_crawl_help_lists_the_spider_arguments(mistakes: dict[str, tuple[Run, Path]]) -> None:
    assert set(ARGUMENT_HELP) == set(ARGUMENTS)
    run, _ = mistakes["crawl help"]
    assert run.returncode == 0, run.stderr
    for name in ARGUMENTS:
        assert f"-a {name}=" in run.stdout
    assert "backlinks crawl niche -a target=" in run.stdout
    demo, _ = mistakes["demo help"]
    assert demo.returncode == 0, demo.stderr
    assert "python -m backlink_spider.demoweb" in demo.stdout
