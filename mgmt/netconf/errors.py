"""NETCONF ``<rpc-error>`` values (RFC 6241 §4.3 and Appendix A) and the mapping of
libyang errors onto them (RFC 7950 §15).

Every failure the server answers is an :class:`RpcError`; one request may produce several
(``continue-on-error``), carried together by :class:`RpcErrors`.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Mapping, Optional, Sequence

import libyang
from _libyang import ffi, lib
from lxml import etree

from mgmt.netconf.filters import bracket_groups, split_outside

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"

# RFC 6241 Appendix A: the tags and the error-types each may be sent with.
ERROR_TAGS = frozenset({
    "in-use", "invalid-value", "too-big", "missing-attribute", "bad-attribute",
    "unknown-attribute", "missing-element", "bad-element", "unknown-element",
    "unknown-namespace", "access-denied", "lock-denied", "resource-denied",
    "rollback-failed", "data-exists", "data-missing", "operation-not-supported",
    "operation-failed", "partial-operation", "malformed-message",
})
ERROR_TYPES = frozenset({"transport", "rpc", "protocol", "application"})


def _nc(name: str) -> str:
    return f"{{{NC_NS}}}{name}"


class RpcError(Exception):
    """One ``<rpc-error>``.

    ``info`` holds the ``<error-info>`` children as (qualified tag, text) pairs, e.g.
    ``(f"{{{NC_NS}}}session-id", "7")``; ``path`` is the instance identifier of the node
    concerned (error-path), written the libyang way: module names as prefixes, on the first
    step and where the module changes. ``path_namespaces`` (prefix -> namespace) marks a path
    already written with XML prefixes on every step, such as ``/nc:rpc/nc:edit-config``.
    """

    def __init__(
        self,
        tag: str,
        message: str,
        error_type: str = "application",
        path: Optional[str] = None,
        info: Sequence[tuple[str, str]] = (),
        app_tag: Optional[str] = None,
        severity: str = "error",
        path_namespaces: Optional[Mapping[str, str]] = None,
    ) -> None:
        if tag not in ERROR_TAGS:
            raise ValueError(f"not an RFC 6241 error-tag: {tag}")
        if error_type not in ERROR_TYPES:
            raise ValueError(f"not an RFC 6241 error-type: {error_type}")
        super().__init__(message)
        self.tag = tag
        self.message = message
        self.error_type = error_type
        self.path = path
        self.info = tuple(info)
        self.app_tag = app_tag
        self.severity = severity
        self.path_namespaces = dict(path_namespaces) if path_namespaces else None

    def __repr__(self) -> str:
        return f"RpcError({self.tag!r}, {self.message!r}, path={self.path!r})"

    def to_element(self, namespace_of: Callable[[str], Optional[str]] = lambda module: None) -> etree._Element:
        """The ``<rpc-error>``; ``namespace_of(module name)`` gives the namespaces the
        error-path's prefixes are declared with (RFC 6241 §4.3: an XPath evaluated with the
        namespace declarations in scope on the rpc-error)."""
        path, namespaces = self.path, self.path_namespaces or {}
        if path and self.path_namespaces is None:
            path, namespaces = qualified_path(path, namespace_of)
        err = etree.Element(_nc("rpc-error"), nsmap={None: NC_NS, **namespaces})
        etree.SubElement(err, _nc("error-type")).text = self.error_type
        etree.SubElement(err, _nc("error-tag")).text = self.tag
        etree.SubElement(err, _nc("error-severity")).text = self.severity
        if self.app_tag:
            etree.SubElement(err, _nc("error-app-tag")).text = self.app_tag
        if path:
            etree.SubElement(err, _nc("error-path")).text = path
        msg = etree.SubElement(err, _nc("error-message"))
        msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        msg.text = self.message
        if self.info:
            info = etree.SubElement(err, _nc("error-info"))
            for qname, text in self.info:
                etree.SubElement(info, qname).text = text
        return err


_PREDICATE_KEY = re.compile(r"^\s*(?:([A-Za-z_][\w.\-]*):)?([A-Za-z_][\w.\-]*)\s*=(.*)$", re.S)
_STEP = re.compile(r"^(?:([A-Za-z_][\w.\-]*):)?([A-Za-z_][\w.\-]*)(.*)$", re.S)


def qualified_path(path: str, namespace_of: Callable[[str], Optional[str]]) -> tuple[str, dict[str, str]]:
    """A libyang data path (``/m:a/b[k='v']``) as an XPath with a prefix on every step and
    every key name (``/m:a/m:b[m:k='v']``), and the prefix -> namespace declarations it
    needs. Module names are the prefixes. A module ``namespace_of`` does not know keeps
    the path as it was."""
    if not path.startswith("/") or path == "/":
        return path, {}
    namespaces: dict[str, str] = {}
    steps = []
    module = ""
    for step in split_outside(path[1:], "/"):
        match = _STEP.match(step)
        if match is None:
            return path, {}
        module = match.group(1) or module
        namespace = namespace_of(module) if module else None
        if namespace is None:
            return path, {}
        namespaces[module] = namespace
        predicates = "".join(f"[{_qualified_predicate(p, module)}]" for p in bracket_groups(match.group(3)))
        steps.append(f"{module}:{match.group(2)}{predicates}")
    return "/" + "/".join(steps), namespaces


def _qualified_predicate(predicate: str, module: str) -> str:
    """``k='v'`` -> ``m:k='v'``; ``.='v'`` and positions stay as they are."""
    match = _PREDICATE_KEY.match(predicate)
    if match is None:
        return predicate
    return f"{match.group(1) or module}:{match.group(2)}={match.group(3)}"


class RpcErrors(Exception):
    """Several errors answered in one ``<rpc-reply>`` (continue-on-error)."""

    def __init__(self, errors: Iterable[RpcError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(e.message for e in self.errors))


# ------------------------------------------------------------------ common constructors
def bad_element(name: str, message: str, error_type: str = "protocol") -> RpcError:
    return RpcError("bad-element", message, error_type, info=[(_nc("bad-element"), name)])


def missing_element(name: str, message: str = "", error_type: str = "protocol",
                    path: Optional[str] = None) -> RpcError:
    return RpcError("missing-element", message or f"missing element {name}", error_type,
                    path=path, info=[(_nc("bad-element"), name)])


def unknown_element(name: str, message: str = "", error_type: str = "application",
                    path: Optional[str] = None) -> RpcError:
    return RpcError("unknown-element", message or f"unknown element {name}", error_type,
                    path=path, info=[(_nc("bad-element"), name)])


def unknown_namespace(name: str, namespace: str, error_type: str = "application") -> RpcError:
    return RpcError("unknown-namespace", f"unknown namespace {namespace} on {name}", error_type,
                    info=[(_nc("bad-element"), name), (_nc("bad-namespace"), namespace)])


def bad_attribute(element: str, attribute: str, message: str, error_type: str = "rpc") -> RpcError:
    return RpcError("bad-attribute", message, error_type,
                    info=[(_nc("bad-attribute"), attribute), (_nc("bad-element"), element)])


def lock_denied(holder: int, datastore: str) -> RpcError:
    # RFC 6241 §7.5: error-info carries the holder's session-id, 0 when not a NETCONF session.
    return RpcError("lock-denied", f"the {datastore} datastore is locked by session {holder}",
                    "protocol", info=[(_nc("session-id"), str(holder))])


def in_use(message: str) -> RpcError:
    return RpcError("in-use", message, "protocol")


def operation_not_supported(message: str, error_type: str = "protocol") -> RpcError:
    return RpcError("operation-not-supported", message, error_type)


def operation_failed(message: str, path: Optional[str] = None, error_type: str = "application") -> RpcError:
    return RpcError("operation-failed", message, error_type, path=path)


def invalid_value(message: str, path: Optional[str] = None, error_type: str = "application") -> RpcError:
    return RpcError("invalid-value", message, error_type, path=path)


# ------------------------------------------------------------------ libyang errors
def _libyang_error_to_rpc(message: str, path: Optional[str], app_tag: Optional[str],
                          must_app_tag: Callable[[str, str], bool] = lambda path, tag: False) -> RpcError:
    """Map one libyang validation message to the tag RFC 7950 §15 prescribes.
    ``must_app_tag(path, tag)`` says a must statement of the node at ``path`` gives that
    error-app-tag (its own error-message then replaces libyang's)."""
    low = message.lower()
    if app_tag == "must-violation" or (app_tag and path and must_app_tag(path, app_tag)):
        return RpcError("operation-failed", message, path=path, app_tag=app_tag)
    if low.startswith("unique data leaf"):
        return RpcError("operation-failed", message, path=path, app_tag=app_tag or "data-not-unique")
    if low.startswith("too many"):
        return RpcError("operation-failed", message, path=path, app_tag=app_tag or "too-many-elements")
    if low.startswith("too few"):
        return RpcError("operation-failed", message, path=path, app_tag=app_tag or "too-few-elements")
    if low.startswith("must condition"):
        return RpcError("operation-failed", message, path=path, app_tag=app_tag or "must-violation")
    if "leafref" in low or "required instance" in low or "instance-required" in low:
        return RpcError("data-missing", message, path=path, app_tag=app_tag or "instance-required")
    if low.startswith("mandatory choice"):
        return RpcError("data-missing", message, path=path, app_tag=app_tag or "missing-choice")
    if low.startswith("mandatory node"):
        name = message.split('"')[1] if message.count('"') >= 2 else ""
        return RpcError("missing-element", message, path=path, app_tag=app_tag,
                        info=[(_nc("bad-element"), name)] if name else ())
    return RpcError("invalid-value", message, path=path, app_tag=app_tag)


def libyang_errors(ctx: libyang.Context, fallback: str) -> list[RpcError]:
    """Turn the errors libyang recorded on ``ctx`` into rpc-errors and clear them."""
    found: list[RpcError] = []
    err = lib.ly_err_first(ctx.cdata)
    while err != ffi.NULL:
        if err.msg != ffi.NULL:
            message = ffi.string(err.msg).decode()
            path = ffi.string(err.path).decode() if err.path != ffi.NULL else None
            app_tag = ffi.string(err.apptag).decode() if err.apptag != ffi.NULL else None
            found.append(_libyang_error_to_rpc(message, _data_path(path), app_tag,
                                               lambda p, tag: _must_gives(ctx, p, tag)))
        err = err.next
    lib.ly_err_clean(ctx.cdata, ffi.NULL)
    return found or [RpcError("operation-failed", fallback)]


_PREDICATES = re.compile(r"\[(?:[^\]'\"]|'[^']*'|\"[^\"]*\")*\]")


def _must_gives(ctx: libyang.Context, path: str, app_tag: str) -> bool:
    """Has the schema node of the data path ``path`` a must with error-app-tag ``app_tag``?"""
    try:
        snode = next(ctx.find_path(_PREDICATES.sub("", path)), None)
    except libyang.LibyangError:
        return False
    if snode is None:
        return False
    musts = lib.lysc_node_musts(snode.cdata)
    if musts == ffi.NULL:
        return False
    count = ffi.cast("uint64_t *", musts)[-1]  # libyang keeps a sized array's length before it
    return any(musts[i].eapptag != ffi.NULL and ffi.string(musts[i].eapptag).decode() == app_tag
               for i in range(count))


_LOCATION = re.compile(r'(?:Data|Schema) location "([^"]+)"')


def _data_path(location: Optional[str]) -> Optional[str]:
    """libyang stores 'Data location "/m:a/b".' (or a schema location when no instance
    exists); error-path wants just the path."""
    if not location:
        return None
    found = _LOCATION.findall(location)
    return found[-1] if found else location


def location_path(text: str) -> Optional[str]:
    """The data (or schema) path a libyang error text names, None when it names none."""
    found = _LOCATION.findall(text)
    return found[-1] if found else None


def enable_error_paths() -> None:
    """Ask libyang to record the location of each error (it does not by default)."""
    lib.ly_set_log_clb(lib.lypy_log_cb, True)

