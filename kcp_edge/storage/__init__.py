"""Storage: a revisioned key-value store with etcd semantics; LMDB is the embedded default.

Why this package exists: everything kcp-edge persists (objects of every workspace, workspace
metadata) goes through the small `Store` contract in `interface.py`, so the layers above never
see LMDB, and an etcd backend can take its place when several servers must share one store.
Only `lmdb_store.py` imports ``lmdb``. See ``docs/storage.md`` for the layout on disk.
"""

from kcp_edge.storage.errors import (
    CompactedError,
    FutureRevisionError,
    InvalidContinueError,
    InvalidKeyError,
    StorageError,
    StorageFullError,
    StoreClosedError,
    WatchExpiredError,
)
from kcp_edge.storage.interface import (
    MAX_KEY_BYTES,
    Event,
    EventType,
    KeyValue,
    ListResult,
    Revision,
    Store,
    Watch,
    WriteKind,
    WriteOp,
    WriteResult,
)
from kcp_edge.storage.lmdb_store import LmdbOptions, LmdbStore

__all__ = [
    "MAX_KEY_BYTES",
    "CompactedError",
    "Event",
    "EventType",
    "FutureRevisionError",
    "InvalidContinueError",
    "InvalidKeyError",
    "KeyValue",
    "ListResult",
    "LmdbOptions",
    "LmdbStore",
    "Revision",
    "StorageError",
    "StorageFullError",
    "Store",
    "StoreClosedError",
    "Watch",
    "WatchExpiredError",
    "WriteKind",
    "WriteOp",
    "WriteResult",
]
