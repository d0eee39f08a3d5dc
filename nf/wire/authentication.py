"""The MN-HA Mobility Message Authentication option's authenticator (RFC 4285 §5.1).

    Authentication Data = First (96, HMAC_SHA1 (shared key, Mobility Data))
    Mobility Data       = care-of address | home address | MH Data

MH Data is the Mobility Header from its first octet up to and including the Mobility SPI of
this option, with the Checksum field set to 0 (§5.1). RFC 4285 was written for a mobile
node and its home agent; between a MAG and an LMA the two addresses are read as the
message's IPv6 source and destination, in that order (docs/security.md says why: for a
PBU that is the RFC's Proxy-CoA | anchor, and a message reflected back to its sender no
longer verifies under the key both ends share).

`encode_authenticated` lays the option out last, computes the authenticator and then the
checksum (RFC 6275 §6.1.1, over the whole header, authenticator included);
`authentication_failure` checks a received message and its octets and names why it does
not verify.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from ipaddress import IPv6Address

from . import checksum
from .codec import encode
from .constants import AuthenticationSubtype, OptionType
from .messages import Message
from .options import MobilityMessageAuthenticationOption

AUTHENTICATOR_OCTETS = 12  # First (96, HMAC_SHA1 (...)), RFC 4285 §5.1
_OPTION_HEAD = 7  # Option Type, Option Length, Subtype, Mobility SPI
_PLACEHOLDER = bytes(AUTHENTICATOR_OCTETS)
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP, RFC 1305) to 1970-01-01


def authenticator(key: bytes, src: IPv6Address, dst: IPv6Address, mh_data: bytes) -> bytes:
    """First (96, HMAC_SHA1 (key, src | dst | mh_data)); `mh_data` has a zero Checksum."""
    return hmac.new(key, src.packed + dst.packed + mh_data, hashlib.sha1).digest()[:AUTHENTICATOR_OCTETS]


def encode_authenticated(message: Message, src: IPv6Address, dst: IPv6Address, spi: int, key: bytes) -> bytes:
    """The Mobility Header of `message` with the MN-HA authentication option last (RFC 4285
    §5.1); an authentication option `message` already carries is replaced."""
    options = tuple(o for o in message.options if not isinstance(o, MobilityMessageAuthenticationOption))
    placeholder = MobilityMessageAuthenticationOption(spi, _PLACEHOLDER)
    data = bytearray(encode(replace(message, options=options + (placeholder,)), src, dst))
    end = len(data) - AUTHENTICATOR_OCTETS  # the option is laid out to end the message (options.py)
    data[4:6] = b"\0\0"
    data[end:] = authenticator(key, src, dst, bytes(data[:end]))
    data[4:6] = checksum.compute(src, dst, data).to_bytes(2, "big")
    return bytes(data)


def authentication_failure(message: Message, data: bytes, src: IPv6Address, dst: IPv6Address, spi: int,
                           key: bytes) -> str | None:
    """Why `message`, decoded from `data` (sent from `src` to `dst`), is not authenticated
    by the security association (`spi`, `key`); None when it is. The reasons are the
    statistics keys of docs/security.md."""
    options = message.options
    last = options[-1] if options else None
    if not isinstance(last, MobilityMessageAuthenticationOption):
        if any(isinstance(o, MobilityMessageAuthenticationOption) for o in options):
            return "authenticator-not-last"  # RFC 4285 §5.1: it MUST be the last option
        return "unauthenticated"
    if sum(isinstance(o, MobilityMessageAuthenticationOption) for o in options) > 1:
        return "authenticator-not-last"  # §5: one of a subtype; MN-AAA is not used between peers
    if last.subtype != AuthenticationSubtype.MN_HA or len(last.authenticator) != AUTHENTICATOR_OCTETS:
        return "bad-authenticator"
    start = len(data) - _OPTION_HEAD - AUTHENTICATOR_OCTETS
    if data[start] != OptionType.MOBILITY_MESSAGE_AUTHENTICATION or data[start + 1] != 5 + AUTHENTICATOR_OCTETS:
        return "authenticator-not-last"  # padding after it
    if last.spi != spi:
        return "unknown-spi"
    mh_data = bytearray(data[:start + _OPTION_HEAD])
    mh_data[4:6] = b"\0\0"
    if not hmac.compare_digest(authenticator(key, src, dst, bytes(mh_data)), last.authenticator):
        return "bad-authenticator"
    return None


def ntp_timestamp(unix_time: float) -> int:
    """`unix_time` as the 64-bit NTP timestamp of RFC 4285 §6 (32.32 fixed point from 1900)."""
    return round((unix_time + NTP_UNIX_OFFSET) * (1 << 32))


def unix_time(ntp: int) -> float:
    return ntp / (1 << 32) - NTP_UNIX_OFFSET
