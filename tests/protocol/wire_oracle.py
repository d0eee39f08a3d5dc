"""Second implementations of the Mobility Header for tests: scapy and tshark.

scapy 2.6 knows the Binding Update, Acknowledgement and Error and the RFC 6275 / RFC
4283 options. The layouts it lacks (RFC 5213 §8.3-8.8, RFC 5847 §3.3-3.4, RFC 5846 §5, RFC 7077 §4,
RFC 8885) are declared below as scapy fields, written from the RFC figures and
independent of ``nf.wire``; they are registered into scapy's dispatch tables so that
scapy decodes our octets with them and builds its own encodings to compare.

tshark 4.0 is run once per batch of packets; it decodes UDP port 5436 as the Mobility
Header by default (no ``-d udp.port==5436,mip6`` needed, checked with tshark 4.0.17).
It does not verify the Mobility Header checksum, so checksums are checked with scapy.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from collections import defaultdict
from ipaddress import IPv6Address
from pathlib import Path

from scapy.fields import (
    BitField,
    ByteField,
    FieldLenField,
    FlagsField,
    IntField,
    IP6Field,
    ShortField,
    StrLenField,
    XBitField,
    XByteField,
    XShortField,
)
from scapy.layers import inet6
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6, _MIP6OptAlign, _MobilityHeader, _OptionsField, _PhantomAutoPadField
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

# ---------------------------------------------------------------- scapy options


class HomeNetworkPrefix(_MIP6OptAlign):  # RFC 5213 §8.3, and RFC 8885 §4.3/§4.4 (same layout)
    name = "Home Network Prefix"
    fields_desc = [
        ByteField("otype", 22),
        ByteField("olen", 18),
        ByteField("reserved", 0),
        ByteField("plen", 64),
        IP6Field("prefix", "::"),
    ]
    x = 8
    y = 4


class AnchoredPrefix(HomeNetworkPrefix):
    name = "Anchored Prefix"
    otype = 65


class LocalPrefix(HomeNetworkPrefix):
    name = "Local Prefix"
    otype = 66


class HandoffIndicator(_MIP6OptAlign):  # RFC 5213 §8.4
    name = "Handoff Indicator"
    fields_desc = [ByteField("otype", 23), ByteField("olen", 2), ByteField("reserved", 0), ByteField("hi", 0)]
    x = 0
    y = 0


class AccessTechnologyType(_MIP6OptAlign):  # RFC 5213 §8.5
    name = "Access Technology Type"
    fields_desc = [ByteField("otype", 24), ByteField("olen", 2), ByteField("reserved", 0), ByteField("att", 0)]
    x = 0
    y = 0


class MobileNodeLinkLayerIdentifier(_MIP6OptAlign):  # RFC 5213 §8.6
    name = "Mobile Node Link-layer Identifier"
    fields_desc = [
        ByteField("otype", 25),
        FieldLenField("olen", None, length_of="lli", fmt="B", adjust=lambda pkt, x: x + 2),
        ShortField("reserved", 0),
        StrLenField("lli", b"", length_from=lambda pkt: pkt.olen - 2),
    ]
    x = 0
    y = 0


class DlifLinkLayerAddress(MobileNodeLinkLayerIdentifier):  # RFC 8885 §4.8
    name = "DLIF Link-layer Address"
    otype = 70


class LinkLocalAddress(_MIP6OptAlign):  # RFC 5213 §8.7
    name = "Link-local Address"
    fields_desc = [ByteField("otype", 26), ByteField("olen", 16), IP6Field("address", "::")]
    x = 8
    y = 6


class ServingMaar(LinkLocalAddress):  # RFC 8885 §4.6
    name = "Serving MAAR"
    otype = 68


class DlifLinkLocalAddress(LinkLocalAddress):  # RFC 8885 §4.7
    name = "DLIF Link-local Address"
    otype = 69


class Timestamp(_MIP6OptAlign):  # RFC 5213 §8.8
    name = "Timestamp"
    fields_desc = [
        ByteField("otype", 27),
        ByteField("olen", 8),
        BitField("seconds", 0, 48),
        BitField("fraction", 0, 16),
    ]
    x = 8
    y = 2


class RestartCounter(_MIP6OptAlign):  # RFC 5847 §3.4
    name = "Restart Counter"
    fields_desc = [ByteField("otype", 28), ByteField("olen", 4), IntField("counter", 0)]
    x = 4
    y = 2


class PreviousMaar(_MIP6OptAlign):  # RFC 8885 §4.5
    name = "Previous MAAR"
    fields_desc = [
        ByteField("otype", 67),
        ByteField("olen", 34),
        ByteField("reserved", 0),
        ByteField("plen", 64),
        IP6Field("address", "::"),
        IP6Field("prefix", "::"),
    ]
    x = 8
    y = 4


OPTION_CLASSES = {
    22: HomeNetworkPrefix,
    23: HandoffIndicator,
    24: AccessTechnologyType,
    25: MobileNodeLinkLayerIdentifier,
    26: LinkLocalAddress,
    27: Timestamp,
    28: RestartCounter,
    65: AnchoredPrefix,
    66: LocalPrefix,
    67: PreviousMaar,
    68: ServingMaar,
    69: DlifLinkLocalAddress,
    70: DlifLinkLayerAddress,
}
inet6.moboptcls.update(OPTION_CLASSES)

# ---------------------------------------------------------------- scapy messages


def _header(mhtype: int) -> list:
    return [
        ByteField("nh", 59),
        ByteField("len", None),
        ByteField("mhtype", mhtype),
        ByteField("res", 0),
        XShortField("cksum", None),
    ]


def _options(fixed_end: int) -> list:
    return [
        _PhantomAutoPadField("autopad", 1),
        _OptionsField("options", [], inet6.MIP6OptUnknown, fixed_end, length_from=lambda pkt: 8 * pkt.len + 8 - fixed_end),
    ]


class HeartbeatMessage(_MobilityHeader):  # RFC 5847 §3.3
    name = "Heartbeat"
    fields_desc = _header(13) + [
        ByteField("reserved", 0),
        BitField("reserved2", 0, 6),
        BitField("U", 0, 1),
        BitField("R", 0, 1),
        IntField("seq", 0),
    ] + _options(12)


class BindingRevocation(_MobilityHeader):  # RFC 5846 §5, §5.1, §5.2
    name = "Binding Revocation"
    fields_desc = _header(16) + [
        ByteField("brtype", 1),
        ByteField("code", 0),
        ShortField("seq", 0),
        FlagsField("flags", 0, 3, "GVP"),
        XBitField("reserved", 0, 13),
    ] + _options(12)


class UpdateNotification(_MobilityHeader):  # RFC 7077 §4.1, Figure 3
    name = "Update Notification"
    fields_desc = _header(19) + [
        ShortField("seq", 0),
        ShortField("reason", 0),
        BitField("A", 0, 1),
        BitField("D", 0, 1),
        XBitField("reserved", 0, 14),
    ] + _options(12)


class UpdateNotificationAck(_MobilityHeader):  # RFC 7077 §4.2, Figure 4
    name = "Update Notification Acknowledgement"
    fields_desc = _header(20) + [
        ShortField("seq", 0),
        ByteField("status", 0),
        XByteField("reserved", 0),
        XShortField("reserved2", 0),
    ] + _options(12)


inet6._mip6_mhtype2cls.update(
    {13: HeartbeatMessage, 16: BindingRevocation, 19: UpdateNotification, 20: UpdateNotificationAck}
)


def scapy_packet(mobility_header: bytes, src: IPv6Address, dst: IPv6Address, udp: bool = False) -> Packet:
    """An IPv6 packet carrying ``mobility_header`` raw (Next Header 135) or over UDP 5436."""
    ip = IPv6(src=str(src), dst=str(dst))
    if udp:
        return ip / UDP(sport=5436, dport=5436) / Raw(mobility_header)
    ip.nh = 135
    return ip / Raw(mobility_header)


def scapy_decode(mobility_header: bytes, src: IPv6Address, dst: IPv6Address) -> Packet:
    """scapy's reading of ``mobility_header`` (its layer after IPv6)."""
    packet = IPv6(bytes(scapy_packet(mobility_header, src, dst)))
    return packet.payload


