"""An LMA and a MAG, each a real `Runtime`, signalling over UDP on loopback.

Settings start from the example configurations (`yang/examples/lma.xml`, `mag.xml`) with
the overrides a scenario needs (free ports, short timers). Every test waits on an
observable condition with a deadline — binding cache, binding update list, data plane,
events, statistics — never on a fixed delay. PBAs and Binding Errors that reach a test
socket are read by scapy as well as by our codec.
"""
from __future__ import annotations

import asyncio
import copy
import random
import socket
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from functools import cache, partial
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from scapy.layers.inet6 import MIP6MH_BA, MIP6MH_BE

from nf import wire
from nf.config import load_config
from nf.dataplane.base import RouteKind
from nf.model import new_context
from nf.dataplane.tunnels import tunnel_name
from nf.roles.lma import LmaRole
from nf.roles.mag import MagRole
from nf.runtime import Runtime
from nf.settings import EnumValues, Settings, settings_from_dict
from tests.protocol.wire_oracle import scapy_checksum, scapy_decode
from tests.waiting import wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "yang" / "examples"
LOOPBACK = IPv6Address("::1")
MN = "mn1@example.net"  # the mobile node the example policy store admits
MN_LL = "02:00:00:aa:bb:01"
POOL = IPv6Network("2001:db8:1000::/48")  # the example LMA's pool "home"
DEADLINE = 5.0


# ----- settings ---------------------------------------------------------------------------
@cache
def _enums() -> EnumValues:
    return EnumValues(new_context())


@cache
def _example(name: str) -> dict[str, Any]:
    tree = load_config(EXAMPLES / f"{name}.xml")
    return tree.print_dict(include_implicit_defaults=False, with_siblings=True, absolute=True)["dmm-nf"]


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it: dictionaries merge, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def lma_settings(port: int, mags: Mapping[IPv6Address, int], address: IPv6Address = LOOPBACK,
                 **overrides: Any) -> Settings:
    """The example LMA on `address`:`port`, knowing the MAGs `mags` (address -> UDP port)."""
    d = merged(_example("lma"), {
        "node": {"address": str(address)},
        "transport": {"udp-port": port, "listen-address": str(address)},
        "lma": {"allowed-mag": [str(a) for a in mags]},
        "policy-store": {"mobile-node": [{"mn-identifier": MN, "pool": "home", "lifetime": 3600,
                                           "allowed-mag": [str(a) for a in mags]}]},
        "peers": {"peer": [{"address": str(a), "name": f"mag{i}", "udp-port": p}
                           for i, (a, p) in enumerate(mags.items(), 1)]},
        "timers": {"min-delay-before-bce-delete": 50},
    })
    return settings_from_dict(merged(d, overrides), _enums())


def mag_settings(port: int, lma_port: int, address: IPv6Address = LOOPBACK,
                 lma_address: IPv6Address = LOOPBACK, name: str = "mag1", **overrides: Any) -> Settings:
    d = merged(_example("mag"), {
        "node": {"name": name, "address": str(address)},
        "transport": {"udp-port": port, "listen-address": str(address)},
        "mag": {"lma-address": str(lma_address)},
        "peers": {"peer": [{"address": str(lma_address), "name": "lma1", "udp-port": lma_port}]},
        "policy-store": {"mobile-node": [{"mn-identifier": MN, "anchor": str(lma_address)}]},
        "timers": {"initial-bindack-timeout-first-reg": 200},
    })
    return settings_from_dict(merged(d, overrides), _enums())


def free_udp_port(address: str = "::1") -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


# ----- running and waiting ----------------------------------------------------------------
wait_for = partial(wait_until, timeout=DEADLINE)  # wait_for(condition, what[, timeout=])


@asynccontextmanager
async def running(settings: Settings, state_dir: Path, **kwargs: Any) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings, state_dir, **kwargs)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


def lma_of(runtime: Runtime) -> LmaRole:
    return runtime.lma


def mag_of(runtime: Runtime) -> MagRole:
    return runtime.mag


def event_kinds(runtime: Runtime, *kinds: str) -> list:
    return [e for e in runtime.events.history() if e.kind in kinds]


def bul_state(mag: Runtime, mn: str = MN, ll: str | None = MN_LL) -> str | None:
    entry = mag_of(mag).entry(mn, ll)
    return entry.state if entry is not None else None


