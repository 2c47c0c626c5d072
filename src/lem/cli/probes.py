"""``lem probes`` and ``lem kernels``: inspect and validate inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from lem.errors import InputError

if TYPE_CHECKING:
    from lem.probes import Probe, ProbeSet

__all__ = ["app", "kernels_app"]

app = typer.Typer(help="List, show and validate probe sets.", no_args_is_help=True)
kernels_app = typer.Typer(help="List and show kernels.", no_args_is_help=True)

_PROBES = typer.Option(
    None,
    "--probes",
    help="Probe set file, or a bundled set: lem-core (the default), lem-families.",
)


@app.command("list")
def list_probes(
    probes: str | None = _PROBES,
    domains: str | None = typer.Option(None, "--domains", help="Comma-separated domains."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List probe ids, domains and the start of each prompt."""
    from lem.probes import load_probes

    ps = load_probes(probes)
    if domains:
        ps = ps.select(domains=[d.strip() for d in domains.split(",") if d.strip()])
    if as_json:
        for p in ps:
            typer.echo(json.dumps(_probe_dict(p)))
        return
    table = Table(title=f"{len(ps)} probes from {ps.source}", title_justify="left")
    table.add_column("id")
    table.add_column("domain")
    table.add_column("prompt")
    for p in ps:
        table.add_row(p.id, p.domain or "", p.prompt[:70] + ("…" if len(p.prompt) > 70 else ""))
    Console().print(table)


@app.command("show")
def show_probe(
    probe_id: str = typer.Argument(..., help="Probe id."), probes: str | None = _PROBES
) -> None:
    """Print one probe in full."""
    from lem.probes import load_probes

    p = load_probes(probes).by_id(probe_id)
    typer.echo(json.dumps(_probe_dict(p), indent=2))


def _probe_dict(p: Probe) -> dict[str, str | None]:
    """A probe as ``list --json`` and ``show`` print it (``family`` only when it has one)."""
    out = {"id": p.id, "domain": p.domain, "prompt": p.prompt}
    if p.family is not None:
        out["family"] = p.family
    return out


def family_line(ps: ProbeSet) -> str | None:
    """``validate``'s line about families: how many, members per family (how many families
    have each size) and probes without a family; None when no probe has a family."""
    counts, alone = ps.family_counts()
    if not counts:
        return None
    sizes: dict[int, int] = {}
    for n in counts.values():
        sizes[n] = sizes.get(n, 0) + 1
    spread = ", ".join(
        f"{k} with {n} member{'' if n == 1 else 's'}" for n, k in sorted(sizes.items())
    )
    families = f"{len(counts)} famil{'y' if len(counts) == 1 else 'ies'}"
    no_family = f"{alone} probe{'' if alone == 1 else 's'} with no family"
    return f"{families} ({spread}); {no_family}"


@app.command("validate")
def validate(
    path: Path | None = typer.Argument(None, help="Probe file; default: the bundled set."),
    threshold: float = typer.Option(
        0.5,
        "--near-dup-threshold",
        help="Word-trigram Jaccard at or above which prompts count as near-duplicates.",
    ),
    strict_ids: bool = typer.Option(
        False, "--strict-ids", help="Enforce the bundled P###_DOMAIN_SLUG id scheme."
    ),
    max_pairs: int = typer.Option(
        1000,
        "--max-pairs",
        min=1,
        help="Stop after listing this many near-duplicate pairs.",
    ),
) -> None:
    """Check a probe file: JSON syntax, ids, empty prompts, families, then near-duplicate
    prompts (rephrasings within one family are expected to overlap and are not listed).

    Exits 2 on an error and 1 when near-duplicates are found."""
    from lem.probes import find_near_duplicates, load_probes

    ps = load_probes(path, bundled=True if strict_ids else None)
    dups = find_near_duplicates(list(ps), threshold, limit=max_pairs + 1)
    domains = ps.domains()
    typer.echo(f"{ps.source}: {len(ps)} probes, {len(domains)} domains: ok")
    families = family_line(ps)
    if families is not None:
        typer.echo(families)
    for a, b, sim in dups[:max_pairs]:
        typer.echo(f"near-duplicate ({sim:.2f}): {a.id} ~ {b.id}")
    if len(dups) > max_pairs:
        typer.echo(
            f"more than {max_pairs} near-duplicate pairs: stopped searching; "
            "raise --max-pairs to list more"
        )
    if dups:
        raise typer.Exit(1)


@kernels_app.command("list")
def list_kernels(
    kernel: list[str] | None = typer.Option(None, "--kernel", "-k", help="Extra NAME=PATH."),
) -> None:
    """List available kernels with kind, size and hash."""
    from lem.kernels import resolve_kernels

    table = Table()
    for col in ("name", "kind", "chars", "sha256", "path"):
        table.add_column(col)
    for k in resolve_kernels(kernel or []).values():
        table.add_row(k.name, k.kind, str(len(k.text)), k.digest[:16], k.path)
    Console().print(table)


@kernels_app.command("show")
def show_kernel(
    name: str = typer.Argument(..., help="Kernel name (lek, lek-text) or NAME=PATH."),
    render: bool = typer.Option(False, "--render", help="Render axioms-layout JSON to text."),
    sandwich_system: bool = typer.Option(
        False, "--sandwich-system", help="Show the sandwich system message built from it."
    ),
) -> None:
    """Print a kernel as conditions insert it."""
    from lem.kernels import resolve_kernels

    specs = [name] if "=" in name else []
    kernels = resolve_kernels(specs, render=render)
    key = name.partition("=")[0]
    if key not in kernels:
        raise InputError(f"unknown kernel {key!r}; known: {', '.join(sorted(kernels))}")
    k = kernels[key]
    typer.echo(k.system_part() if sandwich_system else k.text, nl=False)
