"""Genesys Cloud CLI (``gc``) profiles as credentials.

``gc`` keeps profiles in ``$HOME/.gc/config.toml``, one table per profile::

    [DEFAULT]
    environment = "mypurecloud.ie"          # or a region id: eu-west-1
    client_credentials = "<client id>"
    client_secret = "<client secret>"
    # gateway_protocol = "http"             # replaces scheme, host and port
    # gateway_host = "127.0.0.1"            # for login and API calls
    # gateway_port = "8123"

:func:`load_profile` reads one profile the way ``gc`` does: its name matches whatever its
case (gc reads the file through viper, which ignores case, and rewrites it with lower-case
names, ``[default]``, whenever it saves a token), and the ``GENESYSCLOUD_*`` variables
override it (``GENESYSCLOUD_REGION`` the environment, ``GENESYSCLOUD_OAUTHCLIENT_ID/SECRET``
the client, ``GENESYSCLOUD_ACCESS_TOKEN`` the token); a gateway still replaces the host.
Secrets from the file are held as :class:`~usagekit.fetch.auth.Secret` and never appear in a
message; errors name the file and the profile.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usagekit.config.settings import (
    ENV_ACCESS_TOKEN,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_REGION,
    GC_CONFIG_RELATIVE,
    GC_DEFAULT_PROFILE,
)
from usagekit.exceptions import ConfigError
from usagekit.fetch.auth import Secret
from usagekit.fetch.regions import REGIONS, resolve

#: ``grant_type`` values that log in through a browser (PKCE, implicit): not for a batch tool.
BROWSER_GRANTS: tuple[str, ...] = ("2", "3")
#: ``grant_type`` values that mean client credentials (absent is the same).
CLIENT_GRANTS: tuple[str, ...] = ("", "1")
#: Keys whose values are secrets (never echoed).
SECRET_KEYS: tuple[str, ...] = ("client_secret", "access_token", "oauth_token_data")
_GATEWAY_KEYS = ("gateway_protocol", "gateway_host", "gateway_port")


@dataclass(frozen=True, repr=False)
class Profile:
    """A gc profile resolved to what the kit's client needs.

    Attributes
    ----------
    name : str
        The profile's name as the file spells it (``[default]`` for ``DEFAULT``).
    path : Path
        The file it was read from.
    api_url, login_url : str
        Base URLs of the API and of the login service (a gateway replaces both).
    client_id : str or None
    client_secret, access_token : Secret or None
    """

    name: str
    path: Path
    api_url: str
    login_url: str
    client_id: str | None = None
    client_secret: Secret | None = None
    access_token: Secret | None = None

    def __repr__(self) -> str:
        return (f"Profile({self.name!r}, path={str(self.path)!r}, api_url={self.api_url!r}, "
                f"client_id={self.client_id!r})")

    __str__ = __repr__


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$HOME/.gc/config.toml`` (``HOME`` from ``env``, else the user's home)."""
    env = os.environ if env is None else env
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / GC_CONFIG_RELATIVE