async def registered(lma: Runtime, mag: Runtime, mn: str = MN, ll: str | None = MN_LL) -> None:
    await wait_for(lambda: bul_state(mag, mn, ll) == "registered", f"{mn} registered at the MAG")
    assert lma_of(lma).binding(mn, bytes.fromhex(ll.replace(":", "")) if ll else None) is not None


def ll_bytes(ll: str = MN_LL) -> bytes:
    return bytes.fromhex(ll.replace(":", ""))


class ScriptedPeer:
    """A bare UDP socket on ::1 playing a MAG the runtime does not know is scripted."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.bind(("::1", 0))
        self.sock.setblocking(False)

    def send(self, data: bytes, port: int) -> None:
        self.sock.sendto(data, ("::1", port))

    async def receive(self, kind: type, timeout: float = DEADLINE) -> bytes:
        """The next datagram that decodes as `kind`; others (heartbeats) are skipped."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind.__name__} within {timeout} s")
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), left)
            try:
                if isinstance(wire.decode(data, LOOPBACK, LOOPBACK), kind):
                    return data
            except wire.WireError:
                continue

    def close(self) -> None:
        self.sock.close()


def crafted_pbu(stamp: float | wire.TimestampOption | None, *, sequence: int = 1000, mn: str = MN, lifetime: int = 3600,
                prefix: IPv6Network = IPv6Network("::/0"), hi: int = 1, att: int | None = 3,
                proxy: bool = True, ll: bytes | None = None) -> bytes:
    options: list[wire.Option] = []
    if mn:
        options.append(wire.MobileNodeIdentifierOption(mn))
    if prefix is not None:
        options.append(wire.HomeNetworkPrefixOption(prefix))
    if hi is not None:
        options.append(wire.HandoffIndicatorOption(hi))
    if att is not None:
        options.append(wire.AccessTechnologyTypeOption(att))
    if ll is not None:
        options.append(wire.MobileNodeLinkLayerIdentifierOption(ll))
    if stamp is not None:
        options.append(stamp if isinstance(stamp, wire.TimestampOption) else wire.TimestampOption.from_time(stamp))
    pbu = wire.ProxyBindingUpdate(sequence=sequence, lifetime=lifetime, options=tuple(options),
                                  ack=True, home_registration=True, proxy=proxy)
    return wire.encode(pbu, LOOPBACK, LOOPBACK)


def pba_status(data: bytes) -> int:
    """The PBA's status as scapy reads it, after checking our checksum against scapy's."""
    packet = scapy_decode(data, LOOPBACK, LOOPBACK)
    assert packet.haslayer(MIP6MH_BA), packet.summary()
    assert int.from_bytes(data[4:6], "big") == scapy_checksum(data, LOOPBACK, LOOPBACK)
    ours = wire.decode(data, LOOPBACK, LOOPBACK)
    assert ours.status == packet[MIP6MH_BA].status
    return packet[MIP6MH_BA].status


@pytest.fixture
def ports() -> dict[str, int]:
    return {"lma": free_udp_port(), "mag": free_udp_port()}


def pair(ports: dict[str, int], lma: Mapping[str, Any] | None = None,
         mag: Mapping[str, Any] | None = None) -> tuple[Settings, Settings]:
    return (lma_settings(ports["lma"], {LOOPBACK: ports["mag"]}, **(lma or {})),
            mag_settings(ports["mag"], ports["lma"], **(mag or {})))


# ----- attach, refresh, detach, expiry ----------------------------------------------------
def test_attach_creates_the_binding_both_ends_with_routes_events_and_counters(tmp_path, ports):
    lma_conf, mag_conf = pair(ports)

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma, running(mag_conf, tmp_path / "mag") as mag:
            mag_of(mag).attach(MN, MN_LL)
            await registered(lma, mag)

            entry = lma_of(lma).binding(MN, ll_bytes())
            [hnp] = entry.home_network_prefixes
            assert hnp.subnet_of(POOL) and hnp.prefixlen == 64
            assert entry.proxy_coa == LOOPBACK and entry.lifetime == 3600 and entry.handoff_indicator == 1
            assert mag_of(mag).entry(MN, MN_LL).home_network_prefixes == (hnp,)
            downlink = lma.dataplane.route(RouteKind.DOWNLINK, hnp)
            assert downlink is not None and downlink.tunnel == tunnel_name(LOOPBACK)
            assert mag.dataplane.route(RouteKind.UPLINK, hnp) is not None
            assert lma.stats.pba_sent_by_status == {0: 1} and mag.stats.pba_received_by_status == {0: 1}
            assert lma.stats.bindings_created == mag.stats.bindings_created == 1
            [created] = event_kinds(lma, "binding-created")
            assert created.data["home-network-prefix"] == [str(hnp)] and created.data["proxy-coa"] == "::1"
            assert len(event_kinds(mag, "binding-created")) == 1

    asyncio.run(scenario())


