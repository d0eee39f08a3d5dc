"""Numbers of the Mobility Header protocol family, each with the RFC section defining it.

Values are the IANA "Mobile IPv6 parameters" registry's. Wire layouts live in
``messages.py`` / ``options.py``; this module holds only names for numbers.
"""
from enum import IntEnum

# RFC 6275 §6.1.1: the Mobility Header is IPv6 Next Header 135; its Payload Proto
# is IPPROTO_NONE (59) because nothing follows it.
IPPROTO_MH = 135
IPPROTO_NONE = 59
# IANA service "pmip6-cntl": the same Mobility Header bytes carried as a UDP payload.
UDP_PORT_PMIP6_CNTL = 5436

# RFC 6275 §6.1.1: Header Len is one octet counting 8-octet units after the first 8.
MAX_MH_LENGTH = (255 + 1) * 8
# RFC 6275 §6.1.7: Lifetime is counted in 4-second units in a 16-bit field.
LIFETIME_UNIT_SECONDS = 4
MAX_LIFETIME_SECONDS = 0xFFFF * LIFETIME_UNIT_SECONDS


class MhType(IntEnum):
    """MH Type field (RFC 6275 §6.1.1 and the RFCs that added types)."""

    BINDING_REFRESH_REQUEST = 0  # RFC 6275 §6.1.2
    BINDING_UPDATE = 5  # RFC 6275 §6.1.7; Proxy Binding Update with P=1, RFC 5213 §8.1
    BINDING_ACK = 6  # RFC 6275 §6.1.8; Proxy Binding Ack, RFC 5213 §8.2
    BINDING_ERROR = 7  # RFC 6275 §6.1.9
    HEARTBEAT = 13  # RFC 5847 §3.3
    BINDING_REVOCATION = 16  # RFC 5846 §5
    UPDATE_NOTIFICATION = 19  # RFC 7077 §4.1
    UPDATE_NOTIFICATION_ACK = 20  # RFC 7077 §4.2


class OptionType(IntEnum):
    """Mobility option Type field (RFC 6275 §6.2.1)."""

    PAD1 = 0  # RFC 6275 §6.2.2
    PADN = 1  # RFC 6275 §6.2.3
    MOBILE_NODE_IDENTIFIER = 8  # RFC 4283 §3
    MOBILITY_MESSAGE_AUTHENTICATION = 9  # RFC 4285 §5, §8 (AUTH-OPTION-TYPE)
    MOBILITY_MESSAGE_REPLAY_PROTECTION = 10  # RFC 4285 §6, §8 (MESG-ID-OPTION-TYPE)
    HOME_NETWORK_PREFIX = 22  # RFC 5213 §8.3
    HANDOFF_INDICATOR = 23  # RFC 5213 §8.4
    ACCESS_TECHNOLOGY_TYPE = 24  # RFC 5213 §8.5
    MOBILE_NODE_LINK_LAYER_IDENTIFIER = 25  # RFC 5213 §8.6
    LINK_LOCAL_ADDRESS = 26  # RFC 5213 §8.7
    TIMESTAMP = 27  # RFC 5213 §8.8
    RESTART_COUNTER = 28  # RFC 5847 §3.4
    ANCHORED_PREFIX = 65  # RFC 8885 §4.3
    LOCAL_PREFIX = 66  # RFC 8885 §4.4
    PREVIOUS_MAAR = 67  # RFC 8885 §4.5
    SERVING_MAAR = 68  # RFC 8885 §4.6
    DLIF_LINK_LOCAL_ADDRESS = 69  # RFC 8885 §4.7
    DLIF_LINK_LAYER_ADDRESS = 70  # RFC 8885 §4.8


class AuthenticationSubtype(IntEnum):
    """Mobility Message Authentication option Subtype (RFC 4285 §5, §8)."""

    MN_HA = 1  # §5.1: a key shared by the two ends, HMAC_SHA1 truncated to 96 bits
    MN_AAA = 2  # §5.2: checked by a AAA server (not used here)


class MnIdentifierSubtype(IntEnum):
    """Mobile Node Identifier option Subtype (RFC 4283 §3; more in RFC 8371)."""

    NAI = 1


