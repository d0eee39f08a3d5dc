"""What a change of a configuration datastore changes, read from one libyang diff.

The server diffs the old tree against the new one with defaults compared too
(``datastore.diff``: ``LYD_DIFF_DEFAULTS``), so a change is found whatever the default
flags of the containers around it say. The diff is then read the way the datastore's
``explicit`` basic mode (RFC 6243 §2.3) sees it:

- a node the client set, where there was nothing or only an implicit default: ``create``;
- a node the client set whose value changes: ``update``;
- a node the client had set that is gone (its default, if any, is back): ``delete``;
- implicit defaults appearing or going are side effects of another change: nothing
  (RFC 8341 §3.2.5: no access rights are needed for them).

``changed_nodes`` lists every node so changed, each node of a created or deleted subtree
included, for NACM's write check (RFC 8341 §3.4.5); ``changed_subtrees`` lists the top of
each changed subtree once, for the RFC 6470 ``edit`` records.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import libyang

CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(frozen=True)
class Change:
    """One changed data node: ``node`` is the diff's node (valid while the diff lives)."""

    node: libyang.DNode
    operation: str  # create | update | delete

    @property
    def path(self) -> str:
        return self.node.path()


def _is_default(node: libyang.DNode) -> bool:
    return bool(node.flags()["default"])


def _term_change(node: libyang.DNode, operation: str) -> Optional[str]:
    """A leaf's (or leaf-list entry's) change, from its diff operation and its default flags
    before (``orig-default``) and after (the diff node's own flag)."""
    was_default = node.get_meta("orig-default") == "true"
    is_default = _is_default(node)
    if operation == "none":  # only the default flag changed
        if was_default and not is_default:
            return CREATE
        if is_default and not was_default:
            return DELETE
        return None
    if operation == "replace":
        if was_default and not is_default:
            return CREATE
        if is_default:
            return None if was_default else DELETE
        return UPDATE
    return None


def _operation(node: libyang.DNode, inherited: str) -> str:
    return node.get_meta("operation") or inherited


def _explicit_subtree(node: libyang.DNode) -> Iterator[libyang.DNode]:
    """``node`` and its descendants, leaving out implicit defaults."""
    if _is_default(node):
        return
    yield node
    if isinstance(node, libyang.DContainer):
        for child in node.children():
            yield from _explicit_subtree(child)


def _walk(node: libyang.DNode, inherited: str, every_node: bool) -> Iterator[Change]:
    operation = _operation(node, inherited)
    if operation in (CREATE, DELETE):
        if _is_default(node):
            return  # an implicit default created or removed: a side effect
        if every_node:
            yield from (Change(n, operation) for n in _explicit_subtree(node))
        else:
            yield Change(node, operation)
        return
    if isinstance(node, (libyang.DLeaf, libyang.DLeafList)):
        change = _term_change(node, operation)
        if change is not None:
            yield Change(node, change)
        return
    if operation == "replace":  # a user-ordered list entry moved
        yield Change(node, UPDATE)
    if isinstance(node, libyang.DContainer):
        for child in node.children():
            yield from _walk(child, "none", every_node)


def changed_nodes(diff: Optional[libyang.DNode]) -> Iterator[Change]:
    """Every node the change creates, updates or deletes (RFC 8341 §3.2.5, §3.2.8)."""
    if diff is None:
        return
    for top in diff.first_sibling().siblings():
        yield from _walk(top, "none", every_node=True)


def changed_subtrees(diff: Optional[libyang.DNode]) -> Iterator[Change]:
    """The top node of each changed subtree: a created list entry once, not each leaf."""
    if diff is None:
        return
    for top in diff.first_sibling().siblings():
        yield from _walk(top, "none", every_node=False)


def changes_anything(diff: Optional[libyang.DNode]) -> bool:
    """Does the diff change any explicit configuration (not only implicit defaults)?"""
    return next(changed_subtrees(diff), None) is not None
