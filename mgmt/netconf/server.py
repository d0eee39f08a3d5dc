"""The NETCONF server: SSH listener, session registry and the RFC 6241 operations.

Capabilities (besides base:1.0 / base:1.1): :writable-running, :candidate,
:confirmed-commit:1.1, :rollback-on-error, :validate:1.1, :startup, :xpath and
:with-defaults (basic-mode explicit). :url is not offered.

Running is writable directly as well as through the candidate: both paths end in the same
commit pipeline (validate, diff, ``commit_hook``, persist), so running is always valid
(test-option ``set`` on running is validated too). ``<edit-config>`` is atomic for every
error-option (it works on a copy); continue-on-error applies what succeeded and reports the
rest. The candidate is only validated by test-then-set / test-only, ``<validate>`` and
``<commit>``; its uncommitted changes go when its lock is released (RFC 6241 §8.3.5.2).
NACM checks every node a change changes (``changes``) on the edit, and on ``<commit>`` for
the committing user.

Errors: edits of a datastore another session has locked get ``in-use``; ``<lock>`` gets
``lock-denied`` (error-info session-id) when the lock is held, when the candidate holds
another session's uncommitted changes, or (running) while another session's confirmed
commit is pending. ``<lock>``, ``<unlock>`` and ``<validate>`` also take an RFC 8526
datastore identity. Monitoring, NACM and notifications come from ``integration.Services``
when the context implements their modules. docs/conformance.md states, RFC section by
section, what the server does and which test shows it.

Sessions run in threads; one server lock serialises every datastore operation.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

import libyang
import paramiko
from lxml import etree

from mgmt.netconf import datastore as ds
from mgmt.netconf.confirmed import ConfirmedCommit
from mgmt.netconf.admission import Admission, Limits
from mgmt.netconf.budget import RequestAbandoned, check
from mgmt.netconf.counters import OTHER, RpcCounters
from mgmt.netconf.credentials import Credentials
from mgmt.netconf.datastore import DatastoreLocks, Datastores
from mgmt.netconf.edit import apply_edit
from mgmt.netconf.errors import (
    NC_NS, RpcError, RpcErrors, bad_element, enable_error_paths, in_use, invalid_value,
    lock_denied, missing_element, operation_failed, operation_not_supported, unknown_element,
)
from mgmt.netconf.filters import Filter, RequestError, module_by_namespace
from mgmt.netconf.integration import NCM_NS, Services, request_error
from mgmt.netconf.nmda import NMDA_NS, NmdaOperations, datastore_name
from mgmt.netconf.notifications import NOTIFICATION_NS
from mgmt.netconf.session import Session
from mgmt.netconf.ssh import SshListener
from mgmt.netconf.xpath_worker import WorkerFailed, XPathWorkers
from mgmt.netconf.splice import PrintableSchema, ReadRequest, Splice, State, Text, splice

log = logging.getLogger(__name__)

WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
CAP = "urn:ietf:params:netconf:capability:"
DEFAULT_CONFIRM_TIMEOUT = 600  # seconds, RFC 6241 §8.4.5.1

CommitHook = Callable[[Optional[libyang.DNode], Optional[libyang.DNode], Optional[libyang.DNode]], None]
CommittedHook = Callable[["Committed"], None]
ConfirmedCommitHook = Callable[[str, Optional[Session], Optional[int]], None]
RpcHook = Callable[[str, libyang.DNode], Optional[libyang.DNode]]
StateProvider = Callable[[ReadRequest], Union[State, libyang.DNode, str, None]]
# an operation's reply content: elements, or XML text (a read's <data>, maybe in pieces)
Operation = Callable[[Session, etree._Element], list[Union[etree._Element, Text]]]


class CommitRejected(Exception):
    """Raised by a commit hook to refuse a new running configuration."""

    def __init__(self, message: str, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Committed:
    """A change that reached running: who made it (no session for the rollback of a confirmed
    commit that timed out or was cancelled), its libyang diff (valid during the call only),
    whether it waits for confirmation, and, for a rollback, its cause (cancel, timeout)."""
    session: Optional[Session]
    diff: libyang.DNode
    confirmed: bool = False
    rollback: Optional[str] = None


@dataclass
class ServerHooks:
    """How the server reaches the rest of the product.

    ``commit_hook(old, new, diff)`` sees every change of running (the trees are the
    server's: read, do not keep); ``rpc_hook(name, input)`` runs product RPCs and returns
    their output tree (or None for ``<ok/>``) and may raise RpcError; ``state_provider(request)`` returns the state
    data for a read (``request.plan`` says what it can select) as a libyang tree the server then owns, or XML,
    or a ``splice.State`` holding such a tree and the lists the provider prints itself.
    ``committed(change)`` hears of every change once it is in running, and
    ``confirmed_commit(event, session, timeout)`` of each step of a confirmed commit (RFC 6470
    confirm-event: start, extend, complete, cancel, timeout); neither can refuse anything.
    """
    commit_hook: Optional[CommitHook] = None
    rpc_hook: Optional[RpcHook] = None
    state_provider: Optional[StateProvider] = None
    committed: Optional[CommittedHook] = None
    confirmed_commit: Optional[ConfirmedCommitHook] = None


def _nc(name: str) -> str:
    return f"{{{NC_NS}}}{name}"


def _ok() -> list[etree._Element]:
    return [etree.Element(_nc("ok"))]


def _params(op: etree._Element, allowed: Sequence[str]) -> dict[str, etree._Element]:
    """The operation's parameters by local name; anything unexpected is unknown-element."""
    found: dict[str, etree._Element] = {}
    for child in op:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        key = qname.localname
        if qname.namespace == WD_NS and key == "with-defaults":
            key = "with-defaults"
        elif qname.namespace != NC_NS or key not in allowed:
            raise unknown_element(key, f"unexpected parameter {key} in {etree.QName(op).localname}",
                                  "protocol")
        found[key] = child
    if "with-defaults" in found and "with-defaults" not in allowed:
        raise unknown_element("with-defaults", error_type="protocol")
    return found


def _datastore(param: Optional[etree._Element], wrapper: str, allowed: Sequence[str], nmda: bool = False) -> str:
    if param is None:
        raise missing_element(wrapper)
    children = [c for c in param if isinstance(c.tag, str)]
    if len(children) != 1:
        raise missing_element(wrapper, f"{wrapper} must name exactly one datastore")
    qname = etree.QName(children[0])
    if nmda and (qname.namespace, qname.localname) == (NMDA_NS, "datastore"):
        # RFC 8526 §3.2: <lock>, <unlock> and <validate> may name an NMDA datastore
        name = datastore_name(children[0])
        if name not in allowed:
            raise invalid_value(f"ds:{name} cannot be the {wrapper} of this operation", error_type="protocol")
        return name
    name = qname.localname
    if name == "url":
        raise operation_not_supported("the :url capability is not supported")
    if qname.namespace != NC_NS or name not in allowed:
        raise bad_element(wrapper, f"{name} is not allowed as {wrapper} here")
    return name


def ensure_host_key(path: Path) -> Path:
    """Create an ECDSA host key at ``path`` unless one exists."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        paramiko.ECDSAKey.generate(bits=256).write_private_key_file(str(path))
        path.chmod(0o600)
    return path


def load_host_key(path: Path) -> paramiko.PKey:
    """The private host key in ``path``, of whichever type it is."""
    for key_class in (paramiko.ECDSAKey, paramiko.Ed25519Key, paramiko.RSAKey):
        try:
            return key_class.from_private_key_file(str(path))
        except paramiko.SSHException:
            continue
    raise ValueError(f"{path}: not an ECDSA, Ed25519 or RSA private key")


class NetconfServer:
    """A NETCONF server over SSH on the given libyang context."""

    def __init__(
        self,
        ctx: libyang.Context,
        state_dir: Union[str, Path],
        port: int = 830,
        address: str = "::",
        users: Optional[Mapping[str, str]] = None,
        host_key_path: Optional[Union[str, Path]] = None,
        hooks: Optional[ServerHooks] = None,
        initial_config: Optional[libyang.DNode] = None,
        authorized_keys: Optional[Mapping[str, Sequence[paramiko.PKey]]] = None,
        idle_timeout: float = 3600.0,
        max_message_size: int = 16 * 1024 * 1024,
        extra_capabilities: Sequence[str] = (),
        password_hashes: Optional[Mapping[str, str]] = None,
        limits: Limits = Limits(),
    ) -> None:
        """``users`` maps a user to a clear-text password, ``password_hashes`` to an RFC 7317
        crypt-hash (``$0$``, ``$1$``, ``$5$``, ``$6$``); ``authorized_keys`` to SSH public keys.
        ``limits``: sessions, pending connections, login time and failed-login delay
        (mgmt.netconf.admission). Binding the port raises OSError."""
        enable_error_paths()
        self.admission = Admission(limits)
        host_key = load_host_key(ensure_host_key(Path(host_key_path) if host_key_path
                                                 else Path(state_dir) / "ssh_host_key"))
        self.ctx = ctx
        self.state_dir = Path(state_dir)
        self.hooks = hooks or ServerHooks()
        self.idle_timeout = idle_timeout
        self.max_message_size = max_message_size
        self.extra_capabilities = list(extra_capabilities)
        self.lock = threading.RLock()
        self.services = Services(ctx)
        self.xpath_workers = XPathWorkers(ctx)
        self._printable = PrintableSchema(ctx)
        self.counters = RpcCounters()
        self.datastores = Datastores(ctx, self.state_dir, initial_config)
        self.services.running_changed(self.datastores.peek("running"), None, None)
        self.locks = DatastoreLocks()
        self.confirmed = ConfirmedCommit(self.lock, self._rollback_confirmed)
        self.sessions: dict[int, Session] = {}
        self._sessions_lock = threading.Lock()
        self._operations: dict[tuple[str, str], Operation] = {}
        self._namespaces: dict[str, str] = {}
        self._register_base_operations()
        self._stop = threading.Event()
        try:
            self.ssh = SshListener(address, port, host_key, Credentials(users or {}, authorized_keys, password_hashes),
                                   self.admission, lambda channel, connection: Session(channel, self, connection))
        except OSError:  # the port: nothing may stay open behind the caller's error
            self.datastores.close()
            raise
        self.port = self.ssh.port
        self.ssh.start()
        self._watchdog = threading.Thread(target=self._idle_watchdog, name="netconf-idle", daemon=True)
        self._watchdog.start()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop listening and end every session."""
        self._stop.set()
        self.ssh.close()
        for session in self.session_list():
            session.close()
        self.xpath_workers.close()
        with self.lock:
            self.confirmed.cancel_timer()
            self.datastores.close()

    def session_list(self) -> list[Session]:
        with self._sessions_lock:
            return list(self.sessions.values())

    def register_session(self, session: Session) -> None:
        with self._sessions_lock:
            self.sessions[session.session_id] = session

    def session_opened(self, session: Session) -> None:
        """The hello exchange is done."""
        self.services.session_started(session)

    def session_ended(self, session: Session, session_id: Optional[int]) -> None:
        """Locks go with the session; so does a confirmed commit it did not persist."""
        if session_id is None:
            return
        with self._sessions_lock:
            known = self.sessions.pop(session_id, None) is not None
        with self.lock:
            released = self.locks.release_all(session_id)
            if self.confirmed.owned_by(session_id):
                self._rollback_confirmed("cancel", session)
            if "candidate" in released:
                self._discard_outstanding_changes()
        if not known:
            return
        if session.end_reason == "bad-hello":
            self.services.bad_hello()
        # RFC 6470 netconf-session-end, with termination-reason bad-hello for a bad <hello>
        self.services.session_ended(session, session_id, session.end_reason, session.killed_by)

    def _idle_watchdog(self) -> None:
        period = max(0.05, min(1.0, self.idle_timeout / 4)) if self.idle_timeout > 0 else 1.0
        while not self._stop.wait(period):
            if self.idle_timeout <= 0:
                continue
            now = time.monotonic()
            for session in self.session_list():
                if self.services.subscribed(session.session_id):
                    continue  # a subscriber waits for notifications, it is not idle
                if now - session.last_activity > self.idle_timeout:
                    log.info("%s idle for %.0f s: closing", session, now - session.last_activity)
                    session.end_reason = "timeout"
                    session.close()

    # ------------------------------------------------------------------ capabilities
    def capabilities(self) -> list[str]:
        defaults = "report-all,trim"
        if self._implemented("ietf-netconf-with-defaults"):
            defaults = "report-all,report-all-tagged,trim"
        return [
            CAP + "writable-running:1.0",
            CAP + "candidate:1.0",
            CAP + "confirmed-commit:1.1",
            CAP + "rollback-on-error:1.0",
            CAP + "validate:1.1",
            CAP + "startup:1.0",
            CAP + "xpath:1.0",
            CAP + f"with-defaults:1.0?basic-mode=explicit&also-supported={defaults}",
            *self.services.capabilities(),
            *self.extra_capabilities,
        ]

    def _implemented(self, name: str) -> bool:
        try:
            return self.ctx.get_module(name).implemented()
        except libyang.LibyangError:
            return False

    def namespace_of(self, module: str) -> Optional[str]:
        """The XML namespace of a module of the context (error-path prefixes)."""
        try:
            return self._namespaces[module]
        except KeyError:
            pass
        try:
            namespace = libyang.util.c2str(self.ctx.get_module(module).cdata.ns)
        except libyang.LibyangError:
            return None
        self._namespaces[module] = namespace
        return namespace

    def nc_append_capabilities(self, caps: etree._Element) -> None:
        """Called by the library while it builds the server hello."""
        for uri in self.capabilities():
            etree.SubElement(caps, "capability").text = uri

    # ------------------------------------------------------------------ dispatch
    def operation_label(self, op: etree._Element) -> str:
        """The operation's name for counters: one the server serves, else ``other``."""
        qname = etree.QName(op)
        if (qname.namespace, qname.localname) in self._operations:
            return qname.localname
        module = module_by_namespace(self.ctx, qname.namespace or "")
        if module is not None and self._is_rpc(module, qname.localname):
            return qname.localname
        return OTHER

    def register_operation(self, namespace: str, name: str, handler: Operation) -> None:
        """Serve another operation (``<get-data>``, ``<get-schema>``...) in this server."""
        self._operations[(namespace, name)] = handler

    def _register_base_operations(self) -> None:
        for name, handler in {
            "get": self._get, "get-config": self._get_config, "edit-config": self._edit_config,
            "copy-config": self._copy_config, "delete-config": self._delete_config,
            "lock": self._lock, "unlock": self._unlock, "close-session": self._close_session,
            "kill-session": self._kill_session, "commit": self._commit,
            "cancel-commit": self._cancel_commit, "discard-changes": self._discard_changes,
            "validate": self._validate,
        }.items():
            self.register_operation(NC_NS, name, handler)
        if self.services.monitoring is not None:
            self.register_operation(NCM_NS, "get-schema", self.services.get_schema)
        self.register_operation(NOTIFICATION_NS, "create-subscription", self.services.create_subscription)
        if self._implemented("ietf-netconf-nmda"):
            NmdaOperations(self).register()

    def dispatch(self, session: Session, op: etree._Element) -> list[Union[etree._Element, Text]]:
        qname = etree.QName(op)
        module = "ietf-netconf" if qname.namespace == NC_NS else module_by_namespace(self.ctx, qname.namespace or "")
        if module is not None:
            self.services.check_rpc(session, module, qname.localname, qname.namespace or "")
        handler = self._operations.get((qname.namespace, qname.localname))
        if handler is not None:
            return handler(session, op)
        if qname.namespace == NC_NS:
            raise operation_not_supported(f"{qname.localname} is not a NETCONF operation")
        return self._product_rpc(op)

    # ------------------------------------------------------------------ reads
    def _filter(self, param: Optional[etree._Element]) -> Filter:
        try:
            return Filter.from_element(param, self.ctx)
        except RequestError as err:
            raise request_error(err) from None

    @staticmethod
    def _with_defaults(param: Optional[etree._Element]) -> ds.WithDefaults:
        if param is None:
            return "explicit"
        mode = (param.text or "").strip()
        if mode not in ("explicit", "report-all", "report-all-tagged", "trim"):
            raise invalid_value(f"unknown with-defaults mode {mode!r}", error_type="protocol")
        return mode  # type: ignore[return-value]

    def read_request(self, session: Session, flt: Filter, max_depth: Optional[int] = None) -> ReadRequest:
        """The state provider's question for one read, with which lists it may print itself."""
        def printable(schema_path: str) -> bool:
            return (max_depth is None and flt.selects_whole(schema_path)
                    and self._printable.allows(schema_path) and self.services.reads_whole(session, schema_path))
        return ReadRequest(flt, printable)

    def _data_reply(self, session: Session, tree: Optional[libyang.DNode], flt: Filter,
                    mode: ds.WithDefaults, max_depth: Optional[int] = None,
                    namespace: str = NC_NS,
                    finish: Optional[Callable[[libyang.DNode], Optional[libyang.DNode]]] = None,
                    splices: Sequence[Splice] = (), config_only: bool = False,
                    ) -> list[Text]:
        """The ``<data>`` reply as XML text: the defaults a report-all mode reports (before
        anything else, RFC 6243 §4.5.1; state ones unless ``config_only``), NACM read rules,
        the filter, ``finish`` (a last in-place change of the tree, returning its new first
        node), then the lists the state provider printed itself."""
        budget = session.budget
        try:
            check(budget)  # building the state took its time
            if mode in ds.REPORTS_DEFAULTS:
                tree = ds.add_implicit_defaults(self.ctx, tree, config_only)
            tree = self.services.prune_read(session, tree)
            check(budget)
            tree = flt.apply(tree, max_depth, budget, self.xpath_workers)  # on an error, tree is intact
            check(budget)
        except RequestError as err:
            ds.free(tree)
            raise request_error(err) from None
        except (RpcError, RpcErrors, RequestAbandoned, WorkerFailed) as err:
            ds.free(tree)
            if isinstance(err, WorkerFailed):
                log.error("%s: %s", session, err)
                raise operation_failed("the XPath filter could not be evaluated") from None
            raise
        try:
            if finish is not None and tree is not None:
                tree = finish(tree)
            xml = ds.to_xml(tree, mode)
        finally:
            ds.free(tree)
        return [f'<data xmlns="{namespace}">', *splice(xml, splices), "</data>"]

    def _get_config(self, session: Session, op: etree._Element) -> list[Text]:
        p = _params(op, ("source", "filter", "with-defaults"))
        source = _datastore(p.get("source"), "source", ds.DATASTORES)
        flt, mode = self._filter(p.get("filter")), self._with_defaults(p.get("with-defaults"))
        with self.lock:
            tree = self.datastores.get(source)
        return self._data_reply(session, tree, flt, mode, config_only=True)

    def _get(self, session: Session, op: etree._Element) -> list[Text]:
        p = _params(op, ("filter", "with-defaults"))
        flt, mode = self._filter(p.get("filter")), self._with_defaults(p.get("with-defaults"))
        state = self.operational_tree(self.read_request(session, flt))
        return self._data_reply(session, state.tree, flt, mode, splices=state.splices)

    def operational_tree(self, request: ReadRequest, config: bool = True, state: bool = True) -> State:
        """Running merged with the state data (what ``<get>`` and ``<operational>`` show), a
        fresh tree the caller owns, and the lists to splice into its XML; ``config``/``state``
        False leave that part out."""
        tree = None
        if config:
            with self.lock:
                tree = self.datastores.get("running")
        if not state:
            return State(tree)
        locks = self.locks.snapshot()
        provided = self._state(request)
        for part in [provided.tree, *self.services.state(self.capabilities(), locks, request.plan)]:
            if part is None:
                continue
            if tree is None:
                tree = ds.first(part)
            else:
                tree.merge(ds.first(part), with_siblings=True, destruct=True)
                tree = ds.first(tree)
        return State(tree, provided.splices)

    def _state(self, request: ReadRequest) -> State:
        if self.hooks.state_provider is None:
            return State(None)
        state = self.hooks.state_provider(request)
        if isinstance(state, State):
            return state
        if isinstance(state, str):
            return State(self.ctx.parse_data_mem(state, "xml", parse_only=True, strict=True) if state.strip() else None)
        return State(state)

    # ------------------------------------------------------------------ writes
    def _check_writable(self, session: Session, name: str) -> None:
        holder = self.locks.holder(name)
        if holder and holder != session.session_id:
            raise in_use(f"the {name} datastore is locked by session {holder}")

    def _edit_config(self, session: Session, op: etree._Element) -> list[etree._Element]:
        p = _params(op, ("target", "default-operation", "test-option", "error-option", "config", "url"))
        target = _datastore(p.get("target"), "target", ("running", "candidate"))
        if "url" in p:
            raise operation_not_supported("the :url capability is not supported")
        if "config" not in p:
            raise missing_element("config")
        default_op = (p["default-operation"].text or "").strip() if "default-operation" in p else "merge"
        test_option = (p["test-option"].text or "").strip() if "test-option" in p else "test-then-set"
        error_option = (p["error-option"].text or "").strip() if "error-option" in p else "stop-on-error"
        if test_option not in ("test-then-set", "set", "test-only"):
            raise invalid_value(f"unknown test-option {test_option!r}", error_type="protocol")
        with self.lock:
            self._check_writable(session, target)
            tree, errors = apply_edit(self.ctx, self.datastores.get(target), p["config"],
                                      default_op, error_option)
            try:
                # what the edit itself changes; validation's side effects need no rights
                # (RFC 8341 §3.2.5), and a denied edit learns nothing from validation
                self._authorize(session, target, tree)
                if test_option != "set" or target == "running":
                    tree = ds.validate(self.ctx, tree)
            except (RpcError, RpcErrors):
                ds.free(tree)
                raise
            if test_option == "test-only":
                ds.free(tree)
            elif target == "running":
                self._install_running(tree, session)
            else:
                self.datastores.replace("candidate", tree, session.session_id)
        if errors:
            raise RpcErrors(errors)
        return _ok()

    def _source_tree(self, param: Optional[etree._Element], nmda: bool = False) -> Optional[libyang.DNode]:
        """A copy of the named datastore, or the inline ``<config>``, owned by the caller;
        ``nmda``: the source may be an RFC 8526 datastore identity."""
        name = _datastore(param, "source", (*ds.DATASTORES, "config"), nmda)
        if name != "config":
            return self.datastores.get(name)
        inline = [c for c in param if isinstance(c.tag, str)][0]
        # applied by the edit engine, so errors carry their tag and path and the RFC 6243
        # default attribute is understood (§4.5.1)
        tree, _ = apply_edit(self.ctx, None, inline, "replace")
        return tree

    def _copy_config(self, session: Session, op: etree._Element) -> list[etree._Element]:
        # RFC 6243 §4.5.1: with-defaults has no effect when the target is a datastore
        p = _params(op, ("target", "source", "with-defaults"))
        target = _datastore(p.get("target"), "target", ds.DATASTORES)
        with self.lock:
            tree = self._source_tree(p.get("source"))
            source = etree.QName([c for c in p["source"] if isinstance(c.tag, str)][0]).localname
            if source == target:
                ds.free(tree)
                raise invalid_value("source and target are the same datastore", error_type="protocol")
            try:
                self._check_writable(session, target)
                if (source, target) != ("running", "startup"):
                    # RFC 8341 §3.2.6: saving running to startup needs only exec on copy-config;
                    # otherwise what the user cannot read is not copied, and the change checked
                    if source != "config":
                        tree = self.services.prune_read(session, tree)
                    self._authorize(session, target, tree)
                tree = ds.validate(self.ctx, tree) if target != "candidate" else tree
            except (RpcError, RpcErrors):
                ds.free(tree)
                raise
            if target == "running":
                self._install_running(tree, session)
            else:
                self._replace(target, tree, session)
        return _ok()

    def _delete_config(self, session: Session, op: etree._Element) -> list[etree._Element]:
        p = _params(op, ("target",))
        target = _datastore(p.get("target"), "target", ("startup", "candidate", "running"))
        if target == "running":
            raise invalid_value("the running datastore cannot be deleted", error_type="protocol")
        with self.lock:
            self._check_writable(session, target)
            empty = ds.validate(self.ctx, None) if target == "startup" else None
            try:
                self._authorize(session, target, empty)
            except RpcError:
                ds.free(empty)
                raise
            self._replace(target, empty, session)
            if target == "startup":
                # RFC 6241 §8.7.5.1: back to factory defaults, the initial configuration the
                # next boot starts from again
                self.datastores.forget_startup()
        return _ok()

    def _replace(self, target: str, tree: Optional[libyang.DNode], session: Session) -> None:
        """candidate or startup takes ``tree``; a change of startup is notified (RFC 6470)."""
        change = ds.diff(self.ctx, self.datastores.peek(target), tree) if target == "startup" else None
        try:
            self.datastores.replace(target, tree, session.session_id)
            self.services.datastore_changed(target, change, session)
        finally:
            ds.free(change)

    def _authorize(self, session: Session, target: str, tree: Optional[libyang.DNode]) -> None:
        """NACM write rules (RFC 8341 §3.4.5) on exactly the nodes that ``tree`` changes in
        ``target``: created, updated and deleted ones, explicit or not (``changes``)."""
        if self.services.nacm is None:
            return
        change = ds.diff(self.ctx, self.datastores.peek(target), tree)
        try:
            self.services.check_writes(session, change)
        finally:
            ds.free(change)

    def _install_running(self, tree: Optional[libyang.DNode], session: Optional[Session] = None, *,
                         confirmed: bool = False, rollback: Optional[str] = None) -> None:
        """The commit pipeline: a validated tree becomes running if the hook agrees.

        Takes ownership of ``tree`` (freed when refused)."""
        old = self.datastores.peek("running")
        change = ds.diff(self.ctx, old, tree)
        try:
            if self.hooks.commit_hook is not None and change is not None:
                self.hooks.commit_hook(old, tree, change)
            self.datastores.replace("running", tree)
            if change is not None:
                self.counters.commit_applied()
            self.services.running_changed(tree, change, session)
            if change is not None:
                self._tell(self.hooks.committed, Committed(session, change, confirmed, rollback))
        except CommitRejected as exc:
            ds.free(tree)
            raise operation_failed(str(exc), path=exc.path) from None
        finally:
            ds.free(change)

    def _confirmed_commit_event(self, event: str, session: Optional[Session], timeout: Optional[int]) -> None:
        self.services.confirmed_commit_event(event, session, timeout)
        self._tell(self.hooks.confirmed_commit, event, session, timeout)

    @staticmethod
    def _tell(hook: Optional[Callable[..., None]], *args) -> None:
        """A listener's failure is logged; what it hears of has happened already."""
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:
            log.exception("commit listener %r failed", hook)

    # ------------------------------------------------------------------ locks
    def _lock(self, session: Session, op: etree._Element) -> list[etree._Element]:
        target = _datastore(_params(op, ("target",)).get("target"), "target", ds.DATASTORES, nmda=True)
        with self.lock:
            if target == "candidate" and self.datastores.candidate_dirty:
                # RFC 6241 §7.5: not while the candidate holds uncommitted changes
                raise lock_denied(self.datastores.candidate_modified_by, target)
            if target == "running" and self.confirmed.pending and not self.confirmed.owned_by(session.session_id):
                raise lock_denied(self.confirmed.session_id or 0, target)
            holder = self.locks.acquire(target, session.session_id)
            if holder:
                raise lock_denied(holder, target)
        return _ok()

    def _unlock(self, session: Session, op: etree._Element) -> list[etree._Element]:
        target = _datastore(_params(op, ("target",)).get("target"), "target", ds.DATASTORES, nmda=True)
        with self.lock:
            if not self.locks.release(target, session.session_id):
                raise operation_failed(f"this session does not hold the lock on {target}", error_type="protocol")
            if target == "candidate":
                self._discard_outstanding_changes()
        return _ok()

    def _discard_outstanding_changes(self) -> None:
        """RFC 6241 §8.3.5.2: releasing the candidate's lock, by <unlock> or by the session
        ending, discards its uncommitted changes (only the holder could have made them)."""
        if self.datastores.candidate_dirty:
            self.datastores.reset_candidate()

    # ------------------------------------------------------------------ sessions
    def _close_session(self, session: Session, op: etree._Element) -> list[etree._Element]:
        _params(op, ())
        return _ok()  # the session closes itself once the reply is sent

    def _kill_session(self, session: Session, op: etree._Element) -> list[etree._Element]:
        p = _params(op, ("session-id",))
        if "session-id" not in p:
            raise missing_element("session-id")
        text = (p["session-id"].text or "").strip()
        if not text.isdigit() or int(text) == 0:
            raise invalid_value(f"{text!r} is not a session-id", error_type="protocol")
        victim_id = int(text)
        if victim_id == session.session_id:
            raise invalid_value("a session cannot kill itself; use close-session", error_type="protocol")
        with self._sessions_lock:
            victim = self.sessions.get(victim_id)
        if victim is None:
            raise invalid_value(f"no session {victim_id}", error_type="protocol")
        victim.end_reason, victim.killed_by = "killed", session.session_id
        victim.close()  # releases its locks and rolls back its unconfirmed commit
        return _ok()

    # ------------------------------------------------------------------ candidate
    def _commit(self, session: Session, op: etree._Element) -> list[etree._Element]:
        p = _params(op, ("confirmed", "confirm-timeout", "persist", "persist-id"))
        confirmed = "confirmed" in p
        timeout = DEFAULT_CONFIRM_TIMEOUT
        if "confirm-timeout" in p:
            text = (p["confirm-timeout"].text or "").strip()
            if not text.isdigit() or not 0 < int(text) <= 0xFFFFFFFF:
                raise invalid_value(f"confirm-timeout {text!r} is not a positive uint32", error_type="protocol")
            timeout = int(text)
        persist = (p["persist"].text or "").strip() if "persist" in p else None
        persist_id = (p["persist-id"].text or "").strip() if "persist-id" in p else None
        with self.lock:
            self._check_writable(session, "running")
            self._check_writable(session, "candidate")
            if self.confirmed.pending:
                self.confirmed.check_follow_up(session.session_id, persist_id)
            elif persist_id is not None:
                raise invalid_value("no confirmed commit is pending for this persist-id", error_type="protocol")
            tree = self.datastores.get("candidate")
            try:
                tree = ds.validate(self.ctx, tree)
                # RFC 8341 §3.2.8, RFC 6241 §9: the committing user needs the rights for every
                # node of running the commit changes, whoever edited the candidate
                self._authorize(session, "running", tree)
            except (RpcError, RpcErrors):
                ds.free(tree)
                raise
            was_pending = self.confirmed.pending
            backup = None if was_pending else self.datastores.get("running")
            starts = confirmed and not was_pending
            if starts:
                # saved before running changes: a node going down from here on boots with it
                self.datastores.keep_unconfirmed(backup)
            try:
                self._install_running(tree, session, confirmed=confirmed)
            except (RpcError, RpcErrors):
                if starts:
                    self.datastores.forget_unconfirmed()
                ds.free(backup)
                raise
            self.datastores.reset_candidate()
            if confirmed:
                self.confirmed.start(session.session_id, persist, timeout, backup)
                self._confirmed_commit_event("extend" if was_pending else "start", session, timeout)
            else:
                ds.free(backup)
                ds.free(self.confirmed.confirm())
                self.datastores.forget_unconfirmed()
                if was_pending:
                    self._confirmed_commit_event("complete", session, None)
        return _ok()

    def _cancel_commit(self, session: Session, op: etree._Element) -> list[etree._Element]:
        p = _params(op, ("persist-id",))
        persist_id = (p["persist-id"].text or "").strip() if "persist-id" in p else None
        with self.lock:
            if not self.confirmed.pending:
                raise operation_failed("no confirmed commit is pending", error_type="protocol")
            self.confirmed.check_follow_up(session.session_id, persist_id)
            self._rollback_confirmed("cancel", session)
        return _ok()

    def _rollback_confirmed(self, event: str = "timeout", session: Optional[Session] = None) -> None:
        """Restore running from before the confirmed commit (timeout, cancel, owner gone)."""
        with self.lock:
            pending, backup = self.confirmed.take_backup()
            if not pending:
                return
            self._confirmed_commit_event(event, session, None)
            try:
                self._install_running(ds.duplicate(backup), rollback=event)
            except (RpcError, RpcErrors) as err:
                log.error("the commit hook refused the rollback of a confirmed commit (%s); "
                          "restoring anyway", err)
                self.datastores.replace("running", ds.duplicate(backup))
            finally:
                ds.free(backup)
            self.datastores.forget_unconfirmed()
            self.datastores.reset_candidate()

    def _discard_changes(self, session: Session, op: etree._Element) -> list[etree._Element]:
        _params(op, ())
        with self.lock:
            self._check_writable(session, "candidate")
            self.datastores.reset_candidate()
        return _ok()

    def _validate(self, session: Session, op: etree._Element) -> list[etree._Element]:
        p = _params(op, ("source",))
        with self.lock:
            tree = self._source_tree(p.get("source"), nmda=True)
        ds.free(ds.validate(self.ctx, tree))
        return _ok()

    # ------------------------------------------------------------------ product RPCs
    def _is_rpc(self, module: str, name: str) -> bool:
        try:
            return any(snode.keyword() == "rpc" for snode in self.ctx.find_path(f"/{module}:{name}"))
        except libyang.LibyangError:
            return False

    def _product_rpc(self, op: etree._Element) -> list[etree._Element]:
        qname = etree.QName(op)
        module = module_by_namespace(self.ctx, qname.namespace or "")
        if self.hooks.rpc_hook is None or module is None or not self._is_rpc(module, qname.localname):
            raise operation_not_supported(f"{qname.localname} is not supported")
        try:
            request = self.ctx.parse_op_mem("xml", etree.tostring(op).decode(), libyang.DataType.RPC_YANG)
        except libyang.LibyangError as exc:
            raise invalid_value(f"{qname.localname}: {exc}", error_type="protocol") from None
        try:
            output = self.hooks.rpc_hook(request.name(), request)
        finally:
            ds.free(request)
        if output is None:
            return _ok()
        try:
            xml = output.print_mem("xml", with_siblings=True, pretty=False)
        finally:
            ds.free(output)
        wrapper = etree.fromstring(f"<output>{xml}</output>") if xml else etree.Element("output")
        children = list(wrapper)
        for child in children:
            if etree.QName(child).localname == qname.localname:
                return list(child) or _ok()  # libyang prints the rpc element around its output
        return children or _ok()
