"""Region resolution: every region of the reference table, domains, URLs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from usagekit.exceptions import ConfigError
from usagekit.fetch.regions import REGIONS, region_name, resolve

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "genesys-usage-api.md"


def _reference_table() -> dict[str, str]:
    """The region table of the reference note, §3.2 (read independently of the module)."""
    rows: dict[str, str] = {}
    in_table = False
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("| AWS-style id"):
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0].startswith("---"):
                continue
            rows[cells[0]] = cells[1]
    return rows


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference notes not on this machine")
def test_table_matches_the_reference() -> None:
    assert _reference_table() == REGIONS
    assert len(REGIONS) == 18


@pytest.mark.parametrize(("region", "domain"), sorted(REGIONS.items()))
def test_every_region_by_id_underscore_and_domain(region: str, domain: str) -> None:
    expected = (f"https://api.{domain}", f"https://login.{domain}")
    assert resolve(region) == expected
    assert resolve(region.replace("-", "_").upper()) == expected
    assert resolve(domain) == expected
    assert resolve(f"api.{domain}") == expected
    assert resolve(f"https://api.{domain}/") == expected
    assert region_name(expected[0]) == region


@pytest.mark.parametrize(("url", "api", "login"), [
    ("http://127.0.0.1:8123", "http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ("http://localhost:9/", "http://localhost:9", "http://localhost:9"),
    ("https://api.example.test", "https://api.example.test", "https://login.example.test"),
    ("https://login.mypurecloud.de", "https://api.mypurecloud.de", "https://login.mypurecloud.de"),
])
def test_urls_follow_the_sdk_convention(url: str, api: str, login: str) -> None:
    assert resolve(url) == (api, login)


@pytest.mark.parametrize("value", ["mars-1", "mypurecloud.example", "", "ftp://host",
                                   "https://api.mypurecloud.ie/api/v2"])
def test_unknown_values_raise_naming_them_and_the_valid_ones(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(value)
    message = str(info.value)
    assert repr(value) in message
    if "://" not in value:
        assert "eu-west-1 (mypurecloud.ie)" in message and "us_east_1" not in message
    else:
        assert "http(s)://host" in message or "without a path" in message
