"""SSRF guard: the crawler follows links written by strangers, so it must not be turned against
the network it runs in (cloud metadata at 169.254.169.254, admin panels on 10.x, localhost).

A downloader middleware after HttpProxyMiddleware: a request that goes through an explicit proxy
is the proxy's to allow or refuse; any other is refused when its host is, or resolves to, a
loopback, private, link-local, multicast, reserved or unspecified address. Redirects come back
through here as new requests, so a redirect into the private network is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForbiddenAddress(IgnoreRequest):
    """The URL's host is, or resolves to, an address of the local or private network."""


def parse_ip(host: str) -> IPAddress | None:
    """An IP literal in any spelling a URL parser accepts, or None for a name.

    Covers dotted quads, IPv6 (bracketed or not, IPv4-mapped), and the legacy IPv4 forms that
    resolvers still honour: decimal ``2130706433``, octal ``0177.0.0.1``, hex ``0x7f.1``.
    """
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(part and part[0].isdigit() for part in host.split(".")):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_forbidden(mapped)
    return not address.is_global or address.is_multicast


class SsrfGuardMiddleware:
    def __init__(self, crawler: Crawler):
        if crawler.settings.getbool("BACKLINKS_ALLOW_PRIVATE_NETWORKS", False):
            raise NotConfigured
        self.stats = crawler.stats
        self.verdicts: dict[str, str | None] = {}  # host -> forbidden address, or None: allowed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SsrfGuardMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get("proxy"):
            return  # the proxy resolves the name and decides what it may reach
        host = urlsplit(request.url).hostname or ""
        if host not in self.verdicts:
            self.verdicts[host] = await self._check(host)
            if self.verdicts[host]:
                logger.warning(
                    "Refusing %s: it resolves to %s, a private or local address "
                    "(BACKLINKS_ALLOW_PRIVATE_NETWORKS allows it)",
                    host,
                    self.verdicts[host],
                )
        forbidden = self.verdicts[host]
        if forbidden:
            self.stats.inc_value("backlinks/ssrf/refused")
            raise ForbiddenAddress(f"{host} resolves to {forbidden}")

    async def _check(self, host: str) -> str | None:
        literal = parse_ip(host)
        if literal is not None:
            return str(literal) if is_forbidden(literal) else None
        try:
            infos: list[Any] = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return None  # unresolvable: the download fails on its own, with its own error
        for info in infos:
            address = parse_ip(str(info[4][0]).split("%", 1)[0])
            if address is not None and is_forbidden(address):
                return str(address)
        return None