def test_a_short_lifetime_is_refreshed_before_it_runs_out(tmp_path, ports):
    # 4 s is one unit of the Lifetime field (RFC 6275 6.1.7), the shortest that can be
    # granted; the MAG refreshes a lifetime this short at its half, 2 s.
    lma_conf, mag_conf = pair(ports, mag={"timers": {"requested-lifetime": 4}})

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma, running(mag_conf, tmp_path / "mag") as mag:
            mag_of(mag).attach(MN, MN_LL)
            await registered(lma, mag)
            entry = lma_of(lma).binding(MN, ll_bytes())
            first_sequence, first_expiry = entry.sequence, entry.expires_at
            assert entry.lifetime == 4

            await wait_for(lambda: lma.stats.bindings_refreshed >= 1, "a refresh at the LMA", timeout=4.0)
            await wait_for(lambda: mag.stats.bindings_refreshed >= 1, "the refresh accepted at the MAG")
            assert lma_of(lma).binding(MN, ll_bytes()) is entry
            assert entry.sequence != first_sequence and entry.expires_at > first_expiry
            assert entry.handoff_indicator == 5  # re-registration, RFC 5213 section 6.9.1.1
            assert lma_of(lma).counters.lifetime_extensions_no_handoff >= 1
            assert bul_state(mag) == "registered"
            assert event_kinds(lma, "binding-deleted") == []

    asyncio.run(scenario())


def test_detach_deregisters_and_both_ends_remove_state_and_routes(tmp_path, ports):
    lma_conf, mag_conf = pair(ports)

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma, running(mag_conf, tmp_path / "mag") as mag:
            mag_of(mag).attach(MN, MN_LL)
            await registered(lma, mag)
            [hnp] = lma_of(lma).binding(MN, ll_bytes()).home_network_prefixes

            mag_of(mag).detach(MN, MN_LL)
            await wait_for(lambda: bul_state(mag) is None, "the BUL entry gone")
            await wait_for(lambda: lma_of(lma).binding(MN, ll_bytes()) is None,
                           "the binding deleted after MinDelayBeforeBCEDelete")
            assert lma.dataplane.route(RouteKind.DOWNLINK, hnp) is None
            assert mag.dataplane.route(RouteKind.UPLINK, hnp) is None
            assert lma_of(lma).counters.deregistrations == 1
            assert [e.data["reason"] for e in event_kinds(lma, "binding-deleted")] == ["deregistered"]
            assert [e.data["reason"] for e in event_kinds(mag, "binding-deleted")] == ["deregistered"]
            assert next(iter(lma_of(lma).pools)).used == 0  # the prefix went back to the pool

    asyncio.run(scenario())


def test_the_lma_expires_a_binding_its_mag_stops_refreshing(tmp_path, ports):
    lma_conf, mag_conf = pair(ports, mag={"timers": {"requested-lifetime": 4}})

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma:
            async with running(mag_conf, tmp_path / "mag") as mag:
                mag_of(mag).attach(MN, MN_LL)
                await registered(lma, mag)
            # The MAG is gone: nothing refreshes the 4-second binding.
            [hnp] = lma_of(lma).binding(MN, ll_bytes()).home_network_prefixes
            await wait_for(lambda: lma_of(lma).binding(MN, ll_bytes()) is None, "expiry at the LMA",
                           timeout=6.0)
            assert [e.data["reason"] for e in event_kinds(lma, "binding-deleted")] == ["expired"]
            assert lma_of(lma).counters.bindings_expired == 1
            assert lma.dataplane.route(RouteKind.DOWNLINK, hnp) is None

    asyncio.run(scenario())


