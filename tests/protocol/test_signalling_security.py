"""Signalling security in a running node over UDP on loopback (RFC 5213 §4, RFC 4285 §5,
§6): only configured peers are heard; with a key, a forged, altered, replayed or
unauthenticated message is refused and counted per peer and reason, and nothing is learned
from it; LMA and MAG with matching keys register normally. And the option's octets, built
by hand from RFC 4285 Figure 2 and Figure 3."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from ipaddress import IPv6Address, IPv6Network

from nf import wire
from nf.core.peer_security import PeerSecurity, SecurityAssociation
from nf.wire import checksum
from nf.wire.authentication import encode_authenticated, ntp_timestamp

from .test_integration_lma_mag import (
    LOOPBACK,
    MN,
    MN_LL,
    ScriptedPeer,
    crafted_pbu,
    free_udp_port,
    lma_of,
    lma_settings,
    mag_of,
    mag_settings,
    registered,
    running,
    wait_for,
)

KEY = bytes(range(16))
SPI = 4711


def keyed(port: int, key: bytes = KEY) -> dict:
    return {"peers": {"peer": [{"address": "::1", "udp-port": port,
                                "authentication": {"key-id": SPI, "key": base64.b64encode(key).decode()}}]}}


def signed_pbu(sequence: int = 1000, key: bytes = KEY, stamp: float | None = None) -> bytes:
    pbu = wire.ProxyBindingUpdate(sequence=sequence, lifetime=3600, ack=True, home_registration=True, proxy=True,
                                  options=(wire.MobileNodeIdentifierOption(MN),
                                           wire.HomeNetworkPrefixOption(IPv6Network("::/0")),
                                           wire.HandoffIndicatorOption(1), wire.AccessTechnologyTypeOption(3),
                                           wire.MobilityMessageReplayProtectionOption(
                                               ntp_timestamp(time.time() if stamp is None else stamp))))
    return encode_authenticated(pbu, LOOPBACK, LOOPBACK, SPI, key)


def test_the_authentication_option_octets_follow_rfc_4285_figure_2_and_the_hmac_sha1_96_of_section_5_1():
    src, dst = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
    message = wire.Heartbeat(sequence=7, options=(wire.MobilityMessageReplayProtectionOption(0x0102030405060708),))
    data = encode_authenticated(message, src, dst, 0x12345678, KEY)
    # Figure 3 at 8n+2 (after a PadN of 6 at octet 12), Figure 2 at 8n+5 (after a Pad1), ending the message
    assert data[12:18] == bytes((1, 4, 0, 0, 0, 0))
    assert data[18:28] == bytes((10, 8, 1, 2, 3, 4, 5, 6, 7, 8))
    assert data[28] == 0
    assert data[29:36] == bytes((9, 17, 1, 0x12, 0x34, 0x56, 0x78))  # Type 9, Length 17, MN-HA, SPI
    assert len(data) == 48 and data[2] == 13 and data[1] == 48 // 8 - 1
    mh_data = bytearray(data[:36])
    mh_data[4:6] = b"\0\0"  # §5.1: the Checksum set to 0
    expected = hmac.new(KEY, src.packed + dst.packed + bytes(mh_data), hashlib.sha1).digest()[:12]
    assert data[36:] == expected
    assert checksum.verifies(src, dst, data)


def test_tshark_decodes_the_authentication_and_replay_protection_options():
    from tests.protocol.wire_oracle import expert_problems, scapy_packet, tshark_decode

    src, dst = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
    data = encode_authenticated(wire.Heartbeat(sequence=7, options=(
        wire.MobilityMessageReplayProtectionOption(ntp_timestamp(1_700_000_000)),)), src, dst, SPI, KEY)
    [fields] = tshark_decode([scapy_packet(data, src, dst, udp=True)])
    assert fields["mip6.auth.subtype"] == ["1"]
    assert fields["mip6.auth.mobility_spi"] == [str(SPI)]
    # Wireshark 4.0 shows Option Length - 7 octets of the authenticator (it subtracts Type
    # and Length again): the first 10 of our 12 octets
    assert data[-12:].hex().startswith(fields["mip6.auth.auth_data"][0].replace(":", ""))
    # RFC 4285 §6 says NTP format (seconds from 1900); Wireshark 4.0 reads the seconds from
    # 1970, so November 2023 shows 70 years on
    assert fields["mip6.mseg_id.timestamp"][0].startswith("Nov 13, 2093 22:13:20")
    assert expert_problems(fields) == []


def test_peer_security_refuses_each_kind_of_bad_message_and_takes_a_good_one_once():
    now = [1_700_000_000.0]
    security = PeerSecurity(lambda: now[0])
    security._associations[LOOPBACK] = SecurityAssociation(SPI, KEY)
    heartbeat = wire.Heartbeat(sequence=1)
    good = security.encode(heartbeat, LOOPBACK, LOOPBACK)
    decode = lambda d: wire.decode(d, LOOPBACK, LOOPBACK, verify_checksum=False)  # noqa: E731
    altered = bytearray(good)
    altered[8] ^= 0x01  # a bit of the sequence number, after signing
    forged = encode_authenticated(decode(good), LOOPBACK, LOOPBACK, SPI, b"wrong key 16 oct")
    plain = wire.encode(heartbeat, LOOPBACK, LOOPBACK)
    assert security.refusal(decode(bytes(altered)), bytes(altered), LOOPBACK, LOOPBACK) == "bad-authenticator"
    assert security.refusal(decode(forged), forged, LOOPBACK, LOOPBACK) == "bad-authenticator"
    assert security.refusal(decode(plain), plain, LOOPBACK, LOOPBACK) == "unauthenticated"
    other_spi = encode_authenticated(decode(good), LOOPBACK, LOOPBACK, SPI + 1, KEY)
    assert security.refusal(decode(other_spi), other_spi, LOOPBACK, LOOPBACK) == "unknown-spi"
    no_stamp = encode_authenticated(heartbeat, LOOPBACK, LOOPBACK, SPI, KEY)
    assert security.refusal(decode(no_stamp), no_stamp, LOOPBACK, LOOPBACK) == "replay-protection-missing"
    assert security.refusal(decode(good), good, LOOPBACK, LOOPBACK) is None
    assert security.refusal(decode(good), good, LOOPBACK, LOOPBACK) == "replayed"
    later = security.encode(heartbeat, LOOPBACK, LOOPBACK)
    now[0] += 8  # beyond the 7-second window of RFC 4285 §6
    assert security.refusal(decode(later), later, LOOPBACK, LOOPBACK) == "timestamp-out-of-window"


def test_a_mag_and_an_lma_with_matching_keys_register_and_every_message_between_them_is_authenticated(tmp_path):
    lma_port, mag_port = free_udp_port(), free_udp_port()
    lma_conf = lma_settings(lma_port, {LOOPBACK: mag_port}, **keyed(mag_port))
    mag_conf = mag_settings(mag_port, lma_port, **keyed(lma_port))

    async def scenario() -> None:
        async with running(lma_conf, tmp_path / "lma") as lma, running(mag_conf, tmp_path / "mag") as mag:
            mag_of(mag).attach(MN, MN_LL)
            await registered(lma, mag)
            assert lma.stats.peer_refusals == {} and mag.stats.peer_refusals == {}
            assert lma.stats.pba_sent_by_status == {0: 1}

    asyncio.run(scenario())


def test_forged_altered_replayed_and_unauthenticated_pbus_from_a_keyed_peer_are_refused_and_counted(tmp_path):
    mag = ScriptedPeer()
    port = free_udp_port()
    settings = lma_settings(port, {LOOPBACK: mag.sock.getsockname()[1]}, **keyed(mag.sock.getsockname()[1]))

    async def scenario() -> None:
        async with running(settings, tmp_path / "lma") as lma:
            forged = signed_pbu(1000, key=b"not the key 16 o")
            mag.send(forged, port)
            answer = wire.decode(await mag.receive(wire.ProxyBindingAck), LOOPBACK, LOOPBACK)
            assert answer.status == wire.BindingAckStatus.MIPV6_AUTH_FAIL  # RFC 4285 §5.1.1
            altered = bytearray(signed_pbu(1001))
            altered[12] ^= 0x80  # one bit of the MN identifier, after signing; checksum made right again
            altered[4:6] = b"\0\0"
            altered[4:6] = checksum.compute(LOOPBACK, LOOPBACK, bytes(altered)).to_bytes(2, "big")
            mag.send(bytes(altered), port)
            assert wire.decode(await mag.receive(wire.ProxyBindingAck), LOOPBACK, LOOPBACK).status == 146
            mag.send(crafted_pbu(None, sequence=1002), port)  # no option at all: silently discarded (§5)
            good = signed_pbu(1003)
            mag.send(good, port)
            accepted = wire.decode(await mag.receive(wire.ProxyBindingAck), LOOPBACK, LOOPBACK)
            assert accepted.status == 0 and accepted.sequence == 1003
            assert isinstance(accepted.options[-1], wire.MobilityMessageAuthenticationOption)  # answered signed
            mag.send(good, port)  # the same octets again
            replay = wire.decode(await mag.receive(wire.ProxyBindingAck), LOOPBACK, LOOPBACK)
            assert replay.status == wire.BindingAckStatus.MIPV6_ID_MISMATCH  # RFC 4285 §6
            await wait_for(lambda: lma.stats.peer_refusals.get(LOOPBACK, {}).get("unauthenticated") == 1,
                           "the unauthenticated PBU counted")
            assert lma.stats.peer_refusals[LOOPBACK] == {"bad-authenticator": 2, "unauthenticated": 1, "replayed": 1}
            assert lma.stats.messages["pbu"].received == 1  # the refused ones were never received
            assert len(lma_of(lma).cache) == 1
            # the same counts in the snapshot NETCONF (peers/peer/counters/refused) and the
            # exporter (dmm_peer_messages_refused_total) read
            from exporters.collector import _peer_messages
            from nf.snapshot import SnapshotRequest, take
            [peer] = take(lma, SnapshotRequest.of("peers")).peers
            assert peer.refusals == {"bad-authenticator": 2, "unauthenticated": 1, "replayed": 1}
            [refused] = [m for m in _peer_messages(take(lma, SnapshotRequest.of("peers")))
                         if m.name == "dmm_peer_messages_refused"]
            assert {s.labels["reason"]: s.value for s in refused.samples} == \
                {"bad-authenticator": 2, "unauthenticated": 1, "replayed": 1}

    try:
        asyncio.run(scenario())
    finally:
        mag.close()


def test_a_datagram_from_an_unknown_source_is_refused_unanswered_and_teaches_nothing(tmp_path):
    known, stranger = ScriptedPeer(), ScriptedPeer()
    port = free_udp_port()
    # the LMA knows a MAG at 2001:db8::5 only: everything from ::1 is a stranger's
    settings = lma_settings(port, {IPv6Address("2001:db8::5"): known.sock.getsockname()[1]})

    async def scenario() -> None:
        async with running(settings, tmp_path / "lma") as lma:
            stranger.send(crafted_pbu(None), port)
            stranger.send(wire.encode(wire.Heartbeat(sequence=3), LOOPBACK, LOOPBACK), port)
            await wait_for(lambda: lma.stats.drops_by_reason["unknown-peer"] == 2, "both refused")
            assert lma.stats.messages["pbu"].received == 0
            assert lma.stats.pba_sent == 0 and lma.stats.messages["heartbeat-response"].sent == 0
            assert lma._peer_ports == {}

    try:
        asyncio.run(scenario())
    finally:
        known.close()
        stranger.close()
