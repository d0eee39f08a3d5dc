"""Keyed SHA1 and Meticulous Keyed SHA1 authentication (RFC 5880 §4.4, §6.7.4).

Only the two SHA1 types are implemented: RFC 5880 §6.7 makes them mandatory for an
implementation that authenticates at all and the others optional. Simple Password (§6.7.2)
carries the key in clear on every packet, which over the multihop paths that RFC 5883 §6
asks to protect gives the key to anyone on the path; Keyed MD5 (§6.7.3) adds nothing the
SHA1 types lack and rests on a hash with practical collisions. A session configured with
either is refused with a ``BfdSpecError``.

A key is 1-20 octets (§6.7.4: "a binary string of up to 20 bytes"), given as ``bytes``, so
both an ASCII string (``b"secret"``) and any binary key (``bytes.fromhex(...)``) can be
configured, as §6.7.4 asks of the management interface.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import struct
from dataclasses import dataclass, replace

from .errors import BfdSpecError
from .packet import HEADER_LENGTH, AuthSection, AuthType, ControlPacket, encode

SHA1_AUTH_LENGTH = 28  # RFC 5880 §4.4
MAX_KEY_LENGTH = 20
_SHA1_TYPES = (AuthType.KEYED_SHA1, AuthType.METICULOUS_KEYED_SHA1)
_SECTION = struct.Struct("!BBBBI")
_SEQ_OFFSET = HEADER_LENGTH + 4
_HASH_OFFSET = HEADER_LENGTH + 8

MISMATCH = "authentication-mismatch"  # type, key id or length not what the session uses
FAILURE = "authentication-failure"  # wrong hash, or a sequence number outside the window


@dataclass(frozen=True)
class BfdAuthentication:
    """What a session authenticates with: its type, the key it sends and the keys it
    accepts (``key_id``/``key`` plus ``accept``, extra ``(key_id, key)`` pairs for a key
    rollover without a session flap)."""

    auth_type: AuthType
    key_id: int
    key: bytes
    accept: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        try:
            kind = AuthType(self.auth_type)
        except ValueError:
            raise BfdSpecError("authentication.auth_type",
                               f"unknown authentication type {self.auth_type!r}") from None
        if kind not in _SHA1_TYPES:
            raise BfdSpecError("authentication.auth_type",
                               f"{kind.name.lower()} is not supported; use keyed-sha1 or "
                               "meticulous-keyed-sha1 (RFC 5880 §6.7.4)")
        object.__setattr__(self, "auth_type", kind)
        for key_id, key in ((self.key_id, self.key), *self.accept):
            if not isinstance(key_id, int) or not 0 <= key_id <= 255:
                raise BfdSpecError("authentication.key_id", f"key id must be 0-255: {key_id!r}")
            if not isinstance(key, bytes) or not 1 <= len(key) <= MAX_KEY_LENGTH:
                raise BfdSpecError("authentication.key",
                                   f"key {key_id}: 1-{MAX_KEY_LENGTH} octets of bytes")

    @property
    def keys(self) -> dict[int, bytes]:
        return {key_id: key for key_id, key in (*self.accept, (self.key_id, self.key))}

    def __repr__(self) -> str:  # never shows a key
        return (f"BfdAuthentication(auth_type={self.auth_type.name}, key_id={self.key_id}, "
                f"accept={[key_id for key_id, _ in self.accept]})")


def _padded(key: bytes) -> bytes:
    return key + bytes(MAX_KEY_LENGTH - len(key))


class AuthState:
    """One session's authentication variables (RFC 5880 §6.8.1: bfd.AuthType,
    bfd.RcvAuthSeq, bfd.XmitAuthSeq, bfd.AuthSeqKnown) with signing and checking."""

    __slots__ = ("config", "_keys", "xmit_seq", "rcv_seq", "seq_known")

    def __init__(self, config: BfdAuthentication, rng: random.Random) -> None:
        self.config = config
        self._keys = {key_id: _padded(key) for key_id, key in config.keys.items()}
        self.xmit_seq = rng.getrandbits(32)  # §6.8.1: initialised to a random 32-bit value
        self.rcv_seq = 0
        self.seq_known = False

    @property
    def meticulous(self) -> bool:
        return self.config.auth_type == AuthType.METICULOUS_KEYED_SHA1

    def reconfigure(self, config: BfdAuthentication) -> None:
        """New keys or type; the sequence variables carry on."""
        self.config = config
        self._keys = {key_id: _padded(key) for key_id, key in config.keys.items()}

    def advance(self) -> None:
        """Next bfd.XmitAuthSeq: every packet when meticulous, on a content change for
        Keyed SHA1 (§6.7.4 "SHOULD be incremented when ... different contents")."""
        self.xmit_seq = (self.xmit_seq + 1) & 0xFFFFFFFF

    def sign(self, packet: ControlPacket) -> bytes:
        """The octets of `packet` with its SHA1 authentication section (§6.7.4)."""
        config = self.config
        section = (_SECTION.pack(config.auth_type, SHA1_AUTH_LENGTH, config.key_id, 0,
                                 self.xmit_seq) + self._keys[config.key_id])
        with_key = encode(replace(packet, authentication=AuthSection(config.auth_type, section)))
        return with_key[:_HASH_OFFSET] + hashlib.sha1(with_key).digest()

    def check(self, raw: bytes, section: AuthSection, detect_multiplier: int) -> str | None:
        """None when the packet (its octets `raw`, up to Length) is accepted, else the drop
        reason. Follows "Receipt Using Keyed SHA1" of §6.7.4; the sequence state moves only
        for a packet whose hash verified, so a forged packet cannot desynchronise it."""
        if section.auth_type != self.config.auth_type or len(section.data) != SHA1_AUTH_LENGTH:
            return MISMATCH
        key = self._keys.get(section.data[2])
        if key is None:
            return MISMATCH
        (sequence,) = struct.unpack_from("!I", raw, _SEQ_OFFSET)
        if self.seq_known:
            low = self.rcv_seq + (1 if self.meticulous else 0)
            if (sequence - low) & 0xFFFFFFFF > (self.rcv_seq + 3 * detect_multiplier - low) & 0xFFFFFFFF:
                return FAILURE
        expected = hashlib.sha1(raw[:_HASH_OFFSET] + key).digest()
        if not hmac.compare_digest(expected, raw[_HASH_OFFSET:_HASH_OFFSET + 20]):
            return FAILURE
        self.rcv_seq = sequence
        self.seq_known = True
        return None

