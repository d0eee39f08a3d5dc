"""Runtime events become NETCONF notifications of module dmm-nf, and the alarm list's
events the notifications of ietf-alarms (RFC 8632 alarm-notification, and operator-action,
a notification tied to the alarm entry it is about).

The runtime publishes one event per state change with the notification's leaf names as data
(nf/core/events.py). Building and validating a libyang notification costs far more than the
signalling that caused it, so the event is only queued on the runtime's loop; a worker thread
converts it (enumeration numbers to names, epoch seconds to date-and-time, addresses and
prefixes to text, 64-bit numbers to JSON strings), validates it against the model and hands it
to the NETCONF notification hub. A full queue drops the notification and counts it rather
than slowing signalling down.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any, Callable

import libyang

from mgmt.yang_values import date_and_time
from nf.core.events import Event

log = logging.getLogger(__name__)

MODULE = "dmm-nf"
# Modules whose top-level notifications events become, searched in this order.
MODULES = (MODULE, "ietf-alarms")
# Notifications tied to a list entry (RFC 7950 §7.16.2): event kind -> (list path, its keys).
NESTED = {"operator-action": ("/ietf-alarms:alarms/alarm-list/alarm",
                              ("resource", "alarm-type-id", "alarm-type-qualifier"))}
_INT64 = {libyang.Type.INT64, libyang.Type.UINT64, libyang.Type.DEC64}


class EventNotifier:
    def __init__(self, ctx: libyang.Context, publish: Callable[[libyang.DNode], None], capacity: int = 10000) -> None:
        self.ctx = ctx
        self.publish = publish
        self.dropped = 0
        self.invalid = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=capacity)
        self._schemas: dict[str, tuple[str, dict[str, Any]] | None] = {}
        self._thread = threading.Thread(target=self._run, name="notifications", daemon=True)
        self._thread.start()

    # runtime loop ----------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    # worker thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                tree = self.build(event)
            except libyang.LibyangError as e:
                self.invalid += 1
                log.warning("event %s does not fit its notification: %s", event.kind, e)
                continue
            if tree is not None:
                self.publish(tree)

    def build(self, event: Event) -> libyang.DNode | None:
        """The notification for `event`, or None when the model has no notification of that name."""
        found = self._schema(event.kind)
        if found is None:
            return None
        path, leaves = found
        body = {}
        for name, value in event.data.items():
            snode = leaves.get(name)
            if snode is None or value is None:
                continue
            converted = _convert(snode, value)
            if converted is not None:
                body[name] = converted
        nested = NESTED.get(event.kind)
        if nested is None:
            document = {path.lstrip("/"): body}
        else:  # the notification sits in its list entry, whose keys the event's data carries
            list_path, keys = nested
            entry = {key: str(event.data.get(key, "")) for key in keys}
            entry[event.kind] = {k: v for k, v in body.items() if k not in keys}
            document = _nest(list_path, [entry])
        text = json.dumps(document, ensure_ascii=False)
        return self.ctx.parse_op_mem("json", text, libyang.DataType.NOTIF_YANG)

    def _schema(self, kind: str) -> tuple[str, dict[str, Any]] | None:
        if kind not in self._schemas:
            self._schemas[kind] = notification_schema(self.ctx, kind)
        return self._schemas[kind]


def notification_schema(ctx: libyang.Context, kind: str) -> tuple[str, dict[str, Any]] | None:
    """(schema path, leaves by name) of the notification an event of `kind` becomes, or None
    when the model has none: a top-level notification of MODULES, or one in NESTED."""
    paths = [f"{NESTED[kind][0]}/{kind}"] if kind in NESTED else [f"/{m}:{kind}" for m in MODULES]
    for path in paths:
        try:
            snode = next(ctx.find_path(path), None)
        except libyang.LibyangError:
            continue
        if isinstance(snode, libyang.schema.SNotif):
            return path, {c.name(): c for c in snode}
    return None


def _nest(list_path: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """'/m:a/b/c' and entries of list c -> {"m:a": {"b": {"c": entries}}}."""
    names = list_path.strip("/").split("/")
    document: Any = entries
    for name in reversed(names):
        document = {name: document}
    return document


def _convert(snode, value: Any) -> Any:
    if isinstance(snode, libyang.schema.SLeafList):
        items = [_convert_one(snode, v) for v in value]
        return [i for i in items if i is not None]
    if isinstance(snode, libyang.schema.SLeaf):
        return _convert_one(snode, value)
    if isinstance(snode, libyang.schema.SList) and isinstance(value, (list, tuple)):
        children = {c.name(): c for c in snode}  # a list of entries given as dicts of its leaves
        entries = [{name: _convert(children[name], v) for name, v in entry.items()
                    if name in children and v is not None} for entry in value if isinstance(entry, dict)]
        return [e for e in entries if e] or None
    return None  # containers are not part of our notifications' event data


def _convert_one(snode, value: Any) -> Any:
    leaf_type = snode.type()
    base = leaf_type.base()
    if base == libyang.Type.ENUM and isinstance(value, int):
        names = {e.value(): e.name() for e in leaf_type.enums()}
        return names.get(value)
    if leaf_type.name() == "yang:date-and-time" and isinstance(value, (int, float)):
        return date_and_time(value)
    if base == libyang.Type.IDENT and isinstance(value, str) and ":" not in value:
        return f"dmm-nf-types:{value}"
    if base == libyang.Type.BOOL:
        return bool(value)
    if base in _INT64:
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return str(value)
