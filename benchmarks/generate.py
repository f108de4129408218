"""Deterministic generator of realistic Genesys Cloud usage results (legacy API shape).

One ``numpy.random.default_rng(seed)`` drives everything, so the same arguments give
byte-identical files. Traffic is skewed (Zipf clients and templates, log-normal volumes,
weekends quieter, yearly growth) and 429s come in clusters (incident episodes on the top
clients plus one chronically throttled client). ``status429`` is a subset of ``status400`` and
``requests = status200 + status300 + status400 + status500``, as the API defines them.

Output is either a legacy response (``{"results":[...],"queryStatus":"Complete"}`` on one line)
or NDJSON byte-identical to ``jq -c '.results[]'`` on that response.

Run ``python -m benchmarks.generate --rows 100000 --out response.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

GRANULARITIES = ("day", "week", "month")
FORMATS = ("response", "ndjson")
COUNT_FIELDS = ("status200", "status300", "status400", "status500", "status429", "requests")

_RESOURCES = (
    "users", "analytics/conversations/details", "conversations", "routing/queues",
    "conversations/calls", "analytics/users/details", "routing/skills", "presence/definitions",
    "groups", "externalcontacts/contacts", "outbound/campaigns", "outbound/contactlists",
    "architect/flows", "recording/jobs", "quality/evaluations", "workforcemanagement/schedules",
    "telephony/providers/edges", "authorization/roles", "notifications/channels", "locations",
    "knowledge/knowledgebases", "journey/sessions", "integrations/actions", "scripts",
    "speechandtextanalytics/conversations", "analytics/queues/observations", "oauth/clients",
    "conversations/messages", "routing/wrapupcodes", "organizations", "stations",
    "conversations/emails", "gdpr/requests", "usage/query", "flows/datatables", "messaging/sms",
    "responsemanagement/responses", "learning/modules", "gamification/scorecards", "teams",
)
_SHAPES = (
    ("", ("GET", "POST")),
    ("/{id}", ("GET", "PUT", "DELETE", "PATCH")),
    ("/query", ("POST",)),
    ("/{id}/members", ("GET", "POST")),
    ("/search", ("POST",)),
    ("/{id}/details", ("GET",)),
    ("/bulk", ("POST",)),
    ("/{id}/{subId}", ("GET", "DELETE")),
)
# Method mix within a template: GET-heavy, writes rarer.
_METHOD_WEIGHT = {"GET": 1.4, "POST": 0.9, "PUT": 0.5, "DELETE": 0.3, "PATCH": 0.2}
_CLIENT_NAMES = (
    "Data Sync", "CRM Connector", "WFM Export", "Reporting", "Bot Gateway", "Café Dashboard",
    "Quality Exporter", "Recording Archiver", "Outbound Dialer", "Wallboard", "BI Extract",
    "Chat Widget Backend", "Audit Service", "Provisioning", "Survey Tool",
)


@dataclass(frozen=True)
class GeneratorSpec:
    """What to generate; equal specs give byte-identical output."""

    rows: int
    seed: int = 42
    clients: int = 200
    templates: int = 300
    users: int = 2000
    days: int = 365
    start: dt.date = dt.date(2021, 1, 1)

    def __post_init__(self) -> None:
        if self.rows < self.days:
            raise ValueError(f"rows={self.rows} must be at least days={self.days}")
        for name in ("clients", "templates", "users", "days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class Usage:
    """Generated usage, one array entry per row, plus the entity tables rows point into."""

    stream_prefix: list[bytes]  # per stream: '{"clientId":...,"httpMethod":"GET",'
    stream: np.ndarray  # int64 stream index per row
    period: np.ndarray  # int64 bucket start, days since epoch
    counts: np.ndarray  # int64 (rows, 6) in COUNT_FIELDS order


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _zipf_weights(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def _templates(rng: np.random.Generator, n: int) -> list[tuple[str, tuple[str, ...]]]:
    """Template URIs with their allowed methods; well-known ones first (they are hot)."""
    combos = [(res, shape) for shape in _SHAPES for res in _RESOURCES]
    hot = [(res, shape) for res in _RESOURCES[:8] for shape in _SHAPES[:3]]
    head, tail = hot, [c for c in combos if c not in hot]
    order = rng.permutation(len(tail))
    picked = (head + [tail[i] for i in order])[:n]
    while len(picked) < n:  # more templates than the vocabulary: versioned variants
        res, shape = picked[len(picked) % len(combos)]
        picked.append((f"{res}/v{len(picked)}", shape))
    return [(f"api/v2/{res}{shape[0]}", shape[1]) for res, shape in picked]


def _streams(spec: GeneratorSpec, rng: np.random.Generator) -> tuple[list[bytes], np.ndarray,
                                                                     np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """The pool of (client, user, template, method) streams and their properties."""
    per_day = -(-spec.rows // spec.days)
    pool = max(int(per_day * 2.5), per_day + 1)
    org = _uuid(rng)
    client_ids = [_uuid(rng) for _ in range(spec.clients)]
    client_names = [f"{_CLIENT_NAMES[i % len(_CLIENT_NAMES)]} {i + 1}" for i in range(spec.clients)]
    user_ids = [_uuid(rng) for _ in range(spec.users)]
    templates = _templates(rng, spec.templates)
    client_w = _zipf_weights(spec.clients, 1.05)
    template_w = _zipf_weights(spec.templates, 1.1)
    # Each client calls as a Zipf-sized pool of users (big clients: many users).
    pool_size = np.maximum(1, (spec.users * 0.5 * client_w / client_w.max()).astype(np.int64))
    user_base = rng.integers(0, spec.users, spec.clients)
    # The pool is flatter than the traffic: small clients and cold templates still appear.
    pick_c = client_w**0.5 / (client_w**0.5).sum()
    pick_t = template_w**0.6 / (template_w**0.6).sum()

    seen: set[tuple[int, int, int, str]] = set()
    rows: list[tuple[int, int, int, str]] = []
    while len(rows) < pool:
        n = pool - len(rows)
        cs = rng.choice(spec.clients, size=n * 2, p=pick_c)
        ts = rng.choice(spec.templates, size=n * 2, p=pick_t)
        us = rng.zipf(1.3, size=n * 2)
        ms = rng.random(n * 2)
        for c, t, u, m in zip(cs.tolist(), ts.tolist(), us.tolist(), ms.tolist(), strict=True):
            methods = templates[t][1]
            w = np.cumsum([_METHOD_WEIGHT[x] for x in methods])
            method = methods[int(np.searchsorted(w, m * w[-1], side="right"))]
            user = int((user_base[c] + (u - 1) % pool_size[c]) % spec.users)
            key = (c, user, t, method)
            if key not in seen:
                seen.add(key)
                rows.append(key)
                if len(rows) == pool:
                    break
    c_arr = np.array([r[0] for r in rows])
    t_arr = np.array([r[2] for r in rows])
    is_get = np.array([r[3] == "GET" for r in rows])
    prefixes = [
        (
            f'{{"clientId":"{client_ids[c]}","clientName":"{client_names[c]}",'
            f'"organizationId":"{org}","userId":"{user_ids[u]}",'
            f'"templateUri":"{templates[t][0]}","httpMethod":"{m}",'
        ).encode()
        for c, u, t, m in rows
    ]
    # Stream weight: heavier clients and hotter templates are both picked and busier.
    log_w = 0.5 * np.log(client_w[c_arr] * template_w[t_arr]) + rng.normal(0, 1.0, pool)
    return prefixes, c_arr, t_arr, is_get, log_w


def generate(spec: GeneratorSpec) -> Usage:
    """Generate daily usage rows for ``spec`` (deterministic)."""
    days = list(day_blocks(spec))
    return Usage(days[0].stream_prefix, np.concatenate([u.stream for u in days]),
                 np.concatenate([u.period for u in days]),
                 np.concatenate([u.counts for u in days]))


def day_blocks(spec: GeneratorSpec) -> Iterator[Usage]:
    """The rows of :func:`generate`, one day at a time (memory: one day and the streams)."""
    rng = np.random.default_rng(spec.seed)
    prefixes, c_arr, t_arr, is_get, log_w = _streams(spec, rng)
    pool = len(prefixes)
    days = np.arange(spec.days)
    epoch0 = (spec.start - dt.date(1970, 1, 1)).days
    weekday = (epoch0 + days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    day_factor = np.where(weekday == 5, 0.4, np.where(weekday == 6, 0.3, 1.0))
    day_factor = day_factor * (1.0 + 0.3 * days / max(spec.days - 1, 1))

    # Error rates per template and per client.
    r4xx_t = rng.beta(1.0, 30.0, spec.templates)
    heavy_404 = rng.random(spec.templates) < 0.05
    r4xx_t[heavy_404] = rng.beta(5.0, 5.0, int(heavy_404.sum()))
    sloppy_c = rng.lognormal(0.0, 0.5, spec.clients)
    outage_days = rng.choice(spec.days, size=min(4, spec.days), replace=False)
    outage_t = rng.random(spec.templates) < 0.3
    # 429 clusters: incident episodes on some of the top 12 clients, one chronic client.
    r429 = np.full((spec.days, spec.clients), 0.00005)
    top = min(12, spec.clients)
    for _ in range(6):
        first = int(rng.integers(0, spec.days))
        length = int(rng.integers(1, 6))
        hit = rng.choice(top, size=int(rng.integers(1, top + 1)), replace=False)
        r429[first:first + length, hit] = rng.uniform(0.02, 0.35, hit.size)
    chronic = int(rng.integers(0, min(5, spec.clients)))
    r429[weekday < 5, chronic] = np.maximum(r429[weekday < 5, chronic], 0.005)

    base = rng.lognormal(3.0, 1.2, pool) * np.exp(0.6 * (log_w - log_w.mean()))
    per_day = np.full(spec.days, spec.rows // spec.days)
    per_day[: spec.rows % spec.days] += 1
    for d in days.tolist():
        k = int(per_day[d])
        keys = log_w + rng.gumbel(size=pool)  # Gumbel top-k = weighted sampling w/o replacement
        s = np.sort(np.argpartition(-keys, k - 1)[:k])
        req = np.maximum(1, np.rint(base[s] * day_factor[d] * rng.lognormal(0, 0.3, k)))
        req = req.astype(np.int64)
        c, t = c_arr[s], t_arr[s]
        p5 = np.where((d == outage_days).any() & outage_t[t], 0.15, 0.0005)
        p4 = np.minimum(r4xx_t[t] * sloppy_c[c], 0.9)
        n429 = rng.binomial(req, r429[d, c])
        n500 = rng.binomial(req - n429, p5)
        n4 = rng.binomial(req - n429 - n500, p4)
        n3 = np.where(is_get[s], rng.binomial(req - n429 - n500 - n4, 0.02), 0)
        n2 = req - n429 - n500 - n4 - n3
        yield Usage(prefixes, s, np.full(k, epoch0 + d, dtype=np.int64),
                    np.stack([n2, n3, n4 + n429, n500, n429, req], axis=1))


def write_ndjson_files(spec: GeneratorSpec, files: Mapping[str, BinaryIO]) -> int:
    """Generate ``spec`` and write NDJSON per granularity (``day``/``week``/``month`` -> file).

    Streams: rows are written as they are generated, holding one week's or month's days at
    a time, so any size fits in a few hundred MB. The files are byte-identical to
    :func:`write` of :func:`aggregate` of :func:`generate`. Returns the day rows written.
    """
    unknown = sorted(set(files) - set(GRANULARITIES))
    if unknown:
        raise ValueError(f"granularities {unknown} are not among {GRANULARITIES}")
    pending: dict[str, list[Usage]] = {g: [] for g in files if g != "day"}

    def flush(granularity: str) -> None:
        days = pending[granularity]
        merged = Usage(days[0].stream_prefix, np.concatenate([u.stream for u in days]),
                       np.concatenate([u.period for u in days]),
                       np.concatenate([u.counts for u in days]))
        for chunk in iter_rows(aggregate(merged, granularity)):
            files[granularity].write(chunk + b"\n")
        days.clear()

    rows = 0
    for day in day_blocks(spec):
        rows += len(day.stream)
        if "day" in files:
            for chunk in iter_rows(day):
                files["day"].write(chunk + b"\n")
        for granularity, days in pending.items():
            if days and _bucket(days[0].period[:1], granularity)[0] != \
                    _bucket(day.period[:1], granularity)[0]:
                flush(granularity)
            days.append(day)
    for granularity, days in pending.items():
        if days:
            flush(granularity)
    return rows


def months_spec(spec: GeneratorSpec, months: int) -> GeneratorSpec:
    """``spec`` cut to its first ``months`` calendar months, with the same rows every day.

    So 3 months and 12 months of one spec hold the same rows per month (the issue's
    "memory set by the month, not the total").
    """
    if months < 1:
        raise ValueError(f"months must be >= 1, got {months}")
    year, month = divmod(spec.start.month - 1 + months, 12)
    end = dt.date(spec.start.year + year, month + 1, 1)
    days = min((end - spec.start).days, spec.days)
    rows = (spec.rows // spec.days) * days + min(spec.rows % spec.days, days)
    return dataclasses.replace(spec, rows=rows, days=days)


def _bucket(days_since_epoch: np.ndarray, granularity: str) -> np.ndarray:
    if granularity == "day":
        return days_since_epoch
    if granularity == "week":  # Monday; 1970-01-01 was a Thursday
        return days_since_epoch - (days_since_epoch + 3) % 7
    months = days_since_epoch.astype("datetime64[D]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def aggregate(usage: Usage, granularity: str) -> Usage:
    """Roll daily usage up to ``week`` (Monday buckets) or ``month`` buckets."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity {granularity!r} is not one of {GRANULARITIES}")
    if granularity == "day":
        return usage
    bucket = _bucket(usage.period, granularity)
    order = np.lexsort((usage.stream, bucket))
    key_b, key_s = bucket[order], usage.stream[order]
    start = np.flatnonzero(np.r_[True, (key_b[1:] != key_b[:-1]) | (key_s[1:] != key_s[:-1])])
    counts = np.add.reduceat(usage.counts[order], start, axis=0)
    return Usage(usage.stream_prefix, key_s[start], key_b[start], counts)


