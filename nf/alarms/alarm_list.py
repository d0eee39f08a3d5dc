"""The alarm list of RFC 8632 (ietf-alarms): alarms as states on resources.

One `Alarm` per (resource, alarm-type-id, alarm-type-qualifier) (RFC 8632 §3.4). The
instrumentation raises, re-raises, changes severity and clears (the resource lifecycle,
§3.5.1); operators acknowledge and close (§3.5.2); purge and compress are administrative
(§3.5.3). Cleared alarms stay in the list until purged. Every resource state change is
kept in the alarm's status-change list, bounded by `max-alarm-status-changes` (§4.1), and
reported as an `alarm-notification` event on the bus as `notify-status-changes` allows;
operator state changes are reported as `operator-action` events. Event data carries the
leaf names of those notifications.

Times are whole milliseconds of wall-clock time. Status changes, and operator state
changes, are keyed by their time in the model, so within one alarm each is at least 1 ms
after the one before (a change in the same millisecond is stamped 1 ms later).
"""
from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nf.core.events import EventBus

# RFC 8632 §6 typedef severity, least severe first; 'cleared' only appears in status changes.
SEVERITIES: tuple[str, ...] = ("indeterminate", "warning", "minor", "major", "critical")
CLEARED = "cleared"
WRITABLE_OPERATOR_STATES: tuple[str, ...] = ("none", "ack", "closed")
# The operator name the node writes when it changes an operator state itself.
SYSTEM_OPERATOR = "dmm-nf"
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


class AlarmListError(ValueError):
    """A request the alarm list cannot carry out; the message says why."""


@dataclass(frozen=True, slots=True)
class AlarmKey:
    resource: str  # an instance-identifier of the node the alarm is about, in JSON form
    type_id: str  # identity derived from ietf-alarms:alarm-type-id, "module:name"
    qualifier: str = ""


@dataclass(frozen=True, slots=True)
class StatusChange:
    time: int  # milliseconds
    severity: str  # a SEVERITIES name or CLEARED
    text: str


@dataclass(frozen=True, slots=True)
class OperatorStateChange:
    time: int  # milliseconds
    operator: str
    state: str
    text: str | None = None


@dataclass(eq=False, slots=True)
class Alarm:
    key: AlarmKey
    time_created: int
    last_raised: int
    last_changed: int
    severity: str
    text: str
    status_changes: deque[StatusChange]  # oldest first
    operator_state_changes: deque[OperatorStateChange]  # oldest first
    alt_resources: tuple[str, ...] = ()
    is_cleared: bool = False

    @property
    def operator_state(self) -> str:
        return self.operator_state_changes[-1].state if self.operator_state_changes else "none"

    @property
    def closed(self) -> bool:
        return self.operator_state == "closed"

    @property
    def needs_attention(self) -> bool:
        """Not cleared and not closed: what `dmm_alarms_active` and `dmmctl alarms` count."""
        return not self.is_cleared and not self.closed

    def detached(self) -> Alarm:
        """A copy that later changes of this alarm do not touch (for a snapshot)."""
        return Alarm(self.key, self.time_created, self.last_raised, self.last_changed, self.severity, self.text,
                     deque(self.status_changes), deque(self.operator_state_changes), self.alt_resources,
                     self.is_cleared)

    def _stamp(self, now: int, changes: deque) -> int:
        return max(now, changes[-1].time + 1) if changes else now


@dataclass(frozen=True, slots=True)
class Control:
    """/al:alarms/control. `max_status_changes` None is 'infinite'."""

    max_status_changes: int | None = 32
    notify_status_changes: str = "all-state-changes"  # | raise-and-clear | severity-level
    notify_severity_level: str | None = None


@dataclass(frozen=True, slots=True)
class PurgeFilter:
    """The filter-input of purge-alarms (RFC 8632 §6); conditions are ANDed."""

    clearance: str = "any"  # any | cleared | not-cleared
    older_than: float | None = None  # seconds since the alarm's last change
    severity: tuple[str, str] | None = None  # ("below" | "is" | "above", severity)
    operator_state: str | None = None
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class SummaryRow:
    total: int = 0
    not_cleared: int = 0
    cleared: int = 0
    cleared_not_closed: int = 0
    cleared_closed: int = 0
    not_cleared_closed: int = 0
    not_cleared_not_closed: int = 0


