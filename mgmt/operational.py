"""The operational state tree: the runtime's snapshot as `/dmm-nf:dmm-nf` config-false data,
and its alarms as `/ietf-alarms:alarms` (mgmt/alarm_state.py).

A read (`<get>`, `<get-data>` on operational) asks the runtime for one snapshot
(nf/snapshot.py) holding only what its filter can select: the filter's plan names the
containers it reaches — each maps to the snapshot sections it is built from (`CONTAINERS`)
— and, for the binding cache, the binding update list and the peers, the key values it
requires, which go straight to the runtime's indexes. The snapshot is taken on the
runtime's loop in one `Runtime.call`; mapping it to JSON-shaped data and parsing that into
a libyang tree happens here, in the NETCONF session's thread, off the signalling loop. The
binding cache, which can hold a million entries, comes as a tuple per binding; when the
server allows it, its entries are printed straight to XML text and spliced into the reply
(`mgmt.binding_xml`, `mgmt.netconf.splice`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any, Callable, Iterable, Optional

import libyang

from mgmt import alarm_state
from mgmt.binding_xml import BindingPrinter
from mgmt.history import EVENTS_PATH, HistoryService, placeholder_sequence, xml_pieces
from mgmt.netconf.splice import ReadRequest, Splice, State, new_token
from mgmt.yang_values import date_and_time, link_layer_bytes, link_layer_text
from nf.liveness.bfd import Diagnostic
from nf.liveness.forwarding import mismatch_data
from nf.runtime import Runtime
from nf.snapshot import EntryKey, Snapshot, SnapshotRequest

TOP = "/dmm-nf:dmm-nf"
BINDINGS = f"{TOP}/binding-cache/binding"


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


def _list(name: str, entries: list) -> dict[str, Any]:
    """A container holding list `name`, or nothing when the list is empty."""
    return {name: entries} if entries else {}


def _text(value: Any) -> Optional[str]:
    return str(value) if value is not None else None


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


@dataclass(frozen=True)
class Container:
    """A top-level container of the state tree: the snapshot sections it is built from, the
    list whose keys a filter may name (and the snapshot section they select in), and its
    mapper from the snapshot to JSON-shaped data."""

    sections: tuple[str, ...]
    build: Callable[["OperationalState", Snapshot], dict[str, Any]]
    keyed_list: Optional[str] = None  # the list under the container, e.g. "peer"
    keyed_section: Optional[str] = None


class OperationalState:
    """Builds state trees for the NETCONF server's `state_provider` hook."""

    def __init__(self, ctx: libyang.Context, runtime: Runtime, extra: Optional[callable] = None) -> None:
        self.ctx = ctx
        self.runtime = runtime
        self.enums = EnumNames(ctx)
        self.extra = extra  # callable(plan) -> dict merged into the top container (management data)
        self.history = HistoryService(ctx, runtime.events, runtime.settings.node.roles)

    # ----- entry point (NETCONF thread) -----------------------------------------------
    def build(self, request: ReadRequest) -> Optional[State]:
        plan = request.plan
        own, alarms = plan.selects(TOP), plan.selects(alarm_state.TOP)
        if not own and not alarms:
            return None
        wanted = [name for name in CONTAINERS if plan.selects(f"{TOP}/{name}")] if own else []
        wanted_request = snapshot_request(plan, wanted)
        if alarms:  # both modules' state from the same instant: one snapshot
            wanted_request = SnapshotRequest(wanted_request.sections | {"alarms"}, wanted_request.keys)
        snapshot = self.runtime.snapshot(wanted_request)
        data = {name: CONTAINERS[name].build(self, snapshot) for name in wanted if name != "binding-cache"}
        if self.extra is not None and own:
            data.update(self.extra(plan))
        splices = []
        cache = snapshot.binding_cache
        if cache is not None and cache.rows:
            printer = BindingPrinter(cache.lma_address, cache.now_monotonic,
                                     lambda leaf, number: self.enums.name(f"{BINDINGS}/{leaf}", number),
                                     cache.refresh_advance)
            if request.printable(BINDINGS):
                token = new_token()
                data["binding-cache"] = {"binding": [{"mn-identifier": token, "link-layer-id": ""}]}
                splices.append(Splice(token, "binding", lambda: printer.xml_pieces(cache.rows)))
            else:
                data["binding-cache"] = {"binding": [printer.json(row) for row in cache.rows]}
        events = data.get("event-history", {}).get("event")
        if events and request.printable(EVENTS_PATH):  # printed as text and spliced, as the bindings are
            token = placeholder_sequence()
            data["event-history"]["event"] = [{"sequence": token}]
            splices.append(Splice(token, "event", lambda: xml_pieces(events)))
        document = {key: value for key, value in (
            ("dmm-nf:dmm-nf", _compact(data)),
            (f"{alarm_state.MODULE}:alarms", alarm_state.build(snapshot.alarms, plan) if alarms else None)) if value}
        if not document:
            return None
        # UTF-8 as it is: libyang's JSON parser does not join \u surrogate pairs
        text = json.dumps(document, ensure_ascii=False)
        return State(self.ctx.parse_data_mem(text, "json", parse_only=True, strict=True), splices)

    # ----- mappers (snapshot -> YANG JSON) ----------------------------------------------
    def _node(self, snap: Snapshot) -> dict[str, Any]:
        node = snap.node
        return {
            "restart-counter": node.restart_counter,
            "start-time": date_and_time(node.start_wall),
            "uptime": str(int(node.uptime)),
            "software-version": node.software_version,
            "active-role": [f"dmm-nf-types:{r}" for r in node.roles],
        }

    def _mag(self, snap: Snapshot) -> dict[str, Any]:
        return {"active-lma-address": str(snap.mag.active_lma_address)} if snap.mag is not None else {}

    def _binding_update_list(self, snap: Snapshot) -> dict[str, Any]:
        base = f"{TOP}/binding-update-list/entry"
        entries = []
        for e in snap.binding_update_list or ():
            entries.append(_compact({
                "mn-identifier": e.mn_identifier,
                "link-layer-id": link_layer_text(e.link_layer_id),
                "interface": e.interface,
                "lma-address": str(e.lma_address),
                "proxy-coa": str(e.proxy_coa),
                "home-network-prefix": [str(p) for p in e.home_network_prefixes],
                "mag-link-local-address": _text(e.mag_link_local_address),
                "access-technology-type": self.enums.name(f"{base}/access-technology-type", e.access_technology_type),
                "handoff-indicator": self.enums.name(f"{base}/handoff-indicator", e.handoff_indicator),
                "sequence-number": e.sequence_number,
                "lifetime-requested": e.lifetime_requested,
                "lifetime-granted": e.lifetime_granted,
                "remaining-lifetime": e.remaining_lifetime,
                "time-to-refresh": e.time_to_refresh,
                "time-sent": date_and_time(e.time_sent),
                "accepted": e.accepted,
                "accepted-time": date_and_time(e.accepted_time),
                "last-status": (self.enums.name(f"{base}/last-status", e.last_status)
                                if e.last_status is not None else None),
                "retransmissions": e.retransmissions,
                "state": e.state,
                "tunnel": e.tunnel,
            }))
        return _list("entry", entries)

    def _pools(self, snap: Snapshot) -> dict[str, Any]:
        return _list("pool", [{"name": p.name, "used": str(p.used), "free": str(p.free),
                               "high-water": str(p.high_water)} for p in snap.pools or ()])

    def _tunnels(self, snap: Snapshot) -> dict[str, Any]:
        return _list("tunnel", [_compact({
            "name": t.name,
            "local-address": _text(t.local),
            "remote-address": _text(t.remote),
            "in-packets": _text(t.packets_in),
            "in-octets": _text(t.bytes_in),
            "out-packets": _text(t.packets_out),
            "out-octets": _text(t.bytes_out),
        }) for t in snap.tunnels or ()])

    def _peers(self, snap: Snapshot) -> dict[str, Any]:
        sessions = snap.data_path.bfd_sessions if snap.data_path is not None else {}
        return _list("peer", [self._peer(p, sessions.get(p.address)) for p in snap.peers or ()])

    def _peer(self, p, bfd_session) -> dict[str, Any]:
        peer: dict[str, Any] = {"address": str(p.address), "heartbeats-sent": str(p.heartbeats_sent),
                                "heartbeats-received": str(p.heartbeats_received), "bfd": _bfd(bfd_session),
                                "counters": self._peer_counters(p.messages, p.refusals)}
        if p.liveness is not None:  # watched by the heartbeat monitor (else a counted peer only)
            peer.update({
                "name": p.name,
                "liveness-state": p.liveness,
                "last-heartbeat-sent": date_and_time(p.last_heartbeat_sent),
                "last-heartbeat-received": date_and_time(p.last_heartbeat_received),
                "rtt": p.rtt_us,
                "missed-heartbeats": p.missed_heartbeats,
                "restart-counter": p.restart_counter,
                "restart-count": p.restart_count,
                "last-restart": date_and_time(p.last_restart),
                "last-up": date_and_time(p.last_up),
                "last-down": date_and_time(p.last_down),
                "down-count": p.down_count,
                "heartbeat-supported": p.heartbeat_supported,
            })
        return _compact(peer)

    def _data_path(self, snap: Snapshot) -> dict[str, Any]:
        """The forwarding audit's state (data-path/audit, config false)."""
        state = snap.data_path.audit if snap.data_path is not None else None
        if state is None or state.runs == 0:
            return {}
        report = state.last_report
        return {"audit": _compact({
            "runs": str(state.runs),
            "last-run": date_and_time(state.last_time),
            "last-duration": int((state.last_duration or 0) * 1000),
            "last-checked": report.checked,
            "last-mismatches": len(report.mismatches),
            "repairs": str(state.repairs),
            "last-mismatch": [mismatch_data(m, state.last_mismatch_owners.get(i))
                              for i, m in enumerate(report.mismatches[:AUDIT_STATE_LISTED])],
        })}

    def _data_path_statistics(self, snap: Snapshot) -> dict[str, Any]:
        """statistics/bfd and statistics/path-probe."""
        dp = snap.data_path
        if dp is None:
            return {}
        c, probes = dp.bfd_counters, dp.probe_counters
        return {
            "bfd": {"packets-received": str(c.packets_in), "packets-sent": str(c.packets_out),
                    "send-errors": str(c.send_errors), "receive-errors": str(c.receive_errors),
                    "drop": [{"reason": r, "count": str(n)} for r, n in sorted(c.drops.items())]},
            "path-probe": {"sent": str(probes.get("sent", 0)), "received": str(probes.get("received", 0)),
                           "answered": str(probes.get("answered", 0)),
                           "send-errors": str(probes.get("send-error", 0)),
                           "drop": [{"reason": k.split(":", 1)[1], "count": str(n)}
                                    for k, n in sorted(probes.items()) if k.startswith("drop:")]},
        }

    def _peer_counters(self, messages, refusals) -> dict[str, Any]:
        """peers/peer/counters: messages by type, PBA and BRA by status, BRI by trigger, and
        the messages refused by reason."""
        base = f"{TOP}/peers/peer/counters"
        by_code = []
        for kind, listed, key in (("pba", "pba-by-status", "status"), ("bri", "bri-by-trigger", "trigger"),
                                  ("bra", "bra-by-status", "status")):
            c = messages.get(kind)
            if c is None:
                continue
            rows = [{key: name, "sent": str(c.sent_by_code[code]), "received": str(c.received_by_code[code])}
                    for code in sorted(set(c.sent_by_code) | set(c.received_by_code))
                    if (name := self.enums.name(f"{base}/{listed}/{key}", code)) is not None]
            by_code.append((listed, rows))
        refused = [{"reason": reason, "count": str(n)} for reason, n in sorted(refusals.items())]
        return _compact({"message": _message_types(messages), **dict(by_code), "refused": refused})

    def _statistics(self, snap: Snapshot) -> dict[str, Any]:
        counters, bindings = snap.counters, snap.bindings
        s, lc, mc, transport, hb = (counters.statistics, counters.lma, counters.mag, counters.transport,
                                    counters.heartbeat)
        path = f"{TOP}/statistics"
        trigger_path = f"{path}/revocation/by-trigger/trigger"
        bra_path = f"{path}/revocation/by-bra-status/status"
        cache = bindings.cache if bindings is not None else None
        triggers = set(s.bri_sent_by_trigger) | set(s.bri_received_by_trigger)
        bra = set(s.bra_sent_by_status) | set(s.bra_received_by_status)
        return _compact({
            "discontinuity-time": date_and_time(s.discontinuity_time),
            "current-bindings": sum(cache.values()) if cache is not None else None,
            "peak-bindings": bindings.cache_peak if cache is not None else None,
            "max-bindings": bindings.cache_max if cache is not None else None,
            "binding-utilization": (f"{100 * bindings.cache_utilization:.2f}"
                                    if cache is not None and bindings.cache_utilization is not None else None),
            "capacity-rejections": _text(lc.capacity_rejections if lc else None),
            "pbu-received": str(s.pbu_received),
            "pbu-sent": str(s.pbu_sent),
            "pbu-retransmissions": str(s.pbu_retransmitted),
            "pba-sent": str(s.pba_sent),
            "pba-received": str(s.pba_received),
            "pbu-accepted": _text(lc.pbu_accepted if lc else None),
            "pbu-rejected": _text(lc.pbu_rejected if lc else None),
            "pba-timeouts": _text(mc.pba_timeouts if mc else None),
            "initial-registrations": _text(lc.initial_registrations if lc else None),
            "lifetime-extensions-no-handoff": _text(lc.lifetime_extensions_no_handoff if lc else None),
            "lifetime-extensions-after-handoff": _text(lc.lifetime_extensions_after_handoff if lc else None),
            "deregistrations": _text(lc.deregistrations if lc else None),
            "bindings-expired": _text(lc.bindings_expired if lc else None),
            "handoffs": str(s.handovers),
            "pba-sent-by-status": _by_code(s.pba_sent_by_status, self.enums, f"{path}/pba-sent-by-status/status"),
            "pba-received-by-status": _by_code(s.pba_received_by_status, self.enums,
                                               f"{path}/pba-received-by-status/status"),
            "revocation": _compact({
                "bri-sent": str(s.bri_sent_by_trigger.total()),
                "bri-received": str(s.bri_received_by_trigger.total()),
                "bra-sent": str(s.bra_sent_by_status.total()),
                "bra-received": str(s.bra_received_by_status.total()),
                "bri-timeouts": _text(lc.bri_timeouts if lc else None),
                "by-trigger": [{"trigger": self.enums.name(trigger_path, t), "sent": str(s.bri_sent_by_trigger[t]),
                                "received": str(s.bri_received_by_trigger[t])}
                               for t in sorted(triggers) if self.enums.name(trigger_path, t)],
                "by-bra-status": [{"status": self.enums.name(bra_path, c), "sent": str(s.bra_sent_by_status[c]),
                                   "received": str(s.bra_received_by_status[c])}
                                  for c in sorted(bra) if self.enums.name(bra_path, c)],
            }),
            "heartbeat": _compact({
                "requests-sent": str(s.messages["heartbeat-request"].sent),
                "requests-received": str(s.messages["heartbeat-request"].received),
                "responses-sent": str(s.messages["heartbeat-response"].sent),
                "responses-received": str(s.messages["heartbeat-response"].received),
                "timeouts": str(s.heartbeat_timeouts.total()),
                "paths-down": _text(hb.paths_down if hb else None),
                "peer-restarts": _text(hb.peer_restarts if hb else None),
            }),
            "messages": _compact({
                "received": _text(transport.datagrams_in if transport else None),
                "sent": _text(transport.datagrams_out if transport else None),
                "checksum-errors": str(s.drops_by_reason["bad-checksum"]),
                "binding-errors-sent": str(s.binding_errors_sent),
                "message": _message_types(s.messages),
                "send-failure": [{"reason": r, "count": str(n)} for r, n in sorted(s.send_failures_by_reason.items())],
            }),
            "drops": [{"reason": r, "count": str(n)} for r, n in sorted(s.drops_by_reason.items())],
        })

    def _event_history(self, snap: Snapshot) -> dict[str, Any]:
        return self.history.state(snap.events) if snap.events is not None else {}


