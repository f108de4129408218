"""The ``usagekit`` command line: one sub-command module per stage of the flow."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from usagekit import __version__
from usagekit.cli import engine, fetch, imports, report, sandbox, watch
from usagekit.exceptions import UsagekitError

_COMMAND_MODULES = (sandbox, fetch, imports, engine, watch, report)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="usagekit",
        description="Fetch, store, query and report Genesys Cloud API usage.",
    )
    parser.add_argument("--version", action="version", version=f"usagekit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v: INFO, -vv: DEBUG)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (2 for bad input, 1 for other failures)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()
        return status
    except ValueError as exc:  # QueryError, ConfigError: bad input
        print(f"usagekit: error: {exc}", file=sys.stderr)
        return 2
    except UsagekitError as exc:
        print(f"usagekit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `usagekit analyze --list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
