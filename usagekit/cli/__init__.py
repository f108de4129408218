"""The ``usagekit`` command line: one sub-command module per stage of the flow.

Only the kit's own errors (:class:`usagekit.exceptions.UsagekitError`) are reported as
errors; any other exception escaping a command is a bug in usagekit and is reported as one,
with its traceback. The exit statuses are in :data:`EPILOG` (``usagekit --help``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence

from usagekit import __version__
from usagekit.cli import engine, fetch, imports, orgs, repair, report, sandbox, watch
from usagekit.exceptions import UsagekitError

_COMMAND_MODULES = (sandbox, fetch, imports, repair, orgs, engine, watch, report)

#: Exit statuses (:data:`EPILOG` says what each means; 0 is success).
FAILED = 1
BAD_INPUT = 2
BUG = 70  # EX_SOFTWARE of sysexits.h
INTERRUPTED = 130
BROKEN_PIPE = 141

EPILOG = f"""exit status:
  0    done
  {FAILED}    failed: Genesys Cloud, AWS, Trino, DuckDB, the dataset or the report notebook
       refused or could not do it (the message says which)
  {BAD_INPUT}    bad input: an invalid option, setting, query, rules file or rows, or a usage
       error
  {BUG}   internal error: a bug in usagekit; the traceback follows, please report it
  {INTERRUPTED}  interrupted (Ctrl-C)
  {BROKEN_PIPE}  the reader of the output went away (e.g. `usagekit analyze --list | head`)
`check` has its own: 0 nothing fires, 1 an alert fires, 2 any error (70 a bug).

-v logs what is done (INFO); -vv logs the kit's details (DEBUG) and prints the traceback of
an error, with the library error that caused it."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="usagekit",
        description="Fetch, store, query and report Genesys Cloud API usage.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"usagekit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v: INFO; -vv: DEBUG and the traceback of an error)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (see :data:`EPILOG`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with _logging(args.verbose):
        try:
            status = int(args.handler(args) or 0)
            sys.stdout.flush()
            return status
        except UsagekitError as exc:
            print(f"usagekit: error: {exc}", file=sys.stderr)
            if args.verbose >= 2:
                traceback.print_exception(exc, file=sys.stderr)
            if hasattr(args, "error_status"):  # a command with statuses of its own: check
                return int(args.error_status)
            # the kit's ValueErrors (ConfigError, QueryError, InvalidRowsError) are bad input
            return BAD_INPUT if isinstance(exc, ValueError) else FAILED
        except KeyboardInterrupt:
            return INTERRUPTED
        except BrokenPipeError:  # e.g. `usagekit analyze --list | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return BROKEN_PIPE
        except Exception as exc:  # anything else is a bug, never bad input
            print(f"usagekit: internal error (a bug): {type(exc).__name__}: {exc}; please "
                  "report it to the usagekit maintainers with the traceback below",
                  file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
            return BUG


@contextlib.contextmanager
def _logging(verbose: int) -> Iterator[None]:
    """Log INFO with ``-v``; with ``-vv`` also the kit's own DEBUG (restored afterwards).

    Libraries stay at INFO: their DEBUG logs can hold credentials (botocore logs request
    headers, AWS session token included; urllib3 logs URL paths, a webhook's token).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    kit = logging.getLogger("usagekit")
    level = kit.level
    if verbose >= 2:
        kit.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        kit.setLevel(level)

if __name__ == "__main__":
    sys.exit(main())
