"""NETCONF filters: RFC 6241 subtree (§6) and XPath (§8.9) filtering of libyang data,
and request plans that let a state provider build only what a filter can select.

How the server uses this module for a read (``<get>``, ``<get-config>``, ``<get-data>``)::

    flt = Filter.from_subtree(filter_elem, ctx)        # or Filter.from_xpath(expr, nsmap, ctx)
    tree = provider.build(flt.plan)                    # a fresh tree the caller owns
    tree = flt.apply(tree)                             # exact filter; prunes in place

``Filter.apply`` prunes the tree it is given in place and returns the new first top-level
node (or ``None`` when nothing is selected); the handle passed in must not be used
afterwards because the node it points to may have been freed.

A :class:`FilterPlan` over-approximates the selection: everything a filter can select is
inside the plan, so the provider may build more than needed but never less. Its questions
take schema paths written the libyang way, module name on the first node and wherever the
module changes (``/dmm-nf:state/binding-cache/binding``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Optional, Union

import libyang
from _libyang import ffi, lib
from lxml import etree

if TYPE_CHECKING:
    from mgmt.netconf.budget import RequestBudget
    from mgmt.netconf.xpath_worker import XPathWorkers

NETCONF_BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


class RequestError(Exception):
    """A bad request argument; the server answers it with one ``<rpc-error>``.

    ``tag`` is the RFC 6241 error-tag, ``error_type`` the error-type; ``app_tag`` and
    ``path`` fill error-app-tag and error-path when set; ``bad_element`` and
    ``bad_attribute`` the error-info the tag calls for (RFC 6241 Appendix A);
    ``str(err)`` is error-message.
    """

    def __init__(
        self,
        message: str,
        tag: str = "invalid-value",
        error_type: str = "application",
        app_tag: Optional[str] = None,
        path: Optional[str] = None,
        bad_element: Optional[str] = None,
        bad_attribute: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.tag = tag
        self.error_type = error_type
        self.app_tag = app_tag
        self.path = path
        self.bad_element = bad_element
        self.bad_attribute = bad_attribute


# ---------------------------------------------------------------------------- helpers
def _addr(node: libyang.DNode) -> int:
    return int(ffi.cast("uintptr_t", node.cdata))


def node_namespace(node: libyang.DNode) -> str:
    return ffi.string(node.cdata.schema.module.ns).decode()


def node_module(node: libyang.DNode) -> str:
    return ffi.string(node.cdata.schema.module.name).decode()


def canonical_value(node: libyang.DNode) -> str:
    value = lib.lyd_get_value(node.cdata)
    return "" if value == ffi.NULL else ffi.string(value).decode()


def is_list_key(node: libyang.DNode) -> bool:
    return bool(node.cdata.schema.flags & lib.LYS_KEY)


def is_config(node: libyang.DNode) -> bool:
    return bool(node.cdata.schema.flags & lib.LYS_CONFIG_W)


def children(node: libyang.DNode) -> list[libyang.DNode]:
    if isinstance(node, libyang.DContainer):  # containers, lists, notifications, RPCs
        return list(node.children())
    return []


def top_level(tree: Optional[libyang.DNode]) -> list[libyang.DNode]:
    if tree is None:
        return []
    return list(tree.first_sibling().siblings())


def module_by_namespace(ctx: libyang.Context, namespace: str) -> Optional[str]:
    for module in ctx:
        if ffi.string(module.cdata.ns).decode() == namespace and module.implemented():
            return module.name()
    return None


def free_node(node: libyang.DNode) -> None:
    lib.lyd_free_tree(node.cdata)


# A selection maps a data node (by address) to ALL (its whole subtree) or to the
# selection among its children.
_ALL = "all"
_Selection = dict[int, Union[str, "_Selection"]]


def _select(selection: _Selection, key: int, sub: Union[str, _Selection]) -> None:
    current = selection.get(key)
    if current is None:
        selection[key] = sub
    elif current == _ALL or sub == _ALL:
        selection[key] = _ALL
    else:
        for child_key, child_sub in sub.items():
            _select(current, child_key, child_sub)


def trim_depth(node: libyang.DNode, levels: int) -> None:
    """Keep ``levels`` levels of ``node``'s subtree (1: the node alone); list keys stay,
    since an entry is identified by them (RFC 8526 max-depth)."""
    for child in children(node):
        if levels <= 1:
            if not is_list_key(child):
                free_node(child)
        else:
            trim_depth(child, levels - 1)


def prune(nodes: Iterable[libyang.DNode], selection: _Selection, in_list: bool = False,
          max_depth: Optional[int] = None) -> None:
    """Free every node of ``nodes`` (and below) that ``selection`` does not keep; below
    each selected node keep at most ``max_depth`` levels (None: all).

    Keys of a kept list entry always stay: an entry is identified by them.
    """
    for node in list(nodes):
        sub = selection.get(_addr(node))
        if sub == _ALL:
            if max_depth is not None:
                trim_depth(node, max_depth)
            continue
        if sub is None:
            if not (in_list and is_list_key(node)):
                free_node(node)
            continue
        prune(children(node), sub, isinstance(node, libyang.DList), max_depth)


def prune_forest(tree: Optional[libyang.DNode], selection: _Selection,
                 max_depth: Optional[int] = None) -> Optional[libyang.DNode]:
    """Prune a whole forest; return its new first node (``None`` if nothing is left)."""
    nodes = top_level(tree)
    kept = [n for n in nodes if _addr(n) in selection]
    prune(nodes, selection, max_depth=max_depth)
    return kept[0] if kept else None


# ---------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class PlanNode:
    """One node a filter reaches.

    ``module`` is None when the filter did not name a namespace (any module matches);
    ``children`` None means the whole subtree; ``key`` (lists only) holds the key
    leaves the filter's content-match nodes require — all of them, or only some (a filter on
    the first key of a two-key list) — None when any entry may match. ``whole`` says the
    filter selects this node with its whole subtree unconditionally (a subtree selection
    node, a predicate-free XPath step), not just possibly (``children`` None is also how a
    node with only content-match children over-approximates).
    """

    name: str
    module: Optional[str] = None
    children: Optional[tuple["PlanNode", ...]] = None
    key: Optional[Mapping[str, str]] = None
    whole: bool = False

    def matches(self, module: str, name: str) -> bool:
        return self.name == name and (self.module is None or self.module == module)


def _parse_schema_path(path: str) -> list[tuple[str, str]]:
    """``/m:a/b/n:c`` -> [(m, a), (m, b), (n, c)]; a step inherits its parent's module."""
    steps: list[tuple[str, str]] = []
    module = ""
    for step in path.strip("/").split("/"):
        if ":" in step:
            module, step = step.split(":", 1)
        if not module:
            raise ValueError(f"schema path {path!r} must start with a module name")
        steps.append((module, step))
    return steps


