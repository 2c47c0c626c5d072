"""``lem experiment run``: the alignment loop as stages, each skipped when its inputs are
unchanged.

The stages, in order: ``base/ab`` (the base model under every ``eval`` condition), then
per training stage ``S``: ``S/distill`` (or ``S/data``), ``S/train``, ``S/fuse``, ``S/ab``
(the tuned model under the same conditions, so the kernel is re-injected wherever ``eval``
has a kernel condition), and finally ``report`` (every model compared with the base, the
fine-tuning and realignment tables included).

Each stage has an input hash: the SHA-256 of its settings and of the identities of its
inputs (the weights fingerprint of the model it starts from, the dataset id it trains on,
the run ids it reports). A stage with a finished record for that hash in the store (table
``experiment_stages``) whose outputs still exist is skipped; a changed setting changes the
hash, so the stage and every stage after it run again, into new folders named by the hash
(nothing earlier is overwritten). Within a stage, generation and training resume as their
commands do, so a killed experiment continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lem.errors import InputError
from lem.experiment.config import ExperimentConfig

__all__ = ["StageResult", "experiment_status", "run_experiment"]

Notify = Callable[[str], None]
ProgressFactory = Callable[[str], AbstractContextManager[Any]]


@dataclass
class StageResult:
    """One stage of a run: whether it ran or was skipped, its outputs and wall time."""

    stage: str
    input_hash: str
    skipped: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def _hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _fingerprint(model: str) -> str:
    from lem.backends.hf import resolve_model_dir
    from lem.fingerprint import weights_fingerprint

    return weights_fingerprint(resolve_model_dir(model))


class _Runner:
    def __init__(
        self,
        exp: ExperimentConfig,
        notify: Notify | None,
        progress: ProgressFactory | None,
    ) -> None:
        from lem.store import Store

        self.exp = exp
        self.notify = notify or (lambda _line: None)
        self.progress = progress
        self.folder = exp.folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.store = Store(exp.store)
        self.results: list[StageResult] = []

    def close(self) -> None:
        self.store.close()

    def bar(self, stage: str) -> AbstractContextManager[Any]:
        return self.progress(stage) if self.progress is not None else nullcontext(None)

    def stage(
        self,
        name: str,
        inputs: dict[str, Any],
        work: Callable[[str], dict[str, Any]],
        exists: Callable[[dict[str, Any]], bool] = lambda _o: True,
    ) -> dict[str, Any]:
        """Run ``work(hash)`` unless a finished record for these inputs exists."""
        from lem.store.ledger import utc_now

        key = _hash({"stage": name, **inputs})
        rec = self.store.stage_record(self.exp.name, name, key)
        if rec is not None and rec["status"] == "done" and exists(rec["outputs"]):
            self.notify(f"{name}: unchanged (inputs {key[:12]}), skipped")
            self.results.append(StageResult(name, key, True, rec["outputs"], 0.0))
            outputs: dict[str, Any] = rec["outputs"]
            return outputs
        started = utc_now()
        self.store.save_stage(
            self.exp.name,
            name,
            key,
            status="running",
            outputs={},
            started_at=started,
            wall_s=None,
        )
        self.notify(f"{name}: running (inputs {key[:12]})")
        t0 = time.monotonic()
        try:
            outputs = work(key)
        except BaseException:
            self.store.save_stage(
                self.exp.name,
                name,
                key,
                status="failed",
                outputs={},
                started_at=started,
                wall_s=time.monotonic() - t0,
            )
            raise
        wall = time.monotonic() - t0
        self.store.save_stage(
            self.exp.name,
            name,
            key,
            status="done",
            outputs=outputs,
            started_at=started,
            wall_s=wall,
        )
        self.notify(f"{name}: done in {wall:.1f} s")
        self.results.append(StageResult(name, key, False, outputs, wall))
        return outputs

    def ab(self, name: str, model: str, fingerprint: str, tags: dict[str, str]) -> dict[str, Any]:
        from lem.api import run_ab
        from lem.config import ABConfig

        settings = {**self.exp.eval, "model": f"hf:{model}", "db": self.exp.store}
        settings["tags"] = {**dict(settings.get("tags") or {}), **tags}
        config = ABConfig(**settings)

        def work(_key: str) -> dict[str, Any]:
            with self.bar(name) as hook:
                out = run_ab(config, progress=hook.hook if hook is not None else None)
            if out.status != "done":
                raise InputError(
                    f"{name}: {out.failed} generation(s) failed; run the experiment again to "
                    "retry them"
                )
            return {"run_id": out.run_id, "model": config.model}

        inputs = {"settings": config.model_dump(exclude={"db"}), "weights": fingerprint}
        return self.stage(name, inputs, work)


def run_experiment(
    exp: ExperimentConfig,
    *,
    notify: Notify | None = None,
    progress: ProgressFactory | None = None,
) -> list[StageResult]:
    """Run (or continue) every stage of ``exp``; see the module docstring."""
    r = _Runner(exp, notify, progress)
    try:
        return _run(r, exp)
    finally:
        r.close()


def _run(r: _Runner, exp: ExperimentConfig) -> list[StageResult]:
    from lem.backends.hf import resolve_model_dir

    base_dir = str(resolve_model_dir(exp.model))
    base_fp = _fingerprint(base_dir)
    family = exp.name
    base_ab = r.ab("base/ab", base_dir, base_fp, {"family": family, "version": "0-base"})
    labels: dict[str, dict[str, Any]] = {
        base_ab["model"]: {"label": "base", "family": family, "version": "0"}
    }
    runs = [base_ab["run_id"]]
    pairs: list[str] = []
    current, current_fp = base_dir, base_fp
    datasets: dict[str, dict[str, Any]] = {}
    for i, stage in enumerate(exp.stages, start=1):
        s = stage.name
        if stage.data is not None and stage.data.startswith("@"):
            dataset = datasets[stage.data[1:]]
        else:
            dataset = _data_stage(r, stage, current, current_fp)
        datasets[s] = dataset
        train = _train_stage(r, stage, current, current_fp, dataset)
        fused = _fuse_stage(r, stage, current, train)
        current, current_fp = fused["model"], fused["weights"]
        tuned = r.ab(f"{s}/ab", current, current_fp, {"family": family, "version": f"{i}-{s}"})
        labels[tuned["model"]] = {"label": s, "family": family, "version": str(i)}
        runs.append(tuned["run_id"])
        pairs.append(f"base={s}")
    _report_stage(r, exp, runs, labels, pairs)
    return r.results


def _data_stage(r: _Runner, stage: Any, model: str, model_fp: str) -> dict[str, Any]:
    from lem.distill.dataset import read_manifest

    s = stage.name
    if stage.data is not None:
        path = Path(stage.data)
        manifest = read_manifest(path)

        def given(_key: str) -> dict[str, Any]:
            return {"dataset_id": manifest["dataset_id"], "path": str(path)}

        return r.stage(f"{s}/data", {"dataset_id": manifest["dataset_id"]}, given)
    from lem.distill.config import DistillConfig
    from lem.distill.run import distill

    settings = {**(stage.distill or {}), "model": f"hf:{model}", "db": r.exp.store}
    inputs = {"settings": DistillConfig(**settings).model_dump(exclude={"db"}), "weights": model_fp}

    def work(key: str) -> dict[str, Any]:
        out = r.folder / s / f"dataset-{key[:12]}"
        config = DistillConfig(**settings, out=str(out), dataset_name=f"{r.exp.name}-{s}")
        with r.bar(f"{s}/distill") as hook:
            done = distill(
                config, progress=hook.hook if hook is not None else None, notify=r.notify
            )
        return {"dataset_id": done.dataset.dataset_id, "path": str(out), "run_id": done.run.run_id}

    return r.stage(f"{s}/distill", inputs, work, lambda o: Path(o["path"]).is_dir())


def _train_stage(
    r: _Runner, stage: Any, model: str, model_fp: str, dataset: dict[str, Any]
) -> dict[str, Any]:
    from lem.train.config import TrainConfig
    from lem.train.loop import checkpoints
    from lem.train.run import run_training

    s = stage.name
    probe = TrainConfig(model=model, data=dataset["path"], **stage.train)
    inputs = {
        "settings": probe.model_dump(exclude={"model", "data", "out", "resume"}),
        "weights": model_fp,
        "dataset_id": dataset["dataset_id"],
    }

    def work(key: str) -> dict[str, Any]:
        out = r.folder / s / f"train-{key[:12]}"
        resume = bool(checkpoints(out)) and not (out / "adapter").exists()
        config = probe.model_copy(update={"out": str(out), "resume": resume})
        if (out / "adapter").exists():
            return {"adapter": str(out / "adapter"), "out": str(out)}
        with r.bar(f"{s}/train"):
            done = run_training(config)
        return {
            "adapter": str(done.adapter),
            "out": str(out),
            "final_loss": done.final_loss,
            "final_val_loss": done.final_val_loss,
            "steps": done.steps,
        }

    return r.stage(f"{s}/train", inputs, work, lambda o: Path(o["adapter"]).is_dir())


def _fuse_stage(r: _Runner, stage: Any, model: str, train: dict[str, Any]) -> dict[str, Any]:
    from lem.adapters.peft import fuse_adapter

    s = stage.name
    adapter = Path(train["adapter"])
    inputs = {"adapter": _hash(_adapter_digest(adapter)), "base": model}

    def work(key: str) -> dict[str, Any]:
        out = r.folder / s / f"model-{key[:12]}"
        if not (out / "config.json").is_file():
            fuse_adapter(model, adapter, out)
        return {"model": str(out), "weights": _fingerprint(str(out))}

    return r.stage(f"{s}/fuse", inputs, work, lambda o: Path(o["model"]).is_dir())


def _adapter_digest(adapter: Path) -> str:
    h = hashlib.sha256()
    for name in ("adapter_model.safetensors", "adapters.safetensors", "adapter_config.json"):
        p = adapter / name
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _report_stage(
    r: _Runner,
    exp: ExperimentConfig,
    runs: list[str],
    labels: dict[str, dict[str, Any]],
    pairs: list[str],
) -> dict[str, Any]:
    import yaml

    from lem.defaults import DEFAULT_SCORER
    from lem.report.build import build_report

    scorers = list(exp.report.get("scorers") or exp.eval.get("scorers") or [DEFAULT_SCORER])
    inputs = {"runs": runs, "labels": labels, "pairs": pairs, "report": exp.report}

    def work(key: str) -> dict[str, Any]:
        models = r.folder / "models.yaml"
        models.write_text(yaml.safe_dump(labels, sort_keys=True), encoding="utf-8")
        out = r.folder / "report"
        build_report(
            [],
            out,
            db=exp.store,
            runs=runs,
            scorer=scorers,
            pairs=pairs,
            models_file=models,
            title=f"{exp.name}: base and every training stage",
        )
        return {"report": str(out)}

    return r.stage("report", inputs, work, lambda o: Path(o["report"]).is_dir())


def experiment_status(exp: ExperimentConfig) -> Iterator[dict[str, Any]]:
    """The stage records of ``exp`` in its store, oldest first (status, wall time, inputs
    hash, outputs)."""
    from lem.store import Store

    store = Store(exp.store, create=False)
    try:
        yield from store.experiment_records(exp.name)
    finally:
        store.close()
