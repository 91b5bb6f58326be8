"""The ML metadata store: schema, migrations, sessions, lineage edges and the audit log.

Example:
    >>> from loopml.store import open_store
    >>> store = open_store("sqlite:///:memory:")  # doctest: +SKIP
"""

from loopml.store.engine import Store, open_store, reset_stores
from loopml.store.migrate import current_revision, schema_status, upgrade
from loopml.store.models import LineageEntry, SchemaStatus

__all__ = [
    "LineageEntry",
    "SchemaStatus",
    "Store",
    "current_revision",
    "open_store",
    "reset_stores",
    "schema_status",
    "upgrade",
]
