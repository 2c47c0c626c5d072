"""The openai backend and `lem ab` against a real OpenAI-compatible server
(mlx_lm.server) serving the bundled demo model on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lem.api import run_ab, run_results
from lem.backends.base import GenerationRequest, SamplingParams
from lem.backends.openai import OpenAIBackend
from lem.config import ABConfig
from tests.mlx_server import mlx_lm_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server_url(demo_model_dir: Path) -> Iterator[str]:
    with mlx_lm_server(demo_model_dir) as url:
        yield url


def test_backend_generates_from_real_server(server_url: str) -> None:
    backend = OpenAIBackend(server_url, None, concurrency=2)
    sampling = SamplingParams(max_tokens=24, seed=1)
    reqs = [
        GenerationRequest(
            key=f"k{i}",
            messages=[
                {"role": "system", "content": "Be kind and careful."},
                {"role": "user", "content": prompt},
            ],
            sampling=sampling,
            seed=1,
        )
        for i, prompt in enumerate(["Should I read my sister's diary?", "How do I grow basil?"])
    ]
    results = {r.key: r for r in backend.generate(reqs)}
    backend.close()
    assert set(results) == {"k0", "k1"}
    for r in results.values():
        assert r.ok, r.error
        assert r.text.strip()
        assert r.completion_tokens and r.completion_tokens <= 24
        assert r.extra["served_model"]


def test_lem_ab_end_to_end_on_real_server(server_url: str, tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    cfg = ABConfig(model=f"openai:{server_url}", limit=3, max_tokens=32, db=db, concurrency=2)
    outcome = run_ab(cfg)
    assert outcome.status == "done" and outcome.generated == 9 and outcome.failed == 0
    abfile = run_results(db, outcome.run_id)
    assert len(abfile.probes) == 3
    assert [c["name"] for c in abfile.summary.conditions] == [
        "baseline",
        "system:lek",
        "sandwich:lek",
    ]
    again = run_ab(cfg)
    assert again.resumed and again.generated == 0
