"""Binding cache entries as `/dmm-nf:dmm-nf/binding-cache/binding` values: JSON for libyang,
or XML text exactly as libyang prints it (mgmt.netconf.splice explains when the server
uses the text).

The runtime's loop only copies each entry's fields into a tuple (`nf.snapshot.BindingRow`,
in the snapshot's binding cache section): a consistent view at one instant, taken in about
a microsecond per binding. Turning the rows into text happens in the NETCONF session's
thread. Values are printed in their canonical form
(libyang's): addresses and prefixes by the C library's inet_ntop, enumerations by name,
times in UTC with milliseconds (see mgmt.yang_values).
"""
from __future__ import annotations

import math
import socket
from typing import Any, Callable, Iterable, Iterator, Optional

from mgmt.yang_values import date_and_time, link_layer_text, xml_escape
from nf.core.timers import refresh_delay
from nf.snapshot import BindingRow

_AF6 = socket.AF_INET6
_inet_ntop = socket.inet_ntop


class BindingPrinter:
    """Prints snapshot rows; `enum_name(leaf, number)` names the model's enumerations."""

    def __init__(self, lma_address: Any, now_monotonic: float, enum_name: Callable[[str, int], Optional[str]],
                 refresh_advance: float = 30.0) -> None:
        self.lma_address = _inet_ntop(_AF6, lma_address.packed)
        self.now = now_monotonic
        self.refresh_advance = refresh_advance  # timers/refresh-advance: when a MAG refreshes
        self._enum_name = enum_name
        self._addresses: dict[Any, str] = {}
        self._enums: dict[tuple[str, int], Optional[str]] = {}

    def _address(self, address: Any) -> str:
        text = self._addresses.get(address)
        if text is None:
            text = self._addresses[address] = _inet_ntop(_AF6, address.packed)
        return text

    def _enum(self, leaf: str, number: int) -> Optional[str]:
        key = (leaf, number)
        if key not in self._enums:
            self._enums[key] = self._enum_name(leaf, number)
        return self._enums[key]

    @staticmethod
    def _prefix(prefix: Any) -> str:
        return f"{_inet_ntop(_AF6, prefix.network_address.packed)}/{prefix.prefixlen}"

    def _remaining(self, row: BindingRow) -> int:
        left = row.expires_at - self.now
        return int(left) if left > 0 else 0

    def _to_refresh(self, row: BindingRow) -> int:
        """Seconds to the expected refresh (negative: late): the last registration was at
        expires_at - lifetime, and its MAG refreshes refresh_delay() after it."""
        due = row.expires_at - row.lifetime + refresh_delay(row.lifetime, self.refresh_advance)
        return max(-0x80000000, min(0x7FFFFFFF, math.floor(due - self.now)))

    def json(self, row: BindingRow) -> dict[str, Any]:
        """The entry as libyang JSON; absent values are left out."""
        entry: dict[str, Any] = {"mn-identifier": row.mn_identifier, "link-layer-id": link_layer_text(row.link_layer_id)}
        if row.home_network_prefixes:
            entry["home-network-prefix"] = [self._prefix(p) for p in row.home_network_prefixes]
        coa = self._address(row.proxy_coa)
        entry.update({"proxy-coa": coa, "lma-address": self.lma_address, "mag": coa})
        for leaf, number in (("access-technology-type", row.access_technology_type),
                             ("handoff-indicator", row.handoff_indicator)):
            name = self._enum(leaf, number)
            if name is not None:
                entry[leaf] = name
        entry.update({
            "proxy-registration": True, "sequence-number": row.sequence, "lifetime": row.lifetime,
            "remaining-lifetime": self._remaining(row), "time-to-refresh": self._to_refresh(row), "state": row.state,
            "created": date_and_time(row.created_wall), "last-refresh": date_and_time(row.last_refresh_wall),
        })
        if row.tunnel_id:
            entry["tunnel"] = row.tunnel_id
        return entry

    def xml(self, rows: Iterable[BindingRow]) -> str:
        """The entries as the `<binding>` elements libyang would print (no pretty-printing,
        namespace inherited from the enclosing `<dmm-nf>`)."""
        return "".join(self.xml_pieces(rows))

    def xml_pieces(self, rows: Iterable[BindingRow], batch: int = 2000) -> Iterator[str]:
        """`xml(rows)` in pieces of `batch` entries, printed as they are asked for."""
        parts: list[str] = []
        add = parts.append
        prefix, enum, address = self._prefix, self._enum, self._address
        for count, row in enumerate(rows, start=1):
            if count % batch == 0:
                yield "".join(parts)
                parts.clear()
            lli = row.link_layer_id
            add(f"<binding><mn-identifier>{xml_escape(row.mn_identifier)}</mn-identifier>"
                + (f"<link-layer-id>{lli.hex(':')}</link-layer-id>" if lli else "<link-layer-id/>"))
            for p in row.home_network_prefixes:
                add(f"<home-network-prefix>{prefix(p)}</home-network-prefix>")
            coa = address(row.proxy_coa)
            add(f"<proxy-coa>{coa}</proxy-coa><lma-address>{self.lma_address}</lma-address><mag>{coa}</mag>")
            att = enum("access-technology-type", row.access_technology_type)
            if att is not None:
                add(f"<access-technology-type>{att}</access-technology-type>")
            hi = enum("handoff-indicator", row.handoff_indicator)
            if hi is not None:
                add(f"<handoff-indicator>{hi}</handoff-indicator>")
            add(f"<proxy-registration>true</proxy-registration><sequence-number>{row.sequence}</sequence-number>"
                f"<lifetime>{row.lifetime}</lifetime><remaining-lifetime>{self._remaining(row)}</remaining-lifetime>"
                f"<time-to-refresh>{self._to_refresh(row)}</time-to-refresh>"
                f"<state>{row.state}</state><created>{date_and_time(row.created_wall)}</created>"
                f"<last-refresh>{date_and_time(row.last_refresh_wall)}</last-refresh>")
            add(f"<tunnel>{xml_escape(row.tunnel_id)}</tunnel></binding>" if row.tunnel_id else "</binding>")
        yield "".join(parts)
