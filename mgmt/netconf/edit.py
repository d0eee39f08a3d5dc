"""``<edit-config>`` (RFC 6241 §7.2) applied to a libyang tree.

The ``<config>`` element is walked with lxml rather than parsed by libyang: each element
is resolved against the schema, given its effective operation (its own ``nc:operation``
attribute, else its parent's, else the default-operation) and applied to the tree with
``lyd_new_path`` / free. Walking it ourselves gives each failure its RFC 6241 error-tag and
the instance identifier of the node (error-path), which parsing the whole edit at once
cannot. ordered-by user ``insert`` attributes are not supported.

The RFC 6243 ``default`` attribute (namespace ``urn:ietf:params:xml:ns:netconf:default:1.0``)
set to ``true`` or ``1`` on a leaf returns it to its default: the value given must be the
schema default, the effective operation create, merge or replace (§4.5.2, §4.5.1 for
copy-config, whose inline content is applied by this module too).
"""
from __future__ import annotations

from typing import Optional

import libyang
from _libyang import ffi, lib
from lxml import etree

from mgmt.netconf.datastore import first, settle_default_flags
from mgmt.netconf.errors import (
    NC_NS, RpcError, RpcErrors, bad_attribute, missing_element, unknown_element,
    unknown_namespace,
)

OPERATIONS = ("merge", "replace", "create", "delete", "remove")
DEFAULT_OPERATIONS = ("merge", "replace", "none")
ERROR_OPTIONS = ("stop-on-error", "continue-on-error", "rollback-on-error")
_OP_ATTR = f"{{{NC_NS}}}operation"
_DEFAULT_ATTR = "{urn:ietf:params:xml:ns:netconf:default:1.0}default"
_CREATING = ("merge", "replace", "create")


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise RpcError("invalid-value", "a key value cannot hold both quote characters")


def _local(elem: etree._Element) -> tuple[Optional[str], str]:
    qname = etree.QName(elem)
    return qname.namespace, qname.localname


