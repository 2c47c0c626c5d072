"""Run an A/B experiment: plan work items, claim them, generate in batches, store, score.

Every generation is written the moment it completes; a re-run of the same configuration
resumes the same run and redoes only what was in flight or failed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

from lem import __version__
from lem.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    as_completion,
    prompt_hash,
)
from lem.conditions import Condition, parse_conditions
from lem.config import ABConfig
from lem.errors import InputError
from lem.kernels import resolve_kernels
from lem.probes import ProbeSet, load_probes
from lem.reasoning import split_reasoning
from lem.redact import redact, redact_obj
from lem.scoring.base import ScoreContext, Scorer
from lem.scoring.service import (
    build_scorers,
    judge_options,
    kernel_text_from_messages,
    score_rows,
    score_run,
)
from lem.store import ItemPlan, Store, new_worker_id

__all__ = [
    "CLAIM_WINDOW",
    "RECORD_BATCH",
    "RECORD_WAIT_S",
    "Experiment",
    "LeaseHeartbeat",
    "ProgressHook",
    "RunOutcome",
    "Tally",
    "claim_next",
    "execute",
    "finish",
    "prepare",
    "record",
    "record_batch",
    "requests_for",
    "score",
    "score_pending",
    "start",
    "stored_values",
]

ProgressHook = Callable[[str, dict[str, Any]], None]
"""Called with ("start", {total}) then ("result", {ok, tokens}) per generation, then ("end", {})."""

CLAIM_WINDOW = 8
"""Once a claim finds items of the run held by another worker, each claim offers the next
``CLAIM_WINDOW`` batches of the worker's queue and takes the first free batch in it, so
workers going through one run in the same order pass over each other's claims in one call
instead of one call per claimed batch (a worker alone claims its next batch plainly)."""
RECORD_BATCH = 32
"""Results stored per ledger transaction at most."""
RECORD_WAIT_S = 0.05
"""Results are stored together only when they arrive faster than one per this many
seconds, for at most this long: a slow stream (a real model) stores each answer at once,
a fast one (a batch, an instant server) one transaction per many answers."""

_LIBS = ("torch", "transformers", "tokenizers", "sqlalchemy", "httpx", "pydantic", "mlx", "mlx-lm")


def _sha(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def model_key_of(backend: Backend) -> str:
    """The content key of a backend's model identity (what items and runs are keyed by)."""
    return _sha(backend.identity())


def library_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "lem": __version__}
    for lib in _LIBS:
        try:
            out[lib] = importlib_metadata.version(lib)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


@dataclass
class Experiment:
    """A resolved experiment: validated inputs, a live backend and the planned items."""

    config: ABConfig
    probes: ProbeSet
    conditions: list[Condition]
    scorers: list[Scorer]
    backend: Backend
    sampling: SamplingParams
    run_id: str
    model_key: str
    plan: list[ItemPlan]
    manifest: dict[str, Any]
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per item key: what planning found about it (e.g. ``context_overflow``), stored on
    the item with its generation."""

    @property
    def fields(self) -> dict[str, Mapping[str, str]]:
        """Per probe id, the probe's extra fields for scorers (benchmark references)."""
        cached: dict[str, Mapping[str, str]] | None = self.__dict__.get("_fields")
        if cached is None:
            cached = {p.id: p.fields for p in self.probes if p.fields}
            self.__dict__["_fields"] = cached
        return cached

    @property
    def plan_by_key(self) -> dict[str, ItemPlan]:
        cached: dict[str, ItemPlan] | None = self.__dict__.get("_plan_by_key")
        if cached is None:
            cached = {p.key: p for p in self.plan}
            self.__dict__["_plan_by_key"] = cached
        return cached


