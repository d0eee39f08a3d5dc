"""Keyed SHA1 and Meticulous Keyed SHA1 (RFC 5880 §4.4, §6.7.4) against hand-built packets."""
from __future__ import annotations

import hashlib
import random
import struct

import pytest

from nf.liveness.bfd.auth import AuthState, BfdAuthentication
from nf.liveness.bfd.errors import BfdSpecError
from nf.liveness.bfd.packet import AuthType, BfdState, ControlPacket, decode
from nf.liveness.bfd.session import BfdSession
from tests.unit.bfd_sim import A_ADDRESS, B_ADDRESS, Link, spec

KEYED = BfdAuthentication(AuthType.KEYED_SHA1, key_id=7, key=b"secret")
METICULOUS = BfdAuthentication(AuthType.METICULOUS_KEYED_SHA1, key_id=7, key=b"secret")


def hand_built(sequence: int, key: bytes = b"secret", key_id: int = 7, auth_type: int = 4,
               my_discriminator: int = 0xB0B0, state: int = 1) -> bytes:
    """A Down packet with a SHA1 section, built from the §4.1 and §4.4 figures."""
    header = struct.pack("!BBBBIIIII", 0x20, state << 6 | 0x04, 3, 52, my_discriminator, 0,
                         1_000_000, 300_000, 0)
    section = struct.pack("!BBBBI", auth_type, 28, key_id, 0, sequence)
    with_key = header + section + key.ljust(20, b"\0")
    return header + section + hashlib.sha1(with_key).digest()


def session(auth: BfdAuthentication) -> BfdSession:
    return BfdSession(spec("a", A_ADDRESS, B_ADDRESS, authentication=auth), 0xA0A0, 0.0,
                      rng=random.Random(1), wall=lambda: 0.0)


def receive(s: BfdSession, raw: bytes, now: float = 0.0) -> str | None:
    return s.receive(decode(raw), raw, now)[0]


def test_our_signed_packet_matches_the_hash_computed_by_hand():
    state = AuthState(KEYED, random.Random(1))
    packet = ControlPacket(state=BfdState.DOWN, my_discriminator=0xB0B0,
                           desired_min_tx_us=1_000_000, required_min_rx_us=300_000)
    assert state.sign(packet) == hand_built(state.xmit_seq)


def test_a_packet_signed_by_hand_is_accepted():
    assert receive(session(KEYED), hand_built(5)) is None


def test_wrong_key_is_an_authentication_failure():
    assert receive(session(KEYED), hand_built(5, key=b"other")) == "authentication-failure"


def test_unknown_key_id_wrong_type_or_missing_section_is_a_mismatch():
    s = session(KEYED)
    assert receive(s, hand_built(5, key_id=8)) == "authentication-mismatch"
    assert receive(s, hand_built(5, auth_type=5)) == "authentication-mismatch"
    plain = struct.pack("!BBBBIIIII", 0x20, 0x40, 3, 24, 0xB0B0, 0, 1_000_000, 300_000, 0)
    assert receive(s, plain) == "authentication-mismatch"


def test_a_replayed_packet_is_accepted_by_keyed_but_refused_by_meticulous_sha1():
    keyed, meticulous = session(KEYED), session(METICULOUS)
    for s, auth_type in ((keyed, 4), (meticulous, 5)):
        assert receive(s, hand_built(5, auth_type=auth_type)) is None
    assert receive(keyed, hand_built(5, auth_type=4)) is None  # §6.7.4: >= for Keyed
    assert receive(meticulous, hand_built(5, auth_type=5)) == "authentication-failure"
    assert receive(meticulous, hand_built(6, auth_type=5)) is None


def test_sequence_numbers_beyond_three_detect_multipliers_ahead_are_refused():
    s = session(METICULOUS)
    assert receive(s, hand_built(100, auth_type=5)) is None
    assert receive(s, hand_built(100 + 3 * 3 + 1, auth_type=5)) == "authentication-failure"
    assert receive(s, hand_built(99, auth_type=5)) == "authentication-failure"
    assert receive(s, hand_built(100 + 3 * 3, auth_type=5)) is None


def test_the_sequence_window_wraps_around_2_to_the_32():
    s = session(METICULOUS)
    assert receive(s, hand_built(0xFFFFFFFE, auth_type=5)) is None
    assert receive(s, hand_built(3, auth_type=5)) is None


