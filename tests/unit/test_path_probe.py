"""Per-mobile-node path probes: the wire format (octets built by hand from the layout in
nf/liveness/path_probe.py) and what a responder refuses to answer."""
from __future__ import annotations

import json
import struct
from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.dataplane.base import Tunnel
from nf.liveness import path_probe
from nf.liveness.path_probe import PROBE, REPORT, REQUEST, PathProbeError, PathProber, ProbeMessage, decode
from nf.roles.base import BindingForwarding

PREFIX = IPv6Network("2001:db8:100:1::/64")
NONCE = bytes(range(1, 9))
ANCHOR_PROBE, GATEWAY_PROBE = IPv6Address("2001:db8:fe::1"), IPv6Address("2001:db8:fe::11")
GATEWAY = IPv6Address("2001:db8:ff::11")


def test_a_probe_is_the_header_then_the_checks_as_json():
    checks = ({"node": "lma", "check": "downlink", "ok": True},)
    octets = ProbeMessage(PROBE, NONCE, PREFIX, checks).encode()
    header = bytes([1, 2, 0, 64]) + NONCE + bytes.fromhex("20010db8010000010000000000000000")
    assert octets[:28] == header
    assert json.loads(octets[28:]) == list(checks)
    assert decode(octets) == ProbeMessage(PROBE, NONCE, PREFIX, checks)


@pytest.mark.parametrize("octets", [
    b"",
    bytes([1, 2, 0, 64]) + NONCE,  # shorter than the header
    bytes([2, 2, 0, 64]) + NONCE + bytes(16),  # version 2
    bytes([1, 9, 0, 64]) + NONCE + bytes(16),  # no such type
    bytes([1, 1, 0, 129]) + NONCE + bytes(16),  # prefix length above 128
    bytes([1, 1, 0, 64]) + NONCE + bytes(16) + b"{not json",
    bytes([1, 1, 0, 64]) + NONCE + bytes(16) + b'{"a": 1}',  # checks are not a list
    bytes([1, 1, 0, 64]) + NONCE + bytes(16) + b"[" + b" " * 1300 + b"]",  # too long
    bytes([1, 1, 0, 64]) + NONCE + bytes.fromhex("20010db8010000010000000000000001"),  # host bits set
])
def test_malformed_datagrams_raise_only_path_probe_error(octets):
    with pytest.raises(PathProbeError):
        decode(octets)


def test_checks_too_long_to_send_are_replaced_by_one_failed_check():
    long = tuple({"node": "n", "check": "c", "ok": True, "actual": "x" * 200} for _ in range(10))
    message = decode(ProbeMessage(REPORT, NONCE, PREFIX, long).encode())
    assert message.checks == ({"check": "report", "ok": False, "actual": "checks too long to send"},)


class Responder:
    """A prober at the anchor with its sends recorded instead of put on a socket."""

    def __init__(self, binding: BindingForwarding | None, peer_probe=GATEWAY_PROBE) -> None:
        self.sent: list[tuple[int, IPv6Address]] = []
        self.prober = PathProber(own_probe=ANCHOR_PROBE, port=61784, node_name="lma", forwarding_of=lambda mn: [],
                                 binding_for_prefix=lambda prefix: binding if binding and prefix == PREFIX else None,
                                 peer_probe=lambda peer: peer_probe, local_checks=lambda b, p: [{"ok": True}],
                                 monotonic=lambda: 0.0)
        self.prober._send = lambda message, destination: self.sent.append((message.type, destination))


ANCHORED = BindingForwarding("lma/mn1/", "mn1@example.net", None, (PREFIX,), GATEWAY,
                             Tunnel("pmip-1", ANCHOR_PROBE, GATEWAY, remote_sid=GATEWAY))


def test_a_request_from_the_serving_gateway_is_answered_by_a_probe_into_the_prefix_and_a_report():
    responder = Responder(ANCHORED)
    responder.prober._datagram(ProbeMessage(REQUEST, NONCE, PREFIX).encode(), GATEWAY_PROBE)
    assert responder.sent == [(PROBE, PREFIX.network_address), (REPORT, GATEWAY_PROBE)]


@pytest.mark.parametrize("source, binding, reason", [
    (IPv6Address("2001:db8:fe::99"), ANCHORED, "drop:unauthorised-source"),
    (GATEWAY_PROBE, None, "drop:unknown-prefix"),
])
def test_requests_from_elsewhere_or_for_other_prefixes_are_dropped_and_counted(source, binding, reason):
    responder = Responder(binding)
    responder.prober._datagram(ProbeMessage(REQUEST, NONCE, PREFIX).encode(), source)
    assert responder.sent == [] and responder.prober.counters[reason] == 1


def test_a_responder_answers_at_most_its_rate():
    responder = Responder(ANCHORED)
    for _ in range(path_probe.ANSWERS_PER_SECOND + 10):
        responder.prober._datagram(ProbeMessage(REQUEST, NONCE, PREFIX).encode(), GATEWAY_PROBE)
    assert len(responder.sent) == 2 * path_probe.ANSWERS_PER_SECOND
    assert responder.prober.counters["drop:rate-limited"] == 10


def test_a_report_nobody_waits_for_is_dropped():
    responder = Responder(ANCHORED)
    responder.prober._datagram(ProbeMessage(REPORT, NONCE, PREFIX).encode(), GATEWAY_PROBE)
    assert responder.sent == [] and responder.prober.counters["drop:unexpected"] == 1


def test_the_header_layout_is_the_documented_one():
    assert path_probe._HEADER.size == 28 and struct.calcsize("!BBBB8s16s") == 28
