"""Scrapy settings of the backlink crawler.

Scrapy's own settings first (politeness, limits, queues), then every option of ours, each with a
``BACKLINKS_`` prefix, its unit and why it has its default. Any of them can be given with
``-s NAME=VALUE`` or in Scrapyd's ``setting=NAME=VALUE``.
"""

from __future__ import annotations

import os

# tldextract (used by Scrapy's cookie middleware and by us) must never try to download the Public
# Suffix List: this machine, and many servers, have no internet. Empty means "bundled snapshot".
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

BOT_NAME = "backlinks"
SPIDER_MODULES = ["backlink_spider.spiders"]
NEWSPIDER_MODULE = "backlink_spider.spiders"
COMMANDS_MODULE = "backlink_spider.commands"

# --- Identity and politeness -------------------------------------------------------------------
# Say who you are: add a contact URL or address for site owners, e.g. "…; +https://you.example/bot".
USER_AGENT = "Mozilla/5.0 (compatible; BacklinksBot/0.1; backlink audit crawler)"
ROBOTSTXT_OBEY = True
ROBOTSTXT_USER_AGENT = "BacklinksBot"
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4  # a download slot is one host name
# A page yields a handful of items; Scrapy starts this many tasks per response whatever the count.
CONCURRENT_ITEMS = 16
DOWNLOAD_DELAY = 0.25  # seconds between requests to one host, at least (AutoThrottle's floor)
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0  # seconds
AUTOTHROTTLE_MAX_DELAY = 30.0  # seconds
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30  # seconds
RETRY_TIMES = 1
COOKIES_ENABLED = False  # session cookies only multiply URL variants
REDIRECT_MAX_TIMES = 10
URLLENGTH_LIMIT = 2083  # longer URLs are trap-made, not linked by people
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024  # bytes: hard stop; pages are cut far earlier (below)
DOWNLOAD_WARNSIZE = 0  # our own cut logs what matters
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control runs Python sent over HTTP; a crawl server must not offer that.
REMOTE_CONTROL_ENABLED = False

# Shallow pages first within a host (a request's priority drops by one per link followed), and
# fair across hosts (Scrapy's DownloaderAwarePriorityQueue: the download slot with the fewest
# downloads first); with BACKLINKS_FOCUS on (the default) this subclass of it picks the slot
# whose next page is worth most to the target instead (README "Focused crawl").
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
SCHEDULER_PRIORITY_QUEUE = "backlink_spider.focus.FocusedPriorityQueue"

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# Our components (middlewares, pipelines, the end-of-crawl extension) are wired by this add-on at
# documented priorities (backlink_spider/addon.py); set one here to move it, or to None to drop it.
ADDONS = {"backlink_spider.addon.BacklinksAddon": 100}
# Refuse URLs whose host is or resolves to a loopback/private/link-local/reserved address.
# True for an intranet crawl.
BACKLINKS_ALLOW_PRIVATE_NETWORKS = False
# --- The crawl ---------------------------------------------------------------------------------
BACKLINKS_SEEDS: list[str] = []  # niche seed sites when -a seeds= is not given
BACKLINKS_DEPTH = 1  # site hops beyond the seed sites whose pages are crawled
BACKLINKS_MAX_PAGES = 5000  # total page budget of a crawl (-a max_pages=): pages fetched
# URLs admitted and waiting to be fetched, at most (~1.5 KB of memory each without JOBDIR); one
# refused for that is asked again at its next link.
BACKLINKS_MAX_FRONTIER = 100_000
# The focused frontier (backlink_spider/focus.py): pages are fetched in the order of their
# expected value for the target (relevance, trust earned so far, links to the target or a
# competitor), not breadth-first. False: breadth-first and fair across hosts.
BACKLINKS_FOCUS = True
# The share of pages fetched from the hosts the crawl knows least (fewest pages read), so that
# hosts the estimate ranks low get a look and the estimate can correct itself (0 to 1).
BACKLINKS_FOCUS_EXPLORE = 0.1
BACKLINKS_MAX_PAGES_PER_HOST = 200  # pages of one host name
BACKLINKS_TARGET_PAGES = 10  # pages of the target's own site: topic profile, reciprocal links
BACKLINKS_MAX_PAGE_BYTES = 4 * 1024 * 1024  # a page body is cut (not dropped) past this size
# Spider traps (backlink_spider/admission.py). A URL shape is a URL with digits and query values
# blanked: /post/1234/ and /calendar/2024/05/ are shapes of many pages, ordinary or endless. Past
# its probation a shape is judged by the pages of it the crawl fetched: whether their text,
# digit runs blanked, repeats (an empty calendar day, a search that found nothing, a session-id
# variant of one page) or not (the posts of a blog, the products of a shop).
BACKLINKS_TRAP_PROBATION_PAGES = 20  # pages of a shape admitted before its fetched pages decide
BACKLINKS_TRAP_REPEATS = 5  # fetched pages of a shape repeating another's text: the shape closes
BACKLINKS_TRAP_PATTERN_PAGES = 1000  # a backstop: pages per URL shape, whatever the evidence
BACKLINKS_TRAP_QUERY_VARIANTS = 10  # query variants of one path (digits blanked: ?p=1, ?p=2: one)
BACKLINKS_TRAP_SEGMENT_REPEATS = 2  # a path segment repeated more than this is a loop
# Query parameters dropped from every URL (names; a trailing * is a prefix). Empty keeps them all.
BACKLINKS_TRACKING_PARAMS: list[str] | None = None  # None: urls.DEFAULT_TRACKING_PARAMS
# Extra class/id tokens per link position, merged over extract.DEFAULT_POSITION_PATTERNS, e.g.
# {"sidebar": ["related-posts"], "navigation": ["toc"]}.
BACKLINKS_POSITION_PATTERNS: dict[str, list[str]] = {}
BACKLINKS_CONTEXT_CHARS = 240  # characters of text kept around a link
BACKLINKS_PAGE_TEXT_CHARS = 20000  # characters of a page's text read for its terms
BACKLINKS_PAGE_TERMS = 250  # a page's commonest terms (with counts) stored for relevance

