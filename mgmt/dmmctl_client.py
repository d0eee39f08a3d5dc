"""dmmctl's NETCONF session: connect, read state and config, call the dmm-nf RPCs.

Replies are parsed under the dmm-nf YANG model (libyang) into plain dicts (lists as lists,
numbers as ints), so every command reads typed values rather than XML text. Every failure
an operator can meet becomes a `CliError` with its own exit status:

    3  cannot connect (address, port, SSH handshake)
    4  authentication refused
    5  the server answered with an rpc-error (its error-tag and message are shown)
    6  no answer within --timeout
    1  anything else (a reply that does not match the model, a lost session)
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import cache
from typing import Any, Optional

import libyang
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport import session as nc_session
from ncclient.transport.errors import AuthenticationError, SessionCloseError, SSHError, TransportError

from mgmt.cli_errors import EXIT_FAILURE, CliError
from nf.model import new_context

EXIT_CONNECT = 3
EXIT_AUTH = 4
EXIT_RPC = 5
EXIT_TIMEOUT = 6

NS = "urn:dmm-nf:yang:dmm-nf"
MODULE = "dmm-nf"
ALARMS_NS = "urn:ietf:params:xml:ns:yang:ietf-alarms"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"

# ncclient's reader polls every TICK seconds (default 0.1 s, i.e. ~100 ms per RPC).
nc_session.TICK = 0.002


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    password: Optional[str]
    timeout: float
    verify_host_key: bool = False


@cache
def model() -> libyang.Context:
    """The dmm-nf YANG model, to parse replies and list enumeration names."""
    return new_context()


def enum_names(rpc: str, leaf: str) -> list[str]:
    """Names of an RPC input leaf's enumeration, for command-line choices."""
    node = next(model().find_path(f"/{MODULE}:{rpc}"))
    return [e.name() for e in next(c for c in node.input() if c.name() == leaf).type().enums()]


