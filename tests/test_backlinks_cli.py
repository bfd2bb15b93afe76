"""``backlinks``, the installed command, as a new user runs it: from an empty directory of theirs.

One crawl of the demo web (its link farm included: depth 2 reaches every farm host) with the
embedded store in the per-user data directory (``XDG_DATA_HOME`` points at a temporary one);
then the exports a spreadsheet or an SEO tool reads, and the disavow file. The mistakes a user
makes are in ``tests/test_cli.py``.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy.settings import Settings

from backlink_spider.commands.export import DOMAIN_COLUMNS, LINK_COLUMNS
from backlink_spider.demoweb import demo_web
from backlink_spider.demoweb.model import Web
from backlink_spider.demoweb.server import WebServer
from backlink_spider.urls import get_resolver
from pipelines.store import Store, acquire_store, release_store
from tests.conftest import FAST, ROOT, Run, backlinks_argv, run_backlinks, run_scrapy, scrapy_env

COLUMNS = 72  # the terminal's width the summaries are laid out for
DEAD_SEED = "gone-away.test"  # a seed site the web does not have


@dataclass
class Crawled:
    web: Web
    home: Path  # the user's directory the commands run in: empty before the crawl
    data: Path  # where the store must be: the per-user data directory
    env: dict[str, str]
    run: Run
    records: list[dict[str, Any]]  # the JSON Lines export, by scrapy in the checkout
    store: Store  # held, so the commands share one server instead of starting one each

    def backlinks(self, *args: str, cwd: Path | None = None) -> Run:
        run = run_backlinks(list(args), self.env, cwd=cwd or self.home)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "Traceback" not in run.stderr
        return run


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    web = demo_web()
    home = tmp_path_factory.mktemp("anywhere")
    xdg = tmp_path_factory.mktemp("xdg")
    with WebServer(web) as server:
        # No BACKLINKS_DATA_DIR: the per-user data directory, $XDG_DATA_HOME/backlinks.
        env = scrapy_env(
            server.proxy_url, BACKLINKS_DATA_DIR="", XDG_DATA_HOME=str(xdg), COLUMNS=str(COLUMNS)
        )
        # One seed more, whose host is not there: one line in the log, named in the summary.
        niche = [
            f"{a},https://{DEAD_SEED}/" if a.startswith("seeds=") else a
            for a in web.niche_args(competitors=True)
        ]
        progress = ["-s", "BACKLINKS_PROGRESS_LOG_SECONDS=0.2"]  # not a terminal: log lines
        args = [*niche, "-a", "depth=2", "-O", "links.csv", *FAST, *progress]
        run = run_backlinks(["crawl", "niche", *args], env, cwd=home)
        assert run.returncode == 0, run.stderr[-3000:]
        store = acquire_store(Settings({"BACKLINKS_DATA_DIR": str(xdg / "backlinks")}))
        try:
            # scrapy in the checkout, same environment: the same store, whatever the directory
            out = tmp_path_factory.mktemp("checkout-export") / "stored.jsonl"
            export = run_scrapy(["export", web.target, "-O", str(out)], env, cwd=ROOT)
            assert export.returncode == 0, export.stderr
            yield Crawled(web, home, xdg / "backlinks", env, run, export.feed(out), store)
        finally:
            release_store(store)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV file as a spreadsheet opens it: its byte order mark, one header row, the rows."""
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8, said to Excel
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def test_the_store_is_the_per_user_data_directory_from_anywhere(crawled: Crawled) -> None:
    assert (crawled.data / "db").is_dir()
    assert sorted(p.name for p in crawled.home.iterdir()) == ["links.csv"]  # no .backlinks/
    # scrapy export in the checkout read the store the crawl wrote elsewhere
    stored = crawled.store.db.backlinks.count_documents({"matched_domain": crawled.web.target})
    assert len(crawled.records) == stored > 10