@dataclass(frozen=True)
class FilterPlan:
    """What a read request can select; ``roots`` None means everything."""

    roots: Optional[tuple[PlanNode, ...]] = None

    @classmethod
    def everything(cls) -> "FilterPlan":
        return cls(None)

    def _reach(self, path: str) -> Iterator[Optional[PlanNode]]:
        """Plan nodes at ``path``; None stands for "inside a whole selected subtree"."""
        if self.roots is None:
            yield None
            return
        level: list[PlanNode] = list(self.roots)
        steps = _parse_schema_path(path)
        for depth, (module, name) in enumerate(steps):
            matched = [p for p in level if p.matches(module, name)]
            last = depth == len(steps) - 1
            if last:
                yield from matched
                return
            level = []
            for plan_node in matched:
                if plan_node.children is None:
                    yield None
                else:
                    level.extend(plan_node.children)

    def selects(self, path: str) -> bool:
        """True if anything at or under the schema node ``path`` may be selected."""
        return any(True for _ in self._reach(path))

    def selects_whole(self, path: str) -> bool:
        """True when every way the filter reaches the schema node ``path`` selects it, with all
        of its subtree, on no condition below its ancestors: then each instance there is
        either selected whole or left out with an ancestor. A printer may then print the
        instances itself and let the filter decide only about their ancestors."""
        if self.roots is None:
            return False
        steps = _parse_schema_path(path)
        level: list[PlanNode] = list(self.roots)
        reached = False
        for depth, (module, name) in enumerate(steps):
            below: list[PlanNode] = []
            for plan_node in (p for p in level if p.matches(module, name)):
                if plan_node.children is None:
                    if not plan_node.whole:
                        return False
                    reached = True
                elif depth == len(steps) - 1:
                    return False  # the filter picks among the node's children
                else:
                    below.extend(plan_node.children)
            level = below
        return reached

    def keys(self, path: str) -> Optional[list[dict[str, str]]]:
        """For the list at ``path``: the key values (all key leaves, or only those the filter
        names) that every selectable entry has, one dict per alternative; None when any entry
        may be selected (build them all). ``[]`` means none."""
        found: list[dict[str, str]] = []
        for plan_node in self._reach(path):
            if plan_node is None or plan_node.key is None:
                return None
            key = dict(plan_node.key)
            if key not in found:
                found.append(key)
        return found

    def top_level(self) -> Optional[set[tuple[Optional[str], str]]]:
        """(module, name) of every top-level node the plan reaches; None: all of them."""
        if self.roots is None:
            return None
        return {(p.module, p.name) for p in self.roots}