def plain(value: Any) -> Any:
    """libyang's dicts hold keyed lists as KeyedList (no + or slicing); make them lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class RpcFailed(CliError):
    """The server answered with an rpc-error; `tag` is its (first) error-tag."""

    def __init__(self, message: str, tag: str) -> None:
        super().__init__(message, EXIT_RPC)
        self.tag = tag


def rpc_error_message(error: RPCError) -> str:
    """`<error-tag>: <message>` of every error in the reply, on one line."""
    errors = getattr(error, "errors", None) or [error]
    parts = []
    for e in errors:
        text = f"{e.tag or 'rpc-error'}: {e.message or 'no error-message'}"
        if e.path:
            text += f" (at {e.path.strip()})"
        parts.append(text)
    return "; ".join(parts)


class Client:
    """One NETCONF session to a dmm-nf node; use as a context manager."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.ctx = model()
        self._manager: Any = None

    # ----- session -----------------------------------------------------------------
    def __enter__(self) -> "Client":
        t = self.target
        where = f"{t.host} port {t.port}"
        try:
            sock = _connect(t.host, t.port, t.timeout)
        except socket.gaierror as e:
            raise CliError(f"cannot connect to {where}: unknown host ({e.strerror})", EXIT_CONNECT) from None
        except OSError as e:
            raise CliError(f"cannot connect to {where}: {e.strerror or e}", EXIT_CONNECT) from None
        self._await_banner(sock, where)
        keys = t.password is None  # without a password, try the SSH agent and ~/.ssh keys
        try:
            self._manager = manager.connect(host=t.host, port=t.port, sock=sock, username=t.user,
                                            password=t.password, hostkey_verify=t.verify_host_key, allow_agent=keys,
                                            look_for_keys=keys, timeout=t.timeout)
        except AuthenticationError:
            sock.close()
            raise CliError(f"authentication refused by {where} for user {t.user!r}", EXIT_AUTH) from None
        except (SSHError, TransportError, OSError) as e:
            sock.close()
            raise CliError(f"cannot open a NETCONF session with {where}: {e}", EXIT_CONNECT) from None
        self._manager.timeout = t.timeout
        return self

    def _await_banner(self, sock: socket.socket, where: str) -> None:
        """An SSH server speaks first; paramiko would wait 15 s for that whatever --timeout says."""
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            sock.close()
            raise CliError(f"{where} accepted the connection but sent no SSH greeting within "
                           f"{self.target.timeout:g} s (see --timeout)", EXIT_TIMEOUT) from None
        except OSError as e:
            sock.close()
            raise CliError(f"cannot connect to {where}: {e.strerror or e}", EXIT_CONNECT) from None
        if not first:
            sock.close()
            raise CliError(f"cannot connect to {where}: the connection was closed at once", EXIT_CONNECT)

    def __exit__(self, *exc: object) -> None:
        if self._manager is not None:
            try:
                self._manager.close_session()
            except Exception:  # the answer is already printed; a failed goodbye changes nothing
                pass

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RPCError as e:
            first = (getattr(e, "errors", None) or [e])[0]
            raise RpcFailed(f"{what}: rpc-error {rpc_error_message(e)}", first.tag or "") from None
        except TimeoutExpiredError:
            raise CliError(f"{what}: no answer within {self.target.timeout:g} s (see --timeout)",
                           EXIT_TIMEOUT) from None
        except (SessionCloseError, TransportError) as e:
            raise CliError(f"{what}: the session was lost: {e}", EXIT_FAILURE) from None

    # ----- reads -----------------------------------------------------------------------
    def get(self, subtree: str, alarms: str | None = None) -> dict[str, Any]:
        """Operational state selected by a subtree filter (the content of <dmm-nf>); with
        `alarms`, also that content of /ietf-alarms:alarms, returned under the key "alarms"."""
        if alarms is None:
            reply = self._call("get", self._manager.get, filter=("subtree", f'<dmm-nf xmlns="{NS}">{subtree}</dmm-nf>'))
            return self.parse_data(reply.data_ele).get(MODULE, {})
        data = self.get_data(f'<dmm-nf xmlns="{NS}">{subtree}</dmm-nf><alarms xmlns="{ALARMS_NS}">{alarms}</alarms>')
        return {**data.get(MODULE, {}), "alarms": data.get("alarms", {})}

    def get_data(self, subtree_filter: str) -> dict[str, Any]:
        """Operational state selected by a subtree filter of any modules (several top-level
        elements allowed), keyed by top-level node name."""
        request = etree.fromstring(f'<get xmlns="{NC_NS}"><filter type="subtree">{subtree_filter}</filter></get>')
        reply = self._call("get", self._manager.dispatch, request)
        data = etree.fromstring(reply.xml.encode()).find(f"{{{NC_NS}}}data")
        return self.parse_data(data) if data is not None else {}

    def get_config(self, datastore: str) -> etree._Element:
        """The <data> element of <get-config> on running, candidate or startup."""
        reply = self._call(f"get-config {datastore}", self._manager.get_config, source=datastore)
        return reply.data_ele

    def parse_data(self, data: etree._Element) -> dict[str, Any]:
        """A <data> element as a dict keyed by top-level node name (module prefixes stripped)."""
        tree = self.parse_tree(data)
        if tree is None:
            return {}
        try:
            return plain(tree.print_dict(absolute=False, with_siblings=True))
        finally:
            tree.free()

    def parse_tree(self, data: etree._Element) -> Optional[libyang.DNode]:
        text = "".join(etree.tostring(child, encoding="unicode") for child in data)
        if not text:
            return None
        try:
            return self.ctx.parse_data_mem(text, "xml", parse_only=True)
        except libyang.LibyangError as e:
            raise CliError(f"the server's answer does not match the dmm-nf model: {e}") from None

    # ----- notifications -----------------------------------------------------------------
    def notifications(self):
        """Subscribe to the NETCONF stream (RFC 5277) and yield (event time, notification name,
        its content as a dict) as they arrive, for as long as the session lasts."""
        self._call("create-subscription", self._manager.create_subscription)
        while True:
            note = self._manager.take_notification(block=True, timeout=1.0)
            if note is None:
                if not self._manager.connected:
                    raise CliError("the session was lost", EXIT_FAILURE)
                continue
            root = etree.fromstring(note.notification_xml.encode())
            time = root.findtext("{urn:ietf:params:xml:ns:netconf:notification:1.0}eventTime")
            body = next((c for c in root if c.tag != "{urn:ietf:params:xml:ns:netconf:notification:1.0}eventTime"),
                        None)
            if body is None:
                continue
            yield time, etree.QName(body).localname, self._notification_content(body)

    def _notification_content(self, body: etree._Element) -> dict[str, Any]:
        try:
            tree = self.ctx.parse_op_mem("xml", etree.tostring(body, encoding="unicode"),
                                         libyang.DataType.NOTIF_YANG)
        except libyang.LibyangError:  # a notification of a module we do not know: its leaves as text
            return {etree.QName(c).localname: c.text for c in body}
        try:
            content = plain(tree.print_dict(absolute=False))
        finally:
            tree.free()
        return next(iter(content.values()), {}) if len(content) == 1 else content

    # ----- RPCs ------------------------------------------------------------------------
    def rpc(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Call a dmm-nf RPC; returns its output as a dict ({} for <ok/>). A list value
        gives a leaf-list, one element per item."""
        request = etree.Element(f"{{{NS}}}{name}", nsmap={None: NS})
        for leaf, value in params.items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if item is not None:
                    etree.SubElement(request, f"{{{NS}}}{leaf}").text = str(item)
        reply = self._call(name, self._manager.dispatch, request)
        root = etree.fromstring(reply.xml.encode())
        output = [child for child in root if etree.QName(child).namespace == NS]
        if not output:
            return {}
        wrapper = etree.Element(f"{{{NS}}}{name}", nsmap={None: NS})
        wrapper.extend(output)
        try:
            tree = self.ctx.parse_op_mem("xml", etree.tostring(wrapper, encoding="unicode"),
                                         libyang.DataType.REPLY_YANG)
        except libyang.LibyangError as e:
            raise CliError(f"{name}: the server's answer does not match the dmm-nf model: {e}") from None
        try:
            return plain(tree.print_dict(absolute=False).get(name, {}))
        finally:
            tree.free()


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to host:port. "localhost" means both loopbacks: some systems resolve it
    to 127.0.0.1 only, while a node may listen on ::1 (as the lab examples do)."""
    if host != "localhost":
        return socket.create_connection((host, port), timeout=timeout)
    error: OSError | None = None
    for loopback in ("::1", "127.0.0.1"):
        try:
            return socket.create_connection((loopback, port), timeout=timeout)
        except OSError as e:
            error = e
    raise error
