"""lem train --eval-every N: the metrics lines of exactly the evaluated steps carry the
quick-check result and the lek-v2 mean over the probe subset, and those numbers are what
the checkpoint saved at that step scores when its answers are generated again.

The quick-check set is a tiny file of our own (lem reads its bundled set; the test points
the loader at the file): two items every answer passes, one no answer passes and one that
depends on the answer, so the pass count is pinned down and still comes from the answers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import lem.evals
from lem.cli.main import app

pytest.importorskip("peft")

ITERS, EVERY, PROBES, MAX_TOKENS = 5, 2, 3, 6
EVAL_STEPS = [2, 4, 5]  # every 2nd step, and the last one


def _check(id_: str, category: str, prompt: str, pattern: str) -> dict[str, Any]:
    return {
        "id": id_,
        "category": category,
        "prompt": prompt,
        "rule": {"type": "regex", "pattern": pattern},
    }


CHECKS = [
    _check("ALWAYS_1", "always", "Say anything.", "^"),  # every answer passes
    _check("NEVER", "never", "Name a colour.", "(?!)"),  # no answer passes
    _check("ALWAYS_2", "always", "What is 2 + 2?", "$"),
    _check("REAL", "real", "What should I weigh first?", "e"),  # depends on the answer
]


def _dataset(root: Path) -> Path:
    root.mkdir(parents=True)
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Question {i}: what should I weigh first?"},
                {"role": "assistant", "content": f"Consent first, then care; answer {i}."},
            ]
        }
        for i in range(8)
    ]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _answers(model: Any, tokenizer: Any, prompts: list[str]) -> list[str]:
    """Greedy answers, one prompt at a time (no padding), as single user turns."""
    import torch

    out = []
    for prompt in prompts:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            gen = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=MAX_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        out.append(tokenizer.decode(gen[0, ids.shape[1] :], skip_special_tokens=True).strip())
    return out


def test_eval_every_writes_the_scores_of_the_model_at_that_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lem.backends.hf import resolve_model_dir
    from lem.evals import QuickCheck, grade
    from lem.probes import load_probes
    from lem.scoring.base import get_scorer

    checks_file = tmp_path / "checks.json"
    checks_file.write_text(json.dumps(CHECKS))
    real_loader = lem.evals.load_quick_checks
    monkeypatch.setattr(lem.evals, "load_quick_checks", lambda path=None: real_loader(checks_file))

    out = tmp_path / "run"
    # report_every 3: the lines of steps 2 and 4 are written because they carry evals.
    args = ["train", "--data", str(_dataset(tmp_path / "data")), "--out", str(out)]
    args += ["--iters", str(ITERS), "--batch-size", "2", "--learning-rate", "2e-3"]
    args += ["--save-every", "1", "--report-every", "3", "--eval-every", str(EVERY)]
    args += ["--eval-probes", str(PROBES), "--eval-max-tokens", str(MAX_TOKENS), "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output

    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [2, 3, 4, 5]
    evals = {m["step"]: m["evals"] for m in lines if "evals" in m}
    assert sorted(evals) == EVAL_STEPS

    checks = [QuickCheck.model_validate(c) for c in CHECKS]
    probes = [p.prompt for p in list(load_probes(None).probes)[:PROBES]]
    assert len(probes) == PROBES
    lek = get_scorer("lek-v2")
    base_dir = resolve_model_dir("demo")
    tokenizer: Any = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    base: Any = AutoModelForCausalLM.from_pretrained(
        base_dir, local_files_only=True, use_safetensors=True
    )
    means = []
    for step in EVAL_STEPS:
        ev = evals[step]
        assert set(ev) == {"quick_checks", "lek_v2"}
        qc = ev["quick_checks"]
        assert set(qc) == {"passed", "total", "rate", "per_category"}
        assert qc["total"] == 4 and 2 <= qc["passed"] <= 3
        assert isinstance(qc["rate"], float) and 0.0 <= qc["rate"] <= 1.0
        assert qc["rate"] == round(qc["passed"] / qc["total"], 4)
        real = qc["passed"] - 2
        assert qc["per_category"] == {"always": 1.0, "never": 0.0, "real": float(real)}
        assert ev["lek_v2"]["n"] == PROBES and math.isfinite(ev["lek_v2"]["mean"])

        # The checkpoint of that step, answering again, scores exactly what was recorded.
        ckpt = out / "checkpoints" / f"{step:07d}"
        model: Any = PeftModel.from_pretrained(base, str(ckpt)).eval()
        answers = _answers(model, tokenizer, [c.prompt for c in checks])
        result = grade(checks, {c.id: a for c, a in zip(checks, answers, strict=True)})
        assert (result.passed, result.total) == (qc["passed"], qc["total"])
        assert result.per_category == qc["per_category"]
        scores = [lek.score(text).value for text in _answers(model, tokenizer, probes)]
        assert ev["lek_v2"]["mean"] == round(sum(scores) / len(scores), 4)
        means.append(ev["lek_v2"]["mean"])
        base = model.unload()

    # The evaluations saw the weights of their own step: the model changed between them.
    assert len(set(means)) > 1
