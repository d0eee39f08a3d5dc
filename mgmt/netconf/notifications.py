"""NETCONF event notifications (RFC 5277) and the RFC 6470 base notifications.

The server owns one :class:`NotificationHub`. Anything (the runtime's event bridge, the
server itself) calls ``hub.publish(notif_tree)`` from any thread. A session handling
``<create-subscription>`` calls ``hub.subscribe(...)`` (errors are :class:`RequestError`
for an ``<rpc-error>``), answers ``<ok/>``, and from then on drains
``subscription.get(timeout)`` in its writer thread while it keeps reading RPCs
(:interleave). ``subscription.closed`` turns true after ``notificationComplete``;
``hub.unsubscribe(sub)`` on session end.
"""
from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Optional, Union

import libyang
from lxml import etree

from mgmt.netconf.filters import Filter, RequestError

NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NETCONF_STREAM = "NETCONF"


def now() -> datetime:
    return datetime.now(timezone.utc)


def format_time(when: datetime) -> str:
    """RFC 3339 date-and-time as eventTime carries it."""
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def envelope(body_xml: str, event_time: datetime) -> str:
    """``<notification><eventTime>…</eventTime>body</notification>`` (RFC 5277 §4)."""
    root = etree.Element(f"{{{NOTIFICATION_NS}}}notification", nsmap={None: NOTIFICATION_NS})
    etree.SubElement(root, f"{{{NOTIFICATION_NS}}}eventTime").text = format_time(event_time)
    if body_xml:
        root.append(etree.fromstring(body_xml))
    return etree.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class Event:
    """One published notification: its time, its content as XML, and a tree to filter."""

    time: datetime
    body_xml: str
    module: str
    name: str

    def to_xml(self) -> str:
        return envelope(self.body_xml, self.time)


def _control(name: str, when: datetime) -> Event:
    return Event(when, f'<{name} xmlns="urn:ietf:params:xml:ns:netmod:notification"/>', "nc-notifications", name)


_CLOSED = object()


