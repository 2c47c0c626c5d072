"""Whether the tests run under CI, where a missing dependency must fail, never skip."""

from __future__ import annotations

import os

__all__ = ["in_ci"]


def in_ci() -> bool:
    """True when ``CI`` is set to anything but an empty, ``0``, ``false`` or ``no`` value."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")
