"""The LMA under test: a role built on a RoleContext with a memory data plane, a fake clock
driving the timer service, and a `send` that keeps every message after it went through
`encode`/`decode` (so each one is proven valid on the wire) and scapy's reading of its octets.

This module holds the harness the tests/protocol/test_lma*.py files share, and checks it.
"""
from __future__ import annotations

import dataclasses
import functools
import tempfile
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

from nf.config import load_config
from nf.core.events import EventBus
from nf.core.stats import Statistics
from nf.core.timers import TimerService
from nf.dataplane.memory import MemoryDataPlane
from nf.roles.base import RoleContext
from nf.roles.lma import LmaRole
from nf.settings import settings_from_tree
from nf.wire import (
    AccessTechnologyTypeOption,
    HandoffIndicatorOption,
    HomeNetworkPrefixOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    ProxyBindingAck,
    ProxyBindingUpdate,
    TimestampOption,
    decode,
    encode,
)

from . import wire_oracle

LMA = IPv6Address("2001:db8:ff::100")
MAG1 = IPv6Address("2001:db8:ff::1")
MAG2 = IPv6Address("2001:db8:ff::2")
STRANGER = IPv6Address("2001:db8:ff::99")
MN = "mn1@example.net"
MN_STATIC = "static@example.net"
MN_MAG1_ONLY = "mag1only@example.net"
MN_WIFI_ONLY = "wifi@example.net"
LL = bytes.fromhex("020000000001")
ZERO = IPv6Network("::/0")
POOL = IPv6Network("2001:db8:1000::/62")  # four /64s: small enough to exhaust
STATIC = (IPv6Network("2001:db8:2000::/64"), IPv6Network("2001:db8:2000:1::/64"))
START_WALL = 1_800_000_000.0

CONFIG = f"""<dmm-nf xmlns="urn:dmm-nf:yang:dmm-nf" xmlns:dmmt="urn:dmm-nf:yang:dmm-nf-types">
  <node><name>lma-test</name><role>dmmt:lma</role><address>{LMA}</address></node>
  <lma><allowed-mag>{MAG1}</allowed-mag><allowed-mag>{MAG2}</allowed-mag><default-pool>home</default-pool></lma>
  <prefix-pools><pool><name>home</name><prefix>{POOL}</prefix><assign-length>64</assign-length></pool></prefix-pools>
  <policy-store>
    <mobile-node><mn-identifier>{MN}</mn-identifier><pool>home</pool><lifetime>3600</lifetime></mobile-node>
    <mobile-node><mn-identifier>{MN_STATIC}</mn-identifier>
      <home-network-prefix>{STATIC[0]}</home-network-prefix><home-network-prefix>{STATIC[1]}</home-network-prefix>
    </mobile-node>
    <mobile-node><mn-identifier>{MN_MAG1_ONLY}</mn-identifier><allowed-mag>{MAG1}</allowed-mag></mobile-node>
    <mobile-node><mn-identifier>{MN_WIFI_ONLY}</mn-identifier><access-technology>ieee-802-11</access-technology>
    </mobile-node>
  </policy-store>
  <dataplane><backend>dmmt:memory</backend><encapsulation>dmmt:srv6</encapsulation></dataplane>
</dmm-nf>
"""


@functools.cache
def base_settings():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lma.xml"
        path.write_text(CONFIG, encoding="utf-8")
        tree = load_config(path)
        return settings_from_tree(tree, tree.context)


def settings_with(*, timers: dict | None = None, lma: dict | None = None, fault_policy: dict | None = None):
    settings = base_settings()
    changes = {}
    if timers:
        changes["timers"] = dataclasses.replace(settings.timers, **timers)
    if lma:
        changes["lma"] = dataclasses.replace(settings.lma, **lma)
    if fault_policy:
        changes["fault_policy"] = dataclasses.replace(settings.fault_policy, **fault_policy)
    return dataclasses.replace(settings, **changes)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.wall_offset = START_WALL - self.now

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset


@dataclass
class Sent:
    message: object
    dst: IPv6Address
    port: int | None
    scapy: object  # scapy's decode of the octets


