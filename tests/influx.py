"""A throwaway InfluxDB 1.x server for tests (Debian's ``influxdb`` package), on its own
ports and folders. Under CI a missing ``influxd`` is a failure, never a skip."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.ci import in_ci

__all__ = ["influxdb_server"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def influxdb_server() -> Iterator[str]:
    """Start ``influxd`` with a private config; yield its base URL."""
    exe = shutil.which("influxd") or (
        "/usr/bin/influxd" if Path("/usr/bin/influxd").exists() else None
    )
    if exe is None:
        if in_ci():
            pytest.fail("influxd is not installed; `make test` installs Debian's influxdb")
        pytest.skip("influxd is not installed (apt-get install influxdb)")
    root = Path(tempfile.mkdtemp(prefix="lem-influx-"))
    http, rpc = _free_port(), _free_port()
    (root / "influxdb.conf").write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  auth-enabled = false
  log-enabled = false
[monitor]
  store-enabled = false
""",
        encoding="utf-8",
    )
    log = (root / "influxd.log").open("w")
    proc = subprocess.Popen([exe, "-config", str(root / "influxdb.conf")], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{http}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"influxd exited: {(root / 'influxd.log').read_text()[-800:]}")
            try:
                if httpx.get(f"{url}/ping", timeout=1).status_code == 204:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("influxd did not answer /ping within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
