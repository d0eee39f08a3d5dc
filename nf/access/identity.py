"""Which mobile node a link-layer address belongs to, for an attach triggered by a Router
Solicitation.

The configured table wins (an operator who knows the node's NAI); otherwise the identifier
is derived as "<mac>@<realm>", the MAC in lower-case hex pairs joined by '-' (the NAI user
part of RFC 7542 allows '-' but not ':'). Without a realm an unknown node gets no identity.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping


class MobileNodeIdentities:
    def __init__(self, configured: Mapping[bytes, str] | None = None, realm: str | None = None) -> None:
        self.configured = dict(configured or {})
        self.realm = realm

    def identify(self, link_layer_address: bytes | None) -> str | None:
        if not link_layer_address:
            return None
        known = self.configured.get(link_layer_address)
        if known is not None:
            return known
        if self.realm:
            return f"{link_layer_address.hex('-')}@{self.realm}"
        return None

    @classmethod
    def from_policy_store(cls, mn_identifiers: Iterable[str]) -> MobileNodeIdentities:
        """The table of the mobile nodes a MAG's policy store lists under a derived identifier
        ("<mac>@<realm>"): the MAG attaches a node on a solicitation only when it holds its
        profile (RFC 5213 section 6.9.1.1); other identifiers name no link-layer address."""
        table = {}
        for identifier in mn_identifiers:
            mac = link_layer_address_of(identifier)
            if mac is not None:
                table[mac] = identifier
        return cls(table)


def link_layer_address_of(mn_identifier: str) -> bytes | None:
    """The MAC a derived identifier names ("02-00-00-00-01-01@example.net"), else None."""
    user, at, _realm = mn_identifier.partition("@")
    pairs = user.split("-")
    if not at or len(pairs) != 6 or any(len(p) != 2 for p in pairs):
        return None
    try:
        return bytes.fromhex("".join(pairs))
    except ValueError:
        return None
