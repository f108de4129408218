"""Several fictional organisations in one sandbox, over real HTTP: the token decides the org.

Each organisation has its own name (saying it is fictional), id, region label, size and
client credentials; its token sees its usage, its jobs and its ``organizations/me`` only.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from typing import Any

import pytest
import requests

from usagekit.fetch import PollPolicy, UsageClient
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox
from usagekit.sandbox.org import CLIENT_NAMES, GROWING_429_CLIENT
from usagekit.sandbox.tenants import FICTIONAL_ORGS, OrgSpec, SandboxOrg

TODAY = date(2026, 11, 27)
JOBS = "/api/v2/usage/aggregates/query/jobs"
SANDBOX = {"query_seconds": 0.05, "rate_limit": 100_000, "today": TODAY, "orgs": 3}


def session_for(sandbox: Sandbox, org: SandboxOrg) -> requests.Session:
    reply = requests.post(f"{sandbox.url}/oauth/token", auth=(org.client_id, org.client_secret),
                          data={"grant_type": "client_credentials"}, timeout=10)
    assert reply.status_code == 200, reply.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
    return session


def run_job(sandbox: Sandbox, session: requests.Session, body: dict[str, Any]
            ) -> list[dict[str, Any]]:
    job = session.post(sandbox.url + JOBS, json=body, timeout=10)
    assert job.status_code == 202, job.text
    for _ in range(200):
        page = session.get(sandbox.url + job.json()["resultsUri"],
                           params={"pageSize": 1000}, timeout=10).json()
        if page["queryStatus"] == "Succeeded":
            assert "nextUri" not in page
            return list(page["entities"])
        time.sleep(0.02)
    raise AssertionError("the job never succeeded")


@pytest.fixture(scope="module")
def sessions(sandbox: Sandbox) -> list[requests.Session]:
    return [session_for(sandbox, org) for org in sandbox.orgs]


def test_each_org_differs_and_says_it_is_fictional(sandbox: Sandbox) -> None:
    orgs = sandbox.orgs
    assert len(orgs) == 3
    for attribute in ("id", "name", "region", "client_id", "client_secret"):
        assert len({getattr(org, attribute) for org in orgs}) == 3, attribute
    assert all("(fictional)" in org.name for org in orgs)
    assert all(uuid.UUID(org.id).version == 5 for org in orgs)
    sizes = [len([c for c in org.org.clients if not c.builtin]) for org in orgs]
    assert sizes == [len(CLIENT_NAMES), FICTIONAL_ORGS[1].clients, FICTIONAL_ORGS[2].clients]
    # The first org is the one every existing attribute names, as with a single-org sandbox.
    first = orgs[0]
    assert (sandbox.org, sandbox.client_id, sandbox.client_secret, sandbox.organization_id) == (
        first.org, first.client_id, first.client_secret, first.id)
    assert first.id == Sandbox(seed=sandbox.seed).organization_id
    assert [o.client_id for o in orgs[1:]] == ["sandbox-client-2", "sandbox-client-3"]
    assert "secret" not in repr(orgs[1]) and "secret" not in repr(sandbox)


def test_organizations_me_answers_for_the_tokens_org(sandbox: Sandbox,
                                                     sessions: list[requests.Session]) -> None:
    for org, session in zip(sandbox.orgs, sessions, strict=True):
        me = session.get(f"{sandbox.url}/api/v2/organizations/me", timeout=10).json()
        assert (me["id"], me["name"]) == (org.id, org.name)
        assert me["selfUri"] == f"/api/v2/organizations/{org.id}"


def test_each_token_sees_its_own_orgs_usage(sandbox: Sandbox,
                                            sessions: list[requests.Session]) -> None:
    body = {"interval": "2026-10-01/2026-10-31", "groupBy": ["OauthClientId", "OauthClientName"]}
    seen = [run_job(sandbox, session, body) for session in sessions]
    for org, entities in zip(sandbox.orgs, seen, strict=True):
        ids = {e["oauthClient"]["id"] for e in entities}
        assert ids == {c.id for c in org.org.clients}  # built-in clients included
        assert {e["oauthClient"]["name"] for e in entities} == {c.name for c in org.org.clients}
    client_ids = [{e["oauthClient"]["id"] for e in entities} for entities in seen]
    assert not client_ids[0] & client_ids[1] and not client_ids[1] & client_ids[2]
    requests_per_org = [sum(e["requestCount"] for e in entities) for entities in seen]
    # Sizes follow the specs: the big default org, a mid-sized one, a small test org.
    assert requests_per_org[0] > 2 * requests_per_org[1] > 2 * requests_per_org[2] > 0


def test_another_orgs_jobs_and_clients_are_not_found(sandbox: Sandbox,
                                                     sessions: list[requests.Session]) -> None:
    first, second = sessions[0], sessions[1]
    job = first.post(sandbox.url + JOBS, json={"interval": "2026-10-01/2026-10-02"}, timeout=10)
    assert job.status_code == 202
    stolen = second.get(sandbox.url + job.json()["resultsUri"], timeout=10)
    assert stolen.status_code == 404 and job.json()["id"] in stolen.json()["message"]
    execution = first.post(f"{sandbox.url}/api/v2/usage/query",
                           json={"interval": "2026-10-01/2026-10-02"}, timeout=10).json()
    assert second.get(sandbox.url + execution["resultsUri"], timeout=10).status_code == 404
    assert first.get(sandbox.url + execution["resultsUri"], timeout=10).status_code == 200
    foreign = sandbox.orgs[0].org.clients[0].id
    per_client = second.post(f"{sandbox.url}/api/v2/oauth/clients/{foreign}/usage/query",
                             json={"interval": "2026-10-01/2026-10-02"}, timeout=10)
    assert per_client.status_code == 404 and foreign in per_client.json()["message"]


def test_one_orgs_secret_does_not_open_another(sandbox: Sandbox) -> None:
    first, second = sandbox.orgs[0], sandbox.orgs[1]
    reply = requests.post(f"{sandbox.url}/oauth/token",
                          auth=(second.client_id, first.client_secret),
                          data={"grant_type": "client_credentials"}, timeout=10)
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"


def test_the_kits_client_names_each_org(sandbox: Sandbox) -> None:
    """The kit's ``UsageClient`` fetches through each org's credentials: its org, its rows."""
    query = UsageQuery.build("2026-10-01/2026-10-08", "Day", ["OAuthClientId"],
                             api="aggregates", today=TODAY)
    totals = []
    for org in sandbox.orgs[:2]:
        with UsageClient(sandbox.url, client_id=org.client_id, client_secret=org.client_secret,
                         poll=PollPolicy(initial=0.02), progress=False) as client:
            found = client.organization()
            assert (found.id, found.name) == (org.id, org.name)
            rows = client.fetch(query).rows
        assert {r["clientId"] for r in rows} == {c.id for c in org.org.clients}
        assert all(r["clientName"] for r in rows)
        totals.append(sum(r["requests"] for r in rows))
    assert totals[0] != totals[1]


def test_only_saturating_orgs_have_the_growing_429_story(sandbox: Sandbox,
                                                         sessions: list[requests.Session]
                                                         ) -> None:
    body = {"interval": "2026-09-01/2026-11-26", "groupBy": ["OauthClientName"],
            "metrics": ["Requests", "Status429"]}
    for org, session in zip(sandbox.orgs, sessions, strict=True):
        shares = {e["oauthClient"]["name"]: e["status429"] / e["requestCount"]
                  for e in run_job(sandbox, session, body)}
        assert (shares[GROWING_429_CLIENT] > 0.05) == org.spec.saturating, org.name
        assert max(share for name, share in shares.items()
                   if name != GROWING_429_CLIENT) < 0.01
    assert [org.spec.saturating for org in sandbox.orgs] == [True, False, False]


def test_each_org_bills_its_own_licences(sandbox: Sandbox,
                                         sessions: list[requests.Session]) -> None:
    period = {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}
    reports = []
    for session in sessions:
        for _ in range(200):
            report = session.get(f"{sandbox.url}/api/v2/billing/reports/billableusage",
                                 params=period, timeout=10).json()
            if report["status"] == "Complete":
                break
            time.sleep(0.02)
        reports.append(report)
    for org, report in zip(sandbox.orgs, reports, strict=True):
        assert [(u["name"], int(u["totalUsage"]), len(u["resources"]))
                for u in report["usages"]] == [(n, c, c) for n, c in org.spec.licences]
    users = [{r["name"] for u in report["usages"] for r in u["resources"]} for report in reports]
    assert users[0] and users[1] and not users[0] & users[1]
    assert len({report["id"] for report in reports}) == len(reports)


def test_custom_specs_and_their_credentials() -> None:
    specs = (OrgSpec("Acme Prod (fictional)", "eu-west-1", clients=3, volume=0.5,
                     client_id="acme-prod", client_secret="prod-secret"),
             OrgSpec("Acme Test (fictional)", "eu-west-1", clients=2, saturating=False))
    with Sandbox(orgs=specs, client_id="base", client_secret="base-secret",
                 today=TODAY) as sandbox:
        assert [(o.name, o.client_id, o.client_secret) for o in sandbox.orgs] == [
            ("Acme Prod (fictional)", "acme-prod", "prod-secret"),
            ("Acme Test (fictional)", "base-2", "base-secret-2")]
        assert sandbox.client_id == "acme-prod" and sandbox.client_secret == "prod-secret"
        assert [len(o.org.clients) for o in sandbox.orgs] == [3 + 2, 2 + 2]  # + built-ins
        me = session_for(sandbox, sandbox.orgs[1]).get(
            f"{sandbox.url}/api/v2/organizations/me", timeout=10).json()
        assert me["name"] == "Acme Test (fictional)"


@pytest.mark.parametrize(("options", "mentions"), [
    ({"orgs": 0}, ["0", f"1 to {len(FICTIONAL_ORGS)}"]),
    ({"orgs": len(FICTIONAL_ORGS) + 1}, [str(len(FICTIONAL_ORGS) + 1)]),
    ({"orgs": "2"}, ["'2'", "OrgSpec"]),
    ({"orgs": (OrgSpec("Acme", "eu-west-1"),)}, ["'Acme'", "fictional"]),
    ({"orgs": (OrgSpec("A (fictional)", "x", clients=0),)}, ["clients 0", "1 to"]),
    ({"orgs": (OrgSpec("A (fictional)", "x", volume=0),)}, ["volume 0", "> 0"]),
    ({"orgs": (OrgSpec("A (fictional)", "x"), OrgSpec("A (fictional)", "y"))},
     ["own name", "A (fictional)"]),
    ({"orgs": (OrgSpec("A (fictional)", "x", client_id="c"),
               OrgSpec("B (fictional)", "y", client_id="c"))}, ["own client id", "'c'"]),
    ({"orgs": 2, "rows_per_day": 100}, ["rows_per_day", "orgs=1"]),
    ({"orgs": (OrgSpec("A (fictional)", "x", licences=(("CX", -1),)),)},
     ["licences [('CX', -1)]", "count >= 0"]),
])
def test_bad_orgs_are_refused_by_name(options: dict[str, Any], mentions: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        Sandbox(**options)
    for text in mentions:
        assert text in str(caught.value)


def test_cli_serves_several_orgs_and_prints_each_ones_credentials() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "usagekit", "sandbox", "--port", "0", "--orgs", "2",
         "--client-secret", "cli-secret-value", "--today", "2026-11-27"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(10)]
        assert lines[-1] == "Press Ctrl-C to stop.\n", lines
        url = lines[0].split(" serving at ")[1].split()[0]
        assert "2 fictional organisations" in lines[0]
        expected = Sandbox(seed=7, orgs=2).orgs
        for org, at in zip(expected, (1, 5), strict=True):
            assert lines[at] == f"{org.name} ({org.id}, {org.region}, "\
                f"{len(org.org.clients)} OAuth clients):\n"
            assert lines[at + 2] == f"  GENESYSCLOUD_OAUTHCLIENT_ID={org.client_id}\n"
        assert lines[8] == "  GENESYSCLOUD_OAUTHCLIENT_SECRET=<the --client-secret value>-2\n"
        token = requests.post(f"{url}/oauth/token", auth=("sandbox-client-2",
                                                          "cli-secret-value-2"),
                              data={"grant_type": "client_credentials"}, timeout=10).json()
        me = requests.get(f"{url}/api/v2/organizations/me", timeout=10, headers={
            "Authorization": f"Bearer {token['access_token']}"}).json()
        assert me["id"] == expected[1].id
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "cli-secret-value" not in "".join(lines) + out + err
    bad = subprocess.run([sys.executable, "-m", "usagekit", "sandbox", "--orgs", "9"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "--orgs" in bad.stderr and "9" in bad.stderr
    large = subprocess.run([sys.executable, "-m", "usagekit", "sandbox", "--orgs", "2",
                            "--rows-per-day", "100"],
                           capture_output=True, text=True, timeout=30, check=False)
    assert large.returncode != 0 and "--orgs 2" in large.stderr and "--orgs 1" in large.stderr
    assert "Traceback" not in large.stderr