def read_profiles(path: Path, wanted: str = GC_DEFAULT_PROFILE) -> dict[str, dict[str, Any]]:
    """Every profile table of the gc config file at ``path`` (``wanted``: for messages).

    Raises
    ------
    ConfigError
        When the file is missing, unreadable or not TOML (the message names the file and
        never quotes its content).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"no gc config file at {path} for profile {wanted!r}: create the profile with "
            "`gc profiles new`, or set "
            f"{ENV_REGION} and {ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} instead of --profile"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the gc config file {path} for profile {wanted!r}: "
                          f"{exc.strerror}") from exc
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        where = str(exc).rsplit("(", 1)[-1].rstrip(")") if "(" in str(exc) else "?"
        raise ConfigError(f"the gc config file {path} is not valid TOML ({where}), so profile "
                          f"{wanted!r} cannot be read") from None  # (it holds secrets)
    return {name: table for name, table in parsed.items() if isinstance(table, dict)}


def find_profile(profiles: Mapping[str, Any], name: str) -> str | None:
    """The name in ``profiles`` that ``name`` matches as gc matches it (ignoring case).

    Raises
    ------
    ConfigError
        When several names differ only by case (gc would merge them into one).
    """
    if name in profiles:
        return name
    found = [key for key in profiles if key.casefold() == name.casefold()]
    if len(found) > 1:
        raise ConfigError(f"profiles {', '.join(found)} differ only by case, and gc reads "
                          "profile names ignoring case: keep one of them")
    return found[0] if found else None


def default_profile(env: Mapping[str, str] | None = None) -> str | None:
    """The name of gc's ``DEFAULT`` profile (any case) when ``$HOME/.gc/config.toml`` has one.

    Raises
    ------
    ConfigError
        When the file exists but cannot be read as TOML.
    """
    path = config_path(env)
    if not path.is_file():
        return None
    return find_profile(read_profiles(path), GC_DEFAULT_PROFILE)


def load_profile(name: str | None = None, env: Mapping[str, str] | None = None,
                 path: Path | None = None) -> Profile:
    """Read profile ``name`` from the gc config file, with the ``GENESYSCLOUD_*`` overrides.

    Parameters
    ----------
    name : str, optional
        The profile (default ``DEFAULT``, as for ``gc``), whatever its case.
    env : Mapping, optional
        Environment for ``HOME`` and the overrides (default ``os.environ``).
    path : Path, optional
        The config file (default :func:`config_path`).

    Raises
    ------
    ConfigError
        A missing file; a missing profile (the message lists the profiles there); a
        profile whose ``grant_type`` needs a browser; a profile without an environment or
        credentials. Each names the file and the profile.
    """
    env = os.environ if env is None else env
    path = path or config_path(env)
    wanted = GC_DEFAULT_PROFILE if name is None else name.strip()
    profiles = read_profiles(path, wanted)
    found = find_profile(profiles, wanted)
    if found is None:
        secrets = {str(t.get(k)) for t in profiles.values() for k in SECRET_KEYS if t.get(k)}
        shown = "the given name" if wanted in secrets else repr(wanted)
        raise ConfigError(
            f"no profile {shown} in the gc config file {path}; profiles there: "
            f"{', '.join(profiles) or 'none'}"
        )
    name = found
    table = profiles[name]
    where = f"profile {name!r} in {path}"
    grant = str(table.get("grant_type", "")).strip()
    if grant in BROWSER_GRANTS:
        raise ConfigError(
            f"{where} logs in through a browser (grant_type {grant}); usagekit needs a "
            "client-credentials OAuth client: create a profile without grant_type (or "
            "grant_type 1) for one"
        )
    if grant not in CLIENT_GRANTS:
        raise ConfigError(f"{where} has grant_type {grant!r}; valid for usagekit: 1 or none "
                          "(client credentials)")
    if table.get("gateway_pathparams"):
        raise ConfigError(f"{where} sets gateway_pathparams, which usagekit does not "
                          "support; give a gateway without path parameters")
    api_url, login_url = _urls(table, env, where)
    client_id = _text(env.get(ENV_CLIENT_ID)) or _text(table.get("client_credentials"))
    secret = _text(env.get(ENV_CLIENT_SECRET)) or _text(table.get("client_secret"))
    token = _text(env.get(ENV_ACCESS_TOKEN)) or _text(table.get("access_token"))
    if not token and not (client_id and secret):
        lacking = [key for key, value in (("client_credentials", client_id),
                                          ("client_secret", secret)) if not value]
        raise ConfigError(f"{where} lacks {' and '.join(lacking)} (or an access_token)")
    if not token and "localhost" in api_url:
        raise ConfigError(f"{where}: a localhost environment has no login service; give "
                          "an access_token")
    return Profile(name=name, path=path, api_url=api_url, login_url=login_url,
                   client_id=client_id or None,
                   client_secret=Secret(secret) if secret else None,
                   access_token=Secret(token) if token else None)


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _urls(table: Mapping[str, Any], env: Mapping[str, str], where: str) -> tuple[str, str]:
    """API and login base URLs: the gateway's, else the environment's (as gc builds them)."""
    gateway = {key: _text(table.get(key)) for key in _GATEWAY_KEYS}
    if any(gateway.values()):
        if not gateway["gateway_host"]:
            raise ConfigError(f"{where} sets a gateway without gateway_host")
        scheme = (gateway["gateway_protocol"] or "https").lower()
        if scheme not in ("http", "https"):
            raise ConfigError(f"{where}: invalid gateway_protocol {scheme!r}; valid: http, "
                              "https")
        port = gateway["gateway_port"]
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"{where}: invalid gateway_port {port!r}; valid: 1 to 65535")
        url = f"{scheme}://{gateway['gateway_host']}" + (
            f":{port}" if port and port not in ("80", "443") else "")
        return url, url
    region = _text(env.get(ENV_REGION))
    if region:
        return resolve(region)
    environment = _text(table.get("environment"))
    if not environment:
        raise ConfigError(f"{where} has no environment (a region such as eu-west-1 or a "
                          f"domain such as mypurecloud.ie); set one, or {ENV_REGION}")
    if "localhost" in environment:  # gc: plain HTTP, no login service
        url = f"http://{environment}"
        return url, url
    key = environment.lower().replace("_", "-")
    domain = REGIONS.get(key) or (environment.lower() if "." in environment else None)
    if domain is None:
        raise ConfigError(f"{where}: unknown environment {environment!r}; valid: a region "
                          f"({', '.join(REGIONS)}) or a domain such as mypurecloud.ie")
    return f"https://api.{domain}", f"https://login.{domain}"
