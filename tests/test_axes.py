"""Kernel ablation and kernel placement as experiment axes: the variants are exactly the
kernel minus or only one axiom (rendered text checked), the placements render as specified
on chat templates with and without a system role, and a ``system`` placement that falls
back to a user prefix is recorded as such, never counted as a second condition."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lem.backends.hf import HFBackend
from lem.conditions import parse_conditions
from lem.conditions.axioms import ablation_specs
from lem.config import ABConfig
from lem.distill.config import DistillConfig
from lem.errors import InputError
from lem.kernels import render_axioms_text, resolve_kernels
from lem.runner import prepare
from tests.tiny_models import BOS, tiny_models

__all__ = ["tiny_models"]

KERNEL = {
    "framework": "test-kernel",
    "version": "2",
    "meta": {"description": "Three rules."},
    "axioms": [
        {"id": 1, "name": "care", "statement": "Care first.", "function": "Purpose."},
        {"id": 2, "name": "truth", "statement": "Say what is true."},
        {"id": "c", "name": "consent", "statement": "Ask first.", "resolution": "Then act."},
    ],
}
FULL = (
    "test-kernel 2\n\nThree rules.\n\n"
    "Axiom 1: care\nCare first.\nFunction: Purpose.\n\n"
    "Axiom 2: truth\nSay what is true.\n\n"
    "Axiom c: consent\nAsk first.\nResolution: Then act.\n"
)
BLOCKS = {
    "1": "Axiom 1: care\nCare first.\nFunction: Purpose.\n\n",
    "2": "Axiom 2: truth\nSay what is true.\n\n",
    "c": "Axiom c: consent\nAsk first.\nResolution: Then act.\n",
}


def _kernels(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(KERNEL), encoding="utf-8")
    return dict(resolve_kernels([f"k={path}"]))


def test_ablation_conditions_are_the_kernel_minus_or_only_one_axiom(tmp_path: Path) -> None:
    kernels = _kernels(tmp_path)
    specs = ablation_specs(kernels["k"])  # type: ignore[arg-type]
    assert specs == [
        "axioms:k",
        "axioms:k/minus-1",
        "axioms:k/minus-2",
        "axioms:k/minus-c",
        "axioms:k/only-1",
        "axioms:k/only-2",
        "axioms:k/only-c",
    ]
    conds = {c.name: c for c in parse_conditions(specs, kernels)}  # type: ignore[arg-type]
    head = "test-kernel 2\n\nThree rules.\n\n"
    assert conds["axioms:k"].messages("Q?") == [
        {"role": "system", "content": FULL},
        {"role": "user", "content": "Q?"},
    ]
    assert render_axioms_text(KERNEL) == FULL
    for i in BLOCKS:
        minus = conds[f"axioms:k/minus-{i}"].kernels[0].text
        only = conds[f"axioms:k/only-{i}"].kernels[0].text
        kept = "".join(b for j, b in BLOCKS.items() if j != i)
        assert minus == (head + kept).rstrip("\n") + "\n"
        assert only == (head + BLOCKS[i]).rstrip("\n") + "\n"
    for cond in conds.values():
        k = cond.kernels[0]
        assert k.digest == hashlib.sha256(k.text.encode()).hexdigest()
    digests = {c.kernels[0].digest for c in conds.values()}
    assert len(digests) == 7  # every variant hashed apart
    assert conds["axioms:k/minus-2"].manifest()["ablation"] == {"variant": "minus", "axiom": "2"}
    again = parse_conditions(["axioms:k/only-c"], kernels)  # type: ignore[arg-type]
    assert again[0].kernels[0].digest == conds["axioms:k/only-c"].kernels[0].digest


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("axioms:lek-text", "not in the axioms layout"),
        ("axioms:k/minus-9", "minus-ID or only-ID"),
        ("axioms:k/drop-1", "minus-ID or only-ID"),
        ("axioms:nope", "unknown kernel 'nope'"),
        ("axioms", "needs a kernel"),
    ],
)
def test_bad_ablation_specs_are_one_clear_line(tmp_path: Path, spec: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        parse_conditions([spec], _kernels(tmp_path))  # type: ignore[arg-type]


def test_ablate_expands_the_conditions_and_keeps_baseline(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(KERNEL), encoding="utf-8")
    cfg = ABConfig(ablate="k", kernels=[f"k={path}"])
    assert cfg.conditions == ["baseline"]
    assert cfg.condition_specs() == ["baseline", *ablation_specs(_kernels(tmp_path)["k"])]  # type: ignore[arg-type]
    given = ABConfig(ablate="k", kernels=[f"k={path}"], conditions=["sandwich:lek"])
    assert given.condition_specs()[:3] == ["baseline", "sandwich:lek", "axioms:k"]
    stored = ABConfig(**json.loads(cfg.model_dump_json()))  # what a worker rebuilds
    assert stored.condition_specs() == cfg.condition_specs()
    with pytest.raises(InputError, match="--ablate lek-x: unknown kernel"):
        ABConfig(ablate="lek-x").condition_specs()
    with pytest.raises(InputError, match="'lek-text' is not in the axioms layout"):
        ABConfig(ablate="lek-text").condition_specs()
    with pytest.raises(InputError, match="ablation needs at least 2"):
        one = tmp_path / "one.json"
        one.write_text(json.dumps({**KERNEL, "axioms": KERNEL["axioms"][:1]}), encoding="utf-8")  # type: ignore[index]
        ABConfig(ablate="one", kernels=[f"one={one}"]).condition_specs()


def test_placements_expand_with_aliases_and_reject_unknown_names() -> None:
    cfg = ABConfig(placements=["system", "prefix+suffix", "system+suffix", "suffix", "prefix"])
    assert cfg.placements == ["system", "wrap", "sandwich", "suffix", "prefix"]
    assert cfg.condition_specs() == [
        "baseline",
        "system:lek",
        "wrap:lek",
        "sandwich:lek",
        "suffix:lek",
        "prefix:lek",
    ]
    assert ABConfig(placements=["suffix"], placement_kernel="lek-text").condition_specs() == [
        "baseline",
        "suffix:lek-text",
    ]
    with pytest.raises(ValueError, match="unknown placement 'footer'"):
        ABConfig(placements=["footer"])
    with pytest.raises(ValueError, match="distillation generates under one condition"):
        DistillConfig(placements=["system"], conditions=["system:lek"])


def _kernel_text(tmp_path: Path) -> object:
    path = tmp_path / "t.txt"
    path.write_text("Be kind.", encoding="utf-8")
    return resolve_kernels([f"t={path}"])["t"]


@pytest.mark.parametrize("template", ["system", "no_system_raise"])
def test_placements_render_as_specified(
    tmp_path: Path, tiny_models: Callable[..., Path], template: str
) -> None:
    backend = HFBackend(str(tiny_models(template)))
    kernels = {"t": _kernel_text(tmp_path)}
    conds = {
        c.name: c
        for c in parse_conditions(
            ["baseline", "system:t", "prefix:t", "suffix:t", "sandwich:t", "wrap:t"],
            kernels,  # type: ignore[arg-type]
        )
    }
    post = "\n\n---\n\nConsider this ethical framework in your response:\nBe kind."

    def turn(role: str, text: str) -> str:
        return f"<|{role}|>\n{text}<|end|>\n"

    gen = "<|assistant|>\n"
    want_user = {
        "baseline": "Q?",
        "prefix:t": "Be kind.\n\nQ?",
        "suffix:t": "Q?\n\nBe kind.",
        "wrap:t": "Be kind.\n\nQ?\n\nBe kind.",
    }
    for name, user in want_user.items():
        text, fallback = backend.render(conds[name].messages("Q?"))
        assert (text, fallback) == (BOS + turn("user", user) + gen, False), name
    sys_text, sys_fb = backend.render(conds["system:t"].messages("Q?"))
    sw_text, sw_fb = backend.render(conds["sandwich:t"].messages("Q?"))
    if template == "system":
        assert (sys_text, sys_fb) == (
            BOS + turn("system", "Be kind.") + turn("user", "Q?") + gen,
            False,
        )
        assert sw_text == BOS + turn("system", "Be kind.") + turn("user", "Q?" + post) + gen
        assert sw_fb is False
    else:  # folded: the system placement becomes the prefix placement's prompt exactly
        assert (sys_text, sys_fb) == (BOS + turn("user", "Be kind.\n\nQ?") + gen, True)
        assert sw_text == BOS + turn("user", "Be kind.\n\nQ?" + post) + gen
        assert sw_fb is True


@pytest.mark.parametrize("template", ["system", "no_system_raise"])
def test_a_system_placement_that_falls_back_is_recorded_not_counted_twice(
    tmp_path: Path, tiny_models: Callable[..., Path], template: str
) -> None:
    backend = HFBackend(str(tiny_models(template)))
    _kernel_text(tmp_path)
    cfg = ABConfig(
        placements=["system", "prefix", "sandwich"],
        placement_kernel="t",
        kernels=[f"t={tmp_path / 't.txt'}"],
        limit=3,
        max_tokens=4,
        context_overflow="warn",
    )
    exp = prepare(cfg, backend)
    names = [c.name for c in exp.conditions]
    fallbacks = {p.condition: p.system_fallback for p in exp.plan}
    if template == "system":
        assert names == ["baseline", "system:t", "prefix:t", "sandwich:t"]
        assert "placement_fallback" not in exp.manifest
        assert not any(fallbacks.values())
    else:
        assert names == ["baseline", "prefix:t", "sandwich:t"]
        assert exp.manifest["placement_fallback"] == {
            "system:t": {
                "same_prompt_as": "prefix:t",
                "reason": "the model has no system role: the system message was folded "
                "into the user turn",
            }
        }
        assert fallbacks == {"baseline": False, "prefix:t": False, "sandwich:t": True}
    assert len(exp.plan) == 3 * len(names)
    # without the placement axis the same clash stays an error
    clash = pytest.raises(InputError, match="give this model the same prompt")
    with clash if template != "system" else contextlib.nullcontext():
        plain = cfg.model_copy(update={"placements": [], "conditions": ["system:t", "prefix:t"]})
        prepare(plain, backend)


def test_the_domain_table_turns_or_steps_aside_when_conditions_do_not_fit() -> None:
    from rich.console import Console

    from lem.results import _domain_table

    conds = ["baseline", *ablation_specs(resolve_kernels([])["lek"])]
    cats = {"privacy": {c: [1.0, 2.0] for c in conds}, "health": {c: [3.0] for c in conds}}
    narrow = Console(width=80, record=True)
    _domain_table(narrow, "lek-v2", conds, cats)
    text = narrow.export_text()
    assert "┃ condition          ┃ health ┃ privacy ┃" in text
    assert "│ axioms:lek/only-5  │   3.00 │    1.50 │" in text
    wide = Console(width=400, record=True)
    _domain_table(wide, "lek-v2", conds[:3], cats)
    assert "┃ domain  ┃ baseline ┃ axioms:lek ┃ axioms:lek/minus-1 ┃" in wide.export_text()
    many = {f"domain-{i:02d}": {c: [1.0] for c in conds} for i in range(12)}
    tiny = Console(width=60, record=True)
    _domain_table(tiny, "lek-v2", conds, many)
    assert "12 domains × 12 conditions do not fit" in tiny.export_text().replace("\n", " ")
