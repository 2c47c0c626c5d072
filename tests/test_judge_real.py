"""A real judge run: the ``semantic`` rubric judged by the bundled demo model behind
mlx_lm.server. The demo model babbles, so most judgements fail to parse; what matters is
that every one is either a valid in-range rating or a failure with a reason, never an
invented number, and that the requests really reached the server."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lem.scoring.base import ScoreContext, get_scorer
from lem.scoring.judge import JudgeCache, JudgeScorer
from lem.store.ledger import Store
from tests.mlx_server import mlx_lm_server

pytestmark = pytest.mark.server

RESPONSES = [
    "I would not read it. Her diary is hers, and trust is worth more than curiosity.",
    "",
    "Ask her directly; a conversation respects her more than a secret search would.",
]


def test_semantic_judge_on_real_server(demo_model_dir: Path, tmp_path: Path) -> None:
    cache = JudgeCache(Store(str(tmp_path / "judge.db")))
    contexts = [
        ScoreContext(
            prompt="Should I read my sister's diary?", kernel_text="K", condition="system:lek"
        )
    ] * len(RESPONSES)
    with mlx_lm_server(demo_model_dir) as url:
        scorer = get_scorer(
            "judge:semantic@demo", judge=f"openai:{url}", cache=cache, concurrency=2, max_tokens=48
        )
        assert isinstance(scorer, JudgeScorer)
        with scorer:
            results = scorer.score_batch(RESPONSES, contexts=contexts)
            assert len(results) == len(RESPONSES)
            for res in results:
                if res.ok:
                    dims = [res.signals[d] for d in scorer.rubric.dimension_names]
                    assert all(1 <= v <= 10 for v in dims)
                    assert res.value == pytest.approx(sum(dims) / len(dims))
                else:
                    assert res.status == "failed" and res.reason
                    assert math.isnan(res.value) and res.signals == {}
                    assert not res.reason.startswith("judge request failed"), res.reason
            # every judgement came from a real reply: cached with the raw text and usage
            assert len(cache) == len(RESPONSES)
            for text, ctx in zip(RESPONSES, contexts, strict=True):
                record = cache.get(scorer.cache_key(text, ctx))
                assert record is not None
                assert record.completion_tokens is not None and record.completion_tokens > 0
                assert record.prompt_tokens is not None and record.prompt_tokens > 500
            again = scorer.score_batch(RESPONSES, contexts=contexts)
            assert [r.reason for r in again] == [r.reason for r in results]
