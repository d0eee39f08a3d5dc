"""The mobile node policy store (RFC 5213 sections 5.1 and 6.2).

The LMA and the MAG look a mobile node's policy profile up by its MN-Identifier: which
access gateways may register it, which LMA anchors it, which home network prefixes it gets
(static ones, or one from a named pool), the lifetime to grant and the access technologies
it may use.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network


class PolicyError(Exception):
    """A policy profile is inconsistent."""


@dataclass(frozen=True, slots=True)
class MobileNodePolicy:
    mn_identifier: str
    lma_address: IPv6Address | None = None
    allowed_mags: frozenset[IPv6Address] | None = None  # None: any configured MAG may register it
    static_prefixes: tuple[IPv6Network, ...] = ()
    pool: str | None = None  # pool to allocate from when there are no static prefixes
    lifetime: int | None = None  # seconds; None: the node's configured default
    allowed_access_technologies: frozenset[int] | None = None  # None: any

    def __post_init__(self) -> None:
        if not self.mn_identifier:
            raise PolicyError("a policy needs a non-empty MN-Identifier")
        if self.lifetime is not None and self.lifetime < 0:
            raise PolicyError(f"policy {self.mn_identifier!r}: lifetime must not be negative")
        for prefix in self.static_prefixes:
            if not isinstance(prefix, IPv6Network):
                raise PolicyError(f"policy {self.mn_identifier!r}: {prefix!r} is not an IPv6 prefix")

    def allows_mag(self, mag: IPv6Address) -> bool:
        return self.allowed_mags is None or mag in self.allowed_mags

    def allows_access_technology(self, access_technology_type: int) -> bool:
        return self.allowed_access_technologies is None or access_technology_type in self.allowed_access_technologies


class PolicyStore:
    """Profiles by MN-Identifier, with an index of the static prefixes they hold."""

    __slots__ = ("_policies", "_static_owner")

    def __init__(self) -> None:
        self._policies: dict[str, MobileNodePolicy] = {}
        self._static_owner: dict[IPv6Network, str] = {}

    @classmethod
    def of(cls, policies: Iterable[MobileNodePolicy]) -> PolicyStore:
        store = cls()
        for policy in policies:
            store.put(policy)
        return store

    def put(self, policy: MobileNodePolicy) -> None:
        """Add or replace the profile of `policy.mn_identifier`."""
        for prefix in policy.static_prefixes:
            owner = self._static_owner.get(prefix)
            if owner is not None and owner != policy.mn_identifier:
                raise PolicyError(f"static prefix {prefix} of {policy.mn_identifier!r} already belongs to {owner!r}")
        self.remove(policy.mn_identifier)
        self._policies[policy.mn_identifier] = policy
        for prefix in policy.static_prefixes:
            self._static_owner[prefix] = policy.mn_identifier

    def remove(self, mn_identifier: str) -> MobileNodePolicy | None:
        policy = self._policies.pop(mn_identifier, None)
        if policy is not None:
            for prefix in policy.static_prefixes:
                self._static_owner.pop(prefix, None)
        return policy

    def owner_of_static_prefix(self, prefix: IPv6Network) -> str | None:
        return self._static_owner.get(prefix)

    def lookup(self, mn_identifier: str) -> MobileNodePolicy | None:
        """The profile of a mobile node, or None (RFC 5213: reject with status 129 or 153)."""
        return self._policies.get(mn_identifier)

    def is_mag_authorized(self, mn_identifier: str, mag: IPv6Address) -> bool:
        """May `mag` register this mobile node? False for an unknown node (status 154)."""
        policy = self._policies.get(mn_identifier)
        return policy is not None and policy.allows_mag(mag)

    def __len__(self) -> int:
        return len(self._policies)

    def __iter__(self) -> Iterator[MobileNodePolicy]:
        return iter(list(self._policies.values()))

    def __contains__(self, mn_identifier: object) -> bool:
        return mn_identifier in self._policies
