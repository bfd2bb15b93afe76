"""A small client of Scrapyd's JSON API: where the server is, and the calls our commands need.

Standard library only (``urllib``), so a command that talks to Scrapyd needs nothing beyond the
project itself, and every failure (no server, wrong credentials, not a Scrapyd, project not
deployed) becomes one ``ScrapydError`` line a user can act on instead of a traceback.

Where Scrapyd is, first found wins: the ``BACKLINKS_SCRAPYD_URL`` setting, the ``SCRAPYD_URL``
environment variable, the ``url`` of ``scrapy.cfg``'s ``[deploy]`` section (the server
``scrapyd-deploy`` deploys to), ``http://localhost:6800/``. Credentials likewise:
``BACKLINKS_SCRAPYD_USERNAME``/``_PASSWORD``, ``SCRAPYD_USERNAME``/``SCRAPYD_PASSWORD`` (the
names Scrapyd itself reads), ``username``/``password`` in ``[deploy]``, or ``user:pass@`` in the
URL.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from pipelines.store import mask_uri

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://localhost:6800/"
DEFAULT_PROJECT = "backlinks"
SPIDER = "niche"


class ScrapydError(Exception):
    """Scrapyd cannot be reached or refused a call; the message is one line a user can act on."""


def _deploy_section() -> dict[str, str]:
    """``[deploy]`` of the closest scrapy.cfg: the server and project scrapyd-deploy uses."""
    from scrapy.utils.conf import get_config

    try:
        config = get_config()
        return dict(config.items("deploy")) if config.has_section("deploy") else {}
    except Exception:  # a broken scrapy.cfg is reported by Scrapy itself, not here
        return {}


@dataclass(frozen=True)
class ScrapydConfig:
    url: str  # with a trailing slash, without credentials
    project: str
    username: str = ""
    password: str = ""
    timeout: float = 10.0  # seconds for one API call

    @classmethod
    def from_settings(cls, settings: Any) -> ScrapydConfig:
        deploy = _deploy_section()
        raw = (
            (settings.get("BACKLINKS_SCRAPYD_URL") or "").strip()
            or os.environ.get("SCRAPYD_URL", "").strip()
            or os.path.expandvars(deploy.get("url", "")).strip()
            or DEFAULT_URL
        )
        username = (
            settings.get("BACKLINKS_SCRAPYD_USERNAME")
            or os.environ.get("SCRAPYD_USERNAME")
            or deploy.get("username")
            or ""
        )
        password = (
            settings.get("BACKLINKS_SCRAPYD_PASSWORD")
            or os.environ.get("SCRAPYD_PASSWORD")
            or deploy.get("password")
            or ""
        )
        url, url_user, url_password = _split_url(raw)
        project = (
            settings.get("BACKLINKS_SCRAPYD_PROJECT") or deploy.get("project") or DEFAULT_PROJECT
        )
        return cls(
            url=url,
            project=project,
            username=username or url_user,
            password=password or url_password,
            timeout=settings.getfloat("BACKLINKS_SCRAPYD_TIMEOUT", 10.0),
        )


def _split_url(raw: str) -> tuple[str, str, str]:
    """(base URL ending in ``/``, user, password); a URL that cannot be Scrapyd's is an error."""
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ScrapydError(f"bad Scrapyd address {mask_uri(raw)!r}: {exc}") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ScrapydError(
            f"bad Scrapyd address {mask_uri(raw)!r}: give a URL like http://localhost:6800/"
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port else host
    path = parts.path if parts.path.endswith("/") else f"{parts.path}/"
    base = urlunsplit((parts.scheme, netloc, path, "", ""))
    return base, parts.username or "", parts.password or ""


class Scrapyd:
    """The calls of Scrapyd's API our commands make, each returning the decoded JSON."""

    def __init__(self, config: ScrapydConfig):
        self.config = config
        self.project = config.project
        # http_proxy/https_proxy are for the crawl; a Scrapyd on this machine is never reached
        # through them (as Go's ProxyFromEnvironment treats localhost). Others honour them.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(config.url) else []
        self._opener = urllib.request.build_opener(*handlers)
        self._auth = ""
        if config.username:
            token = f"{config.username}:{config.password}".encode()
            self._auth = "Basic " + base64.b64encode(token).decode("ascii")

    @classmethod
    def from_settings(cls, settings: Any) -> Scrapyd:
        return cls(ScrapydConfig.from_settings(settings))

    @property
    def url(self) -> str:
        return self.config.url

    # -- the API --------------------------------------------------------------------------------

    def daemon_status(self) -> dict[str, Any]:
        return self._call("daemonstatus.json")

    def spiders(self) -> list[str]:
        """The project's spiders; a project not deployed yet says so, with the fix."""
        try:
            return list(self._call("listspiders.json", {"project": self.project})["spiders"])
        except ScrapydError as exc:
            if "not found" in str(exc):
                raise ScrapydError(
                    f"project {self.project!r} is not deployed on Scrapyd at {self.url}: "
                    "run scrapyd-deploy in the project directory"
                ) from None
            raise

    def check(self) -> None:
        """Scrapyd answers, and has this project with the niche spider: fail early, in one line."""
        if SPIDER not in self.spiders():
            raise ScrapydError(
                f"project {self.project!r} on Scrapyd at {self.url} has no {SPIDER!r} spider: "
                "run scrapyd-deploy in the project directory"
            )

    def schedule(
        self,
        args: dict[str, str],
        settings: dict[str, str] | None = None,
        spider: str = SPIDER,
    ) -> str:
        """Queue a crawl with these spider arguments and Scrapy settings; returns the job id."""
        fields: list[tuple[str, str]] = [("project", self.project), ("spider", spider)]
        fields += [(name, str(value)) for name, value in args.items()]
        fields += [("setting", f"{name}={value}") for name, value in (settings or {}).items()]
        return str(self._call("schedule.json", fields, post=True)["jobid"])

    def jobs(self) -> dict[str, list[dict[str, Any]]]:
        """``pending``, ``running`` and ``finished`` jobs of the project."""
        return self._call("listjobs.json", {"project": self.project})

    def job_state(self, job: str) -> str | None:
        """``pending``, ``running``, ``finished``, or None when Scrapyd does not know the job."""
        state = self._call("status.json", {"job": job, "project": self.project})["currstate"]
        return str(state) if state else None

    def cancel(self, job: str, signal: str = "TERM") -> str | None:
        """Stop a job (a pending one is dropped); returns its state before, or None."""
        fields = {"project": self.project, "job": job, "signal": signal}
        return self._call("cancel.json", fields, post=True).get("prevstate")

    # -- transport ------------------------------------------------------------------------------

    def _call(
        self,
        endpoint: str,
        fields: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        post: bool = False,
    ) -> dict[str, Any]:
        url = urljoin(self.url, endpoint)
        query = urlencode(fields or {})
        data = None
        if post:
            data = query.encode()
        elif query:
            url = f"{url}?{query}"
        # The scheme is http or https: _split_url refuses anything else.
        request = urllib.request.Request(url, data=data, method="POST" if post else "GET")  # noqa: S310
        if self._auth:
            request.add_header("Authorization", self._auth)
        where = f"Scrapyd at {self.url}"
        try:
            with self._opener.open(request, timeout=self.config.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                hint = (
                    "wrong SCRAPYD_USERNAME/SCRAPYD_PASSWORD"
                    if self._auth
                    else "it needs a user and password: set SCRAPYD_USERNAME and SCRAPYD_PASSWORD"
                )
                raise ScrapydError(f"{where} refused the credentials ({hint})") from None
            raise ScrapydError(f"{where} answered HTTP {exc.code} to {endpoint}") from None
        except urllib.error.URLError as exc:
            raise ScrapydError(f"cannot reach {where}: {_reason(exc.reason)}") from None
        except TimeoutError:
            raise ScrapydError(
                f"cannot reach {where}: no answer in {self.config.timeout:g} s"
            ) from None
        except OSError as exc:
            raise ScrapydError(f"cannot reach {where}: {_reason(exc)}") from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise ScrapydError(f"{where} does not answer like Scrapyd ({endpoint})") from None
        if not isinstance(payload, dict) or "status" not in payload:
            raise ScrapydError(f"{where} does not answer like Scrapyd ({endpoint})")
        if payload["status"] != "ok":
            message = str(payload.get("message") or payload).strip().splitlines()
            raise ScrapydError(f"{where} refused {endpoint}: {message[-1][:200]}")
        return payload


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(reason: Any) -> str:
    text = getattr(reason, "strerror", None) or str(reason)
    return str(text).splitlines()[0][:160] if text else type(reason).__name__
