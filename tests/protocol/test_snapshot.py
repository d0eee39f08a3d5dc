"""One typed snapshot per read: only the sections asked for, keyed reads through the indexes,
values detached from the live state, and a metrics scrape that reads the runtime once."""
from __future__ import annotations

import asyncio
from ipaddress import IPv6Address, IPv6Network

import pytest
from prometheus_client import CollectorRegistry

from exporters.collector import Collector
from exporters.runtime_source import RuntimeSource
from nf.core.binding_cache import BindingCache, BindingCacheEntry
from nf.core.binding_update_list import BindingUpdateList
from nf.model import new_context
from nf.runtime import Runtime
from nf.settings import EnumValues, settings_from_dict
from nf.snapshot import SECTIONS, EntryKey, SnapshotRequest, take

ENUMS = EnumValues(new_context())
MAG = IPv6Address("2001:db8::2")
PEER = IPv6Address("2001:db8::9")


def node_settings(*roles: str):
    config = {
        "node": {"name": "n1", "role": [f"dmm-nf-types:{r}" for r in roles], "address": "::1"},
        "transport": {"type": "dmm-nf-types:udp", "udp-port": 0, "listen-address": "::1"},
        "peers": {"peer": [{"address": str(PEER), "name": "far"}]},
        "dataplane": {"backend": "dmm-nf-types:memory"},
    }
    if "lma" in roles:
        config["lma"] = {"allowed-mag": [str(MAG)]}
    if "mag" in roles:
        config["mag"] = {"lma-address": str(PEER), "access-interface": [{"name": "acc0"}]}
    return settings_from_dict(config, ENUMS)


def run(tmp_path, roles, scenario):
    async def main():
        runtime = Runtime(node_settings(*roles), tmp_path)
        await runtime.start()
        try:
            return await scenario(runtime)
        finally:
            await runtime.stop()

    return asyncio.run(main())


def fill(cache: BindingCache, count: int) -> None:
    for i in range(count):
        cache.add(BindingCacheEntry(
            mn_identifier=f"mn{i}@example.net", link_layer_id=bytes([2, 0, 0, 0, 0, i % 256]),
            home_network_prefixes=(IPv6Network(f"2001:db8:1:{i:x}::/64"),), proxy_coa=MAG,
            access_technology_type=4, handoff_indicator=1, sequence=1, lifetime=3600,
            created_monotonic=1.0, created_wall=1.0))


def no_walk(monkeypatch, cls) -> None:
    def walk(self):
        raise AssertionError(f"a keyed read walked the whole {cls.__name__}")

    monkeypatch.setattr(cls, "__iter__", walk)


def test_a_request_for_a_section_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="no snapshot section 'bfd'"):
        SnapshotRequest.of("node", "bfd")


def test_only_the_requested_sections_are_taken(tmp_path):
    async def scenario(runtime):
        return await asyncio.to_thread(runtime.snapshot, SnapshotRequest.of("node", "peers"))

    snap = run(tmp_path, ("lma",), scenario)
    assert snap.node.roles == ("lma",) and [p.address for p in snap.peers] == [PEER]
    assert all(getattr(snap, name) is None for name in SECTIONS - {"node", "peers"})


def test_a_key_on_one_mobile_node_reads_its_bindings_through_the_index(tmp_path, monkeypatch):
    async def scenario(runtime):
        fill(runtime.lma.cache, 300)
        no_walk(monkeypatch, BindingCache)
        both = take(runtime, SnapshotRequest.of(binding_cache=(EntryKey("mn7@example.net"),
                                                               EntryKey.interface("mn9@example.net", b"\2\0\0\0\0\x09"),
                                                               EntryKey.interface("mn9@example.net", None))))
        nobody = take(runtime, SnapshotRequest.of(binding_cache=()))
        monkeypatch.undo()
        runtime.lma.cache.clear()  # the entries were added behind the role's back
        return both, nobody

    both, nobody = run(tmp_path, ("lma",), scenario)
    assert [row.mn_identifier for row in both.binding_cache.rows] == ["mn7@example.net", "mn9@example.net"]
    assert nobody.binding_cache.rows == []


