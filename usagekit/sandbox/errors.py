"""Error responses in the shapes Genesys Cloud uses (``ErrorBody`` and OAuth errors)."""

from __future__ import annotations

from typing import Any


class HttpFailure(Exception):
    """An error response: raised by route code, turned into a response by the app.

    Parameters
    ----------
    status
        HTTP status code.
    body
        The JSON body; an ``ErrorBody`` gets its ``contextId`` filled in when sent.
    headers
        Extra response headers.
    """

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message") or body.get("description") or str(status))
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(status: int, code: str, message: str, **params: Any) -> dict[str, Any]:
    """A Genesys ``ErrorBody`` (``contextId`` is set to the correlation id when sent)."""
    return {
        "message": message,
        "code": code,
        "status": status,
        "messageParams": {key: str(value) for key, value in params.items()},
        "contextId": "",
        "details": [],
        "errors": [],
    }


def api_error(status: int, code: str, message: str, **params: Any) -> HttpFailure:
    """An ``HttpFailure`` carrying an ``ErrorBody``."""
    return HttpFailure(status, error_body(status, code, message, **params))


def bad_request(message: str, **params: Any) -> HttpFailure:
    """400 ``bad.request`` with ``message`` (which names the bad and the valid values)."""
    return api_error(400, "bad.request", message, **params)


def not_found(message: str) -> HttpFailure:
    """404 ``not.found``."""
    return api_error(404, "not.found", message)


def oauth_error(status: int, error: str, description: str) -> HttpFailure:
    """An OAuth token-endpoint error: ``{"error", "description"}``."""
    return HttpFailure(status, {"error": error, "description": description})
