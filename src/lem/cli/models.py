"""Model files: import a GGUF checkpoint as a safetensors model folder."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(help="Model files: import.", no_args_is_help=True)


@app.command("import")
def import_(
    gguf: Path = typer.Argument(..., help="A .gguf file (read locally; nothing downloaded)."),
    out: Path = typer.Option(..., "--out", "-o", help="New model folder to write."),
) -> None:
    """Turn a GGUF file into a safetensors model folder (weights dequantized to float32,
    tokenizer and chat template kept) that every backend and lem train can load."""
    from lem.models.gguf import import_gguf

    rec = import_gguf(gguf, out)
    typer.echo(
        f"wrote {out}: {rec['model_type']}, {rec['parameters']:,} parameters "
        f"(from {rec['source']}, sha256 {rec['sha256'][:12]})"
    )
