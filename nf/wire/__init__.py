"""Mobility Header codec (RFC 6275 §6.1, RFC 5213 §8, RFC 5846, RFC 5847, RFC 7077, RFC 8885).

``encode(message, src, dst)`` gives the Mobility Header octets, checksum included;
``decode(data, src, dst)`` gives the typed message or raises a ``WireError`` subclass
whose ``reason`` is a stable statistics key.
"""
from .codec import decode, encode
from .constants import (
    IPPROTO_MH,
    IPPROTO_NONE,
    LIFETIME_UNIT_SECONDS,
    MAX_LIFETIME_SECONDS,
    MAX_MH_LENGTH,
    UDP_PORT_PMIP6_CNTL,
    AccessTechnologyType,
    AuthenticationSubtype,
    BindingAckStatus,
    BindingErrorStatus,
    BindingRevocationStatus,
    BindingRevocationType,
    HandoffIndicator,
    MhType,
    MnIdentifierSubtype,
    OptionType,
    RevocationTrigger,
    UpdateNotificationAckStatus,
    UpdateNotificationReason,
)
from .errors import (
    ChecksumError,
    EncodeError,
    LengthError,
    MessageValueError,
    OptionLengthError,
    OptionValueError,
    OversizedError,
    PayloadProtoError,
    TruncatedError,
    UnknownMessageType,
    WireError,
)
from .messages import (
    BindingError,
    BindingRevocationAck,
    BindingRevocationIndication,
    Heartbeat,
    Message,
    ProxyBindingAck,
    ProxyBindingUpdate,
    UpdateNotification,
    UpdateNotificationAck,
)
from .options import (
    AccessTechnologyTypeOption,
    AnchoredPrefixOption,
    DlifLinkLayerAddressOption,
    DlifLinkLocalAddressOption,
    HandoffIndicatorOption,
    HomeNetworkPrefixOption,
    LinkLocalAddressOption,
    LocalPrefixOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    MobilityMessageAuthenticationOption,
    MobilityMessageReplayProtectionOption,
    OpaqueMobileNodeIdentifierOption,
    Option,
    Pad1,
    PadN,
    PreviousMaarOption,
    RestartCounterOption,
    ServingMaarOption,
    TimestampOption,
    UnknownOption,
)

__all__ = [name for name in dir() if not name.startswith("_")]
