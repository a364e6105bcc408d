"""The contract every storage backend fulfils: a revisioned key-value store with etcd's semantics.

Why this module exists: the registry (Kubernetes objects, resourceVersion, watches) is written
against this seam only, so that LMDB (the embedded default) and, later, an etcd cluster shared by
several kcp-edge servers are interchangeable. The docstrings below are the specification; the
behaviour suite in ``tests/storage/`` checks every backend against them.

The model (etcd's, see etcd ``mvcc`` and kine ``pkg/server/types.go``):

* There is one global, monotonically increasing **revision**. Every successful write (create,
  update, delete) gets the next revision; an acknowledged write's revision is never reused.
  A key-value's ``mod_revision`` is the revision of its last write: the layer above uses it as the
  object's ``resourceVersion``.
* Keys are bytes, compared bytewise. They are short (at most `MAX_KEY_BYTES`) and contain no NUL
  byte: the layers above key by short ids (resource id, logical cluster id), never long names.
* Writes are acknowledged only once durable: after the method returns (or its future resolves),
  the write survives a crash of the process or the machine.
* Compare-and-swap misses are results, not exceptions (`WriteResult.succeeded` is False).
* Reads may name a past revision. Anything older than the **compact revision** fails with
  `CompactedError`; anything newer than the current revision with `FutureRevisionError`.
* Watches deliver every change after a revision exactly once, in revision order, with no gap.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple, NewType, Protocol

Revision = NewType("Revision", int)
"""A store revision. 0 means "none" / "latest" depending on the parameter (see each method)."""

MAX_KEY_BYTES = 511
"""The longest key any backend must accept: LMDB's compile-time key limit."""


class KeyValue(NamedTuple):
    """One version of one key.

    A NamedTuple rather than a frozen dataclass: it is built for every read and write on the
    hot path, and a tuple is several times cheaper to construct.
    """

    key: bytes
    value: bytes
    create_revision: Revision
    """Revision at which this incarnation of the key was created (a delete ends an incarnation)."""
    mod_revision: Revision
    """Revision of the write that produced this version (the object's resourceVersion)."""


class EventType(enum.Enum):
    PUT = "PUT"
    """A create (``kv.create_revision == kv.mod_revision``) or an update."""
    DELETE = "DELETE"
    """A delete; ``kv`` holds the last value, with ``mod_revision`` = the delete's revision."""