class AlarmList:
    def __init__(self, events: EventBus, clock: Callable[[], float] = time.time,
                 control: Control | None = None) -> None:
        self._events = events
        self._clock = clock
        self._alarms: dict[AlarmKey, Alarm] = {}
        self._not_cleared: Counter[str] = Counter()
        self.control = control or Control()
        self.last_changed = self._now()  # a manager resynchronises when this moves (RFC 8632 §6)

    # ----- reads ------------------------------------------------------------------------
    def alarms(self) -> list[Alarm]:
        """Every alarm, oldest entry first."""
        return list(self._alarms.values())

    def get(self, key: AlarmKey) -> Alarm | None:
        return self._alarms.get(key)

    def __len__(self) -> int:
        return len(self._alarms)

    def not_cleared(self, type_id: str) -> int:
        """Alarms of this type that are raised now."""
        return self._not_cleared[type_id]

    def summary(self) -> dict[str, SummaryRow]:
        return summarize(self._alarms.values())

    def needing_attention_by_severity(self) -> dict[str, int]:
        return needing_attention_by_severity(self._alarms.values())

    # ----- resource lifecycle (RFC 8632 §3.5.1) -------------------------------------------
    def raise_alarm(self, key: AlarmKey, severity: str, text: str, alt_resources: Iterable[str] = ()) -> bool:
        """Raise (or re-raise) the alarm, or change its severity. An alarm already raised at
        this severity is left as it is, text and all, so that a fault reported again and
        again makes one status change, not one per report. Returns whether it changed."""
        if severity not in _RANK:
            raise AlarmListError(f"unknown severity {severity!r}")
        now = self._now()
        alarm = self._alarms.get(key)
        if alarm is None:
            alarm = Alarm(key, time_created=now, last_raised=now, last_changed=now, severity=severity, text=text,
                          status_changes=deque(maxlen=self._kept()), operator_state_changes=deque(maxlen=self._kept()),
                          alt_resources=tuple(alt_resources))
            self._alarms[key] = alarm
            self._not_cleared[key.type_id] += 1
            self._record(alarm, now, severity, text, previous=None)
            return True
        if not alarm.is_cleared and alarm.severity == severity:
            return False
        previous = CLEARED if alarm.is_cleared else alarm.severity
        at = alarm._stamp(now, alarm.status_changes)
        if alarm.is_cleared:
            alarm.is_cleared = False
            alarm.last_raised = at
            self._not_cleared[key.type_id] += 1
            if alarm.closed:
                # Closed meant "handled"; a new raise needs attention again.
                alarm.operator_state_changes.append(OperatorStateChange(
                    alarm._stamp(at, alarm.operator_state_changes), SYSTEM_OPERATOR, "none",
                    "raised again after it was closed"))
        alarm.severity, alarm.text = severity, text
        alarm.alt_resources = tuple(alt_resources) or alarm.alt_resources
        self._record(alarm, at, severity, text, previous)
        return True

    def clear(self, key: AlarmKey, text: str) -> bool:
        """The cause went away (only the instrumentation clears, RFC 8632 §3.5.1). The
        severity stays the one it had when raised. Returns whether it was raised."""
        alarm = self._alarms.get(key)
        if alarm is None or alarm.is_cleared:
            return False
        at = alarm._stamp(self._now(), alarm.status_changes)
        alarm.is_cleared = True
        alarm.text = text
        self._not_cleared[key.type_id] -= 1
        self._record(alarm, at, CLEARED, text, previous=alarm.severity)
        return True

    def _record(self, alarm: Alarm, at: int, severity: str, text: str, previous: str | None) -> None:
        alarm.status_changes.append(StatusChange(at, severity, text))
        alarm.last_changed = at
        self.last_changed = max(self.last_changed, at)
        if self._notifies(severity, previous):
            key = alarm.key
            data = {"resource": key.resource, "alarm-type-id": key.type_id, "alarm-type-qualifier": key.qualifier,
                    "time": at / 1000, "perceived-severity": severity, "alarm-text": text}
            if alarm.alt_resources:
                data["alt-resource"] = list(alarm.alt_resources)
            self._events.publish("alarm-notification", **data)

    def _notifies(self, severity: str, previous: str | None) -> bool:
        """RFC 8632 §6 notify-status-changes: every change; raise, re-raise and clear only;
        or changes at or above the level, drops below it and clears."""
        mode = self.control.notify_status_changes
        if mode == "all-state-changes" or severity == CLEARED:
            return True
        if mode == "raise-and-clear":
            return previous is None or previous == CLEARED
        level = _RANK.get(self.control.notify_severity_level or "", 0)
        return _RANK[severity] >= level or (previous not in (None, CLEARED) and _RANK[previous] >= level)

    # ----- operator lifecycle (RFC 8632 §3.5.2) -------------------------------------------
    def set_operator_state(self, key: AlarmKey, state: str, operator: str, text: str | None = None) -> Alarm:
        if state not in WRITABLE_OPERATOR_STATES:
            raise AlarmListError(f"operator state must be one of {', '.join(WRITABLE_OPERATOR_STATES)}, not {state!r}")
        alarm = self._alarms.get(key)
        if alarm is None:
            raise AlarmListError(f"no alarm {key.type_id} on {key.resource}")
        at = alarm._stamp(self._now(), alarm.operator_state_changes)
        alarm.operator_state_changes.append(OperatorStateChange(at, operator, state, text))
        alarm.last_changed = max(alarm.last_changed, at)
        self.last_changed = max(self.last_changed, at)
        data = {"resource": key.resource, "alarm-type-id": key.type_id, "alarm-type-qualifier": key.qualifier,
                "time": at / 1000, "operator": operator, "state": state}
        if text is not None:
            data["text"] = text
        self._events.publish("operator-action", **data)
        return alarm

    # ----- administrative lifecycle (RFC 8632 §3.5.3) ---------------------------------------
    def purge(self, criteria: PurgeFilter) -> int:
        """Delete the alarms matching every condition; returns how many. A purged alarm
        comes back, as a new entry, when its resource changes state again."""
        now = self._now()
        doomed = [key for key, alarm in self._alarms.items() if _purge_matches(alarm, criteria, now)]
        for key in doomed:
            alarm = self._alarms.pop(key)
            if not alarm.is_cleared:
                self._not_cleared[key.type_id] -= 1
        if doomed:
            self.last_changed = max(self.last_changed, now)
        return len(doomed)

    def compress(self, selects: Callable[[Alarm], bool] = lambda alarm: True) -> int:
        """Keep only the latest status change of each selected alarm; returns how many
        alarms lost entries."""
        now = self._now()
        compressed = 0
        for alarm in self._alarms.values():
            if len(alarm.status_changes) > 1 and selects(alarm):
                latest = alarm.status_changes[-1]
                alarm.status_changes.clear()
                alarm.status_changes.append(latest)
                alarm.last_changed = max(alarm.last_changed, now)
                compressed += 1
        if compressed:
            self.last_changed = max(self.last_changed, now)
        return compressed

    # ----- control (RFC 8632 §4.1) ----------------------------------------------------------
    def configure(self, control: Control) -> None:
        """Take a committed /al:alarms/control; a smaller max-alarm-status-changes drops the
        oldest entries at once."""
        self.control = control
        kept = self._kept()
        for alarm in self._alarms.values():
            if alarm.status_changes.maxlen != kept:
                alarm.status_changes = deque(alarm.status_changes, maxlen=kept)
                alarm.operator_state_changes = deque(alarm.operator_state_changes, maxlen=kept)

    def _kept(self) -> int | None:
        # status-change has min-elements 1: the latest change is always kept
        limit = self.control.max_status_changes
        return None if limit is None else max(1, limit)

    def _now(self) -> int:
        return int(self._clock() * 1000)