# --- Pages built by script (backlink_spider/render.py; README "JavaScript pages") -------------
# Unless the crawl's mode is never, the add-on (render.update_settings) sets DOWNLOAD_HANDLERS
# "http"/"https" to scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler and derives its
# PLAYWRIGHT_LAUNCH_OPTIONS, _ABORT_REQUEST, _MAX_PAGES_PER_CONTEXT and
# _DEFAULT_NAVIGATION_TIMEOUT from the settings below; any of them set here or with -s wins.
# It needs Scrapy's asyncio reactor: TWISTED_REACTOR's default since Scrapy 2.13.
# Default of -a render=: never (Scrapy's own handler only: Playwright is never imported), auto
# (render the pages that look built by script, learning per host), always. auto without a
# browser reads raw HTML and says so.
BACKLINKS_RENDER = "auto"
# Chromium's executable. Empty: chromium, chromium-browser or google-chrome from PATH.
# (Playwright's own browser download is not needed; Debian's `chromium` package works.)
BACKLINKS_BROWSER_PATH = ""
BACKLINKS_RENDER_SAMPLES = 2  # auto: rendered pages of a host without new links before it stops
BACKLINKS_RENDER_MIN_NEW_LINKS = 1  # auto: new links in a sample that make a host rendered
BACKLINKS_RENDER_TIMEOUT = 20.0  # seconds for a page to load in the browser
BACKLINKS_RENDER_WAIT_UNTIL = "load"  # Playwright's goto wait_until: load, domcontentloaded…
BACKLINKS_RENDER_CONCURRENCY = 4  # pages open in the browser at once (~120 ms of CPU each)
# Resource types the browser does not fetch: they hold no links and cost the most bytes.
BACKLINKS_RENDER_BLOCK_RESOURCES = ["image", "media", "font"]

# --- Storage -----------------------------------------------------------------------------------
# MongoDB: MONGO_URI unset means the embedded SecantusDB server under BACKLINKS_DATA_DIR.
MONGO_URI = os.environ.get("MONGO_URI", "")
MONGO_DATABASE = os.environ.get("MONGO_DATABASE", "backlinks")
# The embedded server's files and the spill files; empty: the per-user data directory
# (platformdirs.user_data_dir("backlinks"): ~/.local/share/backlinks on Linux), whatever the
# current directory. A relative path is taken from where the command runs.
BACKLINKS_DATA_DIR = os.environ.get("BACKLINKS_DATA_DIR", "")
BACKLINKS_EMBEDDED_COMMAND = "secantusd-py"  # the embedded server's executable
BACKLINKS_MONGO_TIMEOUT = 5.0  # seconds to find the server before giving up
BACKLINKS_MONGO_BATCH_SIZE = 500  # operations per bulk_write
BACKLINKS_MONGO_FLUSH_INTERVAL = 2.0  # seconds: a partial batch is written at least this often
BACKLINKS_MONGO_RETRIES = 4  # attempts after the first, with doubling backoff
BACKLINKS_MONGO_RETRY_BACKOFF = 0.5  # seconds before the first retry
BACKLINKS_DEDUPE_ENABLED = True
BACKLINKS_CHECK_TARGETS = True  # ask each distinct backlink target URL once (HEAD): broken links
BACKLINKS_MAX_TARGET_CHECKS = 1000  # target URLs checked per crawl; not in BACKLINKS_MAX_PAGES

