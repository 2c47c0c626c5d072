"""A real OpenAI-compatible server for tests: mlx_lm.server serving a local model on
127.0.0.1. Under CI a missing mlx-lm is a failure, never a skip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.ci import in_ci

__all__ = ["mlx_lm_server"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mlx_lm_server(model_dir: Path, *, ready_timeout: float = 180.0) -> Iterator[str]:
    """Start ``mlx_lm server`` on a free loopback port; yield its base URL."""
    try:
        import mlx_lm  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail("mlx-lm is not installed; `make test` installs it")
        pytest.skip("mlx-lm is not installed")
    port = _free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"lem-mlx-server-{port}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlx_lm",
                "server",
                "--model",
                str(model_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "WARNING",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + ready_timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlx_lm server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail(
                    f"mlx_lm server not ready in {ready_timeout}s: {log.read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.unlink(missing_ok=True)
