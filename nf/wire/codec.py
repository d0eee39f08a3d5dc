"""``encode()`` and ``decode()``: typed messages to Mobility Header octets and back.

The octets are the same whether they travel after an IPv6 header (Next Header 135) or as
the payload of UDP port 5436; the checksum is computed over the IPv6 pseudo-header with
Next Header 135 in both cases.
"""
from __future__ import annotations

import struct
from ipaddress import IPv6Address
from typing import Callable

from . import checksum
from .constants import IPPROTO_NONE, LIFETIME_UNIT_SECONDS, MAX_LIFETIME_SECONDS, MAX_MH_LENGTH
from .errors import (
    ChecksumError,
    EncodeError,
    LengthError,
    MessageValueError,
    OptionLengthError,
    OversizedError,
    PayloadProtoError,
    TruncatedError,
    UnknownMessageType,
)
from .messages import (
    BindingError,
    BindingRevocationAck,
    BindingRevocationIndication,
    Heartbeat,
    Message,
    ProxyBindingAck,
    ProxyBindingUpdate,
    UpdateNotification,
    UpdateNotificationAck,
)
from .options import PARSERS, Option, Pad1, PadN, UnknownOption

_HEADER = struct.Struct("!BBBxH")  # Payload Proto, Header Len, MH Type, Reserved, Checksum
_MIN_LENGTH = 8
_DATA_OFFSET = 6

_BINDING_UPDATE = struct.Struct("!HHH")  # Sequence #, flags, Lifetime
_BINDING_ACK = struct.Struct("!BBHH")  # Status, flags, Sequence #, Lifetime
_BINDING_ERROR = struct.Struct("!Bx16s")  # Status, Reserved, Home Address
_HEARTBEAT = struct.Struct("!xBI")  # Reserved, U/R flags, Sequence Number
_REVOCATION = struct.Struct("!BBHH")  # B.R. Type, Trigger or Status, Sequence #, flags
_NOTIFICATION = struct.Struct("!HBBxx")  # Sequence #, Reason, flags, Reserved
_NOTIFICATION_ACK = struct.Struct("!HBxxx")  # Sequence #, Status, Reserved

# Binding Update flags (RFC 6275 §6.1.7, RFC 3963, RFC 4140, RFC 5213 §8.1)
_BU_A, _BU_H, _BU_L, _BU_K, _BU_M, _BU_R, _BU_P = 0x8000, 0x4000, 0x2000, 0x1000, 0x0800, 0x0400, 0x0200
_BU_OTHER = 0x01FF
# Binding Acknowledgement flags (RFC 6275 §6.1.8, RFC 3963, RFC 5213 §8.2)
_BA_K, _BA_R, _BA_P, _BA_OTHER = 0x80, 0x40, 0x20, 0x1F
# Heartbeat flags (RFC 5847 §5.1)
_HB_U, _HB_R = 0x02, 0x01
# Binding Revocation flags (RFC 5846 §6.1.1, §6.1.2)
_BR_P, _BR_V, _BR_G = 0x8000, 0x4000, 0x2000
# Update Notification flags (RFC 7077 §4.1)
_UPN_A, _UPN_OTHER = 0x80, 0x7F


# ---------------------------------------------------------------- encoding