# --- The end of a crawl (backlink_spider/finisher.py) -------------------------------------------
BACKLINKS_FINISH_LINKS = True  # mark lost and unverified links, and the target checks' statuses
BACKLINKS_FINISH_HOST_EDGES = True  # rebuild the fetched hosts' edges (the graph scoring reads)
BACKLINKS_FINISH_RECIPROCITY = True  # mark each link reciprocal or not
# seconds between heartbeats of a running crawl's record (heartbeat_at, progress: one update and
# three indexed counts): a crawl killed before its end (SIGKILL, a second Ctrl-C) is shown
# interrupted once three are missed. 0: no heartbeat (only a dead pid on this host tells).
BACKLINKS_HEARTBEAT_SECONDS = 30.0
# A crawl's progress (backlink_spider/progress.py): auto (a live line when standard error is a
# terminal, else log lines), live, log or off; and seconds between the log lines (0: none).
BACKLINKS_PROGRESS = "auto"
BACKLINKS_PROGRESS_LOG_SECONDS = 60.0

# --- Several workers ----------------------------------------------------------------------------
# Several workers (processes, Scrapyd nodes) crawl one target together through this Redis, e.g.
# redis://localhost:6379/0 (README "Several workers"). Empty: one worker, Scrapy's own scheduler.
BACKLINKS_REDIS_URL = os.environ.get("BACKLINKS_REDIS_URL", "")
# seconds without a heartbeat (sent every second) before a worker is taken for dead, and before a
# stopped crawl's Redis keys expire
BACKLINKS_REDIS_WORKER_TIMEOUT = 30.0

# --- Scoring (pipelines/scoring; README "How links are scored") ---------------------------------
BACKLINKS_SCORE_ON_CLOSE = True  # score the target's (and competitors') links when a crawl ends
BACKLINKS_DISTRUST_SEEDS: list[str] = []  # known-bad hosts: distrust spreads to who links them
BACKLINKS_SCORE_NOFOLLOW_WEIGHT = 0.0  # share of trust nofollow/ugc/sponsored links pass
BACKLINKS_SCORE_DAMPING = 0.85  # TrustRank's chance of following a link rather than jumping
BACKLINKS_SCORE_TOLERANCE = 1e-9  # stop iterating when scores move less than this (L1)
BACKLINKS_SCORE_MAX_ITERATIONS = 1000
BACKLINKS_SCORE_TRUST_DECADES = 6.0  # factors of ten below a seed that still score above 0
BACKLINKS_SCORE_DISTRUST_STRENGTH = 1.0  # how much distrust is subtracted from trust
# The most site trust (share of 100) a Common Crawl rank (scrapy discover) alone gives a host
# the seeds do not reach: rank 1 gets it all, 10^8 none (0: ranks are ignored).
BACKLINKS_SCORE_RANK_WEIGHT = 0.5
BACKLINKS_SCORE_EDGE_SCALE = "log"  # weight of a host pair with n links: log, count or binary

# --- Scrapyd (scrapy schedule, scrapy crawls) ----------------------------------------------------
# Where `scrapy schedule` queues crawls. Empty: the SCRAPYD_URL environment variable, else the
# [deploy] url of scrapy.cfg (where scrapyd-deploy deploys), else http://localhost:6800/.
BACKLINKS_SCRAPYD_URL = ""
BACKLINKS_SCRAPYD_PROJECT = ""  # empty: the [deploy] project of scrapy.cfg ("backlinks")
# Basic auth. Empty: SCRAPYD_USERNAME / SCRAPYD_PASSWORD (the names Scrapyd reads), or [deploy].
BACKLINKS_SCRAPYD_USERNAME = ""
BACKLINKS_SCRAPYD_PASSWORD = ""
BACKLINKS_SCRAPYD_TIMEOUT = 10.0  # seconds for one Scrapyd API call
BACKLINKS_SCHEDULE_REFRESH = 30.0  # seconds: how often `schedule run` looks for new schedules