def iter_rows(usage: Usage) -> Iterator[bytes]:
    """Compact JSON rows, in the API's field order, in chunks of bytes joined by ``\\n``."""
    bounds = np.flatnonzero(np.r_[True, usage.period[1:] != usage.period[:-1], True])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        day = np.datetime64(int(usage.period[lo]), "D")
        date = f'"date":"{day}T00:00:00Z"}}'.encode()
        pre = usage.stream_prefix
        yield b"\n".join(
            pre[s] + b'"status200":%d,"status300":%d,"status400":%d,"status500":%d,'
            b'"status429":%d,"requests":%d,' % tuple(c) + date
            for s, c in zip(usage.stream[lo:hi].tolist(), usage.counts[lo:hi].tolist(),
                            strict=True)
        )


def write(usage: Usage, fp: BinaryIO, fmt: str = "response") -> None:
    """Write ``usage`` as a legacy response or as NDJSON (= ``jq -c '.results[]'``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
    sep = b"," if fmt == "response" else b"\n"
    if fmt == "response":
        fp.write(b'{"results":[')
    first = True
    for chunk in iter_rows(usage):
        if not first:
            fp.write(sep)
        fp.write(chunk.replace(b"\n", sep) if fmt == "response" else chunk)
        first = False
    fp.write(b'],"queryStatus":"Complete"}' if fmt == "response" else b"\n")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: generate one file."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, required=True, help="daily rows to generate")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--templates", type=int, default=300)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2021, 1, 1))
    p.add_argument("--granularity", choices=GRANULARITIES, default="day")
    p.add_argument("--format", choices=FORMATS, default="response")
    a = p.parse_args(argv)
    spec = GeneratorSpec(a.rows, a.seed, a.clients, a.templates, a.users, a.days, a.start)
    usage = aggregate(generate(spec), a.granularity)
    with a.out.open("wb") as fp:
        write(usage, fp, a.format)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