# ----- rejections, seen at the MAG --------------------------------------------------------
REJECTIONS = {
    # status: (what the LMA is configured with, the MN the MAG attaches)
    # the MAG is a configured peer (a stranger's PBU is not answered at all), but not one
    # this mobile node's profile allows (RFC 5213 §5.3.1 step 6)
    154: ({"policy-store": {"mobile-node": [{"mn-identifier": MN, "pool": "home",
                                              "allowed-mag": ["2001:db8::99"]}]}}, MN),
    153: ({}, "stranger@example.net"),
    129: ({"policy-store": {"mobile-node": [{"mn-identifier": MN, "pool": "home",
                                              "access-technology": ["ieee-802-11"]}]}}, MN),
    130: ({"prefix-pools": {"pool": [{"name": "home", "prefix": "2001:db8:1000::/64", "assign-length": 64}]},
           "policy-store": {"mobile-node": [{"mn-identifier": MN, "pool": "home"},
                                            {"mn-identifier": "first@example.net", "pool": "home"}]}},
          MN),
}


@pytest.mark.parametrize("status", sorted(REJECTIONS))
def test_a_rejection_reaches_the_mag_with_its_status_and_leaves_no_state(tmp_path, ports, status):
    lma_overrides, mn = REJECTIONS[status]
    lma_conf, mag_conf = pair(ports, lma=lma_overrides)

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma, running(mag_conf, tmp_path / "mag") as mag:
            if status == 130:  # the one-prefix pool goes to another node first
                mag_of(mag).attach("first@example.net", "02:00:00:aa:bb:02")
                await registered(lma, mag, "first@example.net", "02:00:00:aa:bb:02")
            mag_of(mag).attach(mn, MN_LL)
            await wait_for(lambda: mag_of(mag).counters.pba_rejected_by_status[status] == 1,
                           f"status {status} at the MAG")
            assert bul_state(mag, mn) is None
            assert mag.stats.pba_received_by_status[status] == 1
            assert lma.stats.pba_sent_by_status[status] == 1
            assert lma_of(lma).bindings_of(mn) == []
            assert [e.data["reason"] for e in event_kinds(mag, "binding-deleted")] == ["rejected"]
            uplinks = [r for r in mag.dataplane.routes() if r.kind is RouteKind.UPLINK]
            assert len(uplinks) == (1 if status == 130 else 0)  # only the first node's, if any
            if status == 130:
                assert [e.data["pool"] for e in event_kinds(lma, "pool-exhausted")] == ["home"]

    asyncio.run(scenario())


def test_a_mag_with_a_skewed_clock_is_told_156_and_does_not_take_the_lmas_clock(tmp_path, ports):
    class SkewedClock:  # ten seconds ahead of the LMA, far beyond TimestampValidityWindow
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def wall() -> float:
            return time.time() + 10.0

    lma_conf, mag_conf = pair(ports)

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma, \
                running(mag_conf, tmp_path / "mag", clock=SkewedClock()) as mag:
            mag_of(mag).attach(MN, MN_LL)
            await wait_for(lambda: mag.stats.pba_received_by_status == {156: 1}, "the 156")
            # RFC 5213 §6.9.1.2 #9: register again only once the clocks are synchronised; the
            # MAG SHOULD NOT adopt the LMA's clock, so it does not try again with it.
            assert bul_state(mag) is None and lma_of(lma).bindings() == []
            assert lma.stats.pba_sent_by_status == {156: 1}

    asyncio.run(scenario())


MALFORMED_PBUS = {
    # status: the crafted PBU (RFC 5213 section 5.3.1 / 8.9)
    131: dict(proxy=False),
    160: dict(mn=""),
    158: dict(prefix=None),
    161: dict(hi=None),
    128: dict(hi=6),  # RFC 7864's value, outside RFC 5213's 1..5
    162: dict(att=None),
    155: dict(prefix=IPv6Network("2001:db8:ffff::/64")),  # not from the node's pool
    156: dict(),  # a Timestamp far outside TimestampValidityWindow
}


