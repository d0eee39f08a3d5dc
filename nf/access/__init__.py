"""The MAG's access links on Linux: Router Advertisements per mobile node, Router
Solicitations and carrier events (see docs/access-link.md)."""
from .errors import AccessLinkError, BadAdvertisement, InterfaceUnavailable, NdpDecodeError
from .identity import MobileNodeIdentities
from .link import AccessLink
from .link_events import CarrierMonitor
from .ra import AdvertisingTimers

__all__ = ["AccessLink", "AccessLinkError", "AdvertisingTimers", "BadAdvertisement", "CarrierMonitor",
           "InterfaceUnavailable", "MobileNodeIdentities", "NdpDecodeError"]
