"""The runtime builds the roles its configuration names, from one registry, and offers them
through typed accessors; the RFC 5847 heartbeat monitor is a service of every node."""
from __future__ import annotations

import asyncio

import pytest

from nf.liveness.heartbeat import HeartbeatMonitor
from nf.model import new_context
from nf.roles.lma import LmaRole
from nf.roles.mag import MagRole
from nf.roles.registry import ROLE_CLASSES, RUNNABLE_ROLES, role_classes
from nf.runtime import Runtime
from nf.settings import EnumValues, settings_from_dict

ENUMS = EnumValues(new_context())


def settings_with_roles(*roles: str):
    config = {
        "node": {"name": "n1", "role": [f"dmm-nf-types:{r}" for r in roles], "address": "::1"},
        "transport": {"type": "dmm-nf-types:udp", "udp-port": 0, "listen-address": "::1"},
        "dataplane": {"backend": "dmm-nf-types:memory"},
    }
    if "lma" in roles:
        config["lma"] = {"allowed-mag": ["::1"]}
    if "mag" in roles:
        config["mag"] = {"lma-address": "::1"}
    return settings_from_dict(config, ENUMS)


def started(tmp_path, *roles: str):
    async def main():
        runtime = Runtime(settings_with_roles(*roles), tmp_path)
        await runtime.start()
        await runtime.stop()
        return runtime

    return asyncio.run(main())


def test_the_registry_maps_each_runnable_role_name_to_its_class():
    assert dict(ROLE_CLASSES) == {"lma": LmaRole, "mag": MagRole}
    assert RUNNABLE_ROLES == {"lma", "mag"}


def test_role_classes_keep_registry_order_and_leave_out_unknown_names():
    assert role_classes(["mag", "maar", "lma"]) == [LmaRole, MagRole]


@pytest.mark.parametrize("roles, lma, mag", [
    (("lma",), LmaRole, type(None)),
    (("mag",), type(None), MagRole),
    (("lma", "mag"), LmaRole, MagRole),
    ((), type(None), type(None)),
])
def test_accessors_return_the_configured_roles_and_none_for_the_others(tmp_path, roles, lma, mag):
    runtime = started(tmp_path, *roles)
    assert type(runtime.lma) is lma and type(runtime.mag) is mag
    assert sorted(runtime.roles) == sorted(roles)


def test_the_heartbeat_monitor_is_a_service_of_every_node_not_a_role(tmp_path):
    runtime = started(tmp_path)
    assert isinstance(runtime.liveness, HeartbeatMonitor)
    assert not any(isinstance(role, HeartbeatMonitor) for role in runtime.roles.values())
