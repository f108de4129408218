"""Watch the usage: keep the dataset up to date, evaluate alert rules, notify webhooks.

``sync`` fetches only what is missing; ``rules`` reads the TOML rules file; ``check``
evaluates the rules over the stored data through an engine and the analyses; ``state``
remembers what each webhook was told (beside the dataset); ``notify`` posts the notices.
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "check": ("Alert", "CheckResult", "evaluate"),
    "notify": ("deliver", "webhook"),
    "rules": ("Rules", "load_rules"),
    "state": ("StateStore",),
    "sync": ("plan_sync", "run_sync"),
})
