"""The organisations a dataset holds: each ``org=<id>/_org.json`` record, and the message
that names a dataset stored before organisations."""

from __future__ import annotations

import dataclasses
import json

from usagekit import row
from usagekit.dataset.schema import ORG_FILE
from usagekit.dataset.storage import Storage
from usagekit.exceptions import DatasetError


def stored_orgs(storage: Storage, files: list[str]) -> list[row.Org]:
    """The orgs recorded in the ``org=<id>/_org.json`` files among ``files``, by name."""
    out = []
    for rel in files:
        folder, _, name = rel.partition("/")
        if name != ORG_FILE or not folder.startswith(f"{row.ORG}="):
            continue
        data = storage.read(rel)
        if data is None:
            continue
        try:
            out.append(row.Org(**json.loads(data)))
        except (ValueError, TypeError) as exc:
            raise DatasetError(f"unreadable {storage.url(rel)}: expected JSON with the "
                               "organisation's id, name, region and fictional") from exc
    return sorted(out, key=lambda o: (o.name.casefold(), o.id))


def org_record(org: row.Org) -> bytes:
    """What ``org=<id>/_org.json`` holds for ``org``."""
    return json.dumps(dataclasses.asdict(org)).encode() + b"\n"


def legacy_message(location: str, legacy: list[str]) -> str:
    """The error of a dataset still laid out as before organisations."""
    return (f"the dataset at {location} is laid out as before organisations ({legacy[0]} and "
            f"{len(legacy) - 1} more file(s) without an org= folder): move its rows under the "
            f"organisation they were fetched from with `usagekit migrate --dataset {location} "
            "--org ID` (or --profile NAME to ask Genesys Cloud; --sandbox for the embedded "
            "sandbox's demo rows, such as an earlier `make report`'s); nothing was changed")
