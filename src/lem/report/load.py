"""Loading report inputs: A/B JSONL files and stored runs → response records.

Every source becomes one model in the report. Its label is the file's ``summary.model`` or
the run manifest's ``model_spec``, made unique within the report (a repeated label gets
the source's file name or run id appended). A model mapping file (``--models``) can add
lineage tags (family, version, base model) and rename labels.

Scores: ``lek-v2`` is the upstream ``lek_score`` of an A/B file (or the ``lek-v2`` entry of
a condition's ``scores`` map when the file was rescored by lem); any other scorer id is
read from the ``scores`` map, and a file without it is an error naming the file. Stored
runs are read from the store's score table for that scorer.

Probe families (a probe and its rephrasings, for the paraphrase-robustness section): the
``family`` key of an A/B file's probe lines, or the ``families`` map of a run manifest's
probe entry (both written only for probe sets with families).

Samples: only sample 0 of each probe and condition is loaded, unless ``all_samples`` is
set; then every sample is loaded and the analysis averages them per probe. Failed
generations (a probe's ``errors`` map, a store item that did not finish, a failed score)
become records whose ``score`` is None: counted as failures, left out of every mean. A
score that is NaN or infinite is an :class:`InputError` naming the file and line (or run),
the probe and the condition.
"""

from __future__ import annotations

import fnmatch
import json
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lem.defaults import DEFAULT_SCORER
from lem.errors import InputError, LemError, LemWarning
from lem.formats.ab_jsonl import ABFile, read_ab_jsonl, summary_mismatches
from lem.report.model import ResponseRecord, SourceInfo
from lem.responses import ScoredResponse, numeric, read_ab_file, read_run

__all__ = [
    "DEFAULT_SCORER",
    "LoadedSource",
    "ModelMapEntry",
    "ReportInputs",
    "apply_model_map",
    "load_ab_file",
    "load_report_inputs",
    "load_runs",
    "load_sources",
    "parse_pairs",
    "read_model_map",
]

"""The scorer whose value is the upstream ``lek_score`` field of an A/B file."""

_MAP_KEYS = frozenset({"family", "version", "base", "label", "tags"})
_GLOB = re.compile(r"[*?\[]")


@dataclass
class LoadedSource:
    """One source before labels are final: its records and where it came from."""

    info: SourceInfo
    records: list[ResponseRecord] = field(default_factory=list)
    probe_families: dict[str, str] = field(default_factory=dict)
    """Probe id → family, for the probes that have one."""


@dataclass
class ReportInputs:
    """Everything loaded for a report: the records (final labels), the sources in input
    order, and per model label its probes' families (models without families absent)."""

    records: list[ResponseRecord]
    sources: list[SourceInfo]
    probe_families: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelMapEntry:
    """One entry of a model mapping file: a label or source pattern and its tags."""

    pattern: str
    family: str | None = None
    version: str | None = None
    base: str | None = None
    label: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)

    def matches(self, candidates: Iterable[str]) -> bool:
        """True when the pattern names one of ``candidates`` (exactly, or as a glob)."""
        if _GLOB.search(self.pattern):
            return any(fnmatch.fnmatchcase(c, self.pattern) for c in candidates)
        return self.pattern in set(candidates)


# ---- A/B files ---------------------------------------------------------------------------


def _records(
    responses: Sequence[ScoredResponse], scorers: Sequence[str], all_samples: bool
) -> list[ResponseRecord]:
    """The report's view of scored responses: one record per response and scorer, its
    score None (with the reason) when the generation failed or that scorer has no value."""
    records: list[ResponseRecord] = []
    for r in responses:
        if r.sample != 0 and not all_samples:
            continue
        for scorer in scorers:
            result = r.score(scorer)
            score: float | None = None
            error: str | None = None
            if result is not None:
                if result.value is not None:
                    score = result.value
                else:
                    error = result.reason or f"{scorer}: not scored"
            elif not r.done:
                error = r.error or f"generation {r.status}"
            else:
                error = f"{scorer}: not scored"
            records.append(
                ResponseRecord(
                    model="",
                    probe_id=r.probe_id,
                    category=r.category,
                    prompt=r.prompt,
                    condition=r.condition,
                    response=r.answer,
                    scorer=scorer,
                    score=score,
                    signals=numeric(result.signals) if score is not None and result else {},
                    sample=r.sample,
                    error=error,
                    system_fallback=r.system_fallback,
                )
            )
    return records


