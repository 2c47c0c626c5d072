"""``lem data conv``: multi-turn conversations → the chat dataset format of ``lem distill``.

Input: a ``.jsonl`` file (one conversation per line) or a ``.json`` list. A conversation is
an object with ``messages`` (a list of ``{"role", "content"}``), optionally ``id`` and
``domain`` (or ``category``); ShareGPT-style ``conversations`` with ``from``/``value``
(``human``/``gpt``) are read too. After an optional leading system message the turns must
alternate user, assistant, user, … and end with an assistant turn; every turn must have
non-empty content. Anything else is an :class:`~lem.errors.InputError` naming the file,
line and turn, and nothing is written.

Output: the same folder layout, splits (by conversation, seeded, stratified by domain),
lineage (source file, line, id, number of turns) and content-hash id as a distilled
dataset.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lem.distill.dataset import DatasetRow, WrittenDataset, split_prompts, write_dataset
from lem.errors import InputError

__all__ = ["ConvConfig", "convert_conversations", "read_conversations"]

_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


class ConvConfig(BaseModel):
    """Settings of ``lem data conv`` (its flags come from these fields)."""

    model_config = ConfigDict(extra="forbid")

    out: str = Field(
        "runs/datasets/conv",
        description="Dataset folder to write.",
        json_schema_extra={"short": "-o"},
    )
    dataset_name: str | None = Field(
        None, description="Name recorded for the dataset (default: the folder name)."
    )
    system: Literal["keep", "drop"] = Field(
        "keep", description="A leading system message: keep it in the example or drop it."
    )
    valid_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of conversations per domain in valid.jsonl."
    )
    test_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of conversations per domain in test.jsonl."
    )
    seed: int = Field(0, description="Seed of the split.")
    db: str | None = Field(None, description="Also record the dataset in this store.")


def _turns(obj: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object with a messages list")
    if "messages" in obj:
        raw = obj["messages"]
        role_key, text_key, roles = "role", "content", None
    elif "conversations" in obj:
        raw = obj["conversations"]
        role_key, text_key, roles = "from", "value", _SHAREGPT_ROLES
    else:
        raise InputError(f"{where}: no messages (or conversations) list; give one per line")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}: messages must be a non-empty list of turns")
    out: list[dict[str, str]] = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise InputError(f"{where}: turn {i + 1} is not an object")
        role = turn.get(role_key)
        role = roles.get(str(role)) if roles is not None else role
        content = turn.get(text_key)
        if role not in ("system", "user", "assistant"):
            raise InputError(
                f"{where}: turn {i + 1} has role {turn.get(role_key)!r}; use system, user or "
                "assistant"
            )
        if not isinstance(content, str) or not content.strip():
            raise InputError(f"{where}: turn {i + 1} ({role}) is empty; remove or fill it")
        out.append({"role": str(role), "content": content})
    return out


def _check_order(turns: list[dict[str, str]], where: str) -> None:
    body = turns[1:] if turns[0]["role"] == "system" else turns
    if not body:
        raise InputError(f"{where}: only a system message; add user and assistant turns")
    for i, turn in enumerate(body):
        want = "user" if i % 2 == 0 else "assistant"
        if turn["role"] != want:
            n = i + 1 + (len(turns) - len(body))
            raise InputError(
                f"{where}: turn {n} is {turn['role']}, expected {want} (turns must alternate "
                "user, assistant after an optional system message)"
            )
    if body[-1]["role"] != "assistant":
        raise InputError(f"{where}: the last turn is the user's; end with an assistant turn")


def read_conversations(path: str | Path) -> list[tuple[int, dict[str, Any], list[dict[str, str]]]]:
    """Every conversation of ``path`` as (line number, the raw object, validated turns)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(
            f"{p}: file not found; give a .jsonl or .json file of conversations"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read ({exc})") from None
    entries: list[tuple[int, Any]] = []
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: malformed JSON at line {exc.lineno}: {exc.msg}") from None
        if not isinstance(data, list):
            raise InputError(f"{p}: expected a JSON list of conversations")
        entries = [(i + 1, obj) for i, obj in enumerate(data)]
        label = "item"
    else:
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                entries.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{n}: malformed JSON ({exc.msg})") from None
        label = "line"
    if not entries:
        raise InputError(f"{p}: no conversations")
    out = []
    for n, obj in entries:
        where = f"{p}:{n}" if label == "line" else f"{p} item {n}"
        turns = _turns(obj, where)
        _check_order(turns, where)
        out.append((n, obj, turns))
    return out


def convert_conversations(path: str | Path, config: ConvConfig) -> WrittenDataset:
    """Read, validate, split and write the conversations of ``path`` (nothing is written
    when any conversation is invalid)."""
    from lem import __version__

    p = Path(path)
    convs = read_conversations(p)
    rows: list[DatasetRow] = []
    for n, obj, turns in convs:
        messages = turns[1:] if config.system == "drop" and turns[0]["role"] == "system" else turns
        cid = str(obj.get("id") or f"{p.name}:{n}")
        domain = str(obj.get("domain") or obj.get("category") or "uncategorised")
        digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        rows.append(
            DatasetRow(
                messages=messages,
                group=cid,
                domain=domain,
                lineage={
                    "id": cid,
                    "domain": domain,
                    "source": p.name,
                    "line": n,
                    "turns": len(messages),
                    "sha256": digest,
                },
            )
        )
    ids = [r.group for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"{p}: conversation id {dup!r} appears twice; ids must be unique")
    splits = split_prompts(
        {r.group: r.domain for r in rows},
        valid_fraction=config.valid_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    out = Path(config.out)
    source_sha = hashlib.sha256(p.read_bytes()).hexdigest()
    manifest = {
        "kind": "conv",
        "name": config.dataset_name or out.name,
        "lem_version": __version__,
        "source": {"file": p.name, "sha256": source_sha, "conversations": len(rows)},
        "system": config.system,
        "split": {
            "by": "conversation, stratified by domain",
            "valid_fraction": config.valid_fraction,
            "test_fraction": config.test_fraction,
            "seed": config.seed,
        },
        "counts": {"conversations": len(rows), "kept": len(rows)},
    }
    written = write_dataset(out, rows, splits=splits, manifest=manifest)
    if config.db:
        from lem.store import Store

        store = Store(config.db)
        try:
            store.record_dataset(
                written.dataset_id,
                name=str(manifest["name"]),
                kind="conv",
                path=str(out.resolve()),
                run_id=None,
                manifest=written.manifest,
            )
        finally:
            store.close()
    return written
