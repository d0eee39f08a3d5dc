"""Which mobile node a link-layer address belongs to, for an attach triggered by a Router
Solicitation.

The configured table wins (an operator who knows the node's NAI); otherwise the identifier
is derived as "<mac>@<realm>", the MAC in lower-case hex pairs joined by '-' (the NAI user
part of RFC 7542 allows '-' but not ':'). Without a realm an unknown node gets no identity.
"""
from __future__ import annotations

from collections.abc import Mapping


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
