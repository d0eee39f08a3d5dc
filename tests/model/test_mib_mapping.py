"""docs/mib-mapping.md: every RFC 6475 / RFC 4295 object is listed, and every YANG node it
names exists in the model (key values included)."""
from __future__ import annotations

import re
from pathlib import Path

import libyang
import pytest

from nf.model import new_context

DOC = Path(__file__).resolve().parents[2] / "docs" / "mib-mapping.md"
ROW = re.compile(r"^\| `(?P<name>\w+)` \| (?P<node>`[^`]+`|does not apply) \| (?P<note>.*) \|$")
PREDICATE = re.compile(r"\[(?P<key>[\w-]+)='(?P<value>[^']*)'\]")

# Object names of the MIB modules (tables, entries, columns, scalars, notifications), as
# published in RFC 6475 and RFC 4295; conformance groups and OID-only nodes are left out.
PMIPV6_MIB = """
    pmip6Capabilities pmip6BindingCacheTable pmip6BindingCacheEntry pmip6BindingPBUFlag
    pmip6BindingMnIndex pmip6BindingMnLLIndex pmip6BindingMagLinkLocalAddressType
    pmip6BindingMagLinkLocalAddress pmip6BindingTunnelIfIdentifier pmip6BindingMnInterfaceATT
    pmip6BindingTimeRecentlyAccepted pmip6MobileNodeGeneratedTimestampInUse
    pmip6FixedMagLinkLocalAddressOnAllAccessLinksType
    pmip6FixedMagLinkLocalAddressOnAllAccessLinks pmip6FixedMagLinkLayerAddressOnAllAccessLinks
    pmip6MissingMnIdentifierOption pmip6MagNotAuthorizedForProxyReg pmip6NotLMAForThisMobileNode
    pmip6ProxyRegNotEnabled pmip6MissingHomeNetworkPrefixOption
    pmip6MissingHandOffIndicatorOption pmip6MissingAccessTechTypeOption
    pmip6NotAuthorizedForHomeNetworkPrefix pmip6TimestampMismatch
    pmip6TimestampLowerThanPrevAccepted pmip6BcePbuPrefixSetDoNotMatch
    pmip6InitialBindingRegistrations pmip6BindingLifeTimeExtensionNoHandOff
    pmip6BindingLifeTimeExtensionAfterHandOff pmip6BindingDeRegistrations
    pmip6BindingBindingAcks pmip6CounterDiscontinuityTime pmip6MagStatus pmip6MagProxyCOATable
    pmip6MagProxyCOAEntry pmip6MagProxyCOAType pmip6MagProxyCOA pmip6MagProxyCOAState
    pmip6MagEnableMagLocalRouting pmip6MagMnIdentifierTable pmip6MagMnIdentifierEntry
    pmip6MagMnIdentifier pmip6MagMnLLIdentifierTable pmip6MagMnLLIdentifierEntry
    pmip6MagMnLLIdentifier pmip6MagHomeNetworkPrefixTable pmip6MagHomeNetworkPrefixEntry
    pmip6MagHomeNetworkPrefixType pmip6MagHomeNetworkPrefix pmip6MagHomeNetworkPrefixLength
    pmip6MagHomeNetworkPrefixLifeTime pmip6MagBLTable pmip6MagBLEntry pmip6MagBLFlag
    pmip6MagBLMnIndex pmip6MagBLMnLLIndex pmip6MagBLMagLinkLocalAddressType
    pmip6MagBLMagLinkLocalAddress pmip6MagBLMagIfIdentifierToMn pmip6MagBLTunnelIfIdentifier
    pmip6MagBLMnInterfaceATT pmip6MagBLTimeRecentlyAccepted pmip6MagMnProfileTable
    pmip6MagMnProfileEntry pmip6MagProfMnIndex pmip6MagProfMnIdentifier
    pmip6MagProfMnLocalMobilityAnchorAddressType pmip6MagProfMnLocalMobilityAnchorAddress
    pmip6LmaStatus pmip6LmaLMAATable pmip6LmaLMAAEntry pmip6LmaLMAAType pmip6LmaLMAA
    pmip6LmaLMAAState pmip6LmaMinDelayBeforeBCEDelete pmip6LmaMaxDelayBeforeNewBCEAssign
    pmip6LmaTimestampValidityWindow pmip6LmaMnIdentifierTable pmip6LmaMnIdentifierEntry
    pmip6LmaMnIdentifier pmip6LmaMnLLIdentifierTable pmip6LmaMnLLIdentifierEntry
    pmip6LmaMnLLIdentifier pmip6LmaHomeNetworkPrefixTable pmip6LmaHomeNetworkPrefixEntry
    pmip6LmaHomeNetworkPrefixType pmip6LmaHomeNetworkPrefix pmip6LmaHomeNetworkPrefixLength
    pmip6LmaHomeNetworkPrefixLifeTime pmip6MagHomeTunnelEstablished pmip6MagHomeTunnelReleased
    pmip6LmaHomeTunnelEstablished pmip6LmaHomeTunnelReleased
""".split()
MOBILEIPV6_MIB = """
    mip6Capabilities mip6Status mip6BindingCacheTable mip6BindingCacheEntry
    mip6BindingHomeAddressType mip6BindingHomeAddress mip6BindingCOAType mip6BindingCOA
    mip6BindingTimeRegistered mip6BindingTimeGranted mip6BindingTimeRemaining
    mip6BindingHomeRegn mip6BindingMaxSeq mip6BindingUsageTS mip6BindingUsageCount
    mip6BindingAdminStatus mip6BindingHistoryTable mip6BindingHistoryEntry
    mip6BindingHstHomeAddressType mip6BindingHstHomeAddress mip6BindingHstIndex
    mip6BindingHstCOAType mip6BindingHstCOA mip6BindingHstTimeRegistered
    mip6BindingHstTimeExpired mip6BindingHstHomeRegn mip6BindingHstUsageTS
    mip6BindingHstUsageCount mip6InOctets mip6HCInOctets mip6InPkts mip6HCInPkts mip6OutOctets
    mip6HCOutOctets mip6OutPkts mip6HCOutPkts mip6CounterDiscontinuityTime mip6NodeTrafficTable
    mip6NodeTrafficEntry mip6NodeInOctets mip6HCNodeInOctets mip6NodeInPkts mip6HCNodeInPkts
    mip6NodeOutOctets mip6HCNodeOutOctets mip6NodeOutPkts mip6HCNodeOutPkts
    mip6NodeCtrDiscontinuityTime mip6MnHomeAddressTable mip6MnHomeAddressEntry
    mip6MnHomeAddressType mip6MnHomeAddress mip6MnHomeAddressState mip6MnDiscoveryRequests
    mip6MnDiscoveryReplies mip6MnDiscoveryTimeouts mip6MnPrefixSolicitationsSent
    mip6MnPrefixAdvsRecd mip6MnPrefixAdvsIgnored mip6MnMovedToFN mip6MnMovedToHN mip6MnBLTable
    mip6MnBLEntry mip6MnBLNodeAddressType mip6MnBLNodeAddress mip6MnBLCOAType mip6MnBLCOA
    mip6MnBLLifeTimeRequested mip6MnBLLifeTimeGranted mip6MnBLMaxSeq mip6MnBLTimeSent
    mip6MnBLAccepted mip6MnBLAcceptedTime mip6MnBLRetransmissions mip6MnBLDontSendBUFlag
    mip6MnMobilityMessagesSent mip6MnMobilityMessagesRecd mip6MnBUsToHA mip6MnBUAcksFromHA
    mip6MnBUsToCN mip6MnBUAcksFromCN mip6MnBindingErrorsFromCN mip6MnICMPErrorsRecd
    mip6MnBRRequestsRecd mip6CnHomeTestInitsRecd mip6CnHomeTestsSent mip6CnCareOfTestInitsRecd
    mip6CnCareOfTestsSent mip6CnBUsRecd mip6CnBUAcksSent mip6CnBRsSent mip6CnBindingErrors
    mip6CnBUsAccepted mip6CnBUsRejected mip6CnReasonUnspecified mip6CnInsufficientResource
    mip6CnHomeRegnNotSupported mip6CnSeqNumberOutOfWindow mip6CnExpiredHomeNonceIndex
    mip6CnExpiredCareOfNonceIndex mip6CnExpiredNonce mip6CnRegTypeChangeDisallowed
    mip6CnCounterTable mip6CnCounterEntry mip6CnBURequestsAccepted mip6CnBURequestsRejected
    mip6CnBCEntryCreationTime mip6CnBUAcceptedTime mip6CnBURejectionTime mip6CnBURejectionCode
    mip6CnCtrDiscontinuityTime mip6HaAdvsRecd mip6HaAdvsSent mip6HaConfTable mip6HaConfEntry
    mip6HaAdvPreference mip6HaAdvLifetime mip6HaPrefixAdv mip6HaPrefixSolicitation
    mip6HaMCastCtlMsgSupport mip6HaListTable mip6HaListEntry mip6HaLinkLocalAddressType
    mip6HaLinkLocalAddress mip6HaPreference mip6HaRecvLifeTime mip6HaRecvTimeStamp
    mip6HaGlAddrTable mip6HaGlAddrEntry mip6HaGaAddrSeqNo mip6HaGaGlobalAddressType
    mip6HaGaGlobalAddress mip6HaHomeTestInitsRecd mip6HaHomeTestsSent mip6HaBUsRecd
    mip6HaBUAcksSent mip6HaBRAdviceSent mip6HaBUsAccepted mip6HaPrefDiscoverReqd
    mip6HaReasonUnspecified mip6HaAdmProhibited mip6HaInsufficientResource
    mip6HaHomeRegnNotSupported mip6HaNotHomeSubnet mip6HaNotHomeAgentForThisMN
    mip6HaDupAddrDetectionFailed mip6HaSeqNumberOutOfWindow mip6HaExpiredHomeNonceIndex
    mip6HaRegTypeChangeDisallowed mip6HaCounterTable mip6HaCounterEntry mip6HaBURequestsAccepted
    mip6HaBURequestsDenied mip6HaBCEntryCreationTime mip6HaBUAcceptedTime mip6HaBURejectionTime
    mip6HaRecentBURejectionCode mip6HaCtrDiscontinuityTime mip6MnRegistered mip6MnDeRegistered
    mip6MnCOAChanged mip6MnBindingExpiredAtHA mip6MnBindingExpiredAtCN
""".split()


