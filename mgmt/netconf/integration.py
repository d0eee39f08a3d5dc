"""The optional NETCONF services wired into the server: monitoring (RFC 6022) with
``<get-schema>``, YANG library (RFC 8525), access control (RFC 8341) and event
notifications (RFC 5277 with the RFC 6470 base notifications).

Each is on when the context implements its module, so a context with only product modules
gets a plain RFC 6241 server.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Optional

import libyang
from lxml import etree

from mgmt.netconf import notifications as notif
from mgmt.netconf.changes import changed_nodes, changed_subtrees
from mgmt.netconf.errors import NC_NS, RpcError
from mgmt.netconf.filters import Filter, FilterPlan, RequestError
from mgmt.netconf.monitoring import MonitoringState, get_schema, yang_library
from mgmt.netconf.nacm import DEFAULT_NACM_XML, Nacm

if TYPE_CHECKING:
    from mgmt.netconf.session import Session

log = logging.getLogger(__name__)

NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NACM_PATH = "/ietf-netconf-acm:nacm"
NCM_PATH = "/ietf-netconf-monitoring:netconf-state"
YANG_LIBRARY_PATH = "/ietf-yang-library:yang-library"
MODULES_STATE_PATH = "/ietf-yang-library:modules-state"
STREAMS_PATH = "/ietf-subscribed-notifications:streams"
NETCONF_STREAMS_PATH = "/nc-notifications:netconf"
CAP = "urn:ietf:params:netconf:capability:"
# a data path quoted in a message (libyang's, ours): "/module:node/..."
_PATH_IN_MESSAGE = re.compile(r'"(/[A-Za-z_][\w.\-]*:[^"]*)"')


def _implemented(ctx: libyang.Context, name: str) -> bool:
    try:
        return ctx.get_module(name).implemented()
    except libyang.LibyangError:
        return False


def request_error(err: RequestError) -> RpcError:
    info = [(f"{{{NC_NS}}}{name}", value) for name, value in
            (("bad-attribute", err.bad_attribute), ("bad-element", err.bad_element)) if value]
    return RpcError(err.tag, str(err), err.error_type, path=err.path, app_tag=err.app_tag, info=info)


def _subscription_params(op: etree._Element) -> dict[str, etree._Element]:
    """The parameters of <create-subscription> (RFC 5277 §2.1.1) by name; anything else is
    unknown-element. The filter is taken in the base namespace too, where ncclient and
    other clients put it, as well as in the notification namespace of the RFC's schema."""
    found: dict[str, etree._Element] = {}
    for child in op:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        known = (qname.namespace == notif.NOTIFICATION_NS
                 and qname.localname in ("stream", "filter", "startTime", "stopTime")) or \
                (qname.namespace == NC_NS and qname.localname == "filter")
        if not known or qname.localname in found:
            raise RpcError("unknown-element", f"unexpected parameter {qname.localname} in create-subscription",
                           "protocol", info=[(f"{{{NC_NS}}}bad-element", qname.localname)])
        found[qname.localname] = child
    return found


