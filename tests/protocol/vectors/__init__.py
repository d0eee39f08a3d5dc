"""Golden Mobility Header vectors: one sample message per type, and its exact octets.

``golden.txt`` holds ``name hex`` lines; the octets were checked field by field against
tshark and scapy (tests/protocol/test_wire_tshark.py, test_wire_scapy.py) and are
frozen so any change to the encoder's output is visible.
"""
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

from nf.wire import (
    AccessTechnologyType,
    AccessTechnologyTypeOption,
    AnchoredPrefixOption,
    BindingAckStatus,
    BindingError,
    BindingErrorStatus,
    BindingRevocationAck,
    BindingRevocationIndication,
    BindingRevocationStatus,
    DlifLinkLayerAddressOption,
    DlifLinkLocalAddressOption,
    HandoffIndicator,
    HandoffIndicatorOption,
    Heartbeat,
    HomeNetworkPrefixOption,
    LinkLocalAddressOption,
    LocalPrefixOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    OpaqueMobileNodeIdentifierOption,
    PreviousMaarOption,
    ProxyBindingAck,
    ProxyBindingUpdate,
    RestartCounterOption,
    RevocationTrigger,
    ServingMaarOption,
    TimestampOption,
    UnknownOption,
    UpdateNotification,
    UpdateNotificationAck,
    UpdateNotificationAckStatus,
    UpdateNotificationReason,
)

MAG = IPv6Address("2001:db8:a::1")
LMA = IPv6Address("2001:db8:b::1")
HNP = IPv6Network("2001:db8:1:2::/64")
NAI = MobileNodeIdentifierOption("mn1@example.net")
MAC = bytes.fromhex("020000aabbcc")

# name -> (message, source, destination)
SAMPLES = {
    "pbu-initial": (
        ProxyBindingUpdate(
            sequence=4711,
            lifetime=3600,
            options=(
                NAI,
                HomeNetworkPrefixOption(IPv6Network("::/0")),
                HandoffIndicatorOption(HandoffIndicator.ATTACHMENT_OVER_NEW_INTERFACE),
                AccessTechnologyTypeOption(AccessTechnologyType.IEEE_802_3),
                MobileNodeLinkLayerIdentifierOption(MAC),
                LinkLocalAddressOption(IPv6Address("fe80::1")),
                TimestampOption(1700000000, 0x8000),
            ),
        ),
        MAG,
        LMA,
    ),
    "pbu-deregistration": (
        ProxyBindingUpdate(sequence=4712, lifetime=0, options=(NAI, HomeNetworkPrefixOption(HNP))),
        MAG,
        LMA,
    ),
    "pba-accepted": (
        ProxyBindingAck(
            status=BindingAckStatus.ACCEPTED,
            sequence=4711,
            lifetime=3600,
            options=(
                NAI,
                HomeNetworkPrefixOption(HNP),
                HandoffIndicatorOption(HandoffIndicator.ATTACHMENT_OVER_NEW_INTERFACE),
                AccessTechnologyTypeOption(AccessTechnologyType.IEEE_802_3),
                TimestampOption(1700000000, 0x8000),
            ),
        ),
        LMA,
        MAG,
    ),
    "pba-rejected": (
        ProxyBindingAck(
            status=BindingAckStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX,
            sequence=9,
            lifetime=0,
            options=(NAI,),
        ),
        LMA,
        MAG,
    ),
    "binding-error": (BindingError(BindingErrorStatus.UNRECOGNIZED_MH_TYPE), LMA, MAG),
    "heartbeat-request": (Heartbeat(sequence=0x01020304), MAG, LMA),
    "heartbeat-response": (
        Heartbeat(sequence=0x01020304, response=True, options=(RestartCounterOption(7),)),
        LMA,
        MAG,
    ),
    "heartbeat-unsolicited": (
        Heartbeat(sequence=77, response=True, unsolicited=True, options=(RestartCounterOption(8),)),
        LMA,
        MAG,
    ),
    "bri": (
        BindingRevocationIndication(
            trigger=RevocationTrigger.ADMINISTRATIVE_REASON, sequence=300, options=(NAI,)
        ),
        LMA,
        MAG,
    ),
    "bri-global": (
        BindingRevocationIndication(
            trigger=RevocationTrigger.PER_PEER_POLICY, sequence=301, global_=True, ipv4_home_address_only=True
        ),
        LMA,
        MAG,
    ),
    "bra": (
        BindingRevocationAck(status=BindingRevocationStatus.SUCCESS, sequence=300, options=(NAI,)),
        MAG,
        LMA,
    ),
    "upn": (
        UpdateNotification(
            sequence=5, reason=UpdateNotificationReason.FORCE_REREGISTRATION, options=(NAI,)
        ),
        LMA,
        MAG,
    ),
    "upa": (
        UpdateNotificationAck(sequence=5, status=UpdateNotificationAckStatus.SUCCESS, options=(NAI,)),
        MAG,
        LMA,
    ),
    "upn-retransmission": (
        UpdateNotification(
            sequence=0xBEEF, reason=UpdateNotificationReason.UPDATE_SESSION_PARAMETERS, retransmit=True,
            options=(NAI,),
        ),
        LMA,
        MAG,
    ),
    "pba-dmm": (
        ProxyBindingAck(status=BindingAckStatus.ACCEPTED, sequence=1, lifetime=600, dmm=True,
                        options=(NAI, AnchoredPrefixOption(HNP))),
        MAG,
        IPv6Address("2001:db8:c::1"),
    ),
    "pbu-dmm": (
        ProxyBindingUpdate(
            sequence=1,
            lifetime=600,
            dmm=True,
            options=(
                NAI,
                AnchoredPrefixOption(HNP),
                LocalPrefixOption(IPv6Network("2001:db8:c:1::/64")),
                PreviousMaarOption(IPv6Address("2001:db8:a::1"), HNP),
                ServingMaarOption(IPv6Address("2001:db8:c::1")),
                DlifLinkLocalAddressOption(IPv6Address("fe80::aa")),
                DlifLinkLayerAddressOption(MAC),
            ),
        ),
        IPv6Address("2001:db8:c::1"),
        MAG,
    ),
    "pbu-opaque-and-unknown": (
        ProxyBindingUpdate(
            sequence=2,
            lifetime=4,
            options=(OpaqueMobileNodeIdentifierOption(16, b"opaque-id"), UnknownOption(200, b"\x01\x02\x03")),
        ),
        MAG,
        LMA,
    ),
}

GOLDEN_FILE = Path(__file__).with_name("golden.txt")


def load_golden() -> dict[str, bytes]:
    """name -> octets, from golden.txt (blank lines and # comments ignored)."""
    vectors = {}
    for line in GOLDEN_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, hex_octets = line.split()
            vectors[name] = bytes.fromhex(hex_octets)
    return vectors
