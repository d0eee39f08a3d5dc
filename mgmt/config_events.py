"""Configuration commits become events of the history, published on the runtime's loop.

`config-committed` says who changed running (user, session, source host), what changed
(each changed leaf with its operation: create, delete, replace), whether the commit waits for
confirmation, and, when it is the rollback of a confirmed commit, why (cancel, timeout).
`confirmed-commit` follows a confirmed commit's life as RFC 6470 §2.2 names its steps:
start, extend, complete, cancel, timeout. Values are never carried, only paths: a password or
key changed shows as its path, never as its value.

The changes are those the server's diff finds (mgmt.netconf.changes, which sees a leaf set
inside a container of defaults, such as timers/timestamp-validity-window), named leaf by
leaf: a created list entry shows as each leaf it was created with. Operations are RFC 6470's
edit operations: create, delete, replace.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

import libyang

from mgmt.netconf.changes import changed_nodes
from nf.runtime import Runtime

if TYPE_CHECKING:
    from mgmt.netconf.server import Committed
    from mgmt.netconf.session import Session

log = logging.getLogger(__name__)

MAX_CHANGES = 1000  # paths an event lists at most; `change-count` always gives the total
_EVENT_TIMEOUT = 5.0  # seconds to hand an event to the loop; a commit must not hang on it


def changed_leaves(diff: libyang.DNode) -> Iterator[tuple[str, str]]:
    """(path, create | delete | replace) of every changed leaf, leaf-list entry, and container
    or list entry changed with nothing inside it (a presence container, a moved entry)."""
    held = None  # a change is told once the next shows it is not the parent of another
    for change in changed_nodes(diff):
        if held is not None and not change.path.startswith(held.path + "/"):
            yield held.path, _RFC6470.get(held.operation, held.operation)
        held = change
    if held is not None:
        yield held.path, _RFC6470.get(held.operation, held.operation)


_RFC6470 = {"update": "replace"}  # NACM's names -> RFC 6470 §2.2 edit operations


def commit_data(diff: libyang.DNode, session: Optional["Session"], confirmed: bool,
                rollback: Optional[str]) -> dict[str, Any]:
    """The data of one config-committed event."""
    changes = []
    count = 0
    for path, operation in changed_leaves(diff):
        count += 1
        if count <= MAX_CHANGES:
            changes.append({"path": path, "operation": operation})
    data: dict[str, Any] = {**_who(session), "changes": changes, "change-count": count, "confirmed": confirmed}
    if rollback is not None:
        data["rollback"] = rollback
    return data


def _who(session: Optional["Session"]) -> dict[str, Any]:
    if session is None:
        return {}
    who: dict[str, Any] = {"user": session.username, "session-id": session.session_id}
    if session.source_host:
        who["source-host"] = session.source_host
    return who


class ConfigEvents:
    """The NETCONF server's `committed` and `confirmed_commit` hooks."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def committed(self, change: "Committed") -> None:
        data = commit_data(change.diff, change.session, change.confirmed, change.rollback)
        if data["change-count"]:  # a diff of implicit defaults only changes nothing configured
            self._publish("config-committed", data)

    def confirmed_commit(self, event: str, session: Optional["Session"], timeout: Optional[int]) -> None:
        data: dict[str, Any] = {**_who(session), "event": event}
        if timeout is not None:
            data["timeout"] = timeout
        self._publish("confirmed-commit", data)

    def _publish(self, kind: str, data: dict[str, Any]) -> None:
        events = self.runtime.events
        try:
            self.runtime.call(lambda: events.publish(kind, **data), timeout=_EVENT_TIMEOUT)
        except (RuntimeError, TimeoutError) as e:  # the loop is stopping or stuck; the commit stands
            log.error("%s event not recorded: %s", kind, e)