@pytest.mark.parametrize("status", sorted(MALFORMED_PBUS))
def test_a_pbu_missing_what_rfc_5213_requires_is_answered_with_its_status(tmp_path, ports, status):
    lma_conf, _ = pair(ports)
    fields = {"stamp": time.time() - 60.0 if status == 156 else time.time()}
    fields |= MALFORMED_PBUS[status]

    async def scenario() -> None:
        mag = ScriptedPeer()
        try:
            async with running(lma_conf, tmp_path / "lma") as lma:
                mag.send(crafted_pbu(fields.pop("stamp"), **fields), ports["lma"])
                assert pba_status(await mag.receive(wire.ProxyBindingAck)) == status
                assert lma_of(lma).bindings() == [] and lma.dataplane.routes() == []
                assert lma.stats.pba_sent_by_status == {status: 1}
        finally:
            mag.close()

    asyncio.run(scenario())


# ----- out of order and replayed PBUs ------------------------------------------------------
def test_replayed_and_out_of_order_pbus_are_refused_and_leave_the_binding_unchanged(tmp_path, ports):
    # A window wide enough that "within it but not newer" (157) does not depend on timing.
    lma_conf, mag_conf = pair(ports, lma={"timers": {"timestamp-validity-window": 5000}})

    def snapshot(lma: Runtime) -> tuple:
        e = lma_of(lma).binding(MN, ll_bytes())
        return (e.proxy_coa, e.sequence, e.timestamp, e.lifetime, e.expires_at, e.home_network_prefixes,
                e.state, e.handoff_indicator)

    async def scenario() -> None:
        attacker = ScriptedPeer()
        try:
            async with running(lma_conf, tmp_path / "lma") as lma, running(mag_conf, tmp_path / "mag") as mag:
                mag_of(mag).attach(MN, MN_LL)
                await registered(lma, mag)
                before = snapshot(lma)
                accepted = wire.TimestampOption(before[2] >> 16, before[2] & 0xFFFF)
                [hnp] = before[5]

                cases = [
                    (156, accepted, "a replay of the accepted timestamp (not greater, so not valid)"),
                    (157, accepted.to_time() - 0.5, "an older one, still inside the window"),
                    (156, time.time() - 60.0, "one far outside the window"),
                ]
                for status, stamp, what in cases:
                    attacker.send(crafted_pbu(stamp, prefix=hnp, hi=5, ll=ll_bytes(), lifetime=8),
                                  ports["lma"])
                    assert pba_status(await attacker.receive(wire.ProxyBindingAck)) == status, what
                    assert snapshot(lma) == before, what
                assert lma.stats.pba_sent_by_status == {0: 1, 157: 1, 156: 2}
                assert [e.kind for e in lma.events.history() if e.kind.startswith("binding")] == \
                    ["binding-created"]
                assert bul_state(mag) == "registered"
        finally:
            attacker.close()

    asyncio.run(scenario())


# ----- a lost PBA -------------------------------------------------------------------------
class DroppingRelay(asyncio.DatagramProtocol):
    """Sits between the MAG and the LMA; drops the first PBA on its way to the MAG."""

    def __init__(self, lma_port: int, mag_port: int) -> None:
        self.lma_port, self.mag_port = lma_port, mag_port
        self.dropped: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if addr[1] != self.lma_port:
            self.transport.sendto(data, ("::1", self.lma_port))
            return
        if not self.dropped and data[2:3] == bytes([wire.ProxyBindingAck.MH_TYPE]):
            self.dropped.append(data)
            return
        self.transport.sendto(data, ("::1", self.mag_port))


def test_the_mag_retransmits_when_the_first_pba_is_lost_and_registers(tmp_path, ports):
    relay_port = free_udp_port()
    lma_conf = lma_settings(ports["lma"], {LOOPBACK: relay_port})
    mag_conf = mag_settings(ports["mag"], relay_port)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        relay_transport, relay = await loop.create_datagram_endpoint(
            lambda: DroppingRelay(ports["lma"], ports["mag"]), local_addr=("::1", relay_port))
        try:
            async with running(lma_conf, tmp_path / "lma") as lma, running(mag_conf, tmp_path / "mag") as mag:
                mag_of(mag).attach(MN, MN_LL)
                await wait_for(lambda: relay.dropped, "the first PBA dropped")
                assert bul_state(mag) == "registering"
                await registered(lma, mag)
                assert wire.decode(relay.dropped[0], LOOPBACK, LOOPBACK).status == 0
                assert mag.stats.pbu_retransmitted == 1 and mag.stats.pbu_sent == 2
                assert not mag_of(mag).counters.pba_rtt_seconds  # Karn: a retransmitted update gives no sample
                assert lma.stats.pbu_received == 2 and lma.stats.bindings_created == 1
                assert len(lma_of(lma).bindings()) == 1
                assert len(event_kinds(mag, "binding-created")) == 1
        finally:
            relay_transport.close()

    asyncio.run(scenario())


