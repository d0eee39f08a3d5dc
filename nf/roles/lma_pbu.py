"""The LMA's reading of a Proxy Binding Update and the Proxy Binding Acknowledgement it answers.

`PbuRequest` pulls the options RFC 5213 §5.3.1 looks at out of a decoded PBU, once, keeping
each option as received so the PBA can mirror it; `build_pba` builds the answer exactly as
RFC 5213 §5.3.6 lists it.
"""
from __future__ import annotations

import hashlib
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
    OpaqueMobileNodeIdentifierOption,
    Option,
    OptionType,
    ProxyBindingAck,
    ProxyBindingUpdate,
    TimestampOption,
    UnknownOption,
)

ALL_ZERO_PREFIX = IPv6Network("::/0")
_UNSPECIFIED = IPv6Address("::")
# RFC 5213 §8.1: at most one of each of these in a PBU (Home Network Prefix may repeat).
_SINGLE_INSTANCE = frozenset({
    OptionType.MOBILE_NODE_IDENTIFIER, OptionType.HANDOFF_INDICATOR, OptionType.ACCESS_TECHNOLOGY_TYPE,
    OptionType.TIMESTAMP, OptionType.MOBILE_NODE_LINK_LAYER_IDENTIFIER, OptionType.LINK_LOCAL_ADDRESS,
})


@dataclass(frozen=True, slots=True)
class PbuRequest:
    """The options of one PBU that drive the LMA's decisions (None: option absent)."""

    mn_option: MobileNodeIdentifierOption | OpaqueMobileNodeIdentifierOption | None  # as received
    mn_identifier: str | None  # the NAI when it names someone (an NAI of at least one octet)
    link_layer_option: bytes | None  # the Link-layer Identifier option's value as received
    link_layer_id: bytes | None  # None when absent or all zeroes (RFC 5213 §8.6, §5.1)
    prefixes: tuple[IPv6Network, ...]  # every Home Network Prefix option, in order
    handoff_indicator: int | None
    access_technology_type: int | None
    timestamp: TimestampOption | None
    link_local_address: IPv6Address | None
    explicit_prefixes: frozenset[IPv6Network]  # the non-zero ones: named by the MAG (RFC 5213 §5.3.2)
    duplicated: frozenset[int]  # option Types that RFC 5213 §8.1 allows once but came more often

    @classmethod
    def of(cls, pbu: ProxyBindingUpdate) -> PbuRequest:
        mn_option = link_layer = hi = att = timestamp = link_local = None
        prefixes: list[IPv6Network] = []
        seen: set[int] = set()
        duplicated: set[int] = set()
        for option in pbu.options:
            kind = option.__class__  # the option classes have no subclasses: `is` suffices
            if kind is HomeNetworkPrefixOption:
                prefixes.append(option.prefix)
                continue
            if kind is not UnknownOption and option.TYPE in _SINGLE_INSTANCE:
                if option.TYPE in seen:
                    duplicated.add(option.TYPE)
                seen.add(option.TYPE)
            if kind is MobileNodeIdentifierOption or kind is OpaqueMobileNodeIdentifierOption:
                mn_option = option
            elif kind is HandoffIndicatorOption:
                hi = int(option.value)
            elif kind is AccessTechnologyTypeOption:
                att = int(option.value)
            elif kind is TimestampOption:
                timestamp = option
            elif kind is MobileNodeLinkLayerIdentifierOption:
                link_layer = option.identifier
            elif kind is LinkLocalAddressOption:
                link_local = option.address
        nai = mn_option.nai if mn_option is not None and mn_option.__class__ is MobileNodeIdentifierOption else None
        explicit = frozenset(p for p in prefixes if not is_all_zero(p)) if prefixes else _NO_PREFIXES
        return cls(mn_option, nai or None, link_layer, link_layer if link_layer and any(link_layer) else None,
                   tuple(prefixes), hi, att, timestamp, link_local, explicit, frozenset(duplicated))

    @property
    def requests_new_prefix(self) -> bool:
        """Every HNP option is all zeroes: the MAG asks the LMA to assign prefixes."""
        return bool(self.prefixes) and not self.explicit_prefixes


_NO_PREFIXES: frozenset[IPv6Network] = frozenset()


def is_all_zero(prefix: IPv6Network) -> bool:
    return int(prefix.network_address) == 0


def timestamp_value(option: TimestampOption) -> int:
    """The 64-bit value of a Timestamp option, for ordering (RFC 5213 §8.8)."""
    return option.seconds << 16 | option.fraction


def generated_link_local(mn_identifier: str, link_layer_id: bytes | None) -> IPv6Address:
    """The link-local address the LMA gives the MAG for one mobility session (RFC 5213
    §5.3.6, §6.8: "the specific method ... is out of scope"): fe80::/64 and an interface
    identifier from a digest of the session's identity, with the universal/local bit clear
    (RFC 4291 §2.5.1: not a universally administered identifier). The same session always
    gets the same address, so it survives a handover and an LMA restart.
    """
    digest = bytearray(hashlib.sha256(mn_identifier.encode("utf-8", "surrogateescape")
                                      + b"\0" + (link_layer_id or b"")).digest()[:8])
    digest[0] &= 0xFD
    return IPv6Address(b"\xfe\x80" + bytes(6) + bytes(digest))


def build_pba(pbu: ProxyBindingUpdate, request: PbuRequest, status: int, *, lifetime: int = 0,
              sequence: int | None = None, prefixes: tuple[IPv6Network, ...] | None = None,
              timestamp: TimestampOption | None = None,
              link_local_address: IPv6Address | None = None) -> ProxyBindingAck:
    """The PBA for `pbu`, with the options of RFC 5213 §5.3.6.

    Mandatory whatever the status: the Mobile Node Identifier (copied; a zero-length NAI when
    the PBU had none), Home Network Prefixes (the assigned ones when accepted; the request's
    when rejected, or one ALL_ZERO when it had none), the Handoff Indicator and Access
    Technology Type (copied, zero when absent). Only when the PBU had them: the Timestamp
    (the request's, or `timestamp` for 156/157: the LMA's clock, §5.5), the Link-layer
    Identifier (copied) and the Link-local Address (`link_local_address` when accepted,
    the request's when rejected). The lifetime is zero on every rejection.
    """
    rejected = status >= BindingAckStatus.REASON_UNSPECIFIED
    if rejected:
        lifetime = 0
    options: list[Option] = [request.mn_option or MobileNodeIdentifierOption("")]
    hnps = request.prefixes if rejected or prefixes is None else prefixes
    options += [HomeNetworkPrefixOption(p) for p in hnps or (ALL_ZERO_PREFIX,)]
    options.append(HandoffIndicatorOption(request.handoff_indicator or 0))
    options.append(AccessTechnologyTypeOption(request.access_technology_type or 0))
    if request.link_layer_option is not None:
        options.append(MobileNodeLinkLayerIdentifierOption(request.link_layer_option))
    if request.link_local_address is not None:
        chosen = request.link_local_address if rejected else link_local_address
        options.append(LinkLocalAddressOption(chosen or request.link_local_address))
    if request.timestamp is not None:
        options.append(timestamp or request.timestamp)
    return ProxyBindingAck(status=status, sequence=pbu.sequence if sequence is None else sequence,
                           lifetime=lifetime, options=tuple(options), proxy=True)