def _list_keys(ctx: libyang.Context, schema_path: Optional[str]) -> Optional[list[str]]:
    if schema_path is None:
        return None
    try:
        snode = next(ctx.find_path(schema_path), None)
    except libyang.LibyangError:
        return None
    if isinstance(snode, libyang.SList):
        return [k.name() for k in snode.keys()]
    return None


def _child_schema_path(parent: Optional[str], module: Optional[str], name: str, parent_module: Optional[str]) -> Optional[str]:
    if module is None:
        return None
    if parent is None:
        return f"/{module}:{name}"
    if parent_module == module:
        return f"{parent}/{name}"
    return f"{parent}/{module}:{name}"


# ---------------------------------------------------------------------------- subtree
def _qname(elem: etree._Element) -> tuple[Optional[str], str]:
    qname = etree.QName(elem)
    return (qname.namespace or None), qname.localname


def _element_children(elem: etree._Element) -> list[etree._Element]:
    return [c for c in elem if isinstance(c.tag, str)]


def _is_content_match(elem: etree._Element) -> bool:
    return not _element_children(elem) and bool((elem.text or "").strip())


class SubtreeFilter:
    """RFC 6241 §6 subtree filter evaluated on libyang data trees."""

    def __init__(self, elements: list[etree._Element], ctx: libyang.Context) -> None:
        self.elements = elements
        self.ctx = ctx
        self._modules: dict[str, Optional[str]] = {}

    def _module(self, namespace: Optional[str]) -> Optional[str]:
        if namespace is None:
            return None
        if namespace not in self._modules:
            self._modules[namespace] = module_by_namespace(self.ctx, namespace)
        return self._modules[namespace]

    # -- matching
    def _name_matches(self, node: libyang.DNode, elem: etree._Element) -> bool:
        namespace, name = _qname(elem)
        if node.name() != name:
            return False
        return namespace is None or namespace == node_namespace(node)

    def _attributes_match(self, node: libyang.DNode, elem: etree._Element) -> bool:
        if not elem.attrib:
            return True
        meta = node.meta()
        for attr, value in elem.attrib.items():
            namespace, name = _qname_of_attr(attr)
            module = self._module(namespace) if namespace else None
            keys = [f"{module}:{name}"] if module else [name] + [k for k in meta if k.endswith(":" + name)]
            if not any(meta.get(k) == value for k in keys):
                return False
        return True

    def _value_matches(self, node: libyang.DNode, elem: etree._Element) -> bool:
        wanted = (elem.text or "").strip()
        actual = canonical_value(node)
        if actual == wanted:
            return True
        # identityref: the filter writes prefix:identity with its own XML prefix
        if ":" in wanted and ":" in actual:
            prefix, ident = wanted.split(":", 1)
            namespace = elem.nsmap.get(prefix)
            return namespace is not None and f"{self._module(namespace)}:{ident}" == actual
        return False

    def _matches(self, node: libyang.DNode, elem: etree._Element) -> bool:
        return self._name_matches(node, elem) and self._attributes_match(node, elem)

    # -- selection (RFC 6241 §6.2)
    def _select_siblings(
        self, nodes: list[libyang.DNode], elems: list[etree._Element], budget: Optional["RequestBudget"] = None,
    ) -> Optional[Union[str, _Selection]]:
        content = [e for e in elems if _is_content_match(e)]
        others = [e for e in elems if not _is_content_match(e)]
        selection: _Selection = {}
        for elem in content:
            if budget is not None:
                budget.tick()
            hits = [
                n for n in nodes
                if isinstance(n, libyang.DLeaf) and self._matches(n, elem) and self._value_matches(n, elem)
            ]
            if not hits:
                return None  # one false content match deselects the whole parent
            for node in hits:
                selection[_addr(node)] = _ALL
        if not others:
            return _ALL  # only content match nodes: the whole parent is selected
        for elem in others:
            sub_elems = _element_children(elem)
            for node in nodes:
                if budget is not None:
                    budget.tick()
                if not self._matches(node, elem):
                    continue
                if not sub_elems:
                    _select(selection, _addr(node), _ALL)
                    continue
                sub = self._select_siblings(children(node), sub_elems, budget)
                if sub is not None:
                    _select(selection, _addr(node), sub)
        return selection or None

    def selection(self, tree: Optional[libyang.DNode], budget: Optional["RequestBudget"] = None) -> _Selection:
        if not self.elements:
            return {}  # RFC 6241 §6.4.2: an empty filter selects nothing
        nodes = top_level(tree)
        sub = self._select_siblings(nodes, self.elements, budget)
        if sub is None:
            return {}
        if sub == _ALL:
            return {_addr(n): _ALL for n in nodes}
        return sub

    # -- plan
    def _plan_node(
        self, elem: etree._Element, parent_path: Optional[str], parent_module: Optional[str], known: bool
    ) -> PlanNode:
        namespace, name = _qname(elem)
        module = self._module(namespace) if namespace else (parent_module if known else None)
        if namespace is None:
            module = None  # RFC 6241 §6.2.2: no namespace matches any module
        path = _child_schema_path(parent_path, module, name, parent_module) if known else None
        subs = _element_children(elem)
        if not subs:
            # a selection node; text makes it a content match, attributes a condition
            return PlanNode(name, module, whole=not (elem.text or "").strip() and not elem.attrib)
        key: Optional[dict[str, str]] = None
        key_names = _list_keys(self.ctx, path)
        if key_names:
            matched = {
                _qname(c)[1]: (c.text or "").strip() for c in subs if _is_content_match(c)
            }
            if any(k in matched for k in key_names):
                key = {k: matched[k] for k in key_names if k in matched}
        if all(_is_content_match(c) for c in subs):
            return PlanNode(name, module, None, key)
        children = tuple(self._plan_node(c, path, module, path is not None) for c in subs)
        return PlanNode(name, module, children, key)

    def plan(self) -> FilterPlan:
        if self.elements and all(_is_content_match(e) for e in self.elements):
            return FilterPlan.everything()
        return FilterPlan(tuple(self._plan_node(e, None, None, True) for e in self.elements))