def test_the_crawl_ends_with_a_summary_table_on_standard_output(crawled: Crawled) -> None:
    """Figures a person can check against the store, the best link and its reasons in whole
    words, the data directory, all within the terminal's width (logs stay on stderr)."""
    out = crawled.run.stdout
    lines = out.splitlines()
    assert lines and all(len(line) <= COLUMNS for line in lines), out
    target = crawled.web.target
    db = crawled.store.db
    record = db.crawls.find_one({"target": target}, sort=[("started_at", -1)])
    assert lines[0].split()[:3] == [target, "crawl", record["_id"]]
    links = list(db.backlinks.find({"matched_domain": target, "lost_at": None}))
    domains = {link["source_domain"] for link in links}
    words = " ".join(out.split())
    assert f"backlinks {len(links):,} referring domains {len(domains):,}" in words
    assert (
        f"new this crawl {record['figures']['new']:,} lost {record['figures']['lost']:,}" in words
    )
    assert f"pages crawled {record['figures']['pages']:,}" in words
    best = min(links, key=lambda link: (-link["scores"]["quality"], link["_id"]))
    tokens = set(out.replace(";", " ").split())
    # Why it scores as it does: its site's reason, then what took trust away, if anything.
    reasons = best["scores"]["reasons"]
    taken = [r for r in reasons[1:] if r.endswith("passes nothing") or ": counted at " in r]
    for reason in [reasons[0], *(taken or reasons[1:])][:2]:
        assert set(reason.replace(";", " ").split()) <= tokens, (reason, out)  # no word cut
    for name in ("quality", "site_trust", "link_trust"):
        assert f"{best['scores'][name]:.0f}" in tokens, name
    assert f"data: {crawled.data}" in words
    assert "INFO" not in out and "INFO" in crawled.run.stderr


def test_score_without_logs_still_prints_its_summary(crawled: Crawled) -> None:
    run = crawled.backlinks("score", crawled.web.target, "--nolog")
    assert run.stderr == ""
    first, heading = run.stdout.splitlines()[:2]
    assert first.startswith("scored ") and heading.split()[:2] == [crawled.web.target, "crawl"]
    assert f"data: {crawled.data}" in " ".join(run.stdout.split())


def test_an_unreachable_seed_is_one_log_line_and_named_in_the_summary(crawled: Crawled) -> None:
    err = crawled.run.stderr
    assert "Traceback" not in err and "ERROR" not in err, err[-3000:]
    said = [line for line in err.splitlines() if DEAD_SEED in line]
    assert len([line for line in said if "WARNING: Cannot reach" in line]) == 1, said
    record = crawled.store.db.crawls.find_one(
        {"target": crawled.web.target}, sort=[("started_at", -1)]
    )
    assert [f["seed"] for f in record["failed_seeds"]] == [DEAD_SEED]
    assert record["stats"]["backlinks/robots/unreachable_hosts"] >= 1
    reason = record["failed_seeds"][0]["reason"]
    assert f"seeds not crawled: {DEAD_SEED} ({reason})" in " ".join(crawled.run.stdout.split())


def test_progress_off_a_terminal_is_log_lines_ending_with_the_crawls_figures(
    crawled: Crawled,
) -> None:
    said = [line for line in crawled.run.stderr.splitlines() if "INFO: Progress: " in line]
    assert said, crawled.run.stderr[-2000:]
    record = crawled.store.db.crawls.find_one(
        {"target": crawled.web.target}, sort=[("started_at", -1)]
    )
    figures = record["figures"]
    last = said[-1].split("INFO: Progress: ")[1]
    assert last.startswith(f"{figures['pages']:,} of 5,000 pages; {figures['backlinks']:,} ")
    assert f"from {figures['referring_domains']:,} referring domains" in last


