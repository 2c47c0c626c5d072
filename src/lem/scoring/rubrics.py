"""Judge rubrics: what an LLM judge is asked to rate, dimension by dimension.

A rubric is a YAML file::

    name: semantic
    version: "1"
    description: what the rubric is for (for people; the judge never sees it)
    scale: [1, 10]
    instructions: what the judge is told before the dimensions
    dimensions:
      - name: ethical_depth
        description: what this dimension measures
        anchors: {1: ..., 5: ..., 10: ...}
    reference_field: best_answer   # optional: a per-item reference the judge also sees
    composite: mean

Rubrics are validated on load, so a typo fails with the file and field named instead of
silently changing what the judge is asked. :attr:`Rubric.digest` hashes everything the
judge could be told, so a changed rubric always means a changed scorer definition.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lem.errors import InputError

__all__ = [
    "COMPOSITES",
    "Dimension",
    "Rubric",
    "available_rubrics",
    "bundled_rubric_dir",
    "load_rubric",
    "parse_rubric",
]

COMPOSITES: tuple[str, ...] = ("mean",)
"""Supported ways of combining dimension scores into one value."""

_REQUIRED = ("name", "version", "description", "scale", "instructions", "dimensions")
_OPTIONAL = ("reference_field", "composite")
_DIM_FIELDS = ("name", "description", "anchors")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Dimension:
    """One rated dimension: a JSON-key ``name``, what it means, and anchor texts that pin
    selected scale points (always including both ends of the scale)."""

    name: str
    description: str
    anchors: Mapping[int, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "anchors": {str(k): v for k, v in sorted(self.anchors.items())},
        }


@dataclass(frozen=True)
class Rubric:
    """A validated rubric; ``source`` is where it was loaded from (not part of the digest)."""

    name: str
    version: str
    description: str
    scale: tuple[int, int]
    instructions: str
    dimensions: tuple[Dimension, ...]
    reference_field: str | None = None
    composite: str = "mean"
    source: str = ""

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def as_dict(self) -> dict[str, Any]:
        """Everything that defines the rubric, as plain JSON-ready data."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "scale": list(self.scale),
            "instructions": self.instructions,
            "dimensions": [d.as_dict() for d in self.dimensions],
            "reference_field": self.reference_field,
            "composite": self.composite,
        }

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`as_dict`."""
        blob = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def bundled_rubric_dir() -> Path:
    return Path(str(resources.files("lem") / "data" / "rubrics"))


def available_rubrics() -> list[str]:
    """Names of the rubrics bundled with lem, sorted."""
    folder = bundled_rubric_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_rubric(name_or_path: str | Path) -> Rubric:
    """A bundled rubric by name (``semantic``) or a rubric YAML file by path."""
    ref = str(name_or_path).strip()
    if not ref:
        raise InputError("rubric name is empty; give a bundled rubric name or a YAML path")
    path = Path(ref).expanduser()
    if ref in available_rubrics() and not path.is_file():
        path = bundled_rubric_dir() / f"{ref}.yaml"
    elif not path.is_file():
        bundled = ", ".join(available_rubrics()) or "none"
        if path.suffix in (".yaml", ".yml") or "/" in ref or path.exists():
            raise InputError(f"rubric file {path} not found (or not a file)")
        raise InputError(
            f"unknown rubric {ref!r}; bundled rubrics: {bundled}, or give a path to a YAML file"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"rubric file {path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"rubric file {path}: cannot read it ({exc.strerror})") from None
    return parse_rubric(text, source=str(path))


def parse_rubric(text: str, *, source: str = "<string>") -> Rubric:
    """Validate rubric YAML text; :class:`InputError` names ``source`` and the bad field."""
    where = f"rubric file {source}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"{where}: not valid YAML{at} ({problem})") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping of rubric fields at the top level")
    for key in data:
        if key not in _REQUIRED and key not in _OPTIONAL:
            known = ", ".join((*_REQUIRED, *_OPTIONAL))
            raise InputError(f"{where}: unknown field {key!r} (known fields: {known})")
    for key in _REQUIRED:
        if data.get(key) is None:
            raise InputError(f"{where}: missing field {key!r}")

    name = _text(data, "name", where)
    version_raw = data["version"]
    if isinstance(version_raw, bool) or not isinstance(version_raw, int | str):
        raise InputError(f'{where}: field \'version\' must be a string such as "1" or "1.2"')
    version = str(version_raw).strip()
    if not version or len(version) > 32:
        raise InputError(f"{where}: field 'version' must be 1-32 characters")
    scale = _scale(data["scale"], where)
    dims_raw = data["dimensions"]
    if not isinstance(dims_raw, list) or not dims_raw:
        raise InputError(f"{where}: field 'dimensions' must be a non-empty list")
    dimensions = tuple(_dimension(d, i, scale, where) for i, d in enumerate(dims_raw))
    names = [d.name for d in dimensions]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(f"{where}: dimension name {dups[0]!r} is used twice")

    reference_field = data.get("reference_field")
    if reference_field is not None and (
        not isinstance(reference_field, str) or not reference_field.strip()
    ):
        raise InputError(f"{where}: field 'reference_field' must be a non-empty string")
    composite = data.get("composite", "mean")
    if composite not in COMPOSITES:
        raise InputError(
            f"{where}: field 'composite' is {composite!r}; supported: {', '.join(COMPOSITES)}"
        )
    return Rubric(
        name=name,
        version=version,
        description=_text(data, "description", where),
        scale=scale,
        instructions=_text(data, "instructions", where),
        dimensions=dimensions,
        reference_field=reference_field.strip() if reference_field else None,
        composite=composite,
        source=source,
    )


def _text(data: Mapping[str, Any], key: str, where: str, label: str | None = None) -> str:
    value = data.get(key)
    if value is None:
        raise InputError(f"{where}: missing field {label or key!r}")
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: field {label or key!r} must be a non-empty string")
    return value.strip()


def _scale(raw: Any, where: str) -> tuple[int, int]:
    ok = (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
        and raw[0] < raw[1]
    )
    if not ok:
        raise InputError(f"{where}: field 'scale' must be [LOW, HIGH] integers, e.g. [1, 10]")
    return int(raw[0]), int(raw[1])


def _dimension(raw: Any, index: int, scale: tuple[int, int], where: str) -> Dimension:
    field = f"dimensions[{index}]"
    if not isinstance(raw, dict):
        raise InputError(
            f"{where}: field {field!r} must be a mapping with name, description, anchors"
        )
    for key in raw:
        if key not in _DIM_FIELDS:
            raise InputError(
                f"{where}: unknown field '{field}.{key}' (known: name, description, anchors)"
            )
    name = _text(raw, "name", where, f"{field}.name")
    if not _IDENT.match(name) or name == "reason":
        raise InputError(
            f"{where}: field '{field}.name' is {name!r}; use lower-case letters, digits and '_' "
            "(and not 'reason', which the judge's reply uses)"
        )
    description = _text(raw, "description", where, f"{field}.description")
    anchors_raw = raw.get("anchors")
    if not isinstance(anchors_raw, dict) or not anchors_raw:
        raise InputError(f"{where}: field '{field}.anchors' must map scale points to texts")
    lo, hi = scale
    anchors: dict[int, str] = {}
    for key, text in anchors_raw.items():
        point: int | None = None
        if isinstance(key, int) and not isinstance(key, bool):
            point = key
        elif isinstance(key, str) and key.strip().isdigit():
            point = int(key)
        if point is None or not lo <= point <= hi:
            raise InputError(
                f"{where}: field '{field}.anchors' has key {key!r}; keys must be whole scale "
                f"points from {lo} to {hi}"
            )
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{where}: field '{field}.anchors.{point}' must be a non-empty string")
        anchors[point] = text.strip()
    for end in (lo, hi):
        if end not in anchors:
            raise InputError(
                f"{where}: field '{field}.anchors' must anchor both scale ends ({lo} and {hi})"
            )
    return Dimension(name=name, description=description, anchors=dict(sorted(anchors.items())))
