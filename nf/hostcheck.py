"""Checks of a valid configuration against this host, before anything starts.

libyang validates the configuration against the model; what it cannot know is the host: an
interface the data plane should use that does not exist here, or prefix pools that overlap
(a range check XPath cannot express). Each problem is one line naming the YANG path, so
`dmm-nf run` refuses to start with a clear message instead of failing half-way through. (An
encapsulation the kernel cannot carry is found by the Linux data plane itself when it is
built: `EncapsulationUnavailable`.)
"""
from __future__ import annotations

import socket
from itertools import combinations

from nf.roles.registry import RUNNABLE_ROLES
from nf.settings import Settings

TOP = "/dmm-nf:dmm-nf"


class HostCheckError(Exception):
    """The configuration cannot run on this host; `str()` is one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def check_host(settings: Settings) -> None:
    problems = [f"{TOP}/node/role: the {role} role is not available in this release of dmm-nf"
                for role in sorted(settings.node.roles - RUNNABLE_ROLES)]
    problems += _overlapping_pools(settings)
    if settings.dataplane.backend == "linux":
        problems += _missing_interfaces(settings)
    if problems:
        raise HostCheckError(problems)


def _overlapping_pools(settings: Settings) -> list[str]:
    return [f"{TOP}/prefix-pools/pool[name='{b.name}']/prefix: {b.prefix} overlaps pool {a.name} ({a.prefix})"
            for a, b in combinations(settings.pools, 2) if a.prefix.overlaps(b.prefix)]


def _missing_interfaces(settings: Settings) -> list[str]:
    wanted = []
    dp = settings.dataplane
    if dp.access_interface:
        wanted.append((f"{TOP}/dataplane/access-interface", dp.access_interface))
    if dp.core_interface:
        wanted.append((f"{TOP}/dataplane/core-interface", dp.core_interface))
    if settings.mag is not None:
        wanted += [(f"{TOP}/mag/access-interface[name='{i.name}']", i.name) for i in settings.mag.access_interfaces]
    problems = []
    for path, name in wanted:
        try:
            socket.if_nametoindex(name)
        except OSError:
            problems.append(f"{path}: no interface named {name} on this host")
    return problems

