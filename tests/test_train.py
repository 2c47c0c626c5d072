"""lem train (hf): prompt masking, seeded determinism, exact resume, checkpoints that are
never overwritten, SIGKILL mid-training, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lem.errors import InputError
from lem.train.config import TrainConfig
from lem.train.data import IGNORE, encode_conversation
from lem.train.loop import checkpoints, token_loss_sum, train_hf

pytest.importorskip("peft")


def _dataset(root: Path, n: int = 12, *, bad: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Question {i}: what should I weigh first?"},
                    {
                        "role": "assistant",
                        "content": f"Consent first, then care; answer {i} stays brief.",
                    },
                ]
            }
        )
    lines = [json.dumps(r) for r in rows]
    if bad is not None:
        lines.append(bad)
    (root / "train.jsonl").write_text("\n".join(lines) + "\n")
    (root / "valid.jsonl").write_text("\n".join(lines[:3]) + "\n")
    return root


def _cfg(tmp_path: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(
        model="demo",
        data=str(_dataset(tmp_path / "data")),
        out=str(tmp_path / "run"),
        iters=6,
        batch_size=2,
        save_every=2,
        val_every=3,
        learning_rate=2e-3,
        dropout=0.1,
    )
    return TrainConfig(**{**base, **kw})


def _tokenizer() -> Any:
    from transformers import AutoTokenizer

    from lem.backends.hf import resolve_model_dir

    return AutoTokenizer.from_pretrained(resolve_model_dir("demo"), local_files_only=True)


def test_only_assistant_tokens_carry_a_loss() -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from lem.backends.hf import resolve_model_dir

    tok = _tokenizer()
    msgs = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hello there?"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "And then?"},
        {"role": "assistant", "content": "Then rest."},
    ]
    enc = encode_conversation(tok, msgs)
    full = tok(tok.apply_chat_template(msgs, tokenize=False), add_special_tokens=False)["input_ids"]
    assert len(enc.ids) == len(full)
    trained = tok.decode([t for t in enc.labels if t != IGNORE])
    assert trained == "Hi.<|end|>\nThen rest.<|end|>\n"
    # every labelled position is an assistant token; every other one is ignored
    assert [x for x in enc.labels if x != IGNORE] == [
        i for i, x in zip(enc.ids, enc.labels, strict=True) if x != IGNORE
    ]
    model = AutoModelForCausalLM.from_pretrained(resolve_model_dir("demo"), local_files_only=True)
    ids = torch.tensor([enc.ids])
    labels = torch.tensor([enc.labels])
    mask = torch.ones_like(ids)
    logits = model(input_ids=ids, attention_mask=mask).logits.detach().requires_grad_(True)

    class _Fixed(torch.nn.Module):
        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return type("O", (), {"logits": logits})()

    loss, n = token_loss_sum(_Fixed(), ids, labels, mask)
    assert n == sum(1 for x in enc.labels[1:] if x != IGNORE)
    loss.backward()
    grad = logits.grad[0]
    # the logits that predict a prompt token cannot change the loss (zero gradient);
    # those that predict an answer token do
    for pos in range(len(enc.ids) - 1):
        moved = bool(grad[pos].abs().sum() > 0)
        assert moved == (enc.labels[pos + 1] != IGNORE), pos


def test_same_seed_same_curve_and_resume_reaches_the_same_loss(tmp_path: Path) -> None:
    a = train_hf(_cfg(tmp_path / "a"))
    b = train_hf(_cfg(tmp_path / "b"))
    assert a.losses == b.losses and len(a.losses) == 6
    c = train_hf(_cfg(tmp_path / "c", seed=1))
    assert c.losses != a.losses

    class Stop(Exception):
        pass

    def stop_at_5(m: Any) -> None:
        if m.step == 5:
            raise Stop

    cfg = _cfg(tmp_path / "d")
    with pytest.raises(Stop):
        train_hf(cfg, on_step=stop_at_5)
    assert [s for s, _ in checkpoints(Path(cfg.out))] == [2, 4]
    with pytest.raises(InputError, match=r"already has checkpoints .* pass --resume"):
        train_hf(cfg)
    d = train_hf(cfg.model_copy(update={"resume": True}))
    assert d.resumed_from == 4
    assert d.losses == a.losses[4:]
    assert d.final_loss == a.final_loss and d.final_val_loss == a.final_val_loss
    lines = [json.loads(x) for x in (Path(cfg.out) / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2, 3, 4, 5, 6]
    assert [x["loss"] for x in lines] == [round(v, 6) for v in a.losses]
    assert [s for s, _ in checkpoints(Path(cfg.out))] == [2, 4, 6]
    summary = json.loads((Path(cfg.out) / "train.json").read_text())
    assert summary["lora"]["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert summary["results"]["final_loss"] == a.final_loss


def test_truncation_is_counted_and_bad_rows_are_one_line(tmp_path: Path) -> None:
    out = train_hf(_cfg(tmp_path / "t", max_seq_length=24, iters=1))
    assert out.truncated == 12 and out.dropped == 0
    with pytest.raises(InputError, match=r"no trainable rows in train\.jsonl after truncation"):
        train_hf(_cfg(tmp_path / "u", max_seq_length=24, iters=1, truncation="drop"))
    bad = '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": " "}]}'
    data = _dataset(tmp_path / "bad", bad=bad)
    with pytest.raises(InputError, match=r"train.jsonl:13: turn 2 \(assistant\) is empty"):
        train_hf(_cfg(tmp_path / "v", data=str(data)))
    assert not (tmp_path / "v" / "run").exists()


def test_a_base_model_without_a_chat_template_is_refused(tmp_path: Path) -> None:
    import shutil

    from lem.backends.hf import resolve_model_dir

    model = tmp_path / "plain"
    shutil.copytree(resolve_model_dir("demo"), model)
    cfg_path = model / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    for extra in model.glob("chat_template.*"):
        extra.unlink()
    with pytest.raises(InputError, match="base model has no chat template"):
        train_hf(_cfg(tmp_path, model=str(model)))


def test_sigkill_loses_at_most_the_steps_since_the_last_checkpoint(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data", n=40)
    out = tmp_path / "run"
    base = [
        sys.executable,
        "-m",
        "lem.cli.main",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--save-every",
        "5",
        "--quiet",
        "--batch-size",
        "4",
    ]
    proc = subprocess.Popen(
        [*base, "--iters", "400"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(checkpoints(out)) < 2:
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read().decode()[-800:])  # type: ignore[union-attr]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = checkpoints(out)
    assert len(kept) >= 2 and [s % 5 for s, _ in kept] == [0] * len(kept)
    last = kept[-1][0]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]
    assert last <= max(x["step"] for x in lines) < last + 5  # lost: the steps since `last`
    res = subprocess.run(
        [*base, "--iters", str(last + 3), "--resume"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"resumed from step {last}" in res.stderr
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, last + 4))
