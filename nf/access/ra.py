"""What one mobile node's Router Advertisement carries, and when it is sent again.

RFC 5213 section 6.7: the MAG advertises to each mobile node only its own home network
prefixes, so a node on a point-to-point access link configures addresses (SLAAC, A=1) in
them and takes the MAG as default router. A withdrawal sends the prefixes with lifetimes 0
(RFC 4861 section 6.2.5 / RFC 4862 section 5.5.3), and router lifetime 0 when no other
node's prefix remains on the link.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from ipaddress import IPv6Address

from nf.roles.mag_forwarding import RouterAdvertisement

from .errors import BadAdvertisement
from .ndp import SLAAC_PREFIX_LENGTH, PrefixInformation, RouterAdvertisementMessage

# RFC 4861 section 6.2.1 / 10 defaults.
MAX_RTR_ADV_INTERVAL = 600.0
MIN_RTR_ADV_INTERVAL = 0.33 * MAX_RTR_ADV_INTERVAL
MAX_INITIAL_RTR_ADVERT_INTERVAL = 16.0
MAX_INITIAL_RTR_ADVERTISEMENTS = 3
MAX_RA_DELAY_TIME = 0.5  # a solicited advertisement waits a random time up to this


@dataclass(frozen=True, slots=True)
class AdvertisingTimers:
    """Intervals between unsolicited advertisements (RFC 4861 section 6.2.4)."""

    max_interval: float = MAX_RTR_ADV_INTERVAL
    min_interval: float = MIN_RTR_ADV_INTERVAL
    max_initial_interval: float = MAX_INITIAL_RTR_ADVERT_INTERVAL
    initial_count: int = MAX_INITIAL_RTR_ADVERTISEMENTS
    max_response_delay: float = MAX_RA_DELAY_TIME

    def __post_init__(self) -> None:
        if not 0 < self.min_interval <= self.max_interval:
            raise ValueError(f"advertising intervals need 0 < min ({self.min_interval}) <= max ({self.max_interval})")

    def next_interval(self, sent_so_far: int) -> float:
        interval = random.uniform(self.min_interval, self.max_interval)
        if sent_so_far < self.initial_count:  # the first few come sooner, in case one is lost
            interval = min(interval, self.max_initial_interval)
        return interval


def check(ra: RouterAdvertisement, interface: str) -> None:
    """Refuse a request that cannot become a valid advertisement on `interface`."""
    if not isinstance(ra, RouterAdvertisement):
        raise BadAdvertisement(f"expected a RouterAdvertisement, got {type(ra).__name__}")
    if not ra.key:
        raise BadAdvertisement("a Router Advertisement needs a key")
    if ra.interface != interface:
        raise BadAdvertisement(f"advertisement {ra.key!r} is for interface {ra.interface!r}, "
                               f"this link is {interface!r}")
    if not ra.prefixes:
        raise BadAdvertisement(f"advertisement {ra.key!r} carries no home network prefix")
    if ra.source is not None and not ra.source.is_link_local:
        raise BadAdvertisement(f"advertisement {ra.key!r}: source {ra.source} is not link-local (RFC 4861 4.2)")


def message(ra: RouterAdvertisement, link_layer: bytes | None, *, withdrawn: bool = False,
            router_lifetime: int | None = None) -> RouterAdvertisementMessage:
    """The ICMPv6 message for `ra`: live lifetimes, or zeros when `withdrawn`."""
    prefixes = tuple(
        PrefixInformation(
            prefix=p.prefix,
            valid_lifetime=0 if withdrawn else p.valid_lifetime,
            preferred_lifetime=0 if withdrawn else p.preferred_lifetime,
            autonomous=p.prefix.prefixlen == SLAAC_PREFIX_LENGTH,
        )
        for p in ra.prefixes
    )
    lifetime = ra.router_lifetime if router_lifetime is None else router_lifetime
    return RouterAdvertisementMessage(router_lifetime=lifetime, prefixes=prefixes,
                                      source_link_layer_address=link_layer)


def source_address(ra: RouterAdvertisement, fixed: IPv6Address | None,
                   interface_link_locals: list[IPv6Address]) -> IPv6Address:
    """RFC 5213 6.8: the fixed MAG link-local address; else the request's; else the interface's own."""
    if fixed is not None and not fixed.is_unspecified:
        return fixed
    if ra.source is not None:
        return ra.source
    if interface_link_locals:
        return interface_link_locals[0]
    raise BadAdvertisement(f"interface {ra.interface!r} has no link-local address to advertise from")
