"""The run store: runs, their manifests, the shared work ledger, generations and scores.

Work items are content-addressed and shared between runs. Workers *claim* items with a
compare-and-swap update and a lease, so any number of processes on any number of machines
can work one ledger without duplicating work; a claim held by a dead process on this host,
or an expired lease, can be taken over at once.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    Engine,
    Text,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from lem.errors import StoreError
from lem.redact import redact
from lem.store.schema import (
    SCHEMA_VERSION,
    bench_items,
    datasets,
    experiment_stages,
    items,
    meta,
    metadata,
    run_items,
    runs,
    scores,
)

__all__ = ["ItemPlan", "Store", "insert_ignore", "new_worker_id", "normalise_db_url", "utc_now"]

PENDING, CLAIMED, DONE, FAILED = "pending", "claimed", "done", "failed"
_CHUNK = 500


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def worker_host() -> str:
    """This machine's name in worker ids: ``LEM_WORKER_HOST`` if set (containers that all
    call themselves ``localhost``), else the host name."""
    return os.environ.get("LEM_WORKER_HOST", "").strip() or socket.gethostname()


def new_worker_id() -> str:
    """``host:pid:nonce``: lets a later process on the same host see that a claim is dead."""
    return f"{worker_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _db_now(conn: Any) -> float:
    """The database server's clock (Unix seconds): leases are timed by it, so workers
    whose own clocks disagree still agree on when a lease ends."""
    if conn.dialect.name == "postgresql":
        return float(
            conn.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
        )
    if conn.dialect.name == "sqlite":
        q = text("SELECT (julianday('now') - 2440587.5) * 86400.0")
        return float(conn.execute(q).scalar_one())
    return time.time()  # pragma: no cover - other databases


def _worker_dead(worker: str) -> bool:
    host, _, rest = worker.partition(":")
    pid_s = rest.partition(":")[0]
    if host != worker_host() or not pid_s.isdigit():
        return False
    pid = int(pid_s)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def normalise_db_url(db: str) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (→ SQLite)."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


@dataclass(frozen=True)
class ItemPlan:
    """One planned generation of a run: the work item and its place in the run."""

    key: str
    model_key: str
    messages: str
    rendered_hash: str
    system_fallback: bool
    sampling: str
    sample_index: int
    seed: int
    position: int
    probe_id: str
    category: str
    prompt: str
    condition: str


class Store:
    """A run store on any SQLAlchemy URL (SQLite file by default, PostgreSQL for many hosts)."""

    def __init__(
        self, db: str, *, create: bool = True, clock: Callable[[], float] | None = None
    ) -> None:
        """Open (and with ``create``, make) the store at ``db``. Read-only commands pass
        ``create=False`` so a mistyped path is an error rather than a new empty store.
        Leases are timed by the database's clock; ``clock`` replaces it (tests)."""
        self._clock = clock
        self.url = normalise_db_url(db)
        self.display_url = redact(self.url)
        if self.url.startswith("sqlite:///"):
            path = Path(self.url.removeprefix("sqlite:///"))
            if path.is_dir():
                raise StoreError(f"--db {path} is a directory; give a file path or a URL")
            if not create and not path.is_file():
                raise StoreError(
                    f"--db {path}: no lem store there (file not found); "
                    "check the path, or run `lem ab --db` with it first"
                )
            _check_sqlite_file(path, self.display_url)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"--db {path}: cannot create its folder ({exc.strerror})"
                ) from None
        try:
            self.engine: Engine = create_engine(self.url, future=True, pool_pre_ping=True)
        except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as exc:
            raise StoreError(
                f"--db {self.display_url}: not a usable database URL ({type(exc).__name__}); "
                "give a file path or e.g. postgresql+psycopg://user@host/db"
            ) from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        try:
            try:
                self._init_schema(create)
            except (OperationalError, IntegrityError) as exc:
                if _not_a_database(exc):
                    raise
                time.sleep(0.5)  # another worker may be creating the same tables right now
                self._init_schema(create)
        except SQLAlchemyError as exc:
            reason = redact(str(exc.orig if hasattr(exc, "orig") else exc).splitlines()[0])
            if _not_a_database(exc):
                raise StoreError(
                    f"--db {self.display_url} is not a lem store ({reason}); "
                    "give a lem store or a new file"
                ) from None
            raise StoreError(f"--db {self.display_url}: cannot open the store ({reason})") from None

    def _init_schema(self, create: bool = True) -> None:
        """Check this is a lem store (or an empty database to make one), then bring its
        schema to the newest migration (see :mod:`lem.store.migrations`)."""
        from lem.store import migrations

        names = set(sa_inspect(self.engine).get_table_names())
        foreign = names if self.engine.dialect.name == "sqlite" else names & set(metadata.tables)
        if meta.name not in names and (foreign or not create):
            raise _foreign(self.display_url, names)
        with self.engine.connect() as conn:
            revision = migrations.current_revision(conn)
            schema = None
            if meta.name in names:
                row = conn.execute(select(meta.c.value).where(meta.c.key == "schema")).first()
                schema = row[0] if row else None
        if revision is not None and revision not in migrations.known_revisions():
            raise StoreError(
                f"--db {self.display_url} was written by a newer lem (schema revision "
                f"{revision}); upgrade lem"
            )
        if schema is not None and int(schema) > SCHEMA_VERSION:
            raise StoreError(
                f"--db {self.display_url} was written by a newer lem (schema {schema}); upgrade lem"
            )
        if revision != migrations.head_revision():
            migrations.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # runs -------------------------------------------------------------------------------
    def open_run(
        self, run_id: str, *, name: str | None, config: dict[str, Any], manifest: dict[str, Any]
    ) -> bool:
        """Create the run, or mark an existing one as resumed; True if it already existed."""
        now = utc_now()
        with self.engine.begin() as conn:
            row = conn.execute(select(runs.c.manifest).where(runs.c.run_id == run_id)).first()
            if row is None:
                fresh = {**manifest, "started_at": now, "invocations": 1}
                created = insert_ignore(
                    conn,
                    runs,
                    [
                        {
                            "run_id": run_id,
                            "name": name,
                            "status": "running",
                            "created_at": now,
                            "started_at": now,
                            "finished_at": None,
                            "config": json.dumps(config, sort_keys=True),
                            "manifest": json.dumps(fresh, sort_keys=True),
                        }
                    ],
                )
                if created:
                    return False
                row = conn.execute(select(runs.c.manifest).where(runs.c.run_id == run_id)).one()
            old = json.loads(row[0])
            manifest = {
                **manifest,
                "started_at": old.get("started_at", now),
                "invocations": int(old.get("invocations", 1)) + 1,
                "resumed_at": now,
            }
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(status="running", manifest=json.dumps(manifest, sort_keys=True))
            )
            return True

    def finish_run(self, run_id: str, *, status: str, extra: dict[str, Any]) -> None:
        """Record an invocation's end; ``extra["invocation_s"]`` adds to the run's active time."""
        extra = dict(extra)
        now = utc_now()
        with self.engine.begin() as conn:
            row = conn.execute(select(runs.c.manifest).where(runs.c.run_id == run_id)).one()
            old = json.loads(row[0])
            active = float(old.get("active_s", 0.0)) + float(extra.pop("invocation_s", 0.0))
            manifest = {**old, **extra, "active_s": round(active, 3), "finished_at": now}
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(
                    status=status, finished_at=now, manifest=json.dumps(manifest, sort_keys=True)
                )
            )

    def get_run(self, run_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).mappings().first()
            if row is None:
                cand = (
                    conn.execute(
                        select(runs).where(runs.c.run_id.startswith(run_id, autoescape=True))
                    )
                    .mappings()
                    .all()
                )
                if len(cand) == 1 and len(run_id) >= 4:
                    row = cand[0]
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.display_url}; `lem runs list` shows them")
        out = dict(row)
        out["config"] = json.loads(out["config"])
        out["manifest"] = json.loads(out["manifest"])
        return out

    def list_runs(self) -> list[dict[str, Any]]:
        counts = (
            select(
                run_items.c.run_id,
                func.count().label("n"),
                func.sum((items.c.status == DONE).cast(_int_type())).label("done"),
                func.sum((items.c.status == FAILED).cast(_int_type())).label("failed"),
            )
            .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
            .group_by(run_items.c.run_id)
            .subquery()
        )
        q = (
            select(runs, counts.c.n, counts.c.done, counts.c.failed)
            .select_from(runs.outerjoin(counts, counts.c.run_id == runs.c.run_id))
            .order_by(runs.c.created_at)
        )
        with self.engine.connect() as conn:
            out = []
            for row in conn.execute(q).mappings():
                rec = dict(row)
                rec["manifest"] = json.loads(rec["manifest"])
                rec["config"] = json.loads(rec["config"])
                out.append(rec)
            return out

    def latest_run_id(self) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(runs.c.run_id).order_by(runs.c.created_at.desc()).limit(1)
            ).first()
        if row is None:
            raise StoreError(f"{self.display_url} holds no runs yet; run `lem ab` first")
        return str(row[0])

    # work items -------------------------------------------------------------------------
    def add_plan(self, run_id: str, plan: Sequence[ItemPlan]) -> int:
        """Insert missing work items and the run's links to them; returns new items."""
        now = utc_now()
        created = 0
        with self.engine.begin() as conn:
            for chunk in _chunks(plan, _CHUNK):
                keys = [p.key for p in chunk]
                have = set(conn.execute(select(items.c.key).where(items.c.key.in_(keys))).scalars())
                linked = set(
                    conn.execute(
                        select(run_items.c.item_key).where(
                            run_items.c.run_id == run_id, run_items.c.item_key.in_(keys)
                        )
                    ).scalars()
                )
                new_items = [
                    {
                        "key": p.key,
                        "model_key": p.model_key,
                        "messages": p.messages,
                        "rendered_hash": p.rendered_hash,
                        "system_fallback": p.system_fallback,
                        "sampling": p.sampling,
                        "sample_index": p.sample_index,
                        "seed": p.seed,
                        "status": PENDING,
                        "worker": "",
                        "attempts": 0,
                        "created_at": now,
                    }
                    for p in _unique(chunk)
                    if p.key not in have
                ]
                if new_items:
                    insert_ignore(conn, items, new_items)
                    created += len(new_items)
                new_links = [
                    {
                        "run_id": run_id,
                        "item_key": p.key,
                        "position": p.position,
                        "probe_id": p.probe_id,
                        "category": p.category,
                        "prompt": p.prompt,
                        "condition": p.condition,
                        "sample_index": p.sample_index,
                    }
                    for p in _unique(chunk)
                    if p.key not in linked
                ]
                if new_links:
                    insert_ignore(conn, run_items, new_links)
        return created

    def unfinished(self, run_id: str) -> list[dict[str, Any]]:
        """Items of the run not yet done, in run order, with their messages and seeds."""
        q = (
            select(
                items.c.key,
                items.c.messages,
                items.c.sampling,
                items.c.seed,
                items.c.status,
                items.c.worker,
                items.c.lease_until,
            )
            .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
            .where(run_items.c.run_id == run_id, items.c.status != DONE)
            .order_by(run_items.c.position)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def claim(
        self, keys: Iterable[str], worker: str, lease_s: float, *, limit: int | None = None
    ) -> list[str]:
        """Claim what can be claimed among ``keys``: pending, failed, lease-expired, or held
        by a dead process on this host. Compare-and-swap, so two workers never both win.

        With ``limit``, claim that many, the first claimable ones in ``keys`` order: a
        worker offers a window of its queue and gets the next free items in it, passing
        over what other workers hold, in one call. (PostgreSQL adds the claims of dead
        local processes among the keys it passed over, which may exceed ``limit``.)"""
        claimed: list[str] = []
        key_list = list(keys)
        with self.engine.begin() as conn:
            now = self._now(conn)
            for chunk in _chunks(key_list, _CHUNK):
                left = None if limit is None else limit - len(claimed)
                if left is not None and left <= 0:
                    break
                if conn.dialect.name == "postgresql":
                    claimed += self._claim_skip_locked(
                        conn, list(chunk), worker, now, lease_s, left
                    )
                    continue
                rows = conn.execute(
                    select(items.c.key, items.c.status, items.c.worker, items.c.lease_until).where(
                        items.c.key.in_(chunk)
                    )
                ).all()
                at = {k: i for i, k in enumerate(chunk)}
                rows = sorted(rows, key=lambda r: at[r[0]])
                for key, status, owner, lease in rows:
                    if limit is not None and len(claimed) >= limit:
                        break
                    if status == DONE:
                        continue
                    if status == CLAIMED and owner != worker:
                        expired = lease is None or lease < now
                        if not expired and not _worker_dead(owner or ""):
                            continue
                    res = conn.execute(
                        update(items)
                        .where(
                            and_(
                                items.c.key == key,
                                items.c.status == status,
                                items.c.worker == (owner or ""),
                            )
                        )
                        .values(
                            status=CLAIMED,
                            worker=worker,
                            lease_until=now + lease_s,
                            attempts=items.c.attempts + 1,
                        )
                    )
                    if res.rowcount == 1:
                        claimed.append(key)
        order = {k: i for i, k in enumerate(key_list)}
        return sorted(claimed, key=order.__getitem__)

    def _claim_skip_locked(
        self,
        conn: Any,
        chunk: list[str],
        worker: str,
        now: float,
        lease_s: float,
        limit: int | None = None,
    ) -> list[str]:
        """PostgreSQL: one ``UPDATE … WHERE key IN (SELECT … FOR UPDATE SKIP LOCKED)
        RETURNING key`` claims every claimable key of the chunk at once; rows another
        transaction is claiming are skipped, not waited for. Claims of dead processes on
        this host whose leases still run are then taken over one by one (rare); with
        ``limit``, those among the keys passed over, so the claim may exceed ``limit``
        by them."""
        claimable = or_(
            items.c.status.in_([PENDING, FAILED]),
            and_(
                items.c.status == CLAIMED,
                or_(
                    items.c.worker == worker,
                    items.c.lease_until.is_(None),
                    items.c.lease_until < now,
                ),
            ),
        )
        locked = (
            select(items.c.key)
            .where(items.c.key.in_(chunk), claimable)
            .with_for_update(skip_locked=True)
        )
        if limit is not None:
            order = func.array_position(literal(chunk, ARRAY(Text)), items.c.key)
            locked = locked.order_by(order).limit(limit)
        won = [
            r[0]
            for r in conn.execute(
                update(items)
                .where(items.c.key.in_(locked))
                .values(
                    status=CLAIMED,
                    worker=worker,
                    lease_until=now + lease_s,
                    attempts=items.c.attempts + 1,
                )
                .returning(items.c.key)
            )
        ]
        host = worker_host() + ":"
        taken = set(won)
        rest = [k for k in chunk if k not in taken]
        if limit is not None and len(won) == limit:
            # only keys passed over before the last one won: the rest were not looked at
            at = {k: i for i, k in enumerate(chunk)}
            last = max(at[k] for k in won)
            rest = [k for k in chunk[:last] if k not in taken]
        if rest:
            held = conn.execute(
                select(items.c.key, items.c.worker).where(
                    items.c.key.in_(rest),
                    items.c.status == CLAIMED,
                    items.c.worker.startswith(host, autoescape=True),
                )
            ).all()
            for key, owner in held:
                if not _worker_dead(owner or ""):
                    continue
                res = conn.execute(
                    update(items)
                    .where(items.c.key == key, items.c.status == CLAIMED, items.c.worker == owner)
                    .values(
                        worker=worker,
                        lease_until=now + lease_s,
                        attempts=items.c.attempts + 1,
                    )
                )
                if res.rowcount == 1:
                    won.append(key)
        return won

    def renew(self, keys: Iterable[str], worker: str, lease_s: float) -> int:
        """Extend this worker's leases on ``keys`` (a heartbeat for long generations)."""
        key_list = list(keys)
        renewed = 0
        with self.engine.begin() as conn:
            until = self._now(conn) + lease_s
            for chunk in _chunks(sorted(key_list), _CHUNK):
                mine = and_(
                    items.c.key.in_(chunk), items.c.worker == worker, items.c.status == CLAIMED
                )
                if conn.dialect.name == "postgresql":
                    # rows locked in key order, as record_many locks them: no lock cycle
                    mine = items.c.key.in_(
                        select(items.c.key).where(mine).order_by(items.c.key).with_for_update()
                    )
                res = conn.execute(update(items).where(mine).values(lease_until=until))
                renewed += max(int(res.rowcount or 0), 0)
        return renewed

    def release(self, keys: Iterable[str], worker: str) -> None:
        """Give back claims not worked on (e.g. on Ctrl-C)."""
        with self.engine.begin() as conn:
            for chunk in _chunks(list(keys), _CHUNK):
                conn.execute(
                    update(items)
                    .where(
                        items.c.key.in_(chunk), items.c.worker == worker, items.c.status == CLAIMED
                    )
                    .values(status=PENDING, worker="", lease_until=None)
                )

    def record(self, key: str, worker: str, values: dict[str, Any], *, ok: bool) -> bool:
        """Store a finished generation (or its failure) if this worker still holds it. The
        row keeps the worker's id, so `lem status` can give each worker's rate."""
        values = {**_finished(values, ok, utc_now()), "worker": worker}
        with self.engine.begin() as conn:
            res = conn.execute(
                update(items)
                .where(items.c.key == key, items.c.worker == worker, items.c.status == CLAIMED)
                .values(**values)
            )
            return res.rowcount == 1

    def record_many(
        self, worker: str, results: Sequence[tuple[str, dict[str, Any], bool]]
    ) -> set[str]:
        """Store several finished generations ``(key, values, ok)`` in one transaction, each
        only if this worker still holds its claim; returns the keys stored.

        The held rows are locked first (PostgreSQL: ``FOR UPDATE`` in key order, so two
        transactions of one worker never wait on each other in a cycle; SQLite: the
        transaction's write lock), then written with one executemany per column set. One
        transaction per batch instead of one per item is what keeps the ledger cheap."""
        if not results:
            return set()
        now = utc_now()
        keys = sorted({k for k, _, _ in results})
        held: set[str] = set()
        with self.engine.begin() as conn:
            for chunk in _chunks(keys, _CHUNK):
                q = (
                    select(items.c.key)
                    .where(
                        items.c.key.in_(chunk), items.c.worker == worker, items.c.status == CLAIMED
                    )
                    .order_by(items.c.key)
                )
                if conn.dialect.name == "postgresql":
                    q = q.with_for_update()
                held.update(r[0] for r in conn.execute(q))
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for key, values, ok in results:
                if key not in held:
                    continue
                row = _finished(values, ok, now)
                groups.setdefault(tuple(sorted(row)), []).append(
                    {"b_key": key, **{"v_" + c: v for c, v in row.items()}}
                )
            for cols, params in groups.items():
                stmt = (
                    update(items)
                    .where(
                        items.c.key == bindparam("b_key"),
                        items.c.worker == worker,
                        items.c.status == CLAIMED,
                    )
                    .values({c: bindparam("v_" + c) for c in cols})
                )
                conn.execute(stmt, params)
        return held

    def record_imported(self, values: dict[str, dict[str, Any]]) -> int:
        """Mark planned items done with answers that were generated elsewhere (an imported
        result file): ``values`` maps item key to its columns. Only pending items change,
        so a re-import never overwrites anything; returns items written."""
        now = utc_now()
        written = 0
        with self.engine.begin() as conn:
            for key, cols in values.items():
                res = conn.execute(
                    update(items)
                    .where(items.c.key == key, items.c.status == PENDING)
                    .values(**cols, status=DONE, worker="", completed_at=now)
                )
                written += int(res.rowcount or 0)
        return written

    # scores -----------------------------------------------------------------------------
    def add_scores(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write score rows, replacing any earlier row of the same (item, scorer, version).

        One upsert per row (``ON CONFLICT DO UPDATE``), so two workers scoring the same
        item at once (a worker joining mid-run, ``lem score run`` beside ``lem ab``) both
        succeed and the last write wins.
        """
        if not rows:
            return
        now = utc_now()
        values = [{**r, "created_at": now} for r in rows]
        with self.engine.begin() as conn:
            _upsert(conn, scores, values, ["item_key", "scorer", "version"])

    def unscored(
        self, run_id: str, scorer: str, version: str, definition_hash: str
    ) -> list[dict[str, Any]]:
        """Done items of the run lacking a current score from this scorer: none yet, or one
        from another version or definition (stale)."""
        sc = scores.alias("sc")
        q = (
            select(
                items.c.key,
                items.c.answer,
                items.c.messages,
                run_items.c.prompt,
                run_items.c.condition,
                run_items.c.probe_id,
            )
            .select_from(
                run_items.join(items, items.c.key == run_items.c.item_key).outerjoin(
                    sc,
                    and_(
                        sc.c.item_key == items.c.key,
                        sc.c.scorer == scorer,
                        sc.c.version == version,
                        sc.c.definition_hash == definition_hash,
                    ),
                )
            )
            .where(run_items.c.run_id == run_id, items.c.status == DONE, sc.c.item_key.is_(None))
            .order_by(run_items.c.position)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def _now(self, conn: Any) -> float:
        return self._clock() if self._clock is not None else _db_now(conn)

    def run_plan(self, run_id: str) -> list[ItemPlan]:
        """The run's planned items as :class:`ItemPlan` records, in plan order: what a
        worker needs to take up a run it did not plan."""
        q = (
            select(
                items.c.key,
                items.c.model_key,
                items.c.messages,
                items.c.rendered_hash,
                items.c.system_fallback,
                items.c.sampling,
                items.c.seed,
                run_items.c.position,
                run_items.c.probe_id,
                run_items.c.category,
                run_items.c.prompt,
                run_items.c.condition,
                run_items.c.sample_index,
            )
            .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
            .where(run_items.c.run_id == run_id)
            .order_by(run_items.c.position)
        )
        with self.engine.connect() as conn:
            return [
                ItemPlan(
                    key=r["key"],
                    model_key=r["model_key"],
                    messages=r["messages"],
                    rendered_hash=r["rendered_hash"],
                    system_fallback=bool(r["system_fallback"]),
                    sampling=r["sampling"],
                    sample_index=int(r["sample_index"]),
                    seed=int(r["seed"]),
                    position=int(r["position"]),
                    probe_id=r["probe_id"],
                    category=r["category"],
                    prompt=r["prompt"],
                    condition=r["condition"],
                )
                for r in conn.execute(q).mappings()
            ]

    def unfinished_counts(self) -> dict[str, int]:
        """Per run id, how many of its items are not done (runs with none are absent)."""
        q = (
            select(run_items.c.run_id, func.count())
            .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
            .where(items.c.status != DONE)
            .group_by(run_items.c.run_id)
        )
        with self.engine.connect() as conn:
            return {str(r): int(n) for r, n in conn.execute(q).all()}

    def run_records(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every planned generation of the run in plan order, joined with its item (no
        scores: :meth:`run_scores` has them). Read through :mod:`lem.responses`."""
        q = (
            select(
                run_items.c.position,
                run_items.c.probe_id,
                run_items.c.category,
                run_items.c.prompt,
                run_items.c.condition,
                run_items.c.sample_index,
                items.c.key,
                items.c.status,
                items.c.text,
                items.c.answer,
                items.c.reasoning,
                items.c.error,
                items.c.time_s,
                items.c.prompt_tokens,
                items.c.completion_tokens,
                items.c.finish_reason,
                items.c.system_fallback,
                items.c.rendered_hash,
                items.c.attempts,
                items.c.completed_at,
                items.c.extra,
            )
            .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
            .where(run_items.c.run_id == run_id)
            .order_by(run_items.c.position)
        )
        with self.engine.connect() as conn:
            seen: set[str] = set()
            for row in conn.execute(q).mappings():
                if row["key"] in seen:
                    continue
                seen.add(row["key"])
                rec = dict(row)
                rec["extra"] = json.loads(rec["extra"]) if rec["extra"] else {}
                yield rec

    def run_scores(
        self, run_id: str, scorers: Sequence[str] | None = None
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """The scores of the run's items (of ``scorers`` only, when given): item key →
        scorer → the newest version's row (value, version, definition_hash, status,
        reason, signals)."""
        q = (
            select(
                scores.c.item_key,
                scores.c.scorer,
                scores.c.version,
                scores.c.definition_hash,
                scores.c.value,
                scores.c.status,
                scores.c.reason,
                scores.c.signals,
            )
            .select_from(run_items.join(scores, scores.c.item_key == run_items.c.item_key))
            .where(run_items.c.run_id == run_id)
            .order_by(scores.c.version, scores.c.created_at)
        )
        if scorers is not None:
            q = q.where(scores.c.scorer.in_(list(scorers)))
        out: dict[str, dict[str, dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(q).mappings():
                out.setdefault(row["item_key"], {})[row["scorer"]] = {
                    "value": row["value"],
                    "version": row["version"],
                    "definition_hash": row["definition_hash"],
                    "status": row["status"],
                    "reason": row["reason"],
                    "signals": json.loads(row["signals"]) if row["signals"] else {},
                }
        return out

    # datasets ---------------------------------------------------------------------------
    def record_dataset(
        self,
        dataset_id: str,
        *,
        name: str,
        kind: str,
        path: str,
        run_id: str | None,
        manifest: dict[str, Any],
    ) -> bool:
        """Record a written dataset (keyed by its content hash); False if already known."""
        with self.engine.begin() as conn:
            row = {
                "dataset_id": dataset_id,
                "name": name,
                "kind": kind,
                "path": path,
                "run_id": run_id,
                "created_at": utc_now(),
                "manifest": json.dumps(manifest, sort_keys=True),
            }
            return bool(insert_ignore(conn, datasets, [row]))

    def get_dataset(self, ref: str) -> dict[str, Any]:
        """A dataset by id, unique id prefix (4+ characters) or name (the newest)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(datasets).where(datasets.c.dataset_id == ref))
                .mappings()
                .first()
            )
            if row is None:
                row = (
                    conn.execute(
                        select(datasets)
                        .where(datasets.c.name == ref)
                        .order_by(datasets.c.created_at.desc())
                    )
                    .mappings()
                    .first()
                )
            if row is None and len(ref) >= 4:
                cand = (
                    conn.execute(
                        select(datasets).where(
                            datasets.c.dataset_id.startswith(ref, autoescape=True)
                        )
                    )
                    .mappings()
                    .all()
                )
                row = cand[0] if len(cand) == 1 else None
        if row is None:
            raise StoreError(
                f"no dataset {ref!r} in {self.display_url}; `lem data list` shows them"
            )
        out = dict(row)
        out["manifest"] = json.loads(out["manifest"])
        return out

    def list_datasets(self) -> list[dict[str, Any]]:
        """Every recorded dataset, oldest first (manifests parsed)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(datasets).order_by(datasets.c.created_at)).mappings().all()
        return [{**dict(r), "manifest": json.loads(r["manifest"])} for r in rows]

    # experiment stages ------------------------------------------------------------------
    def stage_record(self, experiment: str, stage: str, input_hash: str) -> dict[str, Any] | None:
        """The record of a stage run with these inputs, or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(experiment_stages).where(
                        experiment_stages.c.experiment == experiment,
                        experiment_stages.c.stage == stage,
                        experiment_stages.c.input_hash == input_hash,
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {**dict(row), "outputs": json.loads(row["outputs"])}

    def save_stage(
        self,
        experiment: str,
        stage: str,
        input_hash: str,
        *,
        status: str,
        outputs: dict[str, Any],
        started_at: str,
        wall_s: float | None,
    ) -> None:
        """Insert or update a stage record."""
        values = {
            "status": status,
            "outputs": json.dumps(outputs, sort_keys=True),
            "started_at": started_at,
            "finished_at": utc_now() if status != "running" else None,
            "wall_s": wall_s,
        }
        key = {"experiment": experiment, "stage": stage, "input_hash": input_hash}
        with self.engine.begin() as conn:
            if not insert_ignore(conn, experiment_stages, [{**key, **values}]):
                conn.execute(
                    update(experiment_stages)
                    .where(
                        experiment_stages.c.experiment == experiment,
                        experiment_stages.c.stage == stage,
                        experiment_stages.c.input_hash == input_hash,
                    )
                    .values(**values)
                )

    def experiment_records(self, experiment: str) -> list[dict[str, Any]]:
        """Every stage record of an experiment, oldest first."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(experiment_stages)
                    .where(experiment_stages.c.experiment == experiment)
                    .order_by(experiment_stages.c.started_at)
                )
                .mappings()
                .all()
            )
        return [{**dict(r), "outputs": json.loads(r["outputs"])} for r in rows]

    # benchmark items --------------------------------------------------------------------
    def put_bench_items(self, set_sha: str, benchmark: str, rows: Sequence[dict[str, Any]]) -> int:
        """Record a benchmark item set (``rows``: ``id``, ``question``, ``group``,
        ``fields``) under its hash; returns items new to the store."""
        values = [
            {
                "set_sha": set_sha,
                "item_id": r["id"],
                "benchmark": benchmark,
                "position": i,
                "question": r["question"],
                "item_group": r.get("group"),
                "fields": json.dumps(r.get("fields") or {}, sort_keys=True, ensure_ascii=False),
            }
            for i, r in enumerate(rows)
        ]
        created = 0
        with self.engine.begin() as conn:
            for chunk in _chunks(values, _CHUNK):
                created += insert_ignore(conn, bench_items, list(chunk))
        return created

    def get_bench_items(self, set_sha: str) -> list[dict[str, Any]]:
        """The items of a recorded benchmark item set in file order (``fields`` parsed);
        empty when the set is unknown."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(bench_items)
                    .where(bench_items.c.set_sha == set_sha)
                    .order_by(bench_items.c.position)
                )
                .mappings()
                .all()
            )
        return [
            {
                "id": r["item_id"],
                "benchmark": r["benchmark"],
                "question": r["question"],
                "group": r["item_group"],
                "fields": json.loads(r["fields"]),
            }
            for r in rows
        ]

    def count_items(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items)).scalar_one())


def _check_sqlite_file(path: Path, shown: str) -> None:
    """Refuse an existing SQLite file that is not a lem store before lem's connection
    settings (WAL) touch it: another tool's database is left byte for byte as it was."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            names = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" not in str(exc) and "malformed" not in str(exc):
            return  # busy: another worker is creating the store; the engine waits for it
        raise StoreError(
            f"--db {shown} is not a lem store ({exc}); give a lem store or a new file"
        ) from None
    if names and meta.name not in names:  # no tables yet: a store another worker is making
        raise _foreign(shown, names)


def _foreign(shown: str, names: set[str]) -> StoreError:
    """The one-line refusal of a database that is not a lem store."""
    listed = ", ".join(sorted(names)[:5]) or "no tables"
    return StoreError(
        f"--db {shown} is not a lem store (it holds {listed}); "
        "give a lem store, or a new file or database for a new one"
    )


def _not_a_database(exc: BaseException) -> bool:
    """SQLite's answer when the file is something else (a text file, another format)."""
    return isinstance(exc, DatabaseError) and "not a database" in str(exc)


def _int_type() -> Any:
    from sqlalchemy import Integer

    return Integer


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # lem issues BEGIN itself (see below)
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
    except Exception:  # read-only files still open for reading
        pass
    finally:
        cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    """Take SQLite's write lock at BEGIN: a read-then-write transaction (a claim) then waits
    for other writers instead of failing with SQLITE_BUSY when it tries to write."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def insert_ignore(conn: Any, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping any whose primary key exists (another worker got there first);
    returns how many were inserted. For tables of other modules (the judge cache)."""
    if not rows:
        return 0
    name = conn.dialect.name
    stmt: Any
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).on_conflict_do_nothing()
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - other databases: plain insert inside the caller's transaction
        conn.execute(insert(table), rows)
        return len(rows)
    res = conn.execute(stmt, rows)
    return max(int(res.rowcount or 0), 0)


def _upsert(conn: Any, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, updating the other columns of any row whose ``keys`` already exist."""
    name = conn.dialect.name
    stmt: Any
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table)
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    else:  # pragma: no cover - other databases: delete then insert in one transaction
        for row in rows:
            conn.execute(table.delete().where(*(table.c[k] == row[k] for k in keys)))
        conn.execute(insert(table), rows)
        return
    cols = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    for chunk in _chunks(rows, _CHUNK):
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=cols), list(chunk))


def _finished(values: dict[str, Any], ok: bool, now: str) -> dict[str, Any]:
    """An item's columns once its generation is over: the result's values, done or failed,
    the lease cleared, the completion time."""
    return {**values, "status": DONE if ok else FAILED, "lease_until": None, "completed_at": now}


def _chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _unique(plan: Iterable[ItemPlan]) -> list[ItemPlan]:
    seen: set[str] = set()
    out = []
    for p in plan:
        if p.key not in seen:
            seen.add(p.key)
            out.append(p)
    return out
