"""tshark 4.0 decodes our octets, over raw IPv6 and over UDP 5436, to the same fields.

One tshark run for the whole module: every sample goes into one pcap twice (raw IPv6
with Next Header 135, then IPv6/UDP 5436).
"""
import shutil
from datetime import datetime, timezone

import pytest

from nf.wire import MhType, encode
from tests.protocol.vectors import SAMPLES
from tests.protocol.wire_oracle import expert_problems, scapy_packet, tshark_decode

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

NAMES = sorted(SAMPLES)


@pytest.fixture(scope="module")
def decoded():
    packets = []
    for udp in (False, True):
        for name in NAMES:
            message, src, dst = SAMPLES[name]
            packets.append(scapy_packet(encode(message, src, dst), src, dst, udp=udp))
    frames = tshark_decode(packets)
    raw, over_udp = frames[: len(NAMES)], frames[len(NAMES) :]
    return {name: (raw[i], over_udp[i]) for i, name in enumerate(NAMES)}


def one(fields, key):
    values = fields[key]
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("transport", ["raw", "udp"])
def test_header_fields_and_no_expert_problems(decoded, name, transport):
    fields = decoded[name][transport == "udp"]
    message, _, _ = SAMPLES[name]
    assert one(fields, "mip6.proto") == "59"
    assert one(fields, "mip6.mhtype") == str(int(message.MH_TYPE))
    assert expert_problems(fields) == []
    if transport == "udp":
        assert one(fields, "udp.srcport") == one(fields, "udp.dstport") == "5436"


@pytest.mark.parametrize("transport", [0, 1])
def test_pbu_fields(decoded, transport):
    fields = decoded["pbu-initial"][transport]
    assert one(fields, "mip6.bu.seqnr") == "4711"
    assert one(fields, "mip6.bu.lifetime") == "900"  # 4-second units: 3600 s
    for flag, value in (("a", "1"), ("h", "1"), ("l", "0"), ("k", "0"), ("m", "0"), ("p", "1")):
        assert one(fields, f"mip6.bu.{flag}_flag") == value
    assert one(fields, "mip6.nemo.bu.r_flag") == "0"
    assert one(fields, "mip6.mnid.subtype") == "1"
    assert one(fields, "mip6.mnid.identifier") == "mn1@example.net"
    assert one(fields, "mip6.nemo.mnp.pfl") == "0"  # HNP option: prefix length 0 asks for one
    assert one(fields, "mip6.nemo.mnp.mnp") == "::"
    assert one(fields, "mip6.hi") == "1"
    assert one(fields, "mip6.att") == "3"
    assert one(fields, "mip6.mnlli.lli") == "02:00:00:aa:bb:cc"
    assert one(fields, "mip6.lila_lla") == "fe80::1"
    assert one(fields, "mip6.timestamp_tmp") == "Nov 14, 2023 22:13:20.500000000 UTC"
    assert datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc).timestamp() == 1700000000


def test_pba_fields(decoded):
    fields = decoded["pba-accepted"][0]
    assert one(fields, "mip6.ba.status") == "0"
    assert one(fields, "mip6.ba.seqnr") == "4711"
    assert one(fields, "mip6.ba.lifetime") == "900"
    assert one(fields, "mip6.ba.p_flag") == "1"
    assert one(fields, "mip6.ba.k_flag") == "0"
    assert one(fields, "mip6.nemo.mnp.pfl") == "64"
    assert one(fields, "mip6.nemo.mnp.mnp") == "2001:db8:1:2::"
    rejected = decoded["pba-rejected"][0]
    assert one(rejected, "mip6.ba.status") == "155"


def test_binding_error_fields(decoded):
    fields = decoded["binding-error"][0]
    assert one(fields, "mip6.be.status") == "2"
    assert one(fields, "mip6.be.haddr") == "::"


@pytest.mark.parametrize(
    "name, u, r, seq, restart",
    [
        ("heartbeat-request", "0", "0", str(0x01020304), None),
        ("heartbeat-response", "0", "1", str(0x01020304), "7"),
        ("heartbeat-unsolicited", "1", "1", "77", "8"),
    ],
)
@pytest.mark.parametrize("transport", [0, 1])
def test_heartbeat_fields(decoded, name, u, r, seq, restart, transport):
    fields = decoded[name][transport]
    assert one(fields, "mip6.hb.u_flag") == u
    assert one(fields, "mip6.hb.r_flag") == r
    assert one(fields, "mip6.hb.seqnr") == seq
    assert fields.get("mip6.rc", [None]) == [restart]


def test_binding_revocation_indication_fields(decoded):
    fields = decoded["bri"][0]
    assert one(fields, "mip6.bri_br.type") == "1"
    assert one(fields, "mip6.bri_r.trigger") == "1"
    assert one(fields, "mip6.bri_seqnr") == "300"
    assert (one(fields, "mip6.bri_ip"), one(fields, "mip6.bri_iv"), one(fields, "mip6.bri_ig")) == ("1", "0", "0")
    assert one(fields, "mip6.mnid.identifier") == "mn1@example.net"
    flags = decoded["bri-global"][0]
    assert one(flags, "mip6.bri_r.trigger") == "128"
    assert (one(flags, "mip6.bri_ip"), one(flags, "mip6.bri_iv"), one(flags, "mip6.bri_ig")) == ("1", "1", "1")


def test_binding_revocation_ack_fields(decoded):
    fields = decoded["bra"][0]
    assert one(fields, "mip6.bri_br.type") == "2"
    # tshark 4.0 names BRA statuses after a draft, but the number is the field's value.
    assert one(fields, "mip6.bri_status") == "0"
    assert one(fields, "mip6.bri_seqnr") == "300"
    assert one(fields, "mip6.bri_ap") == "1"


@pytest.mark.parametrize("name", ["upn", "upa"])
def test_update_notifications_are_framed_right_though_tshark_lacks_their_layout(decoded, name):
    # tshark 4.0 knows MH Types 0-18 only; it still checks Header Len against the data.
    fields = decoded[name][0]
    assert one(fields, "mip6.mhtype") == str(int(SAMPLES[name][0].MH_TYPE))
    assert int(one(fields, "mip6.hlen")) == 3


def test_dmm_options_are_walked_by_their_lengths(decoded):
    # tshark 4.0 does not interpret RFC 8885 options (and shows a wrong Length for unknown
    # ones) but steps over each by its Length octet: finding every Type in order, with
    # the padding between them, shows the lengths and alignment are consistent.
    fields = decoded["pbu-dmm"][0]
    assert int(one(fields, "mip6.mhtype")) == MhType.BINDING_UPDATE
    assert one(fields, "mip6.mnid.identifier") == "mn1@example.net"
    assert [int(t) for t in fields["mip6.mobility_opt"]] == [65, 66, 67, 68, 69, 70]
