"""The embedded default backend: the `Store` contract on LMDB, with one group-commit writer.

Why this module exists: LMDB gives crash-safe, copy-on-write B-trees with cheap snapshot reads
from any thread, which is what a single-node control plane needs; this module adds what etcd
adds on top of its B-tree: a global revision, per-key history for reads at a past revision, a
revision log to replay watches from, and compaction. It is the only module importing ``lmdb``.

Layout: ``codec.py`` (tables ``keys``, ``log``, ``meta``). Rules from py-lmdb's docs that shape
the code: write transactions only on the writer thread; read transactions short, never held
across a yield; values copied out before the transaction ends; ``set_mapsize`` only while no
transaction is active in the process, so map growth waits for readers at a gate.
"""

from __future__ import annotations

import builtins
import errno
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import lmdb

from kcp_edge.storage import codec
from kcp_edge.storage.errors import (
    CompactedError,
    FutureRevisionError,
    InvalidKeyError,
    StorageError,
    StorageFullError,
    StoreClosedError,
)
from kcp_edge.storage.interface import (
    MAX_KEY_BYTES,
    Event,
    EventType,
    KeyValue,
    ListResult,
    Revision,
    WriteKind,
    WriteOp,
    WriteResult,
)
from kcp_edge.storage.watch import DEFAULT_WATCH_BUFFER, Broadcaster, WatchStream
from kcp_edge.storage.writer import DEFAULT_MAX_BATCH, GroupCommitWriter

log = logging.getLogger(__name__)

_64BIT = sys.maxsize > 2**32
_unpack_latest = codec.LATEST.unpack_from
_LATEST_SIZE = codec.LATEST.size
_new_tuple = tuple.__new__  # KeyValue(...) without NamedTuple's Python-level __new__
_COMPACT_CHUNK = 2000


@dataclass(frozen=True, kw_only=True)
class LmdbOptions:
    """How to open the LMDB store. Sizes in bytes."""

    path: Path
    initial_map_size: int = (1 << 30) if _64BIT else (128 << 20)
    """Virtual address space reserved at open; the file stays sparse, growing with the data."""
    max_map_size: int | None = None
    """Refuse to grow the map beyond this (a quota); None: grow until the disk is full."""
    watch_buffer: int = DEFAULT_WATCH_BUFFER
    """Events a watcher may lag behind before it is cut off with `WatchExpiredError`."""
    max_batch: int = DEFAULT_MAX_BATCH
    """Most writes applied in one group commit."""


@dataclass(frozen=True, slots=True)
class _Compact:
    """A writer-thread step of compaction: set the compact revision, forget one chunk."""

    revision: int
    start_after: int


_Op = WriteOp | _Compact
_Res = WriteResult | int


def _check_key(key: bytes) -> None:
    if not key:
        raise InvalidKeyError("key must not be empty")
    if len(key) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"key is {len(key)} bytes long, the limit is {MAX_KEY_BYTES}")
    if b"\x00" in key:
        raise InvalidKeyError("key must not contain a NUL byte")


_LOW_SPACE = 16 << 20


def _is_disk_full(exc: lmdb.Error, path: Path) -> bool:
    """Whether a failed commit was the disk filling up.

    LMDB reports ENOSPC directly, or as EIO when a page write came back short; so an I/O error
    on a file system with almost no space left counts as full too.
    """
    if isinstance(exc, lmdb.DiskError) or "No space left" in str(exc):
        return True
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return True
    try:
        stat = os.statvfs(path)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < _LOW_SPACE