class _Edit:
    def __init__(self, ctx: libyang.Context, tree: Optional[libyang.DNode], continue_on_error: bool):
        self.ctx = ctx
        self.tree = tree
        self.continue_on_error = continue_on_error
        self.errors: list[RpcError] = []
        self._modules = {ffi.string(m.cdata.ns).decode(): m.name() for m in ctx if m.implemented()}

    # ---------------------------------------------------------------- schema
    def _module_of(self, elem: etree._Element) -> str:
        namespace, name = _local(elem)
        if namespace is None or namespace not in self._modules:
            raise unknown_namespace(name, namespace or "")
        return self._modules[namespace]

    def _snode(self, elem: etree._Element, parent: Optional[libyang.SNode],
               parent_path: str) -> tuple[libyang.SNode, str]:
        """The schema node of ``elem`` and its path segment (module-qualified when the
        module changes)."""
        module = self._module_of(elem)
        name = _local(elem)[1]
        found = lib.lys_find_child(parent.cdata if parent is not None else ffi.NULL,
                                   self.ctx.get_module(module).cdata, name.encode(), 0, 0, 0)
        if found == ffi.NULL:
            raise unknown_element(name, path=parent_path or "/")
        snode = libyang.SNode.new(self.ctx, found)
        if snode.keyword() not in ("container", "list", "leaf", "leaf-list"):
            raise unknown_element(name, path=parent_path or "/")
        if snode.config_false():
            raise RpcError("invalid-value", f"{name} is state data, not configuration",
                           path=f"{parent_path}/{module}:{name}")
        qualify = parent is None or parent.module().name() != module
        return snode, f"{module}:{name}" if qualify else name

    # ---------------------------------------------------------------- paths
    def _instance_path(self, elem: etree._Element, snode: libyang.SNode, segment: str,
                       parent_path: str) -> str:
        base = f"{parent_path}/{segment}"
        kind = snode.keyword()
        if kind == "list":
            predicates = []
            for key in snode.keys():
                key_elem = self._child(elem, _local(elem)[0], key.name())
                if key_elem is None:
                    raise missing_element(key.name(), f"list entry {base} needs its key {key.name()}",
                                          error_type="protocol", path=base)
                predicates.append(f"[{key.name()}={_quote(self._value(key_elem, key))}]")
            return base + "".join(predicates)
        if kind == "leaf-list":
            return f"{base}[.={_quote(self._value(elem, snode))}]"
        return base

    @staticmethod
    def _child(elem: etree._Element, namespace: str, name: str) -> Optional[etree._Element]:
        for child in elem:
            if isinstance(child.tag, str) and _local(child) == (namespace, name):
                return child
        return None

    def _value(self, elem: etree._Element, snode: libyang.SNode) -> str:
        text = (elem.text or "").strip() if len(elem) == 0 else None
        if text is None:
            raise RpcError("invalid-value", f"{snode.name()} takes a value, not child elements")
        if ":" in text and self._is_identityref(snode):
            prefix, _, ident = text.partition(":")
            namespace = elem.nsmap.get(prefix)
            if namespace in self._modules:
                text = f"{self._modules[namespace]}:{ident}"
        return text

    @staticmethod
    def _is_identityref(snode: libyang.SNode) -> bool:
        try:
            return snode.type().base() == libyang.Type.IDENT
        except AttributeError:
            return False

    # ---------------------------------------------------------------- tree
    def _find(self, path: str) -> Optional[libyang.DNode]:
        if self.tree is None:
            return None
        try:
            return self.tree.find_path(path)
        except libyang.LibyangError:
            return None

    def _exists(self, path: str) -> Optional[libyang.DNode]:
        """The node, unless absent or present only as an implicit default."""
        node = self._find(path)
        if node is None or node.flags()["default"]:
            return None
        return node

    def _create(self, path: str, value: Optional[str]) -> None:
        try:
            created = self.ctx.create_data_path(path, value=value, update=True)
        except libyang.LibyangError as exc:
            detail = str(exc).split(f"{path}: ", 1)[-1].split(": Schema location", 1)[0]
            raise RpcError("invalid-value", detail, path=path) from None
        created = first(created)
        if self.tree is None:
            self.tree = created
        else:
            self.tree.merge(created, with_siblings=True, destruct=True)
            self.tree = first(self.tree)
            settle_default_flags(self._find(path))

    def _remove(self, node: libyang.DNode) -> None:
        parent = node.parent()
        self._free(node)
        settle_default_flags(parent)

    def _free(self, node: libyang.DNode) -> None:
        if node.parent() is None and self.tree is not None and node.cdata == self.tree.cdata:
            following = node.next()
            node.free(with_siblings=False)
            self.tree = first(following) if following is not None else None
        else:
            node.free(with_siblings=False)
            self.tree = first(self.tree)

    # ---------------------------------------------------------------- walk
    def apply_children(self, parent_elem: etree._Element, parent: Optional[libyang.SNode],
                       parent_path: str, inherited: str) -> None:
        key_names = {k.name() for k in parent.keys()} if parent is not None and parent.keyword() == "list" else set()
        for elem in parent_elem:
            if not isinstance(elem.tag, str):
                continue  # comments, processing instructions
            if key_names and _local(elem)[1] in key_names:
                continue  # part of the entry's path
            try:
                self.apply(elem, parent, parent_path, inherited)
            except RpcError as err:
                if not self.continue_on_error:
                    raise
                self.errors.append(err)

    def apply(self, elem: etree._Element, parent: Optional[libyang.SNode], parent_path: str,
              inherited: str) -> None:
        snode, segment = self._snode(elem, parent, parent_path)
        op = elem.get(_OP_ATTR, inherited)
        if op not in OPERATIONS and not (op == "none" and _OP_ATTR not in elem.attrib):
            raise bad_attribute(_local(elem)[1], "operation", f"unknown operation {op!r}")
        path = self._instance_path(elem, snode, segment, parent_path)
        leafy = snode.keyword() in ("leaf", "leaf-list")
        existing = self._exists(path)
        if self._returns_to_default(elem, snode, path, op, existing):
            return
        if op in ("delete", "remove"):
            if existing is None:
                if op == "delete":
                    raise RpcError("data-missing", f"{path} does not exist", path=path)
                return
            self._remove(existing)
            return
        if op == "create" and existing is not None:
            raise RpcError("data-exists", f"{path} already exists", path=path)
        if op == "replace" and existing is not None:
            self._remove(existing)
        if op == "none":
            if existing is None and (leafy or not self._creates_below(elem)):
                raise RpcError("data-missing", f"{path} does not exist", path=path)
            if not leafy:
                self.apply_children(elem, snode, path, "none")
            return
        if snode.keyword() == "leaf":
            value = self._value(elem, snode)
            self._create(path, value if snode.type().base() != libyang.Type.EMPTY else None)
            return
        self._create(path, None)
        if not leafy:
            # inside create/replace the new subtree is built with merge semantics
            self.apply_children(elem, snode, path, "merge" if op in _CREATING else op)

    def _returns_to_default(self, elem: etree._Element, snode: libyang.SNode, path: str, op: str,
                            existing: Optional[libyang.DNode]) -> bool:
        """RFC 6243 §4.5.2: a leaf tagged ``default="true"`` goes back to its default (its
        explicit node removed). False when the element has no such tag."""
        tag = elem.get(_DEFAULT_ATTR)
        if tag is None or tag in ("false", "0"):
            return False
        name = _local(elem)[1]
        if tag not in ("true", "1"):
            raise bad_attribute(name, "default", f"the default attribute is true or false, not {tag!r}",
                                "application")
        if op not in _CREATING:
            raise RpcError("invalid-value", f"{path}: the default attribute needs the operation create, "
                           f"merge or replace, not {op}", path=path)
        default = _schema_default(self.ctx, snode)
        if default is None:
            raise RpcError("invalid-value", f"{path} has no default value to return to", path=path)
        given = self._canonical(path, self._value(elem, snode))
        if given != default:
            raise RpcError("invalid-value", f"{path}: {given!r} is not the default value {default!r}", path=path)
        if op == "create" and existing is not None:
            raise RpcError("data-exists", f"{path} already exists", path=path)
        if existing is not None:
            self._remove(existing)
        return True

    def _canonical(self, path: str, value: str) -> str:
        """The canonical form of ``value`` for the leaf at ``path`` (invalid-value if it is
        not one)."""
        try:
            node = self.ctx.create_data_path(path, value=value)
        except libyang.LibyangError as exc:
            raise RpcError("invalid-value", f"{path}: {exc}", path=path) from None
        try:
            leaf = first(node).find_path(path)
            value_p = lib.lyd_get_value(leaf.cdata)
            return ffi.string(value_p).decode() if value_p != ffi.NULL else ""
        finally:
            first(node).free(with_siblings=True)

    @staticmethod
    def _creates_below(elem: etree._Element) -> bool:
        return any(d.get(_OP_ATTR) in _CREATING for d in elem.iterdescendants() if isinstance(d.tag, str))


