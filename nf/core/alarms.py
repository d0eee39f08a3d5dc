"""The alarm list: faults that stay raised until their cause goes away.

Events say what happened; alarms say what is wrong now. `AlarmTable` listens to the event
bus and keeps one alarm per (type, resource) — the YANG `alarms/alarm` list — raising it on
a fault event and clearing it on the matching recovery, and publishes `alarm-raised` /
`alarm-cleared` so NETCONF subscribers and the history see both transitions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nf.core.events import Event, EventBus


@dataclass(slots=True)
class Alarm:
    alarm_type: str  # identity name of dmm-nf-types:alarm-type
    resource: str  # what the alarm is about: a peer address, a pool name, a tunnel
    severity: str  # dmm-nf-types:severity name
    text: str
    raised_time: float
    last_changed: float
    cleared_time: float | None = None

    @property
    def is_cleared(self) -> bool:
        return self.cleared_time is not None


# event kind -> (alarm type, severity, resource leaf, text). Only faults with a recovery
# event are alarms: one that could never clear would page someone forever. Restarts, data-path
# failures and pool exhaustion are one-off events (notifications, history, metrics alerts).
_RAISED_BY: dict[str, tuple[str, str, str, Callable[[dict], str]]] = {
    "peer-path-down": ("peer-path-down", "major", "peer",
                       lambda d: f"no Heartbeat response from {d.get('peer')} "
                                 f"({d.get('missed-heartbeats', '?')} missed)"),
}
_CLEARED_BY: dict[str, tuple[str, str]] = {
    "peer-path-up": ("peer-path-down", "peer"),
}


class AlarmTable:
    def __init__(self, events: EventBus, clock: Callable[[], float]) -> None:
        self._events = events
        self._clock = clock
        self._alarms: dict[tuple[str, str], Alarm] = {}
        self._unsubscribe = events.subscribe(self._on_event, set(_RAISED_BY) | set(_CLEARED_BY))

    def close(self) -> None:
        self._unsubscribe()

    def alarms(self) -> list[Alarm]:
        return list(self._alarms.values())

    def raised(self) -> list[Alarm]:
        return [a for a in self._alarms.values() if not a.is_cleared]

    def clear(self, alarm_type: str, resource: str) -> bool:
        """Clear an alarm whose cause went away (or that an operator acknowledged)."""
        alarm = self._alarms.get((alarm_type, resource))
        if alarm is None or alarm.is_cleared:
            return False
        now = self._clock()
        alarm.cleared_time = alarm.last_changed = now
        self._events.publish("alarm-cleared", **{"alarm-type": alarm_type, "resource": resource})
        return True

    def _on_event(self, event: Event) -> None:
        raised = _RAISED_BY.get(event.kind)
        if raised is not None:
            alarm_type, severity, resource_leaf, text = raised
            self._raise(alarm_type, str(event.data.get(resource_leaf, "")), severity, text(dict(event.data)))
            return
        cleared = _CLEARED_BY.get(event.kind)
        if cleared is not None:
            alarm_type, resource_leaf = cleared
            self.clear(alarm_type, str(event.data.get(resource_leaf, "")))

    def _raise(self, alarm_type: str, resource: str, severity: str, text: str) -> None:
        now = self._clock()
        alarm = self._alarms.get((alarm_type, resource))
        if alarm is not None and not alarm.is_cleared:
            alarm.text, alarm.last_changed = text, now  # still raised: keep the first raise time
            return
        self._alarms[(alarm_type, resource)] = Alarm(alarm_type, resource, severity, text, now, now)
        self._events.publish("alarm-raised", **{"alarm-type": alarm_type, "resource": resource,
                                                "severity": severity, "text": text})
