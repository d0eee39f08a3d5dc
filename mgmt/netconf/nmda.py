"""RFC 8526 NMDA operations: ``<get-data>`` and ``<edit-data>``.

``<get-data>`` reads running, candidate, startup or operational (running merged with the
state data, as ``<get>`` shows) through the same filters as ``<get>``, plus config-filter and
max-depth. with-defaults applies to the conventional datastores only: the server does not
advertise :with-operational-defaults, so on operational it is invalid-value (RFC 8526
§3.1.1). The origin annotation is not implemented: with-origin and the origin filters
answer operation-not-supported.

``<edit-data>`` on running or candidate is ``<edit-config>`` with rollback-on-error, the
same edit engine and commit pipeline.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libyang
from lxml import etree

from mgmt.netconf.errors import (
    NC_NS, bad_element, invalid_value, missing_element, operation_not_supported, unknown_element,
)
from mgmt.netconf.filters import Filter, RequestError, children, free_node, is_config, is_list_key, top_level
from mgmt.netconf.integration import request_error
from mgmt.netconf.splice import Text

if TYPE_CHECKING:
    from mgmt.netconf.server import NetconfServer
    from mgmt.netconf.session import Session

NMDA_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
OPERATIONAL = "operational"
CONVENTIONAL = ("running", "candidate", "startup")

_GET_PARAMS = ("datastore", "subtree-filter", "xpath-filter", "config-filter", "origin-filter",
               "negated-origin-filter", "max-depth", "with-origin", "with-defaults")
_EDIT_PARAMS = ("datastore", "default-operation", "config", "url")


def _params(op: etree._Element, allowed: tuple[str, ...]) -> dict[str, list[etree._Element]]:
    """Parameters by local name (leaf-lists may repeat); anything else is unknown-element."""
    found: dict[str, list[etree._Element]] = {}
    for child in op:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        name = qname.localname
        in_namespace = qname.namespace == NMDA_NS or (qname.namespace == WD_NS and name == "with-defaults")
        if not in_namespace or name not in allowed:
            raise unknown_element(name, f"unexpected parameter {name} in {etree.QName(op).localname}", "protocol")
        found.setdefault(name, []).append(child)
    return found


def _one(params: dict[str, list[etree._Element]], name: str) -> Optional[etree._Element]:
    elems = params.get(name)
    if not elems:
        return None
    if len(elems) > 1:
        raise bad_element(name, f"{name} is given more than once")
    return elems[0]


def datastore_name(elem: Optional[etree._Element]) -> str:
    """The ietf-datastores identity a ``<datastore>`` names, e.g. ``ds:operational`` ->
    ``operational``; its prefix must be bound to the ietf-datastores namespace."""
    if elem is None:
        raise missing_element("datastore", error_type="protocol")
    text = (elem.text or "").strip()
    prefix, _, name = text.rpartition(":")
    if elem.nsmap.get(prefix or None) != DS_NS or name not in (*CONVENTIONAL, OPERATIONAL):
        raise invalid_value(f"datastore {text!r} is not one of this server's datastores "
                            "(ds:running, ds:candidate, ds:startup, ds:operational)")
    return name


def _boolean(elem: Optional[etree._Element]) -> Optional[bool]:
    if elem is None:
        return None
    text = (elem.text or "").strip()
    if text not in ("true", "false"):
        raise invalid_value(f"config-filter must be true or false, not {text!r}", error_type="protocol")
    return text == "true"


def _max_depth(elem: Optional[etree._Element]) -> Optional[int]:
    if elem is None:
        return None
    text = (elem.text or "").strip()
    if text == "unbounded":
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise invalid_value(f"max-depth must be 1..65535 or unbounded, not {text!r}", error_type="protocol")
    return int(text)


def keep_config(tree: Optional[libyang.DNode], config: bool) -> Optional[libyang.DNode]:
    """RFC 8526 config-filter: only config true (``config``) or only config false nodes,
    with the ancestors and list keys that locate them. Prunes in place; returns the new
    first node."""
    kept = [node for node in top_level(tree) if _keep_config(node, config, False)]
    return kept[0] if kept else None


def _keep_config(node: libyang.DNode, config: bool, in_list: bool) -> bool:
    """Prune below ``node``; free it and return False when nothing of it is wanted."""
    if not is_config(node):
        if config:
            free_node(node)  # a state subtree holds no configuration
        return not config  # else its whole subtree is state
    if in_list and is_list_key(node):
        return True
    inner = children(node)
    kept = [child for child in inner if _keep_config(child, config, isinstance(node, libyang.DList))]
    if config or any(not is_list_key(child) for child in kept):
        return True
    free_node(node)
    return False


class NmdaOperations:
    """``<get-data>`` / ``<edit-data>`` served by one ``NetconfServer``."""

    def __init__(self, server: "NetconfServer") -> None:
        self.server = server

    def register(self) -> None:
        self.server.register_operation(NMDA_NS, "get-data", self.get_data)
        self.server.register_operation(NMDA_NS, "edit-data", self.edit_data)

    def get_data(self, session: "Session", op: etree._Element) -> list[Text]:
        p = _params(op, _GET_PARAMS)
        name = datastore_name(_one(p, "datastore"))
        if "with-origin" in p or "origin-filter" in p or "negated-origin-filter" in p:
            if name != OPERATIONAL:
                raise invalid_value("with-origin and origin filters apply to ds:operational only",
                                    error_type="protocol")
            raise operation_not_supported("this server does not report the origin annotation; "
                                          "ask again without with-origin and origin filters")
        flt = self._filter(_one(p, "subtree-filter"), _one(p, "xpath-filter"))
        config_filter = _boolean(_one(p, "config-filter"))
        max_depth = _max_depth(_one(p, "max-depth"))
        wd = _one(p, "with-defaults")
        if wd is not None and name == OPERATIONAL:
            raise invalid_value("with-defaults does not apply to ds:operational here "
                                "(:with-operational-defaults is not supported)", error_type="protocol")
        mode = self.server._with_defaults(wd)
        splices = []
        if name == OPERATIONAL:
            state = self.server.operational_tree(self.server.read_request(session, flt, max_depth),
                                                 config=config_filter is not False,
                                                 state=config_filter is not True)
            tree, splices = state.tree, state.splices
        elif config_filter is False:
            tree = None  # a conventional datastore holds configuration only
        else:
            with self.server.lock:
                tree = self.server.datastores.get(name)

        def finish(tree: libyang.DNode) -> Optional[libyang.DNode]:
            return keep_config(tree, config_filter) if config_filter is not None else tree

        return self.server._data_reply(session, tree, flt, mode, max_depth, NMDA_NS, finish, splices,
                                       config_only=name != OPERATIONAL)

    def _filter(self, subtree: Optional[etree._Element], xpath: Optional[etree._Element]) -> Filter:
        if subtree is not None and xpath is not None:
            raise bad_element("xpath-filter", "give subtree-filter or xpath-filter, not both")
        try:
            if subtree is not None:
                return Filter.from_subtree(subtree, self.server.ctx)
            if xpath is not None:
                return Filter.from_xpath((xpath.text or "").strip(), xpath.nsmap, self.server.ctx)
        except RequestError as err:
            raise request_error(err) from None
        return Filter.none()

    def edit_data(self, session: "Session", op: etree._Element) -> list[etree._Element]:
        p = _params(op, _EDIT_PARAMS)
        name = datastore_name(_one(p, "datastore"))
        if name not in ("running", "candidate"):
            raise invalid_value(f"ds:{name} is not writable with edit-data (use ds:running or ds:candidate)",
                                error_type="protocol")
        if "url" in p:
            raise operation_not_supported("the :url capability is not supported")
        config = _one(p, "config")
        if config is None:
            raise missing_element("config", error_type="protocol")
        default_op = _one(p, "default-operation")
        operation = (default_op.text or "").strip() if default_op is not None else "merge"
        if operation not in ("merge", "replace", "none"):
            raise invalid_value(f"unknown default-operation {operation!r}", error_type="protocol")
        edit = etree.Element(f"{{{NC_NS}}}edit-config", nsmap={None: NC_NS})
        etree.SubElement(etree.SubElement(edit, f"{{{NC_NS}}}target"), f"{{{NC_NS}}}{name}")
        etree.SubElement(edit, f"{{{NC_NS}}}default-operation").text = operation
        # RFC 8526 §3.1.2: an error restores the datastore as it was
        etree.SubElement(edit, f"{{{NC_NS}}}error-option").text = "rollback-on-error"
        content = etree.SubElement(edit, f"{{{NC_NS}}}config")
        content.extend(child for child in list(config) if isinstance(child.tag, str))
        return self.server._edit_config(session, edit)

