"""JSON Lines reading shared by every reader of line-oriented input."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from lem.errors import InputError

__all__ = ["iter_json_lines"]


def iter_json_lines(lines: Iterable[str], source: str) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line.

    Malformed JSON raises :class:`InputError` naming ``source:line:column``, so a user can
    jump straight to the fault.
    """
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}:{lineno}:{exc.colno}: malformed JSON ({exc.msg}); fix or remove the line"
            ) from None
        yield lineno, value
