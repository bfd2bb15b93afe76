"""Serve one of the test suite's webs until interrupted: ``python -m tests.webs --web test``.

Run it from the project root. The same command line as ``python -m backlink_spider.demoweb``
(one ``proxy http://127.0.0.1:PORT`` line on stdout), with more webs to choose from and the
generated web's size and seed.
"""

from __future__ import annotations

import sys

from backlink_spider.demoweb.__main__ import arg_parser, serve
from tests.webs import WEBS, build_web


def main(argv: list[str] | None = None) -> int:
    parser = arg_parser("python -m tests.webs", WEBS, __doc__)
    parser.add_argument("--pages", type=int, default=2000, help="pages of the generated web")
    parser.add_argument("--hosts", type=int, default=60, help="hosts of the generated web")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated web")
    args = parser.parse_args(argv)
    return serve(build_web(args.web, pages=args.pages, hosts=args.hosts, seed=args.seed), args)


if __name__ == "__main__":
    sys.exit(main())
