"""The event history over NETCONF: the `get-events` operation and the operational
`/dmm-nf/event-history` (its counters and its `event` list), read from the same store.

Both read the runtime's history (nf/history) in the NETCONF session's thread, never on the
runtime's loop: the durable history serves readers from any thread and first writes out
what is pending, so a read sees every event published before it.

`get-events` needs two rights (RFC 8341 §3.4): to run the operation (exec), and to read
/dmm-nf/event-history, since it is a read of that state; a user who may not read it gets
access-denied rather than a silently empty answer. Events carry no secrets (a configuration
commit lists changed paths, never values).
"""
from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any, Optional

import libyang
from lxml import etree

from mgmt.netconf.errors import RpcError, invalid_value, location_path
from mgmt.yang_values import xml_escape
from nf.history import EventPage, EventQuery, HistoryFileError, StoredEvent
from nf.history.query import MN_FIELD, peer_fields

if TYPE_CHECKING:
    from mgmt.netconf.integration import Services
    from mgmt.netconf.session import Session
    from nf.core.events import EventBus
    from nf.snapshot import EventHistoryState

MODULE = "dmm-nf"
NS = "urn:dmm-nf:yang:dmm-nf"
RPC = "get-events"
HISTORY_PATH = f"/{MODULE}:dmm-nf/event-history"
EVENTS_PATH = f"{HISTORY_PATH}/event"
TEXT_LIMIT = 200  # characters of a one-line summary
_RECORD_LEAVES = ("sequence", "time", "kind", "mn-identifier", "peer", "text", "data")


@lru_cache(maxsize=4096)
def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def event_time(seconds: float) -> str:
    """yang:date-and-time in UTC to the microsecond, the precision the history keeps."""
    second, micro = divmod(round(seconds * 1_000_000), 1_000_000)
    return f"{_second_text(second)}.{micro:06d}+00:00"


def parse_time(text: str) -> float:
    """A yang:date-and-time as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class EventRecords:
    """StoredEvent -> the leaves of the model's `event-record` grouping."""

    def __init__(self, ctx: libyang.Context, peer_fields: tuple[str, ...]) -> None:
        self.ctx = ctx
        self.peer_fields = peer_fields
        self._converters: dict[str, dict[str, Callable[[Any], Any]]] = {}

    def record(self, event: StoredEvent) -> dict[str, Any]:
        data = self.readable(event.kind, event.data)
        text = _json(data)
        if _NOT_XML.search(text):  # e.g. a mobile node identifier from the wire: XML cannot carry it
            data = _xml_safe(data)
            text = _json(data)
        peer_field, peer = self.peer_of(data)
        mn = data.get(MN_FIELD)
        return _compact({
            "sequence": str(event.sequence),
            "time": event_time(event.time),
            "kind": _xml_safe(event.kind),
            "mn-identifier": mn if isinstance(mn, str) and mn else None,
            "peer": peer,
            "text": summary(data, shown=(MN_FIELD, peer_field)),
            "data": text,
        })

    def peer_of(self, data: Mapping[str, Any]) -> tuple[Optional[str], Optional[str]]:
        """(field, address) of the other node the event names, the first of the peer fields."""
        for field in self.peer_fields:
            value = data.get(field)
            if value and (address := _address_text(str(value))) is not None:
                return field, address
        return None, None

    def readable(self, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """The data with the names a reader expects where the kind is a notification of the
        model: enumerations by name rather than number, times as date-and-time."""
        converters = self._converters.get(kind)
        if converters is None:
            converters = self._converters[kind] = _converters_of(self.ctx, kind)
        if not converters:
            return dict(data)
        return {name: converters[name](value) if name in converters else value for name, value in data.items()}


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
# characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE and U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(value: Any) -> Any:
    """`value` with every character XML cannot hold, in any string inside it, as U+FFFD."""
    if isinstance(value, str):
        return _NOT_XML.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_xml_safe(k): _xml_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_xml_safe(v) for v in value]
    return value


@lru_cache(maxsize=4096)
def _address_text(text: str) -> Optional[str]:
    """RFC 5952 text of an IPv6 address, None when it is not one (a bounded set: peers)."""
    try:
        return str(IPv6Address(text))
    except ValueError:
        return None


