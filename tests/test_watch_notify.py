"""Webhook notifications against a real receiver on 127.0.0.1: sent once while an alert
keeps firing, once more when it resolves, kept and re-sent after a 5xx, a 4xx or a hang."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hostile import NAMES
from watch_data import OTHER_ORG, quiet_days, store
from watch_data import limited as rate_limited

from tests.orgs import ORG
from usagekit.cli import main
from usagekit.display import slack_text, teams_text
from usagekit.exceptions import ConfigError, NotifyError
from usagekit.row import Org
from usagekit.watch import webhook
from usagekit.watch.notify import payload, post, redact

TOKEN = "T0KEN-s3cr3t-abc"
CLIENT_SECRET = "client-secret-never-in-payloads"


class Receiver:
    """A webhook receiver: answers the next queued behaviour (``200``, ``500``, ``404``,
    ``hang``) and then keeps answering the last one; records every body it got."""

    def __init__(self) -> None:
        self.plan: list[str] = ["200"]
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.release = threading.Event()
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(size))
                behaviour = receiver.plan.pop(0) if len(receiver.plan) > 1 else receiver.plan[0]
                time.sleep(receiver.delay)
                receiver.paths.append(self.path)
                if behaviour == "hang":
                    receiver.release.wait(10)
                    return
                if behaviour == "200":
                    receiver.bodies.append(body)
                self.send_response(int(behaviour))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}?key={TOKEN}"

    def answer(self, *behaviours: str) -> None:
        self.plan = list(behaviours)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.release.set()
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
    rules = tmp_path / "rules.toml"
    rules.write_text("[fair_use]\nenabled = false\n[client_changes]\nenabled = false\n"
                     "[spike]\nenabled = false\n[endpoint_errors]\nenabled = false\n")
    return tmp_path


LAST = datetime.now(UTC).date() - timedelta(days=1)


def limited(*clients: str) -> list[dict[str, Any]]:
    return rate_limited(LAST, *clients)


def run(data: Path, receiver: Receiver, *extra: str) -> int:
    return main(["check", "--dataset", str(data / "ds"), "--rules", str(data / "rules.toml"),
                 "--notify", receiver.url, "--notify-timeout", "0.5", "--notify-retries", "1",
                 *extra])


def test_sent_once_while_firing_and_once_on_resolve(data: Path, receiver: Receiver,
                                                    capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger at DEBUG, urllib3's request lines included
    store(data / "ds", limited("Wallboard"))
    assert run(data, receiver) == 1
    assert len(receiver.bodies) == 1
    assert receiver.bodies[0]["text"].startswith(
        f"*usagekit alert: rate_limited* · {ORG.label}\nWallboard")
    assert run(data, receiver) == 1  # still firing: nothing new goes out
    assert len(receiver.bodies) == 1

    store(data / "ds", quiet_days(LAST))
    assert run(data, receiver) == 0
    assert len(receiver.bodies) == 2
    assert receiver.bodies[1]["text"].startswith(
        f"*usagekit resolved: rate_limited* · {ORG.label}\nresolved: Wallboard")
    assert run(data, receiver) == 0  # resolved once
    assert len(receiver.bodies) == 2
    out = capsys.readouterr()
    state = (data / "ds" / "_usagekit.alerts.json").read_text()
    for text in (out.out, out.err, state, json.dumps(receiver.bodies), caplog.text):
        assert TOKEN not in text and CLIENT_SECRET not in text


@pytest.mark.parametrize("failure", ["500", "404", "hang"])
def test_a_failed_webhook_keeps_its_alert_for_the_next_run(
        data: Path, receiver: Receiver, failure: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    store(data / "ds", limited("Wallboard", "Acme Sync"))
    receiver.answer(failure)
    assert run(data, receiver) == 2
    err = capsys.readouterr().err
    host = redact(receiver.url)
    assert host.endswith("/…") and TOKEN not in err
    reason = {"500": "HTTP 500 after 2 attempt(s)", "404": "refused the notification: HTTP 404",
              "hang": "no complete answer within 0.5 s after 1 attempt(s)"}[failure]
    assert f"webhook {host} " in err and reason in err
    assert "2 notification(s) kept; they are sent on the next run" in err
    assert len(receiver.paths) == (2 if failure == "500" else 1)  # 4xx, deadline: no retry
    assert receiver.bodies == []

    receiver.answer("200")
    assert run(data, receiver) == 1
    assert sorted(b["text"].split("\n")[1].split(" (")[0] for b in receiver.bodies) == [
        "Acme Sync", "Wallboard"]
    assert run(data, receiver) == 1
    assert len(receiver.bodies) == 2


def test_a_failure_part_way_keeps_what_was_delivered(data: Path, receiver: Receiver) -> None:
    store(data / "ds", limited("Wallboard", "Acme Sync"))
    receiver.answer("200", "500")
    assert run(data, receiver, "--notify-retries", "0") == 2
    assert len(receiver.bodies) == 1
    receiver.answer("200")
    assert run(data, receiver) == 1
    assert len(receiver.bodies) == 2  # only the one that failed went out again
    assert {b["text"].split("\n")[1][:9] for b in receiver.bodies} == {"Wallboard", "Acme Sync"}


@pytest.mark.parametrize("fmt", ["teams", "json"])
def test_payload_formats(data: Path, receiver: Receiver, fmt: str) -> None:
    store(data / "ds", limited("Wallboard"))
    assert run(data, receiver, "--notify-format", fmt) == 1
    (body,) = receiver.bodies
    if fmt == "teams":
        card = body["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        texts = [block["text"] for block in card["content"]["body"]]
        assert texts[0] == f"usagekit alert: rate_limited · {ORG.label}"
        assert texts[1].startswith("Wallboard (id-wallboard) got 300 429s")
    else:
        assert body["event"] == "firing" and body["key"] == "rate_limited:id-wallboard"
        assert body["org"] == {"id": ORG.id, "name": ORG.name, "region": ORG.region,
                               "fictional": False}
        assert body["details"]["status429"] == 300
        assert body["message"].startswith("Wallboard (id-wallboard) got 300 429s")


def test_two_webhooks_are_tracked_apart(data: Path, receiver: Receiver) -> None:
    store(data / "ds", limited("Wallboard"))
    other = receiver.url.replace("/hooks/", "/other/")
    assert run(data, receiver) == 1
    assert run(data, receiver, "--notify", other) == 1  # the new webhook gets it once
    assert [p.split("/")[1] for p in receiver.paths] == ["hooks", "other"]


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "not a url",
                                 "https://user:pw@hooks.example.com/x",
                                 "https:///path-only", "http://host:99999/T0KEN"])
def test_invalid_webhook_urls_fail_before_anything(data: Path, url: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    store(data / "ds", limited("Wallboard"))
    with pytest.raises(ConfigError, match="invalid webhook URL"):
        webhook(url)
    assert main(["check", "--dataset", str(data / "ds"), "--notify", url]) == 2
    err = capsys.readouterr().err
    assert "invalid webhook URL" in err and "T0KEN" not in err and "/x" not in err
    assert not (data / "ds" / "_usagekit.alerts.json").exists()


def test_payload_names_no_secret() -> None:
    entry = {"rule": "stale", "key": "stale", "message": "stale data", "details": {}}
    assert payload("firing", entry, "slack") == {"text": "*usagekit alert: stale*\nstale data"}
    assert repr(webhook(f"https://hooks.example.com/services/{TOKEN}")) == (
        "Webhook('https://hooks.example.com/…', format='slack')")


@pytest.mark.aws
def test_state_beside_an_s3_dataset(aws: str, receiver: Receiver, tmp_path: Path) -> None:
    """On S3 the state is one object beside the dataset: sent once, then resolved once."""
    import boto3

    from usagekit.engine import DuckDBEngine
    from usagekit.watch import StateStore, deliver, evaluate

    boto3.client("s3").create_bucket(Bucket="usage")
    state = StateStore("s3://usage/prefix/")
    hook = webhook(receiver.url, "json")
    store(tmp_path / "ds", limited("Wallboard"))
    with DuckDBEngine(str(tmp_path / "ds")) as engine:
        alerts = [a for a in evaluate(engine).alerts if a.rule == "rate_limited"]
    assert [a.key for a in alerts] == ["rate_limited:id-wallboard"]
    for _ in range(2):
        assert deliver(alerts, [hook], state, timeout=1, retries=0).failed == []
    assert [b["event"] for b in receiver.bodies] == ["firing"]
    stored = boto3.client("s3").get_object(Bucket="usage", Key="prefix/_usagekit.alerts.json")
    body = stored["Body"].read().decode()
    assert "rate_limited:id-wallboard" in body and TOKEN not in body
    deliver([], [hook], state, timeout=1, retries=0)
    deliver([], [hook], state, timeout=1, retries=0)
    assert [b["event"] for b in receiver.bodies] == ["firing", "resolved"]


class Trickler:
    """A receiver that answers one byte every ``pause`` s (at most ``limit`` bytes), or
    closes each connection at once (``close``): it never completes an answer."""

    def __init__(self, mode: str, pause: float = 0.2, limit: int = 150) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks/{TOKEN}"
        self.mode, self.pause, self.limit = mode, pause, limit
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            if self.mode == "close":
                return
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                answer = b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" + b"x" * 999
                for byte in answer[: self.limit]:
                    if self.stop.wait(self.pause):
                        return
                    conn.sendall(bytes([byte]))

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.listener.close()


@pytest.mark.parametrize("mode", ["trickle", "close"])
def test_a_deadline_bounds_the_whole_request(mode: str) -> None:
    """A receiver that trickles its answer (30 s of it) or keeps closing costs at most the
    deadline (1 s), retries included; the notice is kept for the next run."""
    receiver = Trickler(mode)
    try:
        began = time.monotonic()
        with pytest.raises(NotifyError) as caught:
            post(webhook(receiver.url), {"text": "x"}, timeout=1.0, retries=5)
        spent = time.monotonic() - began
    finally:
        receiver.close()
    assert spent < 5  # far below the trickle's 30 s: the deadline cut it
    message = str(caught.value)
    if mode == "trickle":
        assert "no complete answer within 1 s after 1 attempt(s)" in message
        assert receiver.connections == 1
    else:
        assert "connection failed" in message and receiver.connections > 1
    assert TOKEN not in message


def test_overlapping_checks_send_each_alert_once(data: Path, receiver: Receiver) -> None:
    """Two ``check --notify`` processes at once: the alert lock makes the second wait for
    the first's state, so each alert reaches the webhook once."""
    store(data / "ds", limited("Wallboard", "Acme Sync", "Teams Sync"))
    receiver.delay = 0.3  # slow enough that unlocked runs would both send everything
    command = [sys.executable, "-m", "usagekit", "check", "--dataset", str(data / "ds"),
               "--rules", str(data / "rules.toml"), "--notify", receiver.url]
    runs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(2)]
    errors = [run.communicate(timeout=120)[1].decode() for run in runs]
    assert [run.returncode for run in runs] == [1, 1], errors
    assert sorted(b["text"].split("\n")[1].split(" (")[0] for b in receiver.bodies) == [
        "Acme Sync", "Teams Sync", "Wallboard"]
    assert not (data / "ds" / "_usagekit.alerts.lock").exists()