# The state tree's top-level containers, in the order they are built. Adding one: a row here
# and its mapper above; it reads the snapshot sections it names.
CONTAINERS: dict[str, Container] = {
    "node": Container(("node",), OperationalState._node),
    "mag": Container(("mag",), OperationalState._mag),
    "binding-cache": Container(("binding_cache",), lambda state, snap: {}, "binding", "binding_cache"),
    "binding-update-list": Container(("binding_update_list",), OperationalState._binding_update_list,
                                     "entry", "binding_update_list"),
    "prefix-pools": Container(("pools",), OperationalState._pools),
    "tunnels": Container(("tunnels",), OperationalState._tunnels),
    "peers": Container(("peers", "data_path"), OperationalState._peers, "peer", "peers"),
    "data-path": Container(("data_path",), OperationalState._data_path),
    "statistics": Container(("counters", "bindings", "data_path"),
                            lambda state, snap: {**state._statistics(snap), **state._data_path_statistics(snap)}),
    "event-history": Container(("events",), OperationalState._event_history, "event", "events"),
}


def snapshot_request(plan, containers: Iterable[str]) -> SnapshotRequest:
    """The snapshot a read of `containers` needs, restricted to the keys the plan requires."""
    sections: set[str] = set()
    keys: dict[str, tuple] = {}
    for name in containers:
        container = CONTAINERS[name]
        sections.update(container.sections)
        if container.keyed_list is not None:
            selected = _keys(container.keyed_section, plan.keys(f"{TOP}/{name}/{container.keyed_list}"))
            if selected is not None:
                keys[container.keyed_section] = selected
    return SnapshotRequest(frozenset(sections), keys)


