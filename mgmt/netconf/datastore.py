"""Configuration datastores (RFC 6241 §5.1, §8.3, §8.7) as libyang data trees.

A datastore holds a libyang forest (its first top-level node, or ``None`` when empty)
that always belongs to it: callers get copies. ``running`` and ``startup`` are persisted in
the state directory on every change; at boot ``startup.xml`` becomes running, and when it is
absent the initial configuration does (and is written as startup).
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Optional

import libyang
from _libyang import ffi, lib

from mgmt.netconf.errors import RpcError, RpcErrors, libyang_errors
from mgmt.netconf.persist import read_if_exists, write_atomic

DATASTORES = ("running", "candidate", "startup")
PERSISTED = ("running", "startup")
WD_ATTRIBUTE_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"
_WD_MODULE_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WithDefaults = Literal["explicit", "report-all", "report-all-tagged", "trim"]

_PRINT_WD = {
    "explicit": lib.LYD_PRINT_WD_EXPLICIT,
    "report-all": lib.LYD_PRINT_WD_ALL,
    # the basic mode is explicit, so only what the client did not set is default data and
    # tagged (RFC 6243 §3.4, Appendix A.3.2): a value set equal to its default is not
    "report-all-tagged": lib.LYD_PRINT_WD_IMPL_TAG,
    "trim": lib.LYD_PRINT_WD_TRIM,
}
REPORTS_DEFAULTS = ("report-all", "report-all-tagged")


# ------------------------------------------------------------------ tree helpers
def first(node: Optional[libyang.DNode]) -> Optional[libyang.DNode]:
    """The first top-level sibling of the forest ``node`` belongs to."""
    if node is None:
        return None
    while node.parent() is not None:
        node = node.parent()
    return node.first_sibling()


def duplicate(tree: Optional[libyang.DNode]) -> Optional[libyang.DNode]:
    if tree is None:
        return None
    return tree.duplicate(with_siblings=True, recursive=True, with_flags=True)


def free(tree: Optional[libyang.DNode]) -> None:
    if tree is not None:
        tree.free(with_siblings=True)


def _is_np_container(node: libyang.DNode) -> bool:
    schema = node.cdata.schema
    return schema != ffi.NULL and schema.nodetype == lib.LYS_CONTAINER and not (schema.flags & lib.LYS_PRESENCE)


def settle_default_flags(node: Optional[libyang.DNode]) -> None:
    """Make the default flag of each non-presence container from ``node`` up say whether it
    holds only defaults (RFC 6243 §2.3: what the client did not set is default data).

    libyang keeps a container flagged default when a leaf in it merges over that leaf's
    implicit default; the container then hides the client's value from ``lyd_diff`` and from
    the ``explicit``-mode existence checks of an edit."""
    while node is not None:
        if _is_np_container(node):
            holds_only_defaults = all(child.flags()["default"] for child in node.children())
            if holds_only_defaults:
                node.cdata.flags |= lib.LYD_DEFAULT
            else:
                node.cdata.flags &= ~lib.LYD_DEFAULT
        node = node.parent()


def parse_config(ctx: libyang.Context, xml: str | bytes) -> Optional[libyang.DNode]:
    """Parse configuration XML (top-level nodes, no wrapper) without validating it."""
    if isinstance(xml, str):
        xml = xml.encode()
    out = ffi.new("struct lyd_node **")
    opts = lib.LYD_PARSE_ONLY | lib.LYD_PARSE_STRICT | lib.LYD_PARSE_NO_STATE
    ret = lib.lyd_parse_data_mem(ctx.cdata, xml, lib.LYD_XML, opts, 0, out)
    if ret != lib.LY_SUCCESS:
        raise RpcErrors(libyang_errors(ctx, "cannot parse the configuration"))
    return libyang.DNode.new(ctx, out[0]) if out[0] != ffi.NULL else None


def validate(ctx: libyang.Context, tree: Optional[libyang.DNode]) -> Optional[libyang.DNode]:
    """Validate ``tree`` as a complete configuration (adding implicit defaults in place).

    Returns the new first node (validation may add top-level nodes); raises RpcErrors.
    """
    node_p = ffi.new("struct lyd_node **")
    node_p[0] = tree.cdata if tree is not None else ffi.NULL
    ret = lib.lyd_validate_all(node_p, ctx.cdata, lib.LYD_VALIDATE_NO_STATE, ffi.NULL)
    if ret != lib.LY_SUCCESS:
        raise RpcErrors(libyang_errors(ctx, "the configuration is not valid"))
    return first(libyang.DNode.new(ctx, node_p[0])) if node_p[0] != ffi.NULL else None


def diff(ctx: libyang.Context, old: Optional[libyang.DNode],
         new: Optional[libyang.DNode]) -> Optional[libyang.DNode]:
    """A libyang diff (``yang:operation`` metadata) turning ``old`` into ``new``, None when
    they are the same.

    Default nodes are compared like the others (``LYD_DIFF_DEFAULTS``): a leaf going from
    its implicit default to a value the client set, or back, is in the diff with
    ``yang:orig-default``. Without it libyang skips every node flagged default, and a leaf
    set inside a container that held only defaults (and may still be flagged so) would be
    no change at all: no NACM check, no commit hook, no notification.
    ``changes.changed_nodes`` reads this diff as the explicit basic mode sees it."""
    out = ffi.new("struct lyd_node **")
    ret = lib.lyd_diff_siblings(old.cdata if old else ffi.NULL, new.cdata if new else ffi.NULL,
                                lib.LYD_DIFF_DEFAULTS, out)
    if ret != lib.LY_SUCCESS:
        raise RpcErrors(libyang_errors(ctx, "cannot compute the configuration diff"))
    return libyang.DNode.new(ctx, out[0]) if out[0] != ffi.NULL else None


def add_implicit_defaults(ctx: libyang.Context, tree: Optional[libyang.DNode],
                          config_only: bool) -> Optional[libyang.DNode]:
    """``tree`` (changed in place) with every default node added, the containers holding them
    too; returns its new first node. A read in a report-all mode does this before NACM and
    the filter see the tree (RFC 6243 §4.5.1: defaults are filtered first). ``config_only``:
    no state defaults (``<get-config>``, conventional datastores)."""
    node_p = ffi.new("struct lyd_node **")
    node_p[0] = tree.cdata if tree is not None else ffi.NULL
    flags = lib.LYD_IMPLICIT_NO_STATE if config_only else 0
    if lib.lyd_new_implicit_all(node_p, ctx.cdata, flags, ffi.NULL) != lib.LY_SUCCESS:
        raise RpcErrors(libyang_errors(ctx, "cannot add the default values"))
    return first(libyang.DNode.new(ctx, node_p[0])) if node_p[0] != ffi.NULL else None


def to_xml(tree: Optional[libyang.DNode], with_defaults: WithDefaults = "explicit") -> str:
    """XML of the whole forest; RFC 6243 basic mode is ``explicit``. In the report-all
    modes only the defaults the tree holds are printed (``add_implicit_defaults``)."""
    if tree is None:
        return ""
    buf = ffi.new("char **")
    flags = lib.LYD_PRINT_WITHSIBLINGS | lib.LYD_PRINT_SHRINK | _PRINT_WD[with_defaults]
    ret = lib.lyd_print_mem(buf, tree.cdata, lib.LYD_XML, flags)
    if ret != lib.LY_SUCCESS:
        raise RpcError("operation-failed", "cannot print the data")
    try:
        xml = ffi.string(buf[0]).decode() if buf[0] != ffi.NULL else ""
    finally:
        lib.free(buf[0])
    # RFC 6243 §6 puts the default attribute in its own namespace; libyang uses the module's
    return xml.replace(f'xmlns:ncwd="{_WD_MODULE_NS}"', f'xmlns:ncwd="{WD_ATTRIBUTE_NS}"')


# ------------------------------------------------------------------ the datastores
class DatastoreError(Exception):
    """A persisted datastore file cannot be loaded; ``str()`` names the file and why."""


UNCONFIRMED = "before-confirmed-commit"  # running before a confirmed commit not yet confirmed


def _load(ctx: libyang.Context, path: Path) -> Optional[libyang.DNode]:
    """The validated configuration saved in ``path``, None when there is no such file (an
    empty configuration is an empty tree, not None)."""
    saved = read_if_exists(path)
    if saved is None:
        return None
    try:
        tree = validate(ctx, parse_config(ctx, saved))
    except RpcErrors as exc:
        raise DatastoreError(f"{path}: {exc}") from None
    return tree if tree is not None else validate(ctx, None)


def boot_configuration(ctx: libyang.Context, state_dir: Path) -> tuple[Optional[libyang.DNode], Optional[Path]]:
    """What running holds when the node boots with this state directory, and the file it
    comes from: the configuration from before a confirmed commit that was never confirmed
    (RFC 6241 §8.4.1), else the saved startup (§8.7: loaded when the device boots); (None,
    None) on a first boot, when the initial configuration is used."""
    for name in (UNCONFIRMED, "startup"):
        path = Path(state_dir) / f"{name}.xml"
        tree = _load(ctx, path)
        if tree is not None:
            return tree, path
    return None, None


class Datastores:
    """running, candidate and startup, with the candidate's dirty flag.

    Not thread-safe by itself: the server serialises access with its lock.
    """

    def __init__(self, ctx: libyang.Context, state_dir: Path,
                 initial: Optional[libyang.DNode] = None) -> None:
        self.ctx = ctx
        self.state_dir = Path(state_dir)
        self._trees: dict[str, Optional[libyang.DNode]] = {name: None for name in DATASTORES}
        self.candidate_dirty = False
        self.candidate_modified_by = 0
        self._boot(initial)

    def _path(self, name: str) -> Path:
        return self.state_dir / f"{name}.xml"

    def _boot(self, initial: Optional[libyang.DNode]) -> None:
        startup = _load(self.ctx, self._path("startup"))
        if startup is None:
            try:
                startup = validate(self.ctx, duplicate(initial))
            except RpcErrors as exc:
                raise DatastoreError(f"initial configuration: {exc}") from None
            self._persist("startup", startup)
        self._trees["startup"] = startup
        # RFC 6241 §8.4.1: a confirmed commit the node went down before confirming is undone
        unconfirmed = _load(self.ctx, self._path(UNCONFIRMED))
        self._trees["running"] = unconfirmed if unconfirmed is not None else duplicate(startup)
        self._persist("running", self._trees["running"])
        self.forget_unconfirmed()
        self._trees["candidate"] = duplicate(self._trees["running"])

    def keep_unconfirmed(self, before: Optional[libyang.DNode]) -> None:
        """A confirmed commit is pending: ``before`` (running as it was) is what the next boot
        restores unless the commit is confirmed or rolled back first."""
        self._persist(UNCONFIRMED, before)

    def forget_unconfirmed(self) -> None:
        self._path(UNCONFIRMED).unlink(missing_ok=True)

    def forget_startup(self) -> None:
        """The next boot starts from the initial configuration (``delete-config`` of startup)."""
        self._path("startup").unlink(missing_ok=True)

    def _persist(self, name: str, tree: Optional[libyang.DNode]) -> None:
        write_atomic(self._path(name), to_xml(tree).encode())

    def get(self, name: str) -> Optional[libyang.DNode]:
        """A copy the caller owns."""
        return duplicate(self._trees[name])

    def peek(self, name: str) -> Optional[libyang.DNode]:
        """The datastore's own tree: read it, do not keep or change it."""
        return self._trees[name]

    def replace(self, name: str, tree: Optional[libyang.DNode], by_session: int = 0) -> None:
        """Install ``tree`` (now owned by the datastore) as the content of ``name``."""
        if name in PERSISTED:
            self._persist(name, tree)
        old = self._trees[name]
        self._trees[name] = tree
        free(old)
        if name == "candidate":
            self.candidate_dirty = True
            self.candidate_modified_by = by_session
        elif name == "running" and not self.candidate_dirty:
            self.reset_candidate()

    def reset_candidate(self) -> None:
        """The candidate becomes a copy of running again (commit, discard-changes)."""
        old = self._trees["candidate"]
        self._trees["candidate"] = duplicate(self._trees["running"])
        free(old)
        self.candidate_dirty = False
        self.candidate_modified_by = 0

    def close(self) -> None:
        for name in DATASTORES:
            free(self._trees[name])
            self._trees[name] = None