class BindingAckStatus(IntEnum):
    """Binding Acknowledgement Status (RFC 6275 §6.1.8, RFC 5213 §8.9). Below 128 = accepted."""

    ACCEPTED = 0
    ACCEPTED_PREFIX_DISCOVERY_NECESSARY = 1
    REASON_UNSPECIFIED = 128
    ADMINISTRATIVELY_PROHIBITED = 129
    INSUFFICIENT_RESOURCES = 130
    HOME_REGISTRATION_NOT_SUPPORTED = 131
    NOT_HOME_SUBNET = 132
    NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE = 133
    DUPLICATE_ADDRESS_DETECTION_FAILED = 134
    SEQUENCE_NUMBER_OUT_OF_WINDOW = 135
    EXPIRED_HOME_NONCE_INDEX = 136
    EXPIRED_CARE_OF_NONCE_INDEX = 137
    EXPIRED_NONCES = 138
    REGISTRATION_TYPE_CHANGE_DISALLOWED = 139
    INVALID_CARE_OF_ADDRESS = 174
    # RFC 4285 §8
    MIPV6_ID_MISMATCH = 144  # §6: authentic, but its replay protection timestamp is not valid
    MIPV6_MESG_ID_REQD = 145  # §6: the security association asks for replay protection
    MIPV6_AUTH_FAIL = 146  # §5.1.1, §5.3: the authenticator does not verify
    # RFC 5213 §8.9
    PROXY_REG_NOT_ENABLED = 152
    NOT_LMA_FOR_THIS_MOBILE_NODE = 153
    MAG_NOT_AUTHORIZED_FOR_PROXY_REG = 154
    NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX = 155
    TIMESTAMP_MISMATCH = 156
    TIMESTAMP_LOWER_THAN_PREV_ACCEPTED = 157
    MISSING_HOME_NETWORK_PREFIX_OPTION = 158
    BCE_PBU_PREFIX_SET_DO_NOT_MATCH = 159
    MISSING_MN_IDENTIFIER_OPTION = 160
    MISSING_HANDOFF_INDICATOR_OPTION = 161
    MISSING_ACCESS_TECH_TYPE_OPTION = 162


class BindingErrorStatus(IntEnum):
    """Binding Error Status (RFC 6275 §6.1.9)."""

    UNKNOWN_BINDING_FOR_HOME_ADDRESS_DEST_OPTION = 1
    UNRECOGNIZED_MH_TYPE = 2  # sent per RFC 6275 §9.2


class HandoffIndicator(IntEnum):
    """Handoff Indicator option values (RFC 5213 §8.4)."""

    RESERVED = 0
    ATTACHMENT_OVER_NEW_INTERFACE = 1
    HANDOFF_BETWEEN_INTERFACES = 2
    HANDOFF_BETWEEN_MAGS_SAME_INTERFACE = 3
    HANDOFF_STATE_UNKNOWN = 4
    HANDOFF_STATE_NOT_CHANGED = 5  # re-registration


class AccessTechnologyType(IntEnum):
    """Access Technology Type option values (RFC 5213 §8.5; 6-13 IANA, 3GPP/3GPP2)."""

    RESERVED = 0
    VIRTUAL = 1
    PPP = 2
    IEEE_802_3 = 3
    IEEE_802_11 = 4
    IEEE_802_16E = 5
    GERAN_3GPP = 6
    UTRAN_3GPP = 7
    EUTRAN_3GPP = 8
    EHRPD_3GPP2 = 9
    HRPD_3GPP2 = 10
    ONE_X_RTT_3GPP2 = 11
    UMB_3GPP2 = 12
    NB_IOT_3GPP = 13


class BindingRevocationType(IntEnum):
    """B.R. Type of the Binding Revocation message (RFC 5846 §5)."""

    INDICATION = 1
    ACKNOWLEDGEMENT = 2


class RevocationTrigger(IntEnum):
    """Revocation Trigger of a Binding Revocation Indication (RFC 5846 §5.1)."""

    UNSPECIFIED = 0
    ADMINISTRATIVE_REASON = 1
    INTER_MAG_HANDOVER_SAME_ACCESS_TYPE = 2
    INTER_MAG_HANDOVER_DIFFERENT_ACCESS_TYPE = 3
    INTER_MAG_HANDOVER_UNKNOWN = 4
    USER_INITIATED_SESSION_TERMINATION = 5
    ACCESS_NETWORK_SESSION_TERMINATION = 6
    POSSIBLE_OUT_OF_SYNC_BCE_STATE = 7
    PER_PEER_POLICY = 128
    REVOKING_MOBILITY_NODE_LOCAL_POLICY = 129


class BindingRevocationStatus(IntEnum):
    """Status of a Binding Revocation Acknowledgement (RFC 5846 §5.2)."""

    SUCCESS = 0
    PARTIAL_SUCCESS = 1
    BINDING_DOES_NOT_EXIST = 128
    IPV4_HOME_ADDRESS_OPTION_REQUIRED = 129
    GLOBAL_REVOCATION_NOT_AUTHORIZED = 130
    REVOKED_MOBILE_NODES_IDENTITY_REQUIRED = 131
    REVOCATION_FAILED_MN_IS_ATTACHED = 132
    REVOCATION_TRIGGER_NOT_SUPPORTED = 133
    REVOCATION_FUNCTION_NOT_SUPPORTED = 134
    PROXY_BINDING_REVOCATION_NOT_SUPPORTED = 135


class UpdateNotificationReason(IntEnum):
    """Notification Reason of an Update Notification (RFC 7077 §4.1; IANA)."""

    FORCE_REREGISTRATION = 1
    UPDATE_SESSION_PARAMETERS = 2
    VENDOR_SPECIFIC_REASON = 3
    ANI_PARAMS_REQUESTED = 4


class UpdateNotificationAckStatus(IntEnum):
    """Status of an Update Notification Acknowledgement (RFC 7077 §4.2; IANA)."""

    SUCCESS = 0
    FAILED_TO_UPDATE_SESSION_PARAMETERS = 128
    MISSING_VENDOR_SPECIFIC_OPTION = 129