def test_a_forged_packet_does_not_move_the_sequence_state():
    s = session(METICULOUS)
    assert receive(s, hand_built(100, auth_type=5)) is None
    assert receive(s, hand_built(105, key=b"forged", auth_type=5)) == "authentication-failure"
    assert s.auth.rcv_seq == 100
    assert receive(s, hand_built(101, auth_type=5)) is None


def test_sequence_is_learnt_again_after_twice_the_detection_time_without_packets():
    s = session(METICULOUS)
    assert receive(s, hand_built(100, auth_type=5)) is None
    detection = s.detection_time_us / 1e6
    s.on_timer(2 * detection + 0.01)
    assert not s.auth.seq_known
    assert receive(s, hand_built(7, auth_type=5), now=2 * detection + 0.02) is None


def test_meticulous_sequence_increments_on_every_packet_keyed_only_on_a_change():
    keyed, meticulous = session(KEYED), session(METICULOUS)
    seqs = {}
    for name, s in (("keyed", keyed), ("meticulous", meticulous)):
        seqs[name] = [decode(s.transmit(t)).authentication.data[4:8] for t in (0.0, 1.0, 2.0)]
    assert len(set(seqs["meticulous"])) == 3
    assert len(set(seqs["keyed"])) == 1


def test_two_authenticated_sessions_come_up_and_stay_up():
    for auth in (KEYED, METICULOUS):
        link = Link.build(a_spec=spec("a", A_ADDRESS, B_ADDRESS, authentication=auth),
                          b_spec=spec("b", B_ADDRESS, A_ADDRESS, authentication=auth))
        link.run_for(20.0)
        assert link.a.state == BfdState.UP and link.b.state == BfdState.UP
        assert link.drops == []
        assert all(s.packet.authentication.auth_type == auth.auth_type for s in link.sent)


def test_sessions_with_different_keys_never_come_up():
    other = BfdAuthentication(AuthType.KEYED_SHA1, key_id=7, key=b"different")
    link = Link.build(a_spec=spec("a", A_ADDRESS, B_ADDRESS, authentication=KEYED),
                      b_spec=spec("b", B_ADDRESS, A_ADDRESS, authentication=other))
    link.run_for(5.0)
    assert link.a.state == BfdState.DOWN and link.b.state == BfdState.DOWN
    assert set(link.drops) == {"authentication-failure"}


def test_a_second_accepted_key_lets_a_key_roll_over_without_a_flap():
    link = Link.build(a_spec=spec("a", A_ADDRESS, B_ADDRESS, authentication=KEYED),
                      b_spec=spec("b", B_ADDRESS, A_ADDRESS, authentication=KEYED))
    link.run_for(5.0)
    assert link.a.state == BfdState.UP and link.b.state == BfdState.UP
    changes = len(link.changes)
    both = BfdAuthentication(AuthType.KEYED_SHA1, key_id=7, key=b"secret", accept=((8, b"next"),))
    link.a.reconfigure(spec("a", A_ADDRESS, B_ADDRESS, authentication=both), link.now)
    link.run_for(1.0)
    new = BfdAuthentication(AuthType.KEYED_SHA1, key_id=8, key=b"next", accept=((7, b"secret"),))
    link.b.reconfigure(spec("b", B_ADDRESS, A_ADDRESS, authentication=new), link.now)
    link.run_for(5.0)
    assert link.drops == []
    assert len(link.changes) == changes
    assert link.packets_from("b")[-1].packet.authentication.data[2] == 8


@pytest.mark.parametrize("auth_type", [AuthType.SIMPLE_PASSWORD, AuthType.KEYED_MD5,
                                       AuthType.METICULOUS_KEYED_MD5])
def test_simple_password_and_md5_are_refused_naming_the_field(auth_type):
    with pytest.raises(BfdSpecError) as caught:
        BfdAuthentication(auth_type, key_id=1, key=b"k")
    assert caught.value.field == "authentication.auth_type"


@pytest.mark.parametrize("key", [b"", b"x" * 21, "text"])
def test_a_key_must_be_1_to_20_octets_of_bytes(key):
    with pytest.raises(BfdSpecError) as caught:
        BfdAuthentication(AuthType.KEYED_SHA1, key_id=1, key=key)
    assert caught.value.field == "authentication.key"


def test_repr_never_shows_a_key():
    assert "secret" not in repr(KEYED) and "secret" not in repr(spec(authentication=KEYED))
