"""Contract tests every location store passes: memory, sqlite and a real etcd 3.4."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

from nf.lm import (
    AnchoredPrefixes,
    CorruptRecord,
    Location,
    LocationStore,
    LocationStoreError,
    MemoryLocationStore,
    SqliteLocationStore,
    WatchEvent,
    open_store,
)

MAAR1, MAAR2 = IPv6Address("2001:db8:a::1"), IPv6Address("2001:db8:a::2")
ETCD = "/usr/bin/etcd"


def location(mn: str = "mn1@example.net", anchor: IPv6Address = MAAR1, prefix: str = "2001:db8:1::/64",
             **kw) -> Location:
    return Location(mn, anchor, (IPv6Network(prefix),), updated=1_700_000_000.0, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def etcd_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    if not Path(ETCD).exists():
        pytest.fail(f"{ETCD} is missing (Debian etcd-server); scripts/install-system-packages.sh installs it")
    data = tmp_path_factory.mktemp("etcd")
    client_port, peer_port = free_port(), free_port()
    # Short heartbeat/election so a 1 s lease is honoured and the node elects itself quickly.
    proc = subprocess.Popen(
        [ETCD, "--name", "test", "--data-dir", str(data / "data"),
         "--listen-client-urls", f"http://127.0.0.1:{client_port}",
         "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
         "--initial-cluster", f"test=http://127.0.0.1:{peer_port}",
         "--heartbeat-interval", "10", "--election-timeout", "50"],
        stdout=subprocess.DEVNULL, stderr=open(data / "etcd.log", "wb"))

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"etcd exited: {(data / 'etcd.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{client_port}/health", timeout=1) as r:
                return b'"health":"true"' in r.read()
        except OSError:
            return False
    try:
        wait_for(healthy, 20, "etcd /health")
        yield "127.0.0.1", client_port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_etcd_namespace = iter(range(1_000_000))


@pytest.fixture(params=["memory", "sqlite", "etcd"])
def make_store(request, tmp_path) -> Iterator[Callable[[], LocationStore]]:
    """A factory of stores sharing one backing state (two anchors on one etcd/database)."""
    if request.param == "memory":
        shared = MemoryLocationStore()
        yield lambda: shared
    elif request.param == "sqlite":
        yield lambda: SqliteLocationStore(tmp_path)
    else:
        from nf.lm.etcd import EtcdLocationStore
        host, port = request.getfixturevalue("etcd_server")
        prefix = f"/test/{next(_etcd_namespace)}/"  # each test sees an empty keyspace
        yield lambda: EtcdLocationStore(host, port, prefix=prefix)


def run(coro):
    return asyncio.run(coro)


def test_put_then_get_returns_the_record(make_store):
    async def scenario():
        store = make_store()
        loc = location(serving=MAAR2, previous=(AnchoredPrefixes(MAAR2, (IPv6Network("2001:db8:2::/64"),)),))
        await store.put(loc)
        got = await store.get("mn1@example.net")
        await store.close()
        return loc, got
    loc, got = run(scenario())
    assert got == loc


def test_get_unknown_is_none_and_delete_unknown_is_false(make_store):
    async def scenario():
        store = make_store()
        result = (await store.get("nobody"), await store.delete("nobody"))
        await store.close()
        return result
    assert run(scenario()) == (None, False)


def test_put_replaces_and_delete_forgets(make_store):
    async def scenario():
        store = make_store()
        await store.put(location(anchor=MAAR1))
        await store.put(location(anchor=MAAR2))
        replaced = await store.get("mn1@example.net")
        deleted = await store.delete("mn1@example.net")
        after = await store.get("mn1@example.net")
        await store.close()
        return replaced, deleted, after
    replaced, deleted, after = run(scenario())
    assert replaced.anchor == MAAR2
    assert deleted is True and after is None


def test_list_all_and_by_anchor(make_store):
    async def scenario():
        store = make_store()
        await store.put(location("b", MAAR1, "2001:db8:2::/64"))
        await store.put(location("a", MAAR1, "2001:db8:1::/64"))
        await store.put(location("c", MAAR2, "2001:db8:3::/64"))
        result = ([x.mn_identifier for x in await store.list()],
                  [x.mn_identifier for x in await store.list(MAAR1)],
                  [x.mn_identifier for x in await store.list(IPv6Address("2001:db8:a::99"))])
        await store.close()
        return result
    assert run(scenario()) == (["a", "b", "c"], ["a", "b"], [])


def test_any_unicode_mn_identifier_round_trips(make_store):
    async def scenario():
        store = make_store()
        await store.put(location("mń/ü@exämple.net"))
        got = await store.get("mń/ü@exämple.net")
        await store.close()
        return got
    assert run(scenario()).mn_identifier == "mń/ü@exämple.net"


def test_records_are_visible_to_a_second_client(make_store):
    async def scenario():
        writer, reader = make_store(), make_store()
        await writer.put(location())
        got = await reader.get("mn1@example.net")
        await writer.close()
        await reader.close()
        return got
    assert run(scenario()) == location()


@pytest.mark.parametrize("ttl", [0, -5, 1.5])
def test_bad_ttl_is_a_typed_error(make_store, ttl):
    async def scenario():
        store = make_store()
        try:
            with pytest.raises(LocationStoreError):
                await store.put(location(), ttl=ttl)
        finally:
            await store.close()
    run(scenario())


def test_record_with_ttl_expires(make_store):
    async def scenario():
        store = make_store()
        await store.put(location("short"), ttl=1)
        await store.put(location("kept", prefix="2001:db8:2::/64"))
        assert await store.get("short") is not None
        deadline = time.monotonic() + 10
        while await store.get("short") is not None:
            assert time.monotonic() < deadline, "record with ttl=1 did not expire"
            await asyncio.sleep(0.05)  # polling the store: expiry is the store's (etcd's) own clock
        kept = await store.get("kept")
        await store.close()
        return kept
    assert run(scenario()) is not None


def test_watch_reports_puts_and_deletes_until_unsubscribed(make_store):
    async def scenario():
        store = make_store()
        events: list[WatchEvent] = []
        unsubscribe = await store.watch(events.append)

        async def until(count: int) -> None:
            deadline = time.monotonic() + 5
            while len(events) < count:
                assert time.monotonic() < deadline, f"only {len(events)} watch events"
                await asyncio.sleep(0.01)
        await store.put(location())
        await until(1)
        await store.delete("mn1@example.net")
        await until(2)
        unsubscribe()
        await store.put(location("after"))
        seen_after = await store.get("after")
        await store.close()
        return events, seen_after
    events, seen_after = run(scenario())
    assert [(e.kind, e.mn_identifier) for e in events[:2]] == [("put", "mn1@example.net"),
                                                               ("delete", "mn1@example.net")]
    assert events[0].location == location()
    assert seen_after is not None
    assert all(e.mn_identifier != "after" for e in events)


def test_closed_store_refuses_calls(make_store):
    async def scenario():
        store = make_store()
        await store.close()
        with pytest.raises(LocationStoreError):
            await store.get("x")
    run(scenario())


def test_corrupt_record_is_a_typed_error():
    with pytest.raises(CorruptRecord):
        Location.from_json('{"mn": "x", "anchor": "not-an-address"}')
    with pytest.raises(CorruptRecord):
        Location.from_json(b"\xff")


def test_sqlite_store_lives_in_the_state_directory_in_wal_mode(tmp_path):
    async def scenario():
        store = open_store("sqlite", state_dir=tmp_path)
        await store.put(location())
        await store.close()
        reopened = SqliteLocationStore(tmp_path)
        got = await reopened.get("mn1@example.net")
        await reopened.close()
        return got
    assert run(scenario()) == location()
    import sqlite3
    with sqlite3.connect(tmp_path / "lm.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("kwargs", [dict(backend="sqlite"), dict(backend="etcd", endpoint="nohost"),
                                    dict(backend="zookeeper")])
def test_open_store_rejects_bad_configuration(kwargs):
    with pytest.raises(LocationStoreError):
        open_store(**kwargs)
