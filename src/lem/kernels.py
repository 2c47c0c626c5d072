"""Kernels: short statements of ethical principles, read verbatim and hashed.

A kernel file is text (used byte for byte), JSON (used verbatim by default), or JSON in the
*axioms layout* (``axioms``: a list of ``{id, name, statement, ...}``), which can also be
rendered to text deterministically. A file of several JSON objects pasted together is not
valid JSON as a whole and is treated as text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lem.errors import InputError

__all__ = [
    "BUNDLED_KERNELS",
    "SANDWICH_HEADER",
    "Kernel",
    "axiom_ids",
    "axiom_variant",
    "load_kernel",
    "parse_kernel_spec",
    "render_axioms_system",
    "render_axioms_text",
    "resolve_kernels",
]

SANDWICH_HEADER = "You are guided by the following axioms of conscious interaction:"

BUNDLED_KERNELS = {"lek": "lek-axioms.json", "lek-text": "lek.txt"}
"""Kernels available by name without a path: ``lek`` (axioms JSON) and ``lek-text``."""


@dataclass(frozen=True)
class Kernel:
    """A loaded kernel.

    ``text`` is what conditions insert (the file verbatim, or the rendered axioms when
    ``rendered`` is true); ``axioms`` holds the parsed axiom list of an axioms-layout file.
    """

    name: str
    path: str
    raw: str
    text: str
    kind: str  # "text", "json" or "axioms"
    rendered: bool = False
    axioms: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def digest(self) -> str:
        """SHA-256 of the text conditions insert."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def file_digest(self) -> str:
        return hashlib.sha256(self.raw.encode("utf-8")).hexdigest()

    def manifest(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "kind": self.kind,
            "rendered": self.rendered,
            "sha256": self.digest,
            "file_sha256": self.file_digest,
            "chars": len(self.text),
        }

    def system_part(self) -> str:
        """The sandwich system message: the axioms list, or the kernel text verbatim."""
        if self.axioms:
            return render_axioms_system(self.axioms)
        return self.text

    def postfix_part(self) -> str:
        """The sandwich postfix: the kernel as text, stripped (axioms rendered to text)."""
        if self.kind == "axioms":
            return render_axioms_text(self.raw_json()).strip()
        return self.text.strip()

    def raw_json(self) -> dict[str, Any]:
        data = json.loads(self.raw)
        assert isinstance(data, dict)
        return data


