"""Mobility options (RFC 6275 §6.2): typed values, their bodies on the wire, alignment.

Each option class knows its Type, its alignment requirement ``xn+y`` (RFC 6275 §6.2:
the Type octet starts y octets past a multiple of x from the start of the Mobility
Header) and how to turn its body (the octets after Type and Length) into bytes and
back. Laying options out with padding is the codec's job (``codec.py``).

Every option class registers itself by its Type when it is defined
(`MobilityOption.__init_subclass__`): adding an option is one class, and `OPTION_CLASSES`
and `PARSERS` follow. Pad1 and PadN exist so their numbers have names, but padding carries
no information: ``encode()`` ignores them and inserts its own, ``decode()`` drops them.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv6Address, IPv6Network
from typing import ClassVar, Union

from .constants import AccessTechnologyType, AuthenticationSubtype, HandoffIndicator, MnIdentifierSubtype, OptionType
from .errors import EncodeError, OptionLengthError, OptionValueError

_PREFIX = struct.Struct("!xB16s")  # Reserved, Prefix Length, Prefix (RFC 5213 §8.3)
_RESERVED_BYTE_VALUE = struct.Struct("!xB")  # Reserved, value (RFC 5213 §8.4, §8.5)
_TIMESTAMP = struct.Struct("!HIH")  # 48-bit seconds as 16+32 bits, 16-bit fraction
_UINT32 = struct.Struct("!I")
_UINT64 = struct.Struct("!Q")
_AUTHENTICATION = struct.Struct("!BI")  # Subtype, Mobility SPI (RFC 4285 §5, Figure 2)
_PREVIOUS_MAAR = struct.Struct("!xB16s16s")

_NO_ALIGNMENT = (1, 0)

# Option Type -> the class that decodes it
OPTION_CLASSES: dict[int, type] = {}


class MobilityOption:
    """Base of every option class: registration by Type.

    A class that defines TYPE and a `parse(body)` class method is the decoder of that Type;
    one that sets `REGISTERED = False` (padding, a second class for a Type another class
    decodes) is not.
    """

    __slots__ = ()
    TYPE: ClassVar[int]
    ALIGN: ClassVar[tuple[int, int]] = _NO_ALIGNMENT
    REGISTERED: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" not in cls.__dict__ or not cls.__dict__.get("REGISTERED", True):
            return
        known = OPTION_CLASSES.get(cls.TYPE)
        # dataclass(slots=True) builds the class a second time: the later one replaces the first.
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(f"option Type {cls.TYPE} is already {known.__name__}")
        OPTION_CLASSES[int(cls.TYPE)] = cls


def _prefix_from_wire(length: int, raw: bytes) -> IPv6Network:
    if length > 128:
        raise OptionValueError(f"prefix length {length} is above 128")
    return _network(length, raw)


@lru_cache(maxsize=4096)
def _network(length: int, raw: bytes) -> IPv6Network:
    # Cached: building an IPv6Network costs more than decoding the rest of a PBU, and
    # refreshes carry the same prefixes again and again (networks are immutable).
    # strict=False: a sender's stray host bits are not worth dropping the message for.
    return IPv6Network((int.from_bytes(raw, "big"), length), strict=False)


def _exact_length(body: bytes, expected: int, name: str) -> None:
    if len(body) != expected:
        raise OptionLengthError(f"{name} option length {len(body)}, expected {expected}")


@dataclass(frozen=True, slots=True)
class Pad1(MobilityOption):
    """One octet of padding (RFC 6275 §6.2.2)."""

    TYPE: ClassVar[int] = OptionType.PAD1
    REGISTERED: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class PadN(MobilityOption):
    """N+2 octets of padding (RFC 6275 §6.2.3)."""

    TYPE: ClassVar[int] = OptionType.PADN
    REGISTERED: ClassVar[bool] = False
    length: int = 0


@dataclass(frozen=True, slots=True)
class MobileNodeIdentifierOption(MobilityOption):
    """Mobile Node Identifier, subtype NAI (RFC 4283 §3); no alignment requirement.

    The NAI is text; octets that are not UTF-8 survive a round trip as surrogate escapes.
    Decoding an identifier of another subtype gives `OpaqueMobileNodeIdentifierOption`.
    """

    TYPE: ClassVar[int] = OptionType.MOBILE_NODE_IDENTIFIER
    nai: str

    def body(self) -> bytes:
        try:
            return bytes((MnIdentifierSubtype.NAI,)) + self.nai.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise EncodeError(f"NAI is not encodable: {exc.reason}") from None

    @classmethod
    def parse(cls, body: bytes) -> MobileNodeIdentifierOption | OpaqueMobileNodeIdentifierOption:
        if not body:
            raise OptionLengthError("Mobile Node Identifier option has no Subtype")
        if body[0] == MnIdentifierSubtype.NAI:
            return cls(body[1:].decode("utf-8", "surrogateescape"))
        return OpaqueMobileNodeIdentifierOption(body[0], body[1:])


@dataclass(frozen=True, slots=True)
class OpaqueMobileNodeIdentifierOption(MobilityOption):
    """Mobile Node Identifier of a subtype other than NAI, kept as octets (RFC 4283 §3)."""

    TYPE: ClassVar[int] = OptionType.MOBILE_NODE_IDENTIFIER
    REGISTERED: ClassVar[bool] = False  # decoded by MobileNodeIdentifierOption.parse
    subtype: int
    identifier: bytes

    def body(self) -> bytes:
        if self.subtype == MnIdentifierSubtype.NAI or not 0 <= self.subtype <= 255:
            raise EncodeError(f"opaque MN identifier subtype {self.subtype} is not allowed")
        return bytes((self.subtype,)) + self.identifier


@dataclass(frozen=True, slots=True)
class _PrefixOption(MobilityOption):
    """Reserved, Prefix Length, 16-octet prefix; Length 18, alignment 8n+4."""

    ALIGN: ClassVar[tuple[int, int]] = (8, 4)
    prefix: IPv6Network

    def body(self) -> bytes:
        prefix = self.prefix
        return _PREFIX.pack(prefix.prefixlen, int(prefix.network_address).to_bytes(16, "big"))

    @classmethod
    def parse(cls, body: bytes) -> _PrefixOption:
        _exact_length(body, 18, cls.__name__)
        length, raw = _PREFIX.unpack(body)
        return cls(_prefix_from_wire(length, raw))


@dataclass(frozen=True, slots=True)
class HomeNetworkPrefixOption(_PrefixOption):
    """Home Network Prefix (RFC 5213 §8.3): Length 18, alignment 8n+4."""

    TYPE: ClassVar[int] = OptionType.HOME_NETWORK_PREFIX


@dataclass(frozen=True, slots=True)
class AnchoredPrefixOption(_PrefixOption):
    """Anchored Prefix (RFC 8885 §4.3): the Home Network Prefix layout."""

    TYPE: ClassVar[int] = OptionType.ANCHORED_PREFIX


@dataclass(frozen=True, slots=True)
class LocalPrefixOption(_PrefixOption):
    """Local Prefix (RFC 8885 §4.4): the Home Network Prefix layout."""

    TYPE: ClassVar[int] = OptionType.LOCAL_PREFIX


@dataclass(frozen=True, slots=True)
class HandoffIndicatorOption(MobilityOption):
    """Handoff Indicator (RFC 5213 §8.4): Reserved, HI; Length 2, no alignment."""

    TYPE: ClassVar[int] = OptionType.HANDOFF_INDICATOR
    value: int

    def body(self) -> bytes:
        return _RESERVED_BYTE_VALUE.pack(self.value)

    @classmethod
    def parse(cls, body: bytes) -> HandoffIndicatorOption:
        _exact_length(body, 2, "Handoff Indicator")
        value = body[1]
        return cls(_HANDOFF_INDICATORS.get(value, value))


@dataclass(frozen=True, slots=True)
class AccessTechnologyTypeOption(MobilityOption):
    """Access Technology Type (RFC 5213 §8.5): Reserved, ATT; Length 2, no alignment."""

    TYPE: ClassVar[int] = OptionType.ACCESS_TECHNOLOGY_TYPE
    value: int

    def body(self) -> bytes:
        return _RESERVED_BYTE_VALUE.pack(self.value)

    @classmethod
    def parse(cls, body: bytes) -> AccessTechnologyTypeOption:
        _exact_length(body, 2, "Access Technology Type")
        value = body[1]
        return cls(_ACCESS_TECHNOLOGY_TYPES.get(value, value))


@dataclass(frozen=True, slots=True)
class _LinkLayerOption(MobilityOption):
    """Reserved (2 octets), then a link-layer identifier of any size.

    RFC 5213 §8.6 ties the alignment to the identifier's size; an identifier is read as
    octets (no multi-octet value inside it), so no padding is inserted for it.
    """

    identifier: bytes

    def body(self) -> bytes:
        return b"\x00\x00" + self.identifier

    @classmethod
    def parse(cls, body: bytes) -> _LinkLayerOption:
        if len(body) < 2:
            raise OptionLengthError(f"{cls.__name__} shorter than its Reserved field")
        return cls(body[2:])


@dataclass(frozen=True, slots=True)
class MobileNodeLinkLayerIdentifierOption(_LinkLayerOption):
    """Mobile Node Link-layer Identifier (RFC 5213 §8.6)."""

    TYPE: ClassVar[int] = OptionType.MOBILE_NODE_LINK_LAYER_IDENTIFIER


@dataclass(frozen=True, slots=True)
class DlifLinkLayerAddressOption(_LinkLayerOption):
    """DLIF Link-layer Address (RFC 8885 §4.8): the RFC 5213 §8.6 layout."""

    TYPE: ClassVar[int] = OptionType.DLIF_LINK_LAYER_ADDRESS


@dataclass(frozen=True, slots=True)
class _AddressOption(MobilityOption):
    """One 16-octet IPv6 address; Length 16, alignment 8n+6 (RFC 5213 §8.7)."""

    ALIGN: ClassVar[tuple[int, int]] = (8, 6)
    address: IPv6Address

    def body(self) -> bytes:
        return self.address.packed

    @classmethod
    def parse(cls, body: bytes) -> _AddressOption:
        _exact_length(body, 16, cls.__name__)
        return cls(IPv6Address(body))


@dataclass(frozen=True, slots=True)
class LinkLocalAddressOption(_AddressOption):
    """Link-local Address (RFC 5213 §8.7)."""

    TYPE: ClassVar[int] = OptionType.LINK_LOCAL_ADDRESS


@dataclass(frozen=True, slots=True)
class ServingMaarOption(_AddressOption):
    """Serving MAAR address (RFC 8885 §4.6)."""

    TYPE: ClassVar[int] = OptionType.SERVING_MAAR


@dataclass(frozen=True, slots=True)
class DlifLinkLocalAddressOption(_AddressOption):
    """DLIF Link-local Address (RFC 8885 §4.7)."""

    TYPE: ClassVar[int] = OptionType.DLIF_LINK_LOCAL_ADDRESS


@dataclass(frozen=True, slots=True)
class TimestampOption(MobilityOption):
    """Timestamp (RFC 5213 §8.8): 48-bit seconds since 1970-01-01 UTC and 16-bit
    1/65536 fractions; Length 8, alignment 8n+2.
    """

    TYPE: ClassVar[int] = OptionType.TIMESTAMP
    ALIGN: ClassVar[tuple[int, int]] = (8, 2)
    seconds: int
    fraction: int = 0

    @classmethod
    def from_time(cls, unix_time: float) -> TimestampOption:
        ticks = round(unix_time * 65536)
        return cls(ticks >> 16, ticks & 0xFFFF)

    def to_time(self) -> float:
        return self.seconds + self.fraction / 65536

    def body(self) -> bytes:
        if not (0 <= self.seconds < 1 << 48 and 0 <= self.fraction <= 0xFFFF):
            raise EncodeError(f"timestamp {self.seconds}+{self.fraction}/65536 out of range")
        return _TIMESTAMP.pack(self.seconds >> 32, self.seconds & 0xFFFFFFFF, self.fraction)

    @classmethod
    def parse(cls, body: bytes) -> TimestampOption:
        _exact_length(body, 8, "Timestamp")
        high, low, fraction = _TIMESTAMP.unpack(body)
        return cls(high << 32 | low, fraction)


@dataclass(frozen=True, slots=True)
class RestartCounterOption(MobilityOption):
    """Restart Counter (RFC 5847 §3.4): a 32-bit counter; Length 4, alignment 4n+2."""

    TYPE: ClassVar[int] = OptionType.RESTART_COUNTER
    ALIGN: ClassVar[tuple[int, int]] = (4, 2)
    counter: int

    def body(self) -> bytes:
        return _UINT32.pack(self.counter)

    @classmethod
    def parse(cls, body: bytes) -> RestartCounterOption:
        _exact_length(body, 4, "Restart Counter")
        return cls(_UINT32.unpack(body)[0])


@dataclass(frozen=True, slots=True)
class PreviousMaarOption(MobilityOption):
    """Previous MAAR (RFC 8885 §4.5): Reserved, Prefix Length, the previous MAAR's
    address and the prefix it anchors; Length 34, alignment 8n+4.
    """

    TYPE: ClassVar[int] = OptionType.PREVIOUS_MAAR
    ALIGN: ClassVar[tuple[int, int]] = (8, 4)
    address: IPv6Address
    prefix: IPv6Network

    def body(self) -> bytes:
        return _PREVIOUS_MAAR.pack(
            self.prefix.prefixlen, self.address.packed, self.prefix.network_address.packed
        )

    @classmethod
    def parse(cls, body: bytes) -> PreviousMaarOption:
        _exact_length(body, 34, "Previous MAAR")
        length, address, prefix = _PREVIOUS_MAAR.unpack(body)
        return cls(IPv6Address(address), _prefix_from_wire(length, prefix))


@dataclass(frozen=True, slots=True)
class MobilityMessageAuthenticationOption(MobilityOption):
    """Mobility Message Authentication (RFC 4285 §5, Figure 2): Subtype, 32-bit Mobility
    SPI, Authentication Data; Option Length counts the three.

    RFC 4285 §5 asks for alignment 4n+1; this codec lays the option out at 8n+5, which is
    4n+1 too and makes a 12-octet authenticator (HMAC_SHA1 truncated to 96 bits, §5.1) end
    the message on its 8-octet boundary, so nothing follows it (§5.1: it MUST be the last
    option). Computing and checking the authenticator is `nf/wire/authentication.py`.
    """

    TYPE: ClassVar[int] = OptionType.MOBILITY_MESSAGE_AUTHENTICATION
    ALIGN: ClassVar[tuple[int, int]] = (8, 5)
    spi: int
    authenticator: bytes
    subtype: int = AuthenticationSubtype.MN_HA

    def body(self) -> bytes:
        if not (0 <= self.subtype <= 255 and 0 <= self.spi <= 0xFFFFFFFF):
            raise EncodeError(f"authentication subtype {self.subtype} or SPI {self.spi} out of range")
        return _AUTHENTICATION.pack(self.subtype, self.spi) + self.authenticator

    @classmethod
    def parse(cls, body: bytes) -> MobilityMessageAuthenticationOption:
        if len(body) < _AUTHENTICATION.size:
            raise OptionLengthError(f"Mobility Message Authentication option length {len(body)}, "
                                    f"at least {_AUTHENTICATION.size}")
        subtype, spi = _AUTHENTICATION.unpack_from(body)
        return cls(spi, body[_AUTHENTICATION.size:], subtype)


@dataclass(frozen=True, slots=True)
class MobilityMessageReplayProtectionOption(MobilityOption):
    """Mobility Message Replay Protection (RFC 4285 §6, Figure 3): a 64-bit timestamp in
    NTP format (32 bits of seconds since 1900, 32 bits of fraction); Length 8, alignment
    8n+2.
    """

    TYPE: ClassVar[int] = OptionType.MOBILITY_MESSAGE_REPLAY_PROTECTION
    ALIGN: ClassVar[tuple[int, int]] = (8, 2)
    timestamp: int

    def body(self) -> bytes:
        if not 0 <= self.timestamp < 1 << 64:
            raise EncodeError(f"replay protection timestamp {self.timestamp} out of range")
        return _UINT64.pack(self.timestamp)

    @classmethod
    def parse(cls, body: bytes) -> MobilityMessageReplayProtectionOption:
        _exact_length(body, 8, "Mobility Message Replay Protection")
        return cls(_UINT64.unpack(body)[0])


@dataclass(frozen=True, slots=True)
class UnknownOption(MobilityOption):
    """An option this codec does not interpret, kept whole (RFC 6275 §6.2.1: skip it)."""

    type: int
    data: bytes

    def body(self) -> bytes:
        if self.type in OPTION_CLASSES or self.type in (OptionType.PAD1, OptionType.PADN):
            raise EncodeError(f"option type {self.type} has its own class; use it")
        return self.data


Option = Union[
    MobileNodeIdentifierOption,
    OpaqueMobileNodeIdentifierOption,
    HomeNetworkPrefixOption,
    HandoffIndicatorOption,
    AccessTechnologyTypeOption,
    MobileNodeLinkLayerIdentifierOption,
    LinkLocalAddressOption,
    TimestampOption,
    RestartCounterOption,
    AnchoredPrefixOption,
    LocalPrefixOption,
    PreviousMaarOption,
    ServingMaarOption,
    DlifLinkLocalAddressOption,
    DlifLinkLayerAddressOption,
    MobilityMessageAuthenticationOption,
    MobilityMessageReplayProtectionOption,
    UnknownOption,
]

_HANDOFF_INDICATORS = {int(v): v for v in HandoffIndicator}
_ACCESS_TECHNOLOGY_TYPES = {int(v): v for v in AccessTechnologyType}

# Option Type -> function from body octets to the option object, for the decoder.
PARSERS = {option_type: cls.parse for option_type, cls in OPTION_CLASSES.items()}
