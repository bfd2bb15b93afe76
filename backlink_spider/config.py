"""The niche crawl's arguments, validated before the first request.

Every mistake a user can make on the command line (or in a Scrapyd ``schedule.json``) ends here
as an ``ArgumentError`` with one line that says what to do, never as a traceback mid-crawl.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backlink_spider.extract import DEFAULT_POSITION_PATTERNS, PositionRules
from backlink_spider.render import MODES as RENDER_MODES
from backlink_spider.render import find_browser
from backlink_spider.urls import (
    UrlError,
    get_resolver,
    parse_seed,
    parse_target,
    tracking_params,
    url_host,
)

ARGUMENTS = (
    "target",
    "seeds",
    "keywords",
    "competitors",
    "distrust",
    "depth",
    "max_pages",
    "render",
    "discovered",
)
MAX_DEPTH = 5
MAX_DISCOVERED = 10_000  # discovered sites one crawl may visit (-a discovered=N)

if TYPE_CHECKING:
    from pipelines.target_profile import TargetProfile


class ArgumentError(ValueError):
    """A bad crawl argument or setting; the message is the whole story, on one line."""


@dataclass(frozen=True)
class CrawlConfig:
    target_url: str
    target_host: str
    target_domain: str
    seeds: tuple[str, ...]
    seed_domains: frozenset[str]
    given_seeds: tuple[str, ...] = ()  # the seeds given to this crawl (they join the profile)
    keywords: tuple[str, ...] = ()
    competitors: tuple[str, ...] = ()  # registered domains
    distrust: tuple[str, ...] = ()  # known-bad hosts for scoring (Anti-TrustRank seeds)
    depth: int = 1
    max_pages: int = 5000
    max_pages_per_host: int = 200
    target_pages: int = 10
    max_page_bytes: int = 4 * 1024 * 1024
    trap_pattern_pages: int = 1000  # a backstop: the evidence rules below close traps first
    trap_query_variants: int = 10
    trap_segment_repeats: int = 2
    trap_repeats: int = 5  # fetched pages of a URL shape repeating another's text: it closes
    trap_probation_pages: int = 20  # pages of a URL shape admitted before its pages must show
    max_frontier: int = 100_000  # URLs admitted and waiting to be fetched
    context_chars: int = 240
    text_chars: int = 20000
    page_terms: int = 250  # terms stored per page (relevance.page_terms)
    drop_params: tuple[str, ...] = ()
    position_rules: PositionRules = field(default_factory=lambda: PositionRules.from_mapping(None))
    render: str = "auto"  # never, auto, always (backlink_spider/render.py)
    browser: str = ""  # the browser's executable; "" when none was found or render is never
    # Sites Common Crawl's graph says link to a watched domain (the profile's best N, asked with
    # -a discovered=N): start URLs, crawled like seeds but never trusted as seeds.
    discovered: tuple[str, ...] = ()
    discovered_domains: frozenset[str] = frozenset()

    @property
    def watched_domains(self) -> frozenset[str]:
        """Domains whose inbound links are recorded: the target's and the competitors'."""
        return frozenset((self.target_domain, *self.competitors))

    @classmethod
    def from_args(
        cls,
        settings: Any,
        args: dict[str, Any],
        profile: TargetProfile | None = None,
        *,
        require_seeds: bool = True,
    ) -> CrawlConfig:
        """The crawl's arguments checked; ``profile`` (the target's stored one) gives the seeds
        of a crawl given none, and its competitors and keywords join the given ones.
        ``require_seeds=False`` checks everything else, before the profile is read."""
        unknown = sorted(k for k in args if k not in ARGUMENTS and not k.startswith("_"))
        if unknown:
            raise ArgumentError(
                f"unknown argument {unknown[0]!r}; the niche spider takes: {', '.join(ARGUMENTS)}"
            )
        resolver = get_resolver()
        target_url, target_domain = parse_target_arg(args.get("target"))

        given = parse_seeds(seed_list(args.get("seeds")))
        if not given and not (profile and profile.seeds):
            given = parse_seeds(split_list(settings.getlist("BACKLINKS_SEEDS")))
        seed_urls = given or list(profile.seeds if profile else ())
        wanted = _int_arg(args, "discovered", 0, 0, MAX_DISCOVERED)
        if not seed_urls and require_seeds and not wanted:
            raise ArgumentError(
                "no seed sites: give -a seeds=a.com,b.org (or a file with one per line), "
                f"add some to the target's profile (scrapy target {target_domain} --add-seeds "
                "...), or set BACKLINKS_SEEDS"
            )
        competitors = parse_competitors(split_list(args.get("competitors")), target_domain)
        if profile:  # the profile's competitors are watched by every crawl of the target
            competitors = list(dict.fromkeys([*competitors, *profile.competitors]))
        keywords = parse_keywords(split_list(args.get("keywords")))
        if profile:
            keywords = list(dict.fromkeys([*keywords, *profile.keywords]))
        seed_domains = frozenset(resolver.registered_domain(url_host(url)) for url in seed_urls)
        discovered: list[str] = []
        if wanted and require_seeds:
            skip = (target_domain, *competitors, *seed_domains)
            discovered = _discovered_sites(wanted, profile, target_domain, skip)

        try:
            rules = _position_rules(settings.getdict("BACKLINKS_POSITION_PATTERNS"))
        except (ValueError, TypeError) as exc:
            raise ArgumentError(f"bad BACKLINKS_POSITION_PATTERNS: {exc}") from None

        render, browser = _render(args.get("render"), settings)

        return cls(
            target_url=target_url,
            target_host=url_host(target_url),
            target_domain=target_domain,
            seeds=tuple(dict.fromkeys(seed_urls)),
            given_seeds=tuple(dict.fromkeys(given)),
            seed_domains=seed_domains,
            keywords=tuple(keywords),
            competitors=tuple(competitors),
            distrust=tuple(parse_distrust(split_list(args.get("distrust")))),
            depth=_int_arg(args, "depth", settings.getint("BACKLINKS_DEPTH", 1), 0, MAX_DEPTH),
            max_pages=_int_arg(
                args, "max_pages", settings.getint("BACKLINKS_MAX_PAGES", 5000), 1, 10**8
            ),
            max_pages_per_host=_positive(settings, "BACKLINKS_MAX_PAGES_PER_HOST", 200),
            target_pages=max(0, settings.getint("BACKLINKS_TARGET_PAGES", 10)),
            max_page_bytes=_positive(settings, "BACKLINKS_MAX_PAGE_BYTES", 4 * 1024 * 1024),
            trap_pattern_pages=_positive(settings, "BACKLINKS_TRAP_PATTERN_PAGES", 1000),
            trap_query_variants=_positive(settings, "BACKLINKS_TRAP_QUERY_VARIANTS", 10),
            trap_segment_repeats=_positive(settings, "BACKLINKS_TRAP_SEGMENT_REPEATS", 2),
            trap_repeats=_positive(settings, "BACKLINKS_TRAP_REPEATS", 5),
            trap_probation_pages=_positive(settings, "BACKLINKS_TRAP_PROBATION_PAGES", 20),
            max_frontier=_positive(settings, "BACKLINKS_MAX_FRONTIER", 100_000),
            context_chars=max(0, settings.getint("BACKLINKS_CONTEXT_CHARS", 240)),
            text_chars=max(0, settings.getint("BACKLINKS_PAGE_TEXT_CHARS", 20000)),
            page_terms=max(0, settings.getint("BACKLINKS_PAGE_TERMS", 250)),
            drop_params=tracking_params(settings),
            position_rules=rules,
            render=render,
            browser=browser,
            discovered=tuple(discovered),
            discovered_domains=frozenset(
                resolver.registered_domain(url_host(url)) for url in discovered
            ),
        )

    def describe(self) -> dict[str, Any]:
        """The arguments as stored with the crawl (and shown by ``scrapy crawls``)."""
        described = {
            "target": self.target_domain,
            "target_url": self.target_url,
            "seeds": list(self.seeds),
            "keywords": list(self.keywords),
            "competitors": list(self.competitors),
            "distrust": list(self.distrust),
            "depth": self.depth,
            "max_pages": self.max_pages,
            "render": self.render,
        }
        if self.discovered:  # only then: a JOBDIR job of an earlier version still matches
            described["discovered_sites"] = list(self.discovered)
        return described


def _discovered_sites(
    wanted: int, profile: TargetProfile | None, target_domain: str, skip: Iterable[str]
) -> list[str]:
    """Start URLs of the profile's ``wanted`` best discovered sources, the watched and seed
    sites left out; ``ArgumentError`` when the profile has none to give."""
    sources = profile.top_discovered(wanted, skip) if profile else []
    if not sources:
        raise ArgumentError(
            f"discovered={wanted}: the profile of {target_domain} holds no discovered sites to "
            f"crawl; look them up first (scrapy discover {target_domain} --webgraph BASENAME)"
        )
    urls = []
    for source in sources:
        try:
            urls.append(parse_seed(source.name))
        except UrlError:
            continue  # a name the graph holds that is no host of ours (an IP, a bad label)
    return list(dict.fromkeys(urls))


def _render(value: Any, settings: Any) -> tuple[str, str]:
    """The render mode and the browser for it. ``always`` without a browser cannot run at all;
    ``auto`` without one reads raw HTML (the spider says so in a warning).

    ``-a render=`` wins over ``BACKLINKS_RENDER`` both ways, ``never`` included: the spider is
    built before the add-on installs (or not) scrapy-playwright's handler for the crawl's mode
    (render.Renderer.from_crawler, render.update_settings)."""
    from backlink_spider.render import browser_configured

    raw = value if value is not None and str(value).strip() else settings.get("BACKLINKS_RENDER")
    mode = str(raw or "auto").strip().lower()
    if mode not in RENDER_MODES:
        name = "render" if value is not None and str(value).strip() else "BACKLINKS_RENDER"
        raise ArgumentError(f"{name} must be one of {', '.join(RENDER_MODES)}, not {raw!r}")
    if mode == "never":
        return mode, ""
    configured = str(settings.get("BACKLINKS_BROWSER_PATH") or "")
    browser = find_browser(configured)
    if not browser and mode == "always" and not browser_configured(settings):
        missing = (
            f"BACKLINKS_BROWSER_PATH={configured} is not an executable"
            if configured
            else "no chromium was found on PATH"
        )
        raise ArgumentError(
            f"render=always needs a browser, and {missing}: install chromium "
            "(apt-get install chromium) or set BACKLINKS_BROWSER_PATH, or use render=auto"
        )
    return mode, browser


def _position_rules(extra: dict[str, Any]) -> PositionRules:
    """The setting adds tokens to a position's defaults (a theme's own class names)."""
    merged: dict[str, list[str]] = {}
    for position, tokens in extra.items():
        if isinstance(tokens, str):
            tokens = [tokens]
        merged[position] = [*DEFAULT_POSITION_PATTERNS.get(position, ()), *tokens]
    return PositionRules.from_mapping(merged or None)


def split_list(value: Any) -> list[str]:
    """A comma-separated argument (or a list of them) as its non-empty items."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [s.strip() for s in items if s and s.strip()]


