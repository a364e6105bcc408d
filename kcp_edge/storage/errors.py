"""The storage layer's one exception tree.

Why this module exists: every backend (LMDB today, etcd later) must fail in the same, documented
ways, so that the layers above translate storage failures into Kubernetes `Status` objects in one
place of `server/` without knowing which backend is underneath. Backend-specific exceptions
(``lmdb.Error`` and friends) are wrapped here with ``raise ... from exc`` by the backend that sees
them and never leak upward.

Compare-and-swap misses (create on an existing key, update or delete with a stale revision) are
*not* exceptions: they are `WriteResult(succeeded=False, ...)` results the caller acts on, as in
etcd's transactions and kine's ``Backend``.

::

    StorageError                      base; anything else from a backend is a bug
    ├── CompactedError                revision below the compaction window (HTTP 410 Expired/Gone)
    │   └── WatchExpiredError         a watcher fell too far behind and was cut off (410)
    ├── FutureRevisionError           revision above the current one ("too large resource version")
    ├── InvalidKeyError               empty, too long (LMDB: 511 bytes) or containing NUL
    ├── InvalidContinueError          a continue token not ours, or for another prefix
    ├── StorageFullError              disk or configured size limit full; reads still work
    └── StoreClosedError              the store was closed (shutdown); the write was not applied
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the storage layer raises on purpose."""


class CompactedError(StorageError):
    """The requested revision is older than the compaction window.

    Kubernetes answers this with 410 Gone (reason ``Expired``): the client must re-list.
    A list continued from a compacted token carries ``continue_token``: one continuing the same
    list after the same key, at the latest revision (the apiserver hands it to the client).
    """

    def __init__(
        self, requested: int, compacted: int, *, continue_token: str | None = None
    ) -> None:
        self.requested = requested
        self.compacted = compacted
        self.continue_token = continue_token
        super().__init__(
            f"required revision {requested} has been compacted (compact revision {compacted})"
        )


class WatchExpiredError(CompactedError):
    """A watcher did not keep up: its bounded buffer overflowed, so it was cut off.

    Raised from the watch's iteration instead of letting its queue grow without bound. The
    watcher has seen every event up to `last_revision`; it must re-list and watch again.
    """

    def __init__(self, last_revision: int, buffered: int) -> None:
        self.last_revision = last_revision
        self.buffered = buffered
        StorageError.__init__(
            self,
            f"watch fell behind by more than {buffered} events after revision {last_revision} "
            "and was closed: too old resource version, re-list",
        )
        self.requested = last_revision
        self.compacted = last_revision
        self.continue_token = None


class FutureRevisionError(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        self.requested = requested
        self.current = current
        super().__init__(
            f"required revision {requested} is a future revision (current revision {current})"
        )


class InvalidKeyError(StorageError, ValueError):
    """A key the store cannot hold (empty, too long, or containing a NUL byte)."""


class InvalidContinueError(StorageError, ValueError):
    """A continue token that this store did not issue for this prefix."""


class StorageFullError(StorageError):
    """The write could not be made durable because the disk or size limit is full.

    Nothing of the failed batch was applied; everything committed before stays readable.
    """


class StoreClosedError(StorageError):
    """The store is closed (or closing); the operation was not applied."""
