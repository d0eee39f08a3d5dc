"""What a MAG installs for one mobility session: the data-plane spec and the Router
Advertisement content for the access link (RFC 5213 sections 6.7 and 6.10).

Pure functions of the settings and the session; the MAG role decides when to install them.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from nf.dataplane.base import BindingSpec, Route, RouteKind
from nf.dataplane.tunnels import TunnelBuilder
from nf.settings import RouterAdvertisementSettings


@dataclass(frozen=True, slots=True)
class AdvertisedPrefix:
    prefix: IPv6Network
    valid_lifetime: int  # seconds
    preferred_lifetime: int  # seconds


@dataclass(frozen=True, slots=True)
class RouterAdvertisement:
    """What the access link advertises to one mobile node (RFC 5213 section 6.7): its home
    network prefixes, from the MAG's link-local address, as the node's default router."""

    key: str
    interface: str
    source: IPv6Address | None  # the MAG's link-local address on the access link, when known
    router_lifetime: int  # seconds
    prefixes: tuple[AdvertisedPrefix, ...]


def session_key(mn_identifier: str, link_layer_id: bytes | None) -> str:
    """The data-plane key of a MAG session: unique per (MN-Identifier, link-layer id)."""
    return f"mag/{mn_identifier}/{link_layer_id.hex() if link_layer_id else ''}"


def session_spec(tunnels: TunnelBuilder, key: str, lma: IPv6Address, interface: str,
                 prefixes: tuple[IPv6Network, ...]) -> BindingSpec:
    """Uplink (source HNP into the tunnel) and access delivery (HNP onto the access link)."""
    tunnel = tunnels.to(lma, uplink=True)
    routes = [Route(RouteKind.UPLINK, prefix, tunnel=tunnel.name) for prefix in prefixes]
    routes += [Route(RouteKind.ACCESS, prefix, interface=interface) for prefix in prefixes]
    return BindingSpec(key=key, tunnel=tunnel, routes=tuple(routes))


def router_advertisement(ra: RouterAdvertisementSettings, key: str, interface: str,
                         source: IPv6Address | None, prefixes: tuple[IPv6Network, ...]) -> RouterAdvertisement:
    return RouterAdvertisement(
        key=key,
        interface=interface,
        source=source,
        router_lifetime=ra.router_lifetime,
        prefixes=tuple(AdvertisedPrefix(p, ra.prefix_valid_lifetime, ra.prefix_preferred_lifetime)
                       for p in prefixes),
    )