def parse_target_arg(value: Any) -> tuple[str, str]:
    """A target as the user wrote it: its home URL and registered domain; ``ArgumentError``."""
    raw = str(value or "").strip()
    if not raw:
        raise ArgumentError("missing target: give the site to check, e.g. -a target=site.com")
    try:
        return parse_target(raw, get_resolver())
    except UrlError as exc:
        raise ArgumentError(f"bad target {raw!r}: {exc}") from None


def target_domain_of(value: Any) -> str:
    """The registered domain of a target as the user wrote it; ``ArgumentError`` if bad."""
    return parse_target_arg(value)[1]


def parse_seeds(values: Iterable[str]) -> list[str]:
    """Seed sites as start URLs (a bare host starts at its home page), in order, once each."""
    urls: list[str] = []
    for seed in values:
        try:
            urls.append(parse_seed(seed))
        except UrlError as exc:
            raise ArgumentError(f"bad seed {seed!r}: {exc}") from None
    return list(dict.fromkeys(urls))


def parse_competitors(values: Iterable[str], target_domain: str) -> list[str]:
    """Competitors as registered domains; the target's own site is refused."""
    resolver = get_resolver()
    competitors: list[str] = []
    for value in values:
        try:
            _, domain = parse_target(value, resolver)
        except UrlError as exc:
            raise ArgumentError(f"bad competitor {value!r}: {exc}") from None
        if domain == target_domain:
            raise ArgumentError(f"competitor {value!r} is the target's own site")
        competitors.append(domain)
    return list(dict.fromkeys(competitors))


