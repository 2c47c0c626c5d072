"""One place that removes secrets from anything lem prints or stores.

Secrets reach lem in two ways: inside URLs (``postgresql://user:PASSWORD@host/db``,
``https://user:TOKEN@host``, ``?api_key=...``) and through environment variables named by
options such as ``api_key_env``. Every string lem writes to a terminal, log, error, run
config, manifest, report or hint goes through :func:`redact` (or :func:`redact_obj` for
nested data), so a password is never printed, logged or stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["SECRET_QUERY_KEYS", "redact", "redact_obj", "register_secret", "secret_from_env"]

MASK = "***"

SECRET_QUERY_KEYS = (
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "sslpassword",
)
"""Query-string parameters whose values are secrets (case-insensitive)."""

# scheme://user:password@host  or  scheme://token@host (userinfo without a colon is a
# credential too for http(s), e.g. GitHub-style tokens)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^\s/@?#'\"]+)@")
_QUERY = re.compile(
    r"(?P<pre>[?&;](?:" + "|".join(SECRET_QUERY_KEYS) + r")=)(?P<val>[^&#\s'\"]+)",
    re.IGNORECASE,
)

_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value (e.g. an API key read from the environment) so
    :func:`redact` masks it wherever it appears, not only inside URLs."""
    if value and len(value) >= 4:
        _known.add(value)


def _userinfo(m: re.Match[str]) -> str:
    info = m.group("info")
    user, sep, _ = info.partition(":")
    if sep:
        return f"{m.group('scheme')}{user}:{MASK}@"
    if m.group("scheme").lower().startswith("http"):
        return f"{m.group('scheme')}{MASK}@"
    return m.group(0)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with URL passwords, token query parameters, registered secrets and the
    values in ``extra`` replaced by ``***``. Idempotent; text without secrets is unchanged."""
    if not text:
        return text
    out = _USERINFO.sub(_userinfo, text)
    out = _QUERY.sub(lambda m: m.group("pre") + MASK, out)
    for secret in sorted({*_known, *(s for s in extra if s and len(s) >= 4)}, key=len)[::-1]:
        if secret in out:
            out = out.replace(secret, MASK)
    return out


def redact_obj(obj: Any) -> Any:
    """A copy of nested dicts/lists/tuples with every string passed through :func:`redact`."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj


def secret_from_env(name: str) -> str | None:
    """The value of environment variable ``name`` (None when unset or empty), registered
    with :func:`register_secret` so it can never be echoed back."""
    value = os.environ.get(name) or None
    register_secret(value)
    return value