class _ReadGate:
    """Readers pass freely, except while the writer resizes the map (which needs zero readers).

    It sits on every get, so readers take no lock: each announces itself by appending to a
    deque (append and pop are atomic), then checks the resize flag. The writer sets the flag,
    then waits until the deque is empty. Under the interpreter lock these steps are sequentially
    consistent, so either the reader sees the flag and backs off, or the writer sees the reader
    and waits. Resizes are rare (the map doubles), so the writer may simply poll.
    """

    def __init__(self) -> None:
        self._active: deque[None] = deque()
        self._resizing = False
        self._resized = threading.Condition(threading.Lock())

    def enter(self) -> None:
        active = self._active
        while True:
            active.append(None)
            if not self._resizing:
                return
            active.pop()
            with self._resized:
                while self._resizing:
                    self._resized.wait()

    def leave(self) -> None:
        self._active.pop()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        self._resizing = True
        try:
            while self._active:
                time.sleep(0.0005)
            yield
        finally:
            with self._resized:
                self._resizing = False
                self._resized.notify_all()


class LmdbStore:
    """`Store` on LMDB. Open with `LmdbStore.open(LmdbOptions(path=...))`; close when done."""

    def __init__(self, options: LmdbOptions) -> None:
        self._options = options
        path = Path(options.path)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_file = path / "data.mdb"
        existing = data_file.stat().st_size if data_file.exists() else 0
        self._map_size = max(options.initial_map_size, existing)
        if options.max_map_size is not None:
            self._map_size = max(min(self._map_size, options.max_map_size), existing)
        try:
            self._env = lmdb.open(
                str(path),
                map_size=self._map_size,
                max_dbs=4,
                sync=True,
                metasync=True,
                readahead=False,
                max_readers=512,
                mode=0o600,
            )
            self._keys = self._env.open_db(b"keys")
            self._log = self._env.open_db(b"log")
            self._meta = self._env.open_db(b"meta")
            with self._env.begin(write=True) as txn:
                fmt = txn.get(b"format", db=self._meta)
                if fmt is None:
                    txn.put(b"format", codec.FORMAT_VERSION, db=self._meta)
                elif fmt != codec.FORMAT_VERSION:
                    raise StorageError(
                        f"{path} holds storage format {fmt!r}; this kcp-edge reads "
                        f"{codec.FORMAT_VERSION!r}"
                    )
                current, compact = self._snapshot_revisions(txn)
        except lmdb.Error as exc:
            raise StorageError(f"cannot open the store at {path}: {exc}") from exc
        self._rev = Revision(current)
        self._compact_rev = Revision(compact)
        self._page_size = int(self._env.stat()["psize"])
        self._gate = _ReadGate()
        self._broadcaster = Broadcaster()
        self._writer: GroupCommitWriter[_Op, _Res] = GroupCommitWriter(
            self._apply_batch, max_batch=options.max_batch
        )
        self._closed = False

    @classmethod
    def open(cls, options: LmdbOptions) -> LmdbStore:
        return cls(options)

    # -- revisions ---------------------------------------------------------------------------

    @property
    def current_revision(self) -> Revision:
        return self._rev

    @property
    def compact_revision(self) -> Revision:
        return self._compact_rev

    # -- writes ------------------------------------------------------------------------------

    def submit(self, op: WriteOp) -> Future[WriteResult]:
        try:
            _check_key(op.key)
        except InvalidKeyError as exc:
            failed: Future[WriteResult] = Future()
            failed.set_exception(exc)
            return failed
        # A WriteOp always resolves to a WriteResult (only _Compact steps resolve to an int).
        return cast("Future[WriteResult]", self._writer.submit(op))

    def create(self, key: bytes, value: bytes) -> WriteResult:
        return self.submit(WriteOp.create(key, value)).result()

    def update(self, key: bytes, value: bytes, *, expected_revision: int) -> WriteResult:
        return self.submit(WriteOp.update(key, value, expected_revision=expected_revision)).result()

    def delete(self, key: bytes, *, expected_revision: int = 0) -> WriteResult:
        return self.submit(WriteOp.delete(key, expected_revision=expected_revision)).result()

    def _apply_batch(
        self, ops: Sequence[_Op]
    ) -> tuple[list[_Res | StorageError], Callable[[], None]]:
        """Writer thread: apply ``ops`` in one transaction and commit (sync) once.

        A transaction that fails is aborted with the reader gate held: py-lmdb waits for every
        in-flight LMDB call to finish before a write transaction's abort, so a steady stream of
        readers would otherwise starve it.
        """
        while True:
            txn = self._env.begin(write=True)
            try:
                results, events, rev, compact = self._apply_in(txn, ops)
                txn.commit()
            except lmdb.MapFullError as exc:
                self._abort(txn)
                self._grow(exc)
                continue
            except lmdb.Error as exc:
                self._abort(txn)
                if _is_disk_full(exc, Path(self._options.path)):
                    raise StorageFullError(f"the disk holding the store is full: {exc}") from exc
                raise StorageError(f"storage write failed: {exc}") from exc
            except BaseException:
                self._abort(txn)
                raise
            break
        self._rev = rev
        if compact > self._compact_rev:
            self._compact_rev = Revision(compact)
        self._grow_ahead()
        return results, lambda: self._broadcaster.publish(events)

    def _abort(self, txn: lmdb.Transaction[bytes]) -> None:
        with self._gate.exclusive():
            txn.abort()  # a no-op if a failed commit already ended it

    def _grow_ahead(self) -> None:
        """Double the map once it is three quarters used, so batches rarely hit MapFull."""
        info = self._env.info()
        used = (info["last_pgno"] + 1) * self._page_size
        if used * 4 > self._map_size * 3:
            limit = self._options.max_map_size
            if limit is None or self._map_size < limit:
                try:
                    self._grow(None)
                except StorageError as exc:  # the batch is committed; MapFull will retry later
                    log.warning("could not grow the storage map ahead of need: %s", exc)

    def _grow(self, cause: lmdb.Error | None) -> None:
        new_size = self._map_size * 2
        limit = self._options.max_map_size
        if limit is not None and self._map_size >= limit:
            raise StorageFullError(
                f"the store reached its size limit of {limit} bytes; "
                "delete objects or raise the limit"
            ) from cause
        if limit is not None:
            new_size = min(new_size, limit)
        with self._gate.exclusive():
            try:
                self._env.set_mapsize(new_size)
            except lmdb.Error as exc:
                raise StorageFullError(f"cannot grow the store to {new_size} bytes: {exc}") from exc
        log.info("storage map grown from %d to %d bytes", self._map_size, new_size)
        self._map_size = new_size

    def _apply_in(
        self, txn: lmdb.Transaction[bytes], ops: Sequence[_Op]
    ) -> tuple[list[_Res | StorageError], list[Event], Revision, int]:
        rev = int(self._rev)
        compact = int(self._compact_rev)
        results: list[_Res | StorageError] = []
        events: list[Event] = []
        keys, logdb = self._keys, self._log
        for op in ops:
            if isinstance(op, _Compact):
                nxt, compact = self._compact_step(txn, op, compact)
                results.append(nxt)
                continue
            raw = txn.get(op.key, db=keys)
            cur = codec.decode_latest(raw) if raw is not None else None
            live = cur is not None and not cur.tombstone
            if op.kind is WriteKind.CREATE:
                if cur is not None and live:
                    results.append(WriteResult(False, Revision(rev), cur.kv(op.key)))
                    continue
                rev += 1
                prev = cur.mod_revision if cur is not None else 0
                txn.put(op.key, codec.encode_latest(rev, rev, op.value), db=keys)
                txn.put(
                    codec.encode_revision(rev),
                    codec.encode_log(
                        EventType.PUT, op.key, op.value, create_revision=rev, prev_revision=prev
                    ),
                    db=logdb,
                    append=True,
                )
                kv = KeyValue(op.key, op.value, Revision(rev), Revision(rev))
                events.append(Event(EventType.PUT, kv, None))
                results.append(WriteResult(True, Revision(rev), kv))
                continue
            if cur is None or not live:
                results.append(WriteResult(False, Revision(rev), None))
                continue
            old = cur.kv(op.key)
            if op.expected_revision and op.expected_revision != cur.mod_revision:
                results.append(WriteResult(False, Revision(rev), old))
                continue
            rev += 1
            rev_key = codec.encode_revision(rev)
            if op.kind is WriteKind.UPDATE:
                txn.put(op.key, codec.encode_latest(rev, cur.create_revision, op.value), db=keys)
                txn.put(
                    rev_key,
                    codec.encode_log(
                        EventType.PUT,
                        op.key,
                        op.value,
                        create_revision=cur.create_revision,
                        prev_revision=cur.mod_revision,
                    ),
                    db=logdb,
                    append=True,
                )
                kv = KeyValue(op.key, op.value, cur.create_revision, Revision(rev))
                events.append(Event(EventType.PUT, kv, old))
            else:
                txn.put(op.key, codec.encode_tombstone(rev), db=keys)
                txn.put(
                    rev_key,
                    codec.encode_log(
                        EventType.DELETE,
                        op.key,
                        cur.value,
                        create_revision=cur.create_revision,
                        prev_revision=cur.mod_revision,
                    ),
                    db=logdb,
                    append=True,
                )
                kv = KeyValue(op.key, cur.value, cur.create_revision, Revision(rev))
                events.append(Event(EventType.DELETE, kv, old))
            results.append(WriteResult(True, Revision(rev), kv))
        return results, events, Revision(rev), compact

    # -- compaction --------------------------------------------------------------------------

    def compact(self, revision: int) -> None:
        if revision <= self._compact_rev:
            return
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        start = 0
        while True:
            future = self._writer.submit(_Compact(revision, start))
            nxt = future.result()
            if not isinstance(nxt, int) or nxt == 0:
                return
            start = nxt

    def _compact_step(
        self, txn: lmdb.Transaction[bytes], step: _Compact, compact: int
    ) -> tuple[int, int]:
        """Forget up to one chunk of history at or below ``step.revision``.

        A log record at or below the compact revision is still needed while it is the newest
        version of its key at or below it and the key changed after it (a read at the compact
        revision walks back to it). Everything else goes, including tombstones the compact
        revision has passed. Returns (revision to continue after, or 0 when done; new compact).
        """
        target = step.revision
        if target > compact:
            txn.put(b"compact", codec.encode_revision(target), db=self._meta)
            # The log may lose its last record below; the revision must survive that.
            txn.put(b"rev", codec.encode_revision(self._rev), db=self._meta)
            compact = target
        keep: dict[bytes, int] = {}
        cursor = txn.cursor(db=self._log)
        if not cursor.set_range(codec.encode_revision(step.start_after + 1)):
            return 0, compact
        done = 0
        last = step.start_after
        while done < _COMPACT_CHUNK:
            rev = int(codec.decode_revision(cursor.key()))
            if rev > target:
                return 0, compact
            raw = cursor.value()
            key = codec.log_key(raw)
            if key not in keep:
                keep[key] = self._newest_at_or_below(txn, key, target)
            last = rev
            done += 1
            # delete() moves to the next record; past the last one the cursor is unset.
            more = cursor.next() if rev == keep[key] else cursor.delete() and bool(cursor.key())
            if not more:
                return 0, compact
        return last, compact

    def _newest_at_or_below(self, txn: lmdb.Transaction[bytes], key: bytes, target: int) -> int:
        """The log revision a read at ``target`` needs for ``key``; 0 if none (drop tombstones)."""
        raw = txn.get(key, db=self._keys)
        if raw is None:
            return 0
        latest = codec.decode_latest(raw)
        if latest.mod_revision <= target:
            if latest.tombstone:
                txn.delete(key, db=self._keys)
            return 0  # the keys table answers reads at the compact revision and later
        return self._walk_back(txn, latest.mod_revision, target)

    def _log_record(self, txn: lmdb.Transaction[bytes], revision: int) -> bytes:
        raw = txn.get(codec.encode_revision(revision), db=self._log)
        if raw is None:
            raise StorageError(f"the store is inconsistent: log record {revision} is missing")
        return raw

    def _walk_back(self, txn: lmdb.Transaction[bytes], newest: int, target: int) -> int:
        """Follow a key's history from its version at ``newest`` to its newest at or below
        ``target``; 0 if the key had no version then."""
        rev = codec.log_prev_revision(self._log_record(txn, newest))
        while rev > target:
            rev = codec.log_prev_revision(self._log_record(txn, rev))
        return rev

    # -- reads -------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[lmdb.Transaction[bytes]]:
        if self._closed:
            raise StoreClosedError("the store is closed")
        self._gate.enter()
        try:
            with self._env.begin() as txn:
                yield txn
        finally:
            self._gate.leave()

    def _snapshot_revisions(self, txn: lmdb.Transaction[bytes]) -> tuple[int, int]:
        """(current, compact) revision as of ``txn``'s snapshot.

        The current revision is the log's last key (so a commit writes no extra meta page), or
        the one compaction recorded if compaction removed the log's tail.
        """
        cursor = txn.cursor(db=self._log)
        last = int(codec.decode_revision(cursor.key())) if cursor.last() else 0
        recorded = txn.get(b"rev", db=self._meta)
        compact = txn.get(b"compact", db=self._meta)
        return (
            max(last, int(codec.decode_revision(recorded)) if recorded else 0),
            int(codec.decode_revision(compact)) if compact else 0,
        )

    def _check_revision(self, txn: lmdb.Transaction[bytes], revision: int) -> int:
        """The revision to read at (``revision`` or the snapshot's), validated."""
        current, compact = self._snapshot_revisions(txn)
        if revision == 0:
            return current
        if revision < compact:
            raise CompactedError(revision, compact)
        if revision > current:
            raise FutureRevisionError(revision, current)
        return revision

    def _version_at(
        self, txn: lmdb.Transaction[bytes], key: bytes, latest_raw: bytes, revision: int
    ) -> KeyValue | None:
        latest = codec.decode_latest(latest_raw)
        if latest.mod_revision <= revision:
            return None if latest.tombstone else latest.kv(key)
        rev = self._walk_back(txn, latest.mod_revision, revision)
        if rev == 0:
            return None
        record = codec.decode_log(rev, self._log_record(txn, rev))
        return None if record.type is EventType.DELETE else record.kv()

    def get(self, key: bytes, *, revision: int = 0) -> KeyValue | None:
        if revision == 0:  # the hot path: inlined, no key check (a bad key is simply absent)
            if self._closed:
                raise StoreClosedError("the store is closed")
            if not 0 < len(key) <= MAX_KEY_BYTES:
                return None
            gate = self._gate
            gate.enter()
            try:
                with self._env.begin() as txn:
                    raw = txn.get(key, db=self._keys)
            finally:
                gate.leave()
            if raw is None:
                return None
            mod, create, flags = _unpack_latest(raw)
            if flags == codec.FLAG_TOMBSTONE:
                return None
            return _new_tuple(KeyValue, (key, raw[_LATEST_SIZE:], create, mod))
        _check_key(key)
        with self._read() as txn:
            raw = txn.get(key, db=self._keys)
            at = self._check_revision(txn, revision)
            return None if raw is None else self._version_at(txn, key, raw, at)

    def list(
        self,
        prefix: bytes,
        *,
        revision: int = 0,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> ListResult:
        start = prefix
        skip_first = False
        if continue_token is not None:
            revision, start = codec.decode_continue(continue_token, prefix)
            skip_first = True
        items: builtins.list[KeyValue] = []
        more = False
        with self._read() as txn:
            try:
                at = self._check_revision(txn, revision)
            except CompactedError as exc:
                if continue_token is None:
                    raise
                fresh = codec.encode_continue(0, start)
                raise CompactedError(exc.requested, exc.compacted, continue_token=fresh) from exc
            cursor = txn.cursor(db=self._keys)
            ok = cursor.set_range(start)
            if ok and skip_first and cursor.key() == start:
                ok = cursor.next()
            while ok:
                key = cursor.key()
                if not key.startswith(prefix):
                    break
                raw = cursor.value()
                if codec.latest_mod_revision(raw) <= at:
                    latest = codec.decode_latest(raw)
                    kv = None if latest.tombstone else latest.kv(key)
                else:
                    kv = self._version_at(txn, key, raw, at)
                if kv is not None:
                    if limit and len(items) == limit:
                        more = True
                        break
                    items.append(kv)
                ok = cursor.next()
        token = codec.encode_continue(at, items[-1].key) if more and items else None
        return ListResult(items, Revision(at), token)

    def count(self, prefix: bytes) -> int:
        n = 0
        with self._read() as txn:
            cursor = txn.cursor(db=self._keys)
            ok = cursor.set_range(prefix)
            while ok:
                key = cursor.key()
                if not key.startswith(prefix):
                    break
                if not codec.decode_latest(cursor.value()).tombstone:
                    n += 1
                ok = cursor.next()
        return n

    # -- watch -------------------------------------------------------------------------------

    def watch(self, prefix: bytes, *, after_revision: int) -> WatchStream:
        sub = self._broadcaster.subscribe(prefix, self._options.watch_buffer)
        try:
            if after_revision == 0:
                snapshot = self.list(prefix)
                initial = [Event(EventType.PUT, kv, None) for kv in snapshot.items]
                return WatchStream(
                    broadcaster=self._broadcaster,
                    subscription=sub,
                    start_revision=snapshot.revision,
                    initial=initial,
                    history=None,
                )
            with self._read() as txn:
                current, compact = self._snapshot_revisions(txn)
            if after_revision < compact:
                raise CompactedError(after_revision, compact)
            if after_revision > current:
                raise FutureRevisionError(after_revision, current)

            def history(after: Revision, max_records: int) -> tuple[builtins.list[Event], Revision]:
                return self._read_history(prefix, after, max_records)

            return WatchStream(
                broadcaster=self._broadcaster,
                subscription=sub,
                start_revision=Revision(after_revision),
                initial=[],
                history=history,
            )
        except BaseException:
            sub.close()
            self._broadcaster.unsubscribe(sub)
            raise

    def _read_history(
        self, prefix: bytes, after: int, max_records: int
    ) -> tuple[builtins.list[Event], Revision]:
        events: builtins.list[Event] = []
        last = after
        with self._read() as txn:
            _, compact = self._snapshot_revisions(txn)
            if after < compact:
                raise CompactedError(after, compact)
            cursor = txn.cursor(db=self._log)
            ok = cursor.set_range(codec.encode_revision(after + 1))
            scanned = 0
            while ok and scanned < max_records:
                rev = int(codec.decode_revision(cursor.key()))
                raw = cursor.value()
                last = rev
                scanned += 1
                if codec.log_key(raw).startswith(prefix):
                    record = codec.decode_log(rev, raw)
                    kv = record.kv()
                    if record.type is EventType.DELETE:
                        prev = KeyValue(kv.key, kv.value, kv.create_revision, record.prev_revision)
                        events.append(Event(EventType.DELETE, kv, prev))
                    else:
                        events.append(Event(EventType.PUT, kv, None))
                ok = cursor.next()
        return events, Revision(last)

    # -- lifecycle ---------------------------------------------------------------------------

    def end_watches(self) -> None:
        """End every open watch, and every watch opened from now on (their consumers see the
        end of the stream: the server is shutting down); writes go on."""
        self._broadcaster.close_all(for_good=True)

    def close(self) -> None:
        if self._closed:
            return
        self._writer.close()
        self._closed = True
        self._broadcaster.close_all()
        with self._gate.exclusive():
            self._env.close()
