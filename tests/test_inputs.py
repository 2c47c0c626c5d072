"""Probe sets, kernels, conditions and the config schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lem.conditions import fold_system, parse_conditions
from lem.config import ABConfig, load_config
from lem.errors import InputError
from lem.kernels import SANDWICH_HEADER, load_kernel, resolve_kernels
from lem.probes import BUNDLED_ID_PATTERN, find_near_duplicates, load_probes


def test_bundled_probe_set_meets_the_brief() -> None:
    ps = load_probes()
    ethical = [p for p in ps if (p.domain or "").lower() != "control"]
    assert len(ethical) >= 100
    assert len({p.domain for p in ethical}) >= 10
    assert any((p.domain or "").lower() == "control" for p in ps)
    assert all(BUNDLED_ID_PATTERN.match(p.id) for p in ps)
    assert len({p.prompt for p in ps}) == len(ps)
    assert find_near_duplicates(list(ps), 0.5) == []


def test_formats_json_jsonl_csv_agree(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "category": "Gov", "prompt": "First question?"},
        {"id": "b", "domain": "Data", "prompt": "Second, with a comma"},
    ]
    (tmp_path / "p.json").write_text(json.dumps(rows))
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "p.csv").write_text(
        'id,domain,prompt\na,Gov,First question?\nb,Data,"Second, with a comma"\n'
    )
    sets = [load_probes(tmp_path / f"p.{ext}") for ext in ("json", "jsonl", "csv")]
    assert [p.prompt for p in sets[0]] == [p.prompt for p in sets[1]] == [p.prompt for p in sets[2]]
    assert sets[0].digest() == sets[1].digest() == sets[2].digest()
    assert [p.category for p in sets[0]] == ["gov", "data"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('[{"id": "a", "prompt": "x"},\n {"id": "a" "prompt": "y"}]', "line 2 column"),
        ('[{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]', "duplicate id 'a'"),
        ('[{"id": "a", "prompt": "   "}]', "empty 'prompt'"),
        ('[{"prompt": "x"}]', "missing or empty 'id'"),
        ('{"id": "a"}', "expected a JSON list"),
        ("[]", "holds no probes"),
    ],
)
def test_probe_file_errors_are_one_line(tmp_path: Path, content: str, fragment: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(InputError) as err:
        load_probes(f)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
    assert str(f) in str(err.value)


def test_selection_and_unknowns() -> None:
    ps = load_probes()
    first, second = ps.probes[0], ps.probes[5]
    assert [p.id for p in ps.select(probe_ids=[second.id, first.id])] == [second.id, first.id]
    dom = ps.probes[0].domain
    assert dom is not None
    sel = ps.select(domains=[dom.upper()])
    assert sel.probes and all(p.domain == dom for p in sel)
    assert len(ps.select(limit=3)) == 3
    with pytest.raises(InputError, match="unknown probe id 'P999_NOPE_X'"):
        ps.select(probe_ids=["P999_NOPE_X"])
    with pytest.raises(InputError, match="unknown domain 'Astrology'"):
        ps.select(domains=["Astrology"])


def test_near_duplicates_flagged() -> None:
    from lem.probes import Probe

    a = Probe("a", "How should a village council share the water of one well in a drought?")
    b = Probe("b", "How should a village council share the water of one well during a drought?")
    c = Probe("c", "Write a poem about a lighthouse keeper.")
    dups = find_near_duplicates([a, b, c])
    assert [(x.id, y.id) for x, y, _ in dups] == [("a", "b")]


def test_kernels_verbatim_axioms_and_pasted_json(tmp_path: Path) -> None:
    k = resolve_kernels([])
    assert k["lek"].kind == "axioms" and len(k["lek"].axioms) == 5
    raw = (Path(k["lek"].path)).read_text(encoding="utf-8")
    assert k["lek"].text == raw
    assert k["lek-text"].kind == "text"
    pasted = tmp_path / "narrative.json"
    pasted.write_text('{"a": 1}\n{"b": 2}\n')
    kp = load_kernel(pasted)
    assert kp.kind == "text" and kp.text == '{"a": 1}\n{"b": 2}\n'
    rendered = load_kernel(k["lek"].path, "lek", render=True)
    assert rendered.rendered and rendered.text.startswith(rendered.raw_json()["framework"])
    assert rendered.digest != k["lek"].digest
    assert load_kernel(k["lek"].path, "lek", render=True).text == rendered.text


def test_sandwich_reproduces_upstream_byte_for_byte(tmp_path: Path) -> None:
    axioms = {
        "framework": "f",
        "version": "1",
        "axioms": [
            {"id": 1, "name": "prime", "statement": "Protect minds."},
            {"id": 2, "name": "self", "statement": "Ground in experience."},
        ],
    }
    (tmp_path / "ax.json").write_text(json.dumps(axioms))
    (tmp_path / "k.txt").write_text("\n  The kernel text.  \n\n")
    kernels = {
        "ax": load_kernel(tmp_path / "ax.json", "ax"),
        "txt": load_kernel(tmp_path / "k.txt", "txt"),
    }
    (cond,) = parse_conditions(["sandwich:ax+txt"], kernels)
    msgs = cond.messages("What now?")
    assert msgs[0] == {
        "role": "system",
        "content": f"{SANDWICH_HEADER}\n\nAxiom 1 (prime): Protect minds.\n\n"
        "Axiom 2 (self): Ground in experience.\n\n",
    }
    assert msgs[1] == {
        "role": "user",
        "content": "What now?\n\n---\n\nConsider this ethical framework in your response:\n"
        "The kernel text.",
    }
    (single,) = parse_conditions(["sandwich:txt"], kernels)
    assert single.messages("Q")[0]["content"] == "\n  The kernel text.  \n\n"


def test_conditions_order_and_errors() -> None:
    kernels = resolve_kernels([])
    conds = parse_conditions(["system:lek", "prefix:lek-text", "baseline"], kernels)
    assert [c.name for c in conds] == ["baseline", "system:lek", "prefix:lek-text"]
    assert conds[2].messages("Q")[0]["content"].endswith("\n\nQ")
    for bad, frag in [
        (["system:nope"], "unknown kernel 'nope'"),
        (["telepathy"], "unknown condition"),
        (["system"], "needs a kernel"),
        (["baseline", "baseline"], "given twice"),
        (["sandwich:a+b+c"], "sandwich:NAME"),
    ]:
        with pytest.raises(InputError, match=frag):
            parse_conditions(bad, kernels)


def test_fold_system() -> None:
    folded = fold_system([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert folded == [{"role": "user", "content": "S\n\nU"}]


def test_config_yaml_and_flags_share_schema(tmp_path: Path) -> None:
    f = tmp_path / "exp.yaml"
    f.write_text("model: hf:/m\nmax-tokens: 64\nconditions: [baseline, prefix:lek]\nseed: 3\n")
    cfg = load_config(f)
    assert cfg.max_tokens == 64 and cfg.conditions == ["baseline", "prefix:lek"]
    merged = cfg.merged({"max_tokens": 32, "seed": None})
    assert merged.max_tokens == 32 and merged.seed == 3
    (tmp_path / "bad.yaml").write_text("modle: x\n")
    with pytest.raises(InputError, match="unknown field 'modle'"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("temperature: -1\n")
    with pytest.raises(InputError, match="field 'temperature'"):
        load_config(tmp_path / "bad2.yaml")
    (tmp_path / "bad3.yaml").write_text("model: [unclosed\n")
    with pytest.raises(InputError, match="malformed YAML at line"):
        load_config(tmp_path / "bad3.yaml")
    assert ABConfig().conditions == ["baseline", "system:lek", "sandwich:lek"]
