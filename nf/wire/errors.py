"""Typed errors of the Mobility Header codec.

Every error carries ``reason``: a short, stable string the runtime uses as a statistics
key (drop counters), so renaming one is an operator-visible change.
"""
from ipaddress import IPv6Address


class WireError(Exception):
    """Base of every error ``decode()`` and ``encode()`` raise."""

    reason = "malformed"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class TruncatedError(WireError):
    """Fewer octets than the header or a fixed field needs."""

    reason = "truncated"


class OversizedError(WireError):
    """More octets than a Mobility Header can describe (Header Len is one octet)."""

    reason = "oversized"


class LengthError(WireError):
    """Header Len disagrees with the data, or is shorter than the message type needs."""

    reason = "bad-length"


class PayloadProtoError(WireError):
    """Payload Proto is not IPPROTO_NONE (59)."""

    reason = "bad-payload-proto"


class ChecksumError(WireError):
    """The checksum over the IPv6 pseudo-header and the Mobility Header does not verify."""

    reason = "bad-checksum"


class OptionLengthError(WireError):
    """A mobility option overruns the message or has the wrong length for its type."""

    reason = "bad-option-length"


class OptionValueError(WireError):
    """A mobility option's value is impossible (e.g. a prefix length above 128)."""

    reason = "bad-option-value"


class MessageValueError(WireError):
    """A fixed field of a known message holds an undefined value (e.g. B.R. Type 0)."""

    reason = "bad-message-value"


class EncodeError(WireError, ValueError):
    """A message or option cannot be put on the wire as given (field out of range)."""

    reason = "bad-field"


class UnknownMessageType(WireError):
    """The MH Type is not one this codec knows.

    RFC 6275 §9.2 asks the receiver to answer with a Binding Error, status 2
    (Unrecognized MH Type value), sent to the source of the offending packet; this
    error carries what that answer needs.
    """

    reason = "unknown-mh-type"

    def __init__(self, mh_type: int, src: IPv6Address, dst: IPv6Address) -> None:
        super().__init__(f"unknown MH Type {mh_type}")
        self.mh_type = mh_type
        self.src = src  # where the Binding Error goes
        self.dst = dst  # the address the Binding Error is sent from
