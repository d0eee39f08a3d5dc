"""What a role (LMA, MAG, MAAR) is given by the runtime, and what it offers back.

A role is a state machine: the runtime hands it decoded messages of the types it declares in
`handles`, and the role answers through its `RoleContext` — sending messages, changing the
binding cache, programming the data plane, counting and publishing events. Everything runs
on the runtime's asyncio loop, so roles need no locks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network
from typing import Callable, ClassVar, Protocol

from nf.wire import Message


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)


SendFn = Callable[[Message, IPv6Address, "int | None"], bool]


@dataclass(frozen=True, slots=True)
class BindingForwarding:
    """What one binding needs forwarded, as the forwarding audit and the path probes see it:
    its data-plane spec key, prefixes and tunnel; at an access gateway also the access link."""

    key: str
    mn_identifier: str
    link_layer_id: bytes | None
    prefixes: tuple[IPv6Network, ...]
    peer: IPv6Address  # the other end of the tunnel: the MAG at an anchor, the anchor at a MAG
    tunnel: object  # nf.dataplane.base.Tunnel
    access_interface: str | None = None  # access gateways only

    @property
    def anchor_side(self) -> bool:
        return self.access_interface is None


@dataclass
class RoleContext:
    """The runtime's services, as a role sees them."""

    settings: object  # nf.settings.Settings
    stats: object  # nf.core.stats.Statistics
    events: object  # nf.core.events.EventBus
    timers: object  # nf.core.timers timer service
    dataplane: object  # nf.dataplane.base.DataPlane
    clock: Clock
    restart_counter: int
    send: SendFn  # send(message, destination, udp port or None) -> sent?
    lm: object | None = None  # nf.lm store, where the role uses one
    tunnels: object = None  # nf.dataplane.tunnels.TunnelBuilder; one per node, built from settings if not given
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tunnels is None:
            from nf.dataplane.tunnels import TunnelBuilder

            self.tunnels = TunnelBuilder(self.settings)


class Role(Protocol):
    name: ClassVar[str]  # "lma" | "mag" | "maar"
    handles: ClassVar[frozenset[type]]  # message classes dispatched to on_message

    def on_message(self, message: Message, src: IPv6Address, src_port: int, dst: IPv6Address) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def prepare_reconfigure(self, settings: object) -> Callable[[], None]:
        """Prepare phase of a commit: check and build what `settings` needs without changing
        anything, raising ValueError to refuse; return the apply step (which must not fail)."""
        ...
