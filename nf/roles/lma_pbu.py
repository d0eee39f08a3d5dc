"""The LMA's reading of a Proxy Binding Update and the Proxy Binding Acknowledgement it answers.

`PbuRequest` pulls the options RFC 5213 section 5.3.1 looks at out of a decoded PBU, once;
`build_pba` mirrors them into the PBA as RFC 5213 section 5.3.6 asks.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from nf.wire import (
    AccessTechnologyTypeOption,
    BindingAckStatus,
    HandoffIndicatorOption,
    HomeNetworkPrefixOption,
    LinkLocalAddressOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    Option,
    ProxyBindingAck,
    ProxyBindingUpdate,
    TimestampOption,
)


@dataclass(frozen=True, slots=True)
class PbuRequest:
    """The options of one PBU that drive the LMA's decisions (None: option absent)."""

    mn_identifier: str | None  # NAI subtype only; other subtypes count as absent
    link_layer_id: bytes | None  # None when absent or all zeroes (RFC 5213 section 8.6)
    prefixes: tuple[IPv6Network, ...]  # every Home Network Prefix option, in order
    handoff_indicator: int | None
    access_technology_type: int | None
    timestamp: TimestampOption | None
    link_local_address: IPv6Address | None
    explicit_prefixes: frozenset[IPv6Network]  # the non-zero ones: named by the MAG (RFC 5213 §5.3.2)

    @classmethod
    def of(cls, pbu: ProxyBindingUpdate) -> PbuRequest:
        mn_identifier = link_layer_id = hi = att = timestamp = link_local = None
        prefixes: list[IPv6Network] = []
        for option in pbu.options:
            kind = option.__class__  # the option classes have no subclasses: `is` suffices
            if kind is MobileNodeIdentifierOption:
                if option.nai:
                    mn_identifier = option.nai
            elif kind is HomeNetworkPrefixOption:
                prefixes.append(option.prefix)
            elif kind is HandoffIndicatorOption:
                hi = int(option.value)
            elif kind is AccessTechnologyTypeOption:
                att = int(option.value)
            elif kind is TimestampOption:
                timestamp = option
            elif kind is MobileNodeLinkLayerIdentifierOption:
                link_layer_id = option.identifier if any(option.identifier) else None
            elif kind is LinkLocalAddressOption:
                link_local = option.address
        explicit = frozenset(p for p in prefixes if not is_all_zero(p)) if prefixes else _NO_PREFIXES
        return cls(mn_identifier, link_layer_id, tuple(prefixes), hi, att, timestamp, link_local, explicit)

    @property
    def requests_new_prefix(self) -> bool:
        """Every HNP option is all zeroes: the MAG asks the LMA to assign prefixes."""
        return bool(self.prefixes) and not self.explicit_prefixes


_NO_PREFIXES: frozenset[IPv6Network] = frozenset()


def is_all_zero(prefix: IPv6Network) -> bool:
    return int(prefix.network_address) == 0


def timestamp_value(option: TimestampOption) -> int:
    """The 64-bit value of a Timestamp option, for ordering (RFC 5213 section 8.8)."""
    return option.seconds << 16 | option.fraction


def build_pba(pbu: ProxyBindingUpdate, request: PbuRequest, status: int, *, lifetime: int = 0,
              sequence: int | None = None, prefixes: tuple[IPv6Network, ...] | None = None,
              timestamp: TimestampOption | None = None,
              link_local_address: IPv6Address | None = None) -> ProxyBindingAck:
    """The PBA for `pbu`: options mirrored per RFC 5213 section 5.3.6.

    `prefixes` are the assigned HNPs (accepted) or None to copy the request's; `timestamp`
    replaces the request's (TIMESTAMP_MISMATCH carries the LMA's own time); the lifetime is
    zero on every rejection.
    """
    if status >= BindingAckStatus.REASON_UNSPECIFIED:
        lifetime = 0
    options: list[Option] = []
    if request.mn_identifier is not None:
        options.append(MobileNodeIdentifierOption(request.mn_identifier))
    for prefix in prefixes if prefixes is not None else request.prefixes:
        options.append(HomeNetworkPrefixOption(prefix))
    if request.handoff_indicator is not None:
        options.append(HandoffIndicatorOption(request.handoff_indicator))
    if request.access_technology_type is not None:
        options.append(AccessTechnologyTypeOption(request.access_technology_type))
    if request.link_layer_id is not None:
        options.append(MobileNodeLinkLayerIdentifierOption(request.link_layer_id))
    link_local = link_local_address or request.link_local_address
    if link_local is not None:
        options.append(LinkLocalAddressOption(link_local))
    stamp = timestamp or request.timestamp
    if stamp is not None:
        options.append(stamp)
    return ProxyBindingAck(status=status, sequence=pbu.sequence if sequence is None else sequence,
                           lifetime=lifetime, options=tuple(options), proxy=True)
