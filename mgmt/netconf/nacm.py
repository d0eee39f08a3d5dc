"""NETCONF access control (RFC 8341): rules from the ``ietf-netconf-acm`` config subtree.

The server builds one :class:`Nacm` from running config at start and after every commit
that touches ``/ietf-netconf-acm:nacm``, handing over the previous object's ``counters``
so the denied-* counters survive. Per request it calls::

    nacm.check_rpc(user, "ietf-netconf", "edit-config")        # before dispatch
    nacm.check_write(user, "/dmm-nf:config/timers", "update")  # per edited node
    tree = nacm.prune_read(user, tree)                         # before filtering a reply
    nacm.check_notification(user, "dmm-nf", "binding-created") # before sending one

The recovery session (``recovery=True``: the process' own user, e.g. the CLI run by root on
the box) bypasses every check (RFC 8341 §3.4.2). Group membership comes from the
``groups`` config and, with ``enable-external-groups``, from ``external_groups`` the
transport supplies.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import libyang
from _libyang import lib

from mgmt.netconf.filters import split_outside

DEFAULT_NACM_XML = Path(__file__).with_name("default-nacm.xml")

# RFC 8341 makes <kill-session> and <delete-config> default-deny-all; the 2011
# ietf-netconf module predates the NACM extensions, so they are listed here.
_DENY_ALL_RPCS = {("ietf-netconf", "kill-session"), ("ietf-netconf", "delete-config")}


@dataclass
class NacmCounters:
    """The ietf-netconf-acm state counters; they only grow (RFC 8341 §3.5.2)."""

    denied_operations: int = 0
    denied_data_writes: int = 0
    denied_notifications: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def to_data(self, ctx: libyang.Context) -> libyang.DNode:
        """``/ietf-netconf-acm:nacm`` with the three state counters, to merge into
        the operational tree."""
        tree = ctx.create_data_path("/ietf-netconf-acm:nacm")
        tree.create_path("denied-operations", str(self.denied_operations))
        tree.create_path("denied-data-writes", str(self.denied_data_writes))
        tree.create_path("denied-notifications", str(self.denied_notifications))
        return tree


@dataclass(frozen=True)
class Rule:
    name: str
    module: str = "*"
    rpc: Optional[str] = None
    notification: Optional[str] = None
    path: Optional[tuple[tuple[str, str, str], ...]] = None
    operations: frozenset[str] = frozenset({"*"})
    permit: bool = False

    def allows_operation(self, op: str) -> bool:
        return "*" in self.operations or op in self.operations

    def data_rule(self) -> bool:
        return self.rpc is None and self.notification is None


@dataclass(frozen=True)
class RuleList:
    name: str
    groups: frozenset[str]
    rules: tuple[Rule, ...]


_STEP = re.compile(r"(?:([\w.\-]+):)?([\w.\-]+)((?:\[[^\]]*\])*)")


def _path_steps(path: str) -> tuple[tuple[str, str, str], ...]:
    """``/m:a/b[k='v']`` -> ((m, a, ""), (m, b, "[k='v']")); module names as prefixes."""
    steps = []
    module = ""
    for part in split_outside(path[1:] if path.startswith("/") else path, "/"):
        match = _STEP.fullmatch(part.strip())
        if not match:
            raise ValueError(f"unsupported NACM path step {part!r}")
        module = match.group(1) or module
        steps.append((module, match.group(2), match.group(3).replace('"', "'")))
    return tuple(steps)


def _path_matches(rule_path: tuple[tuple[str, str, str], ...], node_path: tuple[tuple[str, str, str], ...]) -> bool:
    """A rule path covers the node it names and everything below it."""
    if len(rule_path) > len(node_path):
        return False
    for (r_mod, r_name, r_pred), (n_mod, n_name, n_pred) in zip(rule_path, node_path):
        if r_mod != n_mod or r_name != n_name:
            return False
        if r_pred and r_pred != n_pred:
            return False
    return True


def _strip(name: str) -> str:
    return name.split(":", 1)[1] if ":" in name else name


def _config_dict(config: Union[libyang.DNode, Mapping[str, Any], None]) -> Mapping[str, Any]:
    if config is None:
        return {}
    if isinstance(config, libyang.DNode):
        node = config.first_sibling()
        nacm = next((n for n in node.siblings() if n.name() == "nacm" and n.module().name() == "ietf-netconf-acm"), None)
        if nacm is None:
            return {}
        # A nacm container holding only defaults prints as nothing at all.
        text = nacm.print_mem("json", with_siblings=False) or "{}"
        return json.loads(text).get("ietf-netconf-acm:nacm", {})
    for key in ("ietf-netconf-acm:nacm", "nacm"):
        if key in config:
            return config[key]
    return config


class Nacm:
    """RFC 8341 §3.4 access decisions for one NACM configuration."""

    def __init__(
        self,
        enabled: bool = True,
        read_default: bool = True,
        write_default: bool = False,
        exec_default: bool = True,
        external_groups: bool = True,
        groups: Optional[Mapping[str, frozenset[str]]] = None,
        rule_lists: Iterable[RuleList] = (),
        counters: Optional[NacmCounters] = None,
    ) -> None:
        self.enabled = enabled
        self.read_default = read_default
        self.write_default = write_default
        self.exec_default = exec_default
        self.external_groups = external_groups
        self.groups = dict(groups or {})
        self.rule_lists = tuple(rule_lists)
        self.counters = counters or NacmCounters()

    @classmethod
    def from_config(
        cls, config: Union[libyang.DNode, Mapping[str, Any], None], counters: Optional[NacmCounters] = None
    ) -> "Nacm":
        """From a data tree holding ``/ietf-netconf-acm:nacm`` or its JSON (dict) form.
        Absent leaves take the YANG defaults."""
        cfg = _config_dict(config)
        groups: dict[str, set[str]] = {}
        for group in cfg.get("groups", {}).get("group", []):
            for user in group.get("user-name", []):
                groups.setdefault(user, set()).add(group["name"])
        rule_lists = []
        for rl in cfg.get("rule-list", []):
            rules = []
            for r in rl.get("rule", []):
                ops = r.get("access-operations", "*")
                rules.append(Rule(
                    name=r["name"],
                    module=r.get("module-name", "*"),
                    rpc=r.get("rpc-name"),
                    notification=r.get("notification-name"),
                    path=_path_steps(r["path"]) if "path" in r else None,
                    operations=frozenset(ops.split()),
                    permit=r.get("action") == "permit",
                ))
            rule_lists.append(RuleList(rl["name"], frozenset(rl.get("group", [])), tuple(rules)))
        return cls(
            enabled=cfg.get("enable-nacm", True),
            read_default=cfg.get("read-default", "permit") == "permit",
            write_default=cfg.get("write-default", "deny") == "permit",
            exec_default=cfg.get("exec-default", "permit") == "permit",
            external_groups=cfg.get("enable-external-groups", True),
            groups={u: frozenset(g) for u, g in groups.items()},
            rule_lists=rule_lists,
            counters=counters,
        )

    # ------------------------------------------------------------------ helpers
    def _rules_for(self, user: str, external_groups: Iterable[str]) -> list[Rule]:
        """Rules of the rule-lists naming one of the user's groups, in order (§3.4.4 step 5-6)."""
        mine = set(self.groups.get(user, ()))
        if self.external_groups:
            mine |= set(external_groups)
        rules: list[Rule] = []
        for rule_list in self.rule_lists:
            if "*" in rule_list.groups or mine & rule_list.groups:
                rules.extend(rule_list.rules)
        return rules

    def _bypass(self, recovery: bool) -> bool:
        return recovery or not self.enabled

    # ------------------------------------------------------------------ RPCs
    def check_rpc(
        self, user: str, module: str, rpc_name: str,
        external_groups: Iterable[str] = (), recovery: bool = False, default_deny_all: bool = False,
    ) -> bool:
        """May ``user`` invoke ``module:rpc_name``? (RFC 8341 §3.4.4). ``default_deny_all``
        says the RPC carries the nacm:default-deny-all extension."""
        if self._bypass(recovery) or (module, rpc_name) == ("ietf-netconf", "close-session"):
            return True
        for rule in self._rules_for(user, external_groups):
            if rule.module not in ("*", module) or rule.notification is not None or rule.path is not None:
                continue
            if rule.rpc is not None and rule.rpc not in ("*", rpc_name):
                continue
            if rule.allows_operation("exec"):
                return self._count(rule.permit, "denied_operations")
        if default_deny_all or (module, rpc_name) in _DENY_ALL_RPCS:
            return self._count(False, "denied_operations")
        return self._count(self.exec_default, "denied_operations")

    # ------------------------------------------------------------------ notifications
    def check_notification(
        self, user: str, module: str, name: str, external_groups: Iterable[str] = (), recovery: bool = False,
        default_deny_all: bool = False,
    ) -> bool:
        """May ``user`` receive ``module:name``? (§3.4.6). ``replayComplete`` and
        ``notificationComplete`` are always delivered; ``default_deny_all`` says the
        notification carries the nacm:default-deny-all extension (step 10)."""
        if self._bypass(recovery) or name in ("replayComplete", "notificationComplete"):
            return True
        for rule in self._rules_for(user, external_groups):
            if rule.module not in ("*", module) or rule.rpc is not None or rule.path is not None:
                continue
            if rule.notification is not None and rule.notification not in ("*", name):
                continue
            if rule.allows_operation("read"):
                return self._count(rule.permit, "denied_notifications")
        return self._count(self.read_default and not default_deny_all, "denied_notifications")

    # ------------------------------------------------------------------ data
    def _data_decision(
        self, rules: list[Rule], module: str, steps: tuple[tuple[str, str, str], ...], op: str
    ) -> Optional[bool]:
        for rule in rules:
            if not rule.data_rule() or rule.module not in ("*", module) or not rule.allows_operation(op):
                continue
            if rule.path is not None and not _path_matches(rule.path, steps):
                continue
            return rule.permit
        return None

    def check_write(
        self, user: str, path: Union[str, libyang.DNode], operation: str,
        external_groups: Iterable[str] = (), recovery: bool = False,
    ) -> bool:
        """May ``user`` ``operation`` (create / update / delete) the data node at ``path``
        (a data path with module-name prefixes, or the node)? (§3.4.5)"""
        if operation not in ("create", "update", "delete"):
            raise ValueError(f"unknown write operation {operation!r}")
        if self._bypass(recovery):
            return True
        if isinstance(path, libyang.DNode):
            node_path, module = path.path(), path.module().name()
            # §3.4.5 step 10: the extension denies the node and all its descendants
            deny_write = _default_deny_at_or_above(path, ("default-deny-all", "default-deny-write"))
        else:
            node_path, module = path, ""
            deny_write = False
        steps = _path_steps(node_path)
        module = module or steps[-1][0]
        decision = self._data_decision(self._rules_for(user, external_groups), module, steps, operation)
        if decision is None:
            if steps[0][:2] == ("ietf-netconf-acm", "nacm"):
                deny_write = True  # the nacm container is default-deny-all
            decision = False if deny_write else self.write_default
        return self._count(decision, "denied_data_writes")

    def prune_read(
        self, user: str, tree: Optional[libyang.DNode],
        external_groups: Iterable[str] = (), recovery: bool = False,
    ) -> Optional[libyang.DNode]:
        """Silently remove every subtree ``user`` may not read (§3.4.5); returns the new
        first top-level node (None if nothing is readable). Prunes in place."""
        if tree is None or self._bypass(recovery):
            return tree
        rules = [r for r in self._rules_for(user, external_groups) if r.data_rule() and r.allows_operation("read")]
        if rules and rules[0].module == "*" and rules[0].path is None:
            # the first rule decides every node alike (an operator's permit-all): no walk
            if rules[0].permit:
                return tree
            for top in list(tree.first_sibling().siblings()):
                lib.lyd_free_tree(top.cdata)
            return None
        with_paths = any(r.path is not None for r in rules)
        kept = []
        for top in list(tree.first_sibling().siblings()):
            if self._prune_node(rules, top, with_paths):
                kept.append(top)
        return kept[0] if kept else None

    def may_read(
        self, user: str, path: str, schema_of: Callable[[str], Optional[libyang.SNode]],
        external_groups: Iterable[str] = (), recovery: bool = False,
    ) -> bool:
        """Would the data node at ``path`` (module-name prefixes) be in a reply to ``user``:
        is it and is each of its ancestors readable (§3.4.5)? ``schema_of(schema path)`` finds
        the schema nodes whose nacm:default-deny-all applies where no rule decides. Counts
        nothing: it decides what an rpc-error may say, it is not itself an access."""
        if self._bypass(recovery):
            return True
        rules = [r for r in self._rules_for(user, external_groups) if r.data_rule() and r.allows_operation("read")]
        steps = _path_steps(path)
        for depth in range(1, len(steps) + 1):
            decision = self._data_decision(rules, steps[depth - 1][0], steps[:depth], "read")
            if decision is None:
                schema_path = "".join(f"/{module}:{name}" for module, name, _ in steps[:depth])
                snode = schema_of(schema_path)
                denied = snode is not None and _schema_denies(snode, ("default-deny-all",))
                decision = not denied and self.read_default
            if not decision:
                return False
        return True

    def reads_whole(
        self, user: str, schema_path: str, external_groups: Iterable[str] = (), recovery: bool = False,
    ) -> bool:
        """True when ``user`` may read every instance of the schema node ``schema_path`` and
        everything below it, by one rule (or the default) that decides them all alike; False
        when some or all of them would be pruned. The caller must know that the subtree is in
        one module and carries no nacm:default-deny-* extension."""
        if self._bypass(recovery):
            return True
        steps = _path_steps(schema_path)
        module = steps[0][0]
        for rule in self._rules_for(user, external_groups):
            if not rule.data_rule() or rule.module not in ("*", module) or not rule.allows_operation("read"):
                continue
            if rule.path is None:
                return rule.permit
            shared = min(len(rule.path), len(steps))
            if [s[:2] for s in rule.path[:shared]] != [s[:2] for s in steps[:shared]]:
                continue  # another branch of the tree
            if len(rule.path) > len(steps) or any(s[2] for s in rule.path):
                return False  # decides only some nodes of the subtree
            return rule.permit
        return self.read_default

    def _prune_node(self, rules: list[Rule], node: libyang.DNode, with_paths: bool) -> bool:
        steps = _path_steps(node.path()) if with_paths else ()  # only path rules need it
        decision = self._data_decision(rules, node.module().name(), steps, "read")
        if decision is None:
            decision = False if _default_deny(node, "default-deny-all") else self.read_default
        if not decision:
            lib.lyd_free_tree(node.cdata)
            return False
        if isinstance(node, libyang.DContainer):
            for child in list(node.children()):
                if not (child.cdata.schema.flags & lib.LYS_KEY):
                    self._prune_node(rules, child, with_paths)
        return True

    def _count(self, permitted: bool, counter: str) -> bool:
        if not permitted:
            self.counters.bump(counter)
        return permitted


def _schema_denies(snode: libyang.SNode, extensions: tuple[str, ...]) -> bool:
    return any(e.name() in extensions and e.module().name() == "ietf-netconf-acm" for e in snode.extensions())


def _default_deny_at_or_above(node: libyang.DNode, extensions: tuple[str, ...]) -> bool:
    """Does the schema of ``node`` or of one of its ancestors carry one of the nacm
    ``extensions``?"""
    snode: Optional[libyang.SNode] = node.schema()
    while snode is not None:
        if _schema_denies(snode, extensions):
            return True
        snode = snode.parent()
    return False


def _default_deny(node: libyang.DNode, extension: str) -> bool:
    """Does the node's schema carry nacm:``extension``?"""
    snode = node.schema()
    return any(e.name() == extension and e.module().name() == "ietf-netconf-acm" for e in snode.extensions())
