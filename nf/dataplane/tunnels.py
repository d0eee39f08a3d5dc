"""The one tunnel builder: the tunnel to a peer, and the specs that probe it.

Every part that needs the tunnel to a peer — the anchor's downlink routes, the access
gateway's uplink rules, the data-path probes — asks `TunnelBuilder.to(peer)`, so a peer has
one tunnel with one name whoever asks.

* Name: `pmip-` and the CRC-32 of the peer's address in hex, 13 characters (Linux interface
  names, which an ip6ip6 tunnel becomes, have at most 15).
* SRv6 (RFC 8986): packets into the tunnel are encapsulated towards the peer's node address,
  which is its End.DT6 SID (decapsulated by its kernel); our own SID is `srv6/decap-sid`
  when configured.
* Uplink table: an access gateway steers its mobile nodes' packets into a per-anchor table
  holding the tunnel's default route. The configured anchor (`mag/lma-address`) gets
  `route-table`; every other anchor (a policy's anchor, a standby) the next free number,
  in the order they are first used.
"""
from __future__ import annotations

import zlib
from ipaddress import IPv6Address, IPv6Network

from .base import BindingSpec, Encapsulation, Route, RouteKind, Tunnel

PROBE_LOCAL_KEY = "probe"


def tunnel_name(peer: IPv6Address) -> str:
    return f"pmip-{zlib.crc32(peer.packed):08x}"


def host_prefix(address: IPv6Address) -> IPv6Network:
    return IPv6Network(f"{address}/128")


class TunnelBuilder:
    """Builds, once per peer, the tunnel of a node with the given settings (node, data-plane
    and mag sections: all restart-only, so a tunnel never changes under a running node)."""

    def __init__(self, settings) -> None:
        dp = settings.dataplane
        self._encapsulation = Encapsulation(dp.encapsulation)
        self._local = dp.srv6_source_address or settings.node.address
        self._local_sid = dp.srv6_decap_sid if self._encapsulation is Encapsulation.SRV6 else None
        self._route_table = dp.route_table
        self._tables: dict[IPv6Address, int] = {}
        if settings.mag is not None:
            self._tables[settings.mag.lma_address] = dp.route_table
        self._tunnels: dict[tuple[IPv6Address, bool], Tunnel] = {}

    def to(self, peer: IPv6Address, *, uplink: bool = False) -> Tunnel:
        """The tunnel to `peer`; `uplink` when this node steers traffic into it by policy
        rules (an access gateway), which gives the tunnel its routing table."""
        tunnel = self._tunnels.get((peer, uplink))
        if tunnel is None:
            srv6 = self._encapsulation is Encapsulation.SRV6
            tunnel = Tunnel(name=tunnel_name(peer), local=self._local, remote=peer,
                            encapsulation=self._encapsulation, remote_sid=peer if srv6 else None,
                            local_sid=self._local_sid, table=self._table(peer) if uplink else None)
            self._tunnels[(peer, uplink)] = tunnel
        return tunnel

    def _table(self, peer: IPv6Address) -> int:
        table = self._tables.get(peer)
        if table is None:
            used = set(self._tables.values())
            table = next(t for t in range(self._route_table + 1, self._route_table + 1 + len(used) + 1)
                         if t not in used)
            self._tables[peer] = table
        return table

    # ----- data-path probe specs (docs/liveness.md) -------------------------------------
    @staticmethod
    def probe_local_spec(own_probe: IPv6Address) -> BindingSpec:
        """Our probe address, delivered locally (shared by every probed tunnel)."""
        return BindingSpec(PROBE_LOCAL_KEY, None, (Route(RouteKind.PROBE_LOCAL, host_prefix(own_probe)),))

    def probe_spec(self, peer: IPv6Address, own_probe: IPv6Address, peer_probe: IPv6Address, *,
                   access_side: bool) -> BindingSpec:
        """What makes probes between the two probe addresses take the tunnel to `peer`.

        Anchor side: the peer's probe address is routed into the tunnel, exactly as a home
        network prefix is. Access side: packets from our probe address to the anchor's enter
        the tunnel by a policy rule into the tunnel's table, as mobile nodes' packets do; the
        anchor's probes, addressed into a home network prefix, are delivered locally; the
        anchor's probe address is unreachable outside the tunnel, so a missing rule loses the
        probes instead of sending them around the tunnel."""
        tunnel = self.to(peer, uplink=access_side)
        key = f"probe/{peer}"
        if not access_side:
            return BindingSpec(key, tunnel, (Route(RouteKind.DOWNLINK, host_prefix(peer_probe), tunnel=tunnel.name),))
        target = host_prefix(peer_probe)
        return BindingSpec(key, tunnel, (
            Route(RouteKind.PROBE_UPLINK, target, tunnel=tunnel.name, source=host_prefix(own_probe)),
            Route(RouteKind.PROBE_DELIVERY, target),
            Route(RouteKind.UNREACHABLE, target),
        ))
