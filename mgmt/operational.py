"""The operational state tree: the runtime's state as `/dmm-nf:dmm-nf` config-false data.

A read (`<get>`, `<get-data>` on operational) builds only what its filter can select: the
filter's plan names the containers it reaches and, for the binding cache and the binding
update list, the key values it requires, which go straight to the runtime's indexes. The
values are collected on the runtime's loop (one `Runtime.call`, a consistent snapshot) as
plain JSON-shaped data; turning that into a libyang tree happens in the NETCONF session's
thread, off the signalling loop. The binding cache, which can hold a million entries, is
only copied on the loop (`binding_xml.snapshot`); when the server allows it, its entries
are printed straight to XML text and spliced into the reply (`mgmt.netconf.splice`).
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterable, Optional

import libyang

from mgmt.binding_xml import BindingPrinter, snapshot
from mgmt.netconf.splice import ReadRequest, Splice, State, new_token
from mgmt.yang_values import date_and_time, link_layer_bytes
from nf.runtime import VERSION, Runtime

TOP = "/dmm-nf:dmm-nf"
BINDINGS = f"{TOP}/binding-cache/binding"


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


class EnumNames:
    """Number -> name of the model's enumerations (PBA status 0 -> 'accepted', ...)."""

    def __init__(self, ctx: libyang.Context) -> None:
        self._ctx = ctx
        self._tables: dict[str, dict[int, str]] = {}

    def name(self, schema_path: str, value: int) -> str | None:
        table = self._tables.get(schema_path)
        if table is None:
            node = next(self._ctx.find_path(schema_path))
            table = {e.value(): e.name() for e in node.type().enums()}
            self._tables[schema_path] = table
        return table.get(value)


