"""A loopback HTTP(S) forward proxy that serves a synthetic Web instead of the internet.

Scrapy and Chromium reach every ``*.test`` host through one port by setting
``http_proxy``/``https_proxy``: plain HTTP arrives in absolute form, HTTPS as ``CONNECT`` which is
answered by terminating TLS here with a per-host certificate from a throwaway CA. Nothing is ever
forwarded anywhere, so the crawl cannot touch the real internet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import ipaddress
import itertools
import logging
import shutil
import socket
import ssl
import tempfile
import threading
import time
import weakref
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from backlink_spider.demoweb.model import Response, Web, normalize_host

__all__ = ["CertificateAuthority", "WebServer", "canonical_log_url"]

logger = logging.getLogger(__name__)

#: Seconds an idle keep-alive connection is kept before the server drops it.
IDLE_TIMEOUT = 120.0
GZIP_MIN_BYTES = 1024
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_log_url(url: str) -> str:
    """Lower-case scheme and host, no default port, "/" for an empty path: how the log keys URLs."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port and parts.port != DEFAULT_PORTS.get(scheme) else ""
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{host}{port}{path}{query}"


class CertificateAuthority:
    """A throwaway CA that signs one leaf certificate per host name on demand (cached)."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="demoweb-ca-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}
        now = dt.datetime.now(dt.UTC)
        self._not_before = now - dt.timedelta(days=1)
        self._not_after = now + dt.timedelta(days=365)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demoweb throwaway CA")])
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._ca_key.public_key()), critical=False
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca_cert_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_cert_path = self._dir / "ca.pem"
        self.ca_cert_path.write_bytes(self.ca_cert_pem)
        # One leaf key for every host: signing a certificate is cheap, generating keys less so.
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key_path = self._dir / "leaf-key.pem"
        self._leaf_key_path.write_bytes(
            self._leaf_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def context(self, host: str) -> ssl.SSLContext:
        """A server-side SSLContext whose certificate names exactly ``host``."""
        host = normalize_host(host)
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = self._make_context(host)
                self._contexts[host] = ctx
            return ctx

    def _make_context(self, host: str) -> ssl.SSLContext:
        # Only the exact name: a TLD wildcard such as "*.test" is invalid (RFC 6125) and makes
        # service_identity (Scrapy) warn about every host even though the exact name matches.
        names: list[x509.GeneralName]
        try:
            names = [x509.IPAddress(ipaddress.ip_address(host))]
        except ValueError:
            names = [x509.DNSName(host)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64] or "x")]))
            .issuer_name(self.ca_cert.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                critical=False,
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        cert_path = self._dir / f"leaf-{len(self._contexts)}.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.ca_cert_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert_path, self._leaf_key_path)
        ctx.set_alpn_protocols(["http/1.1"])  # never let a browser try h2 on the tunnel
        return ctx

    def cleanup(self) -> None:
        self._finalizer()


class _SocketWriter(io.BufferedIOBase):
    """Unbuffered writer that always sends everything (``sendall``), like socketserver's own."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self._sock.sendall(b)
        with memoryview(b) as view:
            return view.nbytes

    def fileno(self) -> int:
        return self._sock.fileno()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: WebServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanishes mid-request is normal for crawlers; never spam stderr.
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demoweb/1.0"
    timeout = IDLE_TIMEOUT
    server: _ProxyServer

    # -- connection lifecycle ------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle plus delayed ACKs add
        # ~40 ms to every keep-alive response.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._scheme = "http"
        self._tunnel: tuple[str, int] | None = None
        self._tls: ssl.SSLSocket | None = None
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):
                super().finish()
        finally:
            if self._tls is not None:
                self.server.owner._untrack(self._tls)
                with contextlib.suppress(OSError):
                    self._tls.close()
            self.server.owner._untrack(self.request)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    # -- methods -------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        self._discard_body()
        self._send_simple(405, "method not allowed\n", extra={"Allow": "GET, HEAD"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def do_CONNECT(self) -> None:
        host, sep, port_text = self.path.rpartition(":")
        if not sep:
            host, port_text = self.path, "443"
        host = host.strip("[]")
        try:
            port = int(port_text)
        except ValueError:
            self._send_simple(400, "bad CONNECT target\n", close=True)
            return
        owner = self.server.owner
        if host not in owner.web:
            owner._log("CONNECT", f"{host}:{port}", 502)
            self._send_simple(502, f"cannot connect to {host}\n", close=True)
            return
        owner._log("CONNECT", f"{host}:{port}", 200)
        self.send_response(200, "Connection established")
        self.end_headers()
        self._tunnel = (normalize_host(host), port)
        if port == 80:  # a plain-HTTP tunnel: keep talking HTTP on the same socket
            self.close_connection = False
            return
        raw = self.connection
        try:
            self.rfile.close()
            tls = owner.ca.context(host).wrap_socket(raw, server_side=True)
        except (OSError, ValueError):
            logger.debug("TLS handshake for %s failed", host, exc_info=True)
            self.close_connection = True
            return
        owner._untrack(raw)
        owner._track(tls)
        self._tls = tls
        self._scheme = "https"
        self.connection = tls
        # makefile("rb") with buffering is a BufferedReader (typeshed says IOBase for any mode).
        self.rfile = cast(io.BufferedIOBase, tls.makefile("rb", self.rbufsize))
        self.wfile = _SocketWriter(tls)
        self.close_connection = False

    # -- helpers -------------------------------------------------------------------------------
    def _target(self) -> tuple[str, str, int | None, str] | None:
        """(scheme, host, port, path_with_query) of the request, absolute or origin form."""
        path = self.path
        if path[:8].lower().startswith(("http://", "https://")):
            parts = urlsplit(path)
            try:
                port = parts.port
            except ValueError:
                return None
            if not parts.hostname:
                return None
            pq = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            return parts.scheme.lower(), parts.hostname, port, pq
        if not path.startswith("/"):
            return None
        host_header = self.headers.get("Host", "")
        if host_header:
            parts = urlsplit(f"//{host_header}")
            try:
                port = parts.port
            except ValueError:
                port = None
            host = parts.hostname or ""
        elif self._tunnel is not None:
            host, port = self._tunnel
        else:
            return None
        if self._tunnel is not None and port is None:
            port = self._tunnel[1]
        return self._scheme, host, port, path

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(int(length))

    def _send_simple(
        self, status: int, text: str, *, close: bool = False, extra: dict[str, str] | None = None
    ) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if close:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, *, head: bool) -> None:
        self._discard_body()
        target = self._target()
        if target is None:
            self._send_simple(400, "bad request target\n")
            return
        scheme, host, port, path = target
        owner = self.server.owner
        port_text = f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else ""
        url = f"{scheme}://{normalize_host(host)}{port_text}{path}"
        if host not in owner.web and owner._is_self(host, port):
            response = owner.index_page()
        else:
            response = owner.web.resolve(scheme, host, path)
        if response.delay + owner.latency > 0:
            time.sleep(response.delay + owner.latency)
        if getattr(response, "chunks", None) is not None:
            self._send_streamed(response, url, head=head)
            return
        body = response.body_bytes()
        headers = dict(response.headers)
        if (
            owner.gzip
            and len(body) >= GZIP_MIN_BYTES
            and "gzip" in self.headers.get("Accept-Encoding", "").lower()
            and response.content_type.startswith(("text/", "application/xml", "application/json"))
            and response.header("Content-Encoding") is None
        ):
            body = gzip.compress(body, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        owner._log(self.command, url, response.status)  # before the client can see the answer
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            for name, value in headers.items():
                if name.lower() not in {"content-length", "content-type", "connection"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if not head:
                self.wfile.write(body)
        except OSError:
            self.close_connection = True
            logger.debug("client went away while sending %s", url)

    # -- streamed bodies (hostile pages: see tests/webs/hostile.py) ---------------------------
    def _send_streamed(self, response: Any, url: str, *, head: bool) -> None:
        """Send a body generated chunk by chunk (``response.chunks()``, ``response.length``
        bytes), so a 50 MB page never sits in memory; gzip-compressed on the fly, chunked, under
        the same rule as ordinary bodies."""
        owner = self.server.owner
        compress = (
            owner.gzip
            and "gzip" in self.headers.get("Accept-Encoding", "").lower()
            and response.content_type.startswith("text/")
        )
        owner._log(self.command, url, response.status)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                if name.lower() not in {"content-length", "content-type", "connection"}:
                    self.send_header(name, value)
            if compress:
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Vary", "Accept-Encoding")
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(response.length))
            self.end_headers()
            if head:
                return
            if not compress:
                for chunk in response.chunks():
                    self.wfile.write(chunk)
                return
            gz = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip container
            for data in itertools.chain(response.chunks(), [None]):
                chunk = gz.compress(data) if data is not None else gz.flush()
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the crawler cut the page: what a huge page is for
            self.close_connection = True
            logger.debug("client went away while streaming %s", url)


class WebServer:
    """Serve ``web`` as a forward proxy on ``host:port`` (0 = any free port) from a daemon thread.

    Use as a context manager, or ``start()``/``stop()``. ``proxy_url`` goes in ``http_proxy`` and
    ``https_proxy``; ``requests`` logs what was asked; ``swap(web)`` changes the web in place.
    """

    def __init__(
        self,
        web: Web,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        gzip: bool = True,
        latency: float = 0.0,
    ) -> None:
        self.web = web
        self.gzip = gzip
        self.latency = latency  # seconds added to every answer: origins on the far side of a net
        self.ca = CertificateAuthority()
        self._lock = threading.Lock()
        self._log_entries: list[tuple[str, str, int]] = []
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._httpd = _ProxyServer((host, port), _Handler)
        self._httpd.owner = self
        self.host = str(self._httpd.server_address[0])
        self.port = int(self._httpd.server_address[1])

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def proxy_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ca_cert_path(self) -> Path:
        """PEM of the throwaway CA, for a client that wants to verify certificates anyway."""
        return self.ca.ca_cert_path

    def start(self) -> WebServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"demoweb:{self.port}",
                daemon=True,
            )
            self._thread.start()
            logger.debug("demo web %r served at %s", self.web.name, self.proxy_url)
        return self

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            # Wake handler threads blocked on keep-alive reads; the plain-socket shutdown also
            # works under TLS (SSLSocket.shutdown would unwrap and race the reader).
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            with self._lock:
                if not self._connections:
                    break
            time.sleep(0.01)
        self.ca.cleanup()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def swap(self, web: Web) -> None:
        """Serve a different web from now on (connections stay open)."""
        self.web = web

    # -- request log ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """Snapshot of ``(method, absolute_url, status)``; CONNECT entries carry "host:port"."""
        with self._lock:
            return list(self._log_entries)

    def count(self, url: str, method: str | None = None) -> int:
        """How many GET/HEAD requests (or only ``method``) asked for ``url``."""
        key = canonical_log_url(url)
        methods = {method.upper()} if method else {"GET", "HEAD"}
        with self._lock:
            return sum(1 for m, u, _ in self._log_entries if m in methods and u == key)

    def fetched_urls(self) -> list[str]:
        """Distinct URLs asked for with GET, in first-request order."""
        with self._lock:
            urls = [u for m, u, _ in self._log_entries if m == "GET"]
        return list(dict.fromkeys(urls))

    def reset_log(self) -> None:
        with self._lock:
            self._log_entries.clear()

    def _log(self, method: str, url: str, status: int) -> None:
        if method != "CONNECT":
            url = canonical_log_url(url)
        with self._lock:
            self._log_entries.append((method, url, status))
        logger.debug("%s %s -> %s", method, url, status)

    # -- internals -----------------------------------------------------------------------------
    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.discard(sock)

    def _is_self(self, host: str, port: int | None) -> bool:
        return normalize_host(host) in {"127.0.0.1", "localhost", self.host} and port in {
            None,
            self.port,
        }

    def index_page(self) -> Response:
        """What a browser pointed straight at the proxy sees: the web's hosts and seeds."""
        web = self.web
        items = "".join(
            f'<li><a href="http://{host}/">{host}</a></li>'
            for host in sorted(web)
            if "*" not in host
        )
        body = (
            f"<!DOCTYPE html><html><head><title>demo web {web.name}</title></head><body>"
            f"<h1>Synthetic web {web.name!r}</h1><p>Use this address as an HTTP(S) proxy: "
            f"{self.proxy_url}</p><p>Target: {web.target}. Seeds: {', '.join(web.seeds)}.</p>"
            f"<ul>{items}</ul></body></html>"
        )
        return Response(body=body)
