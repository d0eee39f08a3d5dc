"""Runtime events become NETCONF notifications of module dmm-nf.

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
_INT64 = {libyang.Type.INT64, libyang.Type.UINT64, libyang.Type.DEC64}


class EventNotifier:
    def __init__(self, ctx: libyang.Context, publish: Callable[[libyang.DNode], None], capacity: int = 10000) -> None:
        self.ctx = ctx
        self.publish = publish
        self.dropped = 0
        self.invalid = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=capacity)
        self._schemas: dict[str, dict[str, Any] | None] = {}
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
                log.warning("event %s does not fit notification %s:%s: %s", event.kind, MODULE, event.kind, e)
                continue
            if tree is not None:
                self.publish(tree)

    def build(self, event: Event) -> libyang.DNode | None:
        """The notification for `event`, or None when the model has no notification of that name."""
        leaves = self._leaves(event.kind)
        if leaves is None:
            return None
        body = {}
        for name, value in event.data.items():
            snode = leaves.get(name)
            if snode is None or value is None:
                continue
            converted = _convert(snode, value)
            if converted is not None:
                body[name] = converted
        text = json.dumps({f"{MODULE}:{event.kind}": body}, ensure_ascii=False)
        return self.ctx.parse_op_mem("json", text, libyang.DataType.NOTIF_YANG)

    def _leaves(self, kind: str) -> dict[str, Any] | None:
        if kind not in self._schemas:
            try:
                snode = next(self.ctx.find_path(f"/{MODULE}:{kind}"), None)
            except libyang.LibyangError:
                snode = None
            self._schemas[kind] = {c.name(): c for c in snode} if isinstance(snode, libyang.schema.SNotif) else None
        return self._schemas[kind]


def _convert(snode, value: Any) -> Any:
    if isinstance(snode, libyang.schema.SLeafList):
        items = [_convert_one(snode, v) for v in value]
        return [i for i in items if i is not None]
    if isinstance(snode, libyang.schema.SLeaf):
        return _convert_one(snode, value)
    return None  # containers and lists are not part of our notifications' event data


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
