"""``lem publish``: a dataset to the Hugging Face Hub as Parquet splits with a dataset card
(private by default; the token only from the environment)."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

__all__ = ["publish"]


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def publish(
    dataset: Path = typer.Argument(..., help="Dataset folder written by lem distill/data conv."),
    repo: str = typer.Option(..., "--repo", help="Hub dataset repo, USER/NAME (or ORG/NAME)."),
    public: bool = typer.Option(
        False, "--public/--private", help="Create the repo public (default: private)."
    ),
    license: str = typer.Option(
        "other", "--license", help="License id for the dataset card (Hub license identifiers)."
    ),
    token_env: str = typer.Option(
        "HF_TOKEN", "--token-env", help="Environment variable holding the Hub access token."
    ),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Hub URL (default: $HF_ENDPOINT or https://huggingface.co)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List the files and settings; upload nothing, need no token."
    ),
) -> None:
    """Upload a dataset's splits (data/{train,valid,test}.parquet), lineage.jsonl,
    manifest.json and a generated dataset card README.md to a Hub dataset repo, in one
    commit. The repo is created private unless --public; an existing repo keeps its
    visibility. The token is read from $HF_TOKEN (--token-env) and never printed."""
    from lem.errors import LemWarning
    from lem.publish import publish_dataset

    result = publish_dataset(
        dataset,
        repo,
        public=public,
        license=license,
        token_env=token_env,
        endpoint=endpoint,
        dry_run=dry_run,
    )
    visibility = "private" if result.private else "public"
    if result.dry_run:
        typer.echo(
            f"dry run: would publish dataset {result.dataset_id[:12]} to {result.endpoint} as "
            f"{visibility} dataset repo {result.repo_id} (revision {result.revision}), "
            f"{len(result.files)} files, {_size(result.total_size)}:"
        )
        width = max(len(f.path) for f in result.files)
        for f in result.files:
            typer.echo(f"  {f.path:<{width}}  {f.size:>10} bytes")
        typer.echo("nothing was uploaded")
        return
    for note in result.warnings:
        warnings.warn(note, LemWarning, stacklevel=1)
    typer.echo(
        f"published dataset {result.dataset_id[:12]} to {result.url} ({visibility}): "
        f"{len(result.files)} files, {_size(result.total_size)}, commit {result.commit_oid}"
    )
