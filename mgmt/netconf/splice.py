"""Long state lists printed by their provider and spliced into a read's reply.

Building 100,000 binding entries as libyang nodes and printing them takes seconds; printing
them straight to XML text takes a fraction of that. A state provider may do so for a list
when the request allows it (``ReadRequest.printable``): it puts one placeholder entry, whose
key holds a random token, where the entries belong, and returns the entries' text beside
its tree (``State``). The server applies NACM and the filter and prints the tree as for any
read, then replaces the placeholder's element by that text (``splice``). A placeholder that
did not survive means the list is not part of the reply (an ancestor was filtered out or
not readable), and then neither are its entries. The entries' text comes in pieces that
the session sends as they are printed, so a reply of a million bindings is never held
whole in memory.

This is exact only when nothing between building and printing could pick among the entries
or change them; ``printable`` holds when the filter selects the list's instances whole (or
there is no filter), NACM permits every node under the list by one decision, no max-depth
trims them, and the list's subtree is in one module with no default value (which a
with-defaults mode could add or trim) and no NACM extension. The provider's text must be
what libyang prints for the same entries; tests compare the two.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence, Union

import libyang

from mgmt.netconf.filters import Filter, FilterPlan

NACM_MODULE = "ietf-netconf-acm"


Text = Union[str, Iterable[str]]  # XML text, whole or in pieces


@dataclass(frozen=True)
class Splice:
    """The placeholder entry holding ``token`` (in element ``element``) becomes ``render()``."""

    token: str
    element: str
    render: Callable[[], Text]


@dataclass
class State:
    """A state provider's answer: its tree and the lists it prints itself."""

    tree: Optional[libyang.DNode]
    splices: list[Splice] = field(default_factory=list)


@dataclass(frozen=True)
class ReadRequest:
    """What a state provider is asked: the filter, and which lists it may print itself."""

    filter: Filter
    printable: Callable[[str], bool] = lambda schema_path: False

    @property
    def plan(self) -> FilterPlan:
        return self.filter.plan


def new_token() -> str:
    """A placeholder key no real entry has (and no client can guess)."""
    return f"splice-{secrets.token_hex(16)}"


def splice(xml: str, splices: Sequence[Splice]) -> list[Text]:
    """``xml`` in pieces, each surviving placeholder element replaced by its list's text."""
    found = sorted(((at, s) for s in splices if (at := xml.find(f">{s.token}<")) >= 0), key=lambda f: f[0])
    pieces: list[Text] = []
    done = 0
    for at, s in found:
        start = max(xml.rfind(f"<{s.element}>", 0, at), xml.rfind(f"<{s.element} ", 0, at))
        close = f"</{s.element}>"
        pieces += [xml[done:start], s.render()]
        done = xml.index(close, at) + len(close)
    pieces.append(xml[done:])
    return pieces


def pieces_of(texts: Iterable[Text]) -> Iterable[str]:
    """Every piece of ``texts`` in order."""
    for text in texts:
        if isinstance(text, str):
            yield text
        else:
            yield from text


class PrintableSchema:
    """Which schema lists a provider's own printing cannot get wrong (cached per path)."""

    def __init__(self, ctx: libyang.Context) -> None:
        self.ctx = ctx
        self._known: dict[str, bool] = {}

    def allows(self, schema_path: str) -> bool:
        if schema_path not in self._known:
            snode = next(self.ctx.find_path(schema_path), None)
            self._known[schema_path] = isinstance(snode, libyang.SList) and _plain_subtree(
                snode, snode.module().name())
        return self._known[schema_path]


def _plain_subtree(snode: libyang.SNode, module: str) -> bool:
    if snode.module().name() != module:
        return False
    if any(e.module().name() == NACM_MODULE for e in snode.extensions()):
        return False
    if isinstance(snode, (libyang.SLeaf, libyang.SLeafList)):
        return not _has_default(snode)
    return all(_plain_subtree(child, module) for child in snode.children())


def _has_default(snode: libyang.SNode) -> bool:
    if isinstance(snode, libyang.SLeaf):
        return snode.default() is not None
    return bool(list(snode.defaults()))
