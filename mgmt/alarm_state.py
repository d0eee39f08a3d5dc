"""The RFC 8632 alarm state as `/ietf-alarms:alarms` config-false data: the alarm inventory,
the summary and the alarm list with its status and operator state changes.

Mapped from the snapshot's `alarms` section (nf/snapshot.py), taken in the same runtime
call as the rest of a read, in the NETCONF session's thread; only the containers the
filter's plan can select. Status changes are listed newest first, as RFC 8632 §6 orders
them.
"""
from __future__ import annotations

from typing import Any

from mgmt.yang_values import date_and_time
from nf.alarms.alarm_list import Alarm, summarize
from nf.snapshot import AlarmsState

TOP = "/ietf-alarms:alarms"
MODULE = "ietf-alarms"


def _time(ms: int) -> str:
    return date_and_time(ms / 1000)


def build(state: AlarmsState, plan) -> dict[str, Any]:
    """The selected containers of /ietf-alarms:alarms (without /control, which is config)."""
    out: dict[str, Any] = {}
    if plan.selects(f"{TOP}/alarm-inventory") and state.inventory:
        out["alarm-inventory"] = {"alarm-type": [
            {"alarm-type-id": t.type_id, "alarm-type-qualifier": "", "resource": [t.resource],
             "will-clear": t.will_clear, "severity-level": list(t.severities), "description": t.description}
            for t in state.inventory]}
    if plan.selects(f"{TOP}/summary"):
        out["summary"] = {"alarm-summary": [{
            "severity": severity, "total": row.total, "not-cleared": row.not_cleared, "cleared": row.cleared,
            "cleared-not-closed": row.cleared_not_closed, "cleared-closed": row.cleared_closed,
            "not-cleared-closed": row.not_cleared_closed, "not-cleared-not-closed": row.not_cleared_not_closed,
        } for severity, row in summarize(state.alarms).items()]}
    if plan.selects(f"{TOP}/alarm-list"):
        entries = [_alarm(a) for a in state.alarms]
        out["alarm-list"] = {"number-of-alarms": len(entries), "last-changed": _time(state.last_changed),
                             **({"alarm": entries} if entries else {})}
    return out


def _alarm(a: Alarm) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": a.key.resource, "alarm-type-id": a.key.type_id, "alarm-type-qualifier": a.key.qualifier,
        "time-created": _time(a.time_created), "is-cleared": a.is_cleared, "last-raised": _time(a.last_raised),
        "last-changed": _time(a.last_changed), "perceived-severity": a.severity, "alarm-text": a.text,
        "status-change": [{"time": _time(c.time), "perceived-severity": c.severity, "alarm-text": c.text}
                          for c in reversed(a.status_changes)],
    }
    if a.alt_resources:
        entry["alt-resource"] = list(a.alt_resources)
    if a.operator_state_changes:
        entry["operator-state-change"] = [
            {"time": _time(c.time), "operator": c.operator, "state": c.state,
             **({"text": c.text} if c.text is not None else {})}
            for c in reversed(a.operator_state_changes)]
    return entry
