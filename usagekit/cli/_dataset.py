"""Placeholder until its owner writes the commands (replaced, never shipped as is)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Register this module's sub-commands on ``sub``."""
    del sub
