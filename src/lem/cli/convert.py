"""Convert a LoRA adapter between MLX (mlx-lm) and PEFT, either way, checked key by key
against the base model: rank, scale and alpha, dropout, modules and layers carried."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["convert"]


def convert(
    adapter: Path = typer.Option(..., "--adapter", "-a", help="Adapter folder (MLX or PEFT)."),
    model: str = typer.Option(..., "--model", "-m", help="Base model folder (or demo)."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the converted adapter."),
) -> None:
    """Convert a LoRA adapter between MLX and PEFT (the direction follows the input: an
    adapters.safetensors folder becomes PEFT, an adapter_model.safetensors folder MLX)."""
    from lem.adapters.convert import mlx_to_peft, peft_to_mlx
    from lem.backends.hf import resolve_model_dir
    from lem.errors import BackendError, InputError

    try:
        base = resolve_model_dir(model)
    except BackendError as exc:
        raise InputError(f"--model: {exc.message}") from None
    if (adapter / "adapters.safetensors").is_file():
        dest, kind = mlx_to_peft(adapter, base, out), "PEFT"
    elif (adapter / "adapter_model.safetensors").is_file():
        dest, kind = peft_to_mlx(adapter, base, out), "MLX"
    else:
        raise InputError(
            f"--adapter {adapter}: neither adapters.safetensors (MLX) nor "
            "adapter_model.safetensors (PEFT) is there"
        )
    typer.echo(f"wrote {kind} adapter {dest}")
