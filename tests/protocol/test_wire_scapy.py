"""scapy reads our octets to the same fields, builds the same octets from the same
values (its own padding and length logic), and computes the same checksum.
"""
import pytest
from scapy.layers.inet6 import IPv6, MIP6MH_BA, MIP6MH_BE, MIP6MH_BU, MIP6OptMNID, MIP6OptUnknown, PadN

from nf.wire import (
    AccessTechnologyTypeOption,
    AnchoredPrefixOption,
    BindingError,
    BindingRevocationAck,
    BindingRevocationIndication,
    DlifLinkLayerAddressOption,
    DlifLinkLocalAddressOption,
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
    ServingMaarOption,
    TimestampOption,
    UnknownOption,
    UpdateNotification,
    UpdateNotificationAck,
    encode,
)
from tests.protocol import wire_oracle as oracle
from tests.protocol.vectors import SAMPLES

NAMES = sorted(SAMPLES)


def scapy_option(option):
    """The scapy object for one of our options, built from its values."""
    match option:
        case MobileNodeIdentifierOption(nai=nai):
            return MIP6OptMNID(subtype=1, id=nai.encode())
        case OpaqueMobileNodeIdentifierOption(subtype=subtype, identifier=identifier):
            return MIP6OptMNID(subtype=subtype, id=identifier)
        case HomeNetworkPrefixOption(prefix=p) | AnchoredPrefixOption(prefix=p) | LocalPrefixOption(prefix=p):
            cls = {22: oracle.HomeNetworkPrefix, 65: oracle.AnchoredPrefix, 66: oracle.LocalPrefix}[option.TYPE]
            return cls(plen=p.prefixlen, prefix=str(p.network_address))
        case HandoffIndicatorOption(value=value):
            return oracle.HandoffIndicator(hi=value)
        case AccessTechnologyTypeOption(value=value):
            return oracle.AccessTechnologyType(att=value)
        case MobileNodeLinkLayerIdentifierOption(identifier=identifier):
            return oracle.MobileNodeLinkLayerIdentifier(lli=identifier)
        case DlifLinkLayerAddressOption(identifier=identifier):
            return oracle.DlifLinkLayerAddress(lli=identifier)
        case LinkLocalAddressOption(address=a) | ServingMaarOption(address=a) | DlifLinkLocalAddressOption(address=a):
            cls = {26: oracle.LinkLocalAddress, 68: oracle.ServingMaar, 69: oracle.DlifLinkLocalAddress}[option.TYPE]
            return cls(address=str(a))
        case TimestampOption(seconds=seconds, fraction=fraction):
            return oracle.Timestamp(seconds=seconds, fraction=fraction)
        case RestartCounterOption(counter=counter):
            return oracle.RestartCounter(counter=counter)
        case PreviousMaarOption(address=a, prefix=p):
            return oracle.PreviousMaar(plen=p.prefixlen, address=str(a), prefix=str(p.network_address))
        case UnknownOption(type=option_type, data=data):
            return MIP6OptUnknown(otype=option_type, odata=data)
    raise AssertionError(f"no scapy form for {option!r}")


