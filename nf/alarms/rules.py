"""From events to alarms: the table saying which event kind raises or clears which alarm.

`RULES` maps an event kind (docs: plan/EVENTS-CONTRACT and docs/alarms.md) to its effects
on the alarm list. A raise names the alarm's resource from the event's data, its severity
and its text (what happened and what to do); a clear names the resources whose alarm of
that type the event ends. `AlarmRules` subscribes to exactly these kinds.

Registration events (binding-created, binding-updated) arrive thousands of times a second;
their clears cost one counter look-up while no alarm of their types is raised.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from nf.alarms.alarm_list import AlarmKey, AlarmList
from nf.alarms.inventory import (
    DATA_PATH_DOWN, DATAPLANE_RESOURCE, FORWARDING_MISMATCH, PEER_RESTARTED, PREFIX_POOL_EXHAUSTED,
    PREFIX_POOL_NEARLY_EXHAUSTED, REGISTRATION_FAILED, REVOCATION_FAILED, SIGNALLING_PATH_DOWN, AlarmType,
    peer_resource, pool_resource, tunnel_resource,
)
from nf.core.events import Event, EventBus
from nf.wire import RevocationTrigger

log = logging.getLogger(__name__)
Data = Mapping[str, Any]


@dataclass(frozen=True)
class Raise:
    alarm: AlarmType
    resource: Callable[[Data], str | None]
    text: Callable[[Data], str]
    severity: Callable[[Data], str] | None = None  # None: the type's only severity
    alt_resources: Callable[[Data], tuple[str, ...]] = lambda d: ()
    when: Callable[[Data], bool] = lambda d: True

    def apply(self, alarms: AlarmList, data: Data) -> None:
        resource = self.resource(data)
        if resource is None or not self.when(data):
            return
        severity = self.severity(data) if self.severity is not None else self.alarm.severities[-1]
        alarms.raise_alarm(AlarmKey(resource, self.alarm.type_id), severity, self.text(data),
                           self.alt_resources(data))


@dataclass(frozen=True)
class Clear:
    alarm: AlarmType
    resources: Callable[[Data], tuple[str | None, ...]]
    text: Callable[[Data], str]
    when: Callable[[Data], bool] = lambda d: True

    def apply(self, alarms: AlarmList, data: Data) -> None:
        if not alarms.not_cleared(self.alarm.type_id) or not self.when(data):
            return
        for resource in self.resources(data):
            if resource is not None:
                alarms.clear(AlarmKey(resource, self.alarm.type_id), self.text(data))


# ----- reading event data -----------------------------------------------------------------
def _address(value: Any) -> str | None:
    """A peer address in the canonical text the instance-identifier key takes."""
    if value is None or value == "":
        return None
    try:
        return str(IPv6Address(str(value)))
    except ValueError:
        return None


def _peer(leaf: str = "peer") -> Callable[[Data], str | None]:
    def resource(data: Data) -> str | None:
        address = _address(data.get(leaf))
        return peer_resource(address) if address else None
    return resource


def _registration_peers(data: Data) -> tuple[str | None, ...]:
    """The peer an accepted registration proves alive: the MAG (proxy-coa) at an LMA, the
    LMA (lma-address) at a MAG. The other address is this node's own, never an alarm's."""
    return _peer("proxy-coa")(data), _peer("lma-address")(data)


def _pool(data: Data) -> str | None:
    name = data.get("pool")
    return pool_resource(str(name)) if name else None


def _who(data: Data) -> str:
    name = data.get("name")
    return f"{data.get('peer')} ({name})" if name else str(data.get("peer"))


def _trigger(value: Any) -> str:
    try:
        return RevocationTrigger(int(value)).name.lower().replace("_", "-")
    except (TypeError, ValueError):
        return str(value)


def _unrepaired(data: Data) -> int:
    return int(data.get("mismatches") or 0) - int(data.get("repaired") or 0)


# ----- the table ----------------------------------------------------------------------------
_FROM_REGISTRATION = "a registration with the peer was accepted again"

RULES: dict[str, tuple[Raise | Clear, ...]] = {
    "peer-path-down": (Raise(
        SIGNALLING_PATH_DOWN, _peer(),
        lambda d: f"peer {_who(d)} left {d.get('missed-heartbeats', 'its')} Heartbeat Requests unanswered "
                  "(RFC 5847): signalling through it fails. Check that it runs and that the path carries "
                  "protocol 135 / UDP 5436; see docs/runbooks/signalling-path-down.md"),),
    "peer-path-up": (Clear(
        SIGNALLING_PATH_DOWN, lambda d: (_peer()(d),),
        lambda d: f"peer {_who(d)} answers Heartbeat Requests again"
                  + (f" after {d['down-duration']} s" if d.get("down-duration") is not None else "")),),
    "data-path-down": (Raise(
        DATA_PATH_DOWN, _peer(),
        lambda d: f"BFD through tunnel {d.get('tunnel', '?')} to {d.get('peer')} went down "
                  f"({d.get('diagnostic', 'no diagnostic')}); {d.get('bindings', 'its')} binding(s) use it. "
                  "Audit the forwarding at both ends ('dmmctl audit') and the core path; "
                  "see docs/runbooks/data-path-down.md",
        severity=lambda d: "major" if d.get("bindings") == 0 else "critical",
        alt_resources=lambda d: (tunnel_resource(str(d["tunnel"])),) if d.get("tunnel") else ()),),
    "data-path-up": (Clear(
        DATA_PATH_DOWN, lambda d: (_peer()(d),),
        lambda d: f"BFD through tunnel {d.get('tunnel', '?')} to {d.get('peer')} is up again"),),
    "peer-restart": (Raise(
        PEER_RESTARTED, _peer(),
        lambda d: f"peer {_who(d)} restarted (Restart Counter {d.get('previous-restart-counter')} -> "
                  f"{d.get('restart-counter')}) and lost its mobility sessions with this node; they must "
                  f"register again (fault policy {d.get('action', 'unknown')}); "
                  "see docs/runbooks/peer-restarted.md"),),
    "registration-failed": (Raise(
        REGISTRATION_FAILED, _peer(),
        lambda d: f"LMA {d.get('peer')} left a Proxy Binding Update for {d.get('mn-identifier', '?')} "
                  f"unanswered after {d.get('retransmissions', '?')} retransmissions; mobile nodes anchored "
                  "there lose service. Check the LMA and the path; see docs/runbooks/registration-failed.md"),),
    "revocation-failed": (Raise(
        REVOCATION_FAILED, _peer(),
        lambda d: f"MAG {d.get('peer')} never acknowledged a Binding Revocation Indication "
                  f"({_trigger(d.get('trigger'))}, {d.get('mn-identifier') or 'all its bindings'}) after "
                  f"{d.get('retransmissions', '?')} retransmissions; the binding was removed here, the MAG "
                  "may still serve it. See docs/runbooks/revocation-failed.md"),),
    "binding-created": (
        Clear(PEER_RESTARTED, _registration_peers, lambda d: _FROM_REGISTRATION),
        Clear(REGISTRATION_FAILED, _registration_peers, lambda d: _FROM_REGISTRATION),
        Clear(REVOCATION_FAILED, _registration_peers, lambda d: _FROM_REGISTRATION),
    ),
    "binding-updated": (
        Clear(PEER_RESTARTED, _registration_peers, lambda d: _FROM_REGISTRATION),
        Clear(REGISTRATION_FAILED, _registration_peers, lambda d: _FROM_REGISTRATION),
        Clear(REVOCATION_FAILED, _registration_peers, lambda d: _FROM_REGISTRATION),
    ),
    # Every audit ends with forwarding-audit-completed, before its forwarding-mismatch (which
    # lists what it found, repaired or not): the counts decide, the list adds nothing here.
    "forwarding-audit-completed": (
        Raise(FORWARDING_MISMATCH, lambda d: DATAPLANE_RESOURCE,
              lambda d: f"the forwarding audit found {d.get('mismatches')} difference(s) between the bindings "
                        f"and the kernel and repaired {d.get('repaired', 0)}: {_unrepaired(d)} remain. Run "
                        "'dmmctl audit' and repair; see docs/runbooks/forwarding-mismatch.md",
              when=lambda d: _unrepaired(d) > 0),
        Clear(FORWARDING_MISMATCH, lambda d: (DATAPLANE_RESOURCE,),
              lambda d: f"the forwarding audit checked {d.get('checked', 'every')} binding(s) and left no "
                        "difference unrepaired",
              when=lambda d: _unrepaired(d) <= 0),
    ),
    "pool-usage-high": (Raise(
        PREFIX_POOL_NEARLY_EXHAUSTED, _pool,
        lambda d: f"prefix pool {d.get('pool')} has {d.get('used')} of {d.get('size')} prefixes in use; new "
                  "mobile nodes are refused once it is empty. Enlarge the pool or add one; "
                  "see docs/runbooks/prefix-pool-nearly-exhausted.md"),),
    "pool-usage-normal": (
        Clear(PREFIX_POOL_NEARLY_EXHAUSTED, lambda d: (_pool(d),),
              lambda d: f"prefix pool {d.get('pool')} is back to {d.get('used')} of {d.get('size')} prefixes in use"),
        Clear(PREFIX_POOL_EXHAUSTED, lambda d: (_pool(d),),
              lambda d: f"prefix pool {d.get('pool')} is back to {d.get('used')} of {d.get('size')} prefixes in use"),
    ),
    "pool-exhausted": (Raise(
        PREFIX_POOL_EXHAUSTED, _pool,
        lambda d: f"prefix pool {d.get('pool')} has none of its {d.get('size')} prefixes left: "
                  f"{d.get('mn-identifier', 'a mobile node')} was refused with PBA status 130. Enlarge the pool "
                  "or add one; see docs/runbooks/prefix-pool-exhausted.md"),),
}


class AlarmRules:
    """Applies `RULES` to the events of the bus."""

    def __init__(self, events: EventBus, alarms: AlarmList) -> None:
        self.alarms = alarms
        self._unsubscribe = events.subscribe(self._on_event, set(RULES))

    def close(self) -> None:
        self._unsubscribe()

    def _on_event(self, event: Event) -> None:
        for effect in RULES[event.kind]:
            effect.apply(self.alarms, event.data)