def test_binding_update_list_keys_select_through_its_index(tmp_path, monkeypatch):
    async def scenario(runtime):
        for i in range(20):
            runtime.mag.attach(f"mn{i}@example.net", f"02:00:00:00:00:{i:02x}")
        no_walk(monkeypatch, BindingUpdateList)
        snap = take(runtime, SnapshotRequest.of(binding_update_list=(EntryKey("mn3@example.net"),)))
        monkeypatch.undo()
        return snap

    snap = run(tmp_path, ("mag",), scenario)
    [entry] = snap.binding_update_list
    assert (entry.mn_identifier, entry.link_layer_id, entry.state) == ("mn3@example.net", b"\2\0\0\0\0\3",
                                                                      "registering")


def test_peer_keys_select_only_the_peers_named(tmp_path):
    async def scenario(runtime):
        runtime.liveness.add_peer(MAG)
        return take(runtime, SnapshotRequest.of(peers=(MAG, IPv6Address("2001:db8::77"))))

    snap = run(tmp_path, ("lma",), scenario)
    assert [p.address for p in snap.peers] == [MAG]


def test_the_values_are_detached_from_the_live_state(tmp_path):
    async def scenario(runtime):
        snap = take(runtime, SnapshotRequest.of("counters", "bindings"))
        runtime.stats.received("pbu", None)
        runtime.stats.malformed(None, None, "truncated")
        fill(runtime.lma.cache, 1)
        after = take(runtime, SnapshotRequest.of("bindings"))
        runtime.lma.cache.clear()
        return snap, after

    snap, after = run(tmp_path, ("lma",), scenario)
    assert snap.counters.statistics.pbu_received == 0 and not snap.counters.statistics.drops_by_reason
    assert snap.bindings.cache["active"] == 0 and after.bindings.cache["active"] == 1


def test_a_metrics_scrape_reads_the_runtime_in_one_call(tmp_path, monkeypatch):
    async def scenario(runtime):
        calls = []
        real_call = runtime.call
        monkeypatch.setattr(runtime, "call", lambda fn, *args, **kw: calls.append(fn) or real_call(fn, *args, **kw))
        registry = CollectorRegistry()
        registry.register(Collector(RuntimeSource(runtime)))
        value = await asyncio.to_thread(registry.get_sample_value, "dmm_bindings", {"state": "active"})
        return calls, value

    calls, value = run(tmp_path, ("lma",), scenario)
    assert len(calls) == 1 and value == 0


def test_the_alarms_section_is_detached_and_carries_the_inventory_of_the_roles(tmp_path):
    async def scenario(runtime):
        runtime.events.publish("peer-path-down", peer=str(PEER))
        snap = take(runtime, SnapshotRequest.of("alarms"))
        runtime.events.publish("peer-path-up", peer=str(PEER))
        return snap, runtime.alarms.alarms()[0]

    snap, live = run(tmp_path, ("lma",), scenario)
    [alarm] = snap.alarms.alarms
    assert not alarm.is_cleared and len(alarm.status_changes) == 1
    assert live.is_cleared and len(live.status_changes) == 2
    assert "prefix-pool-exhausted" in {t.name for t in snap.alarms.inventory}
    assert "registration-failed" not in {t.name for t in snap.alarms.inventory}
    assert snap.alarms.last_changed == alarm.last_changed


def test_a_message_the_encoder_refuses_is_a_send_failure_of_its_kind_for_the_node_and_the_peer(tmp_path):
    from nf import wire

    async def scenario(runtime):
        sent = runtime.send(wire.BindingError(status=300), PEER)  # a status the 8-bit field cannot hold
        return sent, take(runtime, SnapshotRequest.of("counters", peers=(PEER,)))

    sent, snap = run(tmp_path, ("lma",), scenario)
    assert sent is False
    s = snap.counters.statistics
    assert (s.messages["binding-error"].send_failures, s.messages["binding-error"].sent) == (1, 0)
    assert s.send_failures_by_reason == {"encode-error": 1}
    [peer] = snap.peers
    assert peer.count("binding-error", "send_failures") == 1


def test_the_counted_peers_are_the_configured_peers_and_the_authorised_mags(tmp_path):
    async def scenario(runtime):
        return runtime.stats.counted_peers

    assert run(tmp_path, ("lma",), scenario) == {PEER, MAG}
