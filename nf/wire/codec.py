"""``encode()`` and ``decode()``: typed messages to Mobility Header octets and back.

The octets are the same whether they travel after an IPv6 header (Next Header 135) or as
the payload of UDP port 5436; the checksum is computed over the IPv6 pseudo-header with
Next Header 135 in both cases.
"""
from __future__ import annotations

import struct
from ipaddress import IPv6Address

from . import checksum
from .constants import IPPROTO_NONE, MAX_MH_LENGTH
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
from .messages import MESSAGE_CLASSES, Message, MobilityMessage
from .options import PARSERS, Option, Pad1, PadN, UnknownOption

_HEADER = struct.Struct("!BBBxH")  # Payload Proto, Header Len, MH Type, Reserved, Checksum
_MIN_LENGTH = 8
_DATA_OFFSET = 6


# ---------------------------------------------------------------- encoding


def encode(message: Message, src: IPv6Address, dst: IPv6Address) -> bytes:
    """The Mobility Header for ``message`` sent from ``src`` to ``dst``, checksum included."""
    if not isinstance(message, MobilityMessage):
        raise EncodeError(f"{type(message).__name__} is not a Mobility Header message")
    data = bytearray(_DATA_OFFSET)
    data += message.FIXED.pack(message)
    _append_options(data, message.options)
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
    cls = _message_class(mh_type, data, src, dst)
    fixed = cls.FIXED
    fixed_end = _DATA_OFFSET + fixed.size
    if length < fixed_end:
        raise LengthError(f"MH Type {mh_type} needs {fixed_end} octets, Header Len gives {length}")
    return cls(options=_decode_options(data, fixed_end), **fixed.unpack(data, _DATA_OFFSET))


def _message_class(mh_type: int, data: bytes, src: IPv6Address, dst: IPv6Address) -> type:
    classes = MESSAGE_CLASSES.get(mh_type)
    if classes is None:
        raise UnknownMessageType(mh_type, src, dst)
    single = classes.get(None)
    if single is not None:
        return single
    subtype = data[_DATA_OFFSET]  # present: every Mobility Header has at least 8 octets
    cls = classes.get(subtype)
    if cls is None:
        names = ", ".join(f"{c.__name__} ({value})" for value, c in sorted(classes.items()))
        raise MessageValueError(f"MH Type {mh_type} subtype {subtype} is none of {names}")
    return cls


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