class Harness:
    def __init__(self, settings=None) -> None:
        self.clock = FakeClock()
        self.timers = TimerService(clock=self.clock.monotonic)
        self.stats = Statistics()
        self.events = EventBus(clock=self.clock.wall)
        self.dataplane = MemoryDataPlane()
        self.sent: list[Sent] = []
        self.ctx = RoleContext(settings=settings or base_settings(), stats=self.stats, events=self.events,
                               timers=self.timers, dataplane=self.dataplane, clock=self.clock, restart_counter=1,
                               send=self._send)
        self.lma = LmaRole(self.ctx)
        self._timestamp_step = 0

    def _send(self, message, dst: IPv6Address, port: int | None) -> bool:
        octets = encode(message, LMA, dst)
        decoded = decode(octets, LMA, dst)
        assert decoded == message, "the message did not survive encode/decode"
        self.sent.append(Sent(decoded, dst, port, wire_oracle.scapy_decode(octets, LMA, dst)))
        return True

    # ----- driving ----------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the fake clock and fire what fell due."""
        self.clock.now += seconds
        self.timers.run_due()

    def timestamp(self, offset: float = 0.0) -> TimestampOption:
        """A fresh timestamp at the LMA's time (+offset); successive calls strictly increase."""
        self._timestamp_step += 1
        return TimestampOption.from_time(self.clock.wall() + offset + self._timestamp_step / 65536)

    def pbu(self, mag: IPv6Address = MAG1, mn: str | None = MN, *, hi: int | None = 1, att: int | None = 3,
            prefixes=(ZERO,), ll: bytes | None = LL, lifetime: int = 3600, sequence: int = 1,
            timestamp: TimestampOption | None | str = "now", proxy: bool = True, extra=()) -> ProxyBindingUpdate:
        options = []
        if mn is not None:
            options.append(MobileNodeIdentifierOption(mn))
        options += [HomeNetworkPrefixOption(IPv6Network(p)) for p in prefixes]
        if hi is not None:
            options.append(HandoffIndicatorOption(hi))
        if att is not None:
            options.append(AccessTechnologyTypeOption(att))
        if ll is not None:
            options.append(MobileNodeLinkLayerIdentifierOption(ll))
        if timestamp == "now":
            timestamp = self.timestamp()
        if timestamp is not None:
            options.append(timestamp)
        options += list(extra)
        message = ProxyBindingUpdate(sequence=sequence, lifetime=lifetime, options=tuple(options), proxy=proxy)
        # What arrives went over the wire: deliver our decode of its octets.
        return decode(encode(message, mag, LMA), mag, LMA)

    def deliver(self, message, src: IPv6Address = MAG1, port: int = 5436):
        """Hand a message to the LMA; return the message it answered with, if any."""
        before = len(self.sent)
        self.lma.on_message(message, src, port, LMA)
        return self.sent[-1].message if len(self.sent) > before else None

    def register(self, mag: IPv6Address = MAG1, **pbu_args) -> ProxyBindingAck:
        return self.deliver(self.pbu(mag, **pbu_args), mag)

    def events_of(self, kind: str) -> list:
        return [e for e in self.events.history() if e.kind == kind]


def prefixes_of(pba: ProxyBindingAck) -> list[IPv6Network]:
    return [o.prefix for o in pba.options if isinstance(o, HomeNetworkPrefixOption)]


def option_of(message, cls):
    found = [o for o in message.options if isinstance(o, cls)]
    return found[0] if found else None


def test_harness_settings_come_from_the_yang_configuration():
    settings = base_settings()
    assert settings.lma.allowed_mags == frozenset({MAG1, MAG2})
    assert settings.policies[MN_WIFI_ONLY].access_technologies == frozenset({4})
    assert settings.timers.min_delay_before_bce_delete == 10.0  # RFC 5213 default, 10000 ms


def test_harness_advance_fires_due_timers_only():
    h = Harness()
    fired = []
    h.timers.call_later(5, fired.append, "x")
    h.advance(4.9)
    assert fired == []
    h.advance(0.2)
    assert fired == ["x"]
