"""The report's first screen: the key numbers in a few sentences of Markdown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd

from usagekit.charts.tables import percent, thousands
from usagekit.display import markdown_code, markdown_text
from usagekit.report.artefacts import Markdown
from usagekit.report.gather import ReportData
from usagekit.row import Org


def headline(data: ReportData) -> Markdown:
    """The report's first screen: what was analysed and the answers in a few lines.

    It opens with the organisation it covers (name, short id, region) and, when the dataset
    holds several, a cross-org overview (per org: requests, 429 share, fair-use position,
    the top rate-limited client, the change since the week before). Then the alerts that
    fire, worded as ``usagekit check`` words them (or says that none fire). Then totals and
    trend, who is rate-limited and since when, failing endpoints, fair-use position and
    month-end projection, notable changes since the previous week; plus the interval,
    granularity, data source and when the report was made (UTC).
    """
    s = data.summary()
    p = data.params
    iv = p.interval
    last_day = (iv.end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    lines = [
        _org_line(s["org"]),
        *_overview_lines(s["orgs"], s["org"]),
        "",
        *_alerts_lines(s["alerts"]),
        "",
        f"**{iv.start:%Y-%m-%d} to {last_day}** ({iv.days} UTC days, by "
        f"{p.granularity.lower()}) · made {data.made_at:%Y-%m-%d %H:%M} UTC  ",
        f"Data: API {_source_text(s['source']['api'])} · dataset "
        f"{markdown_text(s['source']['dataset'])} · "
        f"engine {s['source']['engine']}",
        "",
        f"- **Traffic:** {_traffic_text(s)}",
        f"- **Rate-limited (429):** {_rate_limited_text(s)}",
        f"- **Failing endpoints:** {_endpoints_text(s)}",
        f"- **Fair use:** {_fair_use_text(s)}",
        f"- **Changes:** {_changes_text(s)}",
    ]
    if s["unavailable"]:
        lines.append("- **Not available on this dataset:** " + "; ".join(
            f"{k} ({markdown_text(v)})" for k, v in s["unavailable"].items()))
    return Markdown("\n".join(lines))


def _org_line(org: dict[str, Any] | None) -> str:
    if org is None:
        return "**Organisation:** not named (the dataset names no organisation)"
    label = Org(**org).label
    fictional = " · fictional: the embedded sandbox's made-up data" if org["fictional"] else ""
    return f"**Organisation: {markdown_text(label)}**{fictional}"


def _overview_lines(orgs: list[dict[str, Any]], org: dict[str, Any] | None) -> list[str]:
    """The cross-org overview as a Markdown table (none for a dataset of one org)."""
    if not orgs:
        return []
    lines = ["", f"**All {len(orgs)} organisations in the dataset** (this interval):", "",
             "| Organisation | Requests | 429 share | Fair use | Top rate-limited client "
             "| Last complete week |",
             "|---|---:|---:|---|---|---|"]
    for row in orgs:
        name = markdown_text(row["org"])
        if org is not None and row["org_id"] == org["id"]:
            name = f"**{name}** (this report)"
        requests = "n/a" if row["requests"] is None else thousands(row["requests"])
        top = ("none" if row["top_client"] is None else
               f"{markdown_text(row['top_client'])} ({thousands(row['top_client_status429'])})")
        if row["week_change"] is not None:
            word = "up" if row["week_change"] >= 0 else "down"
            week = (f"{thousands(row['week_requests'])}, {word} "
                    f"{percent(abs(row['week_change']))} on the week before")
        else:
            week = "fewer than two complete weeks"
        lines.append(f"| {name} | {requests} | {percent(row['rate429'], 2)} | "
                     f"{markdown_text(row['fair_use'])} | {top} | {week} |")
    return lines


def _alerts_lines(alerts: dict[str, Any] | None) -> list[str]:
    if alerts is None:
        return ["**Alerts:** could not be evaluated on this dataset (see below)."]
    firing = alerts["firing"]
    day = alerts["last_day"] or "no day data"
    if not firing:
        return [f"**Alerts:** none fire (`usagekit check` rules, last complete day {day})."]
    return [f"**Alerts: {len(firing)} firing** (`usagekit check` rules, last complete day "
            f"{day}):", "", *(f"- `{a['rule']}`: {markdown_text(a['message'])}" for a in firing)]


def _source_text(api: str) -> str:
    if api == "sandbox":
        return "embedded sandbox (synthetic data, no credentials set)"
    if api.startswith("genesys:"):
        return f"Genesys Cloud, region {api.split(':', 1)[1]}"
    return "not called (dataset used as stored)"


def _traffic_text(s: dict[str, Any]) -> str:
    t = s["totals"]
    text = (f"{thousands(t['requests'])} requests, "
            f"{percent(t['error_rate'])} errors (4xx + 5xx)")
    trend = s["trend"]
    if trend and trend["change"] is not None:
        word = "up" if trend["change"] >= 0 else "down"
        text += (f"; last complete week (from {trend['week'][:10]}) "
                 f"{thousands(trend['requests'])}, {word} "
                 f"{percent(abs(trend['change']))} on the week before")
    return text + "."


def _rate_limited_text(s: dict[str, Any]) -> str:
    limited = s["rate_limited"]
    t = s["totals"]
    if not limited:
        return "no client was rate-limited."
    parts = []
    start = s["interval"][:10]
    word = s["granularity"].lower()
    total = s["totals"]["periods"]
    for row in limited[:3]:
        name = row["clientName"] or row["clientId"]
        first = (row["first429"] or "")[:10]
        if first == start and row["periods429"] == total:
            when = f"every {word} of the interval"
        elif first == start:
            when = f"{row['periods429']} of {total} {word}s, from the interval start"
        else:
            when = f"since {first}, {row['periods429']} of {total} {word}s"
        parts.append(f"**{markdown_text(name)}** {thousands(row['status429'])} "
                     f"({percent(row['rate429'])} of its requests; {when})")
    more = f" and {len(limited) - 3} more" if len(limited) > 3 else ""
    return (f"{thousands(t['status429'])} responses "
            f"({percent(t['rate429'], 2)} of all); " + "; ".join(parts) + more + ".")


def _endpoints_text(s: dict[str, Any]) -> str:
    failing = s["failing_endpoints"]
    if not failing:
        return "no endpoint with errors."
    parts = [f"{markdown_code(r['httpMethod'] + ' ' + r['templateUri'])} "
             f"{percent(r['error_rate'])} of "
             f"{thousands(r['requests'])}" for r in failing[:3]]
    return "highest error rates: " + "; ".join(parts) + "."


def _fair_use_text(s: dict[str, Any]) -> str:
    f = s["fair_use"]
    if f["month"] is None:
        return "no daily data for the last month."
    month = pd.Timestamp(f["month"]).strftime("%B %Y")
    so_far = "" if f["complete"] else " so far"
    head = f"{month}{so_far} {thousands(f['requests'])} requests"
    if f["genesys_requests"]:
        head += f" (Genesys's own clients' {thousands(f['genesys_requests'])} apart)"
    if f["allowance"] is None:
        why = f["licences_from"].partition(": ")[2]
        return (f"{head}; the allowance is unknown"
                + (f" ({markdown_text(why)})" if why else "")
                + ": give the org's licences with `--licences FILE` (README, Fair use).")
    billed = (", as Genesys's billable-usage report counts them"
              if f["licences_from"] == "billing" else "")
    head += (f" against an allowance of {thousands(f['allowance'])} "
             f"({markdown_text(f['licences'])}{billed})")
    top = ", ".join(f"{markdown_text(c['clientName'] or c['clientId'])} "
                    f"{percent(c['share'])}" for c in f["top_contributors"])
    who = f"; top contributors: {top}" if top else ""
    if f["complete"]:
        verdict = (f"**over the allowance** by {thousands(f['overage'])}"
                   if f["overage"] else "within the allowance")
        return f"{head}: {percent(f['used_share'])}, {verdict}{who}."
    runs_out = (f", runs out {f['runs_out'][:10]}" + (" (projected)"
                                                     if f["runs_out_projected"] else "")
                if f["runs_out"] else "")
    verdict = (f"**projected over the allowance** by {thousands(f['projected_overage'])}"
               if f["projected_overage"] else "projected within the allowance")
    return (f"{head} ({percent(f['used_share'])}); month-end projection "
            f"{thousands(f['projected_requests'])} ({thousands(f['projected_low'])} to "
            f"{thousands(f['projected_high'])}, {percent(f['projected_share'])}): "
            f"{verdict}{runs_out}{who}.")


def _changes_text(s: dict[str, Any]) -> str:
    changes = s["changes"]
    trend = s["trend"]
    if not trend:
        return "fewer than two complete weeks in the interval."
    if not changes:
        return f"no client appeared, vanished, doubled or halved in the week from " \
               f"{trend['week'][:10]}."
    by_kind: dict[str, list[str]] = {}
    for row in changes:
        by_kind.setdefault(row["change"], []).append(
            markdown_text(row["clientName"] or row["clientId"]))
    parts = [f"{kind}: {', '.join(names[:5])}" + (f" (+{len(names) - 5})"
                                                 if len(names) > 5 else "")
             for kind, names in sorted(by_kind.items())]
    return f"week from {trend['week'][:10]} vs the week before: " + "; ".join(parts) + "."