@pytest.mark.aws
def test_overlapping_deliveries_on_s3_send_each_alert_once(aws: str, receiver: Receiver,
                                                           tmp_path: Path) -> None:
    import boto3

    from usagekit.engine import DuckDBEngine
    from usagekit.watch import StateStore, deliver, evaluate

    boto3.client("s3").create_bucket(Bucket="usage")
    store(tmp_path / "ds", limited("Wallboard", "Acme Sync"))
    with DuckDBEngine(str(tmp_path / "ds")) as engine:
        alerts = [a for a in evaluate(engine).alerts if a.rule == "rate_limited"]
    hook = webhook(receiver.url, "json")
    receiver.delay = 0.3
    results: list[Any] = []
    workers = [threading.Thread(target=lambda: results.append(
        deliver(alerts, [hook], StateStore("s3://usage/prefix/"), timeout=5, retries=0)))
        for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert sorted(len(r.sent) for r in results) == [0, 2]
    assert sorted(b["key"] for b in receiver.bodies) == [
        "rate_limited:id-acme sync", "rate_limited:id-wallboard"]
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(
        Bucket="usage", Prefix="prefix/").get("Contents", [])]
    assert keys == ["prefix/_usagekit.alerts.json"]


def test_two_orgs_alert_and_are_notified_apart(data: Path, receiver: Receiver,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A client rate-limited in one org fires for that org only; the same alert key in the
    other org later is a new alert for it (the state is kept per org), and resolving in one
    org resolves nothing in the other."""
    store(data / "ds", limited("Wallboard"))
    store(data / "ds", quiet_days(LAST), org=OTHER_ORG)
    assert run(data, receiver, "--json") == 1
    body = json.loads(capsys.readouterr().out)
    by_org = {r["org"]["name"]: r for r in body["orgs"]}
    assert body["firing"] == 1 and set(by_org) == {ORG.name, OTHER_ORG.name}
    assert [a["key"] for a in by_org[ORG.name]["alerts"]] == ["rate_limited:id-wallboard"]
    assert by_org[OTHER_ORG.name]["alerts"] == []
    assert [b["text"].split("\n")[0] for b in receiver.bodies] == [
        f"*usagekit alert: rate_limited* · {ORG.label}"]

    store(data / "ds", limited("Wallboard"), org=OTHER_ORG)  # the same key, the other org
    assert run(data, receiver, "--org", "other org") == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{OTHER_ORG.label}: 1 alert(s) firing") and ORG.label not in out
    assert receiver.bodies[-1]["text"].split("\n")[0] == (
        f"*usagekit alert: rate_limited* · {OTHER_ORG.label}")

    store(data / "ds", quiet_days(LAST))  # resolved in the first org only
    assert run(data, receiver) == 1
    assert len(receiver.bodies) == 3
    assert receiver.bodies[-1]["text"].split("\n")[0] == (
        f"*usagekit resolved: rate_limited* · {ORG.label}")
    state = json.loads((data / "ds" / "_usagekit.alerts.json").read_text())
    assert set(state["orgs"]) == {ORG.id, OTHER_ORG.id}
    (told,) = state["orgs"][OTHER_ORG.id]["destinations"].values()
    assert list(told["notified"]) == ["rate_limited:id-wallboard"]
    assert not next(iter(state["orgs"][ORG.id]["destinations"].values()))["notified"]


def test_an_org_the_dataset_lacks_is_named(data: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    store(data / "ds", quiet_days(LAST))
    assert main(["check", "--dataset", str(data / "ds"), "--org", "Nobody"]) == 2
    err = capsys.readouterr().err
    assert "no org of the dataset" in err and "'Nobody'" in err and ORG.label in err


def test_a_state_saved_before_orgs_is_the_first_orgs(data: Path, receiver: Receiver) -> None:
    """A version 1 state (one org, unnamed) keeps counting: nothing is sent twice."""
    store(data / "ds", limited("Wallboard"))
    assert run(data, receiver) == 1
    state = data / "ds" / "_usagekit.alerts.json"
    (slot,) = json.loads(state.read_text())["orgs"].values()
    state.write_text(json.dumps({"version": 1, "destinations": slot["destinations"]}))
    assert run(data, receiver) == 1
    assert len(receiver.bodies) == 1
    assert set(json.loads(state.read_text())["orgs"]) == {ORG.id}


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_org_name_formats_nothing(name: str) -> None:
    """The org's name in a notice's title is escaped as the alert's text is."""
    entry = {"rule": "stale", "key": "stale", "message": "stale data", "details": {},
             "org": {"id": ORG.id, "name": name, "region": ORG.region, "fictional": False}}
    label = Org(ORG.id, name, ORG.region).label
    slack = payload("firing", entry, "slack")["text"]
    assert slack.split("\n")[0] == f"*usagekit alert: stale* · {slack_text(label)}"
    assert "<" not in slack and "\n" not in slack_text(label)
    (title, _) = payload("firing", entry, "teams")["attachments"][0]["content"]["body"]
    assert title["text"] == f"usagekit alert: stale · {teams_text(label)}"
    assert "<" not in title["text"] and "[link](" not in title["text"]
