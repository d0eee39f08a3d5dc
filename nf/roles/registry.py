"""Which class plays each role a node can be configured with (`/dmm-nf:dmm-nf/node/role`).

The one place a configured role name becomes code: the runtime builds the classes listed
here for the roles in its configuration, in this order, and offers each through a typed
accessor (`Runtime.lma`, `Runtime.mag`). A new role (the MAAR and CMD of RFC 8885) is one
entry here and one accessor there. Services every node runs whatever its roles — the
RFC 5847 heartbeat monitor — are not roles and are not listed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from nf.roles.base import Role
from nf.roles.lma import LmaRole
from nf.roles.mag import MagRole

ROLE_CLASSES: Mapping[str, type[Role]] = MappingProxyType({
    LmaRole.name: LmaRole,
    MagRole.name: MagRole,
})

# Roles this release can run; the model also describes the MAAR of distributed mobility
# management, whose state machine is not part of this release.
RUNNABLE_ROLES = frozenset(ROLE_CLASSES)


def role_classes(configured: Iterable[str]) -> list[type[Role]]:
    """The classes for `configured` role names, in registry order; unknown names are left
    out (start-up refuses them first, nf.hostcheck)."""
    wanted = set(configured)
    return [cls for name, cls in ROLE_CLASSES.items() if name in wanted]