def _schema_default(ctx: libyang.Context, snode: libyang.SNode) -> Optional[str]:
    """The canonical default value of a leaf, None when it has none (or is not a leaf)."""
    if snode.keyword() != "leaf":
        return None
    leaf = ffi.cast("struct lysc_node_leaf *", snode.cdata)
    if leaf.dflt == ffi.NULL:
        return None
    return ffi.string(lib.lyd_value_get_canonical(ctx.cdata, leaf.dflt)).decode()


def apply_edit(ctx: libyang.Context, tree: Optional[libyang.DNode], config: etree._Element,
               default_operation: str = "merge",
               error_option: str = "stop-on-error") -> tuple[Optional[libyang.DNode], list[RpcError]]:
    """Apply the children of ``config`` to ``tree`` (changed or freed: pass a copy).

    Returns the new first node and, with continue-on-error, the errors met along the way;
    otherwise the first error is raised as RpcErrors, and the tree has been freed.
    """
    if default_operation not in DEFAULT_OPERATIONS:
        raise RpcError("invalid-value", f"unknown default-operation {default_operation!r}", "protocol")
    if error_option not in ERROR_OPTIONS:
        raise RpcError("invalid-value", f"unknown error-option {error_option!r}", "protocol")
    if default_operation == "replace":
        # RFC 6241 §7.2: the <config> content completely replaces the datastore's
        if tree is not None:
            tree.free(with_siblings=True)
        tree = None
    edit = _Edit(ctx, tree, continue_on_error=error_option == "continue-on-error")
    try:
        edit.apply_children(config, None, "", default_operation)
    except RpcError as err:
        if edit.tree is not None:
            edit.tree.free(with_siblings=True)
        raise RpcErrors([err]) from None
    return edit.tree, edit.errors
