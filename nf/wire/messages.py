"""Mobility Header messages as typed values.

Every message's data starts at octet 6 of the Mobility Header, right after the Checksum
(RFC 6275 §6.1.1). Each class declares its fixed part once, in wire order (`FIXED`, see
`fields.py`); the codec packs it and builds the message back from it by keyword. A class
registers itself by its MH Type when it is defined (`Message.__init_subclass__`), so adding
a message is one class. Lifetimes are in seconds; on the wire they are 4-second units.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import ClassVar, Union

from .constants import BindingErrorStatus, BindingRevocationType, MhType
from .fields import U8, U16, U32, Address, Constant, Fixed, Flag, Flags, Lifetime, Reserved
from .options import Option

_UNSPECIFIED = IPv6Address("::")

# MH Type -> {value of the first fixed octet, or None when the type has one class: class}
MESSAGE_CLASSES: dict[int, dict[int | None, type]] = {}


class MobilityMessage:
    """Base of every message class: registration by MH Type (and B.R. Type)."""

    __slots__ = ()
    MH_TYPE: ClassVar[int]
    FIXED: ClassVar[Fixed]
    SUBTYPE: ClassVar[int | None] = None  # the first fixed octet, where it selects the class

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "FIXED" not in cls.__dict__:
            return
        by_subtype = MESSAGE_CLASSES.setdefault(cls.MH_TYPE, {})
        known = by_subtype.get(cls.SUBTYPE)
        # dataclass(slots=True) builds the class a second time: the later one replaces the first.
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(f"MH Type {cls.MH_TYPE}/{cls.SUBTYPE} is already {known.__name__}")
        by_subtype[cls.SUBTYPE] = cls


@dataclass(frozen=True, slots=True)
class ProxyBindingUpdate(MobilityMessage):
    """(Proxy) Binding Update, MH Type 5 (RFC 6275 §6.1.7, RFC 5213 §8.1).

    Flags: A H L K (RFC 6275 §6.1.7), M (RFC 4140), R (RFC 3963), P (RFC 5213 §8.1), D
    (RFC 8885 §4.1: the PBU comes from a MAAR or a CMD). The flags of extensions dmm-nf does
    not implement (F 0x0100 RFC 5555, T 0x0080 RFC 5845, B 0x0040 RFC 6602, S 0x0020) and
    the reserved bits travel in `other_flags`.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_UPDATE
    FIXED: ClassVar[Fixed] = Fixed(
        U16("sequence"),
        Flags(16, Flag("ack", 0x8000), Flag("home_registration", 0x4000), Flag("link_local_compat", 0x2000),
              Flag("key_management", 0x1000), Flag("map_registration", 0x0800), Flag("mobile_router", 0x0400),
              Flag("proxy", 0x0200), Flag("dmm", 0x0010), reserved="other_flags"),
        Lifetime("lifetime"),
    )
    sequence: int
    lifetime: int
    options: tuple[Option, ...] = ()
    ack: bool = True  # A
    home_registration: bool = True  # H
    link_local_compat: bool = False  # L
    key_management: bool = False  # K
    map_registration: bool = False  # M
    mobile_router: bool = False  # R
    proxy: bool = True  # P
    other_flags: int = 0
    dmm: bool = False  # D


@dataclass(frozen=True, slots=True)
class ProxyBindingAck(MobilityMessage):
    """(Proxy) Binding Acknowledgement, MH Type 6 (RFC 6275 §6.1.8, RFC 5213 §8.2).

    Octet 6 Status, 7 flags K (RFC 6275 §6.1.8), R (RFC 3963), P (RFC 5213 §8.2), D
    (RFC 8885 §4.2: the sender can act as a MAAR or CMD); T 0x10 (RFC 5845), B 0x08
    (RFC 6602), S 0x04 and the last reserved bit in `other_flags`; 8-9 Sequence #, 10-11
    Lifetime in 4-second units.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_ACK
    FIXED: ClassVar[Fixed] = Fixed(
        U8("status"),
        Flags(8, Flag("key_management", 0x80), Flag("mobile_router", 0x40), Flag("proxy", 0x20),
              Flag("dmm", 0x02), reserved="other_flags"),
        U16("sequence"),
        Lifetime("lifetime"),
    )
    status: int
    sequence: int
    lifetime: int
    options: tuple[Option, ...] = ()
    key_management: bool = False  # K
    mobile_router: bool = False  # R
    proxy: bool = True  # P
    other_flags: int = 0
    dmm: bool = False  # D


@dataclass(frozen=True, slots=True)
class BindingError(MobilityMessage):
    """Binding Error, MH Type 7 (RFC 6275 §6.1.9): octet 6 Status, 7 Reserved,
    8-23 Home Address.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_ERROR
    FIXED: ClassVar[Fixed] = Fixed(U8("status"), Reserved(1), Address("home_address"))
    status: int
    home_address: IPv6Address = _UNSPECIFIED
    options: tuple[Option, ...] = ()

    @classmethod
    def unrecognized_mh_type(cls) -> BindingError:
        """The answer RFC 6275 §9.2 asks for when the MH Type is unknown."""
        return cls(BindingErrorStatus.UNRECOGNIZED_MH_TYPE)


