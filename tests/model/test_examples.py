"""The shipped examples: the lab configurations load, and each invalid one is refused by name."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nf.config import ConfigError, load_config
from nf.model import yang_dir

EXAMPLES = yang_dir() / "examples"
INVALID = EXAMPLES / "invalid"

# file -> (YANG path the error must name, words the problem must contain)
EXPECTED_ERRORS: dict[str, tuple[str, str]] = {
    "range-violated.xml": ("/dmm-nf:dmm-nf/timers/min-delay-before-bce-delete", "range"),
    "missing-mandatory.xml": ("/dmm-nf:dmm-nf/node/address", "Mandatory"),
    "dangling-leafref.xml": (
        "/dmm-nf:dmm-nf/policy-store/mobile-node[mn-identifier='mn1@example.net']/pool",
        "no-such-pool"),
    "must-violated.xml": ("/dmm-nf:dmm-nf/prefix-pools/pool[name='home']",
                          "assign-length must not be shorter than the pool prefix"),
    "when-violated.xml": ("/dmm-nf:dmm-nf/mag", "When condition"),
    "unknown-node.xml": ("/dmm-nf:dmm-nf", "heartbeat-interval"),
    "state-in-config.xml": ("/dmm-nf:dmm-nf/binding-cache", "state node"),
}


def as_dict(path: Path) -> dict:
    """The configuration as RFC 7951 JSON, with the module prefix dropped from the top key."""
    data = json.loads(load_config(path).print_mem("json", with_siblings=True))
    return {"dmm-nf": data["dmm-nf:dmm-nf"]}


@pytest.mark.parametrize("name", ["lma", "mag", "maar"])
def test_example_loads_as_xml_and_json_with_the_same_content(name: str) -> None:
    assert as_dict(EXAMPLES / f"{name}.xml") == as_dict(EXAMPLES / f"{name}.json")


def test_every_invalid_example_has_an_expectation() -> None:
    assert sorted(p.name for p in INVALID.iterdir()) == sorted(EXPECTED_ERRORS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ERRORS))
def test_invalid_example_is_rejected_naming_the_path(name: str) -> None:
    path, words = EXPECTED_ERRORS[name]
    with pytest.raises(ConfigError) as caught:
        load_config(INVALID / name)
    error = caught.value
    assert error.path == path
    assert words in error.problem
    assert str(error) == f"{INVALID / name}: {path}: {error.problem}"
    assert "\n" not in str(error)


def roles(tree_dict: dict) -> list[str]:
    return tree_dict["dmm-nf"]["node"]["role"]


def test_lab_pair_runs_on_one_host_without_root() -> None:
    lma = as_dict(EXAMPLES / "lma.xml")["dmm-nf"]
    mag = as_dict(EXAMPLES / "mag.xml")["dmm-nf"]
    for cfg in (lma, mag):
        assert cfg["transport"]["type"].endswith(":udp")
        assert cfg["transport"]["listen-address"] == "::1"
        assert cfg["dataplane"]["backend"].endswith(":memory")
    # Same loopback address, so the nodes listen on distinct UDP ports and know each other's.
    assert lma["transport"]["udp-port"] == 5436
    assert mag["transport"]["udp-port"] != lma["transport"]["udp-port"]
    assert mag["peers"]["peer"][0]["udp-port"] == lma["transport"]["udp-port"]
    assert lma["peers"]["peer"][0]["udp-port"] == mag["transport"]["udp-port"]
    assert mag["mag"]["lma-address"] == lma["node"]["address"]
    ports = {(c["management"]["netconf"]["port"], c["management"]["metrics"]["port"])
             for c in (lma, mag)}
    assert ports == {(8301, 9431), (8302, 9432)}


def test_lma_admits_mn1_from_the_lab_mag() -> None:
    lma = as_dict(EXAMPLES / "lma.xml")["dmm-nf"]
    mag = as_dict(EXAMPLES / "mag.xml")["dmm-nf"]
    (policy,) = [m for m in lma["policy-store"]["mobile-node"]
                 if m["mn-identifier"] == "mn1@example.net"]
    assert mag["node"]["address"] in policy["allowed-mag"]
    assert "lma" in roles({"dmm-nf": lma})[0]


@pytest.mark.parametrize("name", ["lma", "mag", "maar"])
def test_lab_login_is_admin_admin(name: str) -> None:
    users = as_dict(EXAMPLES / f"{name}.xml")["dmm-nf"]["management"]["netconf"]["user"]
    assert users == [{"name": "admin", "password": "$0$admin"}]


def test_maar_example_runs_distributed_anchoring() -> None:
    maar = as_dict(EXAMPLES / "maar.xml")["dmm-nf"]
    assert maar["dmm"]["mode"] == "distributed-anchoring"
    assert maar["maar"]["pool"] == maar["prefix-pools"]["pool"][0]["name"]
