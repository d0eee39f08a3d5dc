"""The forwarding audit: what the kernel really forwards, compared with what the bindings say.

RFC 7429 REQ6 asks a mobility system to "correlate the flow routing policies and the
observed forwarding actions". The Linux data plane knows, for every binding, the kernel
objects it installed (nf/dataplane/linux.py); `compare` checks them against the routes and
rules read back from the kernel (nf/dataplane/kernel_dump.py) and classifies each
difference:

* missing — an object a binding needs is not in the kernel;
* unowned — the prefix is held by a route dmm-nf did not install (another protocol's);
* wrong-sid — our route encapsulates towards other segments (or decapsulates into another
  table) than the binding's tunnel;
* wrong-next-hop — our route forwards differently: a gateway we never set, another route type;
* wrong-device — our route leaves through another interface;
* wrong-table — our rule looks up another table than the tunnel's;
* stale — an object carrying our marks that no binding needs.

The comparison is pure (kernel state in, mismatches out) so it is tested without a kernel.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from ipaddress import IPv6Address, IPv6Network

from .base import Mismatch, MismatchKind
from .kernel_dump import DumpedRoute, DumpedRule
from .netlink import KernelObject, KernelRoute, KernelRule, describe


def route_key(table: int, prefix: IPv6Network) -> tuple[int, bytes, int]:
    return table, prefix.network_address.packed, prefix.prefixlen


def compare(expected: Iterable[KernelObject], routes: Iterable[DumpedRoute], rules: Iterable[DumpedRule], *,
            device_index: Callable[[str], int | None], device_name: Callable[[int], str],
            links: Mapping[str, bool] | None = None, stale: bool = True) -> list[Mismatch]:
    """Differences between the objects the bindings need (`expected`) and the kernel's
    routes and rules of our marks; `stale` also reports marked objects nobody needs."""
    kernel_routes: dict[tuple[int, bytes, int], DumpedRoute] = {}
    for route in routes:
        kernel_routes.setdefault((route.table, route.dst, route.dst_len), route)
    kernel_rules = {(r.source, r.destination, r.iif, r.table): r for r in rules}
    rule_tables: dict[tuple, set[int]] = {}
    for source, destination, iif, table in kernel_rules:
        rule_tables.setdefault((source, destination, iif), set()).add(table)
    mismatches: list[Mismatch] = []
    wanted_routes: set[tuple[int, bytes, int]] = set()
    wanted_rules: set[tuple] = set()
    for obj in expected:
        if isinstance(obj, KernelRoute):
            key = route_key(obj.table, obj.prefix)
            wanted_routes.add(key)
            held = kernel_routes.get(key)
            mismatch = (Mismatch(MismatchKind.MISSING, describe(obj), describe(obj), "", obj.prefix) if held is None
                        else _route_difference(obj, held, device_index, device_name))
        elif isinstance(obj, KernelRule):
            key = (obj.source, obj.destination, obj.iif, obj.table)
            wanted_rules.add(key)
            mismatch = None
            if key not in kernel_rules:
                others = rule_tables.get((obj.source, obj.destination, obj.iif), set()) - {obj.table}
                mismatch = (Mismatch(MismatchKind.WRONG_TABLE, describe(obj), describe(obj),
                                     f"lookup {', '.join(str(t) for t in sorted(others))}", obj.source) if others
                            else Mismatch(MismatchKind.MISSING, describe(obj), describe(obj), "", obj.source))
        else:  # an ip6ip6 tunnel link
            mismatch = None
            if links is not None and not links.get(obj.name, False):
                mismatch = Mismatch(MismatchKind.MISSING, describe(obj), describe(obj), "")
        if mismatch is not None:
            mismatches.append(replace(mismatch, object_key=obj.key))
    if stale:
        for key, route in kernel_routes.items():
            if key not in wanted_routes:
                text = dumped_text(route, device_name)
                mismatches.append(Mismatch(MismatchKind.STALE, text, "", text, route.prefix,
                                           object_key=("route", route.table, route.prefix)))
        for key, rule in kernel_rules.items():
            if key not in wanted_rules:
                stale_rule = KernelRule(rule.source, rule.iif, rule.table, rule.destination)
                text = describe(stale_rule)
                mismatches.append(Mismatch(MismatchKind.STALE, text, "", text, rule.source,
                                           object_key=stale_rule.key))
    return mismatches


def _route_difference(obj: KernelRoute, held: DumpedRoute, device_index, device_name) -> Mismatch | None:
    actual = dumped_text(held, device_name)
    expected = describe(obj)
    if held.type != obj.type or held.gateway is not None:
        kind = MismatchKind.WRONG_NEXT_HOP
    elif held.segments != (obj.segment.packed if obj.segment is not None else None):
        kind = MismatchKind.WRONG_SID
    elif held.decap_table != obj.decap_table:
        kind = MismatchKind.WRONG_SID
    elif held.other_encap is not None:
        kind = MismatchKind.WRONG_NEXT_HOP
    elif obj.type != "unreachable" and held.oif != device_index(obj.device):
        kind = MismatchKind.WRONG_DEVICE
    else:
        return None
    return Mismatch(kind, expected, expected, actual, obj.prefix)


def dumped_text(route: DumpedRoute, device_name: Callable[[int], str]) -> str:
    """A dumped route in `ip -6 route` words."""
    words = [route.type] if route.type != "unicast" else []
    words.append(str(route.prefix))
    if route.segments:
        words.append("encap seg6 mode encap segs " + ",".join(str(s) for s in route.segment_list))
    elif route.decap_table is not None:
        words.append(f"seg6local End.DT6 table {route.decap_table}")
    elif route.other_encap is not None:
        words.append(f"encap type {route.other_encap}")
    if route.gateway is not None:
        words.append(f"via {IPv6Address(route.gateway)}")
    if route.oif is not None and route.type != "unreachable":
        words.append(f"dev {device_name(route.oif)}")
    words.append(f"table {route.table}")
    return "route " + " ".join(words)


