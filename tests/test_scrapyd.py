"""Scrapyd end to end: deploy with ``scrapyd-deploy``, crawl through ``schedule.json``, repeat it
with ``scrapy schedule``, and read how it went with ``scrapy crawls``.

A real ``scrapyd`` runs on a free loopback port in a temporary directory, with its own
``scrapyd.conf`` (it reads the one in its working directory) and basic auth. Its jobs inherit its
environment, as on a server: the synthetic web's proxy, ``MONGO_URI`` and ``MONGO_DATABASE``.
The egg is built from a copy of the checkout (what git would check out), so the deploy's
``setup.py``, ``build/`` and ``*.egg-info`` land in the copy, never in the repository.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from backlink_spider.commands.crawls import FIGURE_COLUMNS
from backlink_spider.commands.schedule import args_summary, format_every, parse_every
from backlink_spider.config import ArgumentError
from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.demoweb.sites import demo_web
from backlink_spider.scrapyd import Scrapyd, ScrapydConfig, ScrapydError
from backlink_spider.urls import parse_seed, try_canonical_url, url_host
from tests.conftest import FAST, ROOT, MongoServer, free_port, run_scrapy, scrapy_env, stop_process
from tests.figures import parse_crawls, stored_pages

USER, PASSWORD = "crawler", "s3cret-pw"
PACKAGES = ("backlink_spider", "pipelines", "settings")
# FAST as Scrapyd settings: the same -s a shell crawl gets.
FAST_SETTINGS = dict(arg.split("=", 1) for arg in FAST[1::2])


# -- pure parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("7d", 604800),
        ("12h", 43200),
        ("1d12h", 129600),
        ("30m", 1800),
        ("2w", 1209600),
        ("90s", 90),
        (" 1D 6H ", 108000),
    ],
)
def test_every_reads_durations(text: str, interval: int) -> None:
    assert parse_every(text) == interval
    assert parse_every(format_every(interval)) == interval


@pytest.mark.parametrize("text", ["", "7", "weekly", "7x", "0s", "-1d", "1d 2"])
def test_every_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ArgumentError):
        parse_every(text)


def test_args_summary_reads_like_the_command_line() -> None:
    args = {"target": "a.test", "seeds": "b.test,c.test", "depth": "2", "competitors": "d.test"}
    assert args_summary(args) == "2 seeds, depth 2, 1 competitor"
    assert args_summary({"target": "a.test"}) == "default seeds"


def test_scrapyd_address_comes_from_settings_then_environment_then_scrapy_cfg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scrapy.cfg").write_text(
        "[settings]\ndefault = settings\n\n[deploy]\nurl = http://cfg.example:6800/\n"
        "project = fromcfg\nusername = cfguser\npassword = cfgpass\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("SCRAPYD_URL", "SCRAPYD_USERNAME", "SCRAPYD_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    cfg = ScrapydConfig.from_settings(Settings())
    assert (cfg.url, cfg.project, cfg.username, cfg.password) == (
        "http://cfg.example:6800/",
        "fromcfg",
        "cfguser",
        "cfgpass",
    )
    monkeypatch.setenv("SCRAPYD_URL", "https://env:envpass@env.example/scrapyd")
    monkeypatch.setenv("SCRAPYD_USERNAME", "envuser")
    cfg = ScrapydConfig.from_settings(Settings())
    assert (cfg.url, cfg.username) == ("https://env.example/scrapyd/", "envuser")
    cfg = ScrapydConfig.from_settings(
        Settings(
            {
                "BACKLINKS_SCRAPYD_URL": "http://set.example:6801",
                "BACKLINKS_SCRAPYD_PROJECT": "other",
            }
        )
    )
    assert (cfg.url, cfg.project) == ("http://set.example:6801/", "other")
    with pytest.raises(ScrapydError, match="bad Scrapyd address"):
        ScrapydConfig.from_settings(Settings({"BACKLINKS_SCRAPYD_URL": "localhost:6800"}))


# -- a real Scrapyd -----------------------------------------------------------------------------


@dataclass
class ScrapydServer:
    url: str
    port: int
    root: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]  # what the project's commands get: the store, Scrapyd, the proxy
    db: Any
    web: Web
    proxy: WebServer  # serves ``web`` to the jobs and the shell crawls

    def client(self, **overrides: Any) -> Scrapyd:
        config = {"url": self.url, "project": "backlinks", "username": USER, "password": PASSWORD}
        return Scrapyd(ScrapydConfig(**{**config, **overrides}))

    def api(self, endpoint: str, **params: str) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.url}{endpoint}?{urllib.parse.urlencode(params)}")
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_finished(self, job: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client().job_state(job) == "finished":
                return
            time.sleep(0.2)
        log = self.job_log(job)
        raise AssertionError(f"job {job} did not finish in {timeout} s; log tail:\n{log[-3000:]}")

    def job_log(self, job: str) -> str:
        path = self.root / "logs" / "backlinks" / "niche" / f"{job}.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"


def _stop_jobs(server: ScrapydServer) -> None:
    """Cancel what is queued or running, then make sure no crawl process outlives the test."""
    try:
        jobs = server.client().jobs()
    except ScrapydError:
        return
    pids = [j["pid"] for j in jobs.get("running", []) if j.get("pid")]
    for job in jobs.get("pending", []) + jobs.get("running", []):
        with contextlib.suppress(ScrapydError):
            server.client().cancel(job["id"], signal="KILL")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.client().jobs().get("running"):
        time.sleep(0.1)
    for pid in pids:
        try:
            Path(f"/proc/{pid}").stat()
        except OSError:
            continue
        subprocess.run(["kill", "-KILL", str(pid)], check=False, capture_output=True)


def _stop_embedded(data_dir: Path) -> None:
    """An embedded server a killed job could not stop (the last user stops it normally)."""
    try:
        pid = int(json.loads((data_dir / "server.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="module")
def scrapyd(
    mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScrapydServer]:
    executable = shutil.which("scrapyd")
    assert executable, "scrapyd is not installed (pip install -e '.[test]')"
    root = tmp_path_factory.mktemp("scrapyd")
    port = free_port()
    (root / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"username = {USER}\npassword = {PASSWORD}\n"
        f"eggs_dir = {root / 'eggs'}\nlogs_dir = {root / 'logs'}\n"
        f"items_dir = {root / 'items'}\ndbs_dir = {root / 'dbs'}\n"
        "poll_interval = 0.2\nmax_proc = 4\n"
    )
    name = f"scrapyd_{uuid.uuid4().hex[:8]}"
    client = mongo_server.client()
    web = demo_web()
    with WebServer(web) as proxy:
        store = {
            "MONGO_URI": mongo_server.uri,
            "MONGO_DATABASE": name,
            # No BACKLINKS_DATA_DIR: the per-user data directory, here $XDG_DATA_HOME/backlinks.
            "BACKLINKS_DATA_DIR": "",
            "XDG_DATA_HOME": str(root / "xdg"),
        }
        with (root / "scrapyd.out").open("wb") as out:
            proc = subprocess.Popen(
                [executable],
                cwd=root,
                env=scrapy_env(proxy.proxy_url, **store),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        url = f"http://127.0.0.1:{port}/"
        env = scrapy_env(
            proxy.proxy_url,
            SCRAPYD_URL=url,
            SCRAPYD_USERNAME=USER,
            SCRAPYD_PASSWORD=PASSWORD,
            **store,
        )
        server = ScrapydServer(url, port, root, proc, env, client[name], web, proxy)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    server.client().daemon_status()
                    break
                except ScrapydError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        out_text = (root / "scrapyd.out").read_text(errors="replace")
                        raise RuntimeError(f"scrapyd did not start:\n{out_text[-2000:]}") from None
                    time.sleep(0.1)
            yield server
        finally:
            _stop_jobs(server)
            stop_process(proc)
            _stop_embedded(root / "xdg" / "backlinks")
            client.drop_database(name)
            client.close()


def _checkout_copy(dest: Path) -> None:
    """The files git would check out (tracked, or new and not ignored), in a new git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)


