"""The typed report summary (``lem.report.summary``): it reads ``summary.json`` back, writes
the same bytes, rejects keys it does not know, and every consumer reads it by attribute
(checked statically by mypy)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lem.report import ReportResult
from lem.report.build import summary_json_text
from lem.report.markdown import render_markdown
from lem.report.summary import (
    Comparison,
    DomainCell,
    DomainDeltaCell,
    ReportSummary,
    ScorerSummary,
)
from tests.test_report import EXPECTED, build_golden

ROOT = Path(__file__).resolve().parent.parent
CONSUMERS = (
    "src/lem/report/markdown.py",
    "src/lem/report/plots.py",
    "src/lem/report/html.py",
    "src/lem/report/outputs.py",
    "src/lem/report/build.py",
    "src/lem/cli/report.py",
)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    return build_golden(tmp_path_factory.mktemp("summary") / "report", plots=False, html=False)


def _golden_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXPECTED / "summary.json").read_text(encoding="utf-8"))
    return data


def test_the_golden_summary_json_reads_back_and_writes_the_same_bytes() -> None:
    text = (EXPECTED / "summary.json").read_text(encoding="utf-8")
    summary = ReportSummary.model_validate(json.loads(text))
    assert summary_json_text(summary.model_dump(mode="python")) + "\n" == text
    data = summary.scorers["lek-v2"]
    assert isinstance(data, ScorerSummary)
    assert all(isinstance(c, Comparison) for c in data.comparisons)
    cells = [c for m in data.models.values() for per in m.domains.values() for c in per.values()]
    # a kernel condition's domain cell carries the paired delta; the baseline's does not
    assert {type(c) for c in cells} == {DomainCell, DomainDeltaCell}


def test_the_report_is_the_model_and_full_summary_its_dump(golden: ReportResult) -> None:
    assert isinstance(golden.report, ReportSummary)
    assert golden.full_summary == golden.report.model_dump(mode="python")
    assert ReportSummary.model_validate(golden.full_summary) == golden.report
    # key order of the dump is the order summary.json has always had
    assert list(golden.full_summary) == [
        "format",
        "title",
        "settings",
        "methods",
        "sources",
        "models",
        "conditions",
        "scorers",
        "notes",
    ]
    scorer = golden.full_summary["scorers"]["lek-v2"]
    assert list(scorer) == [
        "holm",
        "drivers",
        "models",
        "comparisons",
        "cross_model",
        "lineages",
        "pairs",
        "plots",
    ]
    comp = scorer["comparisons"][0]
    assert list(comp) == [
        "id",
        "kind",
        "model_a",
        "condition_a",
        "model_b",
        "condition_b",
        "holm_family",
        "mde_note",
        "n",
        "stats",
        "p_holm",
        "regressions",
        "rescues",
    ]
    assert render_markdown(golden.report) == golden.markdown.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path",
    [
        (),
        ("settings",),
        ("methods", "ci"),
        ("sources", 0),
        ("scorers", "lek-v2"),
        ("scorers", "lek-v2", "holm"),
        ("scorers", "lek-v2", "comparisons", 0),
        ("scorers", "lek-v2", "comparisons", 0, "stats"),
        ("scorers", "lek-v2", "comparisons", 0, "stats", "ci"),
        ("scorers", "lek-v2", "models", "LEK-demo"),
        ("scorers", "lek-v2", "models", "LEK-demo", "conditions", "baseline"),
        ("scorers", "lek-v2", "models", "LEK-demo", "domains", "culture", "json"),
        ("scorers", "lek-v2", "models", "LEK-demo", "incidence", "txt"),
        ("scorers", "lek-v2", "cross_model", 0),
        ("scorers", "lek-v2", "cross_model", 0, "conditions", "json"),
        ("scorers", "lek-v2", "lineages", "demo", 0),
        ("scorers", "lek-v2", "pairs", 0),
    ],
)
def test_an_unknown_key_is_rejected(path: tuple[str | int, ...]) -> None:
    data = _golden_json()
    node: Any = data
    for key in path:
        node = node[key]
    node["unexpected"] = 1
    with pytest.raises(ValidationError, match="unexpected"):
        ReportSummary.model_validate(data)


def test_a_missing_key_or_a_wrong_type_is_rejected() -> None:
    data = _golden_json()
    missing = copy.deepcopy(data)
    del missing["scorers"]["lek-v2"]["comparisons"][0]["p_holm"]
    with pytest.raises(ValidationError, match="p_holm"):
        ReportSummary.model_validate(missing)
    wrong = copy.deepcopy(data)
    wrong["scorers"]["lek-v2"]["comparisons"][0]["kind"] = "sideways"
    with pytest.raises(ValidationError, match="kind"):
        ReportSummary.model_validate(wrong)


def test_the_viewer_reads_a_summary_json_dict_as_the_report() -> None:
    from lem.report.html import _as_report

    assert _as_report(_golden_json()) == ReportSummary.model_validate(_golden_json())
    assert _as_report({"n": 1}) is None


@pytest.mark.slow
def test_consumers_read_only_what_the_model_has(tmp_path: Path) -> None:
    """Markdown, plots, viewer, outputs, build and the CLI type-check against the model, and
    a read of a key the model lacks is an error mypy reports."""
    api = pytest.importorskip("mypy.api")
    bad = tmp_path / "reads_a_missing_key.py"
    bad.write_text(
        "from lem.report.summary import ReportSummary\n\n\n"
        "def first_p(summary: ReportSummary) -> object:\n"
        '    return summary.scorers["lek-v2"].comparisons[0].p_value\n',
        encoding="utf-8",
    )
    files = [str(ROOT / f) for f in CONSUMERS]
    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", *files, str(bad)]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1, out + err
    assert errors[0].startswith(str(bad)) and '"Comparison" has no attribute "p_value"' in errors[0]
    assert status == 1
