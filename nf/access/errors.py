"""Typed errors of the access link: every bad request or packet ends in one of these."""
from __future__ import annotations


class AccessLinkError(ValueError):
    """A request the access link cannot carry out; the message says why."""


class BadAdvertisement(AccessLinkError):
    """A Router Advertisement request that cannot be sent (no prefix, wrong interface,
    lifetimes out of range, a source that is not link-local)."""


class InterfaceUnavailable(AccessLinkError):
    """The access interface does not exist or cannot be set up for advertising."""


class NdpDecodeError(AccessLinkError):
    """A Neighbor Discovery message that fails the RFC 4861 validity checks; `reason` is
    a short stable key for statistics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
