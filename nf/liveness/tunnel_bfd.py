"""BFD through the tunnels: one session per anchor <-> access-gateway tunnel (docs/liveness.md).

Each configured peer with BFD enabled gets one session of the BFD engine (nf/liveness/bfd):

* **tunnel** mode (the default): between this node's and the peer's data-path probe
  addresses. The data plane routes them into the tunnel to the peer exactly as a mobile
  node's packets go (nf/dataplane/tunnels.py `probe_spec`): at the anchor a downlink route
  to the access gateway's probe address, at the access gateway a rule into the tunnel's
  table. A deleted or wrong route, a missing rule, a wrong SID, broken decapsulation or a
  dead core link loses the packets, and the session goes down with RFC 5880's diagnostic:
  1 (Control Detection Time Expired) at the end that stopped hearing, 3 (Neighbor Signaled
  Session Down) at the other.
* **direct** mode: a plain RFC 5883 multihop session between the node addresses, for a
  peer that is not a dmm-nf node (a router running FRR's bfdd, say).

A session going down from Up publishes `data-path-down`, coming up `data-path-up`. A session
that has not come up `FIRST_UP_GRACE` seconds after it started counts as down too (so a tunnel
that never worked raises its alarm): `data-path-down` once, with the session's diagnostic.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from nf.dataplane.base import DataPlaneError
from nf.dataplane.tunnels import PROBE_LOCAL_KEY, TunnelBuilder
from nf.liveness.bfd import (
    AuthType,
    BfdAuthentication,
    BfdEngine,
    BfdError,
    BfdSessionSpec,
    BfdSessionState,
    BfdState,
    BfdStateChange,
)
from nf.liveness.bfd.packet import Diagnostic
from nf.roles.base import RoleContext

log = logging.getLogger(__name__)

FIRST_UP_GRACE = 10.0  # seconds
AUTH_TYPES = {"keyed-sha1": AuthType.KEYED_SHA1, "meticulous-keyed-sha1": AuthType.METICULOUS_KEYED_SHA1}


@dataclass(frozen=True, slots=True)
class BfdPeer:
    """The session wanted with one peer, from the configuration."""

    peer: IPv6Address
    name: str | None
    mode: str  # "tunnel" | "direct"
    access_side: bool  # this node steers traffic into the tunnel by rules (an access gateway)
    spec: BfdSessionSpec


def wanted_sessions(settings) -> dict[IPv6Address, BfdPeer]:
    """The BFD sessions `settings` ask for, by peer: configured peers with BFD enabled and,
    in tunnel mode, both probe addresses known."""
    data_path = settings.data_path
    if not data_path.bfd.enabled:
        return {}
    roles = settings.node.roles
    default = data_path.bfd.timers
    wanted = {}
    for peer in settings.peers.values():
        bfd = peer.bfd
        if not bfd.enabled:
            continue
        access_side = "mag" in roles and (peer.role == "lma" or (
            settings.mag is not None and peer.address == settings.mag.lma_address))
        if bfd.mode == "tunnel":
            if data_path.probe_address is None or bfd.probe_address is None:
                continue
            local, remote = data_path.probe_address, bfd.probe_address
        else:
            local, remote = settings.node.address, peer.address
        timers = bfd.timers
        auth = bfd.authentication
        spec = BfdSessionSpec(
            peer.address, local_address=local, remote_address=remote,
            desired_min_tx=timers.desired_min_tx or default.desired_min_tx,
            required_min_rx=timers.required_min_rx or default.required_min_rx,
            detect_multiplier=timers.detect_multiplier or default.detect_multiplier,
            remote_port=data_path.bfd.udp_port, minimum_ttl=data_path.bfd.minimum_ttl,
            authentication=BfdAuthentication(AUTH_TYPES[auth.type], auth.key_id, auth.key) if auth else None)
        wanted[peer.address] = BfdPeer(peer.address, peer.name, bfd.mode, access_side, spec)
    return wanted


class TunnelBfd:
    def __init__(self, ctx: RoleContext, bindings_via: Callable[[IPv6Address], int]) -> None:
        self.ctx = ctx
        self._bindings_via = bindings_via
        settings = ctx.settings
        self.engine = BfdEngine(clock=ctx.clock.monotonic, wall=ctx.clock.wall,
                                port=settings.data_path.bfd.udp_port, nonlocal_source=True)
        self.engine.listeners.append(self._on_change)
        self._peers: dict[IPv6Address, BfdPeer] = {}
        self._down_since: dict[IPv6Address, float] = {}  # monotonic time a session went down
        self._grace_timers: dict[IPv6Address, object] = {}
        self._own_probe = settings.data_path.probe_address

    # ----- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Sessions are added first and bound when the engine starts. The engine binds UDP
        `udp-port` only when there is a session to run, so nodes without BFD peers (several
        functions on one host, say) leave the port alone; a commit adding the first session
        starts it."""
        for peer in wanted_sessions(self.ctx.settings).values():
            self._add(peer)
        if self._peers:
            await self.engine.start()

    async def stop(self) -> None:
        for timer in self._grace_timers.values():
            self.ctx.timers.cancel(timer)
        self._grace_timers.clear()
        await self.engine.stop()

    def prepare_reconfigure(self, settings) -> Callable[[], None]:
        """Sessions of peers removed or disabled go; new ones start; changed timers go
        through a Poll Sequence; a changed address pair or mode restarts the session."""
        wanted = wanted_sessions(settings)
        current = self._peers
        if settings.data_path.bfd.udp_port != self.ctx.settings.data_path.bfd.udp_port:
            raise ValueError("data-path/bfd/udp-port cannot change on a running node; edit the startup "
                             "datastore and restart it")

        def apply() -> None:
            for address in [a for a in current if a not in wanted]:
                self._remove(address)
            for address, peer in wanted.items():
                old = current.get(address)
                if old is None:
                    self._add(peer)
                elif (old.spec.local_address, old.spec.remote_address, old.mode, old.access_side) != (
                        peer.spec.local_address, peer.spec.remote_address, peer.mode, peer.access_side):
                    self._remove(address)
                    self._add(peer)
                elif old != peer:
                    self.engine.update(peer.spec)
                    self._peers[address] = peer
            if self._peers and not self.engine.running:
                asyncio.get_running_loop().create_task(self._start_engine())
        return apply

    async def _start_engine(self) -> None:
        try:
            await self.engine.start()
        except BfdError as error:
            log.error("BFD cannot start: %s", error)

    # ----- reads ----------------------------------------------------------------------------
    def session(self, peer: IPv6Address) -> BfdSessionState | None:
        return self.engine.session(peer) if peer in self.engine else None

    def peer(self, peer: IPv6Address) -> BfdPeer | None:
        return self._peers.get(peer)

    def peers(self) -> list[BfdPeer]:
        return list(self._peers.values())

    # ----- sessions -------------------------------------------------------------------------
    def _add(self, peer: BfdPeer) -> None:
        if peer.mode == "tunnel":
            try:
                self._install(peer)
            except DataPlaneError as error:
                log.error("BFD with %s: the data plane refused the probe forwarding: %s", peer.peer, error)
                self._publish_down(peer, Diagnostic.PATH_DOWN)
        try:
            self.engine.add(peer.spec)
        except BfdError as error:
            log.error("BFD with %s: %s", peer.peer, error)
            return
        self._peers[peer.peer] = peer
        self._grace_timers[peer.peer] = self.ctx.timers.call_later(FIRST_UP_GRACE, self._first_up_check, peer.peer)

    def _remove(self, address: IPv6Address) -> None:
        peer = self._peers.pop(address, None)
        if peer is None:
            return
        self.ctx.timers.cancel(self._grace_timers.pop(address, None))
        self._down_since.pop(address, None)
        if address in self.engine:
            self.engine.remove(address)
        if peer.mode == "tunnel":
            self.ctx.dataplane.remove(f"probe/{address}")
            if not any(p.mode == "tunnel" for p in self._peers.values()):
                self.ctx.dataplane.remove(PROBE_LOCAL_KEY)

    def _install(self, peer: BfdPeer) -> None:
        dataplane, tunnels = self.ctx.dataplane, self.ctx.tunnels
        dataplane.apply(TunnelBuilder.probe_local_spec(self._own_probe))
        dataplane.apply(tunnels.probe_spec(peer.peer, peer.spec.local_address, peer.spec.remote_address,
                                           access_side=peer.access_side))

    # ----- state changes -> events ------------------------------------------------------------
    def _on_change(self, change: BfdStateChange) -> None:
        peer = self._peers.get(change.key)
        if peer is None:
            return
        if change.new_state is BfdState.UP:
            self.ctx.timers.cancel(self._grace_timers.pop(peer.peer, None))
            down_since = self._down_since.pop(peer.peer, None)
            data = {"peer": str(peer.peer), "tunnel": self._tunnel_name(peer)}
            if peer.name:
                data["name"] = peer.name
            if down_since is not None:
                data["down-duration"] = int((change.monotonic - down_since) * 1000)
            log.info("data path to %s up (BFD)", peer.peer)
            self.ctx.events.publish("data-path-up", **data)
        elif change.old_state is BfdState.UP:
            self._down_since[peer.peer] = change.monotonic
            self._publish_down(peer, Diagnostic(change.local_diagnostic))

    def _first_up_check(self, address: IPv6Address) -> None:
        self._grace_timers.pop(address, None)
        peer, state = self._peers.get(address), self.session(address)
        if peer is not None and state is not None and state.local_state is not BfdState.UP:
            self._down_since[address] = self.ctx.clock.monotonic()
            self._publish_down(peer, Diagnostic(state.local_diagnostic))

    def _publish_down(self, peer: BfdPeer, diagnostic: Diagnostic) -> None:
        data = {"peer": str(peer.peer), "tunnel": self._tunnel_name(peer), "diagnostic": diagnostic.label,
                "bindings": self._bindings_via(peer.peer),
                "action": self.ctx.settings.fault_policy.on_data_path_failure}
        if peer.name:
            data["name"] = peer.name
        log.warning("data path to %s down (BFD, %s)", peer.peer, diagnostic.label)
        self.ctx.events.publish("data-path-down", **data)

    def _tunnel_name(self, peer: BfdPeer) -> str:
        return self.ctx.tunnels.to(peer.peer, uplink=peer.access_side).name if peer.mode == "tunnel" else ""