def parse_keywords(values: Iterable[str]) -> list[str]:
    """Niche keywords, lower case, once each."""
    return list(dict.fromkeys(k.strip().lower() for k in values if k.strip()))


def parse_distrust(values: Iterable[str]) -> list[str]:
    """Known-bad hosts (Anti-TrustRank seeds): hosts or URLs, checked like seeds."""
    hosts: list[str] = []
    for value in values:
        try:
            hosts.append(url_host(parse_seed(value)))
        except UrlError as exc:
            raise ArgumentError(f"bad distrust host {value!r}: {exc}") from None
    return list(dict.fromkeys(hosts))


def seed_list(value: Any) -> list[str]:
    """Seeds as given: comma-separated, or a file with one per line (``#`` comments); [] when
    none is given. A bad line of a file names its line number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    text = str(value).strip()
    path = Path(text).expanduser()
    looks_like_file = path.suffix.lower() in {".txt", ".csv", ".lst", ".list"} or text.startswith(
        (".", "/", "~")
    )
    if path.is_file():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ArgumentError(f"cannot read seeds file {text!r}: {exc}") from None
        seeds = []
        for number, line in enumerate(lines, 1):
            seed = line.split("#", 1)[0].strip()
            if not seed:
                continue
            try:
                parse_seed(seed)
            except UrlError as exc:
                raise ArgumentError(f"{text}, line {number}: bad seed {seed!r}: {exc}") from None
            seeds.append(seed)
        if not seeds:
            raise ArgumentError(f"seeds file {text!r} lists no sites")
        return seeds
    if looks_like_file and "," not in text:
        raise ArgumentError(f"seeds file {text!r} not found")
    return split_list(text)


def _int_arg(args: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ArgumentError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ArgumentError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _positive(settings: Any, name: str, default: int) -> int:
    try:
        value = settings.getint(name, default)
    except ValueError:
        raise ArgumentError(f"{name} must be a whole number") from None
    if value < 1:
        raise ArgumentError(f"{name} must be at least 1, not {value}")
    return value
