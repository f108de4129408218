"""``usagekit migrate`` and ``usagekit remove``: the organisations a dataset holds.

``migrate`` moves a dataset stored before organisations (``granularity=…`` at its root)
under the org its rows were fetched from: named by ``--org ID`` (offline), or asked of
Genesys Cloud (the ``GENESYSCLOUD_*`` variables or ``--profile``), or the embedded sandbox's
fictional org (``--sandbox``: a dataset only ``make report`` filled). It is safe to run again
and to kill: each partition is copied, checked and only then removed from the old place.

``remove`` deletes one org's rows (``--org NAME|ID``) or every fictional org's
(``--fictional``: the sandbox's rows an older usagekit stored beside a real org's).

Examples::

    usagekit migrate --dataset s3://my-bucket/usage/ --profile prod
    usagekit migrate --dataset data/usage --sandbox
    usagekit remove --dataset s3://my-bucket/usage/ --fictional
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING, Any

from usagekit.exceptions import ConfigError

if TYPE_CHECKING:
    from usagekit.dataset import Dataset
    from usagekit.row import Org

_DATASET_HELP = ("local folder or s3://bucket/prefix/ (default: USAGEKIT_DATASET or the "
                 "project's data/usage)")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def register(sub: Any) -> None:
    """Add ``usagekit migrate`` and ``usagekit remove`` to the sub-command parser ``sub``."""
    migrate = sub.add_parser(
        "migrate", help="move a dataset stored before organisations under its org",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    migrate.add_argument("--dataset", metavar="LOCATION", help=_DATASET_HELP)
    whose = migrate.add_mutually_exclusive_group()
    whose.add_argument("--org", metavar="ID",
                       help="the Genesys Cloud organisation id the rows were fetched from")
    whose.add_argument("--profile", help="ask Genesys Cloud with this gc profile")
    whose.add_argument("--sandbox", action="store_true",
                       help="the rows are the embedded sandbox's (fictional)")
    migrate.add_argument("--org-name", metavar="NAME", help="with --org: the org's name")
    migrate.add_argument("--region", metavar="HOST",
                         help="with --org: its region (e.g. mypurecloud.ie)")
    migrate.set_defaults(handler=run_migrate)

    remove = sub.add_parser(
        "remove", help="delete one organisation's rows (or the sandbox's) from the dataset",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    remove.add_argument("--dataset", metavar="LOCATION", help=_DATASET_HELP)
    which = remove.add_mutually_exclusive_group(required=True)
    which.add_argument("--org", metavar="NAME|ID", help="the org (its name, id or short id)")
    which.add_argument("--fictional", action="store_true",
                       help="every fictional org (the embedded sandbox's rows)")
    remove.set_defaults(handler=run_remove)


def run_migrate(args: argparse.Namespace) -> int:
    """Handle ``usagekit migrate``."""
    from usagekit.dataset import open_dataset
    from usagekit.dataset.migrate import migrate

    dataset = open_dataset(args.dataset)
    org = (new_org(args.org, args.org_name, args.region) if args.org
           else _asked_org(args))
    summary = migrate(dataset, org)
    print(f"usagekit: {dataset.location}: {summary.line()}", file=sys.stderr)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Handle ``usagekit remove``."""
    from usagekit.dataset import open_dataset

    dataset = open_dataset(args.dataset)
    orgs = ([org for org in dataset.orgs() if org.fictional] if args.fictional
            else [dataset.org_named(args.org)])
    for org in orgs:
        removed = dataset.for_org(org, allow_fictional=True).remove()
        print(f"usagekit: removed {len(removed)} partition(s) of {org.label} from "
              f"{dataset.location}", file=sys.stderr)
    if not orgs:
        print(f"usagekit: the dataset at {dataset.location} holds no fictional org's rows",
              file=sys.stderr)
    return 0


def new_org(text: str, name: str | None = None, region: str | None = None) -> Org:
    """An org named by its id (``text``), with its name and region when given.

    Raises
    ------
    ConfigError
        ``text`` is not an organisation id (a UUID).
    """
    from usagekit.row import Org

    org_id = text.strip().lower()
    if not _UUID.fullmatch(org_id):
        raise ConfigError(f"invalid --org {text!r}: expected the organisation's id, a "
                          "UUID such as 9b5a2e2c-0f3d-4a4e-8f5e-1c2d3e4f5a6b (Admin > "
                          "Organization Settings), or use --profile to ask Genesys Cloud")
    return Org(org_id, name or org_id, region or "unknown")


def target_org(dataset: Dataset, text: str | None, name: str | None = None,
               region: str | None = None) -> Org:
    """The org rows brought in offline belong to: the one ``text`` names among the
    dataset's, or a new one by id; without ``text``, the dataset's only org.

    Raises
    ------
    ConfigError
        Nothing names it, naming the orgs the dataset holds.
    """
    held = dataset.orgs()
    if text is None:
        if len(held) == 1:
            return held[0]
        known = ", ".join(org.label for org in held) or "none yet"
        raise ConfigError(f"whose rows are these? Name the organisation with --org ID (its "
                          f"Genesys Cloud id; the dataset at {dataset.location} holds: "
                          f"{known})")
    found = [org for org in held if org.matches(text)]
    return found[0] if len(found) == 1 else new_org(text, name, region)


def _asked_org(args: argparse.Namespace) -> Org:
    from usagekit.embedded import connect

    if args.org_name or args.region:
        raise ConfigError("--org-name and --region go with --org ID")
    with connect(profile=args.profile) as client:
        if client.fictional and not args.sandbox:
            raise ConfigError(
                "which organisation were the rows fetched from? Name it with --org ID, or "
                "set the GENESYSCLOUD_* variables (or --profile) to ask Genesys Cloud, or "
                "pass --sandbox for rows of the embedded sandbox (make report's demo data)")
        if args.sandbox and not client.fictional:
            raise ConfigError("--sandbox, but Genesys Cloud settings are set: unset them to "
                              "migrate the sandbox's rows")
        return client.organization()