def _converters_of(ctx: libyang.Context, kind: str) -> dict[str, Callable[[Any], Any]]:
    """For the notification named `kind`: its enumeration and date-and-time leaves, each with
    the function turning a stored number into the leaf's text; {} for any other kind."""
    try:
        snode = next(ctx.find_path(f"/{MODULE}:{kind}"), None)
    except libyang.LibyangError:
        snode = None
    if not isinstance(snode, libyang.schema.SNotif):
        return {}
    converters: dict[str, Callable[[Any], Any]] = {}
    for leaf in snode:
        if not isinstance(leaf, libyang.SLeaf):
            continue
        leaf_type = leaf.type()
        if leaf_type.base() == libyang.Type.ENUM:
            names = {e.value(): e.name() for e in leaf_type.enums()}
            converters[leaf.name()] = lambda v, names=names: names.get(v, v) if _number(v) else v
        elif leaf_type.name() == "yang:date-and-time":
            converters[leaf.name()] = lambda v: event_time(v) if _number(v) else v
    return converters


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summary(data: Mapping[str, Any], shown: tuple[str, ...] = ()) -> Optional[str]:
    """`key=value` of the data, those already shown in their own leaves left out, cut at
    TEXT_LIMIT characters."""
    parts = []
    for key, value in data.items():
        if key in shown or value is None or value == "" or value == []:
            continue
        kind = type(value)
        parts.append(f"{key}={value if kind is str or kind is int else _text(value)}")
    text = " ".join(parts)
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT - 1] + "…"
    return text or None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        if set(value) == {"path", "operation"}:  # a configuration change
            return f"{value['path']}({value['operation']})"
        return "{" + ",".join(f"{k}={_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return str(value)


def xml_pieces(records: list[dict[str, Any]], batch: int = 2000) -> Iterator[str]:
    """The list's entries as the XML text libyang prints for them, `batch` entries a piece:
    a <get> of a whole history of 100,000 events is spliced into the reply
    (mgmt/netconf/splice.py) instead of becoming 700,000 libyang nodes."""
    parts: list[str] = []
    for count, record in enumerate(records, start=1):
        if count % batch == 0:
            yield "".join(parts)
            parts.clear()
        parts.append("<event>" + "".join(f"<{leaf}>{xml_escape(record[leaf])}</{leaf}>"
                                          for leaf in _RECORD_LEAVES if leaf in record) + "</event>")
    yield "".join(parts)


def placeholder_sequence() -> str:
    """A sequence number no event reaches (2^63 and up, at random), for the splice's
    placeholder entry: the list's key is a number, so the usual token cannot be."""
    return str(2 ** 63 + secrets.randbelow(2 ** 63))


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class HistoryService:
    """Reads of the runtime's history for the NETCONF server (any session thread)."""

    def __init__(self, ctx: libyang.Context, events: "EventBus", roles) -> None:
        """`events`: the runtime's bus (its history answers from any thread); `roles`: the
        node's, which say which data leaves name a peer."""
        self.ctx = ctx
        self.events = events
        self.peer_fields = peer_fields(roles)
        self.records = EventRecords(ctx, self.peer_fields)
        self._defaults = _input_defaults(ctx)

    # ----- get-events ------------------------------------------------------------------
    def get_events(self, services: "Services", session: "Session", op: etree._Element) -> list[etree._Element]:
        """The `get-events` operation handler (registered with the server, which has checked
        the right to run it)."""
        query = self.query_of(op)
        if not services.reads_whole(session, EVENTS_PATH):
            # no error-path: it would name data the user may not read (RFC 8341 §3.2.5)
            raise RpcError("access-denied", f"{session.username} may not read the event history", "protocol")
        return self.reply(self._query(query))

    def query_of(self, op: etree._Element) -> EventQuery:
        """The operation's input as a query; bad input is invalid-value naming its path."""
        try:
            tree = self.ctx.parse_op_mem("xml", etree.tostring(op).decode(), libyang.DataType.RPC_YANG)
        except libyang.LibyangError as e:
            raise _input_error(str(e)) from None
        try:
            p = tree.print_dict(absolute=False).get(RPC, {})
        finally:
            tree.free()
        since = _time_input(op, "since")
        until = _time_input(op, "until")
        if since is not None and until is not None and since > until:
            raise invalid_value(f"{RPC}: until is before since",
                                path=f"/{MODULE}:{RPC}/until")
        return EventQuery(
            since=since, until=until, kinds=frozenset(p.get("kind", ())),
            mn_identifier=p.get("mn-identifier"),
            peer=IPv6Address(p["peer"]) if "peer" in p else None, peer_fields=self.peer_fields,
            after_sequence=_int(p.get("after-sequence")), before_sequence=_int(p.get("before-sequence")),
            limit=int(p.get("limit", self._defaults["limit"])),
            newest_first=p.get("order", self._defaults["order"]) == "newest-first")

    def reply(self, page: EventPage) -> list[etree._Element]:
        out = []
        for event in page.events:
            element = etree.Element(f"{{{NS}}}event", nsmap={None: NS})
            record = self.records.record(event)
            for leaf in _RECORD_LEAVES:
                if leaf in record:
                    etree.SubElement(element, f"{{{NS}}}{leaf}").text = record[leaf]
            out.append(element)
        more = etree.Element(f"{{{NS}}}more", nsmap={None: NS})
        more.text = "true" if page.more else "false"
        out.append(more)
        return out

    # ----- operational state -----------------------------------------------------------------
    def state(self, history: "EventHistoryState") -> dict[str, Any]:
        """The config-false part of /dmm-nf/event-history as of a snapshot: its counters, and
        the events up to the snapshot's last one (those a filter named, if it named any)."""
        status = history.status
        out: dict[str, Any] = {"events-recorded": str(status.recorded), "events-dropped": str(status.dropped),
                               "write-failures": str(status.write_failures)}
        before = status.last_sequence + 1
        if history.sequences is None:
            queries = [EventQuery(before_sequence=before, limit=None)]
        else:
            queries = [EventQuery(after_sequence=s - 1, before_sequence=min(s + 1, before), limit=1)
                       for s in sorted(set(history.sequences))]
        events = [self.records.record(e) for q in queries for e in self._query(q).events]
        if events:
            out["event"] = events
        return out

    def _query(self, query: EventQuery) -> EventPage:
        try:
            return self.events.query(query)
        except HistoryFileError as e:
            raise RpcError("operation-failed", str(e), path=HISTORY_PATH) from None


def _input_defaults(ctx: libyang.Context) -> dict[str, str]:
    rpc = next(ctx.find_path(f"/{MODULE}:{RPC}"))
    return {leaf.name(): leaf.default() for leaf in rpc.input() if leaf.name() in ("limit", "order")}


def _time_input(op: etree._Element, leaf: str) -> Optional[float]:
    """A time parameter as the client wrote it: libyang has checked its pattern but turns a
    date the calendar lacks (2026-02-30) into another one rather than refusing it."""
    text = op.findtext(f"{{{NS}}}{leaf}")
    if text is None:
        return None
    text = text.strip()
    try:
        return parse_time(_LEAP_SECOND.sub(r"\g<1>59.999999", text))
    except ValueError:
        raise invalid_value(f"{RPC}: {leaf} {text!r} is not a valid date-and-time",
                            path=f"/{MODULE}:{RPC}/{leaf}") from None


# RFC 3339 allows second 60 (a leap second); Unix time has none, so it reads as the end of :59
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60(?:\.\d+)?")


def _int(value: Any) -> Optional[int]:
    return int(value) if value is not None else None


def _input_error(message: str) -> RpcError:
    """libyang's complaint about the input as invalid-value with its path (unknown-element
    for a parameter the operation does not have)."""
    path = location_path(message)
    text = message.removeprefix("failed to parse input data: ")
    text = text.split(": Data location", 1)[0].split(": Schema location", 1)[0].rstrip(".")
    if "not found as a child" in text:
        name = text.split('"')[1] if text.count('"') >= 2 else ""
        return RpcError("unknown-element", f"{RPC}: {text}", path=path,
                        info=[("{urn:ietf:params:xml:ns:netconf:base:1.0}bad-element", name)] if name else ())
    return invalid_value(f"{RPC}: {text}", path=path)
