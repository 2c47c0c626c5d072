"""The run store: one database holding runs, manifests, the work ledger, generations and
scores. SQLite on one machine; PostgreSQL (any SQLAlchemy URL) across machines."""

from lem.store.ledger import (
    ItemPlan,
    Store,
    insert_ignore,
    new_worker_id,
    normalise_db_url,
    utc_now,
)

__all__ = ["ItemPlan", "Store", "insert_ignore", "new_worker_id", "normalise_db_url", "utc_now"]
