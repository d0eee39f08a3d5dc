"""Mobility Header messages as typed values.

Offsets below count from the start of the Mobility Header; every message's data starts
at octet 6, right after the Checksum (RFC 6275 §6.1.1). Lifetimes are in seconds; on
the wire they are 4-second units (RFC 6275 §6.1.7), so ``encode()`` accepts only
multiples of 4 up to 262140 s and rejects anything else with ``EncodeError`` rather
than silently granting a different lifetime than the caller chose.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import ClassVar, Union

from .constants import BindingErrorStatus, BindingRevocationType, MhType
from .options import Option

_UNSPECIFIED = IPv6Address("::")


@dataclass(frozen=True, slots=True)
class ProxyBindingUpdate:
    """(Proxy) Binding Update, MH Type 5 (RFC 6275 §6.1.7, RFC 5213 §8.1).

    Octets 6-7 Sequence #, 8-9 flags A H L K M R P then bits RFC 5213 leaves reserved
    (kept in ``other_flags``, mask 0x01FF), 10-11 Lifetime in 4-second units.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_UPDATE
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


@dataclass(frozen=True, slots=True)
class ProxyBindingAck:
    """(Proxy) Binding Acknowledgement, MH Type 6 (RFC 6275 §6.1.8, RFC 5213 §8.2).

    Octet 6 Status, 7 flags K R P then reserved bits (``other_flags``, mask 0x1F),
    8-9 Sequence #, 10-11 Lifetime in 4-second units.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_ACK
    status: int
    sequence: int
    lifetime: int
    options: tuple[Option, ...] = ()
    key_management: bool = False  # K
    mobile_router: bool = False  # R
    proxy: bool = True  # P
    other_flags: int = 0


@dataclass(frozen=True, slots=True)
class BindingError:
    """Binding Error, MH Type 7 (RFC 6275 §6.1.9): octet 6 Status, 7 Reserved,
    8-23 Home Address.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_ERROR
    status: int
    home_address: IPv6Address = _UNSPECIFIED
    options: tuple[Option, ...] = ()

    @classmethod
    def unrecognized_mh_type(cls) -> BindingError:
        """The answer RFC 6275 §9.2 asks for when the MH Type is unknown."""
        return cls(BindingErrorStatus.UNRECOGNIZED_MH_TYPE)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Heartbeat, MH Type 13 (RFC 5847 §5.1): octet 6 Reserved, 7 six reserved bits
    then U (0x02) and R (0x01), 8-11 Sequence Number.
    """

    MH_TYPE: ClassVar[int] = MhType.HEARTBEAT
    sequence: int
    response: bool = False  # R: 0 request, 1 response
    unsolicited: bool = False  # U: an unsolicited response
    options: tuple[Option, ...] = ()


@dataclass(frozen=True, slots=True)
class BindingRevocationIndication:
    """Binding Revocation Indication, MH Type 16 with B.R. Type 1 (RFC 5846 §6.1.1).

    Octet 6 B.R. Type, 7 Revocation Trigger, 8-9 Sequence #, 10-11 flags
    P (0x8000) V (0x4000) G (0x2000) then reserved bits.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_REVOCATION
    BR_TYPE: ClassVar[int] = BindingRevocationType.INDICATION
    trigger: int
    sequence: int
    options: tuple[Option, ...] = ()
    proxy: bool = True  # P: a Proxy Mobile IPv6 binding
    ipv4_home_address_only: bool = False  # V
    global_: bool = False  # G: all bindings sharing an identifier


@dataclass(frozen=True, slots=True)
class BindingRevocationAck:
    """Binding Revocation Acknowledgement, MH Type 16 with B.R. Type 2 (RFC 5846 §6.1.2);
    the Indication's layout with Status in place of the Trigger.
    """

    MH_TYPE: ClassVar[int] = MhType.BINDING_REVOCATION
    BR_TYPE: ClassVar[int] = BindingRevocationType.ACKNOWLEDGEMENT
    status: int
    sequence: int
    options: tuple[Option, ...] = ()
    proxy: bool = True  # P
    ipv4_home_address_only: bool = False  # V
    global_: bool = False  # G


@dataclass(frozen=True, slots=True)
class UpdateNotification:
    """Update Notification, MH Type 19 (RFC 7077 §4.1): octets 6-7 Sequence #,
    8 Notification Reason, 9 flags A (0x80) then bits kept in ``other_flags``,
    10-11 Reserved.
    """

    MH_TYPE: ClassVar[int] = MhType.UPDATE_NOTIFICATION
    sequence: int
    reason: int
    options: tuple[Option, ...] = ()
    ack_requested: bool = True  # A
    other_flags: int = 0


@dataclass(frozen=True, slots=True)
class UpdateNotificationAck:
    """Update Notification Acknowledgement, MH Type 20 (RFC 7077 §4.2): octets 6-7
    Sequence #, 8 Status, 9-11 Reserved.
    """

    MH_TYPE: ClassVar[int] = MhType.UPDATE_NOTIFICATION_ACK
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
