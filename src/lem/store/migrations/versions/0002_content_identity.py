"""Model identity is content, not location: re-key runs of local models.

lem 0.1.0 hashed a local model's absolute path into its identity, so the same weights at
another path were another model. From this revision the identity of an ``hf`` or ``mlx``
model is its backend, weights fingerprint and dtype. This revision recomputes, for every
stored run of a local model, the model key, the keys of its work items (and their links
and scores) and the run id, exactly as lem now computes them, so the same command resumes
the same run. Runs of servers keep their keys: their new identity includes a canary
answer that was never recorded (a re-run starts a new run and says why).
``lem_meta.schema`` becomes 2, which lem 0.1.0 refuses as "written by a newer lem".

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_LOCAL = ("hf", "mlx")


def _sha(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def upgrade() -> None:
    conn = op.get_bind()
    runs = conn.execute(sa.text("SELECT run_id, manifest FROM runs")).all()
    new_model: dict[str, str] = {}
    moves: list[tuple[str, str, dict[str, Any]]] = []
    for run_id, raw in runs:
        manifest = json.loads(raw)
        ident = manifest.get("model") or {}
        if ident.get("backend") not in _LOCAL or "path" not in ident:
            continue
        content = {k: v for k, v in ident.items() if k != "path"}
        key = _sha(content)
        new_model[manifest["model_key"]] = key
        resolved = {
            "model": key,
            "probes": manifest["probes"]["sha256"],
            "conditions": [
                {"name": c["name"], "kernels": [k["sha256"] for k in c["kernels"]]}
                for c in manifest["conditions"]
            ],
            "sampling": manifest["sampling"],
            "samples": manifest["samples"],
        }
        manifest.update(
            model=content,
            model_key=key,
            model_location={"path": ident["path"]},
            run_id=_sha(resolved)[:16],
        )
        moves.append((run_id, manifest["run_id"], manifest))
    if not new_model:
        _mark_schema(conn)
        return
    items = conn.execute(
        sa.text("SELECT key, model_key, rendered_hash, sampling, sample_index FROM items")
    ).all()
    for key, model_key, rendered, sampling, sample in items:
        if model_key not in new_model:
            continue
        fresh = _sha(
            {
                "model": new_model[model_key],
                "prompt": rendered,
                "sampling": json.loads(sampling),
                "sample": sample,
            }
        )
        _rekey_item(conn, key, fresh, new_model[model_key])
    taken = {r[0] for r in runs}
    for old, new, manifest in moves:
        if new != old and new in taken:  # that run exists already: keep this one's id
            manifest["run_id"] = new = old
        params = {"old": old, "new": new, "m": json.dumps(manifest, sort_keys=True)}
        conn.execute(
            sa.text("UPDATE runs SET run_id = :new, manifest = :m WHERE run_id = :old"), params
        )
        conn.execute(sa.text("UPDATE run_items SET run_id = :new WHERE run_id = :old"), params)
        taken.add(new)
    _mark_schema(conn)


def _rekey_item(conn: Any, old: str, new: str, model_key: str) -> None:
    """Move item ``old`` to key ``new``; if ``new`` exists (the same weights were stored
    under two paths), the existing item stands and ``old``'s links join it."""
    params = {"old": old, "new": new}
    exists = conn.execute(sa.text("SELECT 1 FROM items WHERE key = :new"), params).first()
    if exists is None:
        conn.execute(
            sa.text("UPDATE items SET key = :new, model_key = :mk WHERE key = :old"),
            {**params, "mk": model_key},
        )
        conn.execute(sa.text("UPDATE run_items SET item_key = :new WHERE item_key = :old"), params)
        conn.execute(sa.text("UPDATE scores SET item_key = :new WHERE item_key = :old"), params)
        return
    conn.execute(
        sa.text(
            "UPDATE run_items SET item_key = :new WHERE item_key = :old AND run_id NOT IN "
            "(SELECT run_id FROM run_items WHERE item_key = :new)"
        ),
        params,
    )
    for table, column in (("run_items", "item_key"), ("scores", "item_key"), ("items", "key")):
        conn.execute(sa.text(f"DELETE FROM {table} WHERE {column} = :old"), params)


def _mark_schema(conn: Any) -> None:
    conn.execute(sa.text("UPDATE lem_meta SET value = '2' WHERE key = 'schema'"))


def downgrade() -> None:
    raise NotImplementedError("lem stores are migrated forward only")