class DatastoreLocks:
    """RFC 6241 §7.5 global locks: datastore name -> holder session-id."""

    def __init__(self) -> None:
        self._holders: dict[str, int] = {}
        self._since: dict[str, datetime] = {}
        self._mutex = threading.Lock()

    def holder(self, name: str) -> int:
        with self._mutex:
            return self._holders.get(name, 0)

    def acquire(self, name: str, session_id: int) -> int:
        """Take the lock; returns 0, or the holder's session-id when denied."""
        with self._mutex:
            holder = self._holders.get(name, 0)
            if holder:
                return holder
            self._holders[name] = session_id
            self._since[name] = datetime.now(timezone.utc)
            return 0

    def release(self, name: str, session_id: int) -> bool:
        with self._mutex:
            if self._holders.get(name) != session_id:
                return False
            del self._holders[name]
            return True

    def snapshot(self) -> dict[str, tuple[int, datetime]]:
        """datastore -> (holder session-id, when locked), for RFC 6022 state."""
        with self._mutex:
            return {name: (sid, self._since[name]) for name, sid in self._holders.items()}

    def release_all(self, session_id: int) -> list[str]:
        with self._mutex:
            mine = [name for name, sid in self._holders.items() if sid == session_id]
            for name in mine:
                del self._holders[name]
            return mine
