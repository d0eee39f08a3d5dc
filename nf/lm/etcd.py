"""Location store in etcd 3, for several anchors sharing one view (multi-node DMM).

Talks to etcd's HTTP gateway through etcd3gw. Its calls block, so they run in a single
worker thread: the loop never waits on the network, and one thread keeps the client's
HTTP session unshared and the writes in order. A record with a time to live is attached
to its own etcd lease, so etcd itself deletes it when an anchor stops refreshing. The watch
stream arrives on etcd3gw's thread and is handed to the loop.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Any, TypeVar

from etcd3gw import Etcd3Client
from etcd3gw import exceptions as etcd_exceptions
from etcd3gw.utils import _encode as base64_text
from etcd3gw.utils import _increment_last_byte as prefix_range_end
from etcd3gw.watch import Watcher

from .base import CorruptRecord, Location, LocationStore, LocationStoreError, WatchCallback, WatchEvent, check_ttl

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_PREFIX = "/dmm-nf/lm/mn/"


class EtcdLocationStore(LocationStore):
    name = "etcd"

    def __init__(self, host: str = "127.0.0.1", port: int = 2379, prefix: str = DEFAULT_PREFIX,
                 timeout: float = 5.0) -> None:
        super().__init__()
        if not prefix.endswith("/"):
            raise LocationStoreError(f"etcd key prefix must end with '/', got {prefix!r}")
        self.endpoint = f"{host}:{port}"
        self._prefix = prefix.encode()
        self._client = Etcd3Client(host=host, port=port, timeout=timeout, api_path="/v3/")
        self._worker: concurrent.futures.ThreadPoolExecutor | None = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lm-etcd")
        self._cancel_watches: list[Callable[[], None]] = []

    async def put(self, location: Location, ttl: int | None = None) -> None:
        check_ttl(ttl)

        def put() -> None:
            lease = self._client.lease(ttl) if ttl is not None else None
            self._client.put(self._key(location.mn_identifier), location.to_json(), lease=lease)
        await self._run(put)

    async def get(self, mn_identifier: str) -> Location | None:
        values = await self._run(self._client.get, self._key(mn_identifier))
        return Location.from_json(values[0]) if values else None

    async def delete(self, mn_identifier: str) -> bool:
        def delete() -> bool:
            answer = self._client.post(self._client.get_url("/kv/deleterange"),
                                       json={"key": base64_text(self._key(mn_identifier))})
            return int(answer.get("deleted", 0)) > 0
        return await self._run(delete)

    async def list(self, anchor: IPv6Address | None = None) -> list[Location]:
        # A full prefix read filtered here: fine for the thousands of nodes one etcd serves
        # per region; an anchor index under a second prefix would make it proportional.
        items = await self._run(self._client.get_prefix, self._prefix)
        found = [Location.from_json(value) for value, _meta in items]
        if anchor is not None:
            found = [loc for loc in found if loc.anchor == anchor]
        return sorted(found, key=lambda loc: loc.mn_identifier)

    async def watch(self, callback: WatchCallback) -> Callable[[], None]:
        loop = asyncio.get_running_loop()

        def on_event(raw: dict[str, Any]) -> None:  # on etcd3gw's thread
            try:
                event = self._event_from(raw)
            except CorruptRecord:
                return
            loop.call_soon_threadsafe(_deliver, callback, event)

        watcher = await self._run(Watcher, self._client, self._prefix, on_event,
                                  range_end=prefix_range_end(self._prefix))
        stopped = False

        def cancel() -> None:
            nonlocal stopped
            if not stopped:
                stopped = True
                watcher.stop()
        self._cancel_watches.append(cancel)
        return cancel

    async def close(self) -> None:
        for cancel in self._cancel_watches:
            cancel()
        self._cancel_watches.clear()
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        self._client.session.close()

    def _key(self, mn_identifier: str) -> bytes:
        # etcd3gw encodes str keys as latin-1; encoding here lets any MN-Identifier through.
        return self._prefix + mn_identifier.encode()

    def _event_from(self, raw: dict[str, Any]) -> WatchEvent:
        kv = raw.get("kv", {})
        key = kv.get("key", b"")
        mn_identifier = bytes(key)[len(self._prefix):].decode(errors="replace")
        if raw.get("type") == "DELETE":
            return WatchEvent("delete", mn_identifier, None)
        return WatchEvent("put", mn_identifier, Location.from_json(kv.get("value", b"")))

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._worker is None:
            raise LocationStoreError(f"etcd location store {self.endpoint} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._worker, functools.partial(fn, *args, **kwargs))
        except etcd_exceptions.Etcd3Exception as exc:
            raise LocationStoreError(f"etcd {self.endpoint}: {type(exc).__name__}: {exc}") from None


def _deliver(callback: WatchCallback, event: WatchEvent) -> None:
    try:
        callback(event)
    except Exception:
        log.exception("location watch callback failed on %s %s", event.kind, event.mn_identifier)