def _qname_of_attr(attr: str) -> tuple[Optional[str], str]:
    if attr.startswith("{"):
        namespace, name = attr[1:].split("}", 1)
        return namespace, name
    return None, attr


# ---------------------------------------------------------------------------- xpath
_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|(?<![\w.\-])([A-Za-z_][\w.\-]*):(?![:=])")


def xpath_to_module_prefixes(expr: str, nsmap: Mapping[Optional[str], str], ctx: libyang.Context) -> str:
    """Rewrite the XML prefixes of ``expr`` (bound in ``nsmap``) to the module names
    libyang expects. A prefix that is neither bound nor a module name is an error."""
    module_names = {m.name() for m in ctx}

    def rewrite(match: re.Match[str]) -> str:
        prefix = match.group(1)
        if prefix is None:
            return match.group(0)
        if prefix in nsmap and nsmap[prefix]:
            module = module_by_namespace(ctx, nsmap[prefix])
            if module is None:
                raise RequestError(f"XPath filter: no module has namespace {nsmap[prefix]}")
            return module + ":"
        if prefix in module_names:
            return match.group(0)
        raise RequestError(f"XPath filter: prefix {prefix!r} is not declared", tag="invalid-value")

    return _TOKEN.sub(rewrite, expr)


def split_outside(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is outside quotes and brackets."""
    parts, depth, quote, start = [], 0, "", 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return parts


_STEP = re.compile(r"^\s*(?:([A-Za-z_][\w.\-]*):)?([A-Za-z_][\w.\-]*)\s*((?:\[.*\])*)\s*$")
_EQUALITY = re.compile(r"""^\s*(?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*$""")


def bracket_groups(text: str) -> list[str]:
    """``[a][b[c]]`` -> ["a", "b[c]"] (quotes respected)."""
    groups, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
            if depth == 1:
                start = i + 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                groups.append(text[start:i])
    return groups


def _predicate_equalities(predicates: str) -> dict[str, str]:
    """``[a='1'][b="2" and c='3']`` -> {a: 1, b: 2, c: 3}; other predicates add nothing
    (which only widens the plan)."""
    found: dict[str, str] = {}
    for predicate in bracket_groups(predicates):
        for term in split_outside(predicate, " and "):
            match = _EQUALITY.match(term)
            if match:
                found[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
    return found


def _xpath_plan_path(path: str, ctx: libyang.Context) -> Optional[PlanNode]:
    """Plan for one absolute location path (module-name prefixes); None: everything."""
    if not path.startswith("/") or path.startswith("//"):
        return None
    steps = split_outside(path[1:], "/")
    parsed: list[tuple[str, str, dict[str, str]]] = []
    module = ""
    plain = True  # child steps only, no predicate: the last node is selected whole
    for step in steps:
        match = _STEP.match(step)
        if not match or (not match.group(1) and not module):
            plain = False
            break  # wildcard, axis, function or '//' : keep the whole subtree from here
        plain = plain and not match.group(3)
        module = match.group(1) or module
        parsed.append((module, match.group(2), _predicate_equalities(match.group(3) or "")))
    if not parsed:
        return None
    node: Optional[PlanNode] = None
    schema_path = ""
    prev_module = ""
    paths = []
    for module, name, _eq in parsed:
        schema_path += f"/{name}" if module == prev_module else f"/{module}:{name}"
        prev_module = module
        paths.append(schema_path)
    for (module, name, equalities), schema_path in reversed(list(zip(parsed, paths))):
        key = None
        key_names = _list_keys(ctx, schema_path)
        if key_names and any(k in equalities for k in key_names):
            key = {k: equalities[k] for k in key_names if k in equalities}
        node = PlanNode(name, module, None if node is None else (node,), key, whole=plain and node is None)
    return node


_EMPTY_SET_MISJUDGED = re.compile(r"result is not a node set|Cannot apply XPath operation [\w ]+ on boolean")
_PATH_STEP = re.compile(r"(?:[A-Za-z_][\w.\-]*::)?(?:\*|\.\.?|node\(\)|text\(\)|@?[A-Za-z_][\w.\-]*(?::(?:\*|[A-Za-z_][\w.\-]*))?)")
_LOCATION_PATH = re.compile(rf"(?://?{_PATH_STEP.pattern})+")


def _outside_brackets(text: str) -> str:
    """``text`` without its predicates (``[...]``, quotes respected)."""
    kept, depth, quote = [], 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"" and depth:
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            kept.append(ch)
    return "".join(kept)


def is_location_path(expr: str) -> bool:
    """True when ``expr`` is an absolute location path (XPath 1.0 §2): steps and predicates
    only, no operator or function outside its predicates; its value is always a node set."""
    return _LOCATION_PATH.fullmatch(_outside_brackets(expr.strip())) is not None


def _bounded_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//"):
        return False
    for step in split_outside(path[1:], "/"):
        match = _STEP.match(step)
        if match is None:
            return False
        for predicate in bracket_groups(match.group(3) or ""):
            if not all(_EQUALITY.match(term) for term in split_outside(predicate, " and ")):
                return False
    return True


def _probe_node(ctx: libyang.Context) -> Optional[libyang.DNode]:
    """A fresh top-level container of some module of ``ctx`` (the caller frees it)."""
    for module in ctx:
        if not module.implemented():
            continue
        for snode in module.children():
            if snode.keyword() == "container":
                return ctx.create_data_path(f"/{module.name()}:{snode.name()}")
    return None


class XPathFilter:
    """RFC 6241 §8.9 XPath filter, prefixes taken from the filter element's nsmap."""

    def __init__(self, expr: str, nsmap: Mapping[Optional[str], str], ctx: libyang.Context) -> None:
        if not expr.strip():
            raise RequestError("XPath filter: the select expression is empty", tag="missing-attribute", error_type="protocol")
        self.expr = xpath_to_module_prefixes(expr, nsmap, ctx)
        self.ctx = ctx
        self._check()

    @classmethod
    def evaluated_here(cls, expr: str, ctx: libyang.Context) -> "XPathFilter":
        """A filter already checked elsewhere, its prefixes module names (an XPath worker's)."""
        xpath = cls.__new__(cls)
        xpath.expr, xpath.ctx = expr, ctx
        return xpath

    def bounded(self) -> bool:
        """True when the expression is a union of absolute location paths of child steps whose
        predicates are equalities of a child with a literal: its evaluation costs no more than
        a walk of the data it names. Anything else (``//``, axes, functions, nested paths) may
        cost far more and is evaluated where it can be ended (mgmt.netconf.xpath_worker)."""
        return all(_bounded_path(path.strip()) for path in split_outside(self.expr, "|"))

    def _check(self) -> None:
        """RFC 6241 §8.9.1: the expression must be XPath that returns a node set. Evaluated
        once on a throwaway node, so a bad expression is refused before anything is read and
        before a subscription is made with it."""
        probe = _probe_node(self.ctx)
        if probe is None:
            return
        try:
            self._find(probe)
        finally:
            probe.free()

    def _find(self, node: libyang.DNode) -> list[libyang.DNode]:
        parts = split_outside(self.expr, "|")
        if len(parts) > 1 and all(is_location_path(part) for part in parts):
            # each path on its own: libyang 2.1 refuses a union with a path it misjudges (below)
            return [found for part in parts for found in self._find_one(node, part.strip())]
        return self._find_one(node, self.expr)

    def _find_one(self, node: libyang.DNode, expr: str) -> list[libyang.DNode]:
        try:
            return list(node.first_sibling().find_all(expr))
        except libyang.LibyangError as err:
            if is_location_path(expr) and _EMPTY_SET_MISJUDGED.search(str(err)):
                # libyang 2.1.30 takes a predicate with 'and'/'or' over an empty node set for a
                # boolean; a location path always returns a node set, here an empty one
                return []
            detail = str(err).split(f"{expr}: ", 1)[-1]
            raise RequestError(f"XPath filter {self.expr!r} is not an XPath expression that returns "
                               f"a node set: {detail}") from None

    def selection(self, tree: Optional[libyang.DNode]) -> _Selection:
        if tree is None:
            return {}
        found = self._find(tree)
        selection: _Selection = {}
        for node in found:
            chain = []
            current: Optional[libyang.DNode] = node
            while current is not None:
                chain.append(current)
                current = current.parent()
            level = selection
            for ancestor in reversed(chain[1:]):
                entry = level.setdefault(_addr(ancestor), {})
                if entry == _ALL:
                    break
                level = entry  # type: ignore[assignment]
            else:
                _select(level, _addr(node), _ALL)
        return selection

    def plan(self) -> FilterPlan:
        roots = []
        for path in split_outside(self.expr, "|"):
            node = _xpath_plan_path(path.strip(), self.ctx)
            if node is None:
                return FilterPlan.everything()
            roots.append(node)
        return FilterPlan(tuple(roots))


# ---------------------------------------------------------------------------- facade
class Filter:
    """A read filter: the plan for the provider and the exact filter for the result.

    ``Filter.none()`` selects everything (no ``<filter>`` given).
    """

    def __init__(self, impl: Optional[Union[SubtreeFilter, XPathFilter]]) -> None:
        self._impl = impl
        self.plan = impl.plan() if impl is not None else FilterPlan.everything()

    @classmethod
    def none(cls) -> "Filter":
        return cls(None)

    @classmethod
    def from_subtree(cls, elem: etree._Element, ctx: libyang.Context) -> "Filter":
        """``elem`` is the ``<filter>`` (or ``<subtree-filter>``) element; its children
        are the filter's top-level nodes. An empty filter selects nothing (RFC 6241 §6.4.2)."""
        return cls(SubtreeFilter(_element_children(elem), ctx))

    @classmethod
    def from_xpath(cls, expr: str, nsmap: Mapping[Optional[str], str], ctx: libyang.Context) -> "Filter":
        return cls(XPathFilter(expr, nsmap, ctx))

    @classmethod
    def from_element(cls, elem: Optional[etree._Element], ctx: libyang.Context) -> "Filter":
        """Parse a ``<filter type="subtree|xpath" [select=...]>`` element (RFC 6241 §7.1)."""
        if elem is None:
            return cls.none()
        kind = elem.get("type") or elem.get(f"{{{NETCONF_BASE_NS}}}type") or "subtree"
        if kind == "subtree":
            return cls.from_subtree(elem, ctx)
        name = etree.QName(elem).localname
        if kind == "xpath":
            select = elem.get("select") or elem.get(f"{{{NETCONF_BASE_NS}}}select")
            if select is None:
                raise RequestError("an XPath filter needs a select attribute", tag="missing-attribute",
                                   error_type="protocol", bad_element=name, bad_attribute="select")
            content = _element_children(elem)
            if content:  # RFC 6241 §8.9.5.1: the <filter> element itself must be empty
                raise RequestError(f"an XPath filter holds no elements, not {etree.QName(content[0]).localname}",
                                   tag="unknown-element", error_type="protocol",
                                   bad_element=etree.QName(content[0]).localname)
            return cls.from_xpath(select, elem.nsmap, ctx)
        raise RequestError(f"unknown filter type {kind!r}", tag="bad-attribute", error_type="protocol",
                           bad_element=name, bad_attribute="type")

    def selects_all(self) -> bool:
        return self._impl is None

    def selects_whole(self, path: str) -> bool:
        """See ``FilterPlan.selects_whole``; no filter selects everything whole."""
        return self._impl is None or self.plan.selects_whole(path)

    def apply(self, tree: Optional[libyang.DNode], max_depth: Optional[int] = None,
              budget: Optional["RequestBudget"] = None,
              workers: Optional["XPathWorkers"] = None) -> Optional[libyang.DNode]:
        """Prune ``tree`` (a forest the caller owns) to what the filter selects, keeping at
        most ``max_depth`` levels below each selected node (None: all). With a ``budget`` the
        walk checks it as it goes, and an XPath that is not ``bounded`` is evaluated by
        ``workers`` under it, returning a new tree (``tree`` freed). On an exception
        ``tree`` is as it was, still the caller's."""
        if tree is None:
            return None
        if self._impl is None:
            if max_depth is not None:
                for node in top_level(tree):
                    trim_depth(node, max_depth)
            return tree
        if isinstance(self._impl, XPathFilter) and workers is not None and budget is not None \
                and not self._impl.bounded():
            return workers.select(tree, self._impl.expr, max_depth, budget)
        if isinstance(self._impl, SubtreeFilter):
            selection = self._impl.selection(tree, budget)
        else:
            selection = self._impl.selection(tree)
        if budget is not None:
            budget.check()
        return prune_forest(tree, selection, max_depth)
