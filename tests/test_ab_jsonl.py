"""The upstream A/B JSONL format: byte-exact round trip, summary rules, strict reading."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lem.errors import InputError
from lem.formats import (
    ABCondition,
    ABFile,
    ABProbe,
    compute_summary,
    format_probe_line,
    iso_now,
    normalise_category,
    read_ab_jsonl,
    write_ab_jsonl,
)
from lem.scoring import get_scorer

EXAMPLE = Path(__file__).parent / "data" / "ab_example.jsonl"


def test_round_trip_is_byte_identical(tmp_path: Path) -> None:
    abfile = read_ab_jsonl(EXAMPLE)
    out = tmp_path / "out.jsonl"
    write_ab_jsonl(out, abfile)
    assert out.read_bytes() == EXAMPLE.read_bytes()


def test_example_contents() -> None:
    abfile = read_ab_jsonl(EXAMPLE)
    assert [p.id for p in abfile.probes] == [
        "P01_WATER_RIGHTS",
        "P02_MEMORY_ARCHIVE",
        "P03_CASUAL_HELLO",
    ]
    for probe in abfile.probes:
        assert list(probe.conditions) == ["baseline", "json", "txt"]
        for cond in probe.conditions.values():
            assert cond.chars == len(cond.response)
            assert cond.heuristic["lek_score"] == cond.lek_score
            assert cond.extra == {}
    assert abfile.summary.model == "example/handwritten-responses"


def test_summary_recomputed_from_probes_equals_stored() -> None:
    abfile = read_ab_jsonl(EXAMPLE)
    stored = abfile.summary
    summary = compute_summary(
        abfile.probes, model=stored.model, duration_s=13.2, max_tokens=1024, ts=stored.ts
    )
    assert summary == stored
    assert json.dumps(summary.to_dict()) == json.dumps(stored.to_dict())


def test_rescoring_reproduces_stored_heuristics() -> None:
    scorer = get_scorer("lek-v2")
    for probe in read_ab_jsonl(EXAMPLE).probes:
        for cond in probe.conditions.values():
            result = scorer.score(cond.response)
            assert result.value == cond.lek_score
            assert {**result.signals, "lek_score": result.value} == cond.heuristic
            assert list(cond.heuristic) == [*result.signals, "lek_score"]


def _probe(pid: str, category: str, **scores: float) -> ABProbe:
    return ABProbe(
        id=pid,
        category=category,
        prompt=f"prompt {pid}",
        conditions={
            name: ABCondition.build(
                f"response {name}", lek_score=s, signals={"questioning": 0}, time_s=1.04
            )
            for name, s in scores.items()
        },
        ts="2026-01-01T00:00:00.000000+00:00",
    )


def test_change_band_uses_unrounded_differences() -> None:
    # 1.1 - 0.6 == 0.5000000000000001 (> 0.5); 1.0 - 0.5 == 0.5 exactly (unchanged)
    probes = [
        _probe("P1", "a", baseline=0.6, k=1.1),
        _probe("P2", "a", baseline=0.5, k=1.0),
        _probe("P3", "b", baseline=2.0, k=1.4),
        _probe("P4", "b", baseline=2.0, k=1.5),
    ]
    summary = compute_summary(probes, model="m", duration_s=0.4, max_tokens=8, ts="t")
    k = summary.conditions[1]
    assert (k["improved"], k["regressed"], k["unchanged"]) == (1, 1, 2)
    assert summary.conditions[0] == {
        "name": "baseline",
        "avg_lek": 1.27,
        "improved": 0,
        "regressed": 0,
        "unchanged": 0,
    }
    assert k["avg_lek"] == 1.25 and k["delta_vs_baseline"] == -0.02
    assert summary.categories == {
        "a": {"baseline": 0.55, "k": 1.05},
        "b": {"baseline": 2.0, "k": 1.45},
    }
    assert summary.duration == "0s" and summary.total_probes == 4


def test_summary_orders_baseline_first_and_skips_missing_conditions() -> None:
    probes = [
        _probe("P1", "x", json=3.0, baseline=1.0),
        _probe("P2", "x", baseline=2.0),
        _probe("P3", "y", txt=-1.0, json=5.0),
    ]
    summary = compute_summary(
        probes, model="m", duration_s=59.6, max_tokens=8, ts="t", condition_order=["txt", "json"]
    )
    assert [row["name"] for row in summary.conditions] == ["baseline", "txt", "json"]
    json_row = summary.conditions[2]
    assert json_row["avg_lek"] == 4.0 and json_row["improved"] == 1
    assert json_row["improved"] + json_row["regressed"] + json_row["unchanged"] == 1
    assert "delta_vs_baseline" in summary.conditions[1]
    assert summary.categories == {
        "x": {"baseline": 1.5, "json": 3.0},
        "y": {"txt": -1.0, "json": 5.0},
    }
    assert summary.duration == "60s"


def test_summary_without_baseline_has_no_deltas() -> None:
    summary = compute_summary(
        [_probe("P1", "x", json=3.0)], model="m", duration_s=1, max_tokens=8, ts="t"
    )
    assert summary.conditions == [
        {"name": "json", "avg_lek": 3.0, "improved": 0, "regressed": 0, "unchanged": 0}
    ]


def test_extra_keys_follow_upstream_keys_and_survive_a_round_trip(tmp_path: Path) -> None:
    probe = _probe("P1", "x", json=3.0, baseline=1.0)
    probe.conditions["json"].extra = {"sample": 0, "reasoning": "because"}
    probe.extra = {"errors": {"txt": "timeout"}}
    summary = compute_summary([probe], model="m", duration_s=1, max_tokens=8, ts="t")
    summary.extra = {"lem": {"run_id": "r1"}}
    path = tmp_path / "x.jsonl"
    write_ab_jsonl(path, ABFile(probes=[probe], summary=summary))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert list(lines[0]) == ["type", "id", "category", "prompt", "conditions", "ts", "errors"]
    assert list(lines[0]["conditions"]) == ["baseline", "json"]
    assert list(lines[0]["conditions"]["json"]) == [
        "response",
        "lek_score",
        "heuristic",
        "chars",
        "time_s",
        "sample",
        "reasoning",
    ]
    assert list(lines[1])[-1] == "lem"
    again = read_ab_jsonl(path)
    assert again.probes == [probe]
    assert again.summary == summary


def test_baseline_is_written_first() -> None:
    probe = _probe("P1", "x", json=3.0, baseline=1.0)
    line = json.loads(format_probe_line(probe))
    assert list(line["conditions"]) == ["baseline", "json"]


def test_build_condition() -> None:
    cond = ABCondition.build(
        "héllo", lek_score=2.5, signals={"a": 1, "b": 0.5}, time_s=1.26, extra={"sample": 2}
    )
    assert cond.heuristic == {"a": 1, "b": 0.5, "lek_score": 2.5}
    assert (cond.chars, cond.time_s, cond.extra) == (5, 1.3, {"sample": 2})


def test_non_ascii_is_escaped_like_upstream_unless_asked(tmp_path: Path) -> None:
    probe = _probe("P1", "x", baseline=1.0)
    probe.conditions["baseline"].response = "a — b"
    summary = compute_summary([probe], model="m", duration_s=1, max_tokens=8, ts="t")
    path = tmp_path / "x.jsonl"
    write_ab_jsonl(path, ABFile([probe], summary))
    assert "\\u2014" in path.read_text()
    write_ab_jsonl(path, ABFile([probe], summary), ensure_ascii=False)
    assert "—" in path.read_text(encoding="utf-8")
    assert read_ab_jsonl(path).probes[0].conditions["baseline"].response == "a — b"


def test_iso_now_format() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", iso_now())


def test_normalise_category() -> None:
    assert normalise_category("Identity") == "identity"
    assert normalise_category(None) == "uncategorised"
    assert normalise_category("  ") == "uncategorised"


# ---- strict reading ----------------------------------------------------------------------


def _lines() -> list[str]:
    return EXAMPLE.read_text(encoding="utf-8").splitlines()


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read_ab_jsonl(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    lines = _lines()
    column = lines[1].index('"id": ') + 6
    lines[1] = lines[1].replace('"id": ', '"id" ', 1)
    path = _write(tmp_path, lines)
    message = _error(path)
    assert f"{path}:2:{column}:" in message and "malformed JSON" in message


def test_missing_key_names_line_and_key(tmp_path: Path) -> None:
    lines = _lines()
    record = json.loads(lines[2])
    del record["prompt"]
    lines[2] = json.dumps(record)
    message = _error(_write(tmp_path, lines))
    assert ":3:" in message and "'prompt'" in message


def test_missing_condition_key(tmp_path: Path) -> None:
    lines = _lines()
    record = json.loads(lines[0])
    del record["conditions"]["json"]["lek_score"]
    lines[0] = json.dumps(record)
    message = _error(_write(tmp_path, lines))
    assert ":1:" in message and "'lek_score'" in message and "'json'" in message


def test_missing_summary_key(tmp_path: Path) -> None:
    lines = _lines()
    record = json.loads(lines[3])
    del record["max_tokens"]
    lines[3] = json.dumps(record)
    message = _error(_write(tmp_path, lines))
    assert ":4:" in message and "'max_tokens'" in message


def test_wrong_type_is_reported(tmp_path: Path) -> None:
    lines = _lines()
    record = json.loads(lines[0])
    record["conditions"]["baseline"]["chars"] = "125"
    lines[0] = json.dumps(record)
    message = _error(_write(tmp_path, lines))
    assert ":1:" in message and "'chars'" in message and "int" in message


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("[1, 2]", "JSON object"),
        ('{"id": "P9"}', "'type'"),
        ('{"type": "probes"}', "unknown record type"),
    ],
)
def test_bad_records(tmp_path: Path, line: str, needle: str) -> None:
    lines = _lines()
    lines.insert(1, line)
    message = _error(_write(tmp_path, lines))
    assert ":2:" in message and needle in message


def test_record_after_summary(tmp_path: Path) -> None:
    lines = _lines()
    message = _error(_write(tmp_path, [*lines, lines[0]]))
    assert ":5:" in message and "after the summary" in message


def test_missing_summary_line(tmp_path: Path) -> None:
    assert "no summary line" in _error(_write(tmp_path, _lines()[:3]))


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "nope.jsonl")


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    lines = _lines()
    path = _write(tmp_path, [lines[0], "", *lines[1:]])
    assert len(read_ab_jsonl(path).probes) == 3