@dataclass
class RunOutcome:
    run_id: str
    db: str
    resumed: bool
    planned: int
    generated: int
    failed: int
    skipped_claimed: int
    new_items: int
    duration_s: float
    status: str
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def load_inputs(
    config: ABConfig, probe_set: ProbeSet | None = None, **scorer_options: Any
) -> tuple[ProbeSet, list[Condition], list[Scorer]]:
    """Validate probes, kernels, conditions and scorers before anything is loaded or written.

    ``probe_set`` replaces the config's probe file (a benchmark's items as prompts); a
    run given its probes this way may have no scorer (judged later)."""
    if probe_set is not None:
        probes = probe_set
    else:
        probes = load_probes(config.probes).select(config.probe_ids, config.domains, config.limit)
    kernels = resolve_kernels(config.kernels, render=config.render_json_kernels)
    conditions = parse_conditions(config.condition_specs(kernels), kernels)
    if probe_set is not None and not config.scorers:
        return probes, conditions, []
    scorers = build_scorers(config.scorers, **scorer_options)
    return probes, conditions, scorers


def item_seed(run_seed: int, key: str) -> int:
    """Per-item seed: sampled text then depends on the item, never on batching or order."""
    return int(hashlib.sha256(f"{run_seed}:{key}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def scorer_options(config: ABConfig, store: Store | None = None) -> dict[str, Any]:
    """The config's options for configurable scorers (judges)."""
    return judge_options(
        config.scorers,
        judge=config.judge,
        api_key_env=config.api_key_env,
        concurrency=config.concurrency,
        store=store,
    )


def prepare(
    config: ABConfig,
    backend: Backend,
    store: Store | None = None,
    probe_set: ProbeSet | None = None,
) -> Experiment:
    """Plan every (probe, condition, sample) item with its content-addressed key
    (``probe_set``: see :func:`load_inputs`)."""
    probes, conditions, scorers = load_inputs(config, probe_set, **scorer_options(config, store))
    sampling = SamplingParams(
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_tokens,
        seed=config.seed,
        stop=tuple(config.stop),
    )
    if config.prompt_format == "completion" and not _renders_locally(backend):
        raise InputError(
            "--prompt-format completion sends plain text prompts, which lem renders only for "
            "local models (hf, mlx); use a chat prompt with this backend"
        )
    identity = backend.identity()
    model_key = _sha(identity)
    sampling_json = json.dumps(sampling.as_dict(), sort_keys=True)
    plan: list[ItemPlan] = []
    overflow = _ContextCheck(backend, config.max_tokens)
    flags: dict[str, dict[str, Any]] = {}
    position = 0
    owner: dict[str, str] = {}
    owner_folded: dict[str, bool] = {}
    clashes: dict[tuple[str, str], tuple[str, bool]] = {}
    for probe in probes:
        for cond in conditions:
            messages = cond.messages(probe.prompt)
            folded = False
            if config.prompt_format == "completion":
                messages, folded = as_completion(messages)
            rendered, fallback = backend.render(messages)
            fallback = fallback or folded
            rendered_hash = prompt_hash(rendered)
            too_long = overflow.check(rendered, probe.id, cond.name)
            for sample in range(config.samples):
                key = _sha(
                    {
                        "model": model_key,
                        "prompt": rendered_hash,
                        "sampling": sampling.as_dict(),
                        "sample": sample,
                    }
                )
                if too_long:
                    flags[key] = {"context_overflow": too_long}
                first = owner.setdefault(key, cond.name)
                folded_first = owner_folded.setdefault(key, fallback)
                if first != cond.name:
                    clashes.setdefault((first, cond.name), (probe.id, fallback or folded_first))
                plan.append(
                    ItemPlan(
                        key=key,
                        model_key=model_key,
                        messages=json.dumps(messages, ensure_ascii=False),
                        rendered_hash=rendered_hash,
                        system_fallback=fallback,
                        sampling=sampling_json,
                        sample_index=sample,
                        seed=item_seed(config.seed, key),
                        position=position,
                        probe_id=probe.id,
                        category=probe.category,
                        prompt=probe.prompt,
                        condition=cond.name,
                    )
                )
                position += 1
    fell_back = _placement_fallbacks(config, conditions, clashes)
    if fell_back:
        plan = [p for p in plan if p.condition not in fell_back]
        conditions = [c for c in conditions if c.name not in fell_back]
        clashes = {k: v for k, v in clashes.items() if not set(k) & set(fell_back)}
    if clashes:
        (a, b), (probe_id, folded_in) = next(iter(clashes.items()))
        why = ": the system message was folded into the user turn" if folded_in else ""
        raise InputError(
            f"conditions {a} and {b} give this model the same prompt (probe {probe_id}{why}), "
            "so they would be one answer counted twice; drop one of them"
        )
    resolved: dict[str, Any] = {
        "model": model_key,
        "probes": probes.digest(),
        "conditions": [
            {"name": c.name, "kernels": [k.digest for k in c.kernels]} for c in conditions
        ],
        "sampling": sampling.as_dict(),
        "samples": config.samples,
    }
    if config.prompt_format != "chat":
        resolved["prompt_format"] = config.prompt_format
    run_id = _sha(resolved)[:16]
    if overflow.count and config.context_overflow == "error":
        raise InputError(
            overflow.message() + "; shorten the kernel or prompts, lower "
            "--max-tokens, or pass --context-overflow warn to generate anyway"
        )
    manifest = {
        "run_id": run_id,
        "model_spec": redact(config.model),
        "model": identity,
        "model_key": model_key,
        "model_location": backend.provenance(),
        "context": {
            "length": overflow.context,
            "overflowing_items": len(flags),
            "policy": config.context_overflow,
        },
        "system_role": backend.supports_system_role(),
        "probes": {
            "source": probes.source,
            "sha256": probes.digest(),
            "count": len(probes),
            "ids": [p.id for p in probes],
            **probes.manifest_families(),
        },
        "conditions": [c.manifest() for c in conditions],
        **({"placement_fallback": fell_back} if fell_back else {}),
        "sampling": sampling.as_dict(),
        "samples": config.samples,
        "scorers": [
            {"id": s.id, "version": s.version, "definition_hash": s.definition_hash()}
            for s in scorers
        ],
        "tags": dict(config.tags),
        "versions": library_versions(),
        "host": {"hostname": socket.gethostname(), "platform": platform.platform()},
        "items": len(plan),
    }
    return Experiment(
        config=config,
        probes=probes,
        conditions=conditions,
        scorers=scorers,
        backend=backend,
        sampling=sampling,
        run_id=run_id,
        model_key=model_key,
        plan=plan,
        manifest=manifest,
        flags=flags,
    )


def _placement_fallbacks(
    config: ABConfig,
    conditions: list[Condition],
    clashes: Mapping[tuple[str, str], tuple[str, bool]],
) -> dict[str, dict[str, str]]:
    """Placement conditions left out because this model has no system role: a ``system``
    placement folded into the user turn is the ``prefix`` placement's prompt exactly, so it
    is recorded (manifest ``placement_fallback``) and reported as such, never generated and
    counted as a second condition."""
    if not config.placements:
        return {}
    kinds = {c.name: c.kind for c in conditions}
    placed = {f"{p}:{config.placement_kernel}" for p in config.placements}
    out: dict[str, dict[str, str]] = {}
    for (a, b), (_probe, folded) in clashes.items():
        for name, other in ((a, b), (b, a)):
            if folded and name in placed and kinds.get(name) == "system" and other in placed:
                out[name] = {
                    "same_prompt_as": other,
                    "reason": "the model has no system role: the system message was folded "
                    "into the user turn",
                }
    return out


def _renders_locally(backend: Backend) -> bool:
    from lem.backends.local import LocalModelBackend

    return isinstance(backend, LocalModelBackend)


class _ContextCheck:
    """Compares each rendered prompt's token count plus ``max_tokens`` with the model's
    context, when the backend knows both (local models; servers that report a length
    and can count are checked too, others reject overflowing requests themselves)."""

    def __init__(self, backend: Backend, max_tokens: int) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        self.context = backend.context_length()
        self.count = 0
        self.worst: tuple[int, str, str] | None = None

    def check(self, rendered: str, probe_id: str, condition: str) -> dict[str, int] | None:
        if self.context is None:
            return None
        tokens = self.backend.count_tokens(rendered)
        if tokens is None or tokens + self.max_tokens <= self.context:
            return None
        self.count += 1
        if self.worst is None or tokens > self.worst[0]:
            self.worst = (tokens, probe_id, condition)
        return {"prompt_tokens": tokens, "max_tokens": self.max_tokens, "context": self.context}

    def message(self) -> str:
        assert self.worst is not None
        tokens, probe_id, condition = self.worst
        return (
            f"{self.count} prompt(s) + --max-tokens {self.max_tokens} exceed the model's "
            f"context of {self.context} tokens (longest: probe {probe_id} under {condition}, "
            f"{tokens} prompt tokens)"
        )


def score_pending(
    store: Store,
    run_id: str,
    scorers: list[Scorer],
    fields: Mapping[str, Mapping[str, str]] | None = None,
) -> int:
    """Score done items that lack a current score (e.g. after a crash between the two)."""
    return sum(score_run(store, run_id, scorers, fields).values())


def _context(plan: ItemPlan, fields: Mapping[str, str] | None = None) -> ScoreContext:
    return ScoreContext(
        prompt=plan.prompt,
        kernel_text=kernel_text_from_messages(json.loads(plan.messages), plan.prompt),
        condition=plan.condition,
        fields=fields,
    )


def _result_values(result: GenerationResult, flags: dict[str, Any] | None = None) -> dict[str, Any]:
    answer, embedded = split_reasoning(result.text)
    reasoning = "\n\n".join(x for x in (result.reasoning, embedded) if x)
    extra = {**(flags or {}), **result.extra}
    if result.ok and not answer.strip():
        extra["empty_answer"] = "empty" if not answer else "whitespace"
    return {
        "text": result.text,
        "answer": answer,
        "reasoning": reasoning,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "time_s": result.time_s,
        "finish_reason": result.finish_reason,
        "error": result.error,
        "system_fallback": result.system_fallback,
        "extra": json.dumps(extra, sort_keys=True, default=str),
        **({"rendered_hash": result.rendered_hash} if result.rendered_hash else {}),
    }


class LeaseHeartbeat:
    """Renews the leases of the claims in flight every ``lease_s / 3`` seconds, so a batch
    that runs longer than a lease is never taken over by another worker."""

    def __init__(self, store: Store, worker: str, lease_s: float) -> None:
        self.store, self.worker, self.lease_s = store, worker, lease_s
        self.keys: set[str] = set()
        self.renewals = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lem-lease", daemon=True)

    def hold(self, keys: list[str]) -> None:
        with self._lock:
            self.keys = set(keys)

    def drop(self, key: str) -> None:
        with self._lock:
            self.keys.discard(key)

    def beat(self) -> None:
        """Renew the held claims once (the thread calls this every ``lease_s / 3``)."""
        with self._lock:
            keys = list(self.keys)
        if keys:
            try:
                self.store.renew(keys, self.worker, self.lease_s)
                self.renewals += 1
            except Exception:  # a missed heartbeat only shortens the lease
                return

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            self.beat()

    def start(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


@dataclass
class Tally:
    """What one invocation did, for its :class:`RunOutcome`."""

    generated: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, result: GenerationResult) -> None:
        if result.ok:
            self.generated += 1
        else:
            self.failed += 1
            if len(self.errors) < 20:
                self.errors.append(f"{result.key[:12]}: {result.error}")


def start(exp: Experiment, store: Store, worker: str) -> tuple[bool, int, list[dict[str, Any]]]:
    """Step 1: open (or resume) the run, add its missing items, score what a crash left
    unscored; returns (resumed, new items, unfinished items longest prompt first)."""
    resumed = store.open_run(
        exp.run_id,
        name=exp.config.name,
        config=redact_obj(exp.config.model_dump()),
        manifest=redact_obj({**exp.manifest, "worker": worker}),
    )
    new_items = store.add_plan(exp.run_id, exp.plan)
    score_pending(store, exp.run_id, exp.scorers, exp.fields)
    todo = store.unfinished(exp.run_id)
    todo.sort(key=lambda r: -len(r["messages"]))
    return resumed, new_items, todo


def requests_for(
    exp: Experiment, rows: list[dict[str, Any]], keys: list[str]
) -> list[GenerationRequest]:
    """Step 3: the generation requests of the claimed ``keys`` (messages and per-item seed
    as stored)."""
    by_key = {r["key"]: r for r in rows}
    return [
        GenerationRequest(
            key=k,
            messages=json.loads(by_key[k]["messages"]),
            sampling=exp.sampling,
            seed=int(by_key[k]["seed"]),
        )
        for k in keys
    ]


def stored_values(exp: Experiment, result: GenerationResult) -> dict[str, Any]:
    """The columns one result is stored with: answer and reasoning split, planning flags
    merged, the planned system-role fallback kept."""
    values = _result_values(result, exp.flags.get(result.key))
    plan = exp.plan_by_key.get(result.key)
    if plan is not None and not result.system_fallback:
        values["system_fallback"] = plan.system_fallback
    return values


def record(
    store: Store, exp: Experiment, worker: str, result: GenerationResult
) -> dict[str, Any] | None:
    """Step 4: store one result if this worker still holds its claim; the stored values,
    or None if the claim was lost."""
    values = stored_values(exp, result)
    return values if store.record(result.key, worker, values, ok=result.ok) else None


def record_batch(
    store: Store, exp: Experiment, worker: str, results: Sequence[GenerationResult]
) -> list[tuple[GenerationResult, dict[str, Any]]]:
    """Step 4, batched: store several results in one transaction (each only if this
    worker still holds its claim); the results stored, with their values."""
    rows = [(r, stored_values(exp, r)) for r in results]
    kept = store.record_many(worker, [(r.key, v, r.ok) for r, v in rows])
    return [(r, v) for r, v in rows if r.key in kept]


def score(store: Store, exp: Experiment, answers: list[tuple[str, str]]) -> int:
    """Step 5: score recorded answers ``(key, answer)`` with every scorer of the run."""
    if not answers:
        return 0
    keys = [k for k, _ in answers]
    fields = exp.fields
    plans = [exp.plan_by_key[k] for k in keys]
    rows = score_rows(
        exp.scorers,
        keys,
        [a for _, a in answers],
        [_context(p, fields.get(p.probe_id)) for p in plans],
    )
    store.add_scores(rows)
    return len(rows)


def finish(store: Store, exp: Experiment, tally: Tally, seconds: float) -> str:
    """Step 6: the run's status (done, partial, failed) recorded with this invocation."""
    remaining = len(store.unfinished(exp.run_id))
    status = "done" if remaining == 0 else ("failed" if tally.failed else "partial")
    store.finish_run(
        exp.run_id, status=status, extra={"invocation_s": seconds, "remaining": remaining}
    )
    return status


def claim_next(
    store: Store, queue: Sequence[str], worker: str, lease_s: float, size: int, *, shared: bool
) -> tuple[list[str], int, bool]:
    """Claim the next batch of ``queue``: ``(claimed, used, shared)``, where the first
    ``used`` keys of the queue are dealt with (claimed, or held by another worker) and
    ``shared`` says whether another worker is on the run. A worker alone claims the next
    ``size`` keys; once a claim wins fewer than it offered, each claim offers the next
    ``CLAIM_WINDOW`` batches and takes the first ``size`` free keys in it."""
    if shared:
        window = list(queue[: size * CLAIM_WINDOW])
        claimed = store.claim(window, worker, lease_s, limit=size)
        used = len(window) if len(claimed) < size else window.index(claimed[-1]) + 1
        return claimed, used, True
    window = list(queue[:size])
    claimed = store.claim(window, worker, lease_s)
    return claimed, len(window), len(claimed) < len(window)


class _Buffer:
    """Results of one claimed batch waiting to be stored: a result that comes
    ``RECORD_WAIT_S`` or more after the previous one is stored at once (with any waiting);
    faster ones wait, and are stored in one ledger transaction when ``RECORD_BATCH`` are
    waiting or the oldest has waited ``RECORD_WAIT_S``."""

    def __init__(
        self,
        store: Store,
        exp: Experiment,
        worker: str,
        heartbeat: LeaseHeartbeat,
        tally: Tally,
        hook: ProgressHook,
    ) -> None:
        self.store, self.exp, self.worker = store, exp, worker
        self.heartbeat, self.tally, self.hook = heartbeat, tally, hook
        self.waiting: list[GenerationResult] = []
        self.since = 0.0
        self.last = time.monotonic()
        self.answers: list[tuple[str, str]] = []

    def add(self, result: GenerationResult) -> None:
        now = time.monotonic()
        slow = now - self.last >= RECORD_WAIT_S
        self.last = now
        if not self.waiting:
            self.since = now
        self.waiting.append(result)
        if slow or len(self.waiting) >= RECORD_BATCH or now - self.since >= RECORD_WAIT_S:
            self.flush()

    def flush(self) -> None:
        for result, values in record_batch(self.store, self.exp, self.worker, self.waiting):
            self.tally.count(result)
            if result.ok:
                self.answers.append((result.key, values["answer"]))
        for result in self.waiting:
            self.heartbeat.drop(result.key)
            self.hook("result", {"ok": result.ok, "tokens": result.completion_tokens or 0})
        self.waiting = []


def execute(exp: Experiment, store: Store, *, progress: ProgressHook | None = None) -> RunOutcome:
    """Generate and score every unfinished item of the experiment's run: start, then per
    batch claim → generate → record → score (leases renewed by a heartbeat), then finish."""
    t0 = time.monotonic()
    worker = new_worker_id()
    notices = _identity_changes(store, exp)
    resumed, new_items, todo = start(exp, store, worker)
    hook = progress or (lambda _e, _d: None)
    hook("start", {"total": len(exp.plan), "done": len(exp.plan) - len(todo), "todo": len(todo)})
    tally = Tally()
    claimed: list[str] = []
    heartbeat = LeaseHeartbeat(store, worker, exp.config.lease_s).start()
    try:
        size = max(1, exp.backend.preferred_batch_size())
        queue = [r["key"] for r in todo]
        rows = {r["key"]: r for r in todo}
        shared = False
        while queue:
            claimed, used, shared = claim_next(
                store, queue, worker, exp.config.lease_s, size, shared=shared
            )
            heartbeat.hold(claimed)
            queue = queue[used:]
            tally.skipped += used - len(claimed)
            if not claimed:
                continue
            chunk = [rows[k] for k in claimed]
            pending = set(claimed)
            buffer = _Buffer(store, exp, worker, heartbeat, tally, hook)
            for result in exp.backend.generate(requests_for(exp, chunk, claimed)):
                if result.key not in pending:
                    continue
                pending.discard(result.key)
                buffer.add(result)
            buffer.flush()
            answers = buffer.answers
            if pending:
                store.release(pending, worker)
            claimed = []
            score(store, exp, answers)
    except BaseException:
        if claimed:
            store.release(claimed, worker)
        store.finish_run(
            exp.run_id, status="interrupted", extra={"invocation_s": time.monotonic() - t0}
        )
        raise
    finally:
        heartbeat.stop()
        hook("end", {})
    duration = time.monotonic() - t0
    status = finish(store, exp, tally, duration)
    return RunOutcome(
        run_id=exp.run_id,
        db=store.display_url,
        resumed=resumed,
        planned=len(exp.plan),
        generated=tally.generated,
        failed=tally.failed,
        skipped_claimed=tally.skipped,
        new_items=new_items,
        duration_s=duration,
        status=status,
        errors=tally.errors,
        notices=[*notices, *exp.backend.notices()],
    )


def _identity_changes(store: Store, exp: Experiment) -> list[str]:
    """A line for each earlier run of the same model spec whose model identity differs
    from this one's (swapped weights behind one URL or path): the user should know why
    nothing is resumed."""
    spec = exp.manifest["model_spec"]
    changed: list[str] = []
    for run in store.list_runs():
        m = run["manifest"]
        if m.get("model_spec") != spec or m.get("model_key") in (None, exp.model_key):
            continue
        old, new = m.get("model") or {}, exp.manifest["model"]
        what = [k for k in sorted({*old, *new}) if old.get(k) != new.get(k)]
        changed.append(
            f"model {spec} is not the model of run {run['run_id']} (changed: "
            f"{', '.join(what) or 'identity'}): its answers are not reused"
        )
    return changed[-1:]
