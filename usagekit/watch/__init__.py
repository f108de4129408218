"""Watch the usage: keep the dataset up to date, evaluate alert rules, notify webhooks.

``sync`` fetches only what is missing; ``rules`` reads the TOML rules file; ``check``
evaluates the rules over the stored data through an engine and the analyses; ``state``
remembers what each webhook was told (beside the dataset); ``notify`` posts the notices.
"""

from __future__ import annotations

from usagekit.watch.check import Alert, CheckResult, evaluate, newest_day
from usagekit.watch.notify import FORMATS, Delivery, Webhook, deliver, payload, redact, webhook
from usagekit.watch.rules import RULES, Rules, load_rules, parse_rules
from usagekit.watch.state import AlertState, StateStore
from usagekit.watch.sync import SyncStep, SyncSummary, plan_sync, run_sync

__all__ = ["FORMATS", "RULES", "Alert", "AlertState", "CheckResult", "Delivery", "Rules",
           "StateStore", "SyncStep", "SyncSummary", "Webhook", "deliver", "evaluate",
           "load_rules", "newest_day", "parse_rules", "payload", "plan_sync", "redact", "run_sync",
           "webhook"]
