"""Per-peer security associations of the signalling plane (RFC 4285 §5.1, §6).

A peer configured with `peers/peer/authentication` shares a key with this node: every
Mobility Header message either way carries the Mobility Message Replay Protection option
(RFC 4285 §6: a 64-bit NTP timestamp) and, last, the MN-HA Mobility Message Authentication
option (§5.1: SPI = key-id, First (96, HMAC_SHA1)). A message from such a peer is taken
only when its authenticator verifies and then (§6: "after successful authentication") its
timestamp is within `replay-window` of this node's clock and greater than every one
accepted from that peer before; otherwise `refusal` names why. Peers without
authentication send and receive plain messages.

Each end stamps its own messages with timestamps that only grow, so one rule checks every
message type (RFC 4285 §6 has the home agent copy the BU's timestamp into its BA; here both
ends send requests, so each is the "mobile node" of its own; docs/security.md).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Address

from nf import wire
from nf.wire.authentication import authentication_failure, encode_authenticated, ntp_timestamp

DEFAULT_REPLAY_WINDOW = 7  # seconds; RFC 4285 §5.1 and §6: 7 s by default, more than 3 s

# The reasons a message from a keyed peer is refused, in the order they are checked
# (statistics keys; docs/security.md).
REFUSALS = ("unauthenticated", "authenticator-not-last", "unknown-spi", "bad-authenticator",
            "replay-protection-missing", "timestamp-out-of-window", "replayed")


@dataclass(frozen=True)
class SecurityAssociation:
    """RFC 4285 §5.1: a mobility SPI, a key, the algorithm (HMAC_SHA1-96, the only one of
    the MN-HA subtype) and the replay protection in use with its "close enough" window."""

    spi: int
    key: bytes = field(repr=False)
    replay_window: float = DEFAULT_REPLAY_WINDOW


class PeerSecurity:
    """The security associations by peer address, and the timestamps sent and accepted."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self._associations: dict[IPv6Address, SecurityAssociation] = {}
        self._accepted: dict[IPv6Address, int] = {}  # the greatest timestamp accepted from each peer
        self._sent: dict[IPv6Address, int] = {}  # the last timestamp sent to each peer

    def configure(self, peers: Mapping[IPv6Address, object]) -> None:
        """Take the associations of `peers` (nf.settings.PeerSettings); a peer whose SPI or
        key changed starts its replay state afresh."""
        associations = {}
        for address, peer in peers.items():
            if peer.key_id is not None and peer.key is not None:
                associations[address] = SecurityAssociation(peer.key_id, peer.key, peer.replay_window)
        for address in list(self._accepted):
            old, new = self._associations.get(address), associations.get(address)
            if new is None or old is None or (old.spi, old.key) != (new.spi, new.key):
                self._accepted.pop(address, None)
        self._sent = {a: t for a, t in self._sent.items() if a in associations}
        self._associations = associations

    def association(self, peer: IPv6Address) -> SecurityAssociation | None:
        return self._associations.get(peer)

    @property
    def keyed_peers(self) -> frozenset[IPv6Address]:
        return frozenset(self._associations)

    # ----- sending ----------------------------------------------------------------------
    def encode(self, message: wire.Message, src: IPv6Address, dst: IPv6Address) -> bytes:
        """`message` on the wire to `dst`: stamped and authenticated when `dst` is keyed."""
        sa = self._associations.get(dst)
        if sa is None:
            return wire.encode(message, src, dst)
        stamp = max(ntp_timestamp(self._wall()), self._sent.get(dst, 0) + 1)  # always greater (§6)
        self._sent[dst] = stamp
        options = tuple(o for o in message.options if not isinstance(o, wire.MobilityMessageReplayProtectionOption))
        stamped = replace(message, options=options + (wire.MobilityMessageReplayProtectionOption(stamp),))
        return encode_authenticated(stamped, src, dst, sa.spi, sa.key)

    # ----- receiving --------------------------------------------------------------------
    def refusal(self, message: wire.Message, data: bytes, src: IPv6Address, dst: IPv6Address) -> str | None:
        """Why `message` (decoded from `data`) from `src` is refused; None when it is taken.
        Taking it records its timestamp, so the same message a second time is "replayed"."""
        sa = self._associations.get(src)
        if sa is None:
            return None
        failure = authentication_failure(message, data, src, dst, sa.spi, sa.key)
        if failure is not None:
            return failure
        stamp = next((o.timestamp for o in message.options
                      if isinstance(o, wire.MobilityMessageReplayProtectionOption)), None)
        if stamp is None:
            return "replay-protection-missing"
        if abs(stamp - ntp_timestamp(self._wall())) > sa.replay_window * (1 << 32):
            return "timestamp-out-of-window"
        if stamp <= self._accepted.get(src, -1):
            return "replayed"
        self._accepted[src] = stamp
        return None


# The PBA status answering a PBU refused for each reason (RFC 4285 §5.1.1, §5.3, §6); a
# reason absent here is silently discarded (§5: no option; §5.1.1: no association for its SPI).
PBU_REFUSAL_STATUS = {
    "authenticator-not-last": wire.BindingAckStatus.MIPV6_AUTH_FAIL,
    "bad-authenticator": wire.BindingAckStatus.MIPV6_AUTH_FAIL,
    "replay-protection-missing": wire.BindingAckStatus.MIPV6_MESG_ID_REQD,
    "timestamp-out-of-window": wire.BindingAckStatus.MIPV6_ID_MISMATCH,
    "replayed": wire.BindingAckStatus.MIPV6_ID_MISMATCH,
}
