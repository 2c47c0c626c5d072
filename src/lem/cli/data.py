"""``lem data``: inspect training datasets (``show``, ``list``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from lem.config import DEFAULT_DB

__all__ = ["app"]

app = typer.Typer(help="Training datasets: conv, show, list.", no_args_is_help=True)


def _conv(source: Path, **flags: Any) -> None:
    """Turn multi-turn conversations (user/assistant alternating; JSONL or a JSON list;
    messages or ShareGPT conversations) into a chat dataset with seeded splits, lineage
    and a manifest."""
    from lem.cli.schema import collect
    from lem.distill.conv import ConvConfig, convert_conversations
    from lem.errors import InputError

    try:
        cfg = ConvConfig(**collect(ConvConfig, flags))
    except ValueError as exc:
        raise InputError(f"lem data conv: {exc}".splitlines()[0]) from None
    ds = convert_conversations(source, cfg)
    files = ds.manifest["files"]
    verb = "wrote" if ds.created else "unchanged"
    typer.echo(
        f"{verb} dataset {ds.dataset_id[:12]} in {ds.path}: train {files['train']['rows']}, "
        f"valid {files['valid']['rows']}, test {files['test']['rows']}"
    )


def _register_conv() -> None:
    import inspect

    from lem.cli.schema import command_from_model
    from lem.distill.conv import ConvConfig

    command = command_from_model(
        ConvConfig,
        _conv,
        before=[
            inspect.Parameter(
                "source",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=typer.Argument(..., help="Conversations file (.jsonl or .json)."),
                annotation=Path,
            )
        ],
    )
    app.command("conv")(command)


_register_conv()


def _manifest(dataset: str, db: str | None) -> dict[str, Any]:
    from lem.distill.dataset import read_manifest
    from lem.errors import InputError, LemError
    from lem.store import Store

    if Path(dataset).is_dir():
        return read_manifest(dataset)
    try:
        store = Store(db or DEFAULT_DB, create=False)
    except LemError as exc:
        raise InputError(
            f"{dataset}: not a dataset folder, and the store cannot be read ({exc.message})"
        ) from None
    try:
        manifest: dict[str, Any] = store.get_dataset(dataset)["manifest"]
        return manifest
    except LemError as exc:
        raise InputError(exc.message) from None
    finally:
        store.close()


def _bar(n: int, most: int, width: int = 24) -> str:
    return "█" * max(1 if n else 0, round(width * n / most)) if most else ""


@app.command("show")
def show(
    dataset: str = typer.Argument(..., help="Dataset folder, or a dataset id/name in --db."),
    db: str | None = typer.Option(None, "--db", help="Store to look names up in."),
) -> None:
    """Counts per domain and split, the kept scores' distribution, rejections by reason,
    and where the data came from."""
    m = _manifest(dataset, db)
    console = Console()
    files = m["files"]
    console.print(
        f"[bold]dataset {m['dataset_id'][:12]}[/] {m.get('name', '')} ({m.get('kind', '')}): "
        + ", ".join(f"{s} {files[s]['rows']}" for s in ("train", "valid", "test"))
    )
    src = m.get("source") or {}
    if src:
        console.print(
            f"from run {str(src.get('run_id', ''))[:12]} model {src.get('model')} "
            f"condition {src.get('condition')} samples {src.get('samples')} "
            f"T={src.get('temperature')} seed {src.get('seed')}"
        )
    sel = m.get("selection") or {}
    if sel:
        sc = sel.get("scorer", {})
        console.print(
            f"selected by {sc.get('id')} v{sc.get('version')} keep {sel.get('keep')} "
            f"min_score {sel.get('min_score')} per prompt {sel.get('per_prompt')}"
        )
    table = Table(title="examples per domain", title_justify="left")
    for col in ("domain", "train", "valid", "test"):
        table.add_column(col, justify="left" if col == "domain" else "right")
    for dom, counts in (m.get("domains") or {}).items():
        table.add_row(dom, *(str(counts.get(s, 0)) for s in ("train", "valid", "test")))
    console.print(table)
    scores = m.get("scores") or {}
    if scores.get("n"):
        console.print(
            "scores: "
            + "  ".join(f"{k} {scores[k]}" for k in ("n", "mean", "min", "median", "max"))
        )
    rejections = m.get("rejections") or {}
    if rejections:
        most = max(rejections.values()) if rejections else 0
        rej = Table(title="rejections", title_justify="left")
        rej.add_column("reason")
        rej.add_column("n", justify="right")
        rej.add_column("")
        for reason, n in rejections.items():
            rej.add_row(reason, str(n), _bar(int(n), most))
        console.print(rej)
    cont = m.get("contamination") or {}
    for s in cont.get("sets", []):
        n = len(s.get("overlaps", []))
        state = "allowed" if n and cont.get("allowed") else "clean" if not n else "refused"
        console.print(
            f"contamination ({cont.get('method')}) vs {s['source']} ({s['probes']} probes): "
            f"{n} overlapping prompt(s), {state}"
        )


@app.command("list")
def list_(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
) -> None:
    """Every dataset recorded in the store."""
    from lem.store import Store

    store = Store(db, create=False)
    try:
        rows = store.list_datasets()
    finally:
        store.close()
    table = Table(title=f"datasets in {store.display_url}", title_justify="left")
    table.add_column("id", no_wrap=True, min_width=12)
    table.add_column("name", overflow="fold")
    table.add_column("kind", no_wrap=True)
    for col in ("train", "valid", "test"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True, min_width=10)
    table.add_column("path", overflow="fold")
    for r in rows:
        files = r["manifest"].get("files", {})
        table.add_row(
            r["dataset_id"][:12],
            r["name"],
            r["kind"],
            *(str(files.get(s, {}).get("rows", "")) for s in ("train", "valid", "test")),
            r["created_at"][:10],
            r["path"],
        )
    Console().print(table)


@app.command("approve")
def approve_cmd(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    run: list[str] | None = typer.Option(
        None, "--run", help="Runs to take answers from (id or prefix; default: every run)."
    ),
    scorer: str = typer.Option(..., "--scorer", help="Scorer id the threshold is on."),
    min_score: float = typer.Option(
        ..., "--min-score", help="Lowest score kept, on that scorer's scale (checked)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write."),
    condition: list[str] | None = typer.Option(
        None, "--condition", "-C", help="Only answers of these conditions; repeatable."
    ),
    top_k: int | None = typer.Option(None, "--top-k", min=1, help="At most K per prompt."),
    near_duplicate: float = typer.Option(
        0.7, "--near-duplicate", min=0.0, max=1.0, help="Word-trigram Jaccard cut-off."
    ),
    keep_truncated: bool = typer.Option(False, "--keep-truncated", help="Keep cut-off answers."),
    seed: int = typer.Option(0, "--seed", help="Split seed."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: folder)."),
) -> None:
    """Stored answers scoring at least --min-score (on the scorer's own scale) as a chat
    training set without the kernel: deduplicated, split by prompt and domain, with
    lineage to every stored item, recorded in the store."""
    from lem.distill.approve import approve

    res = approve(
        db,
        run or [],
        scorer=scorer,
        min_score=min_score,
        out=out,
        conditions=condition,
        per_prompt=top_k,
        near_duplicate=near_duplicate,
        keep_truncated=keep_truncated,
        seed=seed,
        name=name,
    )
    files = res.dataset.manifest["files"]
    rejected = ", ".join(f"{k} {v}" for k, v in res.selection.rejections().items() if v) or "none"
    typer.echo(
        f"kept {len(res.selection.kept)} of {res.selection.candidates} answers; rejected: "
        f"{rejected}"
    )
    typer.echo(
        f"wrote dataset {res.dataset.dataset_id[:12]} in {res.dataset.path}: train "
        f"{files['train']['rows']}, valid {files['valid']['rows']}, test {files['test']['rows']}"
    )


@app.command("consolidate")
def consolidate_cmd(
    source: list[str] = typer.Option(
        ..., "--from", help="A store, or an A/B JSONL file, to merge in; repeatable."
    ),
    into: str = typer.Option(..., "--into", help="The store to merge into (created if missing)."),
) -> None:
    """Merge run stores item by item: content-addressed items are copied once, a finished
    answer completes an unfinished copy but never replaces a finished one; runs, scores,
    benchmark items, datasets and judge cache are copied when missing. An A/B JSONL file
    becomes a run of its own with its answers and scores."""
    from lem.redact import redact
    from lem.store.consolidate import consolidate

    counts = consolidate(source, into)
    for table, c in counts.items():
        extra = f", {c['completed']} completed" if "completed" in c else ""
        typer.echo(f"{table}: {c['copied']} copied, {c['skipped']} already there{extra}")
    typer.echo(f"merged {len(source)} store(s) into {redact(into)}")


@app.command("expand")
def expand_cmd(
    seeds: str | None = typer.Argument(
        None, help="Seed prompt file (default: lem-train, the bundled training prompts)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Expanded prompt set to write (.json)."),
    voices: str = typer.Option(
        "lem-voices", "--voices", help="Voices file (default: lem's 16 bundled voices)."
    ),
    per_seed: int | None = typer.Option(
        None, "--per-seed", min=1, help="Voices per seed (a seeded sample); default all."
    ),
    seed: int = typer.Option(0, "--seed", help="Sampling seed for --per-seed."),
    near_duplicate: float = typer.Option(
        0.8, "--near-duplicate", min=0.0, max=1.0, help="Word-trigram Jaccard cut-off."
    ),
    min_per_cell: int = typer.Option(
        1, "--min-per-cell", min=1, help="A domain x region cell below this is a gap."
    ),
) -> None:
    """Ask every seed prompt in different voices (persona x region templates): write the
    deduplicated prompt set, and beside it a coverage report by domain, region and voice
    with the gaps."""
    import json

    from lem.distill.expand import expand_prompts, load_voices

    if out.exists():
        from lem.errors import InputError

        raise InputError(f"--out {out} exists; choose a new file")
    exp = expand_prompts(
        seeds,
        load_voices(voices),
        per_seed=per_seed,
        seed=seed,
        near_duplicate=near_duplicate,
        min_per_cell=min_per_cell,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(exp.prompts, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    report = out.with_suffix(".coverage.json")
    report.write_text(json.dumps(exp.report(), indent=2) + "\n", encoding="utf-8")
    dropped = ", ".join(f"{k} {v}" for k, v in exp.dropped.items()) or "none"
    typer.echo(f"wrote {len(exp.prompts)} prompts to {out} (dropped: {dropped})")
    typer.echo(
        f"coverage: {len(exp.coverage['domain'])} domains, {len(exp.coverage['region'])} "
        f"regions, {len(exp.coverage['voice'])} voices; {len(exp.gaps)} gap(s) in {report}"
    )