@dataclass
class Subscription:
    """One session's subscription: a queue of notification XML the session writes out."""

    session_id: int
    stream: str
    flt: Filter
    start: Optional[datetime]
    stop: Optional[datetime]
    user: str = ""
    queue: "queue.Queue[object]" = field(default_factory=queue.Queue)
    closed: bool = False
    id: int = 0
    stop_timer: Optional[threading.Timer] = None

    def get(self, timeout: Optional[float] = None) -> Optional[str]:
        """Next ``<notification>`` XML; None when the timeout passed or the subscription ended."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        return None if item is _CLOSED else item  # type: ignore[return-value]


class NotificationHub:
    """Streams, a bounded replay buffer and the live subscriptions; thread-safe."""

    def __init__(self, ctx: libyang.Context, replay_size: int = 1024, permit=None) -> None:
        """``permit(user, module, name) -> bool`` is the NACM notification check."""
        self.ctx = ctx
        self.replay: deque[Event] = deque(maxlen=replay_size)
        self.created = now()
        self.aged: Optional[datetime] = None  # time of the last notification aged out of the log
        self._subs: dict[int, Subscription] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._permit = permit or (lambda user, module, name: True)
        self.streams = {NETCONF_STREAM: "default NETCONF event stream"}

    # -- publishing
    def publish(self, notif: Union[libyang.DNode, str], event_time: Optional[datetime] = None) -> Event:
        """Publish a libyang notification tree or its XML (parsed against the model;
        invalid XML raises ``libyang.LibyangError``)."""
        if isinstance(notif, str):
            notif = self.ctx.parse_op_mem("xml", notif, libyang.DataType.NOTIF_YANG)
        node = notif
        while node.parent() is not None:
            node = node.parent()
        event = Event(event_time or now(), node.print_mem("xml", with_siblings=False, pretty=False),
                      notif.module().name(), notif.name())
        with self._lock:
            if len(self.replay) == self.replay.maxlen:
                self.aged = self.replay[0].time
            self.replay.append(event)
            subs = list(self._subs.values())
        for sub in subs:
            if sub.start is None or event.time >= sub.start:
                self._deliver(sub, event)
        return event

    def _deliver(self, sub: Subscription, event: Event) -> None:
        if sub.closed:
            return
        if sub.stop is not None and event.time > sub.stop:
            self._complete(sub)
            return
        if not self._permit(sub.user, event.module, event.name):
            return
        if not sub.flt.selects_all():
            tree = self.ctx.parse_op_mem("xml", event.body_xml, libyang.DataType.NOTIF_YANG)
            root = tree
            while root.parent() is not None:
                root = root.parent()
            if sub.flt.apply(root) is None:
                return
        sub.queue.put(event.to_xml())

    def _complete(self, sub: Subscription) -> None:
        """The stop time has passed: notificationComplete, then the subscription ends (the
        session goes on, RFC 5277 §2.3)."""
        with self._lock:
            if sub.closed:
                return
            sub.closed = True
            self._subs.pop(sub.id, None)
        if sub.stop_timer is not None:
            sub.stop_timer.cancel()
        sub.queue.put(_control("notificationComplete", now()).to_xml())
        sub.queue.put(_CLOSED)

    # -- subscribing (RFC 5277 §2.1.1)
    def subscribe(
        self,
        session_id: int,
        stream: Optional[str] = None,
        flt: Optional[Filter] = None,
        start: Optional[datetime] = None,
        stop: Optional[datetime] = None,
        user: str = "",
    ) -> Subscription:
        stream = stream or NETCONF_STREAM
        if stream not in self.streams:
            raise RequestError(f"no event stream named {stream!r}", tag="invalid-value")
        # RFC 5277 §2.1.1, negative response: each with the element it is about
        if stop is not None and start is None:
            raise RequestError("stopTime needs a startTime", tag="missing-element", error_type="protocol",
                               bad_element="startTime")
        if start is not None and start > now():
            raise RequestError("startTime is in the future", tag="bad-element", error_type="protocol",
                               bad_element="startTime")
        if start is not None and stop is not None and stop < start:
            raise RequestError("stopTime is earlier than startTime", tag="bad-element", error_type="protocol",
                               bad_element="stopTime")
        with self._lock:
            if any(s.session_id == session_id for s in self._subs.values()):
                raise RequestError("this session already has a subscription", tag="in-use")
            sub = Subscription(session_id, stream, flt or Filter.none(), start, stop, user, id=next(self._ids))
            replay = [e for e in self.replay if start is not None and e.time >= start]
            self._subs[sub.id] = sub
            # replay under the lock so a concurrent publish cannot overtake it
            for event in replay:
                if stop is not None and event.time > stop:
                    break
                self._deliver(sub, event)
            if start is not None:
                sub.queue.put(_control("replayComplete", now()).to_xml())
        if stop is not None:
            # ends at the stop time even when no notification comes to notice it
            wait = (stop - now()).total_seconds()
            if wait <= 0:
                self._complete(sub)
            else:
                sub.stop_timer = threading.Timer(wait, self._complete, args=(sub,))
                sub.stop_timer.daemon = True
                sub.stop_timer.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.pop(sub.id, None)
            sub.closed = True
        if sub.stop_timer is not None:
            sub.stop_timer.cancel()
        sub.queue.put(_CLOSED)

    def streams_data(self) -> libyang.DNode:
        """``/ietf-subscribed-notifications:streams`` listing every stream with replay."""
        tree = self.ctx.create_data_path("/ietf-subscribed-notifications:streams")
        for name, description in self.streams.items():
            tree.create_path(f"stream[name='{name}']/description", description)
            tree.create_path(f"stream[name='{name}']/replay-support")
            tree.create_path(f"stream[name='{name}']/replay-log-creation-time", format_time(self.created))
            if self.aged is not None:
                tree.create_path(f"stream[name='{name}']/replay-log-aged-time", format_time(self.aged))
        return tree

    def netconf_streams_data(self) -> libyang.DNode:
        """RFC 5277 §3.2.5.1 ``/netconf/streams`` (module nc-notifications): every stream,
        its replay support and the log's creation time, and its aged time once a
        notification has aged out (§3.4)."""
        tree = self.ctx.create_data_path("/nc-notifications:netconf")
        for name, description in self.streams.items():
            entry = f"streams/stream[name='{name}']"
            tree.create_path(f"{entry}/description", description)
            tree.create_path(f"{entry}/replaySupport", "true")
            tree.create_path(f"{entry}/replayLogCreationTime", format_time(self.created))
            if self.aged is not None:
                tree.create_path(f"{entry}/replayLogAgedTime", format_time(self.aged))
        return tree


# ---------------------------------------------------------------- RFC 6470 builders
NN = "/ietf-netconf-notifications:"


def _changed_by(notif: libyang.DNode, username: Optional[str], session_id: Optional[int], source_host: Optional[str]) -> None:
    if username is None:
        notif.create_path("changed-by/server")
        return
    notif.create_path("changed-by/username", username)
    notif.create_path("changed-by/session-id", str(session_id or 0))
    if source_host:
        notif.create_path("changed-by/source-host", source_host)


def netconf_config_change(
    ctx: libyang.Context, username: Optional[str], session_id: Optional[int], source_host: Optional[str] = None,
    datastore: str = "running", edits: Iterable[tuple[str, str]] = (),
) -> libyang.DNode:
    """``edits`` are (target instance-identifier, operation) pairs; username None: the server."""
    notif = ctx.create_data_path(f"{NN}netconf-config-change")
    _changed_by(notif, username, session_id, source_host)
    notif.create_path("datastore", datastore)
    for target, operation in edits:
        edit = notif.create_path("edit")
        edit.create_path("target", target)
        edit.create_path("operation", operation)
    return notif


def netconf_session_start(ctx: libyang.Context, username: str, session_id: int, source_host: Optional[str] = None) -> libyang.DNode:
    notif = ctx.create_data_path(f"{NN}netconf-session-start")
    notif.create_path("username", username)
    notif.create_path("session-id", str(session_id))
    if source_host:
        notif.create_path("source-host", source_host)
    return notif


def netconf_session_end(
    ctx: libyang.Context, username: str, session_id: int, reason: str,
    source_host: Optional[str] = None, killed_by: Optional[int] = None,
) -> libyang.DNode:
    """``reason``: closed, killed, dropped, timeout, bad-hello or other (RFC 6470)."""
    notif = ctx.create_data_path(f"{NN}netconf-session-end")
    notif.create_path("username", username)
    notif.create_path("session-id", str(session_id))
    if source_host:
        notif.create_path("source-host", source_host)
    if killed_by is not None:
        notif.create_path("killed-by", str(killed_by))
    notif.create_path("termination-reason", reason)
    return notif


def netconf_confirmed_commit(
    ctx: libyang.Context, event: str, username: Optional[str] = None, session_id: Optional[int] = None,
    timeout: Optional[int] = None,
) -> libyang.DNode:
    """``event``: start, cancel, timeout, extend or complete; timeout only for start/extend."""
    notif = ctx.create_data_path(f"{NN}netconf-confirmed-commit")
    if event != "timeout" and username is not None:
        notif.create_path("username", username)
        notif.create_path("session-id", str(session_id or 0))
    notif.create_path("confirm-event", event)
    if timeout is not None and event in ("start", "extend"):
        notif.create_path("timeout", str(timeout))
    return notif


def netconf_capability_change(
    ctx: libyang.Context, added: Iterable[str] = (), deleted: Iterable[str] = (), modified: Iterable[str] = (),
    username: Optional[str] = None, session_id: Optional[int] = None,
) -> libyang.DNode:
    notif = ctx.create_data_path(f"{NN}netconf-capability-change")
    _changed_by(notif, username, session_id, None)
    for leaf, uris in (("added-capability", added), ("deleted-capability", deleted), ("modified-capability", modified)):
        for uri in uris:
            notif.create_path(leaf, uri)
    return notif
