"""``scrapy target TARGET``: show and edit a target's profile (``pipelines.target_profile``).

The profile holds the site owner's choices that scores follow: trusted seeds, competitors,
keywords and distrusted hosts; and the domains to keep, which ``disavow`` never lists. Values are
checked exactly as the crawl's ``-a`` arguments are (kept domains as competitors are). After an
edit that changes what scoring reads, the stored links are scored again, so what ``export`` and
``report`` show follows the profile at once (``--no-score`` leaves that to the next crawl or
``scrapy score``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from scrapy.exceptions import UsageError

from backlink_spider.cli import StoreCommand, fail
from backlink_spider.config import (
    ArgumentError,
    parse_competitors,
    parse_distrust,
    parse_keywords,
    parse_seeds,
    seed_list,
    split_list,
)
from backlink_spider.urls import UrlError, get_resolver, parse_target
from pipelines.target_profile import (
    FIELDS,
    SCORING_FIELDS,
    TargetProfile,
    edit_profile,
    load_profile,
)

# option name -> (profile field, add or remove)
EDITS = {
    "add_seeds": ("seeds", "add"),
    "remove_seeds": ("seeds", "remove"),
    "add_competitors": ("competitors", "add"),
    "remove_competitors": ("competitors", "remove"),
    "add_keywords": ("keywords", "add"),
    "remove_keywords": ("keywords", "remove"),
    "distrust": ("distrust", "add"),
    "remove_distrust": ("distrust", "remove"),
    "keep": ("keep", "add"),
    "remove_keep": ("keep", "remove"),
}
LABELS = {
    "seeds": "trusted seeds",
    "competitors": "competitors",
    "keywords": "keywords",
    "distrust": "distrusted hosts",
    "keep": "kept domains",
}


def parse_values(name: str, raw: str, target_domain: str) -> list[str]:
    """A comma-separated option's values, checked like the crawl argument of the same name
    (seeds may be a file with one per line); ``ArgumentError`` names the bad one."""
    if name == "seeds":
        return parse_seeds(seed_list(raw))
    if name == "competitors":
        return parse_competitors(split_list(raw), target_domain)
    if name == "keywords":
        return parse_keywords(split_list(raw))
    if name == "keep":
        return parse_keep(split_list(raw))
    return parse_distrust(split_list(raw))


def parse_keep(values: list[str]) -> list[str]:
    """Kept domains as registered domains (``www.a.com`` keeps all of a.com)."""
    resolver = get_resolver()
    domains = []
    for value in values:
        try:
            domains.append(parse_target(value, resolver)[1])
        except UrlError as exc:
            raise ArgumentError(f"bad domain {value!r}: {exc}") from None
    return list(dict.fromkeys(domains))


def profile_text(profile: TargetProfile) -> str:
    """The profile as a person reads it."""
    lines = [f"target {profile.target}"]
    for name in FIELDS:
        values = getattr(profile, name)
        lines.append(f"  {LABELS[name]} ({len(values)}): {', '.join(values) or '-'}")
    if profile.updated_at is not None:
        lines.append(f"  updated {profile.updated_at:%Y-%m-%d %H:%M UTC}")
    return "\n".join(lines)


class Command(StoreCommand):
    def syntax(self) -> str:
        return "TARGET [--add-seeds SITES] [--remove-seeds SITES] [--add-competitors ...] ..."

    def short_desc(self) -> str:
        return "Show or edit a target's profile: seeds, competitors, keywords, distrust, keep"

    def long_desc(self) -> str:
        return (
            "Show or edit a target's profile. Scoring, prospects, the report and scheduled "
            "crawls read it; a crawl given no seeds crawls its trusted seeds, and every crawl "
            "adds what it was given. Values are comma-separated and checked like the crawl's "
            "-a arguments; removing a seed stops trusting that site (every start page on its "
            "host). After an edit the target's links are scored again (--no-score: not now). "
            "Kept domains (--keep) are never put in a disavow file."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        group = parser.add_argument_group(title="edit")
        for option, (name, action) in EDITS.items():
            flag = "--" + option.replace("_", "-")
            what = LABELS[name]
            help_text = f"{'add to' if action == 'add' else 'remove from'} the {what}"
            if name == "seeds" and action == "add":
                help_text += " (hosts or URLs, or a file with one per line)"
            if name == "keep" and action == "add":
                help_text += ", which disavow never lists (domains)"
            group.add_argument(flag, dest=option, metavar="VALUES", help=help_text)
        group.add_argument(
            "--no-score", action="store_true", help="do not score the links again after an edit"
        )
        parser.add_argument("--json", action="store_true", help="print the profile as JSON")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one target, e.g. scrapy target site.com", print_help=False)
        assert self.settings is not None
        domain = self.target_domain(args[0])
        add: dict[str, list[str]] = {}
        remove: dict[str, list[str]] = {}
        for option, (name, action) in EDITS.items():
            raw = getattr(opts, option)
            if raw is None:
                continue
            try:
                values = parse_values(name, raw, domain)
            except ArgumentError as exc:
                fail(f"--{option.replace('_', '-')}: {exc}")
            if not values:
                fail(f"--{option.replace('_', '-')} needs at least one value")
            (add if action == "add" else remove).setdefault(name, []).extend(values)
        both = sorted(set(add) & set(remove))
        if both:
            fail(f"add and remove {both[0]} in two commands, not one")
        with self.open_store(domain, create=bool(add or remove)) as store:
            before = load_profile(store.db, domain)
            if not add and not remove:
                self._show(before or TargetProfile(domain), opts.json, known=before is not None)
                return
            try:
                after = edit_profile(store.db, domain, add=add, remove=remove)
            except ValueError as exc:
                fail(str(exc))
            self._show(after, opts.json, known=True)
            old, new = (before or TargetProfile(domain)).describe(), after.describe()
            changed = any(old[name] != new[name] for name in SCORING_FIELDS)
            if changed and not opts.no_score:
                self._score(store.db, domain)

    def _show(self, profile: TargetProfile, as_json: bool, *, known: bool) -> None:
        if as_json:
            print(json.dumps(profile.describe(), ensure_ascii=False))
            return
        print(profile_text(profile))
        if not known:
            print(
                f"  (nothing stored for {profile.target} yet: crawl it, or add seeds with "
                f"scrapy target {profile.target} --add-seeds a.com,b.org)"
            )

    def _score(self, db: Any, domain: str) -> None:
        """Scores follow the profile: the target's links are scored again after an edit."""
        # Imported here: scoring brings numpy and scipy, which every command would load too.
        from backlink_spider.commands.score import summary_line
        from pipelines.scoring.run import ScoringError, score_target

        if not db.backlinks.find_one({"matched_domain": domain}, {"_id": 1}):
            return
        try:
            summary = score_target(db, domain, settings=self.settings)
        except ScoringError as exc:
            fail(str(exc), code=1)
        print(summary_line(summary))
