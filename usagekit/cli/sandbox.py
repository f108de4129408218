"""``usagekit sandbox``: serve the offline Genesys Cloud stand-in in the foreground.

It answers ``POST /oauth/token``, ``GET /api/v2/organizations/me``, the Usage APIs (legacy
query and aggregates jobs, organisation and per-client routes) and the billable-usage report
on 127.0.0.1 with deterministic synthetic data. ``--orgs N`` serves N fictional
organisations, each with its own client credentials (printed below; the secret of
organisation n from 2 is the --client-secret value with ``-n`` appended). Point the kit at it
with ``GENESYSCLOUD_REGION=<the printed URL>`` and one organisation's credentials. Stop it
with Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import date
from types import FrameType
from typing import Any

from usagekit.exceptions import ConfigError
from usagekit.sandbox import Sandbox
from usagekit.sandbox.large_org import MAX_ROWS_PER_DAY, MIN_ROWS_PER_DAY, check_rows_per_day
from usagekit.sandbox.tenants import FICTIONAL_ORGS


def register(sub: Any) -> None:
    """Add ``usagekit sandbox`` to the sub-command parser ``sub``."""
    parser = sub.add_parser(
        "sandbox", help="serve a local Genesys Cloud stand-in with synthetic usage",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument("--seed", type=int, default=7,
                        help="selects the synthetic organisation and its usage (default 7)")
    parser.add_argument("--client-id", default="sandbox-client",
                        help="accepted OAuth client id (default sandbox-client)")
    parser.add_argument("--client-secret", default="sandbox-secret",
                        help="accepted OAuth client secret (default sandbox-secret; never printed)")
    parser.add_argument("--rate-limit", type=int, default=300, metavar="N",
                        help="requests per token per window; more get 429 (default 300)")
    parser.add_argument("--rate-window", type=float, default=60.0, metavar="SECONDS",
                        help="rate-limit window (default 60)")
    parser.add_argument("--query-seconds", type=float, default=0.5, metavar="SECONDS",
                        help="how long a query stays Running (default 0.5)")
    parser.add_argument("--token-seconds", type=int, default=86_400, metavar="SECONDS",
                        help="access-token lifetime (default 86400)")
    parser.add_argument("--today", type=_date, metavar="YYYY-MM-DD",
                        help="pin the sandbox's 'today' (default: the real UTC date)")
    parser.add_argument("--rows-per-day", type=_rows_per_day, metavar="N",
                        help="serve a large organisation with about N legacy day rows at full "
                             f"grouping (1 to {MAX_ROWS_PER_DAY:,}; default: the small one)")
    parser.add_argument("--orgs", type=int, default=1, choices=range(1, len(FICTIONAL_ORGS) + 1),
                        metavar="N", help="serve N fictional organisations, each with its own "
                        f"credentials (1 to {len(FICTIONAL_ORGS)}; default 1)")
    parser.set_defaults(handler=run)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}; use YYYY-MM-DD") from None


def _rows_per_day(text: str) -> int:
    try:
        return check_rows_per_day(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid --rows-per-day {text!r}; valid: an integer from {MIN_ROWS_PER_DAY} to "
            f"{MAX_ROWS_PER_DAY:,}") from None


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); 0 on a clean stop, 1 if binding fails."""
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"invalid --port {args.port}; valid: 0 (any free port) to 65535")
    if args.rate_limit < 1 or args.rate_window <= 0:
        raise ConfigError(f"invalid rate limit {args.rate_limit} per {args.rate_window} s; "
                          "valid: --rate-limit >= 1 and --rate-window > 0")
    if args.orgs > 1 and args.rows_per_day is not None:
        raise ConfigError(f"--rows-per-day serves one large organisation, not --orgs {args.orgs}; "
                          "valid with --rows-per-day: --orgs 1")
    sandbox = Sandbox(args.host, args.port, seed=args.seed, client_id=args.client_id,
                      client_secret=args.client_secret, query_seconds=args.query_seconds,
                      rate_limit=args.rate_limit, rate_window=args.rate_window,
                      token_seconds=args.token_seconds, today=args.today,
                      rows_per_day=args.rows_per_day, orgs=args.orgs)
    signal.signal(signal.SIGTERM, _stop)
    # Ctrl-C stops it even when started from a shell that ignores SIGINT for background jobs
    # (Python then leaves SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sandbox.serve_forever(ready=_announce)
    except OSError as exc:
        print(f"usagekit: error: cannot serve on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sandbox stopped", flush=True)
    return 0


def _announce(sandbox: Sandbox) -> None:
    size = (f"{len(sandbox.org.clients)} OAuth clients" if len(sandbox.orgs) == 1
            else f"{len(sandbox.orgs)} fictional organisations")
    print(f"usagekit sandbox serving at {sandbox.url} (seed {sandbox.seed}, {size})")
    for number, org in enumerate(sandbox.orgs, 1):
        suffix = "" if number == 1 else f"-{number}"
        if len(sandbox.orgs) > 1:
            print(f"{org.name} ({org.id}, {org.region}, {len(org.org.clients)} OAuth clients):")
        print(f"  GENESYSCLOUD_REGION={sandbox.url}\n"
              f"  GENESYSCLOUD_OAUTHCLIENT_ID={org.client_id}\n"
              f"  GENESYSCLOUD_OAUTHCLIENT_SECRET=<the --client-secret value>{suffix}")
    print("Press Ctrl-C to stop.", flush=True)