def _keys(section: str, plan_keys: Optional[list[dict[str, str]]]) -> Optional[tuple]:
    """A filter's key values as the snapshot section's keys; None when every entry may match.
    A value no entry can have (not hexadecimal, not an address) selects nothing."""
    if plan_keys is None:
        return None
    found: list = []
    for key in plan_keys:
        if section == "events":
            if "sequence" not in key:
                return None
            if key["sequence"].isdigit():
                found.append(int(key["sequence"]))
            continue
        if section == "peers":
            if "address" not in key:
                return None
            try:
                found.append(IPv6Address(key["address"]))
            except ValueError:
                pass
            continue
        mn = key.get("mn-identifier")
        if mn is None:
            return None
        if "link-layer-id" not in key:
            found.append(EntryKey(mn))
            continue
        try:
            found.append(EntryKey.interface(mn, link_layer_bytes(key["link-layer-id"])))
        except ValueError:
            pass
    return tuple(found)


AUDIT_STATE_LISTED = 100  # data-path/audit/last-mismatch entries (the count is complete)


def _bfd(state) -> Optional[dict[str, Any]]:
    """A BFD session (nf.liveness.bfd.BfdSessionState) as peers/peer/bfd/session."""
    if state is None:
        return None
    return {"session": _compact({
        "state": state.local_state.label,
        "remote-state": state.remote_state.label,
        "local-discriminator": state.local_discriminator,
        "remote-discriminator": state.remote_discriminator,
        "local-diagnostic": Diagnostic(state.local_diagnostic).label,
        "remote-diagnostic": Diagnostic(state.remote_diagnostic).label,
        "local-address": str(state.local_address),
        "remote-address": str(state.remote_address),
        "negotiated-transmit-interval": round(state.negotiated_tx_interval * 1e6),
        "detection-time": round(state.detection_time * 1e6),
        "remote-detect-multiplier": state.remote_detect_multiplier,
        "up-count": state.up_count,
        "down-count": state.down_count,
        "last-up": date_and_time(state.last_up),
        "last-down": date_and_time(state.last_down),
        "last-state-change": date_and_time(state.last_state_change),
        "packets-sent": str(state.packets_sent),
        "packets-received": str(state.packets_received),
        "packets-dropped": str(state.packets_dropped),
    })}


def _message_types(messages) -> list[dict[str, str]]:
    """The `message` list of message-type-counters: the types that saw any traffic."""
    return [{"type": kind, "received": str(c.received), "sent": str(c.sent), "dropped": str(c.dropped),
             "malformed": str(c.malformed), "send-failures": str(c.send_failures)}
            for kind, c in messages.items() if c.received or c.sent or c.dropped or c.malformed or c.send_failures]


def _by_code(counter, enums: EnumNames, schema_path: str) -> list[dict[str, str]]:
    rows = []
    for code, n in sorted(counter.items()):
        name = enums.name(schema_path, code)
        if name is not None:
            rows.append({"status": name, "count": str(n)})
    return rows