def scapy_checksum(mobility_header: bytes, src: IPv6Address, dst: IPv6Address) -> int:
    """The checksum scapy computes (RFC 2460 pseudo-header, Next Header 135)."""
    zeroed = mobility_header[:4] + b"\x00\x00" + mobility_header[6:]
    return inet6.in6_chksum(135, IPv6(src=str(src), dst=str(dst), nh=135), zeroed)


# ---------------------------------------------------------------- tshark


def tshark_decode(packets: list[Packet]) -> list[dict[str, list[str]]]:
    """Every ``mip6.*`` and expert field tshark shows, per packet, as name -> values."""
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "mh.pcap"
        wrpcap(str(pcap), packets)
        done = subprocess.run(
            ["tshark", "-r", str(pcap), "-T", "json"], capture_output=True, text=True, timeout=60, check=True
        )
    result = []
    for frame in json.loads(done.stdout):
        fields: dict[str, list[str]] = defaultdict(list)
        _flatten(frame["_source"]["layers"], fields)
        result.append(dict(fields))
    return result


def _flatten(node: object, out: dict[str, list[str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                out[key].append(value)
            else:
                _flatten(value, out)
    elif isinstance(node, list):
        for item in node:
            _flatten(item, out)


# Wireshark expert severities (epan/proto.h): note 0x400000, warning 0x600000, error 0x800000.
EXPERT_WARNING = 0x600000


def expert_problems(fields: dict[str, list[str]]) -> list[str]:
    """Expert messages at warning level or above, and any 'malformed' marker."""
    problems = [key for key in fields if "malformed" in key]
    messages = fields.get("_ws.expert.message", [])
    severities = fields.get("_ws.expert.severity", [])
    problems += [m for m, s in zip(messages, severities) if int(s) >= EXPERT_WARNING]
    return problems
