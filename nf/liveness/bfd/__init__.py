"""BFD (RFC 5880 asynchronous mode, RFC 5883 multihop over UDP/IPv6): see docs/bfd.md.

    engine = BfdEngine()                     # receives on UDP 4784
    engine.listeners.append(on_change)       # BfdStateChange on every state change
    engine.add(BfdSessionSpec("mag1", local_address=..., remote_address=...))
    await engine.start()
    engine.session("mag1").local_state       # BfdState.UP
    await engine.stop()                      # AdminDown (diagnostic 7) to every peer
"""
from .auth import BfdAuthentication
from .engine import BfdEngine
from .errors import BfdBindError, BfdError, BfdSessionError, BfdSpecError
from .packet import AuthType, BfdDecodeError, BfdState, ControlPacket, Diagnostic, decode, encode
from .snapshot import DROP_REASONS, BfdCounters, BfdSessionState, BfdStateChange
from .spec import (
    DEFAULT_INTERVAL,
    DEFAULT_MINIMUM_TTL,
    DEFAULT_MULTIPLIER,
    FAST_INTERVAL,
    MULTIHOP_PORT,
    BfdSessionSpec,
)

__all__ = [
    "AuthType", "BfdAuthentication", "BfdBindError", "BfdCounters", "BfdDecodeError",
    "BfdEngine", "BfdError", "BfdSessionError", "BfdSessionSpec", "BfdSessionState",
    "BfdSpecError", "BfdState", "BfdStateChange", "ControlPacket", "DEFAULT_INTERVAL",
    "DEFAULT_MINIMUM_TTL", "DEFAULT_MULTIPLIER", "DROP_REASONS", "Diagnostic",
    "FAST_INTERVAL", "MULTIHOP_PORT", "decode", "encode",
]
