"""Merge a LoRA adapter into its base model and save a standalone model (safetensors,
tokenizer, chat template, generation config) with a model card."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["fuse"]


def fuse(
    adapter: Path = typer.Option(..., "--adapter", "-a", help="PEFT adapter folder."),
    model: str = typer.Option("demo", "--model", "-m", help="Base model folder (or demo)."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the fused model."),
) -> None:
    """Merge a LoRA adapter into its base model and save a standalone model."""
    from lem.adapters.peft import fuse_adapter

    dest = fuse_adapter(model, adapter, out)
    typer.echo(f"wrote {dest}")