def _parse_time(elem: Optional[etree._Element]) -> Optional[datetime]:
    if elem is None:
        return None
    try:
        when = datetime.fromisoformat((elem.text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        raise RpcError("bad-element", f"{etree.QName(elem).localname} is not a date-and-time",
                       "protocol", info=[(f"{{{NC_NS}}}bad-element", etree.QName(elem).localname)]) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class Services:
    """Monitoring, NACM and notifications for one server."""

    def __init__(self, ctx: libyang.Context) -> None:
        self.ctx = ctx
        self.monitoring = MonitoringState() if _implemented(ctx, "ietf-netconf-monitoring") else None
        self.yang_library = _implemented(ctx, "ietf-yang-library")
        self.nacm: Optional[Nacm] = None
        if _implemented(ctx, "ietf-netconf-acm"):
            self.nacm = self._nacm_from(None)
        self.base_notifications = _implemented(ctx, "ietf-netconf-notifications")
        self.hub = notif.NotificationHub(ctx, permit=self._may_receive)
        self._writers: dict[int, tuple[notif.Subscription, threading.Thread]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ hello
    def capabilities(self) -> list[str]:
        caps = [CAP + "notification:1.0", CAP + "interleave:1.0"]
        for module in self.ctx:
            # RFC 7950 §5.6.4: only YANG 1.0 modules are listed in the hello
            if module.implemented() and module.cdata.parsed and module.cdata.parsed.version < 2:
                rev = next((str(r.date()) for r in module.revisions()), None)
                uri = f"{libyang.util.c2str(module.cdata.ns)}?module={module.name()}"
                caps.append(uri + (f"&revision={rev}" if rev else ""))
        if self.yang_library:
            caps.append(CAP + f"yang-library:1.1?revision=2019-01-04&content-id={self.content_id()}")
        return caps

    def content_id(self) -> str:
        names = sorted(f"{m.name()}@{next((str(r.date()) for r in m.revisions()), '')}"
                       for m in self.ctx if m.implemented())
        return hashlib.sha256(" ".join(names).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ sessions
    def session_started(self, session: "Session") -> None:
        if self.monitoring:
            self.monitoring.session_started(session.session_id, session.username, session.source_host)
        if self.base_notifications:
            self._publish(notif.netconf_session_start(self.ctx, session.username, session.session_id,
                                                      session.source_host or None))

    def session_ended(self, session: "Session", session_id: int, reason: str,
                      killed_by: Optional[int]) -> None:
        with self._lock:
            writer = self._writers.pop(session_id, None)
        if writer is not None:
            self.hub.unsubscribe(writer[0])
        if self.monitoring:
            self.monitoring.session_ended(session_id, dropped=reason == "dropped")
        if self.base_notifications:
            self._publish(notif.netconf_session_end(self.ctx, session.username, session_id, reason,
                                                    session.source_host or None, killed_by))

    def bad_hello(self) -> None:
        if self.monitoring:
            self.monitoring.bad_hello()

    def subscribed(self, session_id: int) -> bool:
        """Has the session a live subscription (one whose stop time has not passed)?"""
        with self._lock:
            writer = self._writers.get(session_id)
        return writer is not None and not writer[0].closed

    def rpc_done(self, session: "Session", ok: bool) -> None:
        if self.monitoring:
            self.monitoring.rpc_received(session.session_id, ok)

    def bad_rpc(self, session: "Session") -> None:
        if self.monitoring:
            self.monitoring.bad_rpc(session.session_id)

    # ------------------------------------------------------------------ NACM
    def rules_for_message(self, session: "Session") -> None:
        """Fix the access control rules for the message the session starts processing: the
        same rules stay in effect for the whole message (RFC 8341 §3.4), though another
        session's commit changes /nacm meanwhile."""
        session.nacm = self.nacm

    def _rules(self, session: "Session") -> Optional[Nacm]:
        return getattr(session, "nacm", None) or self.nacm

    def check_rpc(self, session: "Session", module: str, name: str, namespace: str = NC_NS) -> None:
        """RFC 8341 §3.4.4; a denial's error-path names the operation (``/nc:rpc/nc:edit-config``)."""
        nacm = self._rules(session)
        if nacm is None:
            return
        deny_all = self._schema_denies_all(f"/{module}:{name}")
        if not nacm.check_rpc(session.username, module, name, default_deny_all=deny_all):
            prefix = "nc" if namespace == NC_NS else "op"
            raise RpcError("access-denied", f"{session.username} may not invoke {module}:{name}", "protocol",
                           path=f"/nc:rpc/{prefix}:{name}", path_namespaces={"nc": NC_NS, prefix: namespace})

    def prune_read(self, session: "Session", tree: Optional[libyang.DNode]) -> Optional[libyang.DNode]:
        nacm = self._rules(session)
        return tree if nacm is None else nacm.prune_read(session.username, tree)

    def reads_whole(self, session: "Session", schema_path: str) -> bool:
        """See ``Nacm.reads_whole``."""
        nacm = self._rules(session)
        return nacm is None or nacm.reads_whole(session.username, schema_path)

    def check_writes(self, session: "Session", diff: Optional[libyang.DNode]) -> None:
        """RFC 8341 §3.4.5 on every node a change creates, updates or deletes (each node of a
        created or deleted subtree too; implicit defaults are side effects, §3.2.5)."""
        nacm = self._rules(session)
        if nacm is None or diff is None:
            return
        user = session.username
        for change in changed_nodes(diff):
            if not nacm.check_write(user, change.node, change.operation):
                raise RpcError("access-denied", f"{user} may not {change.operation} {change.path}",
                               path=change.path)

    def redact_errors(self, session: "Session", errors: list[RpcError]) -> list[RpcError]:
        """RFC 6241 §4.3, RFC 8341 §3.2.5 and §3.4.3: an rpc-error says nothing of data the
        user may not read. An error whose path, or a path its message names, is not readable
        keeps its tag and type and loses its message, path and error-app-tag."""
        nacm = self._rules(session)
        if nacm is None:
            return errors
        kept = []
        for error in errors:
            paths = _PATH_IN_MESSAGE.findall(error.message)
            if error.path and error.path_namespaces is None and error.path != "/":
                paths.append(error.path)
            if all(self._may_read(nacm, session.username, path) for path in paths):
                kept.append(error)
            else:
                kept.append(RpcError(error.tag, "the request cannot be completed: it concerns data this "
                                     "user may not read", error.error_type, info=error.info))
        return kept

    def _may_read(self, nacm: Nacm, user: str, path: str) -> bool:
        try:
            return nacm.may_read(user, path, self._schema_of)
        except ValueError:  # not a path NACM can read: say nothing of it
            return False

    def _schema_denies_all(self, schema_path: str) -> bool:
        """Does the rpc or notification at ``schema_path`` carry nacm:default-deny-all?"""
        snode = self._schema_of(schema_path)
        return snode is not None and any(
            e.name() == "default-deny-all" and e.module().name() == "ietf-netconf-acm" for e in snode.extensions())

    def _schema_of(self, schema_path: str) -> Optional[libyang.SNode]:
        try:
            return next(self.ctx.find_path(schema_path), None)
        except libyang.LibyangError:
            return None

    def _nacm_from(self, running: Optional[libyang.DNode]) -> Nacm:
        """Rules from running's /nacm; while running has none, the shipped default policy
        (default-nacm.xml: admin is an operator), since RFC 8341's bare defaults deny
        every write and would lock every user out."""
        counters = self.nacm.counters if self.nacm is not None else None
        configured = running.find_path(NACM_PATH) if running is not None else None
        if configured is not None and not configured.flags()["default"]:
            return Nacm.from_config(configured, counters=counters)
        shipped = self.ctx.parse_data_mem(DEFAULT_NACM_XML.read_text(), "xml", strict=True, no_state=True,
                                          parse_only=True)
        try:
            return Nacm.from_config(shipped, counters=counters)
        finally:
            shipped.free()

    def _may_receive(self, user: str, module: str, name: str) -> bool:
        if self.nacm is None:
            return True
        deny_all = self._schema_denies_all(f"/{module}:{name}")
        return self.nacm.check_notification(user, module, name, default_deny_all=deny_all)

    # ------------------------------------------------------------------ config and state
    def running_changed(self, running: Optional[libyang.DNode], diff: Optional[libyang.DNode],
                        session: Optional["Session"]) -> None:
        if self.nacm is not None:
            self.nacm = self._nacm_from(running)
        self.datastore_changed("running", diff, session)

    def datastore_changed(self, datastore: str, diff: Optional[libyang.DNode],
                          session: Optional["Session"]) -> None:
        """RFC 6470 netconf-config-change for a change of running or startup, with one edit
        record per changed subtree (an update is reported as replace)."""
        if not self.base_notifications or diff is None:
            return
        edits = [(c.path, "replace" if c.operation == "update" else c.operation)
                 for c in changed_subtrees(diff)]
        self._publish(notif.netconf_config_change(
            self.ctx, session.username if session else None,
            session.session_id if session else None,
            session.source_host if session else None, datastore=datastore, edits=edits))

    def confirmed_commit_event(self, event: str, session: Optional["Session"], timeout: Optional[int]) -> None:
        if self.base_notifications:
            self._publish(notif.netconf_confirmed_commit(
                self.ctx, event, session.username if session else None,
                session.session_id if session else None, timeout))

    def state(self, capabilities: list[str], locks: dict[str, tuple[int, datetime]],
              plan: FilterPlan = FilterPlan.everything()) -> list[libyang.DNode]:
        """State trees these services own that ``plan`` can select (each a fresh tree the
        caller frees); a read of the binding cache builds none of them."""
        trees = []
        if self.monitoring and plan.selects(NCM_PATH):
            trees.append(self.monitoring.to_data(self.ctx, capabilities, locks))
        if self.yang_library and (plan.selects(YANG_LIBRARY_PATH) or plan.selects(MODULES_STATE_PATH)):
            trees.append(yang_library(self.ctx, self.content_id()))
        if self.nacm is not None and plan.selects(NACM_PATH):
            trees.append(self.nacm.counters.to_data(self.ctx))
        if _implemented(self.ctx, "ietf-subscribed-notifications") and plan.selects(STREAMS_PATH):
            trees.append(self.hub.streams_data())
        if _implemented(self.ctx, "nc-notifications") and plan.selects(NETCONF_STREAMS_PATH):
            trees.append(self.hub.netconf_streams_data())  # RFC 5277 §3.2.5.1
        return trees

    # ------------------------------------------------------------------ operations
    def get_schema(self, session: "Session", op: etree._Element) -> list[etree._Element]:
        def text(name: str) -> Optional[str]:
            found = op.find(f"{{{NCM_NS}}}{name}")
            return (found.text or "").strip() if found is not None else None

        identifier = text("identifier")
        if not identifier:
            raise RpcError("missing-element", "get-schema needs an identifier", "protocol",
                           info=[(f"{{{NC_NS}}}bad-element", "identifier")])
        try:
            schema = get_schema(self.ctx, identifier, text("version"), text("format") or "yang")
        except RequestError as err:
            raise request_error(err) from None
        data = etree.Element(f"{{{NCM_NS}}}data", nsmap={None: NCM_NS})
        data.text = schema
        return [data]

    def create_subscription(self, session: "Session", op: etree._Element) -> list[etree._Element]:
        p = _subscription_params(op)
        stream, filter_elem = p.get("stream"), p.get("filter")
        try:
            flt = Filter.from_element(filter_elem, self.ctx) if filter_elem is not None else None
            sub = self.hub.subscribe(session.session_id, (stream.text or "").strip() if stream is not None else None,
                                     flt, _parse_time(p.get("startTime")), _parse_time(p.get("stopTime")),
                                     session.username)
        except RequestError as err:
            raise request_error(err) from None
        # the <ok/> goes out before any notification: the writer waits for it
        writer = threading.Thread(target=self._write_notifications, args=(session, sub),
                                  name=f"netconf-notify-{session.session_id}", daemon=True)
        with self._lock:
            self._writers[session.session_id] = (sub, writer)
        session.after_reply(writer.start)
        return [etree.Element(f"{{{NC_NS}}}ok")]

    def _write_notifications(self, session: "Session", sub: notif.Subscription) -> None:
        while not session.closed.is_set():
            xml = sub.get(timeout=0.5)
            if xml is None:
                if sub.closed:
                    return
                continue
            session.send_message(xml)
            if self.monitoring:
                self.monitoring.notification_sent(session.session_id)

    def _publish(self, tree: libyang.DNode) -> None:
        try:
            self.hub.publish(tree)
        finally:
            tree.free()