def rows() -> list[re.Match[str]]:
    found = [ROW.match(line) for line in DOC.read_text().splitlines()]
    return [m for m in found if m]


@pytest.fixture(scope="module")
def ctx() -> libyang.Context:
    return new_context()


def test_every_mib_object_is_listed_once() -> None:
    names = [m["name"] for m in rows()]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(PMIPV6_MIB + MOBILEIPV6_MIB)


def test_objects_that_do_not_apply_say_why() -> None:
    for m in rows():
        if m["node"] == "does not apply":
            assert m["note"].strip(), m["name"]


MAPPED = [(m["name"], m["node"].strip("`")) for m in rows() if m["node"] != "does not apply"]


@pytest.mark.parametrize(("name", "path"), MAPPED, ids=[n for n, _ in MAPPED])
def test_mapped_node_exists(ctx: libyang.Context, name: str, path: str) -> None:
    schema_path = PREDICATE.sub("", path)
    node = next(ctx.find_path(schema_path), None)
    assert node is not None, f"{name}: {schema_path} is not in the model"
    for predicate in PREDICATE.finditer(path):
        list_path = path[:predicate.start()]
        key = next(ctx.find_path(PREDICATE.sub("", list_path) + "/" + predicate["key"]))
        assert key.is_key(), f"{name}: {predicate['key']} is not a key"
        values = {e.name() for e in key.type().enums()}
        assert predicate["value"] in values, f"{name}: no code named {predicate['value']}"


def test_a_wrong_path_would_be_caught(ctx: libyang.Context) -> None:
    with pytest.raises(libyang.LibyangError):
        next(ctx.find_path("/dmm-nf:dmm-nf/statistics/no-such-counter"))
