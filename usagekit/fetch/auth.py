"""Credentials and access tokens for Genesys Cloud.

Client credentials: ``POST <login>/oauth/token`` with HTTP Basic auth
(``client_id:client_secret``) and the form ``grant_type=client_credentials``. The token is
reused until ``expires_in`` minus a margin, and fetched again once when the API answers
401. Alternatively a ready access token (``GENESYSCLOUD_ACCESS_TOKEN``) is used as is.

Secrets are wrapped in :class:`Secret`, whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec
import requests

from usagekit.config.settings import ENV_ACCESS_TOKEN, ENV_CLIENT_ID, ENV_CLIENT_SECRET
from usagekit.exceptions import AuthError, ConfigError
from usagekit.fetch.http import RetryPolicy, send

_logger = logging.getLogger(__name__)


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings.

    Use :meth:`reveal` where the value must go on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ConfigError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """The secret value."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values are not picklable")


@dataclass(frozen=True, repr=False)
class Credentials:
    """Client credentials, or an access token.

    Attributes
    ----------
    client_id : str or None
    client_secret : Secret or None
    access_token : Secret or None
    """

    client_id: str | None = None
    client_secret: Secret | None = None
    access_token: Secret | None = None

    def __post_init__(self) -> None:
        for name in ("client_secret", "access_token"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Secret(value) if value else None)
        if self.access_token is None and not (self.client_id and self.client_secret):
            missing = [name for name, value in ((ENV_CLIENT_ID, self.client_id),
                                                (ENV_CLIENT_SECRET, self.client_secret))
                       if not value]
            raise ConfigError(
                "incomplete Genesys Cloud credentials: missing " + ", ".join(missing)
                + f" (or give an access token, {ENV_ACCESS_TOKEN})"
            )

    def __repr__(self) -> str:
        hidden = lambda value: "<hidden>" if value else None  # noqa: E731
        return (f"Credentials(client_id={self.client_id!r}, "
                f"client_secret={hidden(self.client_secret)}, "
                f"access_token={hidden(self.access_token)})")

    __str__ = __repr__

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        """Read ``GENESYSCLOUD_OAUTHCLIENT_ID/SECRET`` or ``GENESYSCLOUD_ACCESS_TOKEN``.

        Raises
        ------
        ConfigError
            Naming the missing variables.
        """
        env = os.environ if env is None else env
        return cls(
            client_id=(env.get(ENV_CLIENT_ID) or "").strip() or None,
            client_secret=(env.get(ENV_CLIENT_SECRET) or "").strip() or None,  # type: ignore[arg-type]
            access_token=(env.get(ENV_ACCESS_TOKEN) or "").strip() or None,  # type: ignore[arg-type]
        )


class _TokenReply(msgspec.Struct):
    access_token: str
    expires_in: float = 86400.0
    token_type: str = "bearer"


class TokenProvider:
    """Fetches, caches and renews access tokens.

    Parameters
    ----------
    credentials : Credentials
    login_url : str
        ``https://login.<domain>`` (or the custom host).
    session : requests.Session, optional
    policy : RetryPolicy, optional
        Retries for the token request (429, 5xx, connection errors).
    margin : float
        Seconds before expiry at which a token counts as expired.
    clock : callable
        Monotonic clock (for tests).
    """

    def __init__(self, credentials: Credentials, login_url: str, *,
                 session: requests.Session | None = None, policy: RetryPolicy | None = None,
                 margin: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.login_url = login_url.rstrip("/")
        self.session = session or requests.Session()
        self.policy = policy or RetryPolicy()
        self.margin = margin
        self.fetches = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Secret | None = credentials.access_token
        self._expires = float("inf")

    def __repr__(self) -> str:
        return f"TokenProvider({self.login_url!r}, {self.credentials!r})"

    @property
    def can_fetch(self) -> bool:
        """True with client credentials (a token can be requested)."""
        return bool(self.credentials.client_id and self.credentials.client_secret)

    def token(self) -> str:
        """A valid bearer token (fetched when absent or about to expire)."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._fetch()
            assert self._token is not None
            return self._token.reveal()

    def refresh(self, rejected: str) -> bool:
        """Forget ``rejected`` after a 401; True when a new one can be fetched."""
        with self._lock:
            if not self.can_fetch:
                return False
            if self._token is not None and self._token.reveal() == rejected:
                self._token = None
            return True

    def _fetch(self) -> None:
        if not self.can_fetch:
            raise AuthError(f"the access token was rejected or expired; set a fresh "
                            f"{ENV_ACCESS_TOKEN} or use client credentials")
        assert self.credentials.client_id and self.credentials.client_secret
        url = f"{self.login_url}/oauth/token"
        what = f"POST {url}"
        reply = send(self.session, "POST", url, policy=self.policy, what=what,
                     data={"grant_type": "client_credentials"},
                     auth=(self.credentials.client_id, self.credentials.client_secret.reveal()),
                     headers={"Accept": "application/json"})
        if reply.status != 200:
            body = reply.error_body()
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("description")
                             or body.get("error")
                             or body.get("message") or "")
            raise AuthError(f"{what}: client credentials for client id "
                            f"{self.credentials.client_id!r} rejected (HTTP {reply.status})"
                            + (f": {detail}" if detail else ""))
        try:
            parsed = msgspec.json.decode(reply.content, type=_TokenReply)
        except msgspec.DecodeError as exc:
            raise AuthError(f"{what}: unexpected token response ({exc})") from exc
        self.fetches += 1
        lifetime = max(parsed.expires_in, 0.0)
        self._token = Secret(parsed.access_token)
        self._expires = self._clock() + max(lifetime - min(self.margin, lifetime / 10), 0.0)
        _logger.info("fetched an access token from %s (valid %.0f s)", self.login_url, lifetime)