class OperationalState:
    """Builds state trees for the NETCONF server's `state_provider` hook."""

    def __init__(self, ctx: libyang.Context, runtime: Runtime, extra: Optional[callable] = None) -> None:
        self.ctx = ctx
        self.runtime = runtime
        self.enums = EnumNames(ctx)
        self.extra = extra  # callable(plan) -> dict merged into the top container (management data)

    # ----- entry point (NETCONF thread) -----------------------------------------------
    def build(self, request: ReadRequest) -> Optional[State]:
        plan = request.plan
        if not plan.selects(TOP):
            return None
        print_bindings = request.printable(BINDINGS)
        data, bindings = self.runtime.call(self.collect, plan)
        if self.extra is not None:
            data.update(self.extra(plan))
        splices = []
        if bindings is not None and bindings[1]:
            printer, rows = bindings
            if print_bindings:
                token = new_token()
                data["binding-cache"] = {"binding": [{"mn-identifier": token, "link-layer-id": ""}]}
                splices.append(Splice(token, "binding", lambda: printer.xml_pieces(rows)))
            else:
                data["binding-cache"] = {"binding": [printer.json(row) for row in rows]}
        data = _compact(data)
        if not data:
            return None
        # UTF-8 as it is: libyang's JSON parser does not join \u surrogate pairs
        text = json.dumps({"dmm-nf:dmm-nf": data}, ensure_ascii=False)
        return State(self.ctx.parse_data_mem(text, "json", parse_only=True, strict=True), splices)

    # ----- collection (runtime loop) ----------------------------------------------------
    def collect(self, plan) -> tuple[dict[str, Any], Optional[tuple[BindingPrinter, list]]]:
        """(every selected section but the binding cache, (printer, binding rows) or None)."""
        out: dict[str, Any] = {}
        bindings = self._binding_cache(plan, f"{TOP}/binding-cache") if plan.selects(f"{TOP}/binding-cache") else None
        sections = {
            "node": self._node,
            "binding-update-list": self._binding_update_list,
            "prefix-pools": self._pools,
            "tunnels": self._tunnels,
            "peers": self._peers,
            "alarms": self._alarms,
            "statistics": self._statistics,
            "event-history": self._event_history,
        }
        for name, build in sections.items():
            path = f"{TOP}/{name}"
            if plan.selects(path):
                value = build(plan, path)
                if value:
                    out[name] = value
        return out, bindings

    def _node(self, plan, path) -> dict[str, Any]:
        rt = self.runtime
        now = time.time()
        return {
            "restart-counter": rt.restart_counter,
            "start-time": date_and_time(rt.start_wall),
            "uptime": str(int(now - rt.start_wall)),
            "software-version": VERSION,
            "active-role": [f"dmm-nf-types:{r}" for r in sorted(rt.roles)],
        }

    # binding cache --------------------------------------------------------------------
    def _binding_cache(self, plan, path) -> Optional[tuple[BindingPrinter, list]]:
        lma = self.runtime.lma
        if lma is None:
            return None
        rows = snapshot(_select(lma.cache, plan.keys(f"{path}/binding")))
        printer = BindingPrinter(self.runtime.settings.node.address, self.runtime.clock.monotonic(),
                                 lambda leaf, number: self.enums.name(f"{BINDINGS}/{leaf}", number))
        return printer, rows

    # binding update list --------------------------------------------------------------
    def _binding_update_list(self, plan, path) -> dict[str, Any]:
        mag = self.runtime.mag
        if mag is None:
            return {}
        keys = plan.keys(f"{path}/entry")
        if keys is None or any("mn-identifier" not in k for k in keys):
            states = mag.entries()
        else:
            states = [e for k in keys for e in mag.entries() if e["mn-identifier"] == k["mn-identifier"]
                      and k.get("link-layer-id", e["link-layer-id"]) == e["link-layer-id"]]
        return {"entry": [self._bul_entry(e) for e in states]} if states else {}

    def _bul_entry(self, e: dict[str, Any]) -> dict[str, Any]:
        base = f"{TOP}/binding-update-list/entry"
        out = dict(e)
        out["access-technology-type"] = self.enums.name(f"{base}/access-technology-type", e["access-technology-type"])
        out["handoff-indicator"] = self.enums.name(f"{base}/handoff-indicator", e["handoff-indicator"])
        if e.get("last-status") is not None:
            out["last-status"] = self.enums.name(f"{base}/last-status", e["last-status"])
        out["time-sent"] = date_and_time(e.get("time-sent"))
        out["accepted-time"] = date_and_time(e.get("accepted-time"))
        return _compact(out)

    # pools, tunnels, peers ------------------------------------------------------------
    def _pools(self, plan, path) -> dict[str, Any]:
        lma = self.runtime.lma
        if lma is None:
            return {}
        pools = lma.pool_usage()
        return {"pool": [{"name": p.name, "used": str(p.used), "free": str(p.free), "high-water": str(p.high_water)}
                         for p in pools]} if pools else {}

    def _tunnels(self, plan, path) -> dict[str, Any]:
        dp = self.runtime.dataplane
        counters = dp.counters()
        tunnels = []
        for name, tunnel in dp.tunnels.items():
            c = counters.get(name)
            tunnels.append(_compact({
                "name": name,
                "local-address": str(tunnel.local) if getattr(tunnel, "local", None) else None,
                "remote-address": str(tunnel.remote) if getattr(tunnel, "remote", None) else None,
                "in-packets": str(c.packets_in) if c else None,
                "in-octets": str(c.bytes_in) if c else None,
                "out-packets": str(c.packets_out) if c else None,
                "out-octets": str(c.bytes_out) if c else None,
            }))
        return {"tunnel": tunnels} if tunnels else {}

    def _peers(self, plan, path) -> dict[str, Any]:
        monitor = self.runtime.liveness
        if monitor is None:
            return {}
        keys = plan.keys(f"{path}/peer")
        if keys is None:
            states = monitor.snapshot()
        else:
            states = [s for k in keys if (s := monitor.peer_state(k["address"])) is not None]
        return {"peer": [_peer_state(s) for s in states]} if states else {}

    # statistics -----------------------------------------------------------------------
    def _statistics(self, plan, path) -> dict[str, Any]:
        s = self.runtime.stats
        status_path = f"{path}/pba-sent-by-status/status"
        trigger_path = f"{path}/revocation/by-trigger/trigger"
        bra_path = f"{path}/revocation/by-bra-status/status"
        lma = self.runtime.lma
        mag = self.runtime.mag
        cache = lma.cache if lma is not None else None
        lc = lma.counters if lma is not None else None
        triggers = set(s.bri_sent_by_trigger) | set(s.bri_received_by_trigger)
        bra = set(s.bra_sent_by_status) | set(s.bra_received_by_status)
        return _compact({
            "discontinuity-time": date_and_time(s.discontinuity_time),
            "current-bindings": len(cache) if cache is not None else None,
            "peak-bindings": cache.peak if cache is not None else None,
            "pbu-received": str(s.pbu_received),
            "pbu-sent": str(s.pbu_sent),
            "pbu-retransmissions": str(s.pbu_retransmitted),
            "pba-sent": str(s.pba_sent),
            "pba-received": str(s.pba_received),
            "pbu-accepted": str(lc.pbu_accepted) if lc else None,
            "pbu-rejected": str(lc.pbu_rejected) if lc else None,
            "pba-timeouts": str(mag.counters.pba_timeouts) if mag is not None else None,
            "initial-registrations": str(lc.initial_registrations) if lc else None,
            "lifetime-extensions-no-handoff": str(lc.lifetime_extensions_no_handoff) if lc else None,
            "lifetime-extensions-after-handoff": str(lc.lifetime_extensions_after_handoff) if lc else None,
            "deregistrations": str(lc.deregistrations) if lc else None,
            "bindings-expired": str(lc.bindings_expired) if lc else None,
            "handoffs": str(s.handovers),
            "pba-sent-by-status": _by_code(s.pba_sent_by_status, self.enums, status_path, "status"),
            "pba-received-by-status": _by_code(s.pba_received_by_status, self.enums,
                                               f"{path}/pba-received-by-status/status", "status"),
            "revocation": _compact({
                "bri-sent": str(s.bri_sent_by_trigger.total()),
                "bri-received": str(s.bri_received_by_trigger.total()),
                "bra-sent": str(s.bra_sent_by_status.total()),
                "bra-received": str(s.bra_received_by_status.total()),
                "bri-timeouts": str(lc.bri_timeouts) if lc else None,
                "by-trigger": [{"trigger": self.enums.name(trigger_path, t), "sent": str(s.bri_sent_by_trigger[t]),
                                "received": str(s.bri_received_by_trigger[t])}
                               for t in sorted(triggers) if self.enums.name(trigger_path, t)],
                "by-bra-status": [{"status": self.enums.name(bra_path, c), "sent": str(s.bra_sent_by_status[c]),
                                   "received": str(s.bra_received_by_status[c])}
                                  for c in sorted(bra) if self.enums.name(bra_path, c)],
            }),
            "heartbeat": {
                "requests-received": str(s.heartbeats_received.total()),
                "responses-sent": str(s.heartbeats_sent.total()),
                "timeouts": str(s.heartbeat_timeouts.total()),
            },
            "messages": self._messages(s),
            "drops": [{"reason": r, "count": str(n)} for r, n in sorted(s.drops_by_reason.items())],
        })

    def _alarms(self, plan, path) -> dict[str, Any]:
        alarms = [_compact({
            "alarm-type": f"dmm-nf-types:{a.alarm_type}",
            "resource": a.resource,
            "severity": a.severity,
            "is-cleared": a.is_cleared,
            "raised-time": date_and_time(a.raised_time),
            "cleared-time": date_and_time(a.cleared_time),
            "last-changed": date_and_time(a.last_changed),
            "text": a.text,
        }) for a in self.runtime.alarms.alarms()]
        return {"alarm": alarms} if alarms else {}

    def _messages(self, s) -> dict[str, Any]:
        transport = self.runtime.transport
        counters = transport.counters if transport is not None else None
        return _compact({
            "received": str(counters.datagrams_in) if counters else None,
            "sent": str(counters.datagrams_out) if counters else None,
            "checksum-errors": str(s.drops_by_reason["bad-checksum"]),
            "binding-errors-sent": str(s.binding_errors_sent),
        })

    def _event_history(self, plan, path) -> dict[str, Any]:
        events = []
        for seq, ev in enumerate(self.runtime.events.history(), start=1):
            data = ev.data
            events.append(_compact({
                "sequence": str(getattr(ev, "sequence", seq)),
                "time": date_and_time(ev.time),
                "kind": ev.kind,
                "mn-identifier": data.get("mn-identifier"),
                "peer": str(data["peer"]) if data.get("peer") else None,
                "text": data.get("reason") and str(data.get("reason")),
            }))
        return {"event": events} if events else {}