@dataclass
class Deploy:
    run: subprocess.CompletedProcess[str]
    checkout: Path
    egg: Path


@pytest.fixture(scope="module")
def deployed(scrapyd: ScrapydServer, tmp_path_factory: pytest.TempPathFactory) -> Deploy:
    """``scrapyd-deploy test`` in a copy of the checkout: the project's own ``[deploy]`` section
    (project name and all), with the test server's address given as a named target in the
    user-level scrapy.cfg, as a user with a second server would."""
    executable = shutil.which("scrapyd-deploy")
    assert executable, "scrapyd-client is not installed (pip install -e '.[test]')"
    tmp = tmp_path_factory.mktemp("deploy")
    checkout = tmp / "checkout"
    _checkout_copy(checkout)
    xdg = tmp / "xdg"
    xdg.mkdir()
    (xdg / "scrapy.cfg").write_text(
        f"[deploy:test]\nurl = {scrapyd.url}\nusername = {USER}\npassword = {PASSWORD}\n"
    )
    run = subprocess.run(
        [executable, "test", "--version", "r1"],
        cwd=checkout,
        env={**scrapy_env(), "XDG_CONFIG_HOME": str(xdg)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Deploy(run, checkout, scrapyd.root / "eggs" / "backlinks" / "r1.egg")


def test_scrapyd_deploy_ships_every_package_and_leaves_git_clean(deployed: Deploy) -> None:
    assert deployed.run.returncode == 0, deployed.run.stderr + deployed.run.stdout
    answer = json.loads(deployed.run.stdout.strip().splitlines()[-1])
    assert answer["status"] == "ok" and answer["project"] == "backlinks"
    assert answer["spiders"] == 1  # Scrapyd ran `scrapy list` from the egg: niche
    with zipfile.ZipFile(deployed.egg) as egg:
        names = set(egg.namelist())
        entry_points = egg.read("EGG-INFO/entry_points.txt").decode()
    # A module missing here would still import on this machine (the editable install), and
    # fail only on a server: so every module of the three packages must be in the egg.
    modules = {
        path.relative_to(deployed.checkout).as_posix()
        for package in PACKAGES
        for path in (deployed.checkout / package).rglob("*.py")
    }
    assert modules and modules <= names, sorted(modules - names)
    assert "backlink_spider/demoweb/demo_web.toml" in names  # the demo web's text: package data
    assert not {n for n in names if n.startswith(("tests/", "benchmarks/"))}  # no test webs
    assert "settings = settings" in entry_points  # how Scrapyd finds the settings module
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=deployed.checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    untracked = [line for line in status.stdout.splitlines() if line.startswith("??")]
    assert not untracked, f"the deploy left files git would add: {untracked}"


def _backlink_pairs(db: Any, crawl_id: str) -> set[tuple[str, str]]:
    return {
        (d["source_url"], d["target_url"]) for d in db.backlinks.find({"last_crawl_id": crawl_id})
    }


def test_schedule_json_runs_the_same_crawl_as_scrapy_crawl(
    scrapyd: ScrapydServer, deployed: Deploy, mongo_server: MongoServer, tmp_path: Path
) -> None:
    assert deployed.run.returncode == 0, deployed.run.stderr
    web = scrapyd.web
    args = {
        "target": web.target,
        "seeds": ",".join(web.seeds),
        "competitors": ",".join(web.competitors),
    }
    job = scrapyd.client().schedule(args, FAST_SETTINGS)
    # The same crawl from the shell, into a database of its own, while the job runs.
    shell_db = f"{scrapyd.db.name}_shell"
    shell_env = {**scrapyd.env, "MONGO_DATABASE": shell_db}
    argv = ["crawl", "niche", *(x for k, v in args.items() for x in ("-a", f"{k}={v}")), *FAST]
    shell = run_scrapy(argv, shell_env)
    scrapyd.wait_finished(job)
    assert shell.returncode == 0, shell.stderr[-3000:]

    crawl = scrapyd.db.crawls.find_one({"job": job})
    assert crawl is not None, "the crawl record keeps its Scrapyd job id"
    assert crawl["status"] == "finished", scrapyd.job_log(job)[-3000:]
    client = mongo_server.client()
    try:
        shell_crawl = client[shell_db].crawls.find_one()
        assert shell_crawl is not None and shell_crawl["status"] == "finished"
        for field in (
            "target",
            "target_url",
            "seeds",
            "keywords",
            "competitors",
            "depth",
            "max_pages",
        ):
            assert crawl[field] == shell_crawl[field], field
        via_scrapyd = _backlink_pairs(scrapyd.db, crawl["_id"])
        assert via_scrapyd == _backlink_pairs(client[shell_db], shell_crawl["_id"])
    finally:
        client.drop_database(shell_db)
        client.close()
    expected = {
        (try_canonical_url(e.source_url), try_canonical_url(e.target_url))
        for e in web.expected
        if e.min_depth <= 1
    }
    assert expected and expected <= via_scrapyd

    shown = run_scrapy(["crawls", web.target], scrapyd.env)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split()[:3] == ["STARTED", "(UTC)", "TOOK"]
    row = next(r for r in rows if r.rstrip().endswith(job))
    # The crawl's figures (what its summary line said), not one process's Scrapy stats.
    figures = crawl["figures"]
    [cells] = [r for r in parse_crawls(shown.stdout) if r["JOB"] == job]
    assert {name: int(cells[column]) for name, column in FIGURE_COLUMNS.items()} == figures
    assert figures["pages"] == len(stored_pages(scrapyd.db, crawl["_id"])) > 0
    assert web.target in row and "finished" in row and "4 seeds" in row


def test_a_scrapyd_job_beside_a_shell_crawl_loses_no_live_link(
    scrapyd: ScrapydServer, deployed: Deploy, mongo_server: MongoServer, tmp_path: Path
) -> None:
    """Issue 12: a Scrapyd job and a shell crawl of one target at once, on one store, over a web
    where nothing changed: whichever ends first calls none of the other's live links lost."""
    assert deployed.run.returncode == 0, deployed.run.stderr
    web = scrapyd.web
    name = f"{scrapyd.db.name}_beside"
    env = {**scrapyd.env, "MONGO_DATABASE": name}
    args = {
        "target": web.target,
        "seeds": ",".join(web.seeds),
        "competitors": ",".join(web.competitors),
    }
    # Writes go out while the crawls run (a partial batch every 0.2 s), as in a crawl longer
    # than the flush interval: each crawl then sees the other's writes before its own end.
    flush = {"BACKLINKS_MONGO_FLUSH_INTERVAL": "0.2"}
    argv = [
        *("crawl", "niche"),
        *(x for k, v in args.items() for x in ("-a", f"{k}={v}")),
        *FAST,
        *(x for k, v in flush.items() for x in ("-s", f"{k}={v}")),
    ]
    client = mongo_server.client()
    db = client[name]
    try:
        first = run_scrapy(argv, env)
        assert first.returncode == 0, first.stderr[-3000:]
        stored = db.backlinks.count_documents({})
        assert stored and db.backlinks.count_documents({"lost_at": None}) == stored

        # The web answers slowly enough (0.1 s a request) that the two crawls overlap for most
        # of their length, well beyond the few tenths of a second between their starts.
        scrapyd.proxy.latency = 0.1
        try:
            job = scrapyd.client().schedule(
                args, {**FAST_SETTINGS, **flush, "MONGO_DATABASE": name}
            )
            with (tmp_path / "shell.log").open("w") as log:
                shell = subprocess.Popen(
                    [shutil.which("scrapy") or "scrapy", *argv], cwd=ROOT, env=env, stderr=log
                )
                try:
                    code = shell.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    shell.kill()
                    shell.wait()
                    raise
            scrapyd.wait_finished(job)
        finally:
            scrapyd.proxy.latency = 0.0
        assert code == 0, (tmp_path / "shell.log").read_text()[-3000:]

        crawls = list(db.crawls.find())
        assert len(crawls) == 3
        assert all(c["status"] == "finished" for c in crawls), scrapyd.job_log(job)[-3000:]
        beside = next(c for c in crawls if c.get("job") == job)
        shell_crawl = max(
            (c for c in crawls if c["_id"] != beside["_id"]), key=lambda c: c["started_at"]
        )
        assert shell_crawl.get("job") is None
        # Each began before the other finished: the test cannot pass by running them in turn.
        # (With the old end of a crawl, no `last_seen` in `_unseen`, it fails: links lost.)
        assert beside["started_at"] < shell_crawl["finished_at"], (beside, shell_crawl)
        assert shell_crawl["started_at"] < beside["finished_at"], (beside, shell_crawl)

        assert db.backlinks.count_documents({}) == stored
        lost = [d["source_url"] for d in db.backlinks.find({"lost_at": {"$ne": None}})]
        assert lost == []
        unverified = [d["source_url"] for d in db.backlinks.find({"unverified_at": {"$ne": None}})]
        assert unverified == []
    finally:
        client.drop_database(name)
        client.close()


def test_a_recurring_schedule_queues_one_crawl_and_skips_while_it_runs(
    scrapyd: ScrapydServer, deployed: Deploy
) -> None:
    assert deployed.run.returncode == 0, deployed.run.stderr
    web = scrapyd.web
    # Slow on purpose (a pause between requests to a host): the crawl is still running when the
    # schedule falls due again 2 s later.
    added = run_scrapy(
        [
            "schedule",
            "add",
            web.target,
            "--every",
            "2s",
            "--seeds",
            ",".join(web.seeds),
            "--competitors",
            ",".join(web.competitors),
            "--setting",
            "DOWNLOAD_DELAY=3",
            "--setting",
            "AUTOTHROTTLE_ENABLED=False",
        ],
        scrapyd.env,
    )
    assert added.returncode == 0, added.stderr
    assert f"schedule {web.target}: crawl {web.target} every 2s" in added.stdout
    # The seeds and competitors went into the target's profile, which each crawl reads when it
    # runs; the schedule itself keeps only what the profile does not hold.
    profile = scrapyd.db.targets.find_one({"_id": web.target})
    assert {url_host(s) for s in profile["seeds"]} >= {url_host(parse_seed(s)) for s in web.seeds}
    assert profile["competitors"] == web.competitors
    job_state = scrapyd.db.schedules.find_one({"_id": web.target})["job_state"]
    stored = pickle.loads(job_state)  # noqa: S301 - APScheduler's own job store, ours
    assert set(stored["kwargs"]["args"]) == {"target"}

    runner = subprocess.Popen(
        [
            shutil.which("scrapy") or "scrapy",
            "schedule",
            "run",
            "-s",
            "BACKLINKS_SCHEDULE_REFRESH=0.5",
        ],
        cwd=ROOT,
        env=scrapyd.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        state: dict[str, Any] = {}
        while time.monotonic() < deadline and runner.poll() is None:
            state = scrapyd.db.schedule_state.find_one({"_id": web.target}) or {}
            if state.get("skipped", 0) >= 1:
                break
            time.sleep(0.2)
        assert state.get("fired") == 1 and state.get("skipped", 0) >= 1, state
        job = state["last_job"]
        jobs = scrapyd.client().jobs()
        active = [j["id"] for j in jobs["pending"] + jobs["running"]]
        assert active == [job], "exactly one crawl of the target is queued or running"
        assert scrapyd.client().job_state(job) in {"pending", "running"}
    finally:
        runner.send_signal(signal.SIGTERM)
        try:
            output, _ = runner.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            runner.kill()
            output, _ = runner.communicate()
    assert runner.returncode == 0, output
    assert f"queued a crawl of {web.target} on Scrapyd, job {job}" in output
    assert f"still running on Scrapyd (job {job}); not starting another" in output or (
        f"still pending on Scrapyd (job {job}); not starting another" in output
    )
    scrapyd.client().cancel(job, signal="KILL")

    listed = run_scrapy(["schedule", "list"], scrapyd.env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(web.target))
    assert " 2s " in row and job in row and "4 seeds, 1 competitor" in row

    removed = run_scrapy(["schedule", "remove", web.target], scrapyd.env)
    assert removed.returncode == 0, removed.stderr
    assert scrapyd.db.schedules.count_documents({}) == 0


def test_jobs_without_mongo_uri_share_the_embedded_store_of_the_user_data_dir(
    scrapyd: ScrapydServer, deployed: Deploy
) -> None:
    """No MONGO_URI, no BACKLINKS_DATA_DIR: each job starts or joins the embedded server of the
    per-user data directory (the one a shell command of that user finds, wherever it runs), two
    jobs at once share it, and the last one out stops it."""
    assert deployed.run.returncode == 0, deployed.run.stderr
    web = scrapyd.web
    settings = {**FAST_SETTINGS, "MONGO_URI": ""}
    jobs = [
        scrapyd.client().schedule({"target": web.target, "seeds": seed, "max_pages": "4"}, settings)
        for seed in web.seeds[:2]
    ]
    for job in jobs:
        scrapyd.wait_finished(job)
    shown = run_scrapy(["crawls", web.target], {**scrapyd.env, "MONGO_URI": ""})
    assert shown.returncode == 0, shown.stderr
    for job in jobs:
        row = next((r for r in shown.stdout.splitlines() if r.rstrip().endswith(job)), "")
        assert "finished" in row, (scrapyd.job_log(job)[-2000:], shown.stdout)
    data = scrapyd.root / "xdg" / "backlinks"
    assert (data / "db").is_dir()
    assert not (data / "server.json").exists(), "the embedded server was left"


def _assert_one_line_error(run: Any, *needles: str) -> None:
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert run.returncode == 1, run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_wrong_scrapyd_address_is_one_line(scrapyd: ScrapydServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    run = run_scrapy(
        ["schedule", "add", "site.test", "--every", "7d", "--seeds", "a.test"],
        {**scrapyd.env, "SCRAPYD_URL": dead},
    )
    _assert_one_line_error(run, f"cannot reach Scrapyd at {dead}")
    run = run_scrapy(["schedule", "run"], {**scrapyd.env, "SCRAPYD_PASSWORD": "wrong"})
    _assert_one_line_error(run, "refused the credentials")


def test_the_client_says_what_is_wrong_in_one_line(scrapyd: ScrapydServer) -> None:
    with pytest.raises(ScrapydError, match=r"refused the credentials .*SCRAPYD_USERNAME"):
        scrapyd.client(username="").daemon_status()
    with pytest.raises(ScrapydError, match=r"'nosuch' is not deployed .* scrapyd-deploy"):
        scrapyd.client(project="nosuch").spiders()