def test_progress_on_a_terminal_is_one_live_line(tmp_path: Path) -> None:
    """Standard error a terminal (a pty): Rich's line, redrawn; standard output the summary."""
    web = demo_web()
    with WebServer(web) as server:
        env = scrapy_env(server.proxy_url, BACKLINKS_DATA_DIR=str(tmp_path / "data"))
        args = ["crawl", "niche", *web.niche_args(), "-a", "depth=0", *FAST]
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80 columns
        proc = subprocess.Popen(
            backlinks_argv([*args, "-s", "BACKLINKS_SCORE_ON_CLOSE=False"]),
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
            cwd=tmp_path,
        )
        os.close(slave)
        shown = b""
        while True:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the pty closed with the process
                    break
                if not data:
                    break
                shown += data
            elif proc.poll() is not None:
                break
        os.close(master)
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0
    screen = shown.decode("utf-8", "replace")
    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", "\n").splitlines()
    live = [line for line in lines if line.startswith("pages ") and " domains · " in line]
    assert live and all(len(line) <= 80 for line in live), screen[-2000:]
    store = acquire_store(Settings({"BACKLINKS_DATA_DIR": str(tmp_path / "data")}))
    try:
        figures = store.db.crawls.find_one({"target": web.target})["figures"]
    finally:
        release_store(store)
    pages, _, found = live[-1].partition("/5000 ")
    assert pages.split()[-1] == str(figures["pages"])
    assert found.startswith(f"{figures['backlinks']} backlinks · {figures['referring_domains']} ")
    assert "Progress: " not in screen  # the live line, not log lines
    assert out.split()[0] == web.target  # the summary on standard output


