"""Backends under test: every backend of `kcp_edge.storage.Store` runs the whole behaviour suite.

Add a backend by adding a factory to ``BACKENDS``; the suite needs nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kcp_edge.storage import LmdbOptions, LmdbStore, Store

StoreFactory = Callable[..., Store]


def _lmdb(path: Path, **options: object) -> Store:
    return LmdbStore.open(LmdbOptions(path=path, **options))  # type: ignore[arg-type]


BACKENDS: dict[str, Callable[..., Store]] = {"lmdb": _lmdb}


@pytest.fixture(params=sorted(BACKENDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores of one backend (same directory by default, so a reopen sees the data)."""
    opened: list[Store] = []
    factory = BACKENDS[request.param]

    def open_(path: Path | None = None, **options: object) -> Store:
        store = factory(path or tmp_path / "store", **options)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreFactory) -> Store:
    return open_store()
