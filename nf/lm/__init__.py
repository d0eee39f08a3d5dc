"""Location management: where each mobile node is anchored (memory, sqlite, etcd)."""
from __future__ import annotations

from pathlib import Path

from .base import AnchoredPrefixes, CorruptRecord, Location, LocationStore, LocationStoreError, WatchEvent
from .memory import MemoryLocationStore
from .sqlite import SqliteLocationStore

__all__ = [
    "AnchoredPrefixes", "CorruptRecord", "Location", "LocationStore", "LocationStoreError", "MemoryLocationStore",
    "SqliteLocationStore", "WatchEvent", "open_store",
]


def open_store(backend: str, *, state_dir: Path | None = None, endpoint: str | None = None) -> LocationStore:
    """Build the configured store: "memory", "sqlite" (in `state_dir`) or "etcd" (`host:port`)."""
    if backend == "memory":
        return MemoryLocationStore()
    if backend == "sqlite":
        if state_dir is None:
            raise LocationStoreError("the sqlite location store needs a state directory")
        return SqliteLocationStore(state_dir)
    if backend == "etcd":
        from .etcd import EtcdLocationStore  # imported here: only multi-node setups need requests
        host, _, port = (endpoint or "127.0.0.1:2379").rpartition(":")
        if not host or not port.isdigit():
            raise LocationStoreError(f"etcd endpoint must be host:port, got {endpoint!r}")
        return EtcdLocationStore(host.strip("[]"), int(port))
    raise LocationStoreError(f"unknown location store backend {backend!r} (memory, sqlite or etcd)")
