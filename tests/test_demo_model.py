"""The bundled demo model: a real transformer that loads offline, has a long enough
context for the kernel conditions, and answers differently across prompts and conditions."""

from __future__ import annotations

import json
from pathlib import Path

from lem.backends.base import GenerationRequest, SamplingParams
from lem.backends.hf import HFBackend
from lem.conditions import parse_conditions
from lem.kernels import resolve_kernels
from lem.probes import load_probes


def test_demo_model_files(demo_model_dir: Path) -> None:
    config = json.loads((demo_model_dir / "config.json").read_text())
    assert config["max_position_embeddings"] >= 4096
    assert config.get("rope_theta")
    weights = demo_model_dir / "model.safetensors"
    assert 1_000_000 < weights.stat().st_size < 20_000_000
    assert not list(demo_model_dir.glob("*.bin"))


def test_demo_outputs_vary_across_prompts_and_conditions() -> None:
    backend = HFBackend("demo", batch_size=8)
    conds = parse_conditions(["baseline", "system:lek", "sandwich:lek"], resolve_kernels([]))
    probes = list(load_probes())[:4]
    sampling = SamplingParams(max_tokens=48)
    reqs = [
        GenerationRequest(key=f"{p.id}|{c.name}", messages=c.messages(p.prompt), sampling=sampling)
        for p in probes
        for c in conds
    ]
    texts = {r.key: r.text for r in backend.generate(reqs)}
    backend.close()
    assert len(texts) == 12
    assert all(t.strip() for t in texts.values())
    for p in probes:
        per_cond = {texts[f"{p.id}|{c.name}"] for c in conds}
        assert len(per_cond) >= 2, f"conditions gave identical answers for {p.id}"
    for c in conds:
        per_probe = {texts[f"{p.id}|{c.name}"] for p in probes}
        assert len(per_probe) == len(probes), f"probes gave identical answers under {c.name}"
    assert backend.supports_system_role()
