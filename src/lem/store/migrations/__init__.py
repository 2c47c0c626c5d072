"""Schema migrations of the run store (Alembic).

Revision ``0001`` is the schema of lem 0.1.0 (``lem_meta.schema = 1``); every later change
to a table arrives as a new revision in ``versions/``. :func:`upgrade` brings any store to
the newest revision: a new store is created by running every revision, a 0.1.0 store
(which has no ``alembic_version`` table) is stamped ``0001`` first. A store at a revision
this lem does not know was written by a newer lem and is refused.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

__all__ = ["BASE_REVISION", "current_revision", "head_revision", "known_revisions", "upgrade"]

BASE_REVISION = "0001"
"""The revision of a store written by lem 0.1.0 (before migrations existed)."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {rev.revision for rev in _scripts().walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The store's revision: from ``alembic_version``, ``0001`` for a 0.1.0 store, None
    for an empty database."""
    names = set(inspect(connection).get_table_names())
    if "alembic_version" in names:
        return MigrationContext.configure(connection).get_current_revision()
    if "lem_meta" in names:
        return BASE_REVISION
    return None


def upgrade(engine: Engine) -> None:
    """Bring the store to the newest revision, in one transaction (serialised between
    concurrent workers: SQLite's write lock, a PostgreSQL advisory lock)."""
    with engine.begin() as conn:
        names = set(inspect(conn).get_table_names())
        if "lem_meta" in names and "alembic_version" not in names:
            command.stamp(_config(conn), BASE_REVISION)
        command.upgrade(_config(conn), "head")
