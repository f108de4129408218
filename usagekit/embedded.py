"""One way in: real Genesys Cloud when configured, else the embedded sandbox.

:func:`connect` resolves credentials in ``gc``'s order:

1. the ``GENESYSCLOUD_*`` variables: ``GENESYSCLOUD_REGION`` with
   ``GENESYSCLOUD_OAUTHCLIENT_ID/SECRET`` (or ``GENESYSCLOUD_ACCESS_TOKEN``);
2. ``profile``: that Genesys Cloud CLI profile of ``$HOME/.gc/config.toml``
   (:func:`usagekit.fetch.profiles.load_profile`; the variables override its fields, as
   they override ``gc``'s);
3. gc's ``DEFAULT`` profile (any case: gc saves it as ``[default]``) when that file has one;
   the variables set override it, as in ``gc``;
4. the embedded sandbox: :class:`usagekit.sandbox.Sandbox` on 127.0.0.1 (a free port),
   only when no variable is set.

Some variables set but not all, and no profile: an error naming what is missing, never a
silent fallback. ``client.source`` is ``"sandbox"`` or ``"genesys:<region>"``;
``client.source_line`` says in one line (no secret) which source was used and, when the
server answers ``GET /api/v2/organizations/me``, for which organisation. Commands print it
first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from usagekit.config.settings import ENV_ACCESS_TOKEN, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REGION
from usagekit.exceptions import ApiError, AuthError, ConfigError, RateLimitError
from usagekit.fetch import UsageClient
from usagekit.fetch.auth import Secret
from usagekit.fetch.profiles import default_profile, load_profile

_logger = logging.getLogger(__name__)
GENESYS_VARS = (ENV_REGION, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_ACCESS_TOKEN)
#: How the source line names the variables and gc's config file.
VARIABLES = "GENESYSCLOUD_* variables"
GC_FILE = "~/.gc/config.toml"
SANDBOX_LINE = ("embedded sandbox at {url} (fictional data; set GENESYSCLOUD_* or --profile "
                "for a real org)")


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
        Environment to read (default ``os.environ``; its ``HOME`` locates gc's file).
    profile : str, optional
        A gc profile name (any case): credentials and region from ``$HOME/.gc/config.toml``.
    sandbox_options : mapping, optional
        Keyword arguments for :class:`usagekit.sandbox.Sandbox` (e.g. ``seed``).
    **client_options
        Passed to :class:`~usagekit.fetch.UsageClient` (``retry``, ``poll``, ``progress``).

    Yields
    ------
    UsageClient
        With ``.source`` ``"sandbox"`` or ``"genesys:<region>"`` and ``.source_line``.

    Raises
    ------
    ConfigError
        Some Genesys variables are set but not all that are needed, and no profile; or the
        profile's file or table is missing or unusable (naming the file and the profile).
    AuthError
        The credentials were refused (the message says where they came from).
    """
    env = os.environ if env is None else env
    missing = missing_settings(env)
    if not profile and missing != []:
        profile = default_profile(env)
    if profile:
        found = load_profile(profile, env)
        via = f"gc profile {found.name!r} ({GC_FILE})"
        if missing is not None:  # some variables set: they override the profile's fields
            via = f"{VARIABLES} over {via}"
        with UsageClient(found.api_url, login_url=found.login_url,
                         client_id=found.client_id, client_secret=_reveal(found.client_secret),
                         access_token=_reveal(found.access_token),
                         **client_options) as client:
            _describe(client, f"Genesys Cloud {_host(client)} via {via}")
            yield client
        return
    if missing:
        raise ConfigError(
            "incomplete Genesys Cloud configuration: missing " + ", ".join(missing)
            + f" (set {ENV_REGION} and {ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} or "
            f"{ENV_ACCESS_TOKEN}, or give --profile; unset them all to use the embedded "
            "sandbox)"
        )
    if missing == []:
        with UsageClient.from_env(env, **client_options) as client:
            _describe(client, f"Genesys Cloud {_host(client)} via {VARIABLES}")
            yield client
        return
    from usagekit.sandbox import Sandbox

    with Sandbox(host="127.0.0.1", port=0, **dict(sandbox_options or {})) as sandbox, \
            UsageClient(sandbox.url, client_id=sandbox.client_id,
                        client_secret=sandbox.client_secret, **client_options) as client:
        client.source = "sandbox"
        client.fictional = True
        _describe(client, SANDBOX_LINE.format(url=sandbox.url))
        yield client


def _host(client: UsageClient) -> str:
    """Where the client goes: the API host without ``api.`` (``mypurecloud.ie``), port kept."""
    netloc = urlsplit(client.base_url).netloc
    return netloc.removeprefix("api.")


def _describe(client: UsageClient, line: str) -> None:
    """Set ``client.source_line``: ``line``, then the organisation when the server names it.

    A server without ``GET /api/v2/organizations/me`` (an older one, or a client not allowed
    to read it) answers an error status: the line then names no organisation. Refused
    credentials raise, saying where they came from.
    """
    try:
        line = f"{line}: {client.organization().label}"
    except AuthError as exc:
        raise AuthError(f"{exc} (credentials from {line})") from exc
    except ApiError as exc:
        if isinstance(exc, RateLimitError) or exc.status is None or (
                exc.status >= 500 and exc.status != 501):
            raise
        _logger.info("no organisation named (%s)", exc)
    client.source_line = line
    _logger.info("connected to %s", line)


def _reveal(secret: Secret | None) -> str | None:
    return secret.reveal() if secret is not None else None