@dataclass(frozen=True, slots=True)
class Heartbeat(MobilityMessage):
    """Heartbeat, MH Type 13 (RFC 5847 §3.3): octet 6 Reserved, 7 six reserved bits
    then U (0x02) and R (0x01), 8-11 Sequence Number.
    """

    MH_TYPE: ClassVar[int] = MhType.HEARTBEAT
    FIXED: ClassVar[Fixed] = Fixed(
        Reserved(1), Flags(8, Flag("unsolicited", 0x02), Flag("response", 0x01)), U32("sequence"))
    sequence: int
    response: bool = False  # R: 0 request, 1 response
    unsolicited: bool = False  # U: an unsolicited response
    options: tuple[Option, ...] = ()


_REVOCATION_FLAGS = (Flag("proxy", 0x8000), Flag("ipv4_home_address_only", 0x4000), Flag("global_", 0x2000))


@dataclass(frozen=True, slots=True)
class BindingRevocationIndication(MobilityMessage):
    """Binding Revocation Indication, MH Type 16 with B.R. Type 1 (RFC 5846 §5.1).

    Octet 6 B.R. Type, 7 Revocation Trigger, 8-9 Sequence #, 10-11 flags
    P (0x8000) V (0x4000) G (0x2000) then reserved bits.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_REVOCATION
    BR_TYPE: ClassVar[int] = BindingRevocationType.INDICATION
    SUBTYPE: ClassVar[int] = BindingRevocationType.INDICATION
    FIXED: ClassVar[Fixed] = Fixed(Constant(BindingRevocationType.INDICATION), U8("trigger"), U16("sequence"),
                                   Flags(16, *_REVOCATION_FLAGS))
    trigger: int
    sequence: int
    options: tuple[Option, ...] = ()
    proxy: bool = True  # P: a Proxy Mobile IPv6 binding
    ipv4_home_address_only: bool = False  # V
    global_: bool = False  # G: all bindings sharing an identifier


@dataclass(frozen=True, slots=True)
class BindingRevocationAck(MobilityMessage):
    """Binding Revocation Acknowledgement, MH Type 16 with B.R. Type 2 (RFC 5846 §5.2);
    the Indication's layout with Status in place of the Trigger.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_REVOCATION
    BR_TYPE: ClassVar[int] = BindingRevocationType.ACKNOWLEDGEMENT
    SUBTYPE: ClassVar[int] = BindingRevocationType.ACKNOWLEDGEMENT
    FIXED: ClassVar[Fixed] = Fixed(Constant(BindingRevocationType.ACKNOWLEDGEMENT), U8("status"),
                                   U16("sequence"), Flags(16, *_REVOCATION_FLAGS))
    status: int
    sequence: int
    options: tuple[Option, ...] = ()
    proxy: bool = True  # P
    ipv4_home_address_only: bool = False  # V
    global_: bool = False  # G


@dataclass(frozen=True, slots=True)
class UpdateNotification(MobilityMessage):
    """Update Notification, MH Type 19 (RFC 7077 §4.1): octets 6-7 Sequence #, 8-9
    Notification Reason (16 bits), 10-11 flags A (0x8000) D (0x4000) then 14 reserved bits
    (kept in `other_flags`).
    """

    MH_TYPE: ClassVar[int] = MhType.UPDATE_NOTIFICATION
    FIXED: ClassVar[Fixed] = Fixed(
        U16("sequence"), U16("reason"),
        Flags(16, Flag("ack_requested", 0x8000), Flag("retransmit", 0x4000), reserved="other_flags"))
    sequence: int
    reason: int
    options: tuple[Option, ...] = ()
    ack_requested: bool = True  # A: answer with an Update Notification Acknowledgement
    retransmit: bool = False  # D: a retransmission, same Sequence # and contents
    other_flags: int = 0


@dataclass(frozen=True, slots=True)
class UpdateNotificationAck(MobilityMessage):
    """Update Notification Acknowledgement, MH Type 20 (RFC 7077 §4.2): octets 6-7
    Sequence #, 8 Status, 9-11 Reserved.
    """

    MH_TYPE: ClassVar[int] = MhType.UPDATE_NOTIFICATION_ACK
    FIXED: ClassVar[Fixed] = Fixed(U16("sequence"), U8("status"), Reserved(3))
    sequence: int
    status: int
    options: tuple[Option, ...] = ()


Message = Union[
    ProxyBindingUpdate,
    ProxyBindingAck,
    BindingError,
    Heartbeat,
    BindingRevocationIndication,
    BindingRevocationAck,
    UpdateNotification,
    UpdateNotificationAck,
]