class Event(NamedTuple):
    """One change, as a watch delivers it. ``revision`` orders events; one revision, one write."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None
    """The version this write replaced, when known (always known for live events and deletes)."""

    @property
    def revision(self) -> Revision:
        return self.kv.mod_revision

    @property
    def is_create(self) -> bool:
        return self.type is EventType.PUT and self.kv.create_revision == self.kv.mod_revision


class WriteResult(NamedTuple):
    """The outcome of a create, update or delete.

    * ``succeeded`` True: the write was applied and is durable. ``revision`` is its revision,
      ``kv`` the new version (for a delete: the deleted value at the delete's revision).
    * ``succeeded`` False: nothing was written. ``kv`` is the current version of the key (None if
      it does not exist) so the caller can build a conflict or not-found answer without another
      read; ``revision`` is the store's revision at which that was observed.
    """

    succeeded: bool
    revision: Revision
    kv: KeyValue | None


@dataclass(frozen=True, slots=True)
class ListResult:
    """One page of a range read, all of it as of one revision."""

    items: list[KeyValue]
    revision: Revision
    """The revision the page was read at; every later page of the same list reads at it too."""
    continue_token: str | None
    """Opaque; pass it back to read the next page. None when this page is the last."""
    remaining: int | None = None
    """How many keys follow this page, when the backend knows cheaply; otherwise None."""


class WriteKind(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class WriteOp(NamedTuple):
    """One write for `Store.submit`.

    * CREATE: fails (result, not exception) if the key exists.
    * UPDATE: applies only if the key exists and its ``mod_revision == expected_revision``;
      ``expected_revision`` 0 means "whatever the current version is, as long as it exists".
    * DELETE: applies only if the key exists and (``expected_revision`` is 0 or matches).
    """

    kind: WriteKind
    key: bytes
    value: bytes = b""
    expected_revision: int = 0

    @staticmethod
    def create(key: bytes, value: bytes) -> WriteOp:
        return WriteOp(WriteKind.CREATE, key, value)

    @staticmethod
    def update(key: bytes, value: bytes, *, expected_revision: int) -> WriteOp:
        return WriteOp(WriteKind.UPDATE, key, value, expected_revision)

    @staticmethod
    def delete(key: bytes, *, expected_revision: int = 0) -> WriteOp:
        return WriteOp(WriteKind.DELETE, key, b"", expected_revision)


class Watch(Protocol):
    """A stream of events under one key prefix, after one revision.

    Iterate it (sync: ``for event in watch``, or ``next_events``; async: ``async for``) from one
    consumer at a time. It ends when closed. If the consumer falls more than the backend's bound
    behind, iteration raises `WatchExpiredError` (after every event it did deliver): the
    consumer re-lists and watches again, as a Kubernetes client does on 410.
    """

    @property
    def start_revision(self) -> Revision:
        """Events with a revision above this one follow (after any initial state)."""
        ...

    def next_events(self, timeout: float | None = None) -> list[Event]:
        """Block until events arrive, up to ``timeout`` seconds; [] on timeout or when closed."""
        ...

    async def next_batch(self, timeout: float | None = None) -> list[Event]:
        """From an event loop: every event available now, waiting up to ``timeout`` seconds
        for the first; [] on timeout or when closed. One batch, one write downstream."""
        ...

    def __iter__(self) -> Iterator[Event]: ...

    def __aiter__(self) -> AsyncIterator[Event]: ...

    @property
    def closed(self) -> bool: ...

    def close(self) -> None:
        """Stop the watch; safe from any thread, idempotent. Wakes a blocked consumer."""
        ...

    def __enter__(self) -> Watch: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Store(Protocol):
    """A revisioned key-value store with etcd semantics (see the module docstring).

    All methods are safe to call from any thread. Blocking writes wait for durability; use
    `submit` (and `kcp_edge.storage.aio`) from an event loop.
    """

    @property
    def current_revision(self) -> Revision:
        """The revision of the latest durable write (0 for an empty store)."""
        ...

    @property
    def compact_revision(self) -> Revision:
        """Reads and watches at revisions below this fail with `CompactedError` (0: none)."""
        ...

    def submit(self, op: WriteOp) -> Future[WriteResult]:
        """Queue a write; the future resolves once the write is durable (or with a StorageError).

        Writes submitted before others are applied before them, each op sees the effect of
        every op applied earlier (also within one group commit).
        """
        ...

    def create(self, key: bytes, value: bytes) -> WriteResult:
        """Create ``key``; fails (``succeeded`` False, ``kv`` = the existing one) if it exists."""
        ...

    def update(self, key: bytes, value: bytes, *, expected_revision: int) -> WriteResult:
        """Replace ``key`` if its ``mod_revision`` is ``expected_revision`` (0: any).

        Fails (``succeeded`` False) if the key is missing (``kv`` None) or at another revision
        (``kv`` = the current one).
        """
        ...

    def delete(self, key: bytes, *, expected_revision: int = 0) -> WriteResult:
        """Delete ``key`` if it exists and, when ``expected_revision`` is set, matches it."""
        ...

    def get(self, key: bytes, *, revision: int = 0) -> KeyValue | None:
        """The version of ``key`` at ``revision`` (0: latest); None if it did not exist then."""
        ...

    def list(
        self,
        prefix: bytes,
        *,
        revision: int = 0,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> ListResult:
        """Keys starting with ``prefix``, in key order, as of one revision.

        ``revision`` 0 reads the latest. ``limit`` 0 means all. With ``continue_token`` (from a
        previous page of the same prefix) the read continues after the last key returned, at the
        first page's revision, whatever was written since: pages are one consistent snapshot.
        A token whose revision was compacted raises `CompactedError` (Kubernetes: 410 Expired)
        carrying a token that continues after the same key at the latest revision; a foreign
        token raises `InvalidContinueError`; ``revision`` is ignored with a token.
        """
        ...

    def count(self, prefix: bytes) -> int:
        """How many keys start with ``prefix`` now."""
        ...

    def watch(self, prefix: bytes, *, after_revision: int) -> Watch:
        """Watch keys starting with ``prefix`` for changes with a revision > ``after_revision``.

        ``after_revision`` > 0: history after it is replayed first, then live changes follow,
        with no gap and no duplicate. Below the compact revision: `CompactedError` at once.
        ``after_revision`` 0: the current state under the prefix comes first, as PUT events (in
        key order, each with its own mod_revision), then every change after the revision that
        state was read at (`Watch.start_revision`).
        """
        ...

    def compact(self, revision: int) -> None:
        """Forget history at or below ``revision`` (the latest version of each key is kept).

        Afterwards reads and watches below ``revision`` fail with `CompactedError`. Compacting
        at or below the current compact revision does nothing; above the current revision
        raises `FutureRevisionError`.
        """
        ...

    def close(self) -> None:
        """Finish every queued write, stop the writer, end all watches, release the files."""
        ...
