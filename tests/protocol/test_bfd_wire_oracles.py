"""Our BFD packets decoded by two other implementations: scapy's BFD layer and tshark 4.0."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from scapy.contrib.bfd import BFD
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.utils import wrpcap

from nf.liveness.bfd import AuthType, BfdAuthentication, BfdState, ControlPacket, decode
from tests.unit.bfd_sim import A_ADDRESS, B_ADDRESS, Link, spec

FLAGS = (("P", "poll"), ("F", "final"), ("C", "control_plane_independent"),
         ("A", None), ("D", "demand"), ("M", "multipoint"))


def session_packets(auth: BfdAuthentication | None = None) -> list[bytes]:
    """What two sessions really send: bring-up, Poll and Final, detection, AdminDown."""
    link = Link.build(a_spec=spec("a", A_ADDRESS, B_ADDRESS, authentication=auth),
                      b_spec=spec("b", B_ADDRESS, A_ADDRESS, authentication=auth))
    link.run_for(3.0)
    link.up["b"] = False
    link.run_for(2.0)  # a: Down, diagnostic 1
    link.up["b"] = True
    link.run_for(3.0)
    link.a.admin_down(link.now)
    link.send(link.a, link.a.transmit(link.now))
    link.run_for(0.1)
    raws = [s.raw for s in link.sent]
    kinds = {(decode(r).state, decode(r).poll, decode(r).final, decode(r).diagnostic) for r in raws}
    assert {state for state, _, _, _ in kinds} == set(BfdState)
    assert {(BfdState.DOWN, 1), (BfdState.ADMIN_DOWN, 7)} <= {(s, d) for s, _, _, d in kinds}
    assert any(p for _, p, _, _ in kinds) and any(f for _, _, f, _ in kinds)
    return raws


def distinct(raws: list[bytes]) -> list[bytes]:
    seen = {}
    for raw in raws:
        packet = decode(raw)
        seen.setdefault((packet.state, packet.poll, packet.final, packet.diagnostic), raw)
    return list(seen.values())


def scapy_matches(raw: bytes, ours: ControlPacket) -> None:
    theirs = BFD(raw)
    assert theirs.version == ours.version
    assert theirs.diag == ours.diagnostic
    assert theirs.sta == ours.state
    for letter, name in FLAGS:
        expected = ours.authentication is not None if name is None else getattr(ours, name)
        assert (letter in str(theirs.flags)) == expected, letter
    assert theirs.detect_mult == ours.detect_multiplier
    assert theirs.len == ours.length == len(raw)
    assert theirs.my_discriminator == ours.my_discriminator
    assert theirs.your_discriminator == ours.your_discriminator
    assert theirs.min_tx_interval == ours.desired_min_tx_us
    assert theirs.min_rx_interval == ours.required_min_rx_us
    assert theirs.echo_rx_interval == ours.required_min_echo_rx_us
    if ours.authentication is not None:
        auth = theirs.optional_auth
        assert auth.auth_type == ours.authentication.auth_type
        assert auth.auth_len == 28
        assert auth.auth_keyid == ours.authentication.data[2]
        assert auth.sequence_number == int.from_bytes(ours.authentication.data[4:8], "big")
        assert auth.auth_key.to_bytes(20, "big") == ours.authentication.data[8:]  # an int there


def test_scapy_decodes_every_kind_of_packet_a_session_sends_field_by_field():
    for raw in distinct(session_packets()):
        scapy_matches(raw, decode(raw))


@pytest.mark.parametrize("auth_type", [AuthType.KEYED_SHA1, AuthType.METICULOUS_KEYED_SHA1])
def test_scapy_decodes_our_sha1_authentication_sections(auth_type):
    auth = BfdAuthentication(auth_type, key_id=9, key=b"lab-key")
    for raw in distinct(session_packets(auth)):
        scapy_matches(raw, decode(raw))


def tshark_bfd(raws: list[bytes]) -> list[dict]:
    packets = [IPv6(src=A_ADDRESS, dst=B_ADDRESS, hlim=255) / UDP(sport=49152, dport=4784) / raw
               for raw in raws]
    return _tshark(packets)


def _tshark(packets) -> list[dict]:
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "bfd.pcap"
        wrpcap(str(pcap), packets)
        done = subprocess.run(["tshark", "-r", str(pcap), "-T", "json"], capture_output=True,
                              text=True, timeout=60, check=True)
    return [frame["_source"]["layers"]["bfd"] for frame in json.loads(done.stdout)]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_decodes_our_packets_on_the_multihop_port_field_by_field():
    auth = BfdAuthentication(AuthType.METICULOUS_KEYED_SHA1, key_id=9, key=b"lab-key")
    raws = distinct(session_packets()) + distinct(session_packets(auth))[:2]
    for raw, fields in zip(raws, tshark_bfd(raws), strict=True):
        ours = decode(raw)
        assert int(fields["bfd.version"]) == 1
        assert int(fields["bfd.diag"], 16) == ours.diagnostic
        assert int(fields["bfd.sta"], 16) == ours.state
        flags = fields["bfd.flags_tree"]
        for letter, name in FLAGS:
            expected = ours.authentication is not None if name is None else getattr(ours, name)
            assert flags[f"bfd.flags.{letter.lower()}"] == str(int(expected)), letter
        assert int(fields["bfd.detect_time_multiplier"]) == ours.detect_multiplier
        assert int(fields["bfd.message_length"]) == ours.length
        assert int(fields["bfd.my_discriminator"], 16) == ours.my_discriminator
        assert int(fields["bfd.your_discriminator"], 16) == ours.your_discriminator
        assert int(fields["bfd.desired_min_tx_interval"]) == ours.desired_min_tx_us
        assert int(fields["bfd.required_min_rx_interval"]) == ours.required_min_rx_us
        assert int(fields["bfd.required_min_echo_interval"]) == 0
        if ours.authentication is not None:
            [section] = [v for k, v in fields.items() if k.startswith("Authentication:")]
            assert int(section["bfd.auth.type"]) == 5
            assert int(section["bfd.auth.len"]) == 28
            assert int(section["bfd.auth.key"]) == 9
            assert int(section["bfd.auth.seq_num"], 16) == int.from_bytes(
                ours.authentication.data[4:8], "big")
            assert bytes.fromhex(section["bfd.checksum"].replace(":", "")) == \
                ours.authentication.data[8:]