def scapy_message(message):
    """The scapy layer for one of our messages, built from its values."""
    options = [scapy_option(o) for o in message.options]
    match message:
        case ProxyBindingUpdate():
            # scapy 2.6 names A H L K M R P; F T B S D and four reserved bits are its 9-bit
            # "reserved" field (bits 7..15 of the flags word, RFC 8885 §4.1 figure): D is 0x010.
            flags = "".join(
                letter
                for letter, on in zip(
                    "AHLKMRP",
                    (message.ack, message.home_registration, message.link_local_compat, message.key_management,
                     message.map_registration, message.mobile_router, message.proxy),
                )
                if on
            )
            reserved = message.dmm << 4 | message.other_flags
            return MIP6MH_BU(seq=message.sequence, flags=flags, reserved=reserved,
                             mhtime=message.lifetime // 4, options=options)
        case ProxyBindingAck():
            # scapy names K R P; T B S D and one reserved bit are its 5-bit "res2" (RFC 8885 §4.2): D is 0x02.
            flags = "".join(l for l, on in zip("KRP", (message.key_management, message.mobile_router, message.proxy)) if on)
            res2 = message.dmm << 1 | message.other_flags
            return MIP6MH_BA(status=message.status, flags=flags, res2=res2, seq=message.sequence,
                             mhtime=message.lifetime // 4, options=options)
        case BindingError():
            return MIP6MH_BE(status=message.status, ha=str(message.home_address), options=options)
        case Heartbeat():
            return oracle.HeartbeatMessage(U=int(message.unsolicited), R=int(message.response),
                                           seq=message.sequence, options=options)
        case BindingRevocationIndication() | BindingRevocationAck():
            code = message.trigger if isinstance(message, BindingRevocationIndication) else message.status
            flags = "".join(l for l, on in zip("PVG", (message.proxy, message.ipv4_home_address_only, message.global_)) if on)
            return oracle.BindingRevocation(brtype=message.BR_TYPE, code=code, seq=message.sequence, flags=flags,
                                            options=options)
        case UpdateNotification():
            return oracle.UpdateNotification(seq=message.sequence, reason=message.reason,
                                             A=int(message.ack_requested), D=int(message.retransmit),
                                             reserved=message.other_flags, options=options)
        case UpdateNotificationAck():
            return oracle.UpdateNotificationAck(seq=message.sequence, status=message.status, options=options)
    raise AssertionError(f"no scapy form for {message!r}")


@pytest.mark.parametrize("name", NAMES)
def test_scapy_builds_the_same_octets(name):
    message, src, dst = SAMPLES[name]
    built = IPv6(src=str(src), dst=str(dst)) / scapy_message(message)
    assert bytes(built.payload) == encode(message, src, dst)


@pytest.mark.parametrize("name", NAMES)
def test_scapy_computes_the_same_checksum(name):
    message, src, dst = SAMPLES[name]
    octets = encode(message, src, dst)
    assert oracle.scapy_checksum(octets, src, dst) == int.from_bytes(octets[4:6], "big")


@pytest.mark.parametrize("name", NAMES)
def test_scapy_reads_the_same_options(name):
    message, src, dst = SAMPLES[name]
    layer = oracle.scapy_decode(encode(message, src, dst), src, dst)
    read = [o for o in layer.options if not isinstance(o, (oracle.inet6.Pad1, PadN))]
    assert [bytes(o) for o in read] == [bytes(scapy_option(o)) for o in message.options]
    assert [type(o) for o in read] == [type(scapy_option(o)) for o in message.options]


def test_scapy_reads_pbu_fields():
    message, src, dst = SAMPLES["pbu-initial"]
    bu = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert isinstance(bu, MIP6MH_BU)
    assert (bu.seq, bu.mhtime, set(str(bu.flags))) == (4711, 900, set("AHP"))
    hnp = bu.options[2]
    assert (hnp.otype, hnp.plen, hnp.prefix) == (22, 0, "::")
    ts = [o for o in bu.options if isinstance(o, oracle.Timestamp)][0]
    assert (ts.seconds, ts.fraction) == (1700000000, 0x8000)


def test_scapy_reads_pba_fields():
    message, src, dst = SAMPLES["pba-rejected"]
    ba = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert isinstance(ba, MIP6MH_BA)
    assert (ba.status, ba.seq, ba.mhtime, set(str(ba.flags))) == (155, 9, 0, {"P"})


def test_scapy_reads_heartbeat_fields():
    message, src, dst = SAMPLES["heartbeat-unsolicited"]
    hb = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert (hb.U, hb.R, hb.seq) == (1, 1, 77)
    assert [o.counter for o in hb.options if isinstance(o, oracle.RestartCounter)] == [8]


def test_scapy_reads_revocation_fields():
    message, src, dst = SAMPLES["bri-global"]
    bri = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert (bri.brtype, bri.code, bri.seq, set(str(bri.flags))) == (1, 128, 301, set("PVG"))


def test_scapy_reads_binding_error_fields():
    message, src, dst = SAMPLES["binding-error"]
    be = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert isinstance(be, MIP6MH_BE)
    assert (be.status, be.ha) == (2, "::")


def test_scapy_reads_update_notification_fields():
    message, src, dst = SAMPLES["upn-retransmission"]
    upn = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert (upn.seq, upn.reason, upn.A, upn.D, upn.reserved) == (0xBEEF, 2, 1, 1, 0)


def test_scapy_finds_the_rfc_8885_d_flag_in_the_bits_it_leaves_unnamed():
    message, src, dst = SAMPLES["pbu-dmm"]
    bu = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert (set(str(bu.flags)), bu.reserved) == (set("AHP"), 0x010)
    message, src, dst = SAMPLES["pba-dmm"]
    ba = oracle.scapy_decode(encode(message, src, dst), src, dst)
    assert (set(str(ba.flags)), ba.res2) == ({"P"}, 0x02)
