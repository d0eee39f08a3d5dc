"""Persistence of running and startup (RFC 6241 §8.7) and the crash-safe writer."""
from __future__ import annotations

import os

import pytest

from mgmt.netconf.datastore import DatastoreError, parse_config
from mgmt.netconf.persist import write_atomic
from tests.netconf.conftest import connect, server_context
from tests.netconf.test_server_edit import SRV, cfg, hostname


def HOST(name: str) -> str:
    return cfg(f'<system xmlns="{SRV}"><hostname>{name}</hostname></system>')


def test_running_is_written_to_running_xml(server, servers):
    with connect(server) as mgr:
        mgr.edit_config(target="running", config=HOST("saved"))
    ctx = server_context()
    tree = parse_config(ctx, (servers.state_dir / "running.xml").read_bytes())
    assert tree.find_path("/example-server:system/hostname").value() == "saved"


def test_startup_is_loaded_at_boot(servers):
    first = servers.start()
    with connect(first) as mgr:
        mgr.edit_config(target="running", config=HOST("kept"))
        mgr.copy_config(source="running", target="startup")
        mgr.edit_config(target="running", config=HOST("not-kept"))
    servers.stop_all()
    second = servers.start()
    with connect(second) as mgr:
        assert hostname(mgr) == "kept"


def test_without_startup_running_starts_from_the_initial_config(servers):
    ctx = server_context()
    initial = parse_config(ctx, f'<system xmlns="{SRV}"><hostname>initial</hostname></system>')
    server = servers.start(ctx=ctx, initial_config=initial)
    with connect(server) as mgr:
        assert hostname(mgr) == "initial"
    assert (servers.state_dir / "startup.xml").exists()


def test_a_confirmed_commit_not_confirmed_before_the_node_goes_down_is_undone_at_boot(servers):
    first = servers.start()
    with connect(first) as mgr:
        mgr.edit_config(target="running", config=HOST("before"))
        mgr.edit_config(target="candidate", config=HOST("unconfirmed"))
        mgr.commit(confirmed=True, timeout="600", persist="token")
        assert hostname(mgr) == "unconfirmed"
    servers.stop_all()  # goes down with the commit pending
    second = servers.start()
    with connect(second) as mgr:
        assert hostname(mgr) == "before"  # RFC 6241 §8.4.1
    servers.stop_all()
    with connect(servers.start()) as mgr:
        assert hostname(mgr) is None  # restored once: the boot after that is from startup


def test_a_confirmed_commit_confirmed_before_the_node_goes_down_stays(servers):
    first = servers.start()
    with connect(first) as mgr:
        mgr.edit_config(target="candidate", config=HOST("confirmed"))
        mgr.commit(confirmed=True, timeout="600")
        mgr.commit()
        mgr.copy_config(source="running", target="startup")
    servers.stop_all()
    with connect(servers.start()) as mgr:
        assert hostname(mgr) == "confirmed"


def test_after_delete_config_of_startup_the_node_boots_from_its_initial_configuration(servers):
    ctx = server_context()
    initial = parse_config(ctx, f'<system xmlns="{SRV}"><hostname>factory</hostname></system>')
    with connect(servers.start(ctx=ctx, initial_config=initial)) as mgr:
        mgr.edit_config(target="running", config=HOST("saved"))
        mgr.copy_config(source="running", target="startup")
        mgr.delete_config("startup")  # RFC 6241 §8.7.5.1: back to factory defaults
    servers.stop_all()
    ctx = server_context()
    initial = parse_config(ctx, f'<system xmlns="{SRV}"><hostname>factory</hostname></system>')
    with connect(servers.start(ctx=ctx, initial_config=initial)) as mgr:
        assert hostname(mgr) == "factory"


def test_a_corrupt_startup_file_is_a_typed_error(servers):
    servers.state_dir.mkdir(exist_ok=True)
    (servers.state_dir / "startup.xml").write_text(f'<system xmlns="{SRV}"><mtu>1</mtu></system>')
    with pytest.raises(DatastoreError) as err:
        servers.start()
    assert "startup.xml" in str(err.value)


def test_write_atomic_replaces_the_file(tmp_path):
    target = tmp_path / "running.xml"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["running.xml"]


def test_a_crash_before_the_rename_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "running.xml"
    write_atomic(target, b"old")

    def crash(*args):
        raise OSError("power lost")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["running.xml"]