# ----- a MAG restart, seen by the LMA through the Restart Counter -------------------------
@pytest.mark.parametrize("policy", ["revoke-bindings", "re-register"])
def test_the_lma_detects_a_mag_restart_and_applies_its_fault_policy(tmp_path, ports, policy):
    fast = {"heartbeat": {"fast-probe": {"enabled": True, "interval": 20, "detect-multiplier": 3}}}
    lma_conf, mag_conf = pair(ports, lma={**fast, "fault-policy": {"on-peer-restart": policy}}, mag=fast)

    def peer_restarts(lma: Runtime) -> list:
        return event_kinds(lma, "peer-restart")

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma:
            async with running(mag_conf, tmp_path / "mag") as mag:
                mag_of(mag).attach(MN, MN_LL)
                await registered(lma, mag)
                await wait_for(lambda: lma.liveness.peer_state(LOOPBACK).liveness == "up",
                               "the MAG's path up at the LMA")
            async with running(mag_conf, tmp_path / "mag") as restarted:
                assert restarted.restart_counter == mag.restart_counter + 1
                await wait_for(lambda: peer_restarts(lma), "peer-restart at the LMA")
                [event] = peer_restarts(lma)
                assert (event.data["previous-restart-counter"], event.data["restart-counter"]) == (0, 1)
                if policy == "revoke-bindings":
                    await wait_for(lambda: lma_of(lma).binding(MN, ll_bytes()) is None, "the binding revoked")
                    assert lma.stats.bri_sent_by_trigger[wire.RevocationTrigger.PER_PEER_POLICY] >= 1
                    assert [e.data["reason"] for e in event_kinds(lma, "binding-deleted")] == ["peer-restart"]
                    assert lma.dataplane.routes() == []
                else:
                    assert lma_of(lma).binding(MN, ll_bytes()) is not None
                    assert lma.stats.bri_sent_by_trigger.total() == 0
                    assert event_kinds(lma, "binding-deleted") == []

    asyncio.run(scenario())


# ----- malformed datagrams ----------------------------------------------------------------
def unknown_mh_type(mh_type: int = 200) -> bytes:
    """A Mobility Header of a type no RFC defines, checksummed by scapy (not by our codec)."""
    header = bytes([59, 1, mh_type, 0, 0, 0]) + bytes(10)
    checksum = scapy_checksum(header, LOOPBACK, LOOPBACK)
    return header[:4] + checksum.to_bytes(2, "big") + header[6:]


def test_malformed_datagrams_are_counted_per_reason_and_the_lma_keeps_serving(tmp_path, ports):
    lma_conf, mag_conf = pair(ports)
    good = crafted_pbu(time.time())
    bad_checksum = good[:4] + bytes([good[4] ^ 0xFF]) + good[5:]
    datagrams = {
        "truncated": good[:3],
        "bad-checksum": bad_checksum,
        "unknown-mh-type": unknown_mh_type(),
        "random": random.Random(5436).randbytes(40),
    }

    async def scenario() -> None:
        sender = ScriptedPeer()
        try:
            async with running(lma_conf, tmp_path / "lma") as lma:
                for data in datagrams.values():
                    sender.send(data, ports["lma"])
                error = await sender.receive(wire.BindingError)
                packet = scapy_decode(error, LOOPBACK, LOOPBACK)
                assert packet.haslayer(MIP6MH_BE) and packet[MIP6MH_BE].status == 2  # unrecognised MH Type
                await wait_for(lambda: lma.stats.drops == 4, "four drops counted")
                drops = lma.stats.drops_by_reason
                assert drops["bad-checksum"] >= 1 and drops["unknown-mh-type"] == 1 and drops["truncated"] >= 1
                assert drops.total() == 4  # the random one under whichever reason it trips first
                assert lma.stats.binding_errors_sent == 1
                assert lma.stats.pbu_received == 0 and lma_of(lma).bindings() == []

                async with running(mag_conf, tmp_path / "mag") as mag:
                    mag_of(mag).attach(MN, MN_LL)
                    await registered(lma, mag)
        finally:
            sender.close()

    asyncio.run(scenario())