def summarize(alarms: Iterable[Alarm]) -> dict[str, SummaryRow]:
    """The RFC 8632 §4.3 summary: one row per severity, all five always present."""
    counts = {s: Counter() for s in SEVERITIES}
    for alarm in alarms:
        c = counts[alarm.severity]
        cleared = "cleared" if alarm.is_cleared else "not_cleared"
        closed = "closed" if alarm.closed else "not_closed"
        c["total"] += 1
        c[cleared] += 1
        c[f"{cleared}_{closed}"] += 1
    return {s: SummaryRow(**c) for s, c in counts.items()}


def needing_attention_by_severity(alarms: Iterable[Alarm]) -> dict[str, int]:
    """Alarms neither cleared nor closed, per severity (all five present)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for alarm in alarms:
        if alarm.needs_attention:
            counts[alarm.severity] += 1
    return counts


def _purge_matches(alarm: Alarm, f: PurgeFilter, now: int) -> bool:
    if f.clearance == "cleared" and not alarm.is_cleared:
        return False
    if f.clearance == "not-cleared" and alarm.is_cleared:
        return False
    # "older-than: matches the 'last-status-change' leaf", which the module names last-changed
    if f.older_than is not None and alarm.last_changed > now - f.older_than * 1000:
        return False
    if f.severity is not None:
        relation, level = f.severity
        rank, wanted = _RANK[alarm.severity], _RANK[level]
        if not {"below": rank < wanted, "is": rank == wanted, "above": rank > wanted}[relation]:
            return False
    if f.operator_state is not None and alarm.operator_state != f.operator_state:
        return False
    if f.operator is not None:
        last = alarm.operator_state_changes[-1] if alarm.operator_state_changes else None
        if last is None or last.operator != f.operator:
            return False
    return True