def _select(index, keys: Optional[list[dict[str, str]]]) -> Iterable:
    """Entries of a binding cache matching the plan's keys, via its index; all of them (the
    cache itself, which the caller copies at once on the loop) when any entry may match."""
    if keys is None:
        return index
    found = []
    for key in keys:
        mn = key.get("mn-identifier")
        if mn is None:
            return index
        if "link-layer-id" in key:
            entry = index.get(mn, link_layer_bytes(key["link-layer-id"]))
            if entry is not None and entry not in found:
                found.append(entry)
        else:
            by_mn = getattr(index, "by_mn", None)
            candidates = by_mn(mn) if by_mn else [e for e in index if e.mn_identifier == mn]
            found.extend(e for e in candidates if e not in found)
    return found


def _by_code(counter, enums: EnumNames, schema_path: str, key: str) -> list[dict[str, str]]:
    rows = []
    for code, n in sorted(counter.items()):
        name = enums.name(schema_path, code)
        if name is not None:
            rows.append({key: name, "count": str(n)})
    return rows


_PEER_TIMES = ("last-heartbeat-sent", "last-heartbeat-received", "last-restart", "last-up", "last-down")
_PEER_COUNTER64 = ("heartbeats-sent", "heartbeats-received")


def _peer_state(state: dict[str, Any]) -> dict[str, Any]:
    out = dict(state)
    for leaf in _PEER_TIMES:
        out[leaf] = date_and_time(state.get(leaf))
    for leaf in _PEER_COUNTER64:
        out[leaf] = str(state.get(leaf, 0))
    return _compact(out)
