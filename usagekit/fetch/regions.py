"""Genesys Cloud regions: where the API and the login service live.

The table is the CLI's ``RegionMappings`` (18 entries; the Python SDK lists 17).
:func:`resolve` accepts what users put in ``GENESYSCLOUD_REGION``: a region id
(``eu-west-1`` or ``eu_west_1``), a domain (``mypurecloud.ie``, ``api.mypurecloud.ie``)
or a full URL. For a URL the SDK's convention applies: ``https://api.X`` logs in at
``https://login.X``; any other host (e.g. ``http://127.0.0.1:8123``) serves both.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from usagekit.exceptions import ConfigError

#: AWS-style region id -> Genesys Cloud domain.
REGIONS: dict[str, str] = {
    "us-east-1": "mypurecloud.com",
    "us-east-2": "use2.us-gov-pure.cloud",
    "us-west-2": "usw2.pure.cloud",
    "ca-central-1": "cac1.pure.cloud",
    "sa-east-1": "sae1.pure.cloud",
    "mx-central-1": "mxc1.pure.cloud",
    "eu-west-1": "mypurecloud.ie",
    "eu-west-2": "euw2.pure.cloud",
    "eu-central-1": "mypurecloud.de",
    "eu-central-2": "euc2.pure.cloud",
    "me-central-1": "mec1.pure.cloud",
    "ap-south-1": "aps1.pure.cloud",
    "ap-northeast-1": "mypurecloud.jp",
    "ap-northeast-2": "apne2.pure.cloud",
    "ap-northeast-3": "apne3.pure.cloud",
    "ap-southeast-1": "apse1.pure.cloud",
    "ap-southeast-2": "mypurecloud.com.au",
    "eusc-de-east-1": "edee1.eusc-pure.cloud",
}
_DOMAINS = {domain: region for region, domain in REGIONS.items()}


def resolve(region: str) -> tuple[str, str]:
    """Return ``(api_base_url, login_base_url)`` for a region, domain or URL.

    Parameters
    ----------
    region : str
        ``eu-west-1`` / ``eu_west_1`` (any case), ``mypurecloud.ie``,
        ``api.mypurecloud.ie``, ``login.mypurecloud.ie``, ``https://api.mypurecloud.ie``
        or any ``http(s)://host[:port]`` URL.

    Returns
    -------
    tuple of str
        Base URLs without a trailing slash.

    Raises
    ------
    ConfigError
        Naming the value and the valid region ids and domains.

    Examples
    --------
    >>> resolve("eu-west-1")
    ('https://api.mypurecloud.ie', 'https://login.mypurecloud.ie')
    >>> resolve("http://127.0.0.1:8123")
    ('http://127.0.0.1:8123', 'http://127.0.0.1:8123')
    """
    if not isinstance(region, str) or not region.strip():
        raise _unknown(region)
    value = region.strip()
    if "://" in value:
        return _from_url(value, region)
    key = value.lower().rstrip("/").replace("_", "-")
    domain = REGIONS.get(key)
    if domain is None:
        for prefix in ("api.", "login."):
            if key.startswith(prefix) and key[len(prefix):] in _DOMAINS:
                key = key[len(prefix):]
        domain = key if key in _DOMAINS else None
    if domain is None:
        raise _unknown(region)
    return f"https://api.{domain}", f"https://login.{domain}"


def region_name(api_base_url: str) -> str:
    """The region id of an API base URL, or its host when it is not a known region."""
    host = urlsplit(api_base_url).hostname or api_base_url
    domain = host[4:] if host.startswith("api.") else host
    return _DOMAINS.get(domain, host)


def _from_url(value: str, original: str) -> tuple[str, str]:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"invalid region URL {original!r}: expected http(s)://host[:port], a region id "
            f"({', '.join(REGIONS)}) or a domain"
        )
    if parts.path.strip("/") or parts.query:
        raise ConfigError(f"invalid region URL {original!r}: give the base URL without a path")
    netloc = parts.netloc.lower()
    api = f"{parts.scheme}://{netloc}"
    if netloc.startswith("login."):
        netloc = "api." + netloc[len("login."):]
        api = f"{parts.scheme}://{netloc}"
    if netloc.startswith("api."):
        return api, f"{parts.scheme}://login.{netloc[len('api.'):]}"
    return api, api


def _unknown(region: object) -> ConfigError:
    rows = ", ".join(f"{rid} ({domain})" for rid, domain in REGIONS.items())
    return ConfigError(
        f"unknown Genesys Cloud region {region!r}: use a region id (hyphens or underscores), "
        f"its domain, or a full URL such as https://api.mypurecloud.com. Valid regions: {rows}"
    )