def _check_file_scorers(
    path: Path, abfile: ABFile, responses: Sequence[ScoredResponse], scorers: Sequence[str]
) -> None:
    """A requested scorer that the file holds for no response is an error naming the file
    and the scorers it does hold (a file without ``scores`` maps holds ``lek-v2``)."""
    have = sorted(
        {
            k
            for p in abfile.probes
            for c in p.conditions.values()
            for k in (c.extra.get("scores") or {})
        }
    )
    for scorer in scorers:
        if not abfile.probes or any(scorer in r.scores for r in responses):
            continue
        if scorer == DEFAULT_SCORER and not have:
            continue
        avail = ", ".join(have) if have else DEFAULT_SCORER
        raise InputError(
            f"{path}: no {scorer!r} scores in this file (it has: {avail}); "
            f"rescore it with `lem score` or pick --scorer {have[0] if have else DEFAULT_SCORER}"
        )


def load_ab_file(
    path: str | Path, scorers: Sequence[str] = (DEFAULT_SCORER,), *, all_samples: bool = False
) -> LoadedSource:
    """One A/B JSONL file as a source labelled by its summary's ``model``.

    Raises :class:`InputError` for a missing or malformed file, or when a requested
    scorer has no scores in it.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a directory; give A/B results .jsonl files")
    abfile = read_ab_jsonl(p)
    mismatches = summary_mismatches(abfile)
    if mismatches:
        shown = "; ".join(mismatches[:3]) + ("; …" if len(mismatches) > 3 else "")
        warnings.warn(
            LemWarning(
                f"{p}: the summary line disagrees with the probe lines ({shown}); the "
                "report uses the probe lines"
            ),
            stacklevel=2,
        )
    tags = _tags(abfile.summary.extra.get("tags"))
    info = SourceInfo(
        model=abfile.summary.model or p.stem,
        source=str(path),
        run_id=None,
        family=_opt_str(tags.pop("family", None)),
        version=_opt_str(tags.pop("version", None)),
        tags=tags,
    )
    responses = read_ab_file(abfile, p, scorers)
    _check_file_scorers(p, abfile, responses, scorers)
    families: dict[str, str] = {}
    for probe in abfile.probes:
        if "family" in probe.extra:
            families[probe.id] = _family(probe.extra["family"], f"{p}: probe {probe.id!r}")
    return LoadedSource(
        info=info, records=_records(responses, scorers, all_samples), probe_families=families
    )


def _family(value: Any, where: str) -> str:
    """A probe's ``family`` as read from a results file or manifest: a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: 'family' must be a non-empty string, got {value!r}")
    return value


# ---- stored runs -------------------------------------------------------------------------


