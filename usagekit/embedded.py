"""One way in: real Genesys Cloud when configured, else the embedded sandbox.

:func:`connect` reads ``GENESYSCLOUD_REGION`` and ``GENESYSCLOUD_OAUTHCLIENT_ID/SECRET`` (or
``GENESYSCLOUD_ACCESS_TOKEN``). With all it needs it returns a client for that region; with
none of them it starts :class:`usagekit.sandbox.Sandbox` on 127.0.0.1 (a free port) and
points a client at it. A partial configuration is an error naming what is missing, never
a silent fallback. ``client.source`` says which: ``"sandbox"`` or ``"genesys:<region>"``.

With ``profile`` it reads that Genesys Cloud CLI profile instead
(:func:`usagekit.fetch.profiles.load_profile`: ``$HOME/.gc/config.toml``, the
``GENESYSCLOUD_*`` variables overriding it as they override ``gc``); never the sandbox.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from usagekit.config.settings import ENV_ACCESS_TOKEN, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REGION
from usagekit.exceptions import ConfigError
from usagekit.fetch import UsageClient
from usagekit.fetch.auth import Secret
from usagekit.fetch.profiles import load_profile

_logger = logging.getLogger(__name__)
GENESYS_VARS = (ENV_REGION, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_ACCESS_TOKEN)


def missing_settings(env: Mapping[str, str] | None = None) -> list[str] | None:
    """Which Genesys variables are missing: None when none is set (use the sandbox).

    Returns
    -------
    list of str or None
        ``[]`` when the configuration is complete.
    """
    env = os.environ if env is None else env
    value = {name: (env.get(name) or "").strip() for name in GENESYS_VARS}
    if not any(value.values()):
        return None
    missing = [] if value[ENV_REGION] else [ENV_REGION]
    if not value[ENV_ACCESS_TOKEN]:
        missing += [name for name in (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not value[name]]
    return missing


@contextmanager
def connect(env: Mapping[str, str] | None = None, *, profile: str | None = None,
            sandbox_options: Mapping[str, Any] | None = None,
            **client_options: Any) -> Iterator[UsageClient]:
    """A :class:`~usagekit.fetch.UsageClient` for Genesys Cloud or the embedded sandbox.

    Parameters
    ----------
    env : mapping, optional
        Environment to read (default ``os.environ``).
    profile : str, optional
        A gc profile name: credentials and region from ``$HOME/.gc/config.toml``.
    sandbox_options : mapping, optional
        Keyword arguments for :class:`usagekit.sandbox.Sandbox` (e.g. ``seed``).
    **client_options
        Passed to :class:`~usagekit.fetch.UsageClient` (``retry``, ``poll``, ``progress``).

    Yields
    ------
    UsageClient
        With ``.source`` ``"sandbox"`` or ``"genesys:<region>"``.

    Raises
    ------
    ConfigError
        Some Genesys variables are set but not all that are needed; or the profile's
        file or table is missing or unusable (naming the file and the profile).
    """
    if profile:
        found = load_profile(profile, env)
        with UsageClient(found.api_url, login_url=found.login_url,
                         client_id=found.client_id, client_secret=_reveal(found.client_secret),
                         access_token=_reveal(found.access_token),
                         **client_options) as client:
            _logger.info("connected to Genesys Cloud (%s) with gc profile %r of %s",
                         client.source, found.name, found.path)
            yield client
        return
    missing = missing_settings(env)
    if missing:
        raise ConfigError(
            "incomplete Genesys Cloud configuration: missing " + ", ".join(missing)
            + f" (set {ENV_REGION} and {ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} or "
            f"{ENV_ACCESS_TOKEN}; unset them all to use the embedded sandbox)"
        )
    if missing == []:
        with UsageClient.from_env(env, **client_options) as client:
            _logger.info("connected to Genesys Cloud (%s)", client.source)
            yield client
        return
    from usagekit.sandbox import Sandbox

    with Sandbox(host="127.0.0.1", port=0, **dict(sandbox_options or {})) as sandbox:
        _logger.info("no Genesys Cloud settings: using the embedded sandbox at %s", sandbox.url)
        with UsageClient(sandbox.url, client_id=sandbox.client_id,
                         client_secret=sandbox.client_secret, **client_options) as client:
            client.source = "sandbox"
            client.fictional = True
            yield client


def _reveal(secret: Secret | None) -> str | None:
    return secret.reveal() if secret is not None else None
