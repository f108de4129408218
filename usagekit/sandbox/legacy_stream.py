"""Legacy results of the large organisation, summed with numpy and encoded in blocks.

The body is byte for byte what ``json.dumps({"results": legacy_rows(...), "queryStatus":
"Complete"}, separators=(",", ":"))`` gives for the same organisation, produced a bucket at a
time: a bucket's days are summed into it one day after the other (at most the stream pool
plus one day in memory), its rows are sorted by their codes (which follow the legacy sort
order: date, clientName, userId, templateUri, httpMethod) and encoded ``BLOCK_ROWS`` at a time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import date

import numpy as np

from .large_org import COUNT_COLUMNS, METHODS, LargeOrganization
from .query import LEGACY_METRICS, LegacyQuery, bucket_of, dimensions, query_days

BLOCK_ROWS = 8192  # rows per yielded block (~3 MB at full grouping)
HEAD = b'{"results":['
TAIL = b'],"queryStatus":"Complete"}'


def legacy_body(org: LargeOrganization, query: LegacyQuery, today: date,
                client_id: str | None = None) -> Iterator[bytes]:
    """The legacy results body in blocks (built-in clients excluded, as the real API does)."""
    dims = set(dimensions(query.group_by))
    radix = np.array([len(org.clients), len(org.user_ids), len(org.template_uris), len(METHODS)])
    parts = [org.stream_client, org.stream_user, org.stream_template, org.stream_method]
    key = np.zeros(len(org.stream_client), dtype=np.int64)
    for name, part, size in zip(("client_id", "user_id", "template_uri", "http_method"), parts,
                                radix.tolist(), strict=True):
        key = key * size + (part if name in dims else 0)
    keep = ~org.stream_builtin
    if client_id is not None:
        keep &= org.stream_client == [c.id for c in org.clients].index(client_id)
    encoder = _Encoder(org, query, dims)
    days = query_days(query.start, query.end, today)
    bucket = bucket_of(query.granularity, query.start.date())
    yield HEAD
    first = True
    for label, group in itertools.groupby(days, key=bucket):
        keys, counts = np.empty(0, dtype=np.int64), np.empty((0, 5), dtype=np.int64)
        for day in group:
            usage = org.day(day)
            mask = keep[usage.streams]
            keys, counts = _sum(np.concatenate([keys, key[usage.streams[mask]]]),
                                np.concatenate([counts, usage.counts[mask]]))
        codes = []
        for size in radix[::-1].tolist():
            codes.append(keys % size)
            keys = keys // size
        client, user, template, method = codes[::-1]
        for lo in range(0, len(counts), BLOCK_ROWS):
            block = encoder.rows(label, client[lo:lo + BLOCK_ROWS], user[lo:lo + BLOCK_ROWS],
                                 template[lo:lo + BLOCK_ROWS], method[lo:lo + BLOCK_ROWS],
                                 counts[lo:lo + BLOCK_ROWS])
            yield block if first else b"," + block
            first = False
    yield TAIL


def _sum(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal keys summed: the distinct keys ascending and their count rows."""
    if len(keys) == 0:
        return keys, counts
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.add.reduceat(counts[order], starts, axis=0)


def _text(value: str) -> bytes:
    """A JSON string exactly as ``json.dumps`` writes it, ``%`` escaped for formatting."""
    return json.dumps(value).encode().replace(b"%", b"%%")


class _Encoder:
    """Encodes rows of one query: field parts per code, a format per bucket date."""

    def __init__(self, org: LargeOrganization, query: LegacyQuery, dims: set[str]) -> None:
        def part(name: str, values: list[str], grouped: bool) -> list[bytes]:
            if not grouped:
                return [b'"%s":"",' % name.encode()]
            return [b'"%s":%s,' % (name.encode(), json.dumps(v).encode()) for v in values]

        self.clients = [b'"clientId":"","clientName":"",']
        if "client_id" in dims:
            self.clients = [b'"clientId":%s,"clientName":%s,' % (
                json.dumps(c.id).encode(), json.dumps(c.name).encode()) for c in org.clients]
        self.users = part("userId", list(org.user_ids), "user_id" in dims)
        self.templates = part("templateUri", list(org.template_uris), "template_uri" in dims)
        self.methods = part("httpMethod", list(METHODS), "http_method" in dims)
        self.organization = b'"organizationId":%s,' % _text(
            org.id if "OrganizationId" in query.group_by else "")
        chosen = set(query.metrics) or set(LEGACY_METRICS)
        names = [*COUNT_COLUMNS, "requests"]
        self.metrics = [name for name in names if name.capitalize() in chosen]
        self.columns = [names.index(name) for name in self.metrics]
        self.whole = None  # the date of every row when the interval is one bucket
        if query.granularity is None:
            self.whole = query.start.strftime("%Y-%m-%dT%H:%M:%SZ")

    def rows(self, label: date, client: np.ndarray, user: np.ndarray, template: np.ndarray,
             method: np.ndarray, counts: np.ndarray) -> bytes:
        """The rows of one bucket, joined by commas."""
        when = self.whole or f"{label.isoformat()}T00:00:00Z"
        fmt = (b"{%b" + self.organization + b"%b%b%b"
               + b"".join(b'"%s":%%d,' % name.encode() for name in self.metrics)
               + b'"date":' + _text(when) + b"}")
        values = np.concatenate([counts, counts[:, :4].sum(axis=1, keepdims=True)], axis=1)
        values = values[:, self.columns].tolist()
        cp, up, tp, mp = (self.clients, self.users, self.templates, self.methods)
        return b",".join([
            fmt % (cp[c], up[u], tp[t], mp[m], *v)
            for c, u, t, m, v in zip(client.tolist(), user.tolist(), template.tolist(),
                                     method.tolist(), values, strict=True)])