def encode(message: Message, src: IPv6Address, dst: IPv6Address) -> bytes:
    """The Mobility Header for ``message`` sent from ``src`` to ``dst``, checksum included."""
    encoder = _ENCODERS.get(message.__class__)
    if encoder is None:
        raise EncodeError(f"{type(message).__name__} is not a Mobility Header message")
    try:
        data = bytearray(_DATA_OFFSET)
        data += encoder(message)
        _append_options(data, message.options)
    except struct.error as exc:
        raise EncodeError(f"{type(message).__name__}: {exc}") from None
    _append_padding(data, -len(data) % 8)
    length = len(data)
    if length > MAX_MH_LENGTH:
        raise OversizedError(f"{length} octets exceed the {MAX_MH_LENGTH}-octet maximum")
    _HEADER.pack_into(data, 0, IPPROTO_NONE, length // 8 - 1, message.MH_TYPE, 0)
    data[4:6] = checksum.compute(src, dst, data).to_bytes(2, "big")
    return bytes(data)


def _append_options(data: bytearray, options: tuple[Option, ...]) -> None:
    for option in options:
        cls = option.__class__
        if cls is Pad1 or cls is PadN:
            continue  # padding is laid out here, not taken from the caller
        body = option.body()
        if len(body) > 255:
            raise EncodeError(f"{cls.__name__} body of {len(body)} octets exceeds 255")
        modulus, offset = cls.ALIGN
        if modulus > 1:
            _append_padding(data, (offset - len(data)) % modulus)
        data.append(option.type if cls is UnknownOption else option.TYPE)
        data.append(len(body))
        data += body


def _append_padding(data: bytearray, count: int) -> None:
    """RFC 6275 §6.2.2/§6.2.3: one octet is Pad1, more is a PadN of zeros."""
    if count == 1:
        data.append(0)
    elif count > 1:
        data += bytes((1, count - 2)) + bytes(count - 2)


def _lifetime_units(seconds: int) -> int:
    if not 0 <= seconds <= MAX_LIFETIME_SECONDS or seconds % LIFETIME_UNIT_SECONDS:
        raise EncodeError(
            f"lifetime {seconds} s is not a multiple of {LIFETIME_UNIT_SECONDS} s "
            f"between 0 and {MAX_LIFETIME_SECONDS} s"
        )
    return seconds // LIFETIME_UNIT_SECONDS


def _check_other_flags(value: int, mask: int) -> int:
    if value & ~mask:
        raise EncodeError(f"other_flags {value:#x} has bits outside {mask:#x}")
    return value


def _encode_binding_update(m: ProxyBindingUpdate) -> bytes:
    flags = (
        (_BU_A if m.ack else 0)
        | (_BU_H if m.home_registration else 0)
        | (_BU_L if m.link_local_compat else 0)
        | (_BU_K if m.key_management else 0)
        | (_BU_M if m.map_registration else 0)
        | (_BU_R if m.mobile_router else 0)
        | (_BU_P if m.proxy else 0)
        | _check_other_flags(m.other_flags, _BU_OTHER)
    )
    return _BINDING_UPDATE.pack(m.sequence, flags, _lifetime_units(m.lifetime))


def _encode_binding_ack(m: ProxyBindingAck) -> bytes:
    flags = (
        (_BA_K if m.key_management else 0)
        | (_BA_R if m.mobile_router else 0)
        | (_BA_P if m.proxy else 0)
        | _check_other_flags(m.other_flags, _BA_OTHER)
    )
    return _BINDING_ACK.pack(m.status, flags, m.sequence, _lifetime_units(m.lifetime))


def _encode_binding_error(m: BindingError) -> bytes:
    return _BINDING_ERROR.pack(m.status, m.home_address.packed)


def _encode_heartbeat(m: Heartbeat) -> bytes:
    flags = (_HB_U if m.unsolicited else 0) | (_HB_R if m.response else 0)
    return _HEARTBEAT.pack(flags, m.sequence)


def _encode_revocation(m: BindingRevocationIndication | BindingRevocationAck) -> bytes:
    flags = (
        (_BR_P if m.proxy else 0)
        | (_BR_V if m.ipv4_home_address_only else 0)
        | (_BR_G if m.global_ else 0)
    )
    code = m.trigger if m.__class__ is BindingRevocationIndication else m.status
    return _REVOCATION.pack(m.BR_TYPE, code, m.sequence, flags)


def _encode_notification(m: UpdateNotification) -> bytes:
    flags = (_UPN_A if m.ack_requested else 0) | _check_other_flags(m.other_flags, _UPN_OTHER)
    return _NOTIFICATION.pack(m.sequence, m.reason, flags)


def _encode_notification_ack(m: UpdateNotificationAck) -> bytes:
    return _NOTIFICATION_ACK.pack(m.sequence, m.status)


_ENCODERS: dict[type, Callable[..., bytes]] = {
    ProxyBindingUpdate: _encode_binding_update,
    ProxyBindingAck: _encode_binding_ack,
    BindingError: _encode_binding_error,
    Heartbeat: _encode_heartbeat,
    BindingRevocationIndication: _encode_revocation,
    BindingRevocationAck: _encode_revocation,
    UpdateNotification: _encode_notification,
    UpdateNotificationAck: _encode_notification_ack,
}


# ---------------------------------------------------------------- decoding


def decode(
    data: bytes, src: IPv6Address, dst: IPv6Address, verify_checksum: bool = True
) -> Message:
    """The message in Mobility Header ``data`` received from ``src`` at ``dst``.

    Raises only ``WireError`` subclasses; unknown options are kept as ``UnknownOption``
    (RFC 6275 §6.2.1) and padding is dropped.
    """
    size = len(data)
    if size < _MIN_LENGTH:
        raise TruncatedError(f"{size} octets, a Mobility Header has at least {_MIN_LENGTH}")
    if size > MAX_MH_LENGTH:
        raise OversizedError(f"{size} octets exceed the {MAX_MH_LENGTH}-octet maximum")
    payload_proto, header_len, mh_type, _ = _HEADER.unpack_from(data)
    length = (header_len + 1) * 8
    if length > size:
        raise TruncatedError(f"Header Len says {length} octets, only {size} present")
    if length < size:
        raise LengthError(f"Header Len says {length} octets, {size} present")
    if payload_proto != IPPROTO_NONE:
        raise PayloadProtoError(f"Payload Proto {payload_proto}, expected {IPPROTO_NONE}")
    data = bytes(data)
    if verify_checksum and not checksum.verifies(src, dst, data):
        raise ChecksumError("checksum does not verify over the IPv6 pseudo-header")
    decoder = _DECODERS.get(mh_type)
    if decoder is None:
        raise UnknownMessageType(mh_type, src, dst)
    fixed_end = _DATA_OFFSET + decoder[0].size
    if length < fixed_end:
        raise LengthError(f"MH Type {mh_type} needs {fixed_end} octets, Header Len gives {length}")
    return decoder[1](decoder[0].unpack_from(data, _DATA_OFFSET), _decode_options(data, fixed_end))


def _decode_options(data: bytes, start: int) -> tuple[Option, ...]:
    options = []
    end = len(data)
    index = start
    while index < end:
        option_type = data[index]
        if option_type == 0:  # Pad1 has no Length octet
            index += 1
            continue
        if index + 2 > end:
            raise OptionLengthError(f"option {option_type} at octet {index} has no Length")
        body_end = index + 2 + data[index + 1]
        if body_end > end:
            raise OptionLengthError(f"option {option_type} at octet {index} overruns the message")
        if option_type != 1:  # PadN carries nothing
            body = data[index + 2 : body_end]
            parser = PARSERS.get(option_type)
            options.append(parser(body) if parser else UnknownOption(option_type, body))
        index = body_end
    return tuple(options)


def _decode_binding_update(fields: tuple, options: tuple) -> ProxyBindingUpdate:
    sequence, flags, units = fields
    return ProxyBindingUpdate(
        sequence,
        units * LIFETIME_UNIT_SECONDS,
        options,
        bool(flags & _BU_A),
        bool(flags & _BU_H),
        bool(flags & _BU_L),
        bool(flags & _BU_K),
        bool(flags & _BU_M),
        bool(flags & _BU_R),
        bool(flags & _BU_P),
        flags & _BU_OTHER,
    )


def _decode_binding_ack(fields: tuple, options: tuple) -> ProxyBindingAck:
    status, flags, sequence, units = fields
    return ProxyBindingAck(
        status,
        sequence,
        units * LIFETIME_UNIT_SECONDS,
        options,
        bool(flags & _BA_K),
        bool(flags & _BA_R),
        bool(flags & _BA_P),
        flags & _BA_OTHER,
    )


def _decode_binding_error(fields: tuple, options: tuple) -> BindingError:
    status, home_address = fields
    return BindingError(status, IPv6Address(home_address), options)


def _decode_heartbeat(fields: tuple, options: tuple) -> Heartbeat:
    flags, sequence = fields
    return Heartbeat(sequence, bool(flags & _HB_R), bool(flags & _HB_U), options)


def _decode_revocation(
    fields: tuple, options: tuple
) -> BindingRevocationIndication | BindingRevocationAck:
    br_type, code, sequence, flags = fields
    if br_type == BindingRevocationIndication.BR_TYPE:
        cls: type = BindingRevocationIndication
    elif br_type == BindingRevocationAck.BR_TYPE:
        cls = BindingRevocationAck
    else:
        raise MessageValueError(f"B.R. Type {br_type} is neither Indication (1) nor Ack (2)")
    return cls(code, sequence, options, bool(flags & _BR_P), bool(flags & _BR_V), bool(flags & _BR_G))


def _decode_notification(fields: tuple, options: tuple) -> UpdateNotification:
    sequence, reason, flags = fields
    return UpdateNotification(sequence, reason, options, bool(flags & _UPN_A), flags & _UPN_OTHER)


def _decode_notification_ack(fields: tuple, options: tuple) -> UpdateNotificationAck:
    sequence, status = fields
    return UpdateNotificationAck(sequence, status, options)


# MH Type -> (layout of the fixed part after the Checksum, builder of the message)
_DECODERS: dict[int, tuple[struct.Struct, Callable[[tuple, tuple], Message]]] = {
    ProxyBindingUpdate.MH_TYPE: (_BINDING_UPDATE, _decode_binding_update),
    ProxyBindingAck.MH_TYPE: (_BINDING_ACK, _decode_binding_ack),
    BindingError.MH_TYPE: (_BINDING_ERROR, _decode_binding_error),
    Heartbeat.MH_TYPE: (_HEARTBEAT, _decode_heartbeat),
    BindingRevocationIndication.MH_TYPE: (_REVOCATION, _decode_revocation),
    UpdateNotification.MH_TYPE: (_NOTIFICATION, _decode_notification),
    UpdateNotificationAck.MH_TYPE: (_NOTIFICATION_ACK, _decode_notification_ack),
}
