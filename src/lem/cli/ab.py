"""Run an A/B experiment: a model answers a probe set under each condition; every answer
is stored as it completes and scored. Re-running the same command resumes the run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from lem.cli.progress import RichProgress
from lem.config import ABConfig, load_config
from lem.errors import InputError
from lem.redact import redact

__all__ = ["ab"]

_H = ABConfig.field_help


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _tags(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--tag {item!r} must be KEY=VALUE, e.g. family=mistral")
        out[key.strip()] = value.strip()
    return out


def ab(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML experiment file."),
    model: str | None = typer.Option(None, "--model", "-m", help=_H("model")),
    probes: str | None = typer.Option(None, "--probes", help=_H("probes")),
    probe_ids: list[str] | None = typer.Option(
        None,
        "--probe-ids",
        help="Only these probe ids: repeat the flag (each value is an id as written, commas "
        "included) or give a comma-separated list.",
    ),
    domains: list[str] | None = typer.Option(
        None, "--domains", help="Only these domains (comma-separated or repeated)."
    ),
    limit: int | None = typer.Option(None, "--limit", help=_H("limit")),
    kernel: list[str] | None = typer.Option(None, "--kernel", "-k", help=_H("kernels")),
    render_json_kernels: bool | None = typer.Option(
        None, "--render-json-kernels/--verbatim-json-kernels", help=_H("render_json_kernels")
    ),
    condition: list[str] | None = typer.Option(
        None, "--condition", "-C", help=_H("conditions") + " Repeat the flag."
    ),
    samples: int | None = typer.Option(None, "--samples", help=_H("samples")),
    temperature: float | None = typer.Option(None, "--temperature", help=_H("temperature")),
    top_p: float | None = typer.Option(None, "--top-p", help=_H("top_p")),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help=_H("max_tokens")),
    seed: int | None = typer.Option(None, "--seed", help=_H("seed")),
    stop: list[str] | None = typer.Option(None, "--stop", help=_H("stop") + " Repeatable."),
    batch_size: int | None = typer.Option(None, "--batch-size", "-b", help=_H("batch_size")),
    device: str | None = typer.Option(None, "--device", help=_H("device")),
    dtype: str | None = typer.Option(None, "--dtype", help=_H("dtype")),
    trust_remote_code: bool | None = typer.Option(
        None, "--trust-remote-code/--no-trust-remote-code", help=_H("trust_remote_code")
    ),
    api_key_env: str | None = typer.Option(None, "--api-key-env", help=_H("api_key_env")),
    concurrency: int | None = typer.Option(None, "--concurrency", help=_H("concurrency")),
    timeout: float | None = typer.Option(None, "--timeout", help=_H("timeout")),
    max_retries: int | None = typer.Option(None, "--max-retries", help=_H("max_retries")),
    model_id: str | None = typer.Option(None, "--model-id", help=_H("model_id")),
    canary: bool | None = typer.Option(None, "--canary/--no-canary", help=_H("canary")),
    context_overflow: str | None = typer.Option(
        None, "--context-overflow", help=_H("context_overflow")
    ),
    db: str | None = typer.Option(None, "--db", help=_H("db")),
    scorer: list[str] | None = typer.Option(None, "--scorer", help=_H("scorers")),
    judge: str | None = typer.Option(None, "--judge", help=_H("judge")),
    name: str | None = typer.Option(None, "--name", help=_H("name")),
    tag: list[str] | None = typer.Option(
        None, "--tag", help="KEY=VALUE label for reports (family, version, base); repeatable."
    ),
    out_jsonl: Path | None = typer.Option(
        None, "--out-jsonl", help="Also write the run as upstream A/B JSONL to this file."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    from lem import api
    from lem.results import print_summary
    from lem.runner import load_inputs, scorer_options

    base = load_config(config)
    cfg = base.merged(
        {
            "model": model,
            "probes": probes,
            "probe_ids": probe_ids or None,
            "domains": _split(domains),
            "limit": limit,
            "kernels": kernel or None,
            "render_json_kernels": render_json_kernels,
            "conditions": _split(condition),
            "samples": samples,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "seed": seed,
            "stop": stop or None,
            "batch_size": batch_size,
            "device": device,
            "dtype": dtype,
            "trust_remote_code": trust_remote_code,
            "api_key_env": api_key_env,
            "concurrency": concurrency,
            "timeout": timeout,
            "max_retries": max_retries,
            "model_id": model_id,
            "canary": canary,
            "context_overflow": context_overflow,
            "db": db,
            "scorers": _split(scorer),
            "judge": judge,
            "name": name,
            "tags": _tags(tag),
        }
    )
    probe_set, conditions, _ = load_inputs(cfg, **scorer_options(cfg))
    console = Console(stderr=True)
    header = (
        f"[bold]lem ab[/] model={escape(redact(cfg.model))} probes={len(probe_set)} "
        f"conditions={', '.join(c.name for c in conditions)} samples={cfg.samples}"
    )
    with RichProgress(console, enabled=not quiet, header=header) as bar:
        outcome = api.run_ab(cfg, progress=bar.hook)
    verb = "resumed" if outcome.resumed else "created"
    console.print(
        f"run [bold]{outcome.run_id}[/] ({verb}) in {outcome.db}: {outcome.generated} generated, "
        f"{outcome.failed} failed, {outcome.skipped_claimed} held by other workers, "
        f"{outcome.duration_s:.1f}s, status {outcome.status}"
    )
    for err in outcome.errors[:5]:
        console.print(f"[red]  failed[/] {escape(err)}")
    for note in outcome.notices:
        console.print(f"[yellow]note:[/] {escape(note)}")
    abfile = api.run_results(cfg.db, outcome.run_id)
    print_summary(abfile, Console())
    if out_jsonl:
        api.export_ab_jsonl(cfg.db, out_jsonl, outcome.run_id)
        console.print(f"A/B JSONL written to {out_jsonl}")
    console.print(
        f"export: lem export ab-jsonl --db {escape(redact(cfg.db))} --run {outcome.run_id} "
        "--out FILE.jsonl"
    )
    if outcome.status == "failed":
        raise typer.Exit(1)
