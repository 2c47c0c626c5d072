"""Capability quick-checks of a local model: short arithmetic, algebra, logic, analogy,
code and reading items with deterministic pass rules, answered greedily."""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(help="Capability quick-checks of a model.", no_args_is_help=True)


@app.command("quick")
def quick(
    model: str = typer.Option("demo", "--model", "-m", help="Model folder (or demo)."),
    items: Path | None = typer.Option(
        None, "--items", help="Quick-check file (default: lem's bundled items)."
    ),
    max_tokens: int = typer.Option(96, "--max-tokens", help="New tokens per answer."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write results and answers (JSON)."),
) -> None:
    """Answer every quick-check greedily and print the pass rate per category."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from lem.backends.hf import resolve_model_dir
    from lem.errors import BackendError, InputError
    from lem.evals import grade, load_quick_checks
    from lem.train.evals import generate_greedy

    hf_logging.disable_progress_bar()
    checks = load_quick_checks(items)
    try:
        path = resolve_model_dir(model)
    except BackendError as exc:
        raise InputError(f"--model: {exc.message}") from None
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    lm = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, use_safetensors=True, local_files_only=True
    )
    lm.eval()
    answers = generate_greedy(lm, tok, [c.prompt for c in checks], max_new_tokens=max_tokens)
    by_id = {c.id: a for c, a in zip(checks, answers, strict=True)}
    result = grade(checks, by_id)
    typer.echo(f"{model}: {result.passed}/{result.total} passed ({result.rate:.1%})")
    for cat, rate in result.per_category.items():
        typer.echo(f"  {cat:<12} {rate:.0%}")
    if out is not None:
        data = {"model": str(path), "result": result.model_dump(), "answers": by_id}
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
