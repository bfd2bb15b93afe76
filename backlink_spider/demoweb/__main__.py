"""Serve a synthetic web until interrupted: ``python -m backlink_spider.demoweb --web demo``.

Prints exactly one line, ``proxy http://127.0.0.1:PORT``, on stdout (flushed) so a parent
process can read the address; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from backlink_spider.demoweb import WEBS, WebServer, build_web


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backlink_spider.demoweb", description=__doc__)
    parser.add_argument("--web", choices=WEBS, default="demo")
    parser.add_argument("--pages", type=int, default=2000, help="pages of the generated web")
    parser.add_argument("--hosts", type=int, default=60, help="hosts of the generated web")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated web")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the port number here")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    web = build_web(args.web, pages=args.pages, hosts=args.hosts, seed=args.seed)
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


if __name__ == "__main__":
    sys.exit(main())
