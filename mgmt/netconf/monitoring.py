"""NETCONF monitoring state (RFC 6022), ``<get-schema>`` and YANG library data (RFC 8525).

The server owns one :class:`MonitoringState` and tells it what happens::

    state.session_started(sid, username, source_host, transport="netconf-ssh")
    state.rpc_received(sid, ok)          # ok False when the reply is an rpc-error
    state.bad_rpc(sid)                   # unparsable request
    state.notification_sent(sid)
    state.bad_hello(); state.session_ended(sid, dropped=False)

``state.to_data(ctx, capabilities, locks)`` builds ``/ietf-netconf-monitoring:netconf-state``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping, Optional

import libyang

from mgmt.netconf.filters import RequestError

NCM = "/ietf-netconf-monitoring:netconf-state"


def _time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SessionCounters:
    username: str
    source_host: str
    transport: str
    login_time: datetime
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0


@dataclass
class MonitoringState:
    start_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    in_bad_hellos: int = 0
    in_sessions: int = 0
    dropped_sessions: int = 0
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0
    sessions: dict[int, SessionCounters] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def session_started(self, sid: int, username: str, source_host: str, transport: str = "netconf-ssh") -> None:
        with self._lock:
            self.in_sessions += 1
            self.sessions[sid] = SessionCounters(username, source_host, transport, datetime.now(timezone.utc))

    def session_ended(self, sid: int, dropped: bool = False) -> None:
        with self._lock:
            self.sessions.pop(sid, None)
            self.dropped_sessions += int(dropped)

    def bad_hello(self) -> None:
        with self._lock:
            self.in_bad_hellos += 1

    def rpc_received(self, sid: int, ok: bool) -> None:
        """A well-formed RPC was answered; ``ok`` False when the reply was an rpc-error."""
        with self._lock:
            self.in_rpcs += 1
            self.out_rpc_errors += int(not ok)
            if sid in self.sessions:
                self.sessions[sid].in_rpcs += 1
                self.sessions[sid].out_rpc_errors += int(not ok)

    def bad_rpc(self, sid: int) -> None:
        """A request that was not a valid <rpc> (it is answered with an rpc-error too)."""
        with self._lock:
            self.in_bad_rpcs += 1
            self.out_rpc_errors += 1
            if sid in self.sessions:
                self.sessions[sid].in_bad_rpcs += 1
                self.sessions[sid].out_rpc_errors += 1

    def notification_sent(self, sid: int) -> None:
        with self._lock:
            self.out_notifications += 1
            if sid in self.sessions:
                self.sessions[sid].out_notifications += 1

    def to_data(
        self, ctx: libyang.Context, capabilities: list[str],
        locks: Optional[Mapping[str, tuple[int, datetime]]] = None,
    ) -> libyang.DNode:
        """``locks`` maps a datastore name (running, candidate, startup) to the
        (session id, lock time) holding its global lock; unlocked ones are omitted."""
        tree = ctx.create_data_path(NCM)
        for uri in capabilities:
            tree.create_path("capabilities/capability", uri)
        for name in ("running", "candidate", "startup"):
            ds = tree.create_path(f"datastores/datastore[name='{name}']")
            if locks and name in locks:
                sid, when = locks[name]
                ds = tree.find_path(f"{NCM}/datastores/datastore[name='{name}']")
                ds.create_path("locks/global-lock/locked-by-session", str(sid))
                ds.create_path("locks/global-lock/locked-time", _time(when))
        for module in ctx:
            if not module.implemented():
                continue
            rev = _revision(module)
            for fmt in ("yang", "yin"):
                base = f"schemas/schema[identifier='{module.name()}'][version='{rev}'][format='{fmt}']"
                tree.create_path(f"{base}/namespace", libyang.util.c2str(module.cdata.ns))
                tree.create_path(f"{base}/location", "NETCONF")
        with self._lock:
            for sid, s in self.sessions.items():
                base = f"sessions/session[session-id='{sid}']"
                tree.create_path(f"{base}/transport", f"ietf-netconf-monitoring:{s.transport}")
                tree.create_path(f"{base}/username", s.username)
                tree.create_path(f"{base}/source-host", s.source_host)
                tree.create_path(f"{base}/login-time", _time(s.login_time))
                for leaf in ("in_rpcs", "in_bad_rpcs", "out_rpc_errors", "out_notifications"):
                    tree.create_path(f"{base}/{leaf.replace('_', '-')}", str(getattr(s, leaf)))
            tree.create_path("statistics/netconf-start-time", _time(self.start_time))
            for leaf in ("in_bad_hellos", "in_sessions", "dropped_sessions", "in_rpcs", "in_bad_rpcs",
                         "out_rpc_errors", "out_notifications"):
                tree.create_path(f"statistics/{leaf.replace('_', '-')}", str(getattr(self, leaf)))
        return tree


def _revision(module: libyang.Module) -> str:
    return next((str(r.date()) for r in module.revisions()), "")


def get_schema(ctx: libyang.Context, identifier: str, version: Optional[str] = None, fmt: str = "yang") -> str:
    """RFC 6022 §3.1: the module's text; unknown → invalid-value, several matches
    without a version → operation-failed with error-app-tag data-not-unique."""
    fmt = fmt.split(":")[-1] if fmt else "yang"
    if fmt not in ("yang", "yin"):
        raise RequestError(f"schema format {fmt!r} is not supported", tag="invalid-value")
    found = [m for m in ctx if m.name() == identifier and (not version or _revision(m) == version)]
    if not found:
        raise RequestError(f"no schema {identifier!r} version {version!r}", tag="invalid-value")
    if len(found) > 1:
        raise RequestError("more than one schema matches", tag="operation-failed", app_tag="data-not-unique")
    return found[0].print_mem(fmt)


def yang_library(ctx: libyang.Context, content_id: str = "") -> libyang.DNode:
    """RFC 8525 ``/ietf-yang-library:yang-library``: libyang's module set and schema, the
    four NMDA datastores, and the RFC 7895 ``modules-state`` beside it."""
    data = ctx.get_yanglib_data(content_id)
    for name in ("running", "candidate", "startup", "operational"):
        data.create_path(f"datastore[name='ietf-datastores:{name}']/schema", "complete")
    return data