def test_the_crawl_feed_is_csv_by_its_extension(crawled: Crawled) -> None:
    with (crawled.home / "links.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    watched = {crawled.web.target, *crawled.web.competitors}
    assert rows and all(r["matched_domain"] in watched for r in rows)
    ours = [r for r in rows if r["matched_domain"] == crawled.web.target]
    assert len(ours) == crawled.store.db.backlinks.count_documents(
        {"matched_domain": crawled.web.target}
    )


def test_csv_export_has_the_rows_of_the_json_lines_export(crawled: Crawled) -> None:
    records = crawled.records
    elsewhere = crawled.home / "reports"  # another directory: the same store
    elsewhere.mkdir()
    crawled.backlinks("export", crawled.web.target, "-O", "stored.txt:csv", cwd=elsewhere)
    header, rows = read_csv(elsewhere / "stored.txt")  # Scrapy's FILE:FORMAT
    assert header == list(LINK_COLUMNS)
    assert len(rows) == len(records) > 10
    for row, record in zip(rows, records, strict=True):  # same links, same order (best first)
        assert (row["Source URL"], row["Target URL"]) == (
            record["source_url"],
            record["target_url"],
        )
        assert row["Anchor"] == record["anchor_text"]
        assert row["Status"] == record["status"]
        assert float(row["Quality"]) == record["scores"]["quality"]
        assert row["Reasons"] == "; ".join(record["scores"]["reasons"])
        assert row["Site trust"] == str(record["scores"]["site_trust"])
        assert row["Found via"] == "crawl"  # the seeds' neighbourhood, not Common Crawl
        followed = not record["nofollow"] and not {"nofollow", "ugc", "sponsored"} & set(
            record["rel"]
        )
        assert row["Follow/nofollow"] == ("follow" if followed else "nofollow")
        assert row["First seen"] == record["first_seen"][:19].replace("T", " ")


def test_referring_domains_export_gives_one_row_per_site(crawled: Crawled) -> None:
    records = crawled.records
    crawled.backlinks("export", crawled.web.target, "--referring-domains", "-O", "domains.csv")
    header, rows = read_csv(crawled.home / "domains.csv")
    assert header == list(DOMAIN_COLUMNS.values())
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_domain.setdefault(record["source_domain"], []).append(record)
    assert sorted(r["Referring domain"] for r in rows) == sorted(by_domain)  # once each
    for row in rows:
        links = by_domain[row["Referring domain"]]
        assert int(row["Links"]) == len(links)
        assert int(row["Followed links"]) == sum(
            not r["nofollow"] and not {"nofollow", "ugc", "sponsored"} & set(r["rel"])
            for r in links
        )
        assert row["Best link"] == links[0]["source_url"]  # records come best first
        assert row["First seen"] == min(r["first_seen"] for r in links)[:19].replace("T", " ")
    trust = [float(r["Site trust"]) for r in rows]
    assert trust == sorted(trust, reverse=True)  # the most trusted sites first


def test_upgrades_are_the_strong_sites_whose_links_pass_little(crawled: Crawled) -> None:
    """One filter away: links from trusted sites that pass under half their trust (nofollow,
    footer, site-wide...), each with the factor that took it away; the summary points to it."""
    target = crawled.web.target
    crawled.backlinks("export", target, "--upgrades", "-O", "upgrades.jsonl")
    with (crawled.home / "upgrades.jsonl").open(encoding="utf-8") as fh:
        upgrades = [json.loads(line) for line in fh]

    def passes_little(record: dict[str, Any]) -> bool:
        scores = record["scores"]
        return scores["site_trust"] >= 50 and scores["link_trust"] < scores["site_trust"] / 2

    expected = [r for r in crawled.records if r["status"] != "lost" and passes_little(r)]
    assert upgrades and [r["source_url"] for r in upgrades] == [r["source_url"] for r in expected]
    for record in upgrades:
        reasons = record["scores"]["reasons"]
        assert any(r.endswith("passes nothing") or ": counted at " in r for r in reasons)
    farm = farm_domains(crawled.web)
    assert not {r["source_domain"] for r in upgrades} & farm
    words = " ".join(crawled.run.stdout.split())
    assert f"{len(upgrades)} links from strong sites pass little of their trust" in words
    assert f"export {target} --upgrades" in words


def farm_domains(web: Web) -> set[str]:
    """The link farm of the demo web, as its pages declare it."""
    resolver = get_resolver()
    return {
        resolver.registered_domain(urlsplit(e.source_url).hostname or "")
        for e in web.expected
        if "link farm" in e.note
    }


def seed_domains(web: Web) -> set[str]:
    resolver = get_resolver()
    return {resolver.registered_domain(host) for host in web.seed_hosts()}


def disavowed(text: str) -> list[str]:
    """The domains of a disavow file, checked to be in Google's format."""
    lines = text.splitlines()
    assert lines and all(line.startswith(("#", "domain:")) for line in lines)
    return [line.removeprefix("domain:") for line in lines if line.startswith("domain:")]


def test_disavow_names_the_link_farm_and_no_seed(crawled: Crawled) -> None:
    farm = farm_domains(crawled.web)
    assert len(farm) == 3
    run = crawled.backlinks("disavow", crawled.web.target, "-o", "disavow.txt")
    text = (crawled.home / "disavow.txt").read_text(encoding="utf-8")
    assert set(disavowed(text)) == farm
    assert not set(disavowed(text)) & seed_domains(crawled.web)
    lines = text.splitlines()
    for domain in farm:  # each domain comes after a comment giving its reasons
        comment = lines[lines.index(f"domain:{domain}") - 1]
        assert comment.startswith(f"# {domain}: ") and "link farm neighbourhood" in comment
        assert f"domain:{domain}" in run.stdout  # the review, printed
    assert "review" in run.stdout


def test_a_kept_domain_is_never_disavowed(crawled: Crawled) -> None:
    """Last in the file: it edits the profile."""
    kept = sorted(farm_domains(crawled.web))[0]
    crawled.backlinks("target", crawled.web.target, "--keep", f"www.{kept}")
    run = crawled.backlinks("disavow", crawled.web.target, "-o", "-")
    assert set(disavowed(run.stdout)) == farm_domains(crawled.web) - {kept}  # the file
    assert f"{kept}: kept in the target profile" in run.stderr  # the review