def render_axioms_system(axioms: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str:
    """The upstream sandwich system message: header, blank line, one axiom per paragraph."""
    parts = [SANDWICH_HEADER, ""]
    for ax in axioms:
        parts.append(f"Axiom {ax['id']} ({ax['name']}): {ax['statement']}")
        parts.append("")
    return "\n".join(parts) + "\n"


def render_axioms_text(data: dict[str, Any]) -> str:
    """Deterministic plain-text rendering of an axioms-layout kernel.

    Title line (framework and version), the description, then each axiom as
    ``Axiom N: Name`` followed by its statement, function and resolution lines.
    """
    title = " ".join(str(x) for x in (data.get("framework"), data.get("version")) if x)
    lines: list[str] = [title] if title else []
    meta = data.get("meta")
    if isinstance(meta, dict) and meta.get("description"):
        lines += ["", str(meta["description"])]
    for ax in data["axioms"]:
        lines += ["", f"Axiom {ax['id']}: {ax['name']}", str(ax["statement"])]
        for key in ("function", "resolution"):
            if ax.get(key):
                lines.append(f"{key.capitalize()}: {ax[key]}")
    return "\n".join(lines).strip() + "\n"


def _require_axioms(kernel: Kernel) -> None:
    if kernel.kind != "axioms":
        raise InputError(
            f"kernel {kernel.name!r} is not in the axioms layout (a JSON object with an "
            "'axioms' list of {id, name, statement}); ablation needs one"
        )


def axiom_ids(kernel: Kernel) -> list[str]:
    """The axiom ids of an axioms-layout kernel, as strings, in file order; any other
    kernel is an :class:`InputError` (ablation needs the axioms layout)."""
    _require_axioms(kernel)
    return [str(ax["id"]) for ax in kernel.axioms]


def axiom_variant(kernel: Kernel, keep: list[str], name: str) -> Kernel:
    """``kernel`` with only the axioms whose ids are in ``keep`` (file order kept): the
    same document minus the other axioms, rendered to text with :func:`render_axioms_text`
    so that every variant of one kernel (the full one included) has one format and differs
    only by its axioms. Its ``raw`` is that reduced document as JSON, and its digest the
    hash of the rendered text, like any kernel's."""
    _require_axioms(kernel)
    data = kernel.raw_json()
    wanted = set(keep)
    data["axioms"] = [ax for ax in data["axioms"] if str(ax["id"]) in wanted]
    if not data["axioms"]:
        raise InputError(f"kernel {kernel.name!r}: no axiom left in variant {name!r}")
    raw = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return Kernel(
        name=name,
        path=kernel.path,
        raw=raw,
        text=render_axioms_text(data),
        kind="axioms",
        rendered=True,
        axioms=tuple(data["axioms"]),
    )


def _axioms_of(data: Any) -> tuple[dict[str, Any], ...] | None:
    if not isinstance(data, dict) or not isinstance(data.get("axioms"), list):
        return None
    axioms = data["axioms"]
    if not axioms:
        return None
    for ax in axioms:
        if not isinstance(ax, dict) or not {"id", "name", "statement"} <= set(ax):
            return None
    return tuple(axioms)


def load_kernel(path: str | Path, name: str | None = None, *, render: bool = False) -> Kernel:
    """Read a kernel file; ``render`` turns an axioms-layout JSON file into text."""
    p = Path(path)
    name = name or p.stem
    if not p.is_file():
        raise InputError(f"kernel {name!r}: file {p} not found; give NAME=PATH to an existing file")
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"kernel {name!r}: {p} is not UTF-8 text ({exc.reason})") from None
    if not raw.strip():
        raise InputError(f"kernel {name!r}: {p} is empty")
    kind = "text"
    axioms: tuple[dict[str, Any], ...] = ()
    if p.suffix.lower() == ".json" or raw.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            data = None  # several objects pasted together, or prose: use as text
        else:
            found = _axioms_of(data)
            kind = "axioms" if found else "json"
            axioms = found or ()
    text = render_axioms_text(json.loads(raw)) if render and kind == "axioms" else raw
    return Kernel(
        name=name,
        path=str(p),
        raw=raw,
        text=text,
        kind=kind,
        rendered=render and kind == "axioms",
        axioms=axioms,
    )


def parse_kernel_spec(spec: str) -> tuple[str, str]:
    """``NAME=PATH`` → ``(NAME, PATH)``."""
    name, sep, path = spec.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise InputError(f"kernel spec {spec!r} must be NAME=PATH (e.g. mine=kernels/mine.txt)")
    if not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"kernel name {name!r} may hold only letters, digits, '-', '_' and '.'")
    return name.strip(), path.strip()


def bundled_kernel_path(name: str) -> Path:
    return Path(str(resources.files("lem") / "data" / "kernels" / BUNDLED_KERNELS[name]))


def resolve_kernels(specs: list[str], *, render: bool = False) -> dict[str, Kernel]:
    """Load the bundled kernels plus every ``NAME=PATH`` spec (a spec may shadow a bundled
    name)."""
    kernels: dict[str, Kernel] = {}
    for bname in BUNDLED_KERNELS:
        bundled = bundled_kernel_path(bname)
        if bundled.is_file():
            kernels[bname] = load_kernel(bundled, bname, render=render)
    for spec in specs:
        name, path = parse_kernel_spec(spec)
        kernels[name] = load_kernel(path, name, render=render)
    return kernels
