"""`lem train` (hf) tokens/s against a plain PEFT + torch loop on the same model, data and
settings: the overhead of lem's loop (masking, metrics, checkpoints, validation) as a ratio.

Both sides train the same LoRA (rank 8, alpha 16, the attention projections) with AdamW
for the same number of steps on the same rows (the same token ids and masked labels, from
lem's encoder), in the same process, alternating rounds. The plain loop is what one writes
by hand: batches in order, ``model(input_ids, attention_mask, labels)``, ``backward``,
``step``; no checkpoints, no validation, no metrics file. lem's side runs ``train_hf`` with
a checkpoint at the end only and validation off, as a user would for speed.

    python benchmarks/bench_train.py [--random-model 256x4] [--rows 64] [--steps 24]
                                     [--batch-size 4] [--rounds 3]

Prints tokens/s of each side per round, the medians and the ratio lem / plain (goal ≥ 0.95).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_hf_batching import build_random_model
from lem.train.config import TrainConfig
from lem.train.data import encode_file
from lem.train.loop import collate, train_hf


def dataset(root: Path, rows: int) -> Path:
    """Chat rows of realistic length (~120 answer tokens) written to ``root``."""
    from lem.probes import load_probes

    probes = list(load_probes().probes)
    lines = []
    for i in range(rows):
        p = probes[i % len(probes)]
        answer = " ".join([p.prompt] * 2)
        lines.append(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": p.prompt},
                        {"role": "assistant", "content": answer},
                    ]
                }
            )
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.jsonl").write_text("\n".join(lines) + "\n")
    return root


def plain_loop(model_dir: str, data: Path, steps: int, batch_size: int) -> tuple[float, int]:
    """The hand-written PEFT loop: (seconds, input tokens)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    rows = encode_file(tok, data / "train.jsonl", max_seq_length=1024).rows
    torch.manual_seed(0)
    model = get_peft_model(
        model,
        LoraConfig(
            r=8,
            lora_alpha=16,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    pad = int(tok.pad_token_id or 0)
    batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    tokens = 0
    t0 = time.perf_counter()
    for step in range(steps):
        ids, labels, mask = collate(batches[step % len(batches)], pad, "cpu")
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
    return time.perf_counter() - t0, tokens


def lem_loop(model_dir: str, data: Path, out: Path, steps: int, batch_size: int) -> float:
    """lem's loop; its own tokens/s (model loading and encoding excluded, like the plain
    side's)."""
    result = train_hf(
        TrainConfig(
            model=model_dir,
            data=str(data),
            out=str(out),
            iters=steps,
            batch_size=batch_size,
            learning_rate=1e-4,
            save_every=steps,
            val_every=10**6,
            lr_schedule="constant",
        )
    )
    return result.tokens_per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random-model", default="256x4", help="HIDDENxLAYERS of the model.")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    model_dir = build_random_model(args.random_model)
    with tempfile.TemporaryDirectory() as tmp:
        data = dataset(Path(tmp) / "data", args.rows)
        lem_rates, plain_rates = [], []
        for r in range(args.rounds):
            secs, tokens = plain_loop(model_dir, data, args.steps, args.batch_size)
            plain_rates.append(tokens / secs)
            lem_rates.append(
                lem_loop(model_dir, data, Path(tmp) / f"run{r}", args.steps, args.batch_size)
            )
            print(
                f"round {r + 1}: plain {plain_rates[-1]:.0f} tok/s, lem {lem_rates[-1]:.0f} tok/s"
            )
    lem_m, plain_m = statistics.median(lem_rates), statistics.median(plain_rates)
    print(
        f"model {args.random_model}, {args.rows} rows, {args.steps} steps, batch {args.batch_size}"
        f" on {platform.machine()} ({platform.processor() or 'cpu'})"
    )
    print(
        f"median tokens/s: lem {lem_m:.0f}, plain {plain_m:.0f}; ratio lem/plain "
        f"{lem_m / plain_m:.3f} (goal >= 0.95)"
    )


if __name__ == "__main__":
    main()