def _open_store(db: str) -> Any:
    from lem.store import Store
    from lem.store.ledger import normalise_db_url

    url = normalise_db_url(db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise InputError(f"--db {db}: no such run store; check the path")
    try:
        return Store(db)
    except LemError as exc:
        raise InputError(exc.message) from None


def load_runs(
    db: str,
    run_ids: Sequence[str] = (),
    *,
    model_contains: Sequence[str] = (),
    scorers: Sequence[str] = (DEFAULT_SCORER,),
    all_samples: bool = False,
) -> list[LoadedSource]:
    """Stored runs as sources: the given run ids (or unique prefixes), else every run in
    the store whose model spec contains one of ``model_contains`` (case-insensitive; all
    runs when empty), in creation order. Labels are the manifests' ``model_spec``."""
    store = _open_store(db)
    try:
        if run_ids:
            runs = []
            for rid in run_ids:
                try:
                    runs.append(store.get_run(rid))
                except LemError:
                    raise InputError(
                        f"--run {rid}: no such run in {store.display_url}; "
                        "`lem runs list` shows them"
                    ) from None
        else:
            runs = store.list_runs()
        needles = [n.lower() for n in model_contains if n]
        if needles:
            runs = [r for r in runs if any(n in _run_label(r).lower() for n in needles)]
        if not runs:
            what = f" matching {', '.join(model_contains)}" if needles else ""
            raise InputError(f"--db {store.display_url}: no runs{what}; `lem runs list`")
        out: list[LoadedSource] = []
        seen: set[str] = set()
        for run in runs:
            if run["run_id"] in seen:
                continue
            seen.add(run["run_id"])
            out.append(_load_run(store, run, scorers, all_samples))
        return out
    finally:
        store.close()


def _run_label(run: Mapping[str, Any]) -> str:
    manifest = run.get("manifest") or {}
    return str(manifest.get("model_spec") or manifest.get("model") or run["run_id"])


def _load_run(
    store: Any, run: Mapping[str, Any], scorers: Sequence[str], all_samples: bool
) -> LoadedSource:
    manifest = run.get("manifest") or {}
    config = run.get("config") or {}
    tags = {**_tags(config.get("tags")), **_tags(manifest.get("tags"))}
    if config.get("name"):
        tags.setdefault("name", config["name"])
    info = SourceInfo(
        model=_run_label(run),
        source=f"run {run['run_id']}",
        run_id=str(run["run_id"]),
        family=_opt_str(tags.pop("family", None)),
        version=_opt_str(tags.pop("version", None)),
        tags=tags,
        placement_fallback={
            str(k): str((v or {}).get("same_prompt_as", ""))
            for k, v in (manifest.get("placement_fallback") or {}).items()
        },
    )
    responses = list(read_run(store, str(run["run_id"]), scorers))
    for scorer in scorers:
        scored = any(
            r.done and r.scores.get(scorer) is not None and r.scores[scorer].ok for r in responses
        )
        unscored = any(
            r.done and (r.score(scorer) is None or not r.scores[scorer].ok) for r in responses
        )
        if not scored and unscored:
            raise InputError(
                f"run {run['run_id']}: no {scorer!r} scores stored; score the run with "
                f"`lem score` and --scorer {scorer}, or pick another --scorer"
            )
    records = _records(responses, scorers, all_samples)
    stored = (manifest.get("probes") or {}).get("families") or {}
    where = f"run {run['run_id']}"
    families = {str(k): _family(v, f"{where}: probe {k!r}") for k, v in stored.items()}
    return LoadedSource(info=info, records=records, probe_families=families)


# ---- labels, mapping file, pairs ---------------------------------------------------------


def _tags(obj: Any) -> dict[str, Any]:
    return dict(obj) if isinstance(obj, dict) else {}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def read_model_map(path: str | Path) -> list[ModelMapEntry]:
    """Read a model mapping file (YAML or JSON): ``{pattern: {family, version, base,
    label, tags}}``, entries in file order. YAML scalars are read as text (``version:
    0.10`` stays ``"0.10"``, not the number 0.1). Unknown keys are errors (typos would
    otherwise silently drop a tag)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"--models {p}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--models {p}: cannot read ({exc})") from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.load(text, Loader=yaml.BaseLoader)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InputError(f"--models {p}: malformed JSON ({exc})") from None
    except Exception as exc:
        raise InputError(f"--models {p}: malformed YAML ({type(exc).__name__})") from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise InputError(f"--models {p}: expected a mapping of label or pattern → tags")
    entries: list[ModelMapEntry] = []
    for pattern, body in data.items():
        if body is None or body == "":
            body = {}
        if not isinstance(body, dict):
            raise InputError(f"--models {p}: entry {pattern!r} must be a mapping")
        unknown = sorted(set(map(str, body)) - _MAP_KEYS)
        if unknown:
            raise InputError(
                f"--models {p}: entry {pattern!r} has unknown key {unknown[0]!r}; "
                f"allowed: {', '.join(sorted(_MAP_KEYS))}"
            )
        tags = body.get("tags") or {}
        if not isinstance(tags, dict):
            raise InputError(f"--models {p}: entry {pattern!r}: tags must be a mapping")
        entries.append(
            ModelMapEntry(
                pattern=str(pattern),
                family=_opt_str(body.get("family")),
                version=_opt_str(body.get("version")),
                base=_opt_str(body.get("base")),
                label=_opt_str(body.get("label")),
                tags={str(k): v for k, v in tags.items()},
            )
        )
    return entries


def _candidates(info: SourceInfo, raw_label: str) -> list[str]:
    out = [info.model, raw_label, info.source, Path(info.source).name]
    if info.run_id:
        out.append(info.run_id)
    return out


def _unique_labels(sources: Sequence[LoadedSource]) -> list[str]:
    raw = [s.info.model for s in sources]
    counts: dict[str, int] = {}
    for label in raw:
        counts[label] = counts.get(label, 0) + 1
    labels: list[str] = []
    for s, label in zip(sources, raw, strict=True):
        if counts[label] > 1:
            suffix = s.info.run_id[:8] if s.info.run_id else Path(s.info.source).name
            label = f"{label} ({suffix})"
        labels.append(label)
    taken: dict[str, int] = {}
    final: list[str] = []
    for label in labels:
        n = taken.get(label, 0) + 1
        taken[label] = n
        final.append(label if n == 1 else f"{label} #{n}")
    return final


def apply_model_map(
    sources: Sequence[LoadedSource], entries: Sequence[ModelMapEntry]
) -> list[SourceInfo]:
    """Final, unique labels and lineage tags for ``sources``.

    Each source takes the first mapping entry whose pattern names its label, its raw
    label, its source path or file name, or its run id; the entry's tags override the
    source's own metadata. A ``label`` in the entry renames the model.
    """
    labels = _unique_labels(sources)
    infos: list[SourceInfo] = []
    for s, label in zip(sources, labels, strict=True):
        info = replace(s.info, model=label)
        for entry in entries:
            if entry.matches(_candidates(info, s.info.model)):
                tags = {**info.tags, **entry.tags}
                if entry.base is not None:
                    tags["base"] = entry.base
                info = replace(
                    info,
                    model=entry.label or label,
                    family=entry.family if entry.family is not None else info.family,
                    version=entry.version if entry.version is not None else info.version,
                    tags=tags,
                )
                break
        infos.append(info)
    seen: set[str] = set()
    for info in infos:
        if info.model in seen:
            raise InputError(
                f"two models are labelled {info.model!r}; give them distinct `label:` "
                "entries in the --models file"
            )
        seen.add(info.model)
    return infos


def parse_pairs(pairs: Iterable[str | tuple[str, str]]) -> list[tuple[str, str]]:
    """``BASE=TUNED`` strings (or tuples) as (base, tuned) label pairs."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        if isinstance(pair, tuple):
            base, tuned = pair
        else:
            base, sep, tuned = pair.partition("=")
            if not sep:
                raise InputError(f"--pair {pair!r}: expected BASE=TUNED (two model labels)")
        base, tuned = base.strip(), tuned.strip()
        if not base or not tuned or base == tuned:
            raise InputError(f"--pair {base}={tuned}: give two different model labels")
        out.append((base, tuned))
    return out


def load_sources(
    files: Sequence[str | Path] = (),
    *,
    db: str | None = None,
    runs: Sequence[str] = (),
    model_contains: Sequence[str] = (),
    scorers: Sequence[str] = (DEFAULT_SCORER,),
    all_samples: bool = False,
    models_file: str | Path | None = None,
) -> tuple[list[ResponseRecord], list[SourceInfo]]:
    """Every source's records with final model labels, and the sources in input order
    (files first, then runs): :func:`load_report_inputs` without the probe families."""
    loaded = load_report_inputs(
        files,
        db=db,
        runs=runs,
        model_contains=model_contains,
        scorers=scorers,
        all_samples=all_samples,
        models_file=models_file,
    )
    return loaded.records, loaded.sources


def load_report_inputs(
    files: Sequence[str | Path] = (),
    *,
    db: str | None = None,
    runs: Sequence[str] = (),
    model_contains: Sequence[str] = (),
    scorers: Sequence[str] = (DEFAULT_SCORER,),
    all_samples: bool = False,
    models_file: str | Path | None = None,
) -> ReportInputs:
    """Every source's records with final model labels, the sources in input order (files
    first, then runs), and each model's probe families."""
    entries = read_model_map(models_file) if models_file is not None else []
    loaded = [load_ab_file(f, scorers, all_samples=all_samples) for f in files]
    if db is not None or runs:
        from lem.config import DEFAULT_DB

        loaded += load_runs(
            db or DEFAULT_DB,
            runs,
            model_contains=model_contains,
            scorers=scorers,
            all_samples=all_samples,
        )
    if not loaded:
        raise InputError("nothing to report: give A/B JSONL files, or --db / --run")
    infos = apply_model_map(loaded, entries)
    records: list[ResponseRecord] = []
    for src, info in zip(loaded, infos, strict=True):
        for rec in src.records:
            # the loaders created these records with a blank label, for this step only
            object.__setattr__(rec, "model", info.model)
        records.extend(src.records)
    families = {
        info.model: src.probe_families
        for src, info in zip(loaded, infos, strict=True)
        if src.probe_families
    }
    return ReportInputs(records=records, sources=infos, probe_families=families)
