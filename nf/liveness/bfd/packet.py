"""The BFD Control packet (RFC 5880 §4.1) and its authentication section (§4.2-§4.4).

``decode()`` applies the checks of RFC 5880 §6.8.6 that need no session, in the RFC's
order (version, length, length against the payload, detect multiplier, multipoint bit,
my discriminator), and raises a typed ``BfdDecodeError`` whose ``reason`` is a stable drop
counter key. The checks that need the session (your discriminator, authentication in use)
are the engine's and the session's. Intervals on the wire are microseconds.

The authentication section is kept as its type and raw octets: verifying it needs the
whole packet and the session's keys (``nf.liveness.bfd.auth``).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

VERSION = 1
HEADER_LENGTH = 24  # the Mandatory Section, RFC 5880 §4.1
MIN_AUTH_LENGTH = 26  # RFC 5880 §6.8.6: "26 if the A bit is set"
MAX_INTERVAL_US = 0xFFFFFFFF  # a 32-bit field of microseconds

_HEADER = struct.Struct("!BBBBIIIII")
_FLAG_POLL = 0x20
_FLAG_FINAL = 0x10
_FLAG_CPI = 0x08
_FLAG_AUTH = 0x04
_FLAG_DEMAND = 0x02
_FLAG_MULTIPOINT = 0x01


class _Labelled(IntEnum):
    @property
    def label(self) -> str:
        """The lower-case, hyphenated name operators see (admin-down, no-diagnostic)."""
        return self.name.lower().replace("_", "-")


class BfdState(_Labelled):
    """Session states, the State (Sta) field of RFC 5880 §4.1."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3


class Diagnostic(_Labelled):
    """The Diagnostic (Diag) field of RFC 5880 §4.1: why the state last changed."""

    NO_DIAGNOSTIC = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8


def diagnostic_label(value: int) -> str:
    """The name of a diagnostic value, ``reserved-N`` for 9-31 (received, never sent)."""
    try:
        return Diagnostic(value).label
    except ValueError:
        return f"reserved-{value}"


class AuthType(IntEnum):
    """The Auth Type field of RFC 5880 §4.1."""

    SIMPLE_PASSWORD = 1
    KEYED_MD5 = 2
    METICULOUS_KEYED_MD5 = 3
    KEYED_SHA1 = 4
    METICULOUS_KEYED_SHA1 = 5


class BfdDecodeError(ValueError):
    """A datagram that is not a valid BFD Control packet. ``reason`` is the drop key."""

    reason = "malformed"


class BadVersionError(BfdDecodeError):
    reason = "bad-version"


class BadLengthError(BfdDecodeError):
    """Shorter than 24 octets (26 with the A bit), longer than the datagram, or an
    authentication section whose Auth Len disagrees with the Length field. A Length
    above 24 without the A bit is accepted as RFC 5880 §6.8.6 does not discard it."""

    reason = "bad-length"


class DetectMultiplierZeroError(BfdDecodeError):
    reason = "detect-multiplier-zero"


class MultipointError(BfdDecodeError):
    reason = "multipoint"


class MyDiscriminatorZeroError(BfdDecodeError):
    reason = "my-discriminator-zero"


@dataclass(frozen=True, slots=True)
class AuthSection:
    """An authentication section: its type and all its octets (Auth Type and Auth Len
    included), as RFC 5880 §4.2-§4.4 lay them out."""

    auth_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ControlPacket:
    """One BFD Control packet, RFC 5880 §4.1. Built by keyword; intervals in microseconds."""

    state: BfdState
    my_discriminator: int
    your_discriminator: int = 0
    diagnostic: int = Diagnostic.NO_DIAGNOSTIC
    detect_multiplier: int = 3
    desired_min_tx_us: int = 1_000_000
    required_min_rx_us: int = 1_000_000
    required_min_echo_rx_us: int = 0
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    demand: bool = False
    multipoint: bool = False
    authentication: AuthSection | None = None
    version: int = VERSION

    @property
    def length(self) -> int:
        auth = self.authentication
        return HEADER_LENGTH + (len(auth.data) if auth is not None else 0)


def encode(packet: ControlPacket) -> bytes:
    """The octets of `packet`; ValueError for a field that does not fit its width."""
    if not 0 <= packet.diagnostic <= 31:
        raise ValueError(f"diagnostic out of range 0-31: {packet.diagnostic}")
    if not 1 <= packet.detect_multiplier <= 255:
        raise ValueError(f"detect multiplier out of range 1-255: {packet.detect_multiplier}")
    if packet.poll and packet.final:
        raise ValueError("poll and final set together (RFC 5880 §6.5)")
    flags = ((packet.state & 0x3) << 6
             | (_FLAG_POLL if packet.poll else 0)
             | (_FLAG_FINAL if packet.final else 0)
             | (_FLAG_CPI if packet.control_plane_independent else 0)
             | (_FLAG_AUTH if packet.authentication is not None else 0)
             | (_FLAG_DEMAND if packet.demand else 0)
             | (_FLAG_MULTIPOINT if packet.multipoint else 0))
    header = _HEADER.pack((packet.version & 0x7) << 5 | packet.diagnostic, flags,
                          packet.detect_multiplier, packet.length,
                          packet.my_discriminator, packet.your_discriminator,
                          packet.desired_min_tx_us, packet.required_min_rx_us,
                          packet.required_min_echo_rx_us)
    if packet.authentication is None:
        return header
    return header + packet.authentication.data


def decode(data: bytes) -> ControlPacket:
    """The Control packet in `data` (a UDP payload); octets past Length are ignored."""
    size = len(data)
    if size < HEADER_LENGTH:
        raise BadLengthError(f"{size} octets, shorter than the {HEADER_LENGTH}-octet header")
    (vers_diag, flags, detect_mult, length, my_discr, your_discr,
     desired_tx, required_rx, required_echo) = _HEADER.unpack_from(data)
    # RFC 5880 §6.8.6, in its order.
    version = vers_diag >> 5
    if version != VERSION:
        raise BadVersionError(f"version {version}, not {VERSION}")
    auth_present = bool(flags & _FLAG_AUTH)
    minimum = MIN_AUTH_LENGTH if auth_present else HEADER_LENGTH
    if length < minimum:
        raise BadLengthError(f"Length {length} below the minimum {minimum}")
    if length > size:
        raise BadLengthError(f"Length {length} exceeds the {size}-octet payload")
    if detect_mult == 0:
        raise DetectMultiplierZeroError("Detect Mult is zero")
    if flags & _FLAG_MULTIPOINT:
        raise MultipointError("Multipoint (M) bit set")
    if my_discr == 0:
        raise MyDiscriminatorZeroError("My Discriminator is zero")
    authentication = None
    if auth_present:
        auth_len = data[HEADER_LENGTH + 1]
        if auth_len != length - HEADER_LENGTH:
            raise BadLengthError(f"Auth Len {auth_len} disagrees with Length {length}")
        authentication = AuthSection(data[HEADER_LENGTH], bytes(data[HEADER_LENGTH:length]))
    return ControlPacket(
        version=version, diagnostic=vers_diag & 0x1F, state=BfdState(flags >> 6),
        poll=bool(flags & _FLAG_POLL), final=bool(flags & _FLAG_FINAL),
        control_plane_independent=bool(flags & _FLAG_CPI), demand=bool(flags & _FLAG_DEMAND),
        multipoint=False, detect_multiplier=detect_mult, my_discriminator=my_discr,
        your_discriminator=your_discr, desired_min_tx_us=desired_tx,
        required_min_rx_us=required_rx, required_min_echo_rx_us=required_echo,
        authentication=authentication)
