"""The Proxy Binding Update a MAG sends (RFC 5213 §6.9.1.1, §6.9.1.5, §8.1)."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from nf.wire import (
    LIFETIME_UNIT_SECONDS,
    MAX_LIFETIME_SECONDS,
    AccessTechnologyTypeOption,
    HandoffIndicatorOption,
    HomeNetworkPrefixOption,
    LinkLocalAddressOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    Option,
    ProxyBindingUpdate,
    TimestampOption,
)

# RFC 5213 section 2.2: ALL_ZERO in a Home Network Prefix option asks the LMA to assign one.
ALL_ZERO_PREFIX = IPv6Network("::/0")


@dataclass(frozen=True, slots=True)
class PbuContent:
    """Everything that varies between the PBUs of one session."""

    sequence: int
    lifetime: int  # seconds, a multiple of 4
    mn_identifier: str
    link_layer_id: bytes | None
    prefixes: tuple[IPv6Network, ...]  # empty: ask for assignment
    handoff_indicator: int
    access_technology_type: int
    link_local_address: IPv6Address | None  # None: no Link-local Address option (a fixed one is in use)
    timestamp: float | None  # wall-clock seconds; None when the timestamp approach is off


def wire_lifetime(seconds: float) -> int:
    """A lifetime the 4-second field carries: rounded up, at most 262140 s (RFC 6275 6.1.7)."""
    units = -(-int(seconds) // LIFETIME_UNIT_SECONDS)
    return min(max(units, 0) * LIFETIME_UNIT_SECONDS, MAX_LIFETIME_SECONDS)


def build_pbu(content: PbuContent) -> ProxyBindingUpdate:
    # Option order follows RFC 5213 §6.9.1.5, Figure 12; the codec adds alignment padding.
    options: list[Option] = [MobileNodeIdentifierOption(content.mn_identifier)]
    for prefix in content.prefixes or (ALL_ZERO_PREFIX,):  # §6.9.1.1 #3: one ALL_ZERO, or each prefix
        options.append(HomeNetworkPrefixOption(prefix))
    options.append(HandoffIndicatorOption(content.handoff_indicator))
    options.append(AccessTechnologyTypeOption(content.access_technology_type))
    if content.link_layer_id and any(content.link_layer_id):  # §6.9.1.1 #7: not when unknown or ALL_ZERO
        options.append(MobileNodeLinkLayerIdentifierOption(content.link_layer_id))
    if content.link_local_address is not None:
        options.append(LinkLocalAddressOption(content.link_local_address))
    if content.timestamp is not None:
        options.append(TimestampOption.from_time(content.timestamp))
    return ProxyBindingUpdate(
        sequence=content.sequence,
        lifetime=content.lifetime,
        options=tuple(options),
        ack=True,  # §6.9.1.5: P and A set
        home_registration=True,
        # L (RFC 6275 §6.1.7) says the mobile node's home address shares its interface
        # identifier with its link-local address: nothing a MAG can know, so it stays clear.
        link_local_compat=False,
        proxy=True,
    )
