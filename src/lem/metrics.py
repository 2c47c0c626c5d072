"""``lem metrics push``: a store's progress and score summaries as InfluxDB line protocol,
written to InfluxDB 1.x, 2.x or 3.x.

Points (one timestamp per push, nanoseconds):

``lem_run``
    tags ``run``, ``model``, ``status``; fields ``planned``, ``done``, ``failed``,
    ``remaining`` (integers), ``rate_per_min`` and, when known, ``eta_s``;
``lem_condition``
    tags ``run``, ``condition``; fields ``done``, ``remaining``;
``lem_score``
    tags ``run``, ``condition``, ``scorer``; fields ``n`` (scored answers), ``failed``
    and, with n > 0, ``mean``;
``lem_worker``
    tags ``worker``, ``host``; fields ``done``, ``failed``, ``claimed``, ``rate_per_min``.

Write endpoints: v1 ``POST /write?db=DB&precision=ns`` (HTTP basic auth when the token
variable holds ``user:password``); v2 ``POST /api/v2/write?org=ORG&bucket=BUCKET&precision=ns``
with ``Authorization: Token``; v3 ``POST /api/v3/write_lp?db=DB&precision=nanosecond``
with ``Authorization: Bearer``. The token comes only from the environment and never
appears in output or errors.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lem.errors import InputError, LemError
from lem.redact import redact, secret_from_env

__all__ = ["Point", "collect_points", "escape_key", "format_line", "push_lines"]

Api = Literal["v1", "v2", "v3"]


@dataclass(frozen=True)
class Point:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, int | float | str | bool]
    time_ns: int


def escape_key(text: str) -> str:
    """A tag key, tag value or field key: commas, equals signs and spaces escaped."""
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _field(value: int | float | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("line protocol has no NaN or infinity")
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_line(p: Point) -> str:
    """One point in line protocol: tags sorted by key, empty tag values dropped,
    non-finite float fields dropped (a point needs at least one field)."""
    tags = "".join(
        f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(p.tags.items()) if v != ""
    )
    fields = [
        f"{escape_key(k)}={_field(v)}"
        for k, v in p.fields.items()
        if not (isinstance(v, float) and not math.isfinite(v))
    ]
    if not fields:
        raise ValueError(f"point {p.measurement} has no field to write")
    return f"{_measurement(p.measurement)}{tags} {','.join(fields)} {p.time_ns}"


def collect_points(
    db: str, *, run_ids: list[str] | None = None, now_ns: int | None = None
) -> list[Point]:
    """The store's points (see the module doc), all stamped ``now_ns``."""
    from lem.responses import read_run
    from lem.status import store_status
    from lem.store import Store

    t = now_ns if now_ns is not None else time.time_ns()
    st = store_status(db, run_ids=run_ids)
    points: list[Point] = []
    for r in st.runs:
        fields: dict[str, int | float | str | bool] = {
            "planned": r.counts.total,
            "done": r.counts.done,
            "failed": r.counts.failed,
            "remaining": r.counts.remaining,
            "rate_per_min": float(r.rate_per_min),
        }
        if r.eta_s is not None:
            fields["eta_s"] = float(r.eta_s)
        points.append(
            Point("lem_run", {"run": r.run_id, "model": r.model, "status": r.status}, fields, t)
        )
        for cond, c in r.by_condition.items():
            points.append(
                Point(
                    "lem_condition",
                    {"run": r.run_id, "condition": cond},
                    {"done": c.done, "remaining": c.remaining},
                    t,
                )
            )
    store = Store(db, create=False)
    try:
        for r in st.runs:
            sums: dict[tuple[str, str], list[float]] = defaultdict(list)
            failed: dict[tuple[str, str], int] = defaultdict(int)
            for resp in read_run(store, r.run_id):
                for sid, score in resp.scores.items():
                    if score.ok and score.value is not None:
                        sums[(resp.condition, sid)].append(float(score.value))
                    else:
                        failed[(resp.condition, sid)] += 1
            for key in sorted({*sums, *failed}):
                vals = sums.get(key, [])
                f: dict[str, int | float | str | bool] = {
                    "n": len(vals),
                    "failed": failed.get(key, 0),
                }
                if vals:
                    f["mean"] = sum(vals) / len(vals)
                points.append(
                    Point(
                        "lem_score", {"run": r.run_id, "condition": key[0], "scorer": key[1]}, f, t
                    )
                )
    finally:
        store.close()
    for w in st.workers:
        points.append(
            Point(
                "lem_worker",
                {"worker": w.worker, "host": w.host},
                {
                    "done": w.done,
                    "failed": w.failed,
                    "claimed": w.claimed_now,
                    "rate_per_min": float(w.rate_per_min),
                },
                t,
            )
        )
    return points


def push_lines(
    lines: Iterable[str],
    url: str,
    *,
    api: Api,
    database: str | None = None,
    bucket: str | None = None,
    org: str | None = None,
    token_env: str = "INFLUX_TOKEN",
    timeout: float = 30.0,
) -> int:
    """POST the lines to the write endpoint of ``api``; returns the number of lines.
    A refused write is a :class:`LemError` one line with the status and the server's
    message (secrets masked)."""
    import httpx

    body = "\n".join(lines)
    if not body:
        return 0
    token = secret_from_env(token_env)
    base = url.rstrip("/")
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    auth: Any = None
    if api == "v1":
        if not database:
            raise InputError("--database is required for InfluxDB 1.x (/write?db=...)")
        endpoint, params = f"{base}/write", {"db": database, "precision": "ns"}
        if token:
            user, sep, password = token.partition(":")
            if not sep:
                raise InputError(
                    f"{token_env}: for InfluxDB 1.x give USER:PASSWORD (basic auth), or unset it"
                )
            auth = (user, password)
    elif api == "v2":
        if not (bucket and org):
            raise InputError("--bucket and --org are required for InfluxDB 2.x")
        if not token:
            raise InputError(
                f"InfluxDB 2.x needs a token: set the environment variable {token_env}"
            )
        endpoint = f"{base}/api/v2/write"
        params = {"org": org, "bucket": bucket, "precision": "ns"}
        headers["Authorization"] = f"Token {token}"
    elif api == "v3":
        if not database:
            raise InputError("--database is required for InfluxDB 3 (/api/v3/write_lp?db=...)")
        if not token:
            raise InputError(f"InfluxDB 3 needs a token: set the environment variable {token_env}")
        endpoint = f"{base}/api/v3/write_lp"
        params = {"db": database, "precision": "nanosecond"}
        headers["Authorization"] = f"Bearer {token}"
    else:  # pragma: no cover - typed
        raise InputError(f"unknown InfluxDB API {api!r}; use v1, v2 or v3")
    try:
        resp = httpx.post(
            endpoint,
            params=params,
            content=body.encode("utf-8"),
            headers=headers,
            auth=auth,
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise LemError(f"InfluxDB write to {redact(endpoint)} failed: {redact(str(exc))}") from None
    if resp.status_code not in (200, 204):
        text = redact(" ".join(resp.text.split())[:300], [token or ""])
        raise LemError(
            f"InfluxDB refused the write ({resp.status_code}) at {redact(endpoint)}: {text}"
        )
    return body.count("\n") + 1
