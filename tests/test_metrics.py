"""``lem metrics push``: line protocol (escaping checked), written to a real InfluxDB 1.x
server and read back, and to a strict local receiver of the v2 and v3 write APIs (paths,
parameters, auth header, body); the token never shows in output or errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from lem.api import run_ab
from lem.config import ABConfig
from lem.metrics import Point, collect_points, format_line
from tests.influx import influxdb_server

TOKEN = "tok-3f9a-secret-value"
# measurement(,tag=value)* field=value(,field=value)* timestamp, with escapes
_ESC = r"(?:\\.|[^,= \\])+"
_FIELD_VALUE = r'(?:-?\d+i|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|true|false|"(?:\\.|[^"\\])*")'
_FIELDS = rf"{_ESC}={_FIELD_VALUE}(?:,{_ESC}={_FIELD_VALUE})*"
LINE = re.compile(rf"^(?:\\.|[^, \\])+(?:,{_ESC}={_ESC})* {_FIELDS} \d{{19}}$")


def test_line_protocol_escaping() -> None:
    p = Point(
        "lem run",
        {"model": "hf:/m, x=1", "run": "r1", "empty": ""},
        {"done": 3, "rate": 1.5, "note": 'say "hi"\\', "ok": True},
        1796280247179107084,
    )
    line = format_line(p)
    assert line == (
        "lem\\ run,model=hf:/m\\,\\ x\\=1,run=r1 "
        'done=3i,rate=1.5,note="say \\"hi\\"\\\\",ok=true 1796280247179107084'
    )
    assert LINE.match(line)
    with pytest.raises(ValueError):
        format_line(Point("m", {}, {"x": float("nan")}, 1))


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("metrics") / "m.db")
    run_ab(ABConfig(db=db, limit=3, max_tokens=6, conditions=["baseline", "system:lek"]))
    return db


def _lem(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_points_of_a_store(store_db: str) -> None:
    points = collect_points(store_db, now_ns=1796280247179107084)
    by = {(p.measurement, tuple(sorted(p.tags.items()))): p for p in points}
    runs = [p for p in points if p.measurement == "lem_run"]
    assert len(runs) == 1 and runs[0].fields["done"] == 6 and runs[0].fields["remaining"] == 0
    scores = [p for p in points if p.measurement == "lem_score"]
    assert {(p.tags["condition"], p.tags["scorer"]) for p in scores} == {
        ("baseline", "lek-v2"),
        ("system:lek", "lek-v2"),
    }
    assert all(p.fields["n"] == 3 and isinstance(p.fields["mean"], float) for p in scores)
    assert len(by) == len(points) and all(LINE.match(format_line(p)) for p in points)


def test_push_to_a_real_influxdb_1(store_db: str) -> None:
    with influxdb_server() as url:
        httpx.post(
            f"{url}/query", params={"q": "CREATE DATABASE lem"}, timeout=10
        ).raise_for_status()
        res = _lem(
            "metrics", "push", "--db", store_db, "--influx", url, "--api", "v1", "--database", "lem"
        )
        assert res.returncode == 0, res.stderr
        n = int(res.stdout.split()[1])
        q = httpx.get(
            f"{url}/query",
            params={
                "db": "lem",
                "q": "SELECT done, remaining FROM lem_run; SELECT n, mean FROM lem_score",
            },
            timeout=10,
        ).json()
        run_rows = q["results"][0]["series"][0]["values"]
        assert [row[1:] for row in run_rows] == [[6, 0]]
        score_rows = q["results"][1]["series"][0]["values"]
        assert len(score_rows) == 2 and all(row[1] == 3 for row in score_rows)
        assert n == len(collect_points(store_db))
        bad = _lem(
            "metrics",
            "push",
            "--db",
            store_db,
            "--influx",
            url,
            "--api",
            "v1",
            "--database",
            "nope",
        )
        assert (
            bad.returncode == 2
            and "404" in bad.stderr
            and len(bad.stderr.strip().splitlines()) == 1
        )


class _Receiver(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        parsed = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8")
        entry = {
            "path": parsed.path,
            "params": {k: v[0] for k, v in parse_qs(parsed.query).items()},
            "auth": self.headers.get("Authorization"),
            "type": self.headers.get("Content-Type"),
            "lines": body.split("\n"),
        }
        type(self).requests.append(entry)
        ok_v2 = parsed.path == "/api/v2/write" and entry["auth"] == f"Token {TOKEN}"
        ok_v3 = parsed.path == "/api/v3/write_lp" and entry["auth"] == f"Bearer {TOKEN}"
        valid = all(LINE.match(line) for line in entry["lines"])
        if (ok_v2 or ok_v3) and valid and entry["type"] == "text/plain; charset=utf-8":
            self.send_response(204)
            self.end_headers()
            return
        msg = json.dumps({"error": f"rejected; token was {entry['auth']}"}).encode()
        self.send_response(401 if not (ok_v2 or ok_v3) else 400)
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)


@pytest.fixture
def receiver() -> Any:
    _Receiver.requests = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_push_v2_and_v3_to_a_strict_receiver(store_db: str, receiver: str) -> None:
    env = {"INFLUX_TOKEN": TOKEN}
    v2 = _lem(
        "metrics",
        "push",
        "--db",
        store_db,
        "--influx",
        receiver,
        "--api",
        "v2",
        "--org",
        "lab",
        "--bucket",
        "lem",
        env=env,
    )
    v3 = _lem(
        "metrics",
        "push",
        "--db",
        store_db,
        "--influx",
        receiver,
        "--api",
        "v3",
        "--database",
        "lem",
        env=env,
    )
    assert v2.returncode == 0, v2.stderr
    assert v3.returncode == 0, v3.stderr
    a, b = _Receiver.requests
    assert (a["path"], a["params"]) == (
        "/api/v2/write",
        {"org": "lab", "bucket": "lem", "precision": "ns"},
    )
    assert (b["path"], b["params"]) == (
        "/api/v3/write_lp",
        {"db": "lem", "precision": "nanosecond"},
    )
    assert len(a["lines"]) == len(b["lines"]) == len(collect_points(store_db))
    for out in (v2, v3):
        assert TOKEN not in out.stdout + out.stderr


def test_refusals_never_show_the_token(store_db: str, receiver: str, tmp_path: Path) -> None:
    wrong = _lem(
        "metrics",
        "push",
        "--db",
        store_db,
        "--influx",
        receiver,
        "--api",
        "v2",
        "--org",
        "o",
        "--bucket",
        "b",
        env={"INFLUX_TOKEN": TOKEN + "-wrong"},
    )
    assert wrong.returncode == 2 and "401" in wrong.stderr
    assert TOKEN not in wrong.stderr and "***" in wrong.stderr
    missing = _lem(
        "metrics",
        "push",
        "--db",
        store_db,
        "--influx",
        receiver,
        "--api",
        "v3",
        "--database",
        "x",
        env={"INFLUX_TOKEN": ""},
    )
    assert missing.returncode == 2 and "INFLUX_TOKEN" in missing.stderr
    assert len(_Receiver.requests) == 1
