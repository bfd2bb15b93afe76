"""Serve the demo web until interrupted: ``python -m backlink_spider.demoweb --web demo``.

Prints exactly one line, ``proxy http://127.0.0.1:PORT``, on stdout (flushed) so a parent
process can read the address; everything else goes to stderr. The test suite's webs are served
the same way by ``python -m tests.webs`` (from the project root).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from backlink_spider.demoweb import WEBS, Web, WebServer, build_web


def arg_parser(
    prog: str, webs: Sequence[str], description: str | None = None
) -> argparse.ArgumentParser:
    """The options of every web-serving command line: which web, where to listen, logging."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--web", choices=webs, default=webs[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the port number here")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def serve(web: Web, args: argparse.Namespace) -> int:
    """Serve ``web`` as ``args`` say (see ``arg_parser``) until SIGINT or SIGTERM."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with WebServer(web, host=args.host, port=args.port) as server:
        if args.port_file:
            args.port_file.write_text(f"{server.port}\n")
        print(f"proxy {server.proxy_url}", flush=True)
        logging.info(
            "serving %r (%d hosts): target %s, seeds %s",
            web.name,
            len(web),
            web.target,
            " ".join(web.seeds),
        )
        while not stop.wait(0.5):
            pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = arg_parser("python -m backlink_spider.demoweb", WEBS, __doc__).parse_args(argv)
    return serve(build_web(args.web), args)


if __name__ == "__main__":
    sys.exit(main())
