"""One place for paths, environment variables and settings.

Everything that can be configured is read here: the environment the official Genesys tools
use (``GENESYSCLOUD_*``), the standard AWS credential chain (left to boto3), ``USAGEKIT_*``
variables for the kit itself, and a deployed usagekit CloudFormation stack
(``USAGEKIT_STACK``, :mod:`usagekit.config.stack`).
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "environment": ("athena_settings", "dataset_location", "trino_settings"),
    "settings": ("AthenaSettings", "TrinoSettings"),
    "stack": ("StackConfig", "load_stack"),
})
