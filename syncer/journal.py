"""The syncer's local memory: what it applied downstream, and how far it has read upstream.

Why this module exists: an edge syncer must survive its own restart while the control plane is
unreachable without forgetting what it is responsible for (reference edge-syncers §3.1, §4.2).
The journal keeps, per synced resource, the desired downstream object of every upstream object
it owns (so drift is still corrected offline), the last status it sent up (so a restart sends
no no-op status writes), the upstream watch watermark (so a restart resumes instead of
relisting), and the epoch: the uid of its WorkloadCluster. Deletions downstream are only ever
decided against the same epoch, so a control plane restored empty, or a WorkloadCluster deleted
and re-created, never turns into "delete everything at the edge".

SQLite (standard library) in WAL mode with ``synchronous=NORMAL``: a write is durable against a
``kill -9`` of the syncer as soon as the call returns. Reads come from an in-memory mirror.
A path of None keeps it in memory only (tests, throw-away syncers).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

Obj = dict[str, Any]
Key = tuple[str, str]
"""(upstream namespace, upstream name) of one object of one resource."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    desired BLOB NOT NULL, hash TEXT NOT NULL, status_hash TEXT, upstream_uid TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
);
"""


def state_file(state_dir: Path, logical_cluster: str, workload_cluster: str, suffix: str) -> Path:
    """``<state dir>/<logical cluster>_<cluster><suffix>`` with unsafe characters replaced: one
    syncer's files (its journal ``.db``)."""

    def safe(text: str) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)

    return state_dir / f"{safe(logical_cluster)}_{safe(workload_cluster)}{suffix}"


@dataclass
class Entry:
    """One upstream object the syncer owns downstream."""

    desired: Obj
    hash: str
    upstream_uid: str
    status_hash: str | None = None


class Journal:
    """The journal of one syncer (one workload cluster of one logical cluster)."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._meta: dict[str, str] = dict(self._db.execute("SELECT key, value FROM meta"))
        self._objects: dict[str, dict[Key, Entry]] = {}
        rows = self._db.execute(
            "SELECT resource, namespace, name, desired, hash, status_hash, upstream_uid "
            "FROM objects"
        )
        for resource, namespace, name, desired, digest, status, uid in rows:
            self._objects.setdefault(resource, {})[(namespace, name)] = Entry(
                orjson.loads(desired), digest, uid, status
            )

    def close(self) -> None:
        self._db.close()

    # --- meta -----------------------------------------------------------------------------------

    @property
    def epoch(self) -> str | None:
        return self._meta.get("epoch")

    def adopt_epoch(self, uid: str) -> bool:
        """Record the WorkloadCluster's uid; a different one forgets the inventory (the objects
        stay downstream, and are taken over again by the next apply). True if it changed."""
        if self._meta.get("epoch") == uid:
            return False
        with self._db:
            self._db.execute("DELETE FROM objects")
            self._db.execute("DELETE FROM meta WHERE key LIKE 'watermark:%'")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('epoch', ?)", (uid,))
        self._objects.clear()
        self._meta = {"epoch": uid}
        return True

    def drop_watermarks(self) -> None:
        """Forget every watermark: the next start relists (another engine wrote meanwhile)."""
        with self._db:
            self._db.execute("DELETE FROM meta WHERE key LIKE 'watermark:%'")
        self._meta = {k: v for k, v in self._meta.items() if not k.startswith("watermark:")}

    def watermark(self, resource: str) -> str | None:
        return self._meta.get(f"watermark:{resource}")

    def set_watermark(self, resource: str, revision: str | None) -> None:
        key = f"watermark:{resource}"
        if self._meta.get(key) == revision:
            return
        with self._db:
            if revision is None:
                self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                self._meta.pop(key, None)
            else:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, revision))
                self._meta[key] = revision

    # --- inventory ------------------------------------------------------------------------------

    def entries(self, resource: str) -> dict[Key, Entry]:
        """The live inventory of one resource (callers must not mutate it)."""
        return self._objects.setdefault(resource, {})

    def get(self, resource: str, key: Key) -> Entry | None:
        return self._objects.get(resource, {}).get(key)

    def put(self, resource: str, key: Key, entry: Entry) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    resource,
                    key[0],
                    key[1],
                    orjson.dumps(entry.desired),
                    entry.hash,
                    entry.status_hash,
                    entry.upstream_uid,
                ),
            )
        self._objects.setdefault(resource, {})[key] = entry

    def set_status_hash(self, resource: str, key: Key, digest: str | None) -> None:
        entry = self.get(resource, key)
        if entry is None or entry.status_hash == digest:
            return
        with self._db:
            self._db.execute(
                "UPDATE objects SET status_hash = ? WHERE resource = ? AND namespace = ? "
                "AND name = ?",
                (digest, resource, key[0], key[1]),
            )
        entry.status_hash = digest

    def remove(self, resource: str, key: Key) -> None:
        with self._db:
            self._db.execute(
                "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
                (resource, key[0], key[1]),
            )
        self._objects.get(resource, {}).pop(key, None)

    def namespaces(self) -> set[str]:
        """Every upstream namespace the syncer holds objects of."""
        return {ns for entries in self._objects.values() for ns, _ in entries}
