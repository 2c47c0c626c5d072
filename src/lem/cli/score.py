"""``lem score``: score text, stored runs and A/B files; compare scorers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from lem.config import DEFAULT_DB
from lem.defaults import DEFAULT_SCORER
from lem.errors import InputError
from lem.jsonl import iter_json_lines

if TYPE_CHECKING:
    from lem.responses import ScoredResponse

__all__ = ["app"]

app = typer.Typer(
    help="Score responses, rescore runs and files, compare scorers.", no_args_is_help=True
)

_SCORER = typer.Option(..., "--scorer", "-s", help="Scorer id; repeat for several.")
_JUDGE = typer.Option(
    None, "--judge", help="Judge endpoint for judge:RUBRIC@MODEL scorers: openai:URL#MODEL."
)
_KEY_ENV = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Env var with the judge's key.")
_CONC = typer.Option(4, "--concurrency", help="Judge requests in flight.")
_DB = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL.")


def _scorer_options(
    names: list[str], judge: str | None, api_key_env: str, concurrency: int, db: str
) -> dict[str, Any]:
    from lem.scoring.service import judge_options
    from lem.store import Store

    if not any(n.startswith("judge:") for n in names):
        return {}
    return judge_options(
        names, judge=judge, api_key_env=api_key_env, concurrency=concurrency, store=Store(db)
    )


@app.command("text")
def score_text(
    scorer: str = typer.Option(DEFAULT_SCORER, "--scorer", "-s", help="Scorer id."),
    jsonl: bool = typer.Option(
        False,
        "--jsonl",
        help="Each input line is a JSON string literal; one JSON object out per line.",
    ),
) -> None:
    """Score standard input verbatim and print the signals and score as JSON."""
    from lem.api import score_text as _score

    if not jsonl:
        typer.echo(json.dumps(_score(sys.stdin.read(), scorer)))
        return
    for lineno, text in iter_json_lines(sys.stdin, "stdin"):
        if not isinstance(text, str):
            raise InputError(f"stdin:{lineno}: expected a JSON string literal")
        typer.echo(json.dumps(_score(text, scorer)))


@app.command("run")
def score_run(
    scorer: list[str] = _SCORER,
    db: str = _DB,
    run: list[str] | None = typer.Option(
        None, "--run", help="Run id or prefix; repeatable; default: the latest run."
    ),
    judge: str | None = _JUDGE,
    api_key_env: str = _KEY_ENV,
    concurrency: int = _CONC,
) -> None:
    """Score a stored run's generations: only missing or stale scores are computed, so
    running it again is free."""
    from lem.scoring.service import build_scorers
    from lem.scoring.service import score_run as _run
    from lem.store import Store

    scorers = build_scorers(scorer, **_scorer_options(scorer, judge, api_key_env, concurrency, db))
    store = Store(db, create=False)
    run_ids = [store.get_run(r)["run_id"] for r in run] if run else [store.latest_run_id()]
    for run_id in run_ids:
        written = _run(store, run_id, scorers)
        for sid, n in written.items():
            typer.echo(f"run {run_id}: {sid}: {n} score(s) written")


@app.command("file")
def score_file(
    src: Path = typer.Argument(..., help="A/B JSONL file (upstream's or lem's)."),
    scorer: list[str] = _SCORER,
    out: Path = typer.Option(..., "--out", "-o", help="Output A/B JSONL file."),
    kernel: list[str] | None = typer.Option(
        None, "--kernel", help="COND=PATH: the kernel the model saw under condition COND."
    ),
    judge: str | None = _JUDGE,
    api_key_env: str = _KEY_ENV,
    concurrency: int = _CONC,
    db: str = typer.Option(DEFAULT_DB, "--db", help="Store holding the judge cache."),
) -> None:
    """Rescore an A/B JSONL file and write the same format with a per-scorer ``scores``
    map; the first scorer fills ``lek_score``/``heuristic`` and the summary."""
    from lem.kernels import load_kernel
    from lem.scoring.service import build_scorers
    from lem.scoring.service import score_file as _file

    kernels: dict[str, str] = {}
    for spec in kernel or []:
        cond, sep, path = spec.partition("=")
        if not sep or not cond or not path:
            raise InputError(f"--kernel {spec!r} must be COND=PATH (e.g. system:lek=lek.json)")
        kernels[cond] = load_kernel(path, cond).text
    if Path(out).resolve() == Path(src).resolve():
        raise InputError(f"--out {out} is the input file; write to a new file")
    scorers = build_scorers(scorer, **_scorer_options(scorer, judge, api_key_env, concurrency, db))
    res = _file(src, out, scorers, kernels=kernels)
    failed = ", ".join(f"{k}: {v} failed" for k, v in res.failed.items()) or "no failures"
    typer.echo(f"wrote {out}: {res.probes} probes, {res.responses} responses ({failed})")


def _cells(
    files: list[Path] | None, db: str | None, run: list[str] | None, ids: list[str]
) -> list[ScoredResponse]:
    """Scored responses from files and/or a store (the latest run when nothing is given)."""
    from lem.scoring.compare import responses_from
    from lem.store import Store

    out = responses_from(files or [], scorer_ids=ids)
    if db or run or not files:
        store = Store(db or DEFAULT_DB)
        try:
            run_ids = [store.get_run(r)["run_id"] for r in run] if run else [store.latest_run_id()]
            out += responses_from(store=store, run_ids=run_ids, scorer_ids=ids)
        finally:
            store.close()
    return out


@app.command("compare")
def compare(
    a: str = typer.Option(..., "--a", help="First scorer id."),
    b: str = typer.Option(..., "--b", help="Second scorer id."),
    files: list[Path] | None = typer.Argument(None, help="A/B JSONL files with both scores."),
    db: str | None = typer.Option(None, "--db", help="Run store (instead of or with files)."),
    run: list[str] | None = typer.Option(None, "--run", help="Run id; repeatable."),
    top: int = typer.Option(10, "--top", help="How many largest disagreements to list."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result here."),
) -> None:
    """Spearman and Kendall correlation of two scorers, the mean shift per condition, and
    the responses they disagree on most."""
    from lem.scoring.compare import compare_scorers

    res = compare_scorers(_cells(files, db, run, [a, b]), a, b, top=top)
    console = Console()
    console.print(
        f"{a} vs {b}: n={res['n']}  Spearman {res['spearman']}  Kendall tau-b "
        f"{res['kendall_tau_b']}"
    )
    table = Table(title="mean shift per condition", title_justify="left")
    for col in ("condition", "n", f"mean {a}", f"mean {b}", "shift"):
        table.add_column(col)
    for row in res["conditions"]:
        table.add_row(
            row["condition"],
            str(row["n"]),
            str(row["mean_a"]),
            str(row["mean_b"]),
            f"{row['shift']:+.3f}",
        )
    console.print(table)
    dis = Table(title="largest disagreements (standardised)", title_justify="left")
    for col in ("probe", "condition", a, b, "z gap"):
        dis.add_column(col)
    for row in res["largest_disagreements"]:
        dis.add_row(
            row["probe_id"], row["condition"], str(row["a"]), str(row["b"]), f"{row['z_gap']:+.2f}"
        )
    console.print(dis)
    if json_out:
        json_out.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")


@app.command("agreement")
def agreement(
    a: str = typer.Option(..., "--a", help="First scorer id (e.g. a judge)."),
    b: str = typer.Option(..., "--b", help="Second scorer id (e.g. another judge model)."),
    files: list[Path] | None = typer.Argument(None, help="A/B JSONL files with both scores."),
    db: str | None = typer.Option(None, "--db", help="Run store (instead of or with files)."),
    run: list[str] | None = typer.Option(None, "--run", help="Run id; repeatable."),
    dimension: list[str] | None = typer.Option(
        None, "--dimension", help="Judge dimension(s) to compare; default: the headline value."
    ),
    scale: str | None = typer.Option(
        None, "--scale", help="LO,HI integer scale for weighted kappa (judges: 1,10)."
    ),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result here."),
) -> None:
    """Agreement between two scorers on the same generations: Spearman, Kendall tau-b and
    (with --scale) quadratic-weighted Cohen's kappa, each with a seeded bootstrap CI.
    Decimal scores are rounded to the nearest scale point (halves up) for kappa."""
    from lem.scoring.compare import agreement_report

    rng: tuple[int, int] | None = None
    if scale:
        try:
            lo, hi = (int(x) for x in scale.split(","))
        except ValueError:
            raise InputError(f"--scale {scale!r} must be LO,HI integers, e.g. 1,10") from None
        rng = (lo, hi)
    elif a.startswith("judge:") and b.startswith("judge:"):
        rng = (1, 10)
    dims: list[str | None] = list(dimension) if dimension else [None]
    res = agreement_report(
        _cells(files, db, run, [a, b]),
        a,
        b,
        dimensions=dims,
        scale=rng,
        seed=seed,
        n_boot=n_boot,
    )
    table = Table(title=f"agreement {a} vs {b}", title_justify="left")
    for col in ("dimension", "n", "Spearman [95% CI]", "Kendall tau-b [95% CI]", "QW kappa"):
        table.add_column(col)
    for row in res["rows"]:
        table.add_row(
            row["dimension"],
            str(row["n"]),
            _with_ci(row["spearman"], row.get("spearman_ci")),
            _with_ci(row["kendall"], row.get("kendall_ci")),
            _with_ci(row.get("kappa"), row.get("kappa_ci")),
        )
    Console().print(table)
    if json_out:
        json_out.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")


def _with_ci(value: Any, ci: Any) -> str:
    if value is None:
        return "—"
    if isinstance(ci, dict) and ci.get("low") is not None:
        return f"{value:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"
    return f"{value:.3f}"


@app.command("calibrate")
def calibrate(
    scorer: list[str] = _SCORER,
    file: Path | None = typer.Option(
        None, "--file", help="A calibration file (default: lem's own, 8 items)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome of every pair."),
    judge: str | None = _JUDGE,
    api_key_env: str = _KEY_ENV,
    concurrency: int = _CONC,
    db: str = _DB,
) -> None:
    """Check scorers against the calibration set: answers with agreed orderings
    (substantive > curt > degenerate; substantive > kernel echo)."""
    from lem.scoring.calibration import calibrate as _calibrate
    from lem.scoring.calibration import load_calibration
    from lem.scoring.service import build_scorers

    data = load_calibration(file)
    scorers = build_scorers(scorer, **_scorer_options(scorer, judge, api_key_env, concurrency, db))
    results = [_calibrate(s, data) for s in scorers]
    if as_json:
        for r in results:
            typer.echo(
                json.dumps(
                    {
                        "scorer": r.scorer,
                        "counts": r.counts(),
                        "pairs": [{**vars(p), "outcome": p.outcome} for p in r.pairs],
                    }
                )
            )
        return
    kinds = list(data["orderings"])
    table = Table(title="Calibration: pairs right / tied / wrong (failed)")
    table.add_column("scorer")
    for kind in kinds:
        table.add_column(kind, justify="right")
    for r in results:
        c = r.counts()
        cells = []
        for kind in kinds:
            k = c.get(kind, {"right": 0, "tied": 0, "wrong": 0, "failed": 0})
            cell = f"{k['right']} / {k['tied']} / {k['wrong']}"
            cells.append(cell + (f" ({k['failed']})" if k["failed"] else ""))
        table.add_row(r.scorer, *cells)
    Console().print(table)


@app.command("list")
def list_scorers() -> None:
    """List registered scorers with version and definition hash."""
    from lem.scoring.base import available_scorers, get_scorer

    for name in available_scorers():
        try:
            s = get_scorer(name)
        except InputError as exc:
            typer.echo(f"{name}\tunavailable\t{exc}")
            continue
        typer.echo(f"{s.id}\t{s.version}\t{s.definition_hash()[:16]}")
    typer.echo("judge:RUBRIC@MODEL\t(rubric version)\tneeds --judge openai:URL#MODEL")
